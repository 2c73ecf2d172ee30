-- Web service: the single operator's login credential (argon2 hash only, never the password) and
-- indexes that keep the trade history queries index-ordered with 1,000,000+ rows.

CREATE TABLE IF NOT EXISTS web_operator (
    id            TINYINT UNSIGNED NOT NULL PRIMARY KEY,
    username      VARCHAR(64)      NOT NULL,
    password_hash VARCHAR(255)     NOT NULL,
    updated_at    DATETIME(3)      NOT NULL
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- trades ordered by (trading_day, ts, id) when filtered by trading day; trading_day never decreases
-- as ts grows, so that order is the same as (ts, id).
CREATE INDEX IF NOT EXISTS idx_trade_day_ts ON trades (trading_day, ts);
CREATE INDEX IF NOT EXISTS idx_trade_symbol_day_ts ON trades (symbol, trading_day, ts);
CREATE INDEX IF NOT EXISTS idx_snap_day_ts ON account_snapshots (trading_day, ts);
