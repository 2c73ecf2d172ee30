"""The checks of the order diagnosis (`diagnose`): each one PASS/FAIL with precisely what it found.

`Facts` is what they read, looked up once from vnpy's OmsEngine; the checks are pure functions of it
(and of the gateway's state, the SHFE calendar and the pre-trade funds rule, `pretrade`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from vnpy.trader.constant import Direction, Offset
from vnpy.trader.object import ContractData, OrderData, PositionData, TickData

from common.contract import DiagnoseCheck, DiagnoseParams, Lots
from common.trading_calendar import CHINA_TZ, SESSIONS, in_session, to_china
from core_service.ctp_queries import QueryPacer
from core_service.pretrade import MarginGuard, Signal, check_margin, required_funds
from core_service.sim.gateway import SimGateway

SESSION_OPENS = (SESSIONS[0][0], SESSIONS[1][0], SESSIONS[2][0], SESSIONS[3][0])  # 09:00 10:30 13:30 21:00
EPS = 1e-6


def _lots_bounds() -> tuple[int, int]:
    """The command limit on an order's lots (common.contract `Lots`: ge/le)."""
    found = {name: getattr(item, name) for meta in Lots.__metadata__ for item in getattr(meta, "metadata", ())
             for name in ("ge", "le") if hasattr(item, name)}  # fmt: skip
    return int(found.get("ge", 1)), int(found.get("le", 1000))


COMMAND_LOTS = _lots_bounds()


def _check(name: str, ok: bool, detail: str) -> DiagnoseCheck:
    return DiagnoseCheck(name=name, ok=ok, detail=detail)


def _num(value: float) -> str:
    return f"{value:g}"


@dataclass
class Facts:
    """What the checks read, looked up once."""

    params: DiagnoseParams
    now: datetime
    simulated: bool
    contract: ContractData | None
    tick: TickData | None
    position: PositionData | None
    active: list[OrderData] = field(default_factory=list)

    @property
    def direction(self) -> Direction:
        return Direction.LONG if self.params.side == "BUY" else Direction.SHORT

    @property
    def held(self) -> Direction:
        """The position a close takes lots from: a SELL closes LONG, a BUY closes SHORT."""
        return Direction.SHORT if self.params.side == "BUY" else Direction.LONG

    @property
    def price(self) -> float | None:
        """The given price, else the marketable one (best opposite quote); None without one."""
        if self.params.price is not None:
            return self.params.price
        if self.tick is None:
            return None
        quote = self.tick.ask_price_1 if self.params.side == "BUY" else self.tick.bid_price_1
        return quote or None

    @property
    def price_source(self) -> str:
        if self.params.price is not None:
            return "given"
        return "best ask" if self.params.side == "BUY" else "best bid"


def check_gateway(not_ready: Callable[[], str], gateway: Any, gateway_name: str) -> DiagnoseCheck:
    why = not_ready()
    if why:
        return _check("gateway_ready", False, why)
    if getattr(gateway, "ready", True) is False:
        return _check(
            "gateway_ready",
            False,
            f"{gateway_name} is logged in but its session is not ready yet "
            "(settlement confirmation or instruments pending)",
        )
    return _check("gateway_ready", True, f"{gateway_name} logged in and ready to trade")


def _session_of(local: datetime) -> str:
    clock = local.time()
    for start, end in SESSIONS[:3]:
        if start <= clock <= end:
            return f"continuous session {start.strftime('%H:%M')}-{end.strftime('%H:%M')}"
    return "night session 21:00-02:30"


def next_open(now: datetime, days: int = 20) -> datetime | None:
    """The next start of a continuous au session after `now` (China time), by the calendar."""
    local = to_china(now)
    for offset in range(days):
        day = local.date() + timedelta(days=offset)
        for start in SESSION_OPENS:
            candidate = datetime.combine(day, start, tzinfo=CHINA_TZ)
            if candidate > local and in_session(candidate):
                return candidate
    return None


