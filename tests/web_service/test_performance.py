"""Performance statistics: SHFE close-today/close-yesterday matching, hand-computed au PnL
((exit - entry) x volume x 1000), drawdown, daily ratios; and the /api/performance answer from real
MySQL rows."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest

from common.db import Database
from common.trading_calendar import CHINA_TZ, trading_day_str
from tests.web_service import seed
from tests.web_service.conftest import ApiClient
from web_service.performance import (
    Fill,
    daily_ratios,
    match_fills,
    max_drawdown,
    stats_by_strategy,
    trade_stats,
)
from web_service.performance_history import FillLedger

D1 = datetime(2027, 1, 11, 9, 30, tzinfo=CHINA_TZ)  # Monday day session
D2 = D1 + timedelta(days=1)
D3 = D1 + timedelta(days=2)
AU = Decimal(1000)

# (ts, direction of the fill, offset, price, volume)
SCRIPT = [
    (D1, "LONG", "OPEN", "500.00", 2),
    (D2, "LONG", "OPEN", "502.00", 1),
    (D2 + timedelta(minutes=30), "SHORT", "CLOSEYESTERDAY", "505.00", 1),  # D1 lot: +5 x 1000 = +5000
    (D2 + timedelta(minutes=60), "SHORT", "CLOSETODAY", "501.00", 1),  # D2 lot, not the older one: -1000
    (D3, "SHORT", "CLOSE", "499.00", 1),  # the D1 lot left: -1000
    (D3 + timedelta(minutes=30), "SHORT", "OPEN", "510.00", 1),
    (D3 + timedelta(minutes=60), "LONG", "CLOSETODAY", "507.50", 1),  # short: +2.5 x 1000 = +2500
    (D3 + timedelta(minutes=90), "SHORT", "CLOSE", "600.00", 1),  # nothing long is open: unmatched
]


def fills(script: list[tuple]) -> list[Fill]:
    return [Fill("au2702", d, o, Decimal(p), Decimal(v), date.fromisoformat(_day(ts)), ts.astimezone(UTC))
            for ts, d, o, p, v in script]


def _day(ts: datetime) -> str:
    text = trading_day_str(ts)
    return f"{text[:4]}-{text[4:6]}-{text[6:]}"


def test_closes_follow_shfe_today_yesterday_rules_and_pnl_is_hand_computed() -> None:
    matching = match_fills(fills(SCRIPT), lambda _: AU)
    assert [t.pnl for t in matching.closed] == [Decimal(5000), Decimal(-1000), Decimal(-1000), Decimal(2500)]
    assert [t.side for t in matching.closed] == ["LONG", "LONG", "LONG", "SHORT"]
    assert [t.entry_price for t in matching.closed] == [Decimal("500"), Decimal("502"), Decimal("500"),
                                                        Decimal("510")]
    assert matching.unmatched_volume == 1
    assert matching.open_volume() == {}
    stats = trade_stats(matching.closed)
    assert stats["closed_trades"] == 4 and stats["wins"] == 2 and stats["losses"] == 2
    assert stats["win_rate"] == 0.5
    assert stats["gross_profit"] == 7500 and stats["gross_loss"] == -2000 and stats["net_pnl"] == 5500
    assert stats["profit_factor"] == 3.75
    assert stats["avg_win"] == 3750 and stats["avg_loss"] == -1000 and stats["expectancy"] == 1375
    assert stats["best"] == 5000 and stats["worst"] == -1000


def test_one_close_across_lots_uses_their_weighted_entry() -> None:
    matching = match_fills(fills([
        (D1, "LONG", "OPEN", "500.00", 1),
        (D1 + timedelta(minutes=1), "LONG", "OPEN", "501.00", 1),
        (D1 + timedelta(minutes=2), "LONG", "OPEN", "503.00", 1),
        (D1 + timedelta(minutes=3), "SHORT", "CLOSE", "502.00", 2),  # entry 500.5: +1.5 x 2 x 1000
    ]), lambda _: AU)
    assert len(matching.closed) == 1
    only = matching.closed[0]
    assert only.entry_price == Decimal("500.5") and only.volume == 2 and only.pnl == Decimal(3000)
    assert matching.open_volume() == {"au2702 LONG": 1.0}


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


def _seed_script(db: Database) -> None:
    seed.insert_trades(db, [
        {"tradeid": f"p{i}", "direction": d, "offset": o, "price": p, "volume": v, "ts": ts,
         "trading_day": trading_day_str(ts), "symbol": "au2702"}
        for i, (ts, d, o, p, v) in enumerate(SCRIPT)
    ])


def test_performance_api_from_mysql_rows(api: ApiClient, db: Database) -> None:
    _seed_script(db)
    balances = [1_000_000.0, 1_010_000.0, 995_000.0, 1_020_000.0]
    seed.insert_snapshots(db, [(D1 + timedelta(days=i), b) for i, b in enumerate(balances)])
    res = api.get("/api/performance", params={"range": "all"})
    assert res.status_code == 200, res.text
    body = res.json()
    assert body["trades"]["closed_trades"] == 4 and body["trades"]["net_pnl"] == 5500
    assert body["trades"]["profit_factor"] == 3.75
    assert body["unmatched_close_volume"] == 1 and body["fills_considered"] == len(SCRIPT)
    assert body["pnl_basis"] == "before commission"
    equity = body["equity"]
    assert equity["account"] == "SIM.sim001" and equity["snapshots"] == 4
    assert equity["drawdown"]["amount"] == 15_000
    assert equity["drawdown"]["peak_ts"] == int((D1 + timedelta(days=1)).timestamp() * 1000)
    assert equity["ratios"]["days"] == 4 and equity["ratios"]["sharpe"] is not None
    assert list(body["by_strategy"]) == ["(manual)"] and body["by_strategy"]["(manual)"]["net_pnl"] == 5500


def test_closed_trades_are_attributed_to_the_strategy_that_closed() -> None:
    def fill(minute: int, direction: str, offset: str, price: str, strategy: str | None) -> Fill:
        return Fill("au2702", direction, offset, Decimal(price), Decimal(1), D1.date(),
                    (D1 + timedelta(minutes=minute)).astimezone(UTC), strategy)

    matching = match_fills([
        fill(0, "LONG", "OPEN", "500.00", "ma"), fill(1, "SHORT", "CLOSE", "501.00", "ma"),  # ma: +1000
        fill(2, "SHORT", "OPEN", "505.00", "tick"), fill(3, "LONG", "CLOSE", "506.00", "tick"),  # tick: -1000
        fill(4, "LONG", "OPEN", "500.00", "ma"), fill(5, "SHORT", "CLOSE", "503.00", None),  # closed by hand: +3000
    ], lambda _: AU)
    by = stats_by_strategy(matching.closed)
    assert list(by) == ["(manual)", "ma", "tick"]
    assert (by["ma"]["net_pnl"], by["tick"]["net_pnl"], by["(manual)"]["net_pnl"]) == (1000, -1000, 3000)
    assert by["tick"]["win_rate"] == 0.0 and by["ma"]["profit_factor"] is None


def test_performance_api_ranges_and_bad_input(api: ApiClient, db: Database) -> None:
    _seed_script(db)  # all in January 2027, long before "today"
    today = api.get("/api/performance", params={"range": "today"}).json()
    assert today["trades"]["closed_trades"] == 0 and today["trades"]["win_rate"] is None
    assert today["equity"]["account"] is None
    res = api.get("/api/performance", params={"range": "decade"})
    assert res.status_code == 422 and "range" in res.text


def _script_rows(script: list[tuple], prefix: str) -> list[dict]:
    return [{"tradeid": f"{prefix}{i}", "direction": d, "offset": o, "price": p, "volume": v, "ts": ts,
             "trading_day": trading_day_str(ts), "symbol": "au2702"} for i, (ts, d, o, p, v) in enumerate(script)]


def _closed_pnls(ledger: FillLedger, db: Database) -> list[Decimal]:
    return [t.pnl for t in ledger.view(db, lambda _: AU, lambda _: True)["closed"]]


def test_the_ledger_reads_only_new_fills_and_rebuilds_on_a_late_one(db: Database) -> None:
    ledger = FillLedger()
    seed.insert_trades(db, _script_rows(SCRIPT[:3], "a"))
    assert _closed_pnls(ledger, db) == [Decimal(5000)]
    seed.insert_trades(db, _script_rows(SCRIPT[3:5], "b"))  # later fills: appended, no rebuild
    assert _closed_pnls(ledger, db) == [Decimal(5000), Decimal(-1000), Decimal(-1000)]
    assert ledger.rebuilds == 0 and ledger.fills == 5
    # a spool drained after an outage: an opening recorded now, stamped before what was matched
    late = [(D1 - timedelta(minutes=5), "LONG", "OPEN", "490.00", 1)]
    seed.insert_trades(db, _script_rows(late, "late"))
    pnls = _closed_pnls(ledger, db)
    assert ledger.rebuilds == 1 and ledger.fills == 6
    # oldest first: CLOSEYESTERDAY now takes the 490 lot, the CLOSE the 500 lot, CLOSETODAY is unchanged
    assert pnls == [Decimal(15000), Decimal(-1000), Decimal(-1000)]
    assert pnls == _closed_pnls(FillLedger(), db), "the same as a fresh read"


def test_the_ledger_cap_keeps_the_newest_fills_and_says_so(db: Database) -> None:
    seed.insert_trades(db, _script_rows(SCRIPT, "c"))
    view = FillLedger(max_fills=3).view(db, lambda _: AU, lambda _: True)
    assert view["fills_truncated"] is True and view["fills_considered"] == 3
    assert [t.pnl for t in view["closed"]] == [Decimal(2500)]  # the newest three: short open, its close, a stray
    assert view["unmatched_close_volume"] == 1
