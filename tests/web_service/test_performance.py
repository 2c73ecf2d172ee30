"""Performance statistics: /api/performance reads the closed positions the core booked (positions_closed,
written by the real MySQL writer from the trades, SHFE close-today/close-yesterday matching) with
hand-computed au PnL ((exit - entry) x volume x 1000); drawdown and daily ratios; the daily ledger."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from common.config import MysqlConfig
from common.db import Database
from common.db import connect as db_connect
from common.performance.stats import daily_ratios, max_drawdown, trade_stats
from common.trading_calendar import CHINA_TZ, trading_day_str
from core_service.mysql_writer import MysqlWriter
from core_service.records import parse_record
from core_service.spool import Spool
from tests.helpers import eventually
from tests.web_service import seed
from tests.web_service.conftest import ApiClient

D1 = datetime(2027, 1, 11, 9, 30, tzinfo=CHINA_TZ)  # Monday day session
D2 = D1 + timedelta(days=1)
D3 = D1 + timedelta(days=2)

# (ts, direction of the fill, offset, price, volume)
SCRIPT = [
    (D1, "LONG", "OPEN", "500.00", 2),
    (D2, "LONG", "OPEN", "502.00", 1),
    (D2 + timedelta(minutes=30), "SHORT", "CLOSEYESTERDAY", "505.00", 1),  # D1 lot: +5 x 1000 = +5000
    (D2 + timedelta(minutes=60), "SHORT", "CLOSETODAY", "501.00", 1),  # D2 lot, not the older one: -1000
    (D3, "SHORT", "CLOSE", "499.00", 1),  # SHFE CLOSE = yesterday's: the D1 lot left: -1000
    (D3 + timedelta(minutes=30), "SHORT", "OPEN", "510.00", 1),
    (D3 + timedelta(minutes=60), "LONG", "CLOSETODAY", "507.50", 1),  # short: +2.5 x 1000 = +2500
    (D3 + timedelta(minutes=90), "SHORT", "CLOSE", "600.00", 1),  # nothing long is open: unmatched
]


def _day(ts: datetime) -> str:
    text = trading_day_str(ts)
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def _db_ts(ts: datetime) -> str:
    return ts.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]


def trade_records(script: list[tuple], prefix: str, strategy: str | None = None) -> list[dict[str, Any]]:
    """The trades as the core's recorder hands them to the MySQL writer."""
    rows = []
    for i, (ts, direction, offset, price, volume, *who) in enumerate(script):
        name = who[0] if who else strategy
        rows.append({
            "kind": "trade", "gateway": "SIM", "exchange": "SHFE", "tradeid": f"{prefix}{i}", "direction": direction,
            "trading_day": _day(ts), "symbol": "au2702", "orderid": f"o{prefix}{i}", "offset": offset,
            "price": float(price), "volume": volume, "commission": 10.0 * volume, "size": 1000, "strategy": name,
            "exit_reason": "strategy" if name else "operator", "ts": _db_ts(ts), "recorded_at": _db_ts(ts),
            "raw": {},
        })
    return rows


@pytest.fixture
def book(mysql_cfg: MysqlConfig, tmp_path: Path) -> Iterator[Any]:
    """Writes records through the core's real MySQL writer (which books positions_closed) and waits."""
    writer = MysqlWriter(lambda: db_connect(mysql_cfg), Spool(tmp_path / "spool.jsonl"),
                         Spool(tmp_path / "rejected.jsonl"))
    writer.start()

    def write(records: list[dict[str, Any]]) -> None:
        target = writer.written + len(records)
        for record in records:
            writer.put(parse_record(record))  # the writer takes typed records (core_service/records.py)
        eventually(lambda: writer.written >= target, what="records written")

    yield write
    writer.stop()


def report(api: ApiClient, range_name: str = "all") -> dict[str, Any]:
    res = api.get("/api/performance", params={"range": range_name})
    assert res.status_code == 200, res.text
    return res.json()


