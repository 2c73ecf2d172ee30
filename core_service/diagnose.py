"""Order diagnosis (command `order.diagnose`): why an order would fail now, as PASS/FAIL checks.

Every check (`diagnose_checks`) runs and says precisely what it found: gateway_ready, trading_session,
contract_known, price_within_limits, funds_for_margin, closable_volume, flow_control, risk_limits.
Read only: it looks at vnpy's OmsEngine (contract, tick, position, active orders, account), the
gateway's state and query pacer, the SHFE calendar and the pre-trade funds rule (`pretrade`); it sends
nothing. "Now" is the `Clock` passed in (the core's), so a test can ask "what about Saturday" with
the real engines' state.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from vnpy.trader.constant import Direction
from vnpy.trader.engine import MainEngine

from common.clock import LIVE, Clock
from common.contract import Command, DiagnoseParams, DiagnoseReport
from core_service.diagnose_checks import (
    Facts,
    check_closable,
    check_contract,
    check_flow,
    check_funds,
    check_gateway,
    check_limits,
    check_price,
    check_session,
)
from core_service.pretrade import MarginGuard
from core_service.sim.gateway import SimGateway

__all__ = ["Diagnoser", "check_flow", "diagnose"]


def diagnose(
    params: DiagnoseParams,
    main_engine: MainEngine,
    gateway: Any,
    not_ready: Callable[[], str],
    margin_guard: MarginGuard,
    clock: Clock = LIVE,
) -> DiagnoseReport:
    """Every check for the order `params` describes, against the engines' state now. Sends nothing."""
    gateway_name = gateway.gateway_name
    held = Direction.SHORT if params.side == "BUY" else Direction.LONG
    all_active = list(main_engine.get_all_active_orders())
    facts = Facts(
        params=params, now=clock.now(),
        # the simulator in its 24 h demo mode takes orders at any hour; in `shfe` mode it keeps the sessions
        simulated=isinstance(gateway, SimGateway) and gateway.session_mode() == "always",
        contract=main_engine.get_contract(params.vt_symbol), tick=main_engine.get_tick(params.vt_symbol),
        position=main_engine.get_position(f"{gateway_name}.{params.vt_symbol}.{held.value}"),
        active=[order for order in all_active if order.vt_symbol == params.vt_symbol],
    )  # fmt: skip
    checks = [
        check_gateway(not_ready, gateway, gateway_name),
        check_session(facts.now, facts.simulated),
        check_contract(facts, len(main_engine.get_all_contracts())),
        check_price(facts),
        check_funds(facts, margin_guard),
        check_closable(facts),
        check_flow(gateway),
        check_limits(facts, len(all_active)),
    ]
    return DiagnoseReport(
        vt_symbol=params.vt_symbol,
        side=params.side,
        offset=params.offset,
        volume=params.volume,
        price=facts.price,
        checks=checks,
        ok=all(check.ok for check in checks),
    )


class Diagnoser:
    """`diagnose` with the core's engines and clock (a test may replace `clock`)."""

    def __init__(
        self,
        main_engine: MainEngine,
        gateway: Any,
        not_ready: Callable[[], str],
        margin_guard: MarginGuard,
        clock: Clock = LIVE,
    ) -> None:
        self.main_engine = main_engine
        self.gateway = gateway
        self.not_ready = not_ready
        self.margin_guard = margin_guard
        self.clock = clock

    @classmethod
    def build(
        cls, main_engine: MainEngine, gateway: Any, not_ready: Callable[[], str], contracts: Any,
        clock: Clock = LIVE,
    ) -> Diagnoser:
        """With the same funds rule as the core's pre-trade check (rates and sizes from `contracts`,
        the recorder's ContractBook)."""
        guard = MarginGuard(contracts.rates, contracts.size, main_engine.get_all_accounts)
        return cls(main_engine, gateway, not_ready, guard, clock)

    def run(self, params: DiagnoseParams) -> DiagnoseReport:
        return diagnose(params, self.main_engine, self.gateway, self.not_ready, self.margin_guard, self.clock)

    def handle(self, command: Command) -> dict[str, Any]:
        """The `order.diagnose` handler (run it on vnpy's event thread)."""
        return self.run(command.typed_params()).model_dump(mode="json")
