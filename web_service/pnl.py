"""Live position and account PnL from the latest prices (pure functions, no I/O).

Two PnLs per position, each against its own price (both shown, labelled):
- `pnl`: since opening, against the average open price (what the trader paid);
- `mtm_pnl`: the position profit, against the cost price the broker marks to (today's lots at their
  open price, yesterday's at the settlement price). It is what the balance holds.
PnL = (last - price) x volume x multiplier for LONG, (price - last) x ... for SHORT.
Live equity = static balance (the balance without the gateway's position profit) + the live
position profit, computed here once for both gateways (CTP's Balance includes PositionProfit, and so
does the simulated gateway's).
"""

from __future__ import annotations

from typing import Any

from common.contract import AccountState, PositionState


def position_pnl(direction: str, average: float, last: float, volume: float, multiplier: float) -> float:
    move = (average - last) if direction == "SHORT" else (last - average)
    return round(move * volume * multiplier, 2)


def position_row(pos: PositionState, last: float | None, multiplier: float, tick_ms: int | None) -> dict[str, Any]:
    live = position_pnl(pos.direction, pos.price, last, pos.volume, multiplier) if last else None
    cost = pos.cost_price or pos.price
    live_mtm = position_pnl(pos.direction, cost, last, pos.volume, multiplier) if last else None
    return {
        "key": f"{pos.vt_symbol}|{pos.direction}",
        "vt_symbol": pos.vt_symbol,
        "symbol": pos.symbol,
        "exchange": pos.exchange,
        "direction": pos.direction,
        "volume": pos.volume,
        "td_volume": pos.td_volume,
        "yd_volume": pos.yd_volume,
        "frozen": pos.frozen,
        "price": pos.price,
        "last_price": last,
        "multiplier": multiplier,
        "pnl": live if live is not None else pos.pnl,
        "pnl_source": "live" if live is not None else "core",
        "gateway_pnl": pos.pnl,
        "cost_price": cost,
        "mtm_pnl": live_mtm if live_mtm is not None else pos.unrealized_pnl,
        "gateway_mtm_pnl": pos.unrealized_pnl,
        "margin": pos.margin,
        "tick_ms": tick_ms,
        "ts_ms": pos.ts_ms,
    }


def position_rows(
    positions: list[PositionState],
    last_prices: dict[str, tuple[float, int]],
    multipliers: dict[str, float],
    default_multiplier: float,
) -> list[dict[str, Any]]:
    """Rows for every open position (volume 0 means flat: left out), sorted by contract and direction."""
    rows = []
    for pos in sorted(positions, key=lambda p: (p.vt_symbol, p.direction)):
        if pos.volume <= 0:
            continue
        last, tick_ms = last_prices.get(pos.symbol, (None, None))
        rows.append(position_row(pos, last, multipliers.get(pos.symbol, default_multiplier), tick_ms))
    return rows


def account_view(account: AccountState | None, rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    if account is None:
        return None
    live_unrealized = round(sum(r["mtm_pnl"] for r in rows), 2)
    data = account.model_dump()
    data["static_balance"] = account.static_balance
    data["live_unrealized_pnl"] = live_unrealized
    data["live_balance"] = round(account.static_balance + live_unrealized, 2)
    data["position_margin"] = round(sum(r["margin"] for r in rows), 2)
    return data
