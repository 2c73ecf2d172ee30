"""What the recorder derives from the gateway's events for the broker-truth tables (dispatcher thread).

- `BrokerReplies`: `broker_reply` records, what the gateway said as it said it (CTP's raw record from
  `extra["ctp"]`, else the vnpy record the gateway emitted): every order state and every trade; an
  account or position reply whenever what it states beyond the marks changed, else at most one per
  `interval_s` per account/position (CTP answers a query every ~2 s: each is kept; the simulated
  gateway re-marks on every tick: one per 2 s). The writer prunes the table (REPLY_KEEP_DAYS).
- `SettlementWatch`: `settlement` records, the price lots carried into a trading day are marked from:
  the tick's pre-settlement (keyed by the tick's trading day) and CTP's position records
  (PreSettlementPrice with their TradingDay; these outrank ticks).
- `OrderOrigins`: the reference each order was sent with (vnpy states it on the first update only),
  so a closing fill gets its exit reason (strategy | operator | emergency | ai | stop_loss |
  take_profit | external), and an AI order's later updates and fills its confidence and tool call.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from vnpy.trader.object import AccountData, OrderData, PositionData, TickData, TradeData

from common.clock import LIVE
from common.contract import new_uid, now_ms
from common.trading_calendar import trading_day_str
from core_service import serializers as ser
from core_service.closed_positions import exit_reason
from core_service.records import BrokerReplyRecord, Put, SettlementRecord

REPLY_MIN_INTERVAL_S = 2.0
MAX_ORDERS = 20_000


def _day_db(day: str) -> str:
    return f"{day[:4]}-{day[4:6]}-{day[6:8]}"


def raw_reply(obj: Any) -> Any:
    """CTP's own record when the gateway attached it, else the record the gateway emitted."""
    raw = (obj.extra or {}).get("ctp")
    return raw if raw is not None else ser.raw_record(obj)


class BrokerReplies:
    def __init__(self, put: Put, interval_s: float = REPLY_MIN_INTERVAL_S,
                 clock: Callable[[], float] = LIVE.monotonic) -> None:
        self.put = put
        self.interval_s = interval_s
        self.clock = clock
        self._last: dict[str, tuple[tuple[Any, ...], float]] = {}

    def _record(self, gateway: str, kind: str, key: str, raw: Any) -> None:
        self.put(BrokerReplyRecord(uid=new_uid(), received_at=ser.ms_to_db(now_ms()), gateway=gateway,
                                   reply_kind=kind, key=key[:128], raw=raw))

    def _changed(self, key: str, shape: tuple[Any, ...]) -> bool:
        now = self.clock()
        last = self._last.get(key)
        if last is not None and last[0] == shape and now - last[1] < self.interval_s:
            return False
        self._last[key] = (shape, now)
        return True

    def order(self, order: OrderData) -> None:
        self._record(order.gateway_name, "order", order.vt_orderid, raw_reply(order))

    def trade(self, trade: TradeData) -> None:
        self._record(trade.gateway_name, "trade", trade.vt_tradeid, raw_reply(trade))

    def account(self, account: AccountData) -> None:
        extra = account.extra or {}
        shape = (account.frozen, extra.get("commission"), extra.get("realized_pnl"), extra.get("trading_day"),
                 extra.get("deposit"), extra.get("withdraw"))
        if self._changed(f"account|{account.vt_accountid}", shape):
            self._record(account.gateway_name, "account", account.vt_accountid, raw_reply(account))

    def position(self, position: PositionData) -> None:
        shape = (position.volume, position.yd_volume, position.frozen, position.price)
        if self._changed(f"position|{position.vt_positionid}", shape):
            key = f"{position.symbol}.{position.exchange.name}|{position.direction.name}"
            self._record(position.gateway_name, "position", key, raw_reply(position))


class SettlementWatch:
    def __init__(self, put: Put) -> None:
        self.put = put
        self._ticks: dict[str, tuple[float, tuple[int, int, int], str]] = {}  # symbol -> (price, minute, day)
        self._stated: set[tuple[str, str, float]] = set()

    def _record(self, symbol: str, day: str, price: float, source: str) -> None:
        self.put(SettlementRecord(symbol=symbol, trading_day=_day_db(day), price=price, source=source,
                                  updated_at=ser.ms_to_db(now_ms())))

    def tick(self, tick: TickData, trading_day: str | None = None) -> None:
        """Cheap for every tick: the trading day is worked out once a minute or on a new price."""
        price = (tick.extra or {}).get("pre_settlement")
        if not price or price <= 0:
            return
        dt = tick.datetime
        minute = (dt.day, dt.hour, dt.minute)
        seen = self._ticks.get(tick.symbol)
        if seen is not None and seen[0] == price and seen[1] == minute:
            return
        day = trading_day or trading_day_str(dt)
        self._ticks[tick.symbol] = (price, minute, day)
        if seen is None or (seen[0], seen[2]) != (price, day):
            self._record(tick.symbol, day, float(price), "tick")

    def position(self, position: PositionData) -> None:
        raw = (position.extra or {}).get("ctp")
        if not isinstance(raw, list):
            return
        for record in raw:
            day, price = str(record.get("TradingDay") or ""), record.get("PreSettlementPrice")
            if len(day) != 8 or not isinstance(price, int | float) or not 0 < price < 1e300:
                continue
            key = (position.symbol, day, float(price))
            if key not in self._stated:
                self._stated.add(key)
                self._record(position.symbol, day, float(price), "position")


class OrderOrigins:
    def __init__(self, limit: int = MAX_ORDERS) -> None:
        self.limit = limit
        self._references: OrderedDict[str, str] = OrderedDict()

    def order(self, order: OrderData) -> None:
        if order.reference and order.vt_orderid not in self._references:
            self._references[order.vt_orderid] = order.reference
            while len(self._references) > self.limit:
                self._references.popitem(last=False)

    def reference(self, vt_orderid: str) -> str:
        return self._references.get(vt_orderid, "")

    def exit_reason(self, vt_orderid: str, strategy: str | None) -> str:
        return exit_reason(strategy, self.reference(vt_orderid))
