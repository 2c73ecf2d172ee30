"""Contract listing, ContractData fields, limit prices, and the connect sequence (contracts first)."""

from __future__ import annotations

import csv
from datetime import date

import pytest
from vnpy.trader.constant import Exchange, Product
from vnpy.trader.event import EVENT_ACCOUNT, EVENT_CONTRACT, EVENT_TICK
from vnpy.trader.object import SubscribeRequest

from common.contract import GatewayState
from core_service.gateway_status import GatewayStatusTracker
from core_service.sim.contracts import contract_symbols, limit_prices, listed_symbols
from tests.core_service.sim.simkit import AU2206_CSV, base_setting
from tests.helpers import eventually


@pytest.mark.parametrize(
    ("today", "expected"),
    [
        (date(2026, 11, 22), ["au2612", "au2701", "au2702", "au2704", "au2706", "au2708", "au2710"]),
        (date(2026, 11, 15), ["au2611", "au2612", "au2701", "au2702", "au2704", "au2706", "au2708", "au2710"]),
        (date(2026, 3, 2), ["au2603", "au2604", "au2605", "au2606", "au2608", "au2610", "au2612", "au2702"]),
        (date(2026, 12, 31), ["au2701", "au2702", "au2703", "au2704", "au2706", "au2708", "au2710", "au2712"]),
    ],
)
def test_listed_months_three_consecutive_then_even(today: date, expected: list[str]) -> None:
    assert listed_symbols(today) == expected


def test_main_and_replay_contracts_are_added() -> None:
    symbols = contract_symbols(date(2026, 11, 22), "au2802", ["au2206"])
    assert "au2802" in symbols and "au2206" in symbols
    assert symbols == sorted(symbols)


def test_limit_prices_match_the_exchange_figures_in_the_real_data() -> None:
    for name in ("au2204", "au2206", "au2208"):
        path = AU2206_CSV.parent / f"{name}_20220218_L1.csv"
        with path.open(newline="") as handle:
            row = next(csv.DictReader(handle))
        up, down = limit_prices(float(row["PreSettlementPrice"]), 0.06)
        assert (up, down) == (float(row["UpperLimitPrice"]), float(row["LowerLimitPrice"])), name


def test_limit_prices_stay_on_the_tick_grid() -> None:
    up, down = limit_prices(950.0, 0.06)
    assert (up, down) == (1007.0, 893.0)
    up, down = limit_prices(381.7, 0.06)
    assert up <= 381.7 * 1.06 and round(up / 0.02, 6).is_integer() and round(down / 0.02, 6).is_integer()


def test_contracts_are_sent_before_anything_else_and_describe_au(start_sim) -> None:
    sim = start_sim(main_contract="au2802")
    sim.engine.subscribe(SubscribeRequest("au2802", Exchange.SHFE), "SIM")
    eventually(lambda: len(sim.rec.ticks()) >= 2, what="ticks")
    types = [t for t in sim.rec.types() if t in (EVENT_CONTRACT, EVENT_TICK, EVENT_ACCOUNT)]
    first_other = next(i for i, t in enumerate(types) if t != EVENT_CONTRACT)
    assert all(t != EVENT_CONTRACT for t in types[first_other:]), "a contract came after other events"
    contracts = sim.rec.of(EVENT_CONTRACT)
    symbols = [c.symbol for c in contracts]
    assert symbols == sim.gateway.get_contract_symbols()
    assert "au2802" in symbols and len(symbols) >= 7
    for contract in contracts:
        assert contract.exchange == Exchange.SHFE and contract.product == Product.FUTURES
        assert (contract.size, contract.pricetick, contract.min_volume) == (1000, 0.02, 1)
        assert contract.name == f"黄金{contract.symbol[2:]}"
        assert not contract.net_position and not contract.history_data and not contract.stop_supported
    assert sim.engine.get_contract("au2802.SHFE") is not None


def test_status_tracker_reports_connecting_logged_in_then_stopped(engines, tmp_path) -> None:
    from core_service.sim import SimGateway

    seen: list[GatewayState] = []
    tracker = GatewayStatusTracker("sim", lambda new, old: seen.append(new.state))
    engine = engines()
    gateway = engine.add_gateway(SimGateway)
    gateway.status_tracker = tracker
    gateway.connect(base_setting(tmp_path))
    assert seen == [GatewayState.CONNECTING, GatewayState.LOGGED_IN]
    gateway.close()
    assert seen[-1] == GatewayState.STOPPED


def test_bad_settings_report_login_failed_with_the_key(engines, tmp_path) -> None:
    from core_service.sim import SimGateway

    tracker = GatewayStatusTracker("sim")
    gateway = engines().add_gateway(SimGateway)
    gateway.status_tracker = tracker
    gateway.connect(base_setting(tmp_path, state_file="relative.json"))
    assert tracker.current.state == GatewayState.LOGIN_FAILED
    assert "state_file" in tracker.current.reason