def check_session(now: datetime, simulated: bool) -> DiagnoseCheck:
    local = to_china(now)
    when = local.strftime("%a %Y-%m-%d %H:%M:%S") + " Beijing time"
    if in_session(local):
        detail = f"SHFE au is trading at {when} ({_session_of(local)})"
        return _check(
            "trading_session", True, detail + ("; the simulated gateway trades 24/7" if simulated else "")
        )
    opens = next_open(local)
    detail = f"SHFE au is not trading at {when}; " + (
        f"next session opens {opens.strftime('%a %Y-%m-%d %H:%M')}"
        if opens
        else "no session in the next 20 days"
    )
    if simulated:
        detail += " (the simulated gateway trades 24/7 and would take the order; the exchange would not)"
    return _check("trading_session", False, detail)


def check_contract(facts: Facts, known: int) -> DiagnoseCheck:
    contract, vt_symbol = facts.contract, facts.params.vt_symbol
    if contract is None:
        return _check(
            "contract_known", False, f"{vt_symbol} is not known to the gateway ({known} contracts known)"
        )
    return _check(
        "contract_known",
        True,
        f"{vt_symbol} ({contract.name}): size {_num(contract.size)}, price tick {_num(contract.pricetick)}",
    )


def _off_grid(price: float, pricetick: float) -> bool:
    return bool(pricetick) and abs(price / pricetick - round(price / pricetick)) > EPS


def check_price(facts: Facts) -> DiagnoseCheck:
    name, tick, side = "price_within_limits", facts.tick, facts.params.side
    if tick is None:
        return _check(
            name, False, f"no market data for {facts.params.vt_symbol} yet: no quote and no limit prices"
        )
    price = facts.price
    if price is None:
        quote = "ask" if side == "BUY" else "bid"
        return _check(
            name,
            False,
            f"no {quote} quote to {side.lower()} at (the market may be locked at a limit); give a price",
        )
    if not tick.limit_up or not tick.limit_down:
        return _check(
            name,
            False,
            f"today's limit prices of {facts.params.vt_symbol} are not known (tick without "
            "limit_up/limit_down)",
        )
    limits = f"today's limits {tick.limit_down:.2f}-{tick.limit_up:.2f}"
    shown = f"price {price:.2f} ({facts.price_source})"
    if price > tick.limit_up + EPS:
        return _check(name, False, f"{shown} is above limit-up {tick.limit_up:.2f} ({limits})")
    if price < tick.limit_down - EPS:
        return _check(name, False, f"{shown} is below limit-down {tick.limit_down:.2f} ({limits})")
    pricetick = facts.contract.pricetick if facts.contract else 0.0
    if _off_grid(price, pricetick):
        return _check(name, False, f"{shown} is within {limits} but not on the {_num(pricetick)} price tick")
    return _check(name, True, f"{shown} within {limits}")


def check_funds(facts: Facts, guard: MarginGuard) -> DiagnoseCheck:
    """The core's pre-trade rule (`pretrade.check_margin`): margin + commission vs available."""
    name, params, price = "funds_for_margin", facts.params, facts.price
    if price is None:
        return _check(name, False, "no price to compute the margin at (no market data; give a price)")
    symbol = params.vt_symbol.split(".")[0]
    accounts = guard.accounts()
    account = accounts[0] if accounts else None
    rates, size = guard.rates_of(symbol), guard.size_of(symbol)
    signal = Signal(symbol, facts.direction, Offset[params.offset], price, params.volume)
    needs = required_funds(rates, signal, size) if rates else None
    refusal = check_margin(rates, account, signal, size)
    if refusal:
        return _check(name, False, refusal)
    if params.offset != "OPEN":
        priced = (f"commission {needs[1]:,.2f}, available {account.available:,.2f}" if needs and account
                  else "its commission cannot be priced yet (rates or account unknown)")  # fmt: skip
        return _check(name, True, f"a close needs no margin (it frees margin); {priced}")
    if account is None:
        return _check(name, False, "the gateway has not reported the account yet: available funds unknown")
    if needs is None:
        return _check(
            name,
            False,
            f"the margin or commission rates of {symbol} are not known yet: cannot check "
            "(the core's pre-trade check lets the order through and the broker decides)",
        )
    margin, commission = needs
    return _check(
        name,
        True,
        f"opening {params.volume} {facts.direction.name} at {price:.2f} needs margin "
        f"{margin:,.2f} + commission {commission:,.2f} = {margin + commission:,.2f}, "
        f"available {account.available:,.2f}",
    )


