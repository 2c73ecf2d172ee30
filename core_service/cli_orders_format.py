"""How the operator CLI prints hand orders (`open`, `close`, `flatten`): the core's preview of an
order (exactly what it would send, cost, closable volume, strategies, problems), each change of a
followed order or follow-up step, and each request's outcome.

Pure functions from the answers' shapes (plain dicts from order.preview, OrderState,
ExecutionReport) to text; cli_orders.py decides what is sent and the exit code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from common.contract import ExecutionReport, ExecutionStep, OrderState
from common.trading_calendar import CHINA_TZ

SIDE = {"LONG": "buy", "SHORT": "sell"}
# follow-up steps worth a line of their own (fills and rejections show as order changes)
SHOWN_STEPS = {ExecutionStep.TIMEOUT, ExecutionStep.CANCELLED, ExecutionStep.REPRICED, ExecutionStep.FALLBACK,
               ExecutionStep.GAVE_UP, ExecutionStep.POSITION_CLOSED}  # fmt: skip


def _num(value: Any) -> str:
    return f"{value:g}" if isinstance(value, int | float) else "-"


def money(value: Any) -> str:
    return f"{value:,.2f} CNY" if isinstance(value, int | float) else "unknown"


def clock(ms: int | None) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=CHINA_TZ).strftime("%H:%M:%S") if ms else "--:--:--"


def order_line(order: dict[str, Any]) -> str:
    """One order as sent or to be sent: `LONG (buy) OPEN 1 @ 612.44`."""
    direction = str(order.get("direction", "?"))
    return (f"{direction} ({SIDE.get(direction, '?')}) {order.get('offset', '?')} {_num(order.get('volume'))}"
            f" @ {_num(order.get('price'))}")  # fmt: skip


# ---------------------------------------------------------------- the preview


def _headline(p: dict[str, Any], asked: float | None) -> str:
    price = p.get("price")
    if p.get("price_type") == "MARKET":
        how = f"MARKET (marketable limit {_num(price)})" if price is not None else "MARKET (no price yet)"
    else:
        how = f"LIMIT {_num(price if price is not None else asked)}"
    direction = str(p.get("direction", "?"))
    return (f"order: {direction} ({SIDE.get(direction, '?')}) {p.get('offset', '?')} {_num(p.get('volume'))}"
            f" {p.get('vt_symbol', '?')} {how}")  # fmt: skip


def _quote(tick: dict[str, Any] | None) -> str:
    if not tick:
        return "market: no tick yet for this contract"
    limits = (
        f" (limits {_num(tick.get('limit_down'))}-{_num(tick.get('limit_up'))})"
        if tick.get("limit_up")
        else ""
    )
    return (f"market: bid {_num(tick.get('bid'))} / ask {_num(tick.get('ask'))} / last {_num(tick.get('last'))}"
            f"{limits} at {clock(tick.get('ts_ms'))}")  # fmt: skip


def _held(p: dict[str, Any]) -> str:
    parts = []
    for side in ("LONG", "SHORT"):
        c = (p.get("closable") or {}).get(side) or {}
        if not c.get("volume"):
            parts.append(f"{side} 0")
            continue
        parts.append(f"{side} {_num(c.get('volume'))} (today {_num(c.get('td'))}, yesterday {_num(c.get('yd'))},"
                     f" frozen {_num(c.get('frozen'))}, closable {_num(c.get('closable'))})")  # fmt: skip
    return f"held in {p.get('vt_symbol', '?')}: " + "; ".join(parts)


def _strategies(p: dict[str, Any], stop: bool) -> list[str]:
    strategies = p.get("strategies") or []
    if not strategies:
        return []
    listed = ", ".join(f"{s.get('name')} (pos {_num(s.get('pos'))}, {'running' if s.get('trading') else 'stopped'})"
                       for s in strategies)  # fmt: skip
    lines = [f"strategies on {p.get('vt_symbol', '?')}: {listed}"]
    if any(s.get("trading") for s in strategies):
        lines.append("  the running ones are stopped before the order is sent (--stop-strategies)" if stop else
                     "  they keep running (--stop-strategies stops them first); their pos is brought to what"
                     " the account holds after the fill")  # fmt: skip
    return lines


def _session(session: dict[str, Any] | None) -> str:
    if not session:
        return "session: unknown"
    text = f"session: {session.get('state', '?')} ({session.get('mode', '?')})"
    if session.get("reason"):
        text += f", {session['reason']}"
    if session.get("state") != "open" and session.get("next_open_ms"):
        opens = datetime.fromtimestamp(session["next_open_ms"] / 1000, tz=CHINA_TZ)
        text += f", next open {opens:%Y-%m-%d %H:%M} (Beijing time)"
    return text


def problems(p: dict[str, Any]) -> list[str]:
    return [f"{x.get('code', '?')}: {x.get('text', '')}" for x in p.get("problems") or []]


def format_preview(p: dict[str, Any], stop_strategies: bool, asked: float | None = None) -> str:
    """order.preview: what the core will send, what it costs, what is held, and why it would refuse
    (`asked`: the limit price asked for, shown when the core worked out none)."""
    lines = [_headline(p, asked), "the core will send:"]
    lines += [f"  {order_line(o)}" for o in p.get("orders") or []] or ["  nothing"]
    lines.append(_quote(p.get("tick")))
    lines.append(f"margin {money(p.get('margin'))}, commission {money(p.get('commission'))},"
                 f" available {money(p.get('available'))}")  # fmt: skip
    lines.append(_held(p))
    lines += _strategies(p, stop_strategies)
    lines.append(_session(p.get("session")))
    found = problems(p)
    if found:
        lines.append("problems (the core would refuse it):")
        lines += [f"  {line}" for line in found]
    return "\n".join(lines)


# ---------------------------------------------------------------- following


def format_order_change(state: OrderState) -> str:
    """One change of a followed order: time, id, the order, its status and fill."""
    text = (f"  {clock(state.ts_ms)}  {state.vt_orderid}  {state.direction} {state.offset} {state.volume:g}"
            f" @ {state.price:g}: {state.status} {state.traded:g}/{state.volume:g}")  # fmt: skip
    return f"{text}: {state.reason}" if state.reason and state.status == "REJECTED" else text


def format_step(report: ExecutionReport) -> str | None:
    """A follow-up step worth showing (None for the ones the order changes already show)."""
    if report.step not in SHOWN_STEPS:
        return None
    price = (
        f" @ {report.price:g}"
        if report.price is not None and report.step in (ExecutionStep.REPRICED, ExecutionStep.FALLBACK)
        else ""
    )
    return (
        f"  {clock(report.ts_ms)}  follow-up {report.step.value} {report.vt_orderid}{price}: {report.message}"
    )


@dataclass
class Outcome:
    """Where one request (an order ticket, a close, one close of a flatten) ended."""

    label: str
    target: float
    traded: float
    status: str  # filled | rejected | cancelled | gave up | working
    reasons: list[str] = field(default_factory=list)
    working: list[OrderState] = field(default_factory=list)
    resend_pending: bool = False

    @property
    def finished(self) -> bool:
        return self.status != "working"


def format_outcome(outcome: Outcome, waited_s: float) -> str:
    filled = f"{outcome.traded:g} of {outcome.target:g} lots filled"
    if outcome.status == "filled":
        return f"{outcome.label}: FILLED ({filled})"
    if outcome.status == "working":
        lines = [f"{outcome.label}: STILL WORKING after {waited_s:g} s ({filled}); not done, the order stays"
                 " at the exchange"]  # fmt: skip
        lines += [f"  {s.vt_orderid} {s.status} {s.traded:g}/{s.volume:g} @ {s.price:g}: cancel with"
                  f" `python -m core_service.cli cancel {s.vt_orderid}`" for s in outcome.working]  # fmt: skip
        if outcome.resend_pending:
            lines.append("  the core's follow-up is about to send the rest again")
        return "\n".join(lines)
    why = "; ".join(outcome.reasons) or "no reason given"
    return f"{outcome.label}: NOT FILLED, {outcome.status.upper()} ({filled}): {why}"


# ---------------------------------------------------------------- flatten


def format_flatten_plan(legs: list[tuple[str, str, int]], previews: list[dict[str, Any]]) -> str:
    """Every close a flatten sends: the held position, then the exact order(s) of its MARKET close."""
    lines = [f"flatten: {len(legs)} position(s) closed at market, each close followed up:"]
    for (vt_symbol, direction, volume), preview in zip(legs, previews, strict=True):
        lines.append(f"  {vt_symbol} {direction} {volume}: close with")
        lines += [f"    {order_line(o)}" for o in preview.get("orders") or []] or ["    (no order)"]
        lines += [f"    problem: {line}" for line in problems(preview)]
    return "\n".join(lines)
