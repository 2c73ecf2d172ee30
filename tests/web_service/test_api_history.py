"""History API from MySQL rows in the core's shapes: trades (filters, keyset pages, caps, CSV),
equity curve, strategy triggers and system events."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta

import pymysql

from common.config import MysqlConfig
from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer

START = datetime(2027, 1, 11, 9, 30, tzinfo=CHINA_TZ)  # a Monday, day session


def _seed_trades(db: Database, n: int = 120) -> list[dict]:
    rows = seed.trade_rows(n, START, step_s=3 * 3600, symbols=("au2702", "au2706"))
    seed.insert_trades(db, rows)
    return rows


def _all_pages(api: ApiClient, **params: object) -> list[dict]:
    items, cursor = [], None
    while True:
        query = {**params, **({"cursor": cursor} if cursor else {})}
        res = api.get("/api/trades", params=query)
        assert res.status_code == 200, res.text
        page = res.json()
        items += page["items"]
        cursor = page["next_cursor"]
        if not cursor:
            return items


def test_trades_newest_first_with_keyset_pages(api: ApiClient, db: Database) -> None:
    rows = _seed_trades(db)
    first = api.get("/api/trades", params={"page_size": 50}).json()
    assert len(first["items"]) == 50 and first["next_cursor"]
    assert first["items"][0]["tradeid"] == rows[-1]["tradeid"]
    everything = _all_pages(api, page_size=50)
    assert [t["tradeid"] for t in everything] == [r["tradeid"] for r in reversed(rows)]
    one = everything[0]
    assert set(one) >= {"ts", "ts_ms", "trading_day", "symbol", "direction", "offset", "price", "volume", "tradeid"}
    assert one["ts"].endswith("Z") and isinstance(one["price"], float)


def test_trade_filters(api: ApiClient, db: Database) -> None:
    rows = _seed_trades(db)
    shorts = _all_pages(api, direction="SHORT", symbol="au2706", page_size=7)
    assert shorts and all(t["direction"] == "SHORT" and t["symbol"] == "au2706" for t in shorts)
    assert len(shorts) == sum(1 for r in rows if r["direction"] == "SHORT" and r["symbol"] == "au2706")
    day = rows[40]["trading_day"]
    dashed = f"{day[:4]}-{day[4:6]}-{day[6:]}"
    by_day = _all_pages(api, day_from=dashed, day_to=dashed, page_size=3)
    assert by_day and {t["trading_day"] for t in by_day} == {dashed}
    assert len(by_day) == sum(1 for r in rows if r["trading_day"] == day)
    frm, to = START + timedelta(days=2), START + timedelta(days=4)
    by_time = _all_pages(api, time_from=frm.replace(tzinfo=None).isoformat(), time_to=to.isoformat(), page_size=5)
    expected = [r for r in rows if frm <= r["ts"] < to]
    assert [t["tradeid"] for t in by_time] == [r["tradeid"] for r in reversed(expected)]


def test_trade_queries_refuse_bad_input(api: ApiClient, db: Database) -> None:
    _seed_trades(db, 5)
    bad = [
        {"page_size": 501}, {"page_size": 0}, {"direction": "UP"}, {"symbol": "au'--"}, {"day_from": "2027-13-01"},
        {"day_from": "2027-01-20", "day_to": "2027-01-10"}, {"day_from": "2027-01-10", "time_to": "2027-01-12T00:00"},
        {"cursor": "garbage"}, {"time_from": "2027-01-12T00:00", "time_to": "2027-01-11T00:00"},
    ]
    for params in bad:
        res = api.get("/api/trades", params=params)
        assert res.status_code == 422, params
        assert isinstance(res.json()["detail"], str) and res.json()["detail"], params
    assert api.get("/api/trades", params={"page_size": 500}).status_code == 200
    assert api.get("/api/triggers", params={"page_size": 501}).status_code == 422
    assert api.get("/api/system/events", params={"cursor": "x1"}).status_code == 422


def test_csv_export_has_every_matching_trade(api: ApiClient, db: Database) -> None:
    rows = _seed_trades(db)
    res = api.get("/api/trades.csv", params={"symbol": "au2702", "page_size": 5})
    assert res.status_code == 200 and res.headers["content-type"].startswith("text/csv")
    assert "attachment" in res.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(res.text)))
    expected = [r for r in reversed(rows) if r["symbol"] == "au2702"]
    assert [t["tradeid"] for t in table] == [r["tradeid"] for r in expected]
    first = table[0]
    assert first["time_utc"].endswith("Z") and first["price"] == f"{expected[0]['price']:.4f}"
    china = datetime.strptime(first["time_china"], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=CHINA_TZ)
    assert abs((china - expected[0]["ts"]).total_seconds()) < 0.001


def test_equity_curve_ranges(api: ApiClient, db: Database) -> None:
    now = datetime.now(UTC)
    seed.insert_snapshots(db, [(now - timedelta(days=d), 1_000_000 + d) for d in (40, 20, 3)])
    seed.insert_snapshots(db, [(now - timedelta(minutes=1), 1_000_001.5)])
    counts = {r: len(api.get("/api/account/equity", params={"range": r}).json()["points"])
              for r in ("week", "month", "all")}
    assert counts == {"week": 2, "month": 3, "all": 4}
    week = api.get("/api/account/equity", params={"range": "week"}).json()["points"]
    assert week[-1][1] == 1_000_001.5 and week[0][0] < week[-1][0]
    assert api.get("/api/account/equity", params={"range": "decade"}).status_code == 422


def test_equity_curve_is_bucketed_when_long(api: ApiClient, db: Database) -> None:
    now = datetime.now(UTC)
    seed.insert_snapshots(db, [(now - timedelta(minutes=i), 1_000_000 + i) for i in range(2500)])
    curve = api.get("/api/account/equity", params={"range": "all"}).json()
    assert 0 < len(curve["points"]) <= 2000 and curve["bucket_s"] > 0
    assert curve["points"][-1][1] == 1_000_000, "the newest point survives bucketing"


def test_triggers_paginated_and_filtered(api: ApiClient, db: Database) -> None:
    for i in range(7):
        seed.insert_trigger(db, "s1" if i % 2 else "s2", START + timedelta(minutes=i), action="buy")
    page = api.get("/api/triggers", params={"page_size": 3}).json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    assert page["items"][0]["vt_orderids"] == ["SIM.1", "SIM.2"] and page["items"][0]["condition"]
    rest = api.get("/api/triggers", params={"page_size": 10, "cursor": page["next_cursor"]}).json()
    assert len(rest["items"]) == 4 and rest["next_cursor"] is None
    only = api.get("/api/triggers", params={"strategy": "s1"}).json()["items"]
    assert len(only) == 3 and {t["strategy"] for t in only} == {"s1"}


def test_system_events(api: ApiClient, db: Database) -> None:
    seed.insert_system_event(db, START, "login", "gateway logged in")
    seed.insert_system_event(db, START + timedelta(seconds=1), "error", "broke", "ERROR")
    items = api.get("/api/system/events").json()["items"]
    assert [e["kind"] for e in items] == ["error", "login"]
    assert items[0]["level"] == "ERROR" and items[0]["detail"] == {"source": "test"}


def test_mysql_outage_is_503_while_live_data_and_login_still_work(
    api: ApiClient, web: WebServer, mysql_cfg: MysqlConfig
) -> None:
    conn = pymysql.connect(host=mysql_cfg.host, port=mysql_cfg.port, user="root", password="", autocommit=True)
    with conn.cursor() as cur:
        cur.execute(f"DROP DATABASE `{mysql_cfg.database}`")
    conn.close()
    for url in ("/api/trades", "/api/triggers", "/api/system/events", "/api/account/equity", "/api/trades.csv",
                "/api/performance", "/api/audit"):
        res = api.get(url)
        assert res.status_code == 503 and "MySQL is unavailable" in res.json()["detail"], url
    assert api.get("/api/positions").status_code == 200
    assert web.client().get("/api/status").status_code == 200, "login uses the cached hash"
