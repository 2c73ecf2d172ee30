"""Helpers for the sim gateway tests: an event recorder, tick builder and a driver for a connected gateway."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, OrderType, Status
from vnpy.trader.engine import MainEngine
from vnpy.trader.event import EVENT_LOG, EVENT_ORDER, EVENT_TICK, EVENT_TRADE
from vnpy.trader.object import (
    AccountData,
    OrderData,
    OrderRequest,
    PositionData,
    TickData,
    TradeData,
)

from common.trading_calendar import CHINA_TZ
from core_service.sim import SimGateway
from tests.conftest import SHARED_DATA
from tests.helpers import eventually

SYMBOL = "au2702"
VT_SYMBOL = f"{SYMBOL}.SHFE"
Levels = Sequence[tuple[float, float]]  # book levels 2.. as (price, volume)
AU2206_CSV = SHARED_DATA / "shfe_ticks_20220218" / "au2206_20220218_L1.csv"


class Recorder:
    """Every event the engine dispatches, in dispatch order (a general handler on the real engine)."""

    def __init__(self, event_engine: EventEngine) -> None:
        self.events: list[tuple[str, Any]] = []
        self._lock = threading.Lock()
        event_engine.register_general(self._on_event)

    def _on_event(self, event: Event) -> None:
        with self._lock:
            self.events.append((event.type, event.data))

    def of(self, event_type: str) -> list[Any]:
        with self._lock:
            return [data for kind, data in self.events if kind == event_type]

    def types(self) -> list[str]:
        with self._lock:
            return [kind for kind, _ in self.events]

    def orders(self, vt_orderid: str) -> list[OrderData]:
        return [o for o in self.of(EVENT_ORDER) if o.vt_orderid == vt_orderid]

    def trades(self) -> list[TradeData]:
        return self.of(EVENT_TRADE)

    def ticks(self) -> list[TickData]:
        return self.of(EVENT_TICK)

    def logs(self) -> list[str]:
        return [log.msg for log in self.of(EVENT_LOG)]


class Sim:
    """A connected SimGateway on a real MainEngine, with helpers to drive and read it."""

    def __init__(self, main_engine: MainEngine, gateway: SimGateway, recorder: Recorder) -> None:
        self.engine = main_engine
        self.gateway = gateway
        self.rec = recorder

    def tick(self, last: float = 950.0, bid: float | None = None, ask: float | None = None,
             bid_volume: float = 10, ask_volume: float = 10, symbol: str = SYMBOL,
             dt: datetime | None = None, limit_up: float = 1007.0, limit_down: float = 893.0,
             bids: Levels = (), asks: Levels = (), last_volume: float = 0) -> TickData:
        """Inject one tick and wait until the engine has seen it (bids/asks: levels 2.. as (price, volume))."""
        tick = make_tick(last, bid, ask, bid_volume, ask_volume, symbol, dt, limit_up, limit_down,
                         bids=bids, asks=asks, last_volume=last_volume)
        before = len(self.rec.ticks())
        self.gateway.inject_tick(tick)
        eventually(lambda: len(self.rec.ticks()) > before, timeout=5, what="tick dispatched")
        return tick

    def send(self, direction: Direction, volume: float, price: float = 0.0, offset: Offset = Offset.OPEN,
             order_type: OrderType = OrderType.LIMIT, symbol: str = SYMBOL) -> str:
        req = OrderRequest(symbol=symbol, exchange=Exchange.SHFE, direction=direction, type=order_type,
                           volume=volume, price=price, offset=offset)
        return self.engine.send_order(req, "SIM")

    def wait_order(self, vt_orderid: str, status: Status) -> OrderData:
        def check() -> OrderData | None:
            order = self.engine.get_order(vt_orderid)
            assert order is not None, f"{vt_orderid} unknown"
            assert order.status == status, f"{vt_orderid} is {order.status.name}, want {status.name}"
            return order
        return eventually(check, timeout=5, what=f"{vt_orderid} {status.name}")

    def cancel(self, vt_orderid: str) -> None:
        order = self.engine.get_order(vt_orderid)
        assert order is not None
        self.engine.cancel_order(order.create_cancel_request(), "SIM")

    def account(self) -> AccountData:
        account = self.engine.get_account("SIM.SIM")
        assert account is not None
        return account

    def position(self, direction: Direction, symbol: str = SYMBOL) -> PositionData | None:
        return self.engine.get_position(f"SIM.{symbol}.SHFE.{direction.value}")

    def settle(self) -> None:
        """Wait until the event engine has handled everything queued so far."""
        done = threading.Event()
        kind = "eTestSettle"
        handler: Callable[[Event], None] = lambda event: done.set()  # noqa: E731
        self.engine.event_engine.register(kind, handler)
        self.engine.event_engine.put(Event(kind))
        assert done.wait(5), "event engine did not settle"
        self.engine.event_engine.unregister(kind, handler)


def make_tick(last: float = 950.0, bid: float | None = None, ask: float | None = None, bid_volume: float = 10,
              ask_volume: float = 10, symbol: str = SYMBOL, dt: datetime | None = None,
              limit_up: float = 1007.0, limit_down: float = 893.0, bids: Levels = (), asks: Levels = (),
              last_volume: float = 0) -> TickData:
    """A level-1 tick; `bids`/`asks` add levels 2.. as (price, volume); `last_volume`: lots traded since the last tick."""
    bid = round(last - 0.02, 2) if bid is None else bid
    ask = last if ask is None else ask
    tick = TickData(
        symbol=symbol, exchange=Exchange.SHFE, datetime=dt or datetime.now(CHINA_TZ), name="黄金",
        volume=100, turnover=100 * last * 1000, open_interest=1000, last_price=last,
        limit_up=limit_up, limit_down=limit_down, open_price=last, high_price=last, low_price=last,
        pre_close=950.0, bid_price_1=bid, bid_volume_1=bid_volume, ask_price_1=ask, ask_volume_1=ask_volume,
        last_volume=last_volume, localtime=datetime.now(), gateway_name="SIM",
    )
    for side, levels in (("bid", bids), ("ask", asks)):
        for k, (price, volume) in enumerate(levels, start=2):
            setattr(tick, f"{side}_price_{k}", price)
            setattr(tick, f"{side}_volume_{k}", volume)
    tick.extra = {"pre_settlement": 950.0}
    return tick


def base_setting(tmp_path: Path, **overrides: Any) -> dict[str, Any]:
    setting: dict[str, Any] = {
        "main_contract": SYMBOL, "tick_interval_ms": 50, "replay_file": "", "replay_speed": 0,
        "replay_loop": False, "initial_balance": 1_000_000.0, "margin_rate": 0.10, "commission_per_lot": 10.0,
        "close_today_commission_per_lot": 5.0, "limit_rate": 0.06, "base_price": 950.0, "seed": 7,
        "state_file": str(tmp_path / "sim_state.json"),
    }
    setting.update(overrides)
    return setting
