-- Lots reconciled with the broker's positions (core_service/position_reconcile.py): a position the broker
-- holds that no recorded opening covers (opened before recording started, or while its records were
-- lost) is carried in as lots without an opening trade, marked `opened_before_recording`; the closes
-- that take them carry the mark. Every reconciliation (lots carried in, or more lots recorded than the
-- broker holds: a drift, never deleted) is kept in `position_reconciliations`, the drift once per
-- distinct difference and trading day (`uid`).

ALTER TABLE position_lots MODIFY COLUMN open_trade_id BIGINT UNSIGNED NULL;
ALTER TABLE position_lots MODIFY COLUMN open_tradeid VARCHAR(64) NULL;
ALTER TABLE position_lots ADD COLUMN IF NOT EXISTS opened_before_recording TINYINT NOT NULL DEFAULT 0;
ALTER TABLE position_lots ADD COLUMN IF NOT EXISTS reconciliation_id BIGINT UNSIGNED NULL;

ALTER TABLE positions_closed ADD COLUMN IF NOT EXISTS opened_before_recording TINYINT NOT NULL DEFAULT 0
    AFTER open_strategy;

CREATE TABLE IF NOT EXISTS position_reconciliations (
    id               BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid              CHAR(32)       NOT NULL,
    kind             VARCHAR(16)    NOT NULL,
    gateway          VARCHAR(32)    NOT NULL,
    symbol           VARCHAR(32)    NOT NULL,
    exchange         VARCHAR(16)    NOT NULL,
    direction        VARCHAR(8)     NOT NULL,
    trading_day      DATE           NOT NULL,
    broker_volume    DECIMAL(20, 4) NOT NULL,
    broker_yd_volume DECIMAL(20, 4) NOT NULL,
    lots_volume      DECIMAL(20, 4) NOT NULL,
    carried_yd       DECIMAL(20, 4) NOT NULL DEFAULT 0,
    carried_td       DECIMAL(20, 4) NOT NULL DEFAULT 0,
    message          VARCHAR(512)   NOT NULL,
    statement        JSON           NOT NULL,
    detected_at      DATETIME(3)    NOT NULL,
    UNIQUE KEY uq_reconciliation_uid (uid),
    KEY idx_reconciliation_detected (detected_at),
    KEY idx_reconciliation_position (gateway, symbol, exchange, direction, trading_day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
