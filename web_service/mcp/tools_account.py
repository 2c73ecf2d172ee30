"""get_account_state: the account, open positions and pending orders as the console shows them, for an agent.

Read from the web's read model (web_service/live_cache.py: account, positions with live PnL, the status with
the gateway, trading day and tick age), the core's orders and AI state in Redis (`arbig:state:ai`: the switch,
the limits, the exit plans in force) and the open lots in MySQL (`position_lots`: when each position was opened
and the volume-weighted confidence of its lots). Nothing is invented: what cannot be known now (Redis or MySQL
down, the core silent, no price yet) is None and said in `notes`, with every age in `freshness`.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, ValidationError

from common.contract import AiLimits, AiState, ExitPlanState, OrderState, position_field
from web_service.mcp.calls import CurrentCall
from web_service.services import Services

log = logging.getLogger(__name__)

OPEN_LOTS = (
    "SELECT gateway, symbol, exchange, direction, MIN(open_ts) AS opened_at, SUM(remaining) AS remaining,"
    " SUM(CASE WHEN confidence IS NOT NULL THEN remaining ELSE 0 END) AS rated,"
    " SUM(CASE WHEN confidence IS NOT NULL THEN remaining * confidence ELSE 0 END) AS weighted"
    " FROM position_lots WHERE remaining > 0 GROUP BY gateway, symbol, exchange, direction"
)
LotKey = tuple[str, str, str, str]  # gateway, symbol, exchange, direction (LONG/SHORT)


class ExitPlanView(BaseModel):
    stop_loss: float | None = None
    take_profit: float | None = None
    invalidation: str | None = None
    tool_call_id: str = Field("", description="the update_exit_plan (or execute_trade) call that set it")
    set_ms: int
    triggered: str | None = Field(None, description="stop_loss | take_profit: the close was sent for this reason")


class PositionView(BaseModel):
    symbol: str
    vt_symbol: str
    direction: Literal["long", "short", "net"]
    volume: float = Field(description="lots held")
    yd_volume: float = Field(description="lots held from before today (SHFE closes them with close-yesterday)")
    td_volume: float = Field(description="lots opened today")
    frozen: float = Field(description="lots already being closed by pending orders")
    average_open_price: float = Field(description="CNY per gram, what was paid on average")
    last_price: float | None = Field(description="the latest price seen; None: no tick yet")
    last_tick_ms: int | None = None
    pnl: float = Field(description="CNY against the average open price: live when `pnl_source` is live, else the"
                                   " gateway's last figure")
    pnl_source: Literal["live", "core"]
    mtm_pnl: float = Field(description="CNY against the broker's cost price (part of the balance)")
    margin: float = Field(description="CNY of margin this position uses")
    exit_plan: ExitPlanView | None = None
    opened_at: str | None = Field(description="when the earliest open lot was opened (ISO, UTC); None: unknown")
    opened_at_ms: int | None = None
    average_confidence: float | None = Field(description="volume-weighted confidence of the open lots the agent"
                                                         " opened; None: none of them carries one, or unknown")
    lots_with_confidence: float | None = Field(description="how many of the open lots carry a confidence")


class OrderView(BaseModel):
    vt_orderid: str
    symbol: str
    direction: str
    offset: str
    type: str
    price: float
    volume: float
    traded: float
    status: str
    reference: str = ""
    confidence: int | None = None
    tool_call_id: str | None = None
    ts_ms: int


class AccountFigures(BaseModel):
    currency: Literal["CNY"] = "CNY"
    balance: float = Field(description="live equity: static balance + live position profit")
    static_balance: float = Field(description="the balance without the position profit")
    available: float
    margin: float
    frozen_margin: float = Field(description="margin held by pending opening orders")
    commission: float = Field(description="today's commission")
    realized_pnl: float = Field(description="today's closed profit")
    unrealized_pnl: float = Field(description="live position profit (against the broker's cost prices)")
    gateway_unrealized_pnl: float = Field(description="the position profit as the gateway last stated it")
    pre_balance: float
    trading_day: str
    ts_ms: int


class GatewayView(BaseModel):
    name: str
    state: str
    reason: str = ""
    since_ms: int


class AiView(BaseModel):
    enabled: bool = Field(description="AI trading allowed now (the operator's switch, the daily-loss limit)")
    reason: str = Field(description="why it is off")
    live_account: bool
    live_trading_allowed: bool
    limits: AiLimits
    day_pnl: float
    orders_last_minute: int
    ts_ms: int


class Freshness(BaseModel):
    as_of_ms: int
    stale: bool = Field(description="true: prices or the core are not current (see notes)")
    stale_after_s: float
    in_session: bool
    core_alive: bool | None = Field(description="None: unknown (Redis unreachable)")
    redis_ok: bool
    mysql_ok: bool
    heartbeat_age_s: float | None
    account_age_s: float | None
    last_tick_age_s: float | None
    ai_state_age_s: float | None


class AccountStateAnswer(BaseModel):
    """The answer of get_account_state."""

    status: Literal["ok"] = "ok"
    call_id: str
    trading_day: str | None
    main_contract: str | None
    contract_multiplier: float = Field(description="grams per lot")
    gateway: GatewayView | None
    session: dict[str, Any] | None = Field(description="whether the exchange trades now (state open/break/closed)")
    account: AccountFigures | None
    positions: list[PositionView]
    pending_orders: list[OrderView]
    ai: AiView | None = Field(description="the core's AI trading state; None: not published")
    freshness: Freshness
    notes: list[str] = Field(description="what is unknown or stale in this answer, and why")


def _age_s(now_ms: int, then_ms: int | None) -> float | None:
    return None if not then_ms else round(max(0.0, (now_ms - then_ms) / 1000.0), 3)


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _ms(value: Any) -> int | None:
    if not isinstance(value, datetime):
        return None
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


class AccountReader:
    def __init__(self, svc: Services) -> None:
        self.svc = svc
        self.notes: list[str] = []

    async def answer(self, call: CurrentCall) -> AccountStateAnswer:
        svc = self.svc
        status = await svc.cache.current_status()
        now = svc.clock.now_ms()
        redis_ok = bool(status.get("redis_ok"))
        rows, account = await self._positions_and_account(redis_ok)
        orders = await self._pending_orders(redis_ok)
        ai = await self._ai_state(redis_ok)
        lots = await self._lots() if rows else {}
        heartbeat = status.get("heartbeat") or {}
        self._status_notes(status, account, now)
        plans = {(p.vt_symbol, p.direction): p for p in (ai.exit_plans if ai else [])}
        positions = [self._position(row, plans, lots) for row in rows]
        gateway = heartbeat.get("gateway")
        freshness = Freshness(
            as_of_ms=now, stale=bool(status.get("stale")), stale_after_s=float(status.get("stale_after_s") or 0),
            in_session=bool(status.get("in_session")), core_alive=status.get("core_alive"), redis_ok=redis_ok,
            mysql_ok=bool(status.get("mysql_ok")), heartbeat_age_s=_age_s(now, heartbeat.get("ts_ms")),
            account_age_s=_age_s(now, account["ts_ms"] if account else None),
            last_tick_age_s=status.get("tick_age_s"), ai_state_age_s=_age_s(now, ai.ts_ms if ai else None))
        return AccountStateAnswer(
            call_id=call.call_id, trading_day=status.get("trading_day") or (account or {}).get("trading_day") or None,
            main_contract=status.get("main_contract") or svc.cache.main_symbol,
            contract_multiplier=svc.web.multiplier,
            gateway=GatewayView.model_validate(gateway) if gateway else None, session=heartbeat.get("session"),
            account=self._account(account), positions=positions,
            pending_orders=[OrderView.model_validate(o.model_dump()) for o in orders],
            ai=AiView.model_validate(ai.model_dump()) if ai else None, freshness=freshness, notes=self.notes)

    # ------------------------------------------------------------ reads (each says what it could not read)

    async def _positions_and_account(self, redis_ok: bool) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
        cache = self.svc.cache
        if redis_ok:
            try:
                rows = await cache.read_positions()
                return rows, cache.account_row(rows)
            except Exception as exc:
                self.notes.append(f"Redis read failed ({type(exc).__name__}): positions and account as last known")
        else:
            self.notes.append("Redis unreachable: positions and account are the last ones this web service saw")
        rows = cache.position_rows()
        return rows, cache.account_row(rows)

    async def _pending_orders(self, redis_ok: bool) -> list[OrderState]:
        if not redis_ok:
            self.notes.append("Redis unreachable: pending orders unknown (an empty list means unknown here)")
            return []
        try:
            return [o for o in await self.svc.live.orders() if o.active]
        except Exception as exc:
            self.notes.append(f"pending orders unknown: Redis read failed ({type(exc).__name__})")
            return []

    async def _ai_state(self, redis_ok: bool) -> AiState | None:
        if not redis_ok:
            self.notes.append("Redis unreachable: AI trading state (switch, limits, exit plans) unknown")
            return None
        try:
            raw = await self.svc.redis.get(self.svc.web.keys.ai_state)
        except Exception as exc:
            self.notes.append(f"AI trading state unknown: Redis read failed ({type(exc).__name__})")
            return None
        if not raw:
            self.notes.append("the core has not published its AI trading state: switch, limits and exit plans"
                              " unknown (is the core running?)")
            return None
        try:
            return AiState.model_validate_json(raw)
        except ValidationError:
            self.notes.append("the core's AI trading state could not be read (unexpected shape)")
            return None

    async def _lots(self) -> dict[LotKey, dict[str, Any]]:
        try:
            rows = await asyncio.to_thread(self.svc.db.query, OPEN_LOTS)
        except Exception as exc:
            self.notes.append(f"MySQL unavailable ({type(exc).__name__}): opened_at and average_confidence unknown")
            return {}
        return {(r["gateway"], r["symbol"], r["exchange"], r["direction"]): r for r in rows}

    def _status_notes(self, status: dict[str, Any], account: dict[str, Any] | None, now: int) -> None:
        if status.get("core_alive") is False:
            self.notes.append("the core is not running (no heartbeat): every figure is its last known value")
        if account is None:
            self.notes.append("the core has not published an account yet: account unknown")
        if status.get("stale") and status.get("core_alive"):
            age = status.get("tick_age_s")
            said = "no tick yet" if age is None else f"last tick {age:.0f} s ago"
            self.notes.append(f"prices are stale ({said}, limit {status.get('stale_after_s')} s)")
        gateway = (status.get("heartbeat") or {}).get("gateway") or {}
        if gateway and gateway.get("state") != "LOGGED_IN":
            self.notes.append(f"the gateway is {gateway.get('state')}: {gateway.get('reason') or 'not logged in'}")

    # ------------------------------------------------------------ shapes

    def _account(self, account: dict[str, Any] | None) -> AccountFigures | None:
        if account is None:
            return None
        return AccountFigures(
            balance=account["live_balance"], static_balance=account["static_balance"],
            available=account["available"], margin=account["margin"], frozen_margin=account["frozen_margin"],
            commission=account["commission"], realized_pnl=account["realized_pnl"],
            unrealized_pnl=account["live_unrealized_pnl"], gateway_unrealized_pnl=account["unrealized_pnl"],
            pre_balance=account["pre_balance"], trading_day=account["trading_day"], ts_ms=account["ts_ms"])

    def _position(self, row: dict[str, Any], plans: dict[tuple[str, str], ExitPlanState],
                  lots: dict[LotKey, dict[str, Any]]) -> PositionView:
        plan = plans.get((row["vt_symbol"], row["direction"]))
        lot = None
        pos = self.svc.cache.positions.get(position_field(row["vt_symbol"], row["direction"]))
        gateway = pos.gateway if pos is not None else ""
        for (lot_gateway, symbol, exchange, direction), found in lots.items():
            if (symbol, exchange, direction) == (row["symbol"], row["exchange"], row["direction"]) and (
                    not gateway or lot_gateway == gateway):
                lot = found
        opened_ms = _ms(lot["opened_at"]) if lot else None
        rated = float(lot["rated"]) if lot else None
        average = round(float(lot["weighted"]) / rated, 2) if lot and rated else None
        return PositionView(
            symbol=row["symbol"], vt_symbol=row["vt_symbol"], direction=row["direction"].lower(),
            volume=row["volume"], yd_volume=row["yd_volume"], td_volume=row["td_volume"], frozen=row["frozen"],
            average_open_price=row["price"], last_price=row["last_price"], last_tick_ms=row["tick_ms"],
            pnl=row["pnl"], pnl_source=row["pnl_source"], mtm_pnl=row["mtm_pnl"], margin=row["margin"],
            exit_plan=ExitPlanView.model_validate(plan.model_dump(exclude={"vt_symbol", "direction"})) if plan else None,
            opened_at=_iso(opened_ms) if opened_ms else None, opened_at_ms=opened_ms,
            average_confidence=average, lots_with_confidence=rated)


async def account_state(svc: Services, call: CurrentCall) -> AccountStateAnswer:
    return await AccountReader(svc).answer(call)
