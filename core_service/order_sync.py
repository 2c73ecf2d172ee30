"""The order/trade query fallback: what the push stream missed, found by asking the broker.

Every `sync.order_query_interval_s`, and at once on `request_now()` (after every login or reconnect,
and when the position sync sees a drift), the gateway is asked for today's orders and trades
(`query_orders_trades`: CTP's ReqQryOrder/ReqQryTrade within its flow control, the sim's exchange
records). A trade vnpy's OmsEngine does not know, or an order whose state at the broker is newer
than OmsEngine's (unknown, more traded, or final while still active here), may only be late: it is
checked again `missed_grace_s` later and, still missing, delivered through the gateway's own push
path (`gateway.on_order`/`on_trade`: OmsEngine, the CTA engine and the recorder see it exactly as a
push; the trades table's unique key keeps one row should the push come after all) and raised as a
MISSED_BY_PUSH risk event: one per missed trade (the order update that came with it is named in it),
one per order state missed without a trade. An error reply raises QUERY_FAILED and is never read
as "no trades".

`last_completed` (the clock's monotonic time of the last error-free reply, set once everything that reply
found missing has been delivered) and `queries_done` are read by the position sync and the tests.
"""

from __future__ import annotations

import logging
import queue
import threading
from collections import OrderedDict
from copy import copy
from dataclasses import dataclass
from typing import Any

from vnpy.trader.engine import MainEngine
from vnpy.trader.object import OrderData, TradeData

from common.clock import LIVE, Clock
from common.config import SyncConfig
from common.contract import RiskEventType
from common.lifecycle import LoopThread
from core_service.risk_events import RiskDesk

log = logging.getLogger(__name__)

RETRY_S = 1.0  # the gateway could not take the query now (not logged in, one still running): ask again after
MAX_DELIVERED = 10_000  # ids delivered by the query, never delivered twice
JOIN_TIMEOUT_S = 3.0


@dataclass
class Suspect:
    """Something the query found that OmsEngine did not have: checked again when `due`."""

    item: OrderData | TradeData
    due: float


def order_news(broker: OrderData, known: OrderData | None) -> str:
    """Why the broker's state of an order is newer than OmsEngine's ('' when it is not)."""
    if known is None:
        return "unknown to the core"
    if broker.traded > known.traded:
        return f"traded {broker.traded:g} at the broker, {known.traded:g} in the core"
    if not broker.is_active() and known.is_active():
        return f"{broker.status.name} at the broker, still {known.status.name} in the core"
    return ""


def describe_trade(trade: TradeData) -> str:
    return (
        f"trade {trade.vt_tradeid} ({trade.symbol} {trade.direction.name if trade.direction else '?'}"
        f" {trade.offset.name} {trade.volume:g} @ {trade.price:g}, order {trade.vt_orderid})"
    )