def test_performance_api_from_the_closed_positions(api: ApiClient, db: Database, book: Any) -> None:
    book(trade_records(SCRIPT, "p"))
    balances = [1_000_000.0, 1_010_000.0, 995_000.0, 1_020_000.0]
    seed.insert_snapshots(db, [(D1 + timedelta(days=i), b) for i, b in enumerate(balances)])
    body = report(api)
    stats = body["trades"]
    assert stats["closed_trades"] == 4 and stats["wins"] == 2 and stats["losses"] == 2 and stats["win_rate"] == 0.5
    assert stats["gross_profit"] == 7500 and stats["gross_loss"] == -2000 and stats["net_pnl"] == 5500
    assert stats["profit_factor"] == 3.75
    assert stats["avg_win"] == 3750 and stats["avg_loss"] == -1000 and stats["expectancy"] == 1375
    assert stats["best"] == 5000 and stats["worst"] == -1000
    assert body["unmatched_close_volume"] == 1 and body["open_lots"] == {}
    assert body["fills_considered"] == len(SCRIPT) and body["fills_truncated"] is False
    assert body["pnl_basis"] == "before commission"
    equity = body["equity"]
    assert equity["account"] == "SIM.sim001" and equity["snapshots"] == 4
    assert equity["drawdown"]["amount"] == 15_000
    assert equity["drawdown"]["peak_ts"] == int((D1 + timedelta(days=1)).timestamp() * 1000)
    assert equity["ratios"]["days"] == 4 and equity["ratios"]["sharpe"] is not None
    assert list(body["by_strategy"]) == ["(manual)"] and body["by_strategy"]["(manual)"]["net_pnl"] == 5500
    assert list(body["by_exit_reason"]) == ["operator"]


def test_the_report_reads_positions_closed_not_the_fills(api: ApiClient, db: Database, book: Any) -> None:
    book(trade_records(SCRIPT, "r"))
    before = report(api)["trades"]
    db.execute("DELETE FROM trades")  # the fills are gone: the closed positions are what is read
    after = report(api)
    assert after["trades"] == before and after["trades"]["net_pnl"] == 5500
    assert after["fills_considered"] == 0
    seed.insert_trades(db, [  # fills written past the core's writer are never matched on a read
        {"tradeid": f"x{i}", "direction": d, "offset": o, "price": p, "volume": v, "ts": ts,
         "trading_day": trading_day_str(ts), "symbol": "au2702"} for i, (ts, d, o, p, v) in enumerate(SCRIPT)])
    again = report(api)
    assert again["trades"] == before and again["fills_considered"] == len(SCRIPT)


def test_one_close_across_lots_uses_their_weighted_entry(api: ApiClient, book: Any) -> None:
    book(trade_records([
        (D1, "LONG", "OPEN", "500.00", 1),
        (D1 + timedelta(minutes=1), "LONG", "OPEN", "501.00", 1),
        (D1 + timedelta(minutes=2), "LONG", "OPEN", "503.00", 1),
        (D1 + timedelta(minutes=3), "SHORT", "CLOSETODAY", "502.00", 2),  # entry 500.5: +1.5 x 2 x 1000
    ], "w"))
    body = report(api)
    assert body["trades"]["closed_trades"] == 1 and body["trades"]["closed_volume"] == 2
    assert body["trades"]["net_pnl"] == 3000
    assert body["open_lots"] == {"au2702 LONG": 1.0}
    assert body["fills_considered"] == 4


def test_no_closed_trades_gives_empty_figures_not_zero_ratios() -> None:
    stats = trade_stats([])
    assert stats["closed_trades"] == 0
    assert stats["win_rate"] is None and stats["profit_factor"] is None and stats["expectancy"] is None


def test_max_drawdown_names_the_peak_and_the_trough() -> None:
    times = [D1 + timedelta(minutes=i) for i in range(5)]
    balances = [1_000_000.0, 1_010_000.0, 995_000.0, 1_020_000.0, 1_005_000.0]
    dd = max_drawdown(zip(times, balances, strict=True))
    assert dd["amount"] == 15_000 and dd["pct"] == pytest.approx(15_000 / 1_010_000, abs=1e-6)
    assert dd["peak_ts"] == times[1] and dd["trough_ts"] == times[2]
    assert max_drawdown([(times[0], 1.0), (times[1], 2.0)])["amount"] == 0


def test_daily_ratios_need_two_returns() -> None:
    days = [date(2027, 1, 11 + i) for i in range(4)]
    assert daily_ratios(list(zip(days[:2], [100.0, 101.0], strict=True)))["sharpe"] is None
    # returns +1%, -0.990%, +2%: mean 0.006700, sample sd 0.015221 -> x sqrt(252) = 6.987
    ratios = daily_ratios(list(zip(days, [100.0, 101.0, 100.0, 102.0], strict=True)))
    assert ratios["returns"] == 3
    assert ratios["sharpe"] == pytest.approx(6.987, abs=0.001)
    assert ratios["sortino"] == pytest.approx(18.605, abs=0.001)


