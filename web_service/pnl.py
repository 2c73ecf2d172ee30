"""Live position and account PnL from the latest prices (pure functions, no I/O).

Position PnL = (last - average price) x volume x multiplier for LONG, (average - last) x ... for
SHORT. Live equity = the core's balance - the unrealized PnL it reported + the live unrealized PnL
(CTP's balance includes position profit, so this moves the balance with the market).
"""

from __future__ import annotations

from typing import Any

from common.contract import AccountState, PositionState


def position_pnl(direction: str, average: float, last: float, volume: float, multiplier: float) -> float:
    move = (average - last) if direction == "SHORT" else (last - average)
    return round(move * volume * multiplier, 2)


def position_row(pos: PositionState, last: float | None, multiplier: float, tick_ms: int | None) -> dict[str, Any]:
    live = position_pnl(pos.direction, pos.price, last, pos.volume, multiplier) if last else None
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
    live_unrealized = round(sum(r["pnl"] for r in rows), 2)
    data = account.model_dump()
    data["live_unrealized_pnl"] = live_unrealized
    data["live_balance"] = round(account.balance - account.unrealized_pnl + live_unrealized, 2)
    data["position_margin"] = round(sum(r["margin"] for r in rows), 2)
    return data
