"""The contract between the core service and the web service: Redis keys and message shapes.

This package is the only place that spells a Redis key (`keys.py`). Both services import it. Enums travel by
`.name` (LONG, SHORT, OPEN, ...), never by `.value` (which follows vnpy's locale). Every
message is a pydantic model serialised as JSON, except ticks, which are flat stream fields.

Redis layout (every key starts with the configured prefix, "" in production):
  market_data:{symbol}          stream   one entry per tick, bounded by MAXLEN
  arbig:heartbeat               string   Heartbeat JSON, expires when the core stops beating
  arbig:state:account           string   AccountState JSON
  arbig:state:positions         hash     "{vt_symbol}|{direction}" -> PositionState JSON
  arbig:state:orders            hash     vt_orderid -> OrderState JSON (today's orders)
  arbig:state:strategies        hash     strategy name -> StrategyState JSON
  arbig:state:contracts         hash     symbol -> ContractInfo JSON (what the gateway knows)
  arbig:state:main_contract     string   MainContract JSON
  arbig:state:ai                string   AiState JSON (the AI trader: switch, limits, exit plans)
  arbig:events                  stream   EventMessage entries (field "json"), bounded by MAXLEN
  arbig:commands                list     Command JSON; web LPUSHes, core BRPOPs
  arbig:reply:{command_id}      list     CommandReply JSON; core LPUSHes, sender BRPOPs
  arbig:cmd_seen:{command_id}   string   set once by the core so one command id never runs twice
  arbig:core_lease:{account}    string   the core trading this account (pid, host, since), short lease
  arbig:web:session:{hash}      string   web login session (token hash -> JSON), with expiry
  arbig:web:login_failures:{ip} string   failed-login counter for throttling, with expiry

Modules: `keys` (Redis keys), `messages` (state, events, records), `commands` (operator commands),
`risk` (risk events and execution reports). Import from the package: `from common.contract import Keys`.
"""

from __future__ import annotations

from common.contract.ai import (  # noqa: F401
    AI_REFERENCE,
    EXIT_REFERENCE,
    AiExitPlanParams,
    AiLimits,
    AiState,
    AiSwitchParams,
    AiTradeParams,
    ExitPlan,
    ExitPlanState,
    ai_reference,
    exit_reference,
    parse_ai_reference,
)
from common.contract.commands import (  # noqa: F401
    AI_TOOL_COMMANDS,
    COMMAND_ID_RE,
    NO_CONTROL,
    PARAMS_MAX_KEYS,
    PARAMS_MODEL,
    PRICE_MAX,
    READ_ONLY_COMMANDS,
    CancelOrderParams,
    ClosePositionParams,
    Command,
    CommandReply,
    CommandStatus,
    CommandType,
    DiagnoseParams,
    DrillExternalCloseParams,
    EmptyParams,
    FlattenLeg,
    FlattenParams,
    Lots,
    Name,
    OrderSendParams,
    Price,
    RiskAckParams,
    StrategyParams,
    SwitchContractParams,
    VtSymbol,
)
from common.contract.keys import (  # noqa: F401
    Keys,
    position_field,
)
from common.contract.messages import (  # noqa: F401
    TICK_FLOAT_FIELDS,
    AccountState,
    CommandAudit,
    ContractInfo,
    EventMessage,
    EventType,
    GatewayState,
    GatewayStatus,
    Heartbeat,
    MainContract,
    Message,
    OrderState,
    PositionState,
    SessionState,
    StrategyState,
    SystemEvent,
    TickMessage,
    TradeState,
    TriggerRecord,
    dumps,
    enum_name,
    new_uid,
    now_ms,
)
from common.contract.risk import (  # noqa: F401
    DiagnoseCheck,
    DiagnoseReport,
    ExecutionReport,
    ExecutionSource,
    ExecutionStep,
    PositionComparison,
    RiskEvent,
    RiskEventType,
    RiskEventUpdate,
    RiskSeverity,
    SideVolume,
    SyncReport,
)
