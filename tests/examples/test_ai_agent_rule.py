"""The example agent's rule (examples/ai_agent.py): what it decides from bars and the account."""

from __future__ import annotations

from typing import Any

from examples.ai_agent import decide, trade_arguments


def bar(ema20: float | None, ema50: float | None, rsi14: float | None = 50.0, atr14: float | None = 1.0,
        close: float = 950.0, ts_ms: int = 1_000, rsi7: float | None = None) -> dict[str, Any]:
    return {"ts_ms": ts_ms, "close": close, "high": close + 0.5, "low": close - 0.5, "ema20": ema20,
            "ema50": ema50, "rsi7": rsi7, "rsi14": rsi14, "atr14": atr14}


def market(*bars: dict[str, Any]) -> dict[str, Any]:
    return {"symbol": "au2702", "bars": list(bars)}


def account(direction: str = "", volume: float = 0) -> dict[str, Any]:
    return {"positions": [{"symbol": "au2702", "direction": direction, "volume": volume}] if direction else []}


def test_holds_until_rsi7_is_defined_then_warms_up_on_it() -> None:
    decision = decide(market(bar(None, None, rsi14=None, atr14=None)), account())
    assert decision.action == "hold" and "not enough bars" in decision.reason
    early = market(*[bar(None, None, rsi14=None, atr14=None, rsi7=62.0, close=950.0 + i) for i in range(3)])
    decision = decide(early, account())
    assert (decision.action, decision.direction, decision.confidence) == ("open", "long", 62)
    assert "RSI7 62.0" in decision.reason
    assert (decision.stop_loss, decision.take_profit) == (950.0, 955.0)  # mean range 1.0: 2 and 3 below/above 952
    assert decide(market(bar(None, None, rsi14=None, atr14=None, rsi7=50.0)), account()).action == "hold"


def test_opens_with_the_trend_and_an_exit_plan_two_and_three_atr_away() -> None:
    decision = decide(market(bar(951.0, 950.0, rsi14=55, atr14=2.0, close=952.0, ts_ms=60_000)), account())
    assert (decision.action, decision.direction) == ("open", "long")
    assert (decision.stop_loss, decision.take_profit) == (948.0, 958.0)
    assert decision.confidence == 55  # 50 + 10 * |951 - 950| / 2
    args = trade_arguments(decision, preview=True)
    assert args["client_request_id"] == "agent-60000-open-long" and args["preview"] is True
    assert args["exit_plan"]["stop_loss"] == 948.0

    short = decide(market(bar(940.0, 950.0, rsi14=45, atr14=1.0, close=939.0)), account())
    assert (short.action, short.direction, short.stop_loss, short.take_profit) == ("open", "short", 941.0, 936.0)
    assert short.confidence == 90  # capped


def test_no_open_at_an_rsi_extreme_and_no_second_open_while_holding() -> None:
    assert decide(market(bar(951.0, 950.0, rsi14=75)), account()).action == "hold"
    assert decide(market(bar(951.0, 950.0)), account("LONG", 1)).action == "hold"


def test_closes_when_the_trend_turns_against_the_position() -> None:
    decision = decide(market(bar(949.0, 950.0)), account("LONG", 1))
    assert (decision.action, decision.direction) == ("close", "long")
    assert "exit_plan" not in trade_arguments(decision, preview=False)
