-- ARBIG schema v1. Timestamps are UTC with milliseconds; trading_day is the SHFE trading day
-- (the night session belongs to the next one). Money is DECIMAL. Enums are stored by name.
-- Append-only tables carry a `uid` so a batch replayed from the core's durable spool after a
-- MySQL outage never inserts a row twice; trades are unique by their exchange identity.

CREATE TABLE IF NOT EXISTS accounts (
    gateway        VARCHAR(32)    NOT NULL,
    accountid      VARCHAR(64)    NOT NULL,
    balance        DECIMAL(20, 4) NOT NULL,
    available      DECIMAL(20, 4) NOT NULL,
    frozen         DECIMAL(20, 4) NOT NULL,
    margin         DECIMAL(20, 4) NOT NULL DEFAULT 0,
    commission     DECIMAL(20, 4) NOT NULL DEFAULT 0,
    realized_pnl   DECIMAL(20, 4) NOT NULL DEFAULT 0,
    unrealized_pnl DECIMAL(20, 4) NOT NULL DEFAULT 0,
    trading_day    DATE           NULL,
    updated_at     DATETIME(3)    NOT NULL,
    PRIMARY KEY (gateway, accountid)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS account_snapshots (
    id             BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid            CHAR(32)       NOT NULL,
    ts             DATETIME(3)    NOT NULL,
    trading_day    DATE           NOT NULL,
    gateway        VARCHAR(32)    NOT NULL,
    accountid      VARCHAR(64)    NOT NULL,
    balance        DECIMAL(20, 4) NOT NULL,
    available      DECIMAL(20, 4) NOT NULL,
    frozen         DECIMAL(20, 4) NOT NULL,
    margin         DECIMAL(20, 4) NOT NULL DEFAULT 0,
    commission     DECIMAL(20, 4) NOT NULL DEFAULT 0,
    realized_pnl   DECIMAL(20, 4) NOT NULL DEFAULT 0,
    unrealized_pnl DECIMAL(20, 4) NOT NULL DEFAULT 0,
    UNIQUE KEY uq_snap_uid (uid),
    KEY idx_snap_ts (ts),
    KEY idx_snap_account_ts (gateway, accountid, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS positions (
    gateway     VARCHAR(32)    NOT NULL,
    symbol      VARCHAR(32)    NOT NULL,
    exchange    VARCHAR(16)    NOT NULL,
    direction   VARCHAR(8)     NOT NULL,
    volume      DECIMAL(20, 4) NOT NULL,
    yd_volume   DECIMAL(20, 4) NOT NULL,
    frozen      DECIMAL(20, 4) NOT NULL,
    price       DECIMAL(20, 4) NOT NULL,
    pnl         DECIMAL(20, 4) NOT NULL,
    margin      DECIMAL(20, 4) NOT NULL DEFAULT 0,
    trading_day DATE           NULL,
    updated_at  DATETIME(3)    NOT NULL,
    PRIMARY KEY (gateway, symbol, exchange, direction)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS orders (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    gateway      VARCHAR(32)    NOT NULL,
    orderid      VARCHAR(64)    NOT NULL,
    trading_day  DATE           NOT NULL,
    symbol       VARCHAR(32)    NOT NULL,
    exchange     VARCHAR(16)    NOT NULL,
    direction    VARCHAR(8)     NOT NULL,
    offset_      VARCHAR(16)    NOT NULL,
    order_type   VARCHAR(16)    NOT NULL,
    price        DECIMAL(20, 4) NOT NULL,
    volume       DECIMAL(20, 4) NOT NULL,
    traded       DECIMAL(20, 4) NOT NULL,
    status       VARCHAR(16)    NOT NULL,
    reference    VARCHAR(128)   NOT NULL DEFAULT '',
    strategy     VARCHAR(64)    NULL,
    reason       VARCHAR(255)   NOT NULL DEFAULT '',
    ts           DATETIME(3)    NOT NULL,
    updated_at   DATETIME(3)    NOT NULL,
    raw          JSON           NULL,
    UNIQUE KEY uq_order (gateway, orderid, trading_day),
    KEY idx_order_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS trades (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    gateway      VARCHAR(32)    NOT NULL,
    exchange     VARCHAR(16)    NOT NULL,
    tradeid      VARCHAR(64)    NOT NULL,
    direction    VARCHAR(8)     NOT NULL,
    trading_day  DATE           NOT NULL,
    symbol       VARCHAR(32)    NOT NULL,
    orderid      VARCHAR(64)    NOT NULL,
    offset_      VARCHAR(16)    NOT NULL,
    price        DECIMAL(20, 4) NOT NULL,
    volume       DECIMAL(20, 4) NOT NULL,
    strategy     VARCHAR(64)    NULL,
    ts           DATETIME(3)    NOT NULL,
    recorded_at  DATETIME(3)    NOT NULL,
    raw          JSON           NULL,
    UNIQUE KEY uq_trade (gateway, exchange, tradeid, direction, trading_day),
    KEY idx_trade_ts (ts),
    KEY idx_trade_symbol_ts (symbol, ts),
    KEY idx_trade_direction_ts (direction, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS strategy_configs (
    name        VARCHAR(64)  NOT NULL PRIMARY KEY,
    class_name  VARCHAR(128) NOT NULL,
    vt_symbol   VARCHAR(64)  NOT NULL,
    setting     JSON         NOT NULL,
    updated_at  DATETIME(3)  NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS strategy_triggers (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid          CHAR(32)       NOT NULL,
    ts           DATETIME(3)    NOT NULL,
    trading_day  DATE           NOT NULL,
    strategy     VARCHAR(64)    NOT NULL,
    vt_symbol    VARCHAR(64)    NOT NULL,
    condition_   VARCHAR(255)   NOT NULL,
    price        DECIMAL(20, 4) NOT NULL,
    volume       DECIMAL(20, 4) NOT NULL,
    action       VARCHAR(8)     NOT NULL,
    result       VARCHAR(8)     NOT NULL,
    vt_orderids  VARCHAR(512)   NOT NULL DEFAULT '',
    error        VARCHAR(512)   NOT NULL DEFAULT '',
    UNIQUE KEY uq_trigger_uid (uid),
    KEY idx_trigger_strategy_ts (strategy, ts),
    KEY idx_trigger_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS system_events (
    id       BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid      CHAR(32)     NOT NULL,
    ts       DATETIME(3)  NOT NULL,
    level    VARCHAR(8)   NOT NULL,
    kind     VARCHAR(32)  NOT NULL,
    message  VARCHAR(1024) NOT NULL,
    detail   JSON         NULL,
    UNIQUE KEY uq_event_uid (uid),
    KEY idx_event_ts (ts),
    KEY idx_event_kind_ts (kind, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

CREATE TABLE IF NOT EXISTS command_audit (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid         CHAR(32)     NOT NULL,
    command_id  VARCHAR(64)  NOT NULL,
    type        VARCHAR(32)  NOT NULL,
    params      JSON         NOT NULL,
    source      VARCHAR(32)  NOT NULL,
    operator    VARCHAR(64)  NOT NULL,
    issued_at   DATETIME(3)  NOT NULL,
    received_at DATETIME(3)  NOT NULL,
    status      VARCHAR(16)  NOT NULL,
    reason      VARCHAR(1024) NOT NULL DEFAULT '',
    result      JSON         NULL,
    replied_at  DATETIME(3)  NOT NULL,
    UNIQUE KEY uq_audit_uid (uid),
    KEY idx_audit_command (command_id),
    KEY idx_audit_received (received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