def frozen_by_closes(active: list[OrderData], vt_symbol: str, held: Direction) -> tuple[float, float]:
    """(today's, yesterday's) lots of the `held` position reserved by pending closes (on SHFE a
    plain CLOSE closes yesterday's lots)."""
    td = yd = 0.0
    closing = Direction.SHORT if held == Direction.LONG else Direction.LONG
    for order in active:
        if order.vt_symbol != vt_symbol or order.offset == Offset.OPEN or order.direction != closing:
            continue
        remaining = order.volume - order.traded
        if order.offset == Offset.CLOSETODAY:
            td += remaining
        else:
            yd += remaining
    return td, yd


def check_closable(facts: Facts) -> DiagnoseCheck:
    name, params = "closable_volume", facts.params
    if params.offset == "OPEN":
        return _check(name, True, "an open closes nothing")
    held, position = facts.held.name, facts.position
    volume = position.volume if position else 0.0
    yd = position.yd_volume if position else 0.0
    td = volume - yd
    td_frozen, yd_frozen = frozen_by_closes(facts.active, params.vt_symbol, facts.held)
    if params.offset == "CLOSE":
        frozen = position.frozen if position else 0.0
        closable = volume - frozen
        basis = (
            f"held {_num(volume)} (yesterday {_num(yd)}, today {_num(td)}), frozen by pending closes "
            f"{_num(frozen)}; the core splits a close into close-today/close-yesterday"
        )
    elif params.offset == "CLOSETODAY":
        closable = td - td_frozen
        basis = f"today's lots {_num(td)}, frozen by pending close-today orders {_num(td_frozen)}"
    else:
        closable = yd - yd_frozen
        basis = (
            f"yesterday's lots {_num(yd)}, frozen by pending close/close-yesterday orders {_num(yd_frozen)}"
        )
    what = f"{params.side} {params.offset} {params.volume} closes {held} {params.vt_symbol}"
    if params.volume > closable + EPS:
        return _check(name, False, f"{what}: only {_num(max(closable, 0))} closable ({basis})")
    return _check(name, True, f"{what}: {_num(closable)} closable ({basis})")


def check_flow(gateway: Any) -> DiagnoseCheck:
    pacer = getattr(gateway, "queries", None)
    if not isinstance(pacer, QueryPacer):
        which = "simulated gateway" if isinstance(gateway, SimGateway) else "the gateway has no query pacer"
        return _check("flow_control", True, f"no flow control ({which})")
    in_flight = pacer.in_flight if pacer.busy() else ""
    queued = pacer.pending()
    state = f"query in flight: {in_flight or 'none'}, {len(queued)} queued"
    if queued:
        state += f" ({', '.join(queued[:5])}{', ...' if len(queued) > 5 else ''})"
    return _check(
        "flow_control",
        True,
        f"CTP query pacer (about 1 query/s, one in flight): {state}; "
        "orders are sent at once, never queued behind queries",
    )


def check_limits(facts: Facts, active_total: int) -> DiagnoseCheck:
    params, contract = facts.params, facts.contract
    low, high = COMMAND_LOTS
    problems: list[str] = []
    if not low <= params.volume <= high:
        problems.append(f"volume {params.volume} outside the command limit {low}..{high} lots")
    if contract is not None:
        if contract.min_volume and params.volume < contract.min_volume:
            problems.append(
                f"volume {params.volume} below the contract's minimum {_num(contract.min_volume)}"
            )
        if contract.max_volume and params.volume > contract.max_volume:
            problems.append(
                f"volume {params.volume} above the contract's per-order maximum {_num(contract.max_volume)}"
            )
    per_contract = len(facts.active)
    max_shown = _num(contract.max_volume) if contract and contract.max_volume else "none stated"
    limits = (
        f"command limit {low}..{high} lots, contract per-order {_num(contract.min_volume) if contract else 1}"
        f"..{max_shown}; active orders {active_total} ({per_contract} on {params.vt_symbol}): no limit on "
        "active orders or position size is configured"
    )
    if problems:
        return _check("risk_limits", False, "; ".join(problems) + f" ({limits})")
    return _check("risk_limits", True, f"volume {params.volume} within the limits ({limits})")
