-- Broker truth: contracts with their rates, each trade's commission, open lots and closed positions
-- (written by the core's MySQL writer in the transaction that inserts the closing trade, so a
-- replayed trade changes nothing), the settlement prices carried lots are marked from, the daily
-- ledger against the broker's figures, and the broker's raw replies (bounded: the writer prunes).

ALTER TABLE trades ADD COLUMN IF NOT EXISTS commission DECIMAL(20, 4) NULL AFTER volume;

-- One row per contract; the gateway's contract info and the rates arrive separately and are merged
-- (a column not stated by a record keeps its value). Ratios "by money" are fractions of price x size x
-- lots, "by volume" are CNY per lot.
CREATE TABLE IF NOT EXISTS contracts (
    symbol                       VARCHAR(32)    NOT NULL,
    exchange                     VARCHAR(16)    NOT NULL,
    name                         VARCHAR(64)    NULL,
    size                         DECIMAL(20, 4) NULL,
    pricetick                    DECIMAL(20, 6) NULL,
    min_volume                   DECIMAL(20, 4) NULL,
    max_volume                   DECIMAL(20, 4) NULL,
    long_margin_ratio_by_money   DECIMAL(24, 12) NULL,
    long_margin_ratio_by_volume  DECIMAL(24, 12) NULL,
    short_margin_ratio_by_money  DECIMAL(24, 12) NULL,
    short_margin_ratio_by_volume DECIMAL(24, 12) NULL,
    margin_is_relative           TINYINT        NULL,
    open_ratio_by_money          DECIMAL(24, 12) NULL,
    open_ratio_by_volume         DECIMAL(24, 12) NULL,
    close_ratio_by_money         DECIMAL(24, 12) NULL,
    close_ratio_by_volume        DECIMAL(24, 12) NULL,
    close_today_ratio_by_money   DECIMAL(24, 12) NULL,
    close_today_ratio_by_volume  DECIMAL(24, 12) NULL,
    rates_instrument             VARCHAR(32)    NULL,
    source                       VARCHAR(8)     NULL,
    info_synced_at               DATETIME(3)    NULL,
    margin_synced_at             DATETIME(3)    NULL,
    commission_synced_at         DATETIME(3)    NULL,
    last_sync                    DATETIME(3)    NOT NULL,
    PRIMARY KEY (symbol, exchange)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The price lots carried into `trading_day` are marked from: the previous trading day's settlement
-- (CTP PreSettlementPrice; the simulated gateway's pre_settlement).
CREATE TABLE IF NOT EXISTS settlement_prices (
    symbol       VARCHAR(32)    NOT NULL,
    trading_day  DATE           NOT NULL,
    price        DECIMAL(20, 4) NOT NULL,
    source       VARCHAR(16)    NOT NULL,
    updated_at   DATETIME(3)    NOT NULL,
    PRIMARY KEY (symbol, trading_day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per opening fill, with what is still open of it.
CREATE TABLE IF NOT EXISTS position_lots (
    id               BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    gateway          VARCHAR(32)    NOT NULL,
    symbol           VARCHAR(32)    NOT NULL,
    exchange         VARCHAR(16)    NOT NULL,
    direction        VARCHAR(8)     NOT NULL,
    open_trade_id    BIGINT UNSIGNED NOT NULL,
    open_tradeid     VARCHAR(64)    NOT NULL,
    open_ts          DATETIME(3)    NOT NULL,
    open_trading_day DATE           NOT NULL,
    open_price       DECIMAL(20, 4) NOT NULL,
    size             DECIMAL(20, 4) NOT NULL,
    volume           DECIMAL(20, 4) NOT NULL,
    remaining        DECIMAL(20, 4) NOT NULL,
    commission       DECIMAL(20, 4) NULL,
    commission_left  DECIMAL(20, 4) NULL,
    strategy         VARCHAR(64)    NULL,
    UNIQUE KEY uq_lot_trade (open_trade_id),
    KEY idx_lot_open (gateway, symbol, exchange, direction, remaining),
    KEY idx_lot_remaining (remaining)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- One row per (closing fill, lot it took): a close across two lots is two rows, a partial close
-- splits a lot. A close with no recorded opening is one row with lot_id NULL and no PnL.
CREATE TABLE IF NOT EXISTS positions_closed (
    id               BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    gateway          VARCHAR(32)    NOT NULL,
    symbol           VARCHAR(32)    NOT NULL,
    exchange         VARCHAR(16)    NOT NULL,
    direction        VARCHAR(8)     NOT NULL,
    volume           DECIMAL(20, 4) NOT NULL,
    size             DECIMAL(20, 4) NOT NULL,
    lot_id           BIGINT UNSIGNED NULL,
    open_trade_id    BIGINT UNSIGNED NULL,
    open_tradeid     VARCHAR(64)    NULL,
    open_ts          DATETIME(3)    NULL,
    open_trading_day DATE           NULL,
    open_price       DECIMAL(20, 4) NULL,
    open_strategy    VARCHAR(64)    NULL,
    close_trade_id   BIGINT UNSIGNED NOT NULL,
    piece            SMALLINT UNSIGNED NOT NULL,
    close_tradeid    VARCHAR(64)    NOT NULL,
    close_orderid    VARCHAR(64)    NOT NULL,
    close_offset     VARCHAR(16)    NOT NULL,
    close_ts         DATETIME(3)    NOT NULL,
    close_price      DECIMAL(20, 4) NOT NULL,
    trading_day      DATE           NOT NULL,
    carried          TINYINT        NOT NULL,
    settlement_price DECIMAL(20, 4) NULL,
    pnl_open         DECIMAL(20, 4) NULL,
    pnl_settlement   DECIMAL(20, 4) NULL,
    commission       DECIMAL(20, 4) NULL,
    strategy         VARCHAR(64)    NULL,
    exit_reason      VARCHAR(16)    NOT NULL,
    recorded_at      DATETIME(3)    NOT NULL,
    UNIQUE KEY uq_closed_piece (close_trade_id, piece),
    KEY idx_closed_day (trading_day, symbol),
    KEY idx_closed_ts (close_ts),
    KEY idx_closed_settle (symbol, trading_day, carried)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- Per trading day and contract (symbol '' = the whole account): our realized PnL and commission
-- beside the broker's, the difference and a verdict (ok | mismatch | incomplete).
CREATE TABLE IF NOT EXISTS pnl_records (
    id                  BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    gateway             VARCHAR(32)    NOT NULL,
    accountid           VARCHAR(64)    NOT NULL,
    trading_day         DATE           NOT NULL,
    symbol              VARCHAR(32)    NOT NULL,
    realized_pnl        DECIMAL(20, 4) NOT NULL,
    realized_pnl_open   DECIMAL(20, 4) NOT NULL,
    commission          DECIMAL(20, 4) NOT NULL,
    closed_volume       DECIMAL(20, 4) NOT NULL,
    trades              INT UNSIGNED   NOT NULL,
    broker_realized_pnl DECIMAL(20, 4) NULL,
    broker_commission   DECIMAL(20, 4) NULL,
    pnl_diff            DECIMAL(20, 4) NULL,
    commission_diff     DECIMAL(20, 4) NULL,
    verdict             VARCHAR(16)    NOT NULL,
    note                VARCHAR(512)   NOT NULL DEFAULT '',
    settlement_text     MEDIUMTEXT     NULL,
    broker_at           DATETIME(3)    NULL,
    computed_at         DATETIME(3)    NOT NULL,
    UNIQUE KEY uq_pnl (gateway, accountid, trading_day, symbol),
    KEY idx_pnl_day (trading_day)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What the gateway said, as it said it: every order state, trade, account and position reply
-- (CTP's raw record; the simulated gateway's emitted record). Kept REPLY_KEEP_DAYS, pruned by the writer.
CREATE TABLE IF NOT EXISTS broker_replies (
    id          BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    uid         CHAR(32)     NOT NULL,
    received_at DATETIME(3)  NOT NULL,
    gateway     VARCHAR(32)  NOT NULL,
    kind        VARCHAR(16)  NOT NULL,
    key_        VARCHAR(128) NOT NULL,
    raw         JSON         NOT NULL,
    UNIQUE KEY uq_reply_uid (uid),
    KEY idx_reply_received (received_at),
    KEY idx_reply_key (kind, key_, received_at)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4
