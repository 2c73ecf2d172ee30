"""Persistence of the simulated account: one JSON file, replaced atomically (tmp + fsync + os.replace).

Enums are stored by name, datetimes as ISO 8601 with their offset. A file that exists but cannot be
read raises `StateError`: the simulator refuses to start rather than silently forget positions.
"""

from __future__ import annotations

import json
import os
import tempfile
from datetime import datetime
from pathlib import Path
from typing import Any

from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Status
from vnpy.trader.object import OrderData, TradeData

STATE_VERSION = 1


class StateError(RuntimeError):
    """The state file exists but cannot be read or written."""


def _dt(value: datetime | None) -> str | None:
    return value.isoformat() if value else None


def _parse_dt(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def order_to_dict(order: OrderData) -> dict[str, Any]:
    return {
        "symbol": order.symbol, "exchange": order.exchange.name, "orderid": order.orderid,
        "type": order.type.name, "direction": order.direction.name if order.direction else None,
        "offset": order.offset.name, "price": order.price, "volume": order.volume, "traded": order.traded,
        "status": order.status.name, "datetime": _dt(order.datetime), "reference": order.reference,
        "extra": order.extra,
    }


def order_from_dict(data: dict[str, Any], gateway_name: str) -> OrderData:
    order = OrderData(
        symbol=data["symbol"], exchange=Exchange[data["exchange"]], orderid=data["orderid"],
        type=OrderType[data["type"]], direction=Direction[data["direction"]] if data["direction"] else None,
        offset=Offset[data["offset"]], price=float(data["price"]), volume=float(data["volume"]),
        traded=float(data["traded"]), status=Status[data["status"]], datetime=_parse_dt(data["datetime"]),
        reference=data.get("reference", ""), gateway_name=gateway_name,
    )
    order.extra = data.get("extra")
    return order


def trade_to_dict(trade: TradeData) -> dict[str, Any]:
    return {
        "symbol": trade.symbol, "exchange": trade.exchange.name, "orderid": trade.orderid,
        "tradeid": trade.tradeid, "direction": trade.direction.name if trade.direction else None,
        "offset": trade.offset.name, "price": trade.price, "volume": trade.volume,
        "datetime": _dt(trade.datetime), "extra": trade.extra,
    }


def trade_from_dict(data: dict[str, Any], gateway_name: str) -> TradeData:
    trade = TradeData(
        symbol=data["symbol"], exchange=Exchange[data["exchange"]], orderid=data["orderid"],
        tradeid=data["tradeid"], direction=Direction[data["direction"]] if data["direction"] else None,
        offset=Offset[data["offset"]], price=float(data["price"]), volume=float(data["volume"]),
        datetime=_parse_dt(data["datetime"]), gateway_name=gateway_name,
    )
    trade.extra = data.get("extra")
    return trade


class StateStore:
    def __init__(self, path: Path) -> None:
        self.path = path

    def load(self) -> dict[str, Any] | None:
        """The saved state, or None when there is no file yet."""
        if not self.path.exists():
            return None
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise StateError(f"cannot read sim state file {self.path}: {exc}") from exc
        if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
            raise StateError(f"sim state file {self.path} has an unknown format (version {data.get('version')!r})"
                             if isinstance(data, dict) else f"sim state file {self.path} is not a JSON object")
        return data

    def save(self, data: dict[str, Any]) -> None:
        """Write the whole state so that a crash leaves either the old or the new file, never half."""
        payload = json.dumps({"version": STATE_VERSION, **data}, ensure_ascii=False, separators=(",", ":"))
        directory = self.path.parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
            fd, tmp = tempfile.mkstemp(dir=str(directory), prefix=f".{self.path.name}.", suffix=".tmp")
        except OSError as exc:
            raise StateError(f"cannot write sim state file {self.path}: {exc}") from exc
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(payload)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, self.path)
            _fsync_dir(directory)
        except OSError as exc:
            Path(tmp).unlink(missing_ok=True)
            raise StateError(f"cannot write sim state file {self.path}: {exc}") from exc


def _fsync_dir(directory: Path) -> None:
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
