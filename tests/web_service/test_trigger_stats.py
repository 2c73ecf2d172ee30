"""Trigger statistics (GET /api/triggers/stats) from trigger, order and trade rows written in the core's
shapes into the throwaway MariaDB database: counts by action and result (refused = no order sent,
pos_sync apart), fill ratio of the settled signals' orders and average slippage against the trigger price
(ticks from the contracts table), all checked against values worked out by hand here; bad parameters 422."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import pytest

from common.contract import new_uid
from common.db import Database
from common.trading_calendar import CHINA_TZ, is_trading_date, trading_day
from tests.web_service.conftest import ApiClient, WebServer
from tests.web_service.seed import naive_utc
from web_service.trigger_stats import day_range

# ---------------------------------------------------------------- rows as the core writes them


def insert_trigger(db: Database, strategy: str, day: date, action: str, result: str, price: float, volume: float,
                   orderids: str = "", error: str = "", vt_symbol: str = "au2702.SHFE",
                   ts: datetime | None = None) -> str:
    uid = new_uid()
    ts = ts or datetime.combine(day, time(10, 0), CHINA_TZ)  # the day session of its trading day
    db.execute(
        "INSERT INTO strategy_triggers (uid, ts, trading_day, strategy, vt_symbol, condition_, price, volume, action,"
        " result, vt_orderids, error) VALUES (%s,%s,%s,%s,%s,'fast_ma crossed slow_ma',%s,%s,%s,%s,%s,%s)",
        (uid, naive_utc(ts), day, strategy, vt_symbol, price, volume, action, result, orderids, error),
    )
    return uid


def insert_order(db: Database, orderid: str, day: date, volume: float, traded: float, status: str,
                 direction: str = "LONG", offset: str = "OPEN", symbol: str = "au2702", gateway: str = "SIM") -> None:
    now = naive_utc(datetime.now(CHINA_TZ))
    db.execute(
        "INSERT INTO orders (gateway, orderid, trading_day, symbol, exchange, direction, offset_, order_type, price,"
        " volume, traded, status, reference, strategy, reason, ts, updated_at) VALUES"
        " (%s,%s,%s,%s,'SHFE',%s,%s,'LIMIT',600,%s,%s,%s,'CtaStrategy_x',NULL,'',%s,%s)",
        (gateway, orderid, day, symbol, direction, offset, volume, traded, status, now, now),
    )


def insert_trade(db: Database, tradeid: str, orderid: str, day: date, price: float, volume: float,
                 direction: str = "LONG", symbol: str = "au2702", gateway: str = "SIM") -> None:
    now = naive_utc(datetime.combine(day, time(10, 1), CHINA_TZ))  # a minute after its trigger
    db.execute(
        "INSERT INTO trades (gateway, exchange, tradeid, direction, trading_day, symbol, orderid, offset_, price,"
        " volume, strategy, ts, recorded_at) VALUES (%s,'SHFE',%s,%s,%s,%s,%s,'OPEN',%s,%s,NULL,%s,%s)",
        (gateway, tradeid, direction, day, symbol, orderid, price, volume, now, now),
    )


def insert_contract(db: Database, symbol: str, tick: float) -> None:
    db.execute("INSERT INTO contracts (symbol, exchange, size, pricetick, last_sync) VALUES"
               " (%s,'SHFE',1000,%s,UTC_TIMESTAMP(3))", (symbol, tick))


# ---------------------------------------------------------------- the scenario, worked out by hand


@dataclass
class Scenario:
    today: date
    yesterday: date  # the trading day before
    older: date  # the one before that: outside days=2


def seed_scenario(db: Database) -> Scenario:
    """Strategy `ma` today: 7 signals, 1 pos_sync; yesterday 1 signal; `brk` today 2 signals (au2706, tick 0.05)."""
    older, today = day_range(3)
    yesterday = day_range(2)[0]
    insert_contract(db, "au2706", 0.05)  # au2702 is not in contracts: 0.02 by default
    t = today
    # 1 buy 2 @600.00, filled 600.04 + 600.08 -> avg 600.06: slippage +0.06 = +3 ticks
    insert_trigger(db, "ma", t, "buy", "success", 600.00, 2, "SIM.1")
    insert_order(db, "1", t, 2, 2, "ALLTRADED")
    insert_trade(db, "T1", "1", t, 600.04, 1)
    insert_trade(db, "T2", "1", t, 600.08, 1)
    # 2 sell 1 @601.00, filled 600.96: we sold 0.04 lower -> +0.04 = +2 ticks
    insert_trigger(db, "ma", t, "sell", "success", 601.00, 1, "SIM.2")
    insert_order(db, "2", t, 1, 1, "ALLTRADED", "SHORT", "CLOSE")
    insert_trade(db, "T3", "2", t, 600.96, 1, "SHORT")
    # 3 short 3 @602.00, 1 filled at 602.02 (sold higher: better) -> -0.02 = -1 tick; 3 requested, 1 filled
    insert_trigger(db, "ma", t, "short", "success", 602.00, 3, "SIM.3", "partially filled 1/3")
    insert_order(db, "3", t, 3, 1, "CANCELLED", "SHORT")
    insert_trade(db, "T4", "3", t, 602.02, 1, "SHORT")
    # 4 cover 1 @599.00: cancelled unfilled -> failed, 1 requested, 0 filled
    insert_trigger(db, "ma", t, "cover", "failed", 599.00, 1, "SIM.4", "CANCELLED")
    insert_order(db, "4", t, 1, 0, "CANCELLED", "LONG", "CLOSE")
    # 5 sell refused by the offset converter: failed with no order -> refused
    insert_trigger(db, "ma", t, "sell", "failed", 600.00, 1, "", "close of 1 refused: only 0 LONG closable")
    # 6 buy 1 @600.50 still working -> pending, not in the fill ratio
    insert_trigger(db, "ma", t, "buy", "pending", 600.50, 1, "SIM.5")
    insert_order(db, "5", t, 1, 0, "NOTTRADED")
    # 7 pos_sync after a manual close: counted apart
    insert_trigger(db, "ma", t, "pos_sync", "success", 600.00, 1)
    # 8 cover 2 @598.00 split by the converter into two closes, filled 598.02 and 598.04 -> +0.03 = +1.5 ticks
    insert_trigger(db, "ma", t, "cover", "success", 598.00, 2, "SIM.6,SIM.7")
    insert_order(db, "6", t, 1, 1, "ALLTRADED", "LONG", "CLOSETODAY")
    insert_order(db, "7", t, 1, 1, "ALLTRADED", "LONG", "CLOSEYESTERDAY")
    insert_trade(db, "T5", "6", t, 598.02, 1)
    insert_trade(db, "T6", "7", t, 598.04, 1)
    # yesterday: order id "1" again (the gateway restarted): buy 1 @600.00 filled 600.10 -> +0.10 = +5 ticks
    insert_trigger(db, "ma", yesterday, "buy", "success", 600.00, 1, "SIM.1")
    insert_order(db, "1", yesterday, 1, 1, "ALLTRADED")
    insert_trade(db, "T7", "1", yesterday, 600.10, 1)
    # older: outside days=2
    insert_trigger(db, "ma", older, "buy", "failed", 600.00, 1, "")
    # brk today: a local stop order (its limit orders are not linked) and a short on au2706 (tick 0.05):
    # sold 609.90 against 610.00 -> +0.10 = +2 ticks
    insert_trigger(db, "brk", t, "buy", "pending", 605.00, 1, "STOP.1", vt_symbol="au2706.SHFE")
    insert_trigger(db, "brk", t, "short", "success", 610.00, 1, "SIM.9", vt_symbol="au2706.SHFE")
    insert_order(db, "9", t, 1, 1, "ALLTRADED", "SHORT", symbol="au2706")
    insert_trade(db, "T8", "9", t, 609.90, 1, "SHORT", symbol="au2706")
    return Scenario(today, yesterday, older)


def _row(body: dict, strategy: str, day: date) -> dict:
    found = [r for r in body["rows"] if r["strategy"] == strategy and r["trading_day"] == day.isoformat()]
    assert len(found) == 1, body["rows"]
    return found[0]


# ---------------------------------------------------------------- tests


def test_counts_fill_ratio_and_slippage_per_strategy_and_day(api: ApiClient, db: Database) -> None:
    s = seed_scenario(db)
    res = api.get("/api/triggers/stats", params={"days": 2})
    assert res.status_code == 200, res.text
    body = res.json()
    assert (body["day_from"], body["day_to"], body["days"]) == (s.yesterday.isoformat(), s.today.isoformat(), 2)
    assert [(r["trading_day"], r["strategy"]) for r in body["rows"]] == [
        (s.today.isoformat(), "brk"), (s.today.isoformat(), "ma"), (s.yesterday.isoformat(), "ma")]

    ma = _row(body, "ma", s.today)
    assert ma["signals"] == 7 and ma["pos_sync"] == 1 and ma["unlinked"] == 0
    assert ma["actions"] == {"buy": 2, "cover": 2, "sell": 2, "short": 1}
    assert ma["results"] == {"success": 4, "failed": 1, "pending": 1, "refused": 1}
    assert (ma["requested_volume"], ma["filled_volume"]) == (2 + 1 + 3 + 1 + 2, 2 + 1 + 1 + 0 + 2)
    assert ma["fill_ratio"] == pytest.approx(6 / 9, abs=1e-4)
    assert ma["filled_signals"] == 4
    assert ma["slippage"] == pytest.approx((0.06 + 0.04 - 0.02 + 0.03) / 4, abs=1e-4)
    assert ma["slippage_ticks"] == pytest.approx((3 + 2 - 1 + 1.5) / 4, abs=0.006)

    ma_y = _row(body, "ma", s.yesterday)  # linked to yesterday's order "1", not today's
    assert ma_y["signals"] == 1 and ma_y["results"]["success"] == 1
    assert (ma_y["requested_volume"], ma_y["filled_volume"], ma_y["fill_ratio"]) == (1, 1, 1)
    assert ma_y["slippage"] == pytest.approx(0.10, abs=1e-4) and ma_y["slippage_ticks"] == pytest.approx(5, abs=0.006)

    brk = _row(body, "brk", s.today)
    assert brk["signals"] == 2 and brk["unlinked"] == 1 and brk["results"]["pending"] == 1
    assert brk["slippage"] == pytest.approx(0.10, abs=1e-4)
    assert brk["slippage_ticks"] == pytest.approx(2, abs=0.006)  # au2706's tick 0.05 from the contracts table

    day = next(d for d in body["by_day"] if d["trading_day"] == s.today.isoformat())
    assert day["signals"] == 9 and day["pos_sync"] == 1 and day["results"]["success"] == 5
    assert day["fill_ratio"] == pytest.approx(7 / 10, abs=1e-4)
    assert [d["trading_day"] for d in body["by_day"]] == [s.yesterday.isoformat(), s.today.isoformat()]
    ma_total = next(x for x in body["by_strategy"] if x["strategy"] == "ma")
    assert ma_total["signals"] == 8 and ma_total["fill_ratio"] == pytest.approx(7 / 10, abs=1e-4)
    assert ma_total["slippage"] == pytest.approx((0.06 + 0.04 - 0.02 + 0.03 + 0.10) / 5, abs=1e-4)
    assert body["total"]["signals"] == 10 and body["total"]["results"]["refused"] == 1


def test_days_and_strategy_filters(api: ApiClient, db: Database) -> None:
    s = seed_scenario(db)
    only_brk = api.get("/api/triggers/stats", params={"days": 3, "strategy": "brk"}).json()
    assert {r["strategy"] for r in only_brk["rows"]} == {"brk"} and only_brk["strategy"] == "brk"
    assert only_brk["total"]["signals"] == 2
    three = api.get("/api/triggers/stats", params={"days": 3, "strategy": "ma"}).json()
    older = _row(three, "ma", s.older)
    assert older["results"]["refused"] == 1 and older["fill_ratio"] is None and older["slippage"] is None
    assert three["day_from"] == s.older.isoformat()
    today = api.get("/api/triggers/stats", params={"days": 1}).json()
    assert {r["trading_day"] for r in today["rows"]} == {s.today.isoformat()}
    nobody = api.get("/api/triggers/stats", params={"strategy": "nobody"}).json()
    assert nobody["rows"] == [] and nobody["total"]["signals"] == 0 and nobody["total"]["fill_ratio"] is None
    assert len(nobody["by_day"]) == 7 and {d["signals"] for d in nobody["by_day"]} == {0}  # every trading day
    default = api.get("/api/triggers/stats").json()
    assert default["days"] == 7 and is_trading_date(date.fromisoformat(default["day_from"]))


def test_a_night_session_signal_counts_on_its_trading_day(api: ApiClient, db: Database) -> None:
    yesterday, today = day_range(2)
    night = datetime.combine(yesterday, time(21, 30), CHINA_TZ)  # belongs to today's trading day
    assert trading_day(night) == today
    insert_trigger(db, "night", today, "short", "failed", 600.0, 1, "", "not enough funds", ts=night)
    body = api.get("/api/triggers/stats", params={"days": 1}).json()
    assert [(r["strategy"], r["trading_day"], r["results"]["refused"]) for r in body["rows"]] == [
        ("night", today.isoformat(), 1)]


def test_a_day_range_counts_trading_days_only() -> None:
    friday_evening = datetime(2027, 1, 15, 21, 0, tzinfo=CHINA_TZ)  # the night session of Monday the 18th
    assert day_range(1, friday_evening) == (date(2027, 1, 18), date(2027, 1, 18))
    assert day_range(3, friday_evening) == (date(2027, 1, 14), date(2027, 1, 18))


def test_bad_parameters_are_refused_with_a_clear_message(api: ApiClient, db: Database) -> None:
    for params in ({"days": 0}, {"days": 91}, {"days": "abc"}, {"days": "1.5"}, {"days": "+3"}, {"strategy": ""},
                   {"strategy": "a\x01b"}, {"strategy": "x" * 65}, {"day": 3}):
        res = api.get("/api/triggers/stats", params=params)
        assert res.status_code == 422, params
        detail = res.json()["detail"]
        assert isinstance(detail, str) and detail.startswith("invalid input"), (params, detail)
    twice = api.get("/api/triggers/stats?days=2&days=3")
    assert twice.status_code == 422 and "more than once" in twice.json()["detail"]
    assert "days" in api.get("/api/triggers/stats", params={"days": 91}).json()["detail"]
    for days in ("９", "٢", "1e1", "0x10", " 7", "-1", "9" * 30):
        assert api.get("/api/triggers/stats", params={"days": days}).status_code == 422, days
    for name in ("'; DROP TABLE strategy_triggers; --", "策略一", "a%b_c"):  # plain names: nothing matches
        res = api.get("/api/triggers/stats", params={"strategy": name})
        assert res.status_code == 200 and res.json()["rows"] == [] and res.json()["strategy"] == name, name
    assert db.query("SELECT COUNT(*) AS n FROM strategy_triggers")[0]["n"] == 0


def test_login_required(web: WebServer) -> None:
    anon = web.client(login=False)
    res = anon.get("/api/triggers/stats")
    assert res.status_code == 401 and "login required" in res.json()["detail"]
