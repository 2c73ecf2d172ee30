"""Colliding records: a trade or order identity that arrives again with other content.

CTP replays the day's orders and trades after every reconnect, so an identical replay is normal and
stays a silent no-op. A newcomer that differs from the first (a trade's symbol, order id, offset,
price, volume or time; an order's immutable fields) is a conflict: the first stays, the newcomer is
kept whole in `record_conflicts`, and the MySQL writer reports it. Values are compared as MySQL
stores them: DECIMAL(20,4) rounded half up, DATETIME(3) truncated to the millisecond.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from pymysql.cursors import Cursor

FOUR_PLACES = Decimal("0.0001")
COLUMN = {"offset": "offset_", "type": "order_type"}  # record field -> column, where they differ


@dataclass(frozen=True)
class Identity:
    """How one kind of record is identified, and which of its fields may never change."""

    kind: str
    table: str
    key: tuple[str, ...]
    compared: tuple[str, ...]  # in the order differences are named
    label: str  # the key field that names the record in messages


IDENTITIES = {
    "trade": Identity("trade", "trades", ("gateway", "exchange", "tradeid", "direction", "trading_day"),
                      ("symbol", "orderid", "offset", "price", "volume", "ts"), "tradeid"),
    # Orders are upserted (status, traded, reason change legitimately); these fields never do.
    "order": Identity("order", "orders", ("gateway", "orderid", "trading_day"),
                      ("symbol", "direction", "offset", "type", "price", "volume"), "orderid"),
}


@dataclass(frozen=True)
class Conflict:
    kind: str  # trade | order
    uid: str  # from kind, key and the newcomer's compared values: the same newcomer is kept once
    label: str  # e.g. "trade 12345 LONG au2702"
    key: dict[str, str]
    stored: dict[str, str]  # the first one's compared values, as stored
    received: dict[str, Any]  # the newcomer, whole, as the core built it (with the gateway's raw record)
    differences: dict[str, dict[str, str]]  # field -> {"stored": ..., "received": ...}

    @property
    def event_kind(self) -> str:
        return f"{self.kind}_conflict"

    @property
    def message(self) -> str:
        changes = ", ".join(f"{name} {d['received']} (stored {d['stored']})" for name, d in self.differences.items())
        return (f"{self.label} arrived again with {changes}; kept the first, the second stored in"
                " record_conflicts")

    @property
    def detail(self) -> dict[str, Any]:
        return {"conflict_uid": self.uid, "record": self.kind, "key": self.key, "differences": self.differences}


def stored_value(name: str, value: Any) -> Any:
    """A field as MySQL holds it once written (None stays None)."""
    if value is None:
        return None
    if name in ("price", "volume"):
        number = Decimal(repr(value)) if isinstance(value, float) else Decimal(str(value))
        return number.quantize(FOUR_PLACES, ROUND_HALF_UP)
    if name == "ts":
        moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value))
        return moment.replace(microsecond=moment.microsecond // 1000 * 1000, tzinfo=None)
    return str(value)


def shown(name: str, value: Any) -> str:
    if value is None:
        return "none"
    if isinstance(value, Decimal):
        text = format(value.normalize(), "f")
        if name == "price":
            whole, _, fraction = text.partition(".")
            text = f"{whole}.{fraction.ljust(2, '0')}"
        return text
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds") + " UTC"
    return str(value)


def _json_value(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat(sep=" ", timespec="milliseconds")
    return None if value is None else str(value)


def _key_part(value: Any) -> str:
    # The unique keys compare with a case-insensitive collation; dates come back as `date`.
    return value.isoformat() if isinstance(value, date) else str(value).casefold()


def _key(identity: Identity, record: dict[str, Any]) -> tuple[str, ...]:
    return tuple(_key_part(record.get(name)) for name in identity.key)


def _stored_rows(cur: Cursor, identity: Identity, records: list[dict[str, Any]]) -> dict[tuple[str, ...], Any]:
    """The stored rows with the identities of these records: key -> compared values (normalised)."""
    wanted = {_key(identity, r): tuple(r.get(name) for name in identity.key) for r in records}
    match = "(" + " AND ".join(f"{COLUMN.get(name, name)} = %s" for name in identity.key) + ")"
    columns = ", ".join(COLUMN.get(name, name) for name in identity.key + identity.compared)
    cur.execute(f"SELECT {columns} FROM {identity.table} WHERE " + " OR ".join([match] * len(wanted)),
                [value for values in wanted.values() for value in values])
    found = {}
    width = len(identity.key)
    for row in cur.fetchall():
        found[tuple(_key_part(v) for v in row[:width])] = {
            name: stored_value(name, v) for name, v in zip(identity.compared, row[width:], strict=True)}
    return found


def screen(cur: Cursor, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[Conflict]]:
    """Split a batch into the records to write and the conflicts (never written over the first).

    The first of an identity is the stored row, else the first record with it in this batch.
    A record whose fields cannot be read is passed on: MySQL refuses it and it is set aside."""
    firsts: dict[tuple[str, tuple[str, ...]], dict[str, Any]] = {}
    for kind, identity in IDENTITIES.items():
        mine = [r for r in records if r.get("kind") == kind]
        if mine:
            firsts.update({(kind, key): values for key, values in _stored_rows(cur, identity, mine).items()})
    keep: list[dict[str, Any]] = []
    conflicts: list[Conflict] = []
    for record in records:
        identity = IDENTITIES.get(str(record.get("kind")))
        if identity is None:
            keep.append(record)
            continue
        try:
            values = {name: stored_value(name, record.get(name)) for name in identity.compared}
        except (ArithmeticError, TypeError, ValueError):
            keep.append(record)
            continue
        key = _key(identity, record)
        first = firsts.setdefault((identity.kind, key), values)
        differing = [name for name in identity.compared if values[name] != first[name]]
        if differing:
            conflicts.append(_conflict(identity, record, key, first, values, differing))
        else:
            keep.append(record)
    return keep, conflicts


def _conflict(identity: Identity, record: dict[str, Any], key: tuple[str, ...], first: dict[str, Any],
              values: dict[str, Any], differing: list[str]) -> Conflict:
    digest = json.dumps([identity.kind, key, [_json_value(values[name]) for name in identity.compared]])
    direction = record.get("direction") if "direction" in identity.key else first["direction"]
    return Conflict(
        kind=identity.kind,
        uid=hashlib.sha256(digest.encode()).hexdigest()[:32],
        label=f"{identity.kind} {record.get(identity.label)} {direction} {first['symbol']}",
        key={name: str(record.get(name)) for name in identity.key},
        stored={name: _json_value(first[name]) for name in identity.compared},
        received=record,
        differences={name: {"stored": shown(name, first[name]), "received": shown(name, values[name])}
                     for name in differing},
    )


def store(cur: Cursor, conflict: Conflict) -> bool:
    """Keep the newcomer in `record_conflicts`; False if it was kept before (a replay of it)."""
    cur.execute(
        "INSERT INTO record_conflicts (uid, kind, natural_key, stored, received, differences, detected_at)"
        " VALUES (%s,%s,%s,%s,%s,%s,UTC_TIMESTAMP(3)) ON DUPLICATE KEY UPDATE id = id",
        (conflict.uid, conflict.kind, _dumps(conflict.key), _dumps(conflict.stored), _dumps(conflict.received),
         _dumps(conflict.differences)),
    )
    return cur.rowcount == 1


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False, default=str)
