"""The command models are strict on every path (web, CLI, raw JSON from Redis): a JSON `true` is not a
lot, 1.0 lots and "1" are refused, prices are finite and bounded, strings and params are bounded."""

from __future__ import annotations

import json
from typing import Any

import pytest
from pydantic import ValidationError

from common.contract import PRICE_MAX, ClosePositionParams, Command, CommandType
from core_service.cli import build_parser, to_command

CLOSE = {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1}


def _raw(params: dict[str, Any] | str, kind: str = "position.close", **extra: Any) -> str:
    """A command as the core reads it from Redis; `params` may be raw JSON text (NaN, Infinity)."""
    text = params if isinstance(params, str) else json.dumps(params)
    head = json.dumps({"id": "strict-test-0001", "type": kind, **extra})[:-1]
    return f'{head}, "params": {text}}}'


def _refused(raw: str) -> list[tuple[Any, ...]]:
    with pytest.raises(ValidationError) as caught:
        Command.model_validate_json(raw)
    return [tuple(e["loc"]) for e in caught.value.errors()]


def test_the_core_refuses_a_close_with_volume_true() -> None:
    assert _refused(_raw({**CLOSE, "volume": True})) == [("params", "volume")]


@pytest.mark.parametrize("volume", [True, False, 1.0, 1.5, "1", None, [1], {"n": 1}, 0, -1, 1001, 2**64])
def test_volume_is_a_json_integer_from_1_to_1000(volume: Any) -> None:
    assert ("params", "volume") in _refused(_raw({**CLOSE, "volume": volume}))


@pytest.mark.parametrize("price", ["NaN", "Infinity", "-Infinity", "1e400", "0", "-1", "true", '"950.0"',
                                  str(PRICE_MAX * 10)])
def test_limit_price_is_finite_positive_and_bounded(price: str) -> None:
    params = json.dumps({**CLOSE, "price_type": "LIMIT"})[:-1] + f', "price": {price}}}'
    assert ("params", "price") in _refused(_raw(params))


def test_valid_closes_still_pass_and_keep_their_wire_form() -> None:
    market = Command.model_validate_json(_raw(CLOSE))
    assert market.params == CLOSE and market.typed_params().price is None
    limit = Command.model_validate_json(_raw({**CLOSE, "volume": 1000, "price_type": "LIMIT", "price": 950}))
    assert limit.typed_params().price == 950.0 and limit.typed_params().volume == 1000
    assert Command.model_validate_json(market.to_json()) == market


@pytest.mark.parametrize(("kind", "params", "where"), [
    ("strategy.start", {"name": 5}, ("params", "name")),
    ("strategy.start", {"name": "x" * 65}, ("params", "name")),
    ("strategy.start", {"name": "a\nb"}, ("params", "name")),
    ("strategy.start", {"name": "a", "extra": 1}, ("params", "extra")),
    ("order.cancel", {"vt_orderid": "x" * 129}, ("params", "vt_orderid")),
    ("order.cancel", {"vt_orderid": 12345}, ("params", "vt_orderid")),
    ("contract.switch", {"symbol": "au2706" * 1000}, ("params", "symbol")),
    ("emergency.stop", {"confirm": True}, ("params", "confirm")),
    ("position.close", {**CLOSE, "vt_symbol": "au2702.SHFE" * 1000}, ("params", "vt_symbol")),
    ("position.close", {**CLOSE, "direction": True}, ("params", "direction")),
    ("position.close", {**CLOSE, "price_type": "LIMIT"}, ("params",)),
    ("position.close", {f"k{i}": i for i in range(17)}, ("params",)),
])
def test_params_are_strict_and_bounded(kind: str, params: dict[str, Any], where: tuple[Any, ...]) -> None:
    assert where in _refused(_raw(params, kind))


@pytest.mark.parametrize("extra", [
    {"ttl_s": True}, {"ttl_s": "5"}, {"issued_ms": 1.0}, {"issued_ms": "1"}, {"issued_ms": True},
    {"source": 1}, {"operator": "o" * 65}, {"id": 123456789}, {"id": "x" * 65}, {"surprise": 1},
])
def test_the_envelope_is_strict(extra: dict[str, Any]) -> None:
    assert _refused(_raw(CLOSE, **extra))


def test_ttl_nan_is_refused() -> None:
    assert ("ttl_s",) in _refused(_raw(CLOSE).replace('"type"', '"ttl_s": NaN, "type"'))


def test_the_cli_still_builds_valid_commands() -> None:
    parser = build_parser()
    close = to_command(parser.parse_args(["close", "au2702.SHFE", "SHORT", "2", "--limit", "950.02"]))
    assert close.type == CommandType.POSITION_CLOSE
    typed: ClosePositionParams = close.typed_params()
    assert (typed.volume, typed.price_type, typed.price) == (2, "LIMIT", 950.02)
    assert Command.model_validate_json(close.to_json()) == close
    for argv in (["strategy-start", "au_dual_ma"], ["cancel", "SIM.1"], ["emergency-stop"], ["switch", "au2706"]):
        command = to_command(parser.parse_args(argv))
        assert Command.model_validate_json(command.to_json()) == command
