"""Lots the broker no longer holds, closed in the records: exit reason `external_close`.

A close we never saw a trade for (a forced liquidation, the broker's own terminal on a session we
cannot see, a delivery) leaves our open lots above the broker's position. Once the position sync
(`position_sync`) has seen the same difference twice with no trade of the contract in between and
the order/trade query found nothing missing, it puts an `external_close` record on the writer's
queue; this module books it in the writer's transaction:

- the surplus (our lots - the broker's volume) is taken where the broker's figures say it went:
  yesterday's lots beyond the broker's yesterday volume, today's beyond its today volume, the rest
  oldest first (yesterday's, then today's);
- one `position_reconciliations` row (kind `external_close`, closed_yd/closed_td, close_price) and a
  `positions_closed` row per lot taken, tied to it (`reconciliation_id`, no closing trade), PnL at
  the record's price (the last price when it was detected: the real fill price is unknown), no
  commission (unknown).
Idempotent: booked only while our lots still exceed the broker's stated volume, and once per uid.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from pymysql.cursors import Cursor

from core_service.closed_positions import (
    CLOSED_COLUMNS,
    SETTLEMENT_OF,
    UPDATE_LOT,
    ZERO,
    Close,
    Lot,
    contract_size,
    dec,
    open_lots,
    pool,
    split_close,
)
from core_service.position_reconcile import PositionReport
from core_service.records import ExternalCloseRecord

EXIT_REASON = "external_close"
INSERT_RECONCILIATION = (
    "INSERT INTO position_reconciliations (uid, kind, gateway, symbol, exchange, direction, trading_day,"
    " broker_volume, broker_yd_volume, lots_volume, closed_yd, closed_td, close_price, message, statement,"
    " detected_at) VALUES (%s,'external_close',%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s,%s)"
    " ON DUPLICATE KEY UPDATE id = id"
)
INSERT_CLOSED = (
    f"INSERT INTO positions_closed ({', '.join(CLOSED_COLUMNS)}, confidence, reconciliation_id, recorded_at)"
    f" VALUES ({', '.join(['%s'] * (len(CLOSED_COLUMNS) + 2))}, UTC_TIMESTAMP(3))"
)


def record(gateway: str, symbol: str, exchange: str, direction: str, broker_volume: float, broker_yd: float,
           trading_day: str | date, price: float, detected_at: str | datetime, source: str) -> ExternalCloseRecord:
    """The writer record asking for an external close (`trading_day` YYYY-MM-DD, `detected_at` naive UTC)."""
    return ExternalCloseRecord(gateway=gateway, symbol=symbol, exchange=exchange, direction=direction,
                               broker_volume=broker_volume, broker_yd=broker_yd, trading_day=trading_day,
                               price=price, detected_at=detected_at, source=source)


def split(lots: list[Lot], day: date, broker_volume: Decimal, broker_yd: Decimal) -> tuple[Decimal, Decimal]:
    """(yesterday's, today's) lots to close so that ours match the broker's volume."""
    held = sum((lot.remaining for lot in lots), ZERO)
    ours_yd = sum((lot.remaining for lot in lots if lot.open_trading_day < day), ZERO)
    ours_td = held - ours_yd
    surplus = held - broker_volume
    close_yd = min(surplus, max(ZERO, ours_yd - broker_yd))
    close_td = min(surplus - close_yd, max(ZERO, ours_td - (broker_volume - broker_yd)))
    rest = surplus - close_yd - close_td  # the broker's yd/td split disagrees with ours: oldest first
    more_yd = min(rest, ours_yd - close_yd)
    return close_yd + more_yd, close_td + (rest - more_yd)


def _uid(rec: dict[str, Any], held: Decimal) -> str:
    parts = ("external_close", rec["gateway"], rec["symbol"], rec["exchange"], rec["direction"],
             rec["trading_day"], held, dec(rec["broker_volume"]), rec["detected_at"])
    return hashlib.md5("|".join(str(p) for p in parts).encode()).hexdigest()


def _n(volume: Decimal) -> str:
    return f"{float(volume):g}"


def book(cur: Cursor, rec: dict[str, Any]) -> PositionReport | None:
    """Close the lots the broker no longer holds (in the writer's transaction); None if nothing to do."""
    gateway, symbol, exchange, side = rec["gateway"], rec["symbol"], rec["exchange"], rec["direction"]
    day = date.fromisoformat(str(rec["trading_day"]))
    broker_volume, broker_yd = dec(rec["broker_volume"]), dec(rec["broker_yd"])
    lots = open_lots(cur, gateway, symbol, exchange, side)
    held = sum((lot.remaining for lot in lots), ZERO)
    if held <= broker_volume:
        return None  # healed, or booked already
    close_yd, close_td = split(lots, day, broker_volume, broker_yd)
    price = dec(rec["price"])
    where = f"{gateway} {symbol}.{exchange} {side}"
    message = (f"external close {where}: the broker holds {_n(broker_volume)} lot(s), our records {_n(held)};"
               f" {_n(close_yd + close_td)} closed in the records ({_n(close_yd)} yesterday's, {_n(close_td)}"
               f" today's) at {price:.2f}, the last price when detected (the broker's fill price is unknown)")
    cur.execute(INSERT_RECONCILIATION, (
        _uid(rec, held), gateway, symbol, exchange, side, day, broker_volume, broker_yd, held, close_yd, close_td,
        price, message[:512], json.dumps({k: str(v) for k, v in rec.items()}), rec["detected_at"]))
    if cur.rowcount != 1:
        return None
    reconciliation_id = cur.lastrowid
    size = contract_size(cur, {"symbol": symbol})
    cur.execute(SETTLEMENT_OF, (symbol, day))
    row = cur.fetchone()
    settlement = None if row is None else Decimal(row[0])
    piece = 0
    for offset, volume in (("CLOSEYESTERDAY", close_yd), ("CLOSETODAY", close_td)):
        if volume <= 0:
            continue
        close = Close(side, offset, exchange, price, volume, size, day, None)
        for part in split_close(close, pool(open_lots(cur, gateway, symbol, exchange, side), close), settlement):
            lot, after = part.lot, part.lot_after
            if lot is None or after is None:
                continue  # split() never asks for more than the pool holds
            cur.execute(UPDATE_LOT, (after.remaining, after.commission_left, lot.id))
            cur.execute(INSERT_CLOSED, (
                gateway, symbol, exchange, side, part.volume, size, lot.id, lot.open_trade_id, lot.open_tradeid,
                lot.open_ts, lot.open_trading_day, lot.open_price, lot.strategy, int(lot.before_recording), None,
                piece, f"external-{reconciliation_id}", "", offset, rec["detected_at"], price, day, int(part.carried),
                part.settlement, part.pnl_open, part.pnl_settlement, None, None, EXIT_REASON, lot.confidence,
                reconciliation_id))
            piece += 1
    detail = {k: str(v) for k, v in rec.items() if k != "kind"}
    detail.update(lots=str(held), closed_yd=str(close_yd), closed_td=str(close_td),
                  reconciliation_id=reconciliation_id)
    return PositionReport("external_close", "WARNING", message, detail)
