-- The sync layer (issue 8): risk events the operator acknowledges, the steps of the orders the app
-- follows up (execution reports), and positions closed in the records because the broker no longer
-- holds them (external closes: a positions_closed row without a closing trade, tied to its
-- position_reconciliations row instead).

CREATE TABLE IF NOT EXISTS risk_events (
    id               BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid              CHAR(32)       NOT NULL,
    ts               DATETIME(3)    NOT NULL,
    trading_day      DATE           NOT NULL,
    type             VARCHAR(32)    NOT NULL,
    severity         VARCHAR(8)     NOT NULL,
    key_             VARCHAR(160)   NOT NULL,
    symbol           VARCHAR(32)    NOT NULL DEFAULT '',
    message          VARCHAR(1024)  NOT NULL,
    detail           JSON           NULL,
    cleared_at       DATETIME(3)    NULL,
    acknowledged_by  VARCHAR(64)    NULL,
    acknowledged_at  DATETIME(3)    NULL,
    UNIQUE KEY uq_risk_uid (uid),
    KEY idx_risk_ts (ts),
    KEY idx_risk_unacked (acknowledged_at, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS execution_reports (
    id               BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid              CHAR(32)       NOT NULL,
    ts               DATETIME(3)    NOT NULL,
    trading_day      DATE           NOT NULL,
    execution_id     VARCHAR(64)    NOT NULL,
    source           VARCHAR(16)    NOT NULL,
    vt_symbol        VARCHAR(32)    NOT NULL,
    direction        VARCHAR(8)     NOT NULL,
    offset_          VARCHAR(16)    NOT NULL,
    step             VARCHAR(24)    NOT NULL,
    vt_orderid       VARCHAR(64)    NOT NULL DEFAULT '',
    price            DECIMAL(20, 4) NULL,
    volume           DECIMAL(20, 4) NULL,
    traded           DECIMAL(20, 4) NULL,
    attempt          SMALLINT UNSIGNED NOT NULL DEFAULT 0,
    message          VARCHAR(512)   NOT NULL DEFAULT '',
    UNIQUE KEY uq_execution_uid (uid),
    KEY idx_execution_id (execution_id, ts),
    KEY idx_execution_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

ALTER TABLE positions_closed MODIFY COLUMN close_trade_id BIGINT UNSIGNED NULL;
ALTER TABLE positions_closed ADD COLUMN IF NOT EXISTS reconciliation_id BIGINT UNSIGNED NULL;
ALTER TABLE positions_closed ADD UNIQUE KEY IF NOT EXISTS uq_closed_reconciliation (reconciliation_id, piece);
ALTER TABLE position_reconciliations ADD COLUMN IF NOT EXISTS closed_yd DECIMAL(20, 4) NOT NULL DEFAULT 0;
ALTER TABLE position_reconciliations ADD COLUMN IF NOT EXISTS closed_td DECIMAL(20, 4) NOT NULL DEFAULT 0;
ALTER TABLE position_reconciliations ADD COLUMN IF NOT EXISTS close_price DECIMAL(20, 4) NULL;
