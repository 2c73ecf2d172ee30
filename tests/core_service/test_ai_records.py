"""The AI agent's orders and fills on record, against the real MariaDB and Redis, through the real recorder
on vnpy's real event engine and the real MySQL writer: an order sent with an AI reference lands with its
confidence, tool call and the strategy "ai" (also its later updates that no longer state the reference,
and in the Redis order state); its fill too, and the lot it opens keeps the confidence; an AI close books
positions_closed with the lot's confidence, exit reason "ai" and the exit plan in force when the fill came
(looked up on the event thread, so a plan dropped right after the fill is still the one booked); an
exit-plan close is booked "stop_loss"; the operator's orders stay without confidence. An upsert without
the AI fields never wipes them, and spool lines from before them still validate."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import redis
from vnpy.event import Event, EventEngine
from vnpy.trader.constant import Direction, Exchange, Offset, Status
from vnpy.trader.event import EVENT_ORDER, EVENT_TRADE
from vnpy.trader.object import OrderData, TradeData

from common.config import MysqlConfig
from common.contract import Keys, OrderState, TradeState
from common.contract.ai import ai_reference, exit_reference
from common.db import Database
from common.trading_calendar import CHINA_TZ
from core_service.closed_positions import exit_reason
from core_service.mysql_writer import MysqlWriter
from core_service.recorder import Recorder
from core_service.records import dump, parse_record, revalidated
from core_service.redis_publisher import RedisPublisher
from core_service.serializers import ai_marks
from tests.core_service.test_mysql_writer import changed, make_writer, order
from tests.helpers import eventually

CALL_OPEN = "a" * 32  # the MCP tool calls (uuid4 hex, as web_service/mcp gives them)
CALL_CLOSE = "b" * 32
CALL_PLAN = "c" * 32
PLAN = {"vt_symbol": "au2702.SHFE", "direction": "LONG", "stop_loss": 495.0, "take_profit": 515.0,
        "invalidation": "a close below the 1h EMA50", "tool_call_id": CALL_PLAN, "set_ms": 1_800_000_000_000,
        "triggered": None}
EVENT_DROP_PLAN = "eTestDropPlan."  # the core drops a plan on a later event (its EVENT_POSITION at volume 0)


@dataclass
class Side:
    engine: EventEngine
    writer: MysqlWriter
    plans: dict[tuple[str, str], dict[str, Any]] = field(default_factory=dict)
    lookups: list[tuple[str, str, threading.Thread]] = field(default_factory=list)
    sent: int = 0

    def exit_plan_of(self, vt_symbol: str, direction: str) -> dict[str, Any] | None:
        self.lookups.append((vt_symbol, direction, threading.current_thread()))
        return self.plans.get((vt_symbol, direction))

    def order(self, orderid: str, direction: Direction, offset: Offset, reference: str, status: Status,
              traded: int = 0, volume: int = 1, price: float = 500.0) -> None:
        self.engine.put(Event(EVENT_ORDER, OrderData(
            gateway_name="SIM", symbol="au2702", exchange=Exchange.SHFE, orderid=orderid, direction=direction,
            offset=offset, price=price, volume=volume, traded=traded, status=status, reference=reference,
            datetime=datetime(2027, 1, 12, 10, 0, self.sent % 60, tzinfo=CHINA_TZ))))
        self.sent += 1

    def fill(self, orderid: str, direction: Direction, offset: Offset, price: float, volume: int = 1) -> None:
        trade = TradeData(gateway_name="SIM", symbol="au2702", exchange=Exchange.SHFE, orderid=orderid,
                          tradeid=f"t-{orderid}", direction=direction, offset=offset, price=price, volume=volume,
                          datetime=datetime(2027, 1, 12, 10, 1, self.sent % 60, tzinfo=CHINA_TZ))
        trade.extra = {"commission": 10.0}
        self.engine.put(Event(EVENT_TRADE, trade))
        self.sent += 1

    def sent_order(self, orderid: str, direction: Direction, offset: Offset, reference: str, price: float,
                   volume: int = 1) -> None:
        """An order as vnpy reports it: the reference on the first update only, then its fill."""
        self.order(orderid, direction, offset, reference, Status.SUBMITTING, volume=volume, price=price)
        self.order(orderid, direction, offset, "", Status.NOTTRADED, volume=volume, price=price)
        self.order(orderid, direction, offset, "", Status.ALLTRADED, traded=volume, volume=volume, price=price)
        self.fill(orderid, direction, offset, price, volume)


@pytest.fixture
def side(mysql_cfg: MysqlConfig, tmp_path: Path, redis_client: redis.Redis, keys: Keys) -> Iterator[Side]:
    """The recorder on a running vnpy event engine, with the writer and publisher, as in the core."""
    engine = EventEngine()
    writer = make_writer(mysql_cfg, tmp_path)
    publisher = RedisPublisher(redis_client, keys.main_contract)
    side = Side(engine, writer)
    recorder = Recorder(engine, keys, publisher, writer, tick_maxlen=1000, event_maxlen=1000,
                        main_symbol=lambda: "au2702", strategy_of_order=lambda _vt_orderid: None,
                        exit_plan_of=side.exit_plan_of)
    engine.register(EVENT_DROP_PLAN, lambda event: side.plans.pop(event.data, None))
    writer.start()
    publisher.start()
    recorder.start()
    engine.start()
    yield side
    engine.stop()
    recorder.stop()
    writer.stop()
    publisher.stop()


def one(db: Database, sql: str, *args: Any) -> dict[str, Any]:
    rows = db.query(sql, list(args) or None)
    assert len(rows) == 1, rows
    return rows[0]


def test_an_ai_order_its_fill_and_its_lot_carry_the_confidence(side: Side, db: Database,
                                                               redis_client: redis.Redis, keys: Keys) -> None:
    side.sent_order("o1", Direction.LONG, Offset.OPEN, ai_reference(CALL_OPEN, 72), 500.0, volume=2)
    lot = eventually(lambda: one(db, "SELECT * FROM position_lots"), what="the lot opened")
    assert (lot["confidence"], lot["strategy"], float(lot["remaining"])) == (72, "ai", 2.0)
    row = eventually(lambda: one(db, "SELECT * FROM orders WHERE status = 'ALLTRADED'"), what="the order filled")
    assert (row["confidence"], row["tool_call_id"], row["strategy"]) == (72, CALL_OPEN, "ai")
    assert row["reference"] == ai_reference(CALL_OPEN, 72)
    trade = one(db, "SELECT * FROM trades")
    assert (trade["confidence"], trade["tool_call_id"], trade["strategy"]) == (72, CALL_OPEN, "ai")
    def order_state() -> OrderState:
        state = OrderState.model_validate_json(redis_client.hget(keys.orders, "SIM.o1") or "{}")
        assert state.status == "ALLTRADED"
        return state

    state = eventually(order_state, what="the order's last state in Redis")
    assert (state.confidence, state.tool_call_id) == (72, CALL_OPEN)  # an update that did not state the reference

    def fills() -> list[TradeState]:
        pushed = [json.loads(f["json"]) for _, f in redis_client.xrange(keys.events)]
        return [TradeState.model_validate(p["data"]) for p in pushed if p["type"] == "trade"]

    fill, = eventually(fills, what="the fill pushed")
    assert (fill.confidence, fill.tool_call_id) == (72, CALL_OPEN)
    assert side.lookups == []  # an opening fill closes nothing: no exit plan looked up


def test_an_ai_close_books_the_lots_confidence_and_the_plan_in_force(side: Side, db: Database) -> None:
    side.sent_order("o1", Direction.LONG, Offset.OPEN, ai_reference(CALL_OPEN, 80), 500.0)
    eventually(lambda: one(db, "SELECT id FROM position_lots"), what="the lot opened")
    side.plans[("au2702.SHFE", "LONG")] = dict(PLAN)
    side.order("o2", Direction.SHORT, Offset.CLOSETODAY, ai_reference(CALL_CLOSE, 55), Status.SUBMITTING,
               price=503.0)
    side.fill("o2", Direction.SHORT, Offset.CLOSETODAY, 503.0)
    side.engine.put(Event(EVENT_DROP_PLAN, ("au2702.SHFE", "LONG")))  # flat: the core drops the plan
    closed = eventually(lambda: one(db, "SELECT * FROM positions_closed"), what="the close booked")
    assert (closed["exit_reason"], closed["strategy"], closed["open_strategy"]) == ("ai", "ai", "ai")
    assert closed["confidence"] == 80  # the lot's: the confidence the position was opened with
    assert json.loads(closed["exit_plan"]) == PLAN
    assert round(float(closed["pnl_open"]), 2) == 3000.0
    trade = one(db, "SELECT confidence, tool_call_id, strategy FROM trades WHERE tradeid = 't-o2'")
    assert (trade["confidence"], trade["tool_call_id"], trade["strategy"]) == (55, CALL_CLOSE, "ai")
    (vt_symbol, direction, thread), = side.lookups
    assert (vt_symbol, direction) == ("au2702.SHFE", "LONG")  # the position the short fill closes
    assert thread is side.engine._thread  # on vnpy's event thread, as the fill came
    eventually(lambda: side.plans == {}, what="the plan dropped after the fill")


def test_an_exit_plans_close_is_booked_with_its_reason(side: Side, db: Database) -> None:
    side.sent_order("o1", Direction.SHORT, Offset.OPEN, ai_reference(CALL_OPEN, 64), 510.0)
    eventually(lambda: one(db, "SELECT id FROM position_lots"), what="the lot opened")
    side.plans[("au2702.SHFE", "SHORT")] = {**PLAN, "direction": "SHORT", "stop_loss": 512.0,
                                             "take_profit": 500.0, "triggered": "stop_loss"}
    side.sent_order("o2", Direction.LONG, Offset.CLOSETODAY, exit_reference("stop_loss", CALL_PLAN), 512.0)
    closed = eventually(lambda: one(db, "SELECT * FROM positions_closed"), what="the close booked")
    assert (closed["exit_reason"], closed["strategy"], closed["confidence"]) == ("stop_loss", "ai", 64)
    assert json.loads(closed["exit_plan"])["triggered"] == "stop_loss"
    assert round(float(closed["pnl_open"]), 2) == -2000.0
    trade = one(db, "SELECT confidence, tool_call_id, strategy FROM trades WHERE tradeid = 't-o2'")
    assert (trade["confidence"], trade["tool_call_id"], trade["strategy"]) == (None, CALL_PLAN, "ai")


def test_the_operators_orders_carry_no_confidence(side: Side, db: Database) -> None:
    side.sent_order("o1", Direction.LONG, Offset.OPEN, "ARBIG_operator", 500.0)
    side.sent_order("o2", Direction.SHORT, Offset.CLOSETODAY, "ARBIG_operator", 501.0)
    closed = eventually(lambda: one(db, "SELECT * FROM positions_closed"), what="the close booked")
    assert (closed["exit_reason"], closed["strategy"], closed["confidence"], closed["exit_plan"]) == (
        "operator", None, None, None)
    rows = db.query("SELECT confidence, tool_call_id, strategy FROM orders UNION ALL"
                    " SELECT confidence, tool_call_id, strategy FROM trades")
    assert rows == [{"confidence": None, "tool_call_id": None, "strategy": None}] * 4
    assert one(db, "SELECT confidence FROM position_lots")["confidence"] is None


def test_an_update_without_the_ai_fields_does_not_wipe_them(side: Side, db: Database) -> None:
    sent = changed(order("NOTTRADED", 0), reference=ai_reference(CALL_OPEN, 90), confidence=90,
                   tool_call_id=CALL_OPEN, strategy="ai")
    side.writer.put(sent)
    eventually(lambda: one(db, "SELECT confidence FROM orders")["confidence"] == 90)
    # after a restart the core no longer knows the reference: CTP's replay states none
    side.writer.put(changed(order("ALLTRADED", 2), strategy=None))
    row = eventually(lambda: one(db, "SELECT * FROM orders WHERE status = 'ALLTRADED'"))
    assert (row["confidence"], row["tool_call_id"], row["strategy"], row["reference"]) == (
        90, CALL_OPEN, "ai", ai_reference(CALL_OPEN, 90))


def test_spooled_lines_from_before_the_ai_fields_still_validate() -> None:
    new_order = dump(changed(order("ALLTRADED", 2), confidence=50, tool_call_id=CALL_OPEN))
    new_trade = dump(parse_record({
        "kind": "trade", "gateway": "SIM", "exchange": "SHFE", "tradeid": "T1", "direction": "SHORT",
        "trading_day": "2027-01-12", "symbol": "au2702", "orderid": "o1", "offset": "CLOSETODAY", "price": 503.0,
        "volume": 1, "ts": "2027-01-12 02:00:00.000", "recorded_at": "2027-01-12 02:00:00.100",
        "exit_reason": "ai", "confidence": 55, "tool_call_id": CALL_CLOSE, "exit_plan": PLAN}))
    ai_fields = ("confidence", "tool_call_id", "exit_plan")
    old = [{k: v for k, v in line.items() if k not in ai_fields} for line in (new_order, new_trade)]
    old[1] |= {"vt_tradeid": "SIM.T1", "vt_orderid": "SIM.o1", "datetime": "", "ts_ms": 0}  # TradeState's spread
    kept, refused = revalidated(old)
    assert refused == []
    assert [(line["confidence"], line["tool_call_id"]) for line in kept] == [(None, None), (None, None)]
    assert kept[1]["exit_plan"] is None
    assert revalidated([new_order, new_trade]) == ([new_order, new_trade], [])
    state = {"gateway": "SIM", "vt_tradeid": "SIM.T1", "tradeid": "T1", "vt_orderid": "SIM.o1", "symbol": "au2702",
             "exchange": "SHFE", "direction": "LONG", "offset": "OPEN", "price": 500.0, "volume": 1.0,
             "datetime": "", "trading_day": "20270112", "ts_ms": 0}
    assert TradeState.model_validate(state).confidence is None  # a state published before them


def test_exit_reasons_and_ai_marks() -> None:
    assert exit_reason(None, ai_reference(CALL_OPEN, 70)) == "ai"
    assert exit_reason(None, exit_reference("stop_loss", CALL_PLAN)) == "stop_loss"
    assert exit_reason(None, exit_reference("take_profit", CALL_PLAN)) == "take_profit"
    assert exit_reason("ai", "") == "ai"  # the stored order's strategy when its reference was not seen
    assert [exit_reason(s, r) for s, r in ((None, "ARBIG_operator"), ("ma", ""), (None, "ARBIG_emergency:x"),
                                            (None, "CtaStrategy_ma"), (None, ""))] == [
        "operator", "strategy", "emergency", "strategy", "external"]
    assert ai_marks(ai_reference(CALL_OPEN, 0)) == (0, CALL_OPEN)
    assert ai_marks(exit_reference("take_profit", CALL_PLAN)) == (None, CALL_PLAN)
    assert ai_marks("ARBIG_ai:not-a-call:300") == (None, None)  # never a value its column cannot hold
    assert ai_marks("ARBIG_operator") == ai_marks(None) == (None, None)
