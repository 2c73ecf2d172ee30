"""The pre-trade funds check (pure): an order the available funds cannot margin is refused with the
figures that refuse it; closes need only their commission; unknown rates or account never block."""

from __future__ import annotations

from vnpy.trader.constant import Direction, Exchange, Offset, OrderType
from vnpy.trader.object import AccountData, OrderRequest

from common.config import SimConfig
from core_service.contract_rates import ContractRates
from core_service.contracts_table import sim_rates
from core_service.pretrade import MarginGuard, check_margin, required_funds

SIM = sim_rates("au2702", "SHFE", SimConfig(margin_rate=0.10, commission_per_lot=10.0,
                                            close_today_commission_per_lot=0.0))


def request(direction: Direction, offset: Offset, volume: float, price: float = 950.0) -> OrderRequest:
    return OrderRequest(symbol="au2702", exchange=Exchange.SHFE, direction=direction, type=OrderType.LIMIT,
                        volume=volume, price=price, offset=offset)


def account(available: float) -> AccountData:
    data = AccountData(accountid="sim001", balance=available, frozen=0.0, gateway_name="SIM")
    data.available = available
    return data


def test_an_open_the_funds_cannot_margin_is_refused_with_the_figures() -> None:
    one = request(Direction.LONG, Offset.OPEN, 1)  # 0.10 x 950 x 1000 = 95,000 + 10
    assert required_funds(SIM, one, 1000) == (95_000.0, 10.0)
    assert check_margin(SIM, account(100_000), one, 1000) is None
    assert check_margin(SIM, account(95_010), one, 1000) is None  # exactly enough
    reason = check_margin(SIM, account(100_000), request(Direction.LONG, Offset.OPEN, 2), 1000)
    assert reason == ("not enough funds: opening 2 LONG au2702 at 950.00 needs margin 190,000.00 + commission"
                      " 20.00 = 190,020.00, available 100,000.00 (short by 90,020.00)")


def test_each_side_uses_its_own_ratios_by_money_and_by_volume() -> None:
    rates = ContractRates(symbol="au2702", exchange="SHFE", long_margin_ratio_by_money=0.08,
                          long_margin_ratio_by_volume=0.0, short_margin_ratio_by_money=0.12,
                          short_margin_ratio_by_volume=500.0, open_ratio_by_money=0.00005, open_ratio_by_volume=2.0,
                          close_ratio_by_money=0.0, close_ratio_by_volume=0.0, close_today_ratio_by_money=0.0,
                          close_today_ratio_by_volume=0.0, margin_updated_ms=1, commission_updated_ms=1)
    short = request(Direction.SHORT, Offset.OPEN, 1, price=1000.0)  # 0.12 x 1e6 + 500; 0.00005 x 1e6 + 2
    assert required_funds(rates, short, 1000) == (120_500.0, 52.0)
    assert check_margin(rates, account(100_000), request(Direction.LONG, Offset.OPEN, 1, 1000.0), 1000) is None
    assert "needs margin 120,500.00 + commission 52.00" in (check_margin(rates, account(100_000), short, 1000) or "")


def test_a_close_needs_only_its_commission() -> None:
    close = request(Direction.SHORT, Offset.CLOSEYESTERDAY, 5)
    assert required_funds(SIM, close, 1000) == (0.0, 50.0)
    assert check_margin(SIM, account(1_000), close, 1000) is None  # far below any margin: closes free it
    assert check_margin(SIM, account(40), close, 1000) == (
        "not enough funds: closing 5 au2702 (CLOSEYESTERDAY) at 950.00 needs commission 50.00, available 40.00"
        " (short by 10.00)")
    assert check_margin(SIM, account(0), request(Direction.SHORT, Offset.CLOSETODAY, 5), 1000) is None  # free


def test_unknown_rates_or_account_let_the_order_through() -> None:
    order = request(Direction.LONG, Offset.OPEN, 100)
    assert check_margin(None, account(0), order, 1000) is None
    assert check_margin(SIM, None, order, 1000) is None
    half = ContractRates(symbol="au2702", open_ratio_by_money=0.0, open_ratio_by_volume=2.0,
                         close_ratio_by_money=0.0, close_ratio_by_volume=2.0, close_today_ratio_by_money=0.0,
                         close_today_ratio_by_volume=0.0, commission_updated_ms=1)  # margin rates not in yet
    assert check_margin(half, account(0), order, 1000) is None


def test_the_guard_looks_up_rates_size_and_the_account() -> None:
    accounts: list[AccountData] = []
    guard = MarginGuard(lambda symbol: SIM if symbol == "au2702" else None, lambda _symbol: 1000.0,
                        lambda: accounts)
    assert guard.check(request(Direction.LONG, Offset.OPEN, 2)) is None  # no account reported yet
    accounts.append(account(150_000))
    assert guard.check(request(Direction.LONG, Offset.OPEN, 1)) is None
    reason = guard.check_signal("au2702.SHFE", Direction.SHORT, Offset.OPEN, 950.0, 2)
    assert reason is not None and reason.startswith("not enough funds: opening 2 SHORT au2702 at 950.00")
