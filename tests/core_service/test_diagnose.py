"""`order.diagnose` against the running core (real vnpy engines, simulated SHFE gateway, MariaDB,
Redis): the right check fails for each reason an order would fail, and the diagnosis sends nothing
and writes no audit row."""

from __future__ import annotations

from datetime import datetime
from types import SimpleNamespace
from typing import Any

from vnpy.trader.constant import Direction, Offset

from common.clock import TestClock
from common.contract import CommandStatus, CommandType, DiagnoseParams, DiagnoseReport
from common.db import Database
from common.trading_calendar import CHINA_TZ
from core_service.ctp_queries import PendingQuery, QueryPacer
from core_service.diagnose import check_flow, diagnose
from tests.core_service.harness import CoreHarness
from tests.helpers import eventually

VT = "au2702.SHFE"
WEEKDAY_10 = datetime(2026, 3, 11, 10, 0, tzinfo=CHINA_TZ)  # a Wednesday, in the 09:00-10:15 session
SATURDAY_10 = datetime(2026, 3, 14, 10, 0, tzinfo=CHINA_TZ)
ALL_CHECKS = {"gateway_ready", "trading_session", "contract_known", "price_within_limits", "funds_for_margin",
              "closable_volume", "flow_control", "risk_limits"}  # fmt: skip


def at(core: CoreHarness, when: datetime) -> None:
    """The core's diagnoser reads this clock (the sim trades 24/7; the exchange's session does not)."""
    assert core.app and core.app.sync
    core.app.sync.diagnoser.clock = TestClock(when)


def ask(core: CoreHarness, **params: Any) -> DiagnoseReport:
    reply = core.send(CommandType.ORDER_DIAGNOSE, vt_symbol=params.pop("vt_symbol", VT), **params)
    assert reply.status == CommandStatus.DONE, reply.reason
    report = DiagnoseReport.model_validate(reply.result)
    assert {check.name for check in report.checks} == ALL_CHECKS
    assert report.ok == all(check.ok for check in report.checks)
    return report


def failed(report: DiagnoseReport) -> set[str]:
    return {check.name for check in report.checks if not check.ok}


def detail(report: DiagnoseReport, name: str) -> str:
    return next(check.detail for check in report.checks if check.name == name)


def test_normal_order_passes_every_check_and_sends_nothing(core: CoreHarness, db: Database) -> None:
    at(core, WEEKDAY_10)
    orders_before = len(core.main_engine.get_all_orders())
    report = ask(core, side="BUY", offset="OPEN", volume=1)
    assert report.ok and failed(report) == set(), report.checks
    assert "Wed 2026-03-11 10:00:00" in detail(report, "trading_session")
    assert "09:00-10:15" in detail(report, "trading_session")
    assert "best ask" in detail(report, "price_within_limits")
    assert "needs margin" in detail(report, "funds_for_margin")
    assert detail(report, "flow_control") == "no flow control (simulated gateway)"
    assert "command limit 1..1000" in detail(report, "risk_limits")
    tick = core.tick(VT)
    assert tick is not None and report.price is not None and tick.limit_down <= report.price <= tick.limit_up
    # read only: no order reached the OmsEngine, and no audit row, while a later audited command gets one
    assert len(core.main_engine.get_all_orders()) == orders_before
    marker = core.send(CommandType.STRATEGY_STOP, name="no_such_strategy")
    assert marker.status == CommandStatus.REFUSED
    eventually(
        lambda: db.query("SELECT 1 FROM command_audit WHERE command_id=%s", (marker.command_id,)),
        what="the later command audited",
    )
    assert db.query("SELECT * FROM command_audit WHERE type='order.diagnose'") == []
    assert len(core.main_engine.get_all_orders()) == orders_before


def test_close_larger_than_closable_fails_only_closable_volume(core: CoreHarness) -> None:
    at(core, WEEKDAY_10)
    core.open_position(Direction.LONG, 2)
    too_many = ask(core, side="SELL", offset="CLOSE", volume=3)
    assert failed(too_many) == {"closable_volume"}
    assert "only 2 closable" in detail(too_many, "closable_volume")
    assert "closes LONG" in detail(too_many, "closable_volume")
    assert ask(core, side="SELL", offset="CLOSE", volume=2).ok
    assert failed(ask(core, side="SELL", offset="CLOSETODAY", volume=3)) == {"closable_volume"}
    assert ask(core, side="SELL", offset="CLOSETODAY", volume=2).ok
    # a BUY closes SHORT: none held
    no_short = ask(core, side="BUY", offset="CLOSE", volume=1)
    assert failed(no_short) == {"closable_volume"} and "closes SHORT" in detail(no_short, "closable_volume")


def test_pending_close_freezes_lots(core: CoreHarness) -> None:
    at(core, WEEKDAY_10)
    core.open_position(Direction.SHORT, 2)
    tick = eventually(lambda: core.tick(VT))
    resting = core.order(
        Direction.LONG, Offset.CLOSETODAY, 1, price=tick.limit_down
    )  # a buy far below: rests
    assert resting
    position_id = f"SIM.{VT}.{Direction.SHORT.value}"
    eventually(lambda: core.main_engine.get_position(position_id).frozen == 1, what="one lot frozen")
    report = ask(core, side="BUY", offset="CLOSE", volume=2)
    assert failed(report) == {"closable_volume"}
    assert "only 1 closable" in detail(report, "closable_volume")
    assert "frozen by pending closes 1" in detail(report, "closable_volume")
    today = ask(core, side="BUY", offset="CLOSETODAY", volume=2)
    assert failed(today) == {"closable_volume"} and "pending close-today orders 1" in detail(
        today, "closable_volume"
    )
    assert ask(core, side="BUY", offset="CLOSE", volume=1).ok


