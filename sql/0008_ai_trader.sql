-- The AI trader over MCP (issue 13): every tool call, the market data and performance each call saw,
-- the agent's confidence and tool call on its orders, trades and lots, and the exit plans the core enforces.

-- One row per MCP tool call (web_service/mcp/): what was asked (secrets masked), what was answered.
-- status: ok | refused (bad input, a limit, AI off ...) | failed (an error on our side) | preview | replayed
-- (a repeated client_request_id answered with the first call's result).
CREATE TABLE IF NOT EXISTS mcp_tool_calls (
    id                BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    call_id           CHAR(32)       NOT NULL,
    tool              VARCHAR(32)    NOT NULL,
    client_request_id VARCHAR(64)    NULL,
    request           JSON           NOT NULL,
    response          JSON           NULL,
    status            VARCHAR(16)    NOT NULL,
    reason            VARCHAR(1000)  NOT NULL DEFAULT '',
    latency_ms        DECIMAL(12, 3) NOT NULL,
    ts                DATETIME(3)    NOT NULL,
    UNIQUE KEY uq_mcp_call (call_id),
    UNIQUE KEY uq_mcp_request (tool, client_request_id),
    KEY idx_mcp_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What get_market_data answered (the latest tick and the newest bar's indicators).
CREATE TABLE IF NOT EXISTS market_snapshots (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    call_id      CHAR(32)       NOT NULL,
    symbol       VARCHAR(32)    NOT NULL,
    timeframe    VARCHAR(4)     NOT NULL,
    ts           DATETIME(3)    NOT NULL,
    last_price   DECIMAL(20, 4) NULL,
    bid_price    DECIMAL(20, 4) NULL,
    ask_price    DECIMAL(20, 4) NULL,
    open_interest DECIMAL(20, 4) NULL,
    bars         INT UNSIGNED   NOT NULL,
    indicators   JSON           NULL,
    UNIQUE KEY uq_snapshot_call (call_id),
    KEY idx_snapshot_ts (symbol, ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- What get_performance_metrics answered, one row per call.
CREATE TABLE IF NOT EXISTS performance_snapshots (
    id           BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    call_id      CHAR(32)       NOT NULL,
    window_name  VARCHAR(8)     NOT NULL,
    ts           DATETIME(3)    NOT NULL,
    metrics      JSON           NOT NULL,
    UNIQUE KEY uq_perf_call (call_id),
    KEY idx_perf_ts (ts)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;

-- The agent's confidence (0-100) and the tool call that sent the order (from the order's reference).
ALTER TABLE orders
    ADD COLUMN IF NOT EXISTS confidence TINYINT UNSIGNED NULL,
    ADD COLUMN IF NOT EXISTS tool_call_id CHAR(32) NULL,
    ADD KEY IF NOT EXISTS idx_order_tool_call (tool_call_id);
ALTER TABLE trades
    ADD COLUMN IF NOT EXISTS confidence TINYINT UNSIGNED NULL,
    ADD COLUMN IF NOT EXISTS tool_call_id CHAR(32) NULL,
    ADD KEY IF NOT EXISTS idx_trade_tool_call (tool_call_id);
-- A lot remembers the confidence of the fill that opened it; a closed piece carries it on, with the
-- exit plan that was in force when it closed.
ALTER TABLE position_lots
    ADD COLUMN IF NOT EXISTS confidence TINYINT UNSIGNED NULL;
ALTER TABLE positions_closed
    ADD COLUMN IF NOT EXISTS confidence TINYINT UNSIGNED NULL,
    ADD COLUMN IF NOT EXISTS exit_plan JSON NULL;

-- The exit plan in force on an open position (one per contract and direction); removed when flat.
CREATE TABLE IF NOT EXISTS exit_plans (
    gateway      VARCHAR(32)    NOT NULL,
    vt_symbol    VARCHAR(32)    NOT NULL,
    direction    VARCHAR(8)     NOT NULL,
    stop_loss    DECIMAL(20, 4) NULL,
    take_profit  DECIMAL(20, 4) NULL,
    invalidation VARCHAR(500)   NULL,
    tool_call_id CHAR(32)       NOT NULL,
    triggered    VARCHAR(16)    NULL,
    set_at       DATETIME(3)    NOT NULL,
    PRIMARY KEY (gateway, vt_symbol, direction)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