class OrderSync:
    def __init__(
        self,
        config: SyncConfig,
        main_engine: MainEngine,
        gateway: Any,
        risk: RiskDesk,
        clock: Clock = LIVE,
    ) -> None:
        self.interval_s = config.order_query_interval_s
        self.grace_s = config.missed_grace_s
        self.main_engine = main_engine
        self.gateway = gateway
        self.risk = risk
        self.clock = clock
        self.last_completed = 0.0  # 0: no error-free reply yet
        self.queries_done = 0  # replies handled, errors included
        self.missed_trades = 0
        self.missed_orders = 0
        self._replies: queue.SimpleQueue[tuple[list[OrderData], list[TradeData], str, float]] = (
            queue.SimpleQueue()
        )
        self._suspects: dict[str, Suspect] = {}  # "trade:<vt_tradeid>" | "order:<vt_orderid>"
        self._settling: float | None = None  # an error-free reply's time, waiting for its suspects
        self._delivered: OrderedDict[str, None] = OrderedDict()
        self._asap = threading.Event()
        self._next_ask = 0.0
        self._thread = LoopThread("arbig-order-sync", what="order sync: a step", first_wait_s=self.interval_s,
                                  step=self._step, wakeable=True, logger=log)

    # ------------------------------------------------------------ any thread
    def start(self) -> None:
        self._next_ask = self.clock.monotonic() + self.interval_s  # the login asks at once (request_now)
        self._thread.start()
        log.info(
            "order sync started: orders and trades queried every %.0f s and after every login; "
            "a trade the push has not brought %.1f s after the query found it is delivered from it",
            self.interval_s,
            self.grace_s,
        )

    def stop(self, timeout: float = JOIN_TIMEOUT_S) -> None:
        self._thread.stop(timeout)

    def request_now(self) -> None:
        """Query as soon as the gateway can take it (never blocks: any thread, CTP's callbacks too)."""
        self._asap.set()
        self._thread.wake()

    @property
    def pending(self) -> int:
        """Things a query found missing, waiting for their grace period (order sync's thread writes it)."""
        return len(self._suspects)

    def _on_reply(self, orders: list[OrderData], trades: list[TradeData], error: str) -> None:
        """The gateway's answer (its own thread): handed to the sync thread."""
        self._replies.put((orders, trades, error, self.clock.monotonic()))
        self._thread.wake()

    # ------------------------------------------------------------ the sync thread (a step fails: backoff 0.5-5 s)
    def _wait_s(self) -> float:
        now = self.clock.monotonic()
        due = [self._next_ask, *(s.due for s in self._suspects.values())]
        return max(0.0, min(due) - now)

    def _step(self) -> float:
        """What the replies brought, what is due again, a query when due; the wait until the next step."""
        while True:
            try:
                orders, trades, error, at = self._replies.get_nowait()
            except queue.Empty:
                break
            self._handle_reply(orders, trades, error, at)
        self._recheck()
        now = self.clock.monotonic()
        if self._asap.is_set() or now >= self._next_ask:
            self._ask(now)
        return self._wait_s()

    def _ask(self, now: float) -> None:
        asked = self.gateway.query_orders_trades(self._on_reply)
        if asked:
            self._asap.clear()
            self._next_ask = now + self.interval_s
        else:
            log.debug(
                "order sync: the gateway cannot take an order/trade query now; asking again in %.0f s",
                RETRY_S,
            )
            self._next_ask = now + min(RETRY_S, self.interval_s)

    def _handle_reply(self, orders: list[OrderData], trades: list[TradeData], error: str, at: float) -> None:
        self.queries_done += 1
        if error:
            self.risk.raise_event(
                RiskEventType.QUERY_FAILED,
                f"the broker answered the order/trade query with an error: {error};"
                " what the push missed cannot be found until a query succeeds",
                key=f"QUERY_FAILED:{self.gateway.gateway_name}:orders_trades",
                error=error,
            )
            return
        due = self.clock.monotonic() + self.grace_s
        found = 0
        for order in orders:
            news = order_news(order, self.main_engine.get_order(order.vt_orderid))
            if news and self._new_suspect(f"order:{order.vt_orderid}", order, due):
                log.info(
                    "order sync: order %s %s; checked again in %.1f s", order.vt_orderid, news, self.grace_s
                )
                found += 1
        for trade in trades:
            if self.main_engine.get_trade(trade.vt_tradeid) is None and self._new_suspect(
                f"trade:{trade.vt_tradeid}", trade, due
            ):
                log.info(
                    "order sync: %s not in the core yet; checked again in %.1f s",
                    describe_trade(trade),
                    self.grace_s,
                )
                found += 1
        log.debug(
            "order sync: query %d answered: %d orders, %d trades, %d not (yet) in the core",
            self.queries_done,
            len(orders),
            len(trades),
            found,
        )
        self._settling = at
        if not self._suspects:
            self._settled()

    def _new_suspect(self, key: str, item: OrderData | TradeData, due: float) -> bool:
        """Keep (or refresh with the broker's newer state) something the core lacks; False if known."""
        delivered = f"{key}:{item.status.name}:{item.traded:g}" if isinstance(item, OrderData) else key
        if delivered in self._delivered:
            return False  # delivered already; OmsEngine has not processed it yet
        known = self._suspects.get(key)
        self._suspects[key] = Suspect(item, known.due if known else due)
        return known is None

    def _settled(self) -> None:
        if self._settling is not None:
            self.last_completed = self._settling
            self._settling = None

    def _recheck(self) -> None:
        now = self.clock.monotonic()
        due = [key for key, suspect in self._suspects.items() if suspect.due <= now]
        if not due:
            return
        orders: list[tuple[OrderData, str]] = []
        trades: list[TradeData] = []
        for key in due:
            item = self._suspects.pop(key).item
            if isinstance(item, OrderData):
                news = order_news(item, self.main_engine.get_order(item.vt_orderid))
                if news:
                    orders.append((item, news))
            elif self.main_engine.get_trade(item.vt_tradeid) is None:
                trades.append(item)
            else:
                log.info("order sync: trade %s arrived by push after all", item.vt_tradeid)
        self._deliver(orders, trades)
        if not self._suspects:
            self._settled()

    def _deliver(self, orders: list[tuple[OrderData, str]], trades: list[TradeData]) -> None:
        """Push what is still missing, orders first (as CTP does), then raise what the push missed."""
        for order, news in orders:
            log.warning("order sync: delivering order %s from the query (%s)", order.vt_orderid, news)
            self._remember(f"order:{order.vt_orderid}:{order.status.name}:{order.traded:g}")
            self.gateway.on_order(copy(order))
        for trade in trades:
            log.warning(
                "order sync: delivering %s from the query: the push never brought it", describe_trade(trade)
            )
            self._remember(f"trade:{trade.vt_tradeid}")
            self.gateway.on_trade(copy(trade))
        with_trades = {trade.vt_orderid: trade for trade in trades}
        for trade in trades:
            self._raise_trade(trade, next((o for o, _ in orders if o.vt_orderid == trade.vt_orderid), None))
        for order, news in orders:
            if order.vt_orderid not in with_trades:
                self._raise_order(order, news)

    def _remember(self, key: str) -> None:
        self._delivered[key] = None
        while len(self._delivered) > MAX_DELIVERED:
            self._delivered.popitem(last=False)

    def _raise_trade(self, trade: TradeData, order: OrderData | None) -> None:
        self.missed_trades += 1
        also = (
            f"; its order's update ({order.status.name}, {order.traded:g}/{order.volume:g}) too"
            if order
            else ""
        )
        self.risk.raise_event(
            RiskEventType.MISSED_BY_PUSH,
            f"{describe_trade(trade)} reached the core only through the"
            f" order/trade query: the push missed it{also}; recorded from the query",
            key=f"MISSED_BY_PUSH:{trade.vt_tradeid}",
            symbol=trade.vt_symbol,
            vt_tradeid=trade.vt_tradeid,
            vt_orderid=trade.vt_orderid,
            direction=trade.direction.name if trade.direction else "",
            offset=trade.offset.name,
            price=trade.price,
            volume=trade.volume,
            order_status=order.status.name if order else "",
        )

    def _raise_order(self, order: OrderData, news: str) -> None:
        self.missed_orders += 1
        self.risk.raise_event(
            RiskEventType.MISSED_BY_PUSH,
            f"order {order.vt_orderid} ({order.symbol} {order.direction.name if order.direction else '?'}"
            f" {order.offset.name} {order.traded:g}/{order.volume:g} {order.status.name}): {news}; the push missed"
            " it, updated from the order/trade query",
            key=f"MISSED_BY_PUSH:{order.vt_orderid}:{order.status.name}",
            symbol=order.vt_symbol,
            vt_orderid=order.vt_orderid,
            status=order.status.name,
            traded=order.traded,
            volume=order.volume,
        )
