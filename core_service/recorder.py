"""Records what vnpy sees: ticks to Redis Streams, state and events to Redis, records to MySQL.

The handlers registered on vnpy's event engine only append the event's data to a queue (a few
microseconds: vnpy's event thread also runs the strategies and must never wait on I/O). The
dispatcher thread converts and fans out to the Redis publisher and the MySQL writer.

For the broker-truth tables it also sends: each trade's commission (the simulated gateway's own,
else priced from the contract's rates, `ContractBook`), size and exit reason (the writer books
`positions_closed` from them); the contracts' info and rates (`contracts`); settlement prices, raw
broker replies (`record_feeds`); and the daily ledger's triggers (`pnl_ledger.LedgerFeed`). A ledger
mismatch the writer finds comes back as an ERROR system event. Position records carry what the writer
reconciles our lots with (`position_reconcile`): the average open price, the cost price, the settlement
price yesterday's lots are marked from and the broker's trading day (CTP's, else the account's); lots
carried in come back as a WARNING system event, a drift as an ERROR one.

The AI agent's orders and trades carry its confidence and tool call (from the order's reference) and
are attributed to the strategy "ai", like its exit plans' closes. A closing fill carries the exit plan
in force on the position it closes (`exit_plan_of`), looked up on vnpy's event thread as the fill comes
(a dict lookup: the core drops a plan only on a later position event, so the plan seen is the one in
force when the fill came).
"""

from __future__ import annotations

import contextlib
import logging
import queue
from collections import OrderedDict
from collections.abc import Callable
from typing import Any

from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Offset
from vnpy.trader.event import (
    EVENT_ACCOUNT,
    EVENT_CONTRACT,
    EVENT_LOG,
    EVENT_ORDER,
    EVENT_POSITION,
    EVENT_TICK,
    EVENT_TIMER,
    EVENT_TRADE,
)
from vnpy.trader.object import AccountData, ContractData, OrderData, PositionData, TickData, TradeData

from common.contract import CommandAudit, EventMessage, Keys, SystemEvent, position_field
from common.lifecycle import LoopThread
from common.market_clock import MarketClock
from core_service import serializers as ser
from core_service.closed_positions import AI_STRATEGY, is_ai_reference, side_closed
from core_service.conflicts import Conflict
from core_service.contracts_table import ContractBook
from core_service.equity_marks import EquityMarks
from core_service.mysql_writer import MysqlWriter
from core_service.pnl_ledger import LedgerFeed, LedgerReport, statement_record
from core_service.position_reconcile import PositionReport
from core_service.record_feeds import BrokerReplies, OrderOrigins, SettlementWatch
from core_service.records import (
    ACCOUNT_FIGURES,
    AccountRecord,
    AuditRecord,
    OrderRecord,
    PositionRecord,
    SystemEventRecord,
    TradeRecord,
)
from core_service.redis_publisher import RedisPublisher

log = logging.getLogger(__name__)

POSITION_DB_INTERVAL_S = 5.0  # unchanged positions (pnl only) reach MySQL at most this often
ACCOUNT_DB_INTERVAL_S = 5.0
SEEN_TRADES = 20_000  # vt_tradeids remembered so a trade reaching us twice (push + query) is published once
ExitPlanOf = Callable[[str, str], dict[str, Any] | None]  # (vt_symbol, held direction LONG|SHORT) -> plan


def no_exit_plan(vt_symbol: str, direction: str) -> dict[str, Any] | None:
    return None


