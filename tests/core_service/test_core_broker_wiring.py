"""The core's wiring of what the CTP gateway hands its listeners (broker errors, the settlement
statement), driven on the real core (simulated gateway): recorded in MySQL and pushed to the pages.
The CTP side that produces these values is tested in test_ctp_broker_truth.py and
test_ctp_settlement_info.py."""

from __future__ import annotations

import json

from common.db import Database
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually


def test_a_broker_error_becomes_an_error_system_event_with_its_fields(core: CoreHarness, db: Database) -> None:
    from core_service.broker_errors import BrokerError

    core.app._on_broker_error(BrokerError(gateway="CTP", kind="order_insert", error_id=31, message="CTP:资金不足",
                                          request="OnRspOrderInsert", vt_orderid="CTP.1_2_3", symbol="au2702"))
    rows = eventually(lambda: db.query("SELECT level, message, detail FROM system_events WHERE kind='broker_error'"))
    assert rows[0]["level"] == "ERROR" and "ErrorID 31: CTP:资金不足" in rows[0]["message"]
    detail = json.loads(rows[0]["detail"])
    assert detail["error_id"] == 31 and detail["vt_orderid"] == "CTP.1_2_3"
    pushed = [json.loads(f["json"]) for _, f in core.redis.xrange(core.keys.events)]
    assert any(e["type"] == "system" and e["data"]["kind"] == "broker_error" for e in pushed)


def test_the_settlement_statement_is_kept_raw_beside_the_days_ledger(core: CoreHarness, db: Database) -> None:
    text = "中国期货市场监控中心\n结算单 2027-01-14\n平仓盈亏 10500.00\n"
    core.app._on_settlement_statement("8001", "20270114", text)
    rows = eventually(lambda: db.query("SELECT accountid, trading_day, symbol, settlement_text FROM pnl_records"
                                       " WHERE settlement_text IS NOT NULL"), what="statement stored")
    assert rows[0]["accountid"] == "8001" and str(rows[0]["trading_day"]) == "2027-01-14"
    assert rows[0]["settlement_text"] == text and rows[0]["symbol"] == ""


def test_flow_control_is_a_rate_limit_risk_event_once_per_window(core: CoreHarness, db: Database) -> None:
    from core_service.broker_errors import BrokerError

    for _ in range(3):
        core.app._on_broker_error(BrokerError(gateway="CTP", kind="flow_control", error_id=-3, message="",
                                              request="ReqQryTradingAccount"))
    rows = eventually(lambda: db.query("SELECT type, message, detail FROM risk_events"), what="risk event stored")
    core.app._on_broker_error(BrokerError(gateway="CTP", kind="order_insert", error_id=31, message="CTP:资金不足",
                                          request="OnRspOrderInsert"))
    eventually(lambda: db.query("SELECT id FROM system_events WHERE message LIKE '%%资金不足%%'"), what="later event")
    rows = db.query("SELECT type, detail FROM risk_events")
    assert [r["type"] for r in rows] == ["RATE_LIMIT"]  # three refusals, one event; an order refusal is no rate limit
    assert json.loads(rows[0]["detail"]) == {"request": "ReqQryTradingAccount", "code": -3}
    pushed = [json.loads(f["json"]) for _, f in core.redis.xrange(core.keys.events)]
    assert [e["data"]["type"] for e in pushed if e["type"] == "risk_event"] == ["RATE_LIMIT"]
