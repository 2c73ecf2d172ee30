"""The daily ledger (pnl_records) against the real MariaDB: our realized PnL (by settlement) and commission
beside the broker's for the hand-computed day of test_positions_closed; a difference of more than one
tick value (20 CNY) is an ERROR system event raised once (through the recorder, as in the core); an
incomplete day is never called a mismatch; the settlement statement is kept raw; the trading-day roll
sends the finished day. And end to end on the real core with the simulated gateway: an opening sent
past the core and the operator's close, with commission, exit reasons, the ledger and the raw replies."""

from __future__ import annotations

import json
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import redis
from vnpy.event import EventEngine
from vnpy.trader.constant import Direction, Offset

from common.config import MysqlConfig
from common.contract import AccountState, CommandStatus, CommandType, Keys
from common.db import Database
from core_service import pnl_ledger
from core_service.contracts_table import wire_rates
from core_service.mysql_writer import MysqlWriter
from core_service.pnl_ledger import LedgerFeed, Ours, compare
from core_service.recorder import Recorder
from core_service.records import dump, parse_record
from core_service.redis_publisher import RedisPublisher
from tests.core_service.harness import CoreHarness
from tests.core_service.test_mysql_writer import make_writer
from tests.core_service.test_positions_closed import (
    D0,
    D1,
    DAY,
    DAY_COMMISSION,
    DAY_PNL_OPEN,
    DAY_PNL_SETTLEMENT,
)
from tests.helpers import eventually


def ledger(day: str, realized: float | None, commission: float | None,
           contracts: dict[str, Any] | None = None) -> dict[str, Any]:
    """A ledger record as pnl_ledger.LedgerFeed sends it (the broker's figures of the day)."""
    return {"kind": "ledger", "gateway": "SIM", "accountid": "sim001", "trading_day": day,
            "broker_realized_pnl": realized, "broker_commission": commission, "contracts": contracts or {},
            "broker_at": f"{day} 07:00:00.000"}


@pytest.fixture
def core_side(mysql_cfg: MysqlConfig, tmp_path: Path, redis_client: redis.Redis,
              keys: Keys) -> Iterator[MysqlWriter]:
    """The writer wired to a recorder as in the core (the recorder raises the ledger's ERROR events)."""
    writer = make_writer(mysql_cfg, tmp_path)
    publisher = RedisPublisher(redis_client, keys.main_contract)
    Recorder(EventEngine(), keys, publisher, writer, tick_maxlen=1000, event_maxlen=1000,
             main_symbol=lambda: "au2702", strategy_of_order=lambda _vt_orderid: None)
    writer.start()
    publisher.start()
    yield writer
    writer.stop()
    publisher.stop()


def records(db: Database, symbol: str = "") -> dict[str, dict[str, Any]]:
    rows = db.query("SELECT * FROM pnl_records WHERE symbol = %s ORDER BY trading_day", [symbol])
    return {str(r["trading_day"]): r for r in rows}


def money(value: Any) -> float | None:
    return None if value is None else round(float(value), 2)


def mismatch_events(db: Database) -> list[dict[str, Any]]:
    return db.query("SELECT level, message, detail FROM system_events WHERE kind = 'ledger_mismatch' ORDER BY id")


def settle(writer: MysqlWriter, extra: int = 0) -> None:
    target = writer.written + extra
    eventually(lambda: writer.written >= target and writer.backlog == 0)


def test_the_days_ledger_matches_the_broker_to_the_cent(core_side: MysqlWriter, db: Database) -> None:
    writer = core_side
    for record in DAY:
        writer.put(parse_record(record))
    writer.put(parse_record(ledger(D0, 0.0, 10.0)))
    writer.put(parse_record(ledger(D1, 10_500.0, 110.0, {"au2702": {"realized_pnl": 10_500.0, "commission": 110.0}})))
    eventually(lambda: len(records(db)) == 2)
    day = records(db)[D1]
    assert (money(day["realized_pnl"]), money(day["realized_pnl_open"]), money(day["commission"])) == (
        DAY_PNL_SETTLEMENT, DAY_PNL_OPEN, DAY_COMMISSION)
    assert (money(day["broker_realized_pnl"]), money(day["broker_commission"])) == (10_500.0, 110.0)
    assert (money(day["pnl_diff"]), money(day["commission_diff"]), day["verdict"]) == (0.0, 0.0, "ok")
    assert (money(day["closed_volume"]), day["trades"]) == (7.0, 9)
    first = records(db)[D0]
    assert (money(first["realized_pnl"]), money(first["commission"]), first["verdict"]) == (0.0, 10.0, "ok")
    contract = records(db, "au2702")
    assert contract[D1]["verdict"] == "ok" and money(contract[D1]["realized_pnl"]) == DAY_PNL_SETTLEMENT
    assert contract[D0]["verdict"] == "incomplete" and contract[D0]["note"] == "no broker figure"
    before = db.query("SELECT trading_day, symbol, realized_pnl, commission, verdict FROM pnl_records ORDER BY id")
    for record in DAY:  # CTP's replay of the day, then the same broker figures again
        writer.put(parse_record(record))
    writer.put(parse_record(ledger(D1, 10_500.0, 110.0, {"au2702": {"realized_pnl": 10_500.0, "commission": 110.0}})))
    settle(writer, len(DAY) + 1)
    assert db.query("SELECT trading_day, symbol, realized_pnl, commission, verdict FROM pnl_records ORDER BY id"
                    ) == before
    assert mismatch_events(db) == []


