"""MySQL row values as the APIs hand them out: timestamps are stored as naive UTC and leave as epoch ms
(`ts_ms`) and ISO UTC; Decimal becomes float, dates ISO strings."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any


def ts_ms(value: datetime) -> int:
    return int(value.replace(tzinfo=UTC).timestamp() * 1000)


def utc_naive(ms: int) -> datetime:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).replace(tzinfo=None)


def jsonable(row: dict[str, Any]) -> dict[str, Any]:
    """Decimal -> float, dates -> strings, `ts` -> ISO UTC plus `ts_ms`."""
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, Decimal):
            value = float(value)
        elif isinstance(value, datetime):
            out[f"{key}_ms"] = ts_ms(value)
            value = value.replace(tzinfo=UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        elif isinstance(value, date):
            value = value.isoformat()
        out[key.rstrip("_")] = value
    return out