def test_closed_trades_are_attributed_to_the_strategy_that_closed(api: ApiClient, book: Any) -> None:
    def at(minute: int) -> datetime:
        return D1 + timedelta(minutes=minute)

    book(trade_records([
        (at(0), "LONG", "OPEN", "500.00", 1, "ma"), (at(1), "SHORT", "CLOSETODAY", "501.00", 1, "ma"),  # +1000
        (at(2), "SHORT", "OPEN", "505.00", 1, "tick"), (at(3), "LONG", "CLOSETODAY", "506.00", 1, "tick"),  # -1000
        (at(4), "LONG", "OPEN", "500.00", 1, "ma"), (at(5), "SHORT", "CLOSETODAY", "503.00", 1, None),  # by hand
    ], "s"))
    body = report(api)
    by = body["by_strategy"]
    assert list(by) == ["(manual)", "ma", "tick"]
    assert (by["ma"]["net_pnl"], by["tick"]["net_pnl"], by["(manual)"]["net_pnl"]) == (1000, -1000, 3000)
    assert by["tick"]["win_rate"] == 0.0 and by["ma"]["profit_factor"] is None
    assert {name: s["net_pnl"] for name, s in body["by_exit_reason"].items()} == {"operator": 3000, "strategy": 0}


def test_performance_ranges_count_on_the_market_clock(api: ApiClient, book: Any) -> None:
    """"today" is the trading day of the newest record (the market's time), never the wall clock's: a
    replayed or past day's records are that day's "today"."""
    book(trade_records(SCRIPT, "q"))  # January 2027
    today = report(api, "today")
    assert today["trading_day"] == "2027-01-13" and today["as_of_ms"] == int((D3 + timedelta(minutes=90)).timestamp() * 1000)
    assert today["trades"]["closed_trades"] == 2 and today["trades"]["net_pnl"] == 1500  # D3: -1000, +2500
    assert today["unmatched_close_volume"] == 1
    assert report(api, "all")["trades"]["closed_trades"] == 4
    later = D1 + timedelta(days=42)  # six weeks on, the market's clock moves with the records
    book(trade_records([(later, "LONG", "OPEN", "520.00", 1)], "r"))
    assert report(api, "today")["trades"]["closed_trades"] == 0
    month = report(api, "month")
    assert month["trading_day"] == "2027-02-22" and month["trades"]["closed_trades"] == 0
    assert report(api, "all")["trades"]["closed_trades"] == 4
    res = api.get("/api/performance", params={"range": "decade"})
    assert res.status_code == 422 and "range" in res.text


def test_new_trades_show_on_the_next_read(api: ApiClient, book: Any) -> None:
    book(trade_records(SCRIPT[:3], "a"))
    first = report(api)
    assert first["trades"]["net_pnl"] == 5000 and first["fills_considered"] == 3
    book(trade_records(SCRIPT[3:5], "b"))  # counted incrementally: only the new trades are read
    second = report(api)
    assert second["trades"]["closed_trades"] == 3 and second["trades"]["net_pnl"] == 3000
    assert second["fills_considered"] == 5


def test_the_daily_ledger_is_in_the_report(api: ApiClient, book: Any) -> None:
    book(trade_records(SCRIPT[:4], "l"))  # D2: +5000 (carried lot, no settlement price) and -1000
    day = _day(D2)
    book([{"kind": "settlement", "symbol": "au2702", "trading_day": day, "price": 503.0, "source": "tick",
           "updated_at": f"{day} 00:00:00.000"},
          {"kind": "ledger", "gateway": "SIM", "accountid": "sim001", "trading_day": day,
           "broker_realized_pnl": 1000.0, "broker_commission": 30.0, "contracts": {},
           "broker_at": f"{day} 07:00:00.000"}])
    row, = report(api)["ledger"]
    # by settlement the carried lot made 505 - 503 = +2000: 2000 - 1000 = 1000, as the broker says
    assert (row["trading_day"], row["realized_pnl"], row["realized_pnl_open"]) == (day, 1000.0, 4000.0)
    assert (row["commission"], row["broker_commission"], row["verdict"]) == (30.0, 30.0, "ok")