def test_a_difference_above_one_tick_value_is_an_error_event_raised_once(core_side: MysqlWriter,
                                                                         db: Database) -> None:
    writer = core_side
    for record in DAY:
        writer.put(parse_record(record))
    writer.put(parse_record(ledger(D1, 10_520.0, 90.0)))  # 20.00 apart on both: within one tick value
    eventually(lambda: records(db).get(D1, {}).get("verdict") == "ok")
    writer.put(parse_record(ledger(D1, 10_525.5, 110.0)))  # the broker says 25.50 more than we booked
    found = eventually(lambda: mismatch_events(db), what="ledger mismatch event")
    assert found[0]["level"] == "ERROR"
    assert found[0]["message"] == (
        f"ledger mismatch SIM.sim001 trading day {D1}: realized PnL ours 10,500.00 vs broker 10,525.50,"
        " commission ours 110.00 vs broker 110.00 (realized PnL differs by -25.50; more than 20 CNY apart)")
    assert json.loads(found[0]["detail"])["pnl_diff"] == "-25.5000"
    row = records(db)[D1]
    assert (row["verdict"], money(row["pnl_diff"])) == ("mismatch", -25.5)
    writer.put(parse_record(ledger(D1, 10_525.5, 110.0)))  # the next account update: the same difference, not raised again
    settle(writer, 1)
    assert len(mismatch_events(db)) == 1
    writer.put(parse_record(ledger(D1, 10_500.0, 150.0)))  # another difference: raised again
    eventually(lambda: len(mismatch_events(db)) == 2)
    assert "commission differs by -40.00" in mismatch_events(db)[1]["message"]


def test_an_incomplete_day_is_never_called_a_mismatch(core_side: MysqlWriter, db: Database) -> None:
    writer = core_side
    writer.put(parse_record(DAY[2]))  # t2: lot B opened on D1
    writer.put(parse_record({**DAY[4], "tradeid": "lone"}))  # a close-yesterday with no lot of an earlier day recorded
    writer.put(parse_record(ledger(D1, 8_000.0, 30.0)))
    eventually(lambda: D1 in records(db))
    row = records(db)[D1]
    assert row["verdict"] == "incomplete"
    assert row["note"] == "1 close(s) without a recorded opening"
    assert money(row["commission_diff"]) == 0.0
    settle(writer)
    assert mismatch_events(db) == []


def test_the_settlement_statement_is_kept_raw(core_side: MysqlWriter, db: Database) -> None:
    text = "交易结算单\n客户号: 000123\n平仓盈亏: 10,500.00\n手续费: 110.00\n"
    writer = core_side
    writer.put(parse_record({"kind": "settlement_statement", "gateway": "SIM", "accountid": "sim001", "trading_day": D1,
                "settlement_text": text, "computed_at": f"{D1} 08:00:00.000"}))
    for record in DAY:
        writer.put(parse_record(record))
    writer.put(parse_record(ledger(D1, 10_500.0, 110.0)))
    eventually(lambda: records(db).get(D1, {}).get("verdict") == "ok")
    assert records(db)[D1]["settlement_text"] == text


def test_the_verdict_rule() -> None:
    dec = Decimal
    full = Ours(realized=dec("10500"), commission=dec("110"))
    assert compare(full, dec("10500"), dec("110")).verdict == "ok"
    assert compare(full, dec("10479.99"), dec("110")).verdict == "mismatch"
    assert compare(full, dec("10480"), dec("130")).verdict == "ok"  # exactly one tick value apart
    assert compare(full, None, dec("110")).verdict == "incomplete"
    uncharged = Ours(realized=dec("10500"), commission=dec("100"), uncharged=1)
    assert compare(uncharged, dec("10500"), dec("110")).verdict == "incomplete"
    assert compare(uncharged, dec("10000"), dec("110")).verdict == "mismatch"  # the PnL is complete and off