def test_close_yesterday_without_yesterday_lots_fails(core: CoreHarness) -> None:
    at(core, WEEKDAY_10)
    core.open_position(Direction.LONG, 1)
    report = ask(core, side="SELL", offset="CLOSEYESTERDAY", volume=1)
    assert failed(report) == {"closable_volume"}
    assert "only 0 closable" in detail(report, "closable_volume")
    assert "yesterday's lots 0" in detail(report, "closable_volume")


def test_outside_the_session_fails_trading_session(core: CoreHarness) -> None:
    at(core, SATURDAY_10)
    report = ask(core, side="BUY", offset="OPEN", volume=1)
    assert failed(report) == {"trading_session"}
    text = detail(report, "trading_session")
    assert "not trading at Sat 2026-03-14 10:00:00" in text
    assert "next session opens Mon 2026-03-16 09:00" in text
    assert "simulated gateway trades 24/7" in text


def test_session_check_at_the_function_level(core: CoreHarness) -> None:
    """The real engines' state, two clocks: Saturday fails, a weekday 10:00 passes; the rest agrees."""
    app = core.app
    assert app and app.sync and app.main_engine
    params = DiagnoseParams(vt_symbol=VT, side="BUY", offset="OPEN", volume=1)

    def run(when: datetime, not_ready: Any = app._not_ready) -> DiagnoseReport:
        return diagnose(
            params, app.main_engine, app.sync.gateway, not_ready, app.margin_guard, clock=TestClock(when)
        )

    assert failed(run(SATURDAY_10)) == {"trading_session"}
    weekday = run(WEEKDAY_10)
    assert weekday.ok, weekday.checks
    lunch = run(datetime(2026, 3, 11, 12, 0, tzinfo=CHINA_TZ))
    assert failed(lunch) == {"trading_session"} and "next session opens Wed 2026-03-11 13:30" in detail(
        lunch, "trading_session"
    )
    down = run(WEEKDAY_10, not_ready=lambda: "the gateway is not ready to trade (DISCONNECTED)")
    assert failed(down) == {"gateway_ready"} and "DISCONNECTED" in detail(down, "gateway_ready")


def test_price_outside_the_limits_fails(core: CoreHarness) -> None:
    at(core, WEEKDAY_10)
    tick = eventually(lambda: core.tick(VT))
    above = ask(core, side="BUY", offset="OPEN", volume=1, price=round(tick.limit_up + 1.0, 2))
    assert failed(above) == {"price_within_limits"}
    assert f"above limit-up {tick.limit_up:.2f}" in detail(above, "price_within_limits")
    below = ask(core, side="SELL", offset="OPEN", volume=1, price=round(tick.limit_down - 1.0, 2))
    assert failed(below) == {"price_within_limits"}
    assert f"below limit-down {tick.limit_down:.2f}" in detail(below, "price_within_limits")
    off_grid = ask(core, side="BUY", offset="OPEN", volume=1, price=round(tick.limit_down + 0.01, 2))
    assert failed(off_grid) == {"price_within_limits"} and "0.02 price tick" in detail(
        off_grid, "price_within_limits"
    )
    inside = ask(core, side="BUY", offset="OPEN", volume=1, price=tick.limit_down)
    assert inside.ok and "(given)" in detail(inside, "price_within_limits")


def test_too_large_open_fails_funds(core: CoreHarness) -> None:
    at(core, WEEKDAY_10)
    report = ask(core, side="BUY", offset="OPEN", volume=100)  # ~6,000,000 margin vs 1,000,000 funds
    assert failed(report) == {"funds_for_margin"}
    assert "not enough funds" in detail(report, "funds_for_margin")
    assert ask(core, side="BUY", offset="OPEN", volume=2).ok


def test_unknown_contract_fails_what_depends_on_it(core: CoreHarness) -> None:
    at(core, WEEKDAY_10)
    report = ask(core, vt_symbol="au9912.SHFE", side="BUY", offset="OPEN", volume=1)
    assert failed(report) == {"contract_known", "price_within_limits", "funds_for_margin"}
    assert "not known to the gateway" in detail(report, "contract_known")
    assert "no market data" in detail(report, "price_within_limits")


def test_flow_control_reports_the_ctp_query_pacer() -> None:
    gateway = SimpleNamespace(queries=QueryPacer(clock=lambda: 0.0))
    idle = check_flow(gateway)
    assert idle.ok and "query in flight: none, 0 queued" in idle.detail
    gateway.queries.sent(7, "ReqQryTradingAccount")
    gateway.queries.add(PendingQuery("margin:au2612", "ReqQryInstrumentMarginRate", lambda: 0))
    busy = check_flow(gateway)
    assert busy.ok and "query in flight: ReqQryTradingAccount, 1 queued (margin:au2612)" in busy.detail
    assert check_flow(SimpleNamespace()).detail == "no flow control (the gateway has no query pacer)"