class Recorder:
    def __init__(
        self,
        event_engine: EventEngine,
        keys: Keys,
        publisher: RedisPublisher,
        writer: MysqlWriter,
        tick_maxlen: int,
        event_maxlen: int,
        main_symbol: Callable[[], str],
        strategy_of_order: Callable[[str], str | None],
        clock: MarketClock | None = None,  # None: a live market clock
        contracts: ContractBook | None = None,
        exit_plan_of: ExitPlanOf = no_exit_plan,  # the core's exit plans (called on vnpy's event thread)
    ) -> None:
        self.event_engine = event_engine
        self.keys = keys
        self.publisher = publisher
        self.writer = writer
        self.tick_maxlen = tick_maxlen
        self.event_maxlen = event_maxlen
        self.main_symbol = main_symbol
        self.strategy_of_order = strategy_of_order
        self.exit_plan_of = exit_plan_of
        self.marks = EquityMarks(clock or MarketClock(runs_on=True), writer.put)  # the equity curve, on the market clock
        self.wall = self.marks.clock.base  # the injected wall clock (recorded_at, updated_at, DB intervals)
        self.published_symbols: set[str] = set()
        self.last_tick_ms: int | None = None
        self.order_listeners: list[Callable[[OrderData], None]] = []
        self.contract_listeners: list[Callable[[str], None]] = []
        self.position_check_listeners: list[Callable[[PositionReport], None]] = []  # the writer's thread
        self._queue: queue.SimpleQueue[tuple[str, Any]] = queue.SimpleQueue()
        self._thread = LoopThread("arbig-dispatcher", what="dispatching vnpy's events", step=self._next,
                                  on_stop=self._finish, logger=log)
        self._last_position_db: dict[str, tuple[tuple[float, ...], float]] = {}
        self.position_records: dict[str, PositionRecord] = {}  # position field -> its latest position record
        self._last_account_db = 0.0
        self._trading_days: dict[str, str] = {}  # gateway -> the account's trading day, YYYYMMDD
        self._handlers: list[tuple[str, Callable[[Event], None]]] = []
        self.contracts = contracts or ContractBook(writer.put)
        self.replies = BrokerReplies(writer.put, clock=self.wall.monotonic)
        self.settlements = SettlementWatch(writer.put)
        self.origins = OrderOrigins()
        self._seen_trades: OrderedDict[str, None] = OrderedDict()  # dispatcher thread only
        self.ledger = LedgerFeed(writer.put, ACCOUNT_DB_INTERVAL_S, clock=self.wall.monotonic)
        writer.set_conflict_handler(self.record_conflict)
        writer.set_ledger_handler(self.record_ledger_mismatch)
        writer.set_position_handler(self.record_position_check)

    # ------------------------------------------------------------ lifecycle
    def start(self) -> None:
        self._thread.start()
        for event_type in (EVENT_TICK, EVENT_ORDER, EVENT_TRADE, EVENT_POSITION, EVENT_ACCOUNT, EVENT_CONTRACT,
                           EVENT_LOG, EVENT_TIMER):
            handler = self._make_handler(event_type)
            self.event_engine.register(event_type, handler)
            self._handlers.append((event_type, handler))

    def stop(self) -> None:
        for event_type, handler in self._handlers:
            self.event_engine.unregister(event_type, handler)
        self._thread.stop(3.0)

    def _make_handler(self, event_type: str) -> Callable[[Event], None]:
        put = self._queue.put
        if event_type == EVENT_TRADE:
            plan_of = self._plan_in_force

            def on_trade(event: Event) -> None:  # vnpy's event thread: the plan in force now, then enqueue
                put((event_type, (event.data, plan_of(event.data))))

            return on_trade

        def handler(event: Event) -> None:  # runs on vnpy's event thread: enqueue only
            put((event_type, event.data))

        return handler

    def _plan_in_force(self, trade: TradeData) -> dict[str, Any] | None:
        """The exit plan (a copy) on the position a closing fill closes; None for an opening. On vnpy's
        event thread: never raises."""
        if trade.offset == Offset.OPEN:
            return None
        try:
            plan = self.exit_plan_of(trade.vt_symbol, side_closed(trade.direction.name if trade.direction else ""))
            return dict(plan) if plan else None
        except Exception:  # a fault here must not stop vnpy's event thread
            log.exception("recorder: no exit plan for trade %s", trade.vt_tradeid)
            return None

    @property
    def backlog(self) -> int:
        return self._queue.qsize()

    # ------------------------------------------------------------ from other threads
    def publish_event(self, event_type: str, data: dict[str, Any]) -> None:
        message = EventMessage.model_validate({"type": event_type, "data": data})  # an unknown type: ValidationError
        self.publisher.xadd(self.keys.events, {"json": message.to_json()}, self.event_maxlen)

    def system_event(self, kind: str, message: str, level: str = "INFO", **detail: Any) -> None:
        """Record a system event (MySQL), publish it (Redis) and log it."""
        event = SystemEvent.model_validate({"kind": kind, "message": message, "level": level, "detail": detail})
        log.log(logging.getLevelName(level), "system event [%s] %s", kind, message)
        self.writer.put(SystemEventRecord(uid=event.uid, ts=ser.ms_to_db(event.ts_ms), level=event.level,
                                          event_kind=kind, message=message[:1024], detail=detail))
        self.publish_event("system", event.model_dump())

    def record_conflict(self, conflict: Conflict) -> None:
        """A trade or order that arrived again with other content (the writer kept it aside)."""
        self.system_event(conflict.event_kind, conflict.message, "ERROR", **conflict.detail)

    def record_ledger_mismatch(self, report: LedgerReport) -> None:
        """Our realized PnL or commission of a day differs from the broker's by more than a tick value."""
        self.system_event("ledger_mismatch", report.message, "ERROR", **report.detail)

    def record_position_check(self, report: PositionReport) -> None:
        """Lots carried in from the broker's position (WARNING), more lots recorded than it holds (ERROR),
        or lots the broker no longer holds closed in the records (WARNING); then to the listeners."""
        self.system_event(report.event_kind, report.message, report.level, **report.detail)
        for listener in self.position_check_listeners:
            listener(report)

    def settlement_statement(self, gateway: str, accountid: str, trading_day: str, text: str) -> None:
        """The broker's settlement statement (CTP ReqQrySettlementInfo), kept raw in pnl_records."""
        self.writer.put(statement_record(gateway, accountid, trading_day, text))

    def command_audited(self, audit: CommandAudit) -> None:
        """An operator command and its answer: to the audit table (MySQL) and to the pages (Redis)."""
        self.writer.put(AuditRecord(
            uid=audit.uid, command_id=audit.command_id, type=audit.type, params=audit.params, source=audit.source,
            operator=audit.operator, issued_at=ser.ms_to_db(audit.issued_ms),
            received_at=ser.ms_to_db(audit.received_ms), status=audit.status, reason=audit.reason,
            result=audit.result, replied_at=ser.ms_to_db(audit.replied_ms)))
        self.publish_event("command", audit.model_dump())

    # ------------------------------------------------------------ dispatcher thread
    def _next(self) -> None:
        """Record the next queued event (waiting up to 0.1 s for one)."""
        with contextlib.suppress(queue.Empty):
            self._record(*self._queue.get(timeout=0.1))

    def _record(self, event_type: str, data: Any) -> None:
        try:
            self._dispatch(event_type, data)
        except Exception:  # one bad record must not stop recording
            log.exception("recorder: failed to record %s", event_type)

    def _finish(self) -> None:
        """On stop: what is still queued, then the open minute's equity point (a replay's last one)."""
        while not self._queue.empty():
            self._record(*self._queue.get_nowait())  # this thread alone takes from the queue
        try:
            self.marks.flush()
        except Exception:
            log.exception("recorder: failed to write the last equity point")

    def _dispatch(self, event_type: str, data: Any) -> None:
        if event_type == EVENT_TICK:
            self._on_tick(data)
        elif event_type == EVENT_ORDER:
            self._on_order(data)
        elif event_type == EVENT_TRADE:
            self._on_trade(*data)
        elif event_type == EVENT_POSITION:
            self._on_position(data)
        elif event_type == EVENT_ACCOUNT:
            self._on_account(data)
        elif event_type == EVENT_CONTRACT:
            self._on_contract(data)
        elif event_type == EVENT_LOG:
            log.info("vnpy[%s] %s", data.gateway_name, data.msg)
        elif event_type == EVENT_TIMER:
            self.marks.on_timer()

    def _on_tick(self, tick: TickData) -> None:
        self.marks.on_tick(tick.datetime)
        if tick.symbol not in self.published_symbols:
            self.settlements.tick(tick)
            return
        message = ser.tick_message(tick)
        self.settlements.tick(tick, message.trading_day)
        self.last_tick_ms = message.ts_ms
        self.publisher.xadd(self.keys.tick_stream(tick.symbol), message.to_fields(), self.tick_maxlen)

    def _strategy(self, vt_orderid: str, reference: str) -> str | None:
        """The AI's orders and exit-plan closes: "ai"; else the CTA strategy that sent it (None: none)."""
        return AI_STRATEGY if is_ai_reference(reference) else self.strategy_of_order(vt_orderid)

    def _on_order(self, order: OrderData) -> None:
        self.origins.order(order)
        state = ser.order_state(order, order.reference or self.origins.reference(order.vt_orderid))
        self.publisher.hset_state(self.keys.orders, state.vt_orderid, state.to_json())
        self.publish_event("order", state.model_dump())
        self.writer.put(OrderRecord(
            gateway=state.gateway, orderid=state.orderid, trading_day=ser.day_to_db(ser.record_trading_day(order, self.wall)),
            symbol=state.symbol, exchange=state.exchange, direction=state.direction, offset=state.offset,
            type=state.type, price=state.price, volume=state.volume, traded=state.traded, status=state.status,
            reference=state.reference, strategy=self._strategy(order.vt_orderid, state.reference), reason=state.reason,
            ts=ser.ms_to_db(ser.epoch_ms(order.datetime, self.wall)), updated_at=ser.ms_to_db(self.wall.now_ms()),
            raw=ser.raw_record(order), confidence=state.confidence, tool_call_id=state.tool_call_id))
        self.replies.order(order)
        for listener in self.order_listeners:
            listener(order)

    def _on_trade(self, trade: TradeData, exit_plan: dict[str, Any] | None = None) -> None:
        reference = self.origins.reference(trade.vt_orderid)
        state = ser.trade_state(trade, self.wall, reference)
        if trade.vt_tradeid in self._seen_trades:  # again (query fallback, late push): MySQL keeps one row
            log.info("trade %s reached the recorder again; not published twice", trade.vt_tradeid)
        else:
            self._seen_trades[trade.vt_tradeid] = None
            while len(self._seen_trades) > SEEN_TRADES:
                self._seen_trades.popitem(last=False)
            self.publish_event("trade", state.model_dump())
            self.marks.on_trade()  # the equity curve gets a point after every fill
        strategy = self._strategy(trade.vt_orderid, reference)
        self.writer.put(TradeRecord(
            gateway=state.gateway, exchange=state.exchange, tradeid=state.tradeid, direction=state.direction,
            trading_day=ser.day_to_db(state.trading_day), symbol=state.symbol, orderid=trade.orderid,
            offset=state.offset, price=state.price, volume=state.volume,
            commission=self._commission(trade, state.offset), strategy=strategy, ts=ser.ms_to_db(state.ts_ms),
            recorded_at=ser.ms_to_db(self.wall.now_ms()), raw=ser.raw_record(trade),
            size=self.contracts.size(trade.symbol),
            exit_reason=self.origins.exit_reason(trade.vt_orderid, strategy), confidence=state.confidence,
            tool_call_id=state.tool_call_id, exit_plan=exit_plan))
        self.replies.trade(trade)
        self.ledger.trade_seen()

    def _commission(self, trade: TradeData, offset: str) -> float | None:
        """The simulated gateway states each fill's commission; on CTP it is priced from the rates."""
        stated = (trade.extra or {}).get("commission")
        if isinstance(stated, int | float):
            return float(stated)
        return self.contracts.commission(trade.symbol, offset, trade.price, trade.volume)

    def _on_position(self, position: PositionData) -> None:
        state = ser.position_state(position)
        field = position_field(state.vt_symbol, state.direction)
        self.publisher.hset_state(self.keys.positions, field, state.to_json())
        self.publish_event("position", state.model_dump())
        self.replies.position(position)
        self.settlements.position(position)
        self.ledger.position(position)
        day = self._position_day(position)
        settlement = (position.extra or {}).get("settlement_price")
        record = PositionRecord(
            gateway=state.gateway, symbol=state.symbol, exchange=state.exchange, direction=state.direction,
            volume=state.volume, yd_volume=state.yd_volume, frozen=state.frozen, price=state.price, pnl=state.pnl,
            margin=state.margin, trading_day=ser.day_to_db(day) if day else None, updated_at=ser.ms_to_db(state.ts_ms),
            cost_price=state.cost_price, settlement_price=settlement if isinstance(settlement, int | float) else None)
        self.position_records[field] = record  # what the broker states now (the position sync adopts from it)
        shape = (state.volume, state.yd_volume, state.frozen, state.price, day)
        previous = self._last_position_db.get(field)
        now = self.wall.monotonic()
        if previous and previous[0] == shape and now - previous[1] < POSITION_DB_INTERVAL_S:
            return
        self._last_position_db[field] = (shape, now)
        self.writer.put(record)

    def _position_day(self, position: PositionData) -> str:
        """The trading day a position is stated for: the broker's (CTP), else the account's."""
        extra = position.extra or {}
        raw = extra.get("ctp")
        stated = str((raw[0].get("TradingDay") if isinstance(raw, list) and raw else None)
                     or extra.get("trading_day") or self._trading_days.get(position.gateway_name) or "")
        return stated if len(stated) == 8 and stated.isdigit() else ""

    def _on_account(self, account: AccountData) -> None:
        state = ser.account_state(account)
        self.publisher.set_state(self.keys.account, state.to_json())
        self.publish_event("account", state.model_dump())
        self.replies.account(account)
        self.ledger.account(state)
        if state.trading_day:
            self._trading_days[state.gateway] = state.trading_day
        now = self.wall.monotonic()
        if now - self._last_account_db >= ACCOUNT_DB_INTERVAL_S:
            self._last_account_db = now
            self.writer.put(AccountRecord(
                **state.model_dump(include=ACCOUNT_FIGURES), updated_at=ser.ms_to_db(state.ts_ms),
                trading_day=ser.day_to_db(state.trading_day) if state.trading_day else None))
        self.marks.on_account(state)

    def _on_contract(self, contract: ContractData) -> None:
        self.contracts.on_contract(contract)
        info = ser.contract_info(contract, self.main_symbol())
        self.publisher.hset_state(self.keys.contracts, info.symbol, info.to_json())
        for listener in self.contract_listeners:
            listener(contract.symbol)