def test_the_feed_sends_after_a_fill_and_the_finished_day_at_the_roll() -> None:
    sent: list[dict[str, Any]] = []
    now = [0.0]
    feed = LedgerFeed(lambda record: sent.append(dump(record)), interval_s=5.0, clock=lambda: now[0])

    def account(day: str, realized: float, commission: float) -> AccountState:
        return AccountState(gateway="SIM", accountid="sim001", balance=1e6, available=1e6, frozen=0,
                            realized_pnl=realized, commission=commission, trading_day=day)

    feed.account(account("20270112", 0, 0))
    now[0] = 1.0
    feed.account(account("20270112", 100, 10))  # within the interval, no fill: nothing
    feed.trade_seen()
    feed.account(account("20270112", 2000, 20))  # after a fill: at once
    now[0] = 2.0
    feed.account(account("20270113", 0, 0))  # the roll: the finished day's last figures, then the new day
    assert [(r["trading_day"], r["broker_realized_pnl"], r["broker_commission"]) for r in sent] == [
        ("2027-01-12", 0, 0), ("2027-01-12", 2000, 20), ("2027-01-12", 2000, 20), ("2027-01-13", 0, 0)]


# ---------------------------------------------------------------- the real core on the simulated gateway

def test_end_to_end_on_the_simulated_gateway(core: CoreHarness, db: Database) -> None:
    app = core.app
    assert app is not None and app.recorder is not None
    wire_rates(app.recorder.contracts, core.main_engine.get_gateway("SIM"), core.config)  # the hook for app.py
    core.order(Direction.LONG, Offset.OPEN, 2)  # sent past the core, as from the broker's terminal
    eventually(lambda: core.position_volume(Direction.LONG) == 2, what="2 long opened")
    reply = core.send(CommandType.POSITION_CLOSE, vt_symbol="au2702.SHFE", direction="LONG", volume=1)
    assert reply.status == CommandStatus.DONE, reply.reason
    rows = eventually(lambda: db.query("SELECT * FROM positions_closed"), what="the close booked")
    row, = rows
    opened = db.query("SELECT price, commission FROM trades WHERE offset_ = 'OPEN' ORDER BY id")
    closing = db.query("SELECT price, commission FROM trades WHERE offset_ = 'CLOSETODAY'")[0]
    assert (row["exit_reason"], row["close_offset"], float(row["volume"])) == ("operator", "CLOSETODAY", 1.0)
    assert float(row["pnl_open"]) == round((float(closing["price"]) - float(opened[0]["price"])) * 1000, 2)
    assert row["pnl_settlement"] == row["pnl_open"] and not row["carried"]
    sim = core.config.gateway.sim  # 10 per lot to open, close-today at its own rate (0 by default)
    assert sum(float(r["commission"]) for r in opened) == 2 * sim.commission_per_lot
    assert float(row["commission"]) == sim.commission_per_lot + sim.close_today_commission_per_lot
    account = eventually(lambda: db.query("SELECT * FROM pnl_records WHERE symbol = '' AND closed_volume = 1"),
                         what="the ledger after the close")[0]
    assert account["verdict"] == "ok", account["note"]
    assert money(account["realized_pnl"]) == money(row["pnl_open"]) == money(account["broker_realized_pnl"])
    assert money(account["commission"]) == money(account["broker_commission"]) == 2 * sim.commission_per_lot
    eventually(lambda: {r["kind"] for r in db.query("SELECT DISTINCT kind FROM broker_replies")} == {
        "order", "trade", "account", "position"}, what="every kind of reply kept")

    def close_order_states() -> list[str]:
        rows = db.query("SELECT raw FROM broker_replies WHERE kind = 'order' AND key_ = %s ORDER BY id",
                        [reply.result["orders"][0]["vt_orderid"]])
        return [json.loads(r["raw"])["status"] for r in rows]

    states = eventually(lambda: (found := close_order_states()) and found[-1] == "ALLTRADED" and found)
    assert states[0] == "SUBMITTING" and len(states) >= 2  # every state, not only the last
    contract = eventually(lambda: db.query("SELECT * FROM contracts WHERE symbol = 'au2702' AND source = 'sim'"))[0]
    assert (float(contract["size"]), float(contract["pricetick"])) == (1000.0, 0.02)
    assert float(contract["long_margin_ratio_by_money"]) == sim.margin_rate
    assert float(contract["open_ratio_by_volume"]) == sim.commission_per_lot


def test_a_ledger_stated_before_trades_of_its_batch_is_not_compared() -> None:
    """The writer books a batch's trades before its ledgers: a ledger record a trade of the same account
    day follows would compare the broker's older figures with ours after that trade (a false mismatch
    seen in full-speed replays). Another day's trades do not hold the day's last ledger back."""
    def rec(kind: str, n: int, day: str = "2022-02-18", gateway: str = "SIM") -> dict[str, Any]:
        return {"kind": kind, "n": n, "gateway": gateway, "trading_day": day}

    batch = [rec("ledger", 1), rec("trade", 2), rec("ledger", 3), rec("trade", 4, gateway="CTP"),
             rec("trade", 5, day="2022-02-21"), rec("account", 6)]
    assert [r["n"] for r in pnl_ledger.settled(batch)] == [2, 3, 4, 5, 6]
    assert [r["n"] for r in pnl_ledger.settled([rec("trade", 1), rec("ledger", 2)])] == [1, 2]
