"""Strict inputs, fuzzed: generated invalid bodies for POST /api/commands and /api/main-contract,
generated query strings for the GET APIs and invalid WebSocket messages, against the real app (real
MariaDB database, Redis prefix). Never a 5xx; every 422 body matches the route's published OpenAPI
schema; nothing is pushed to the core and the config file is untouched. Deterministic (derandomize)
with a fixed, small budget. Plus plain regressions of the `{"volume": true}` kind."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from websockets.sync.client import ClientConnection, connect

from common.contract import COMMAND_ID_RE, PRICE_MAX
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer
from web_service.snapshots import PLAIN_TOPICS

FUZZ = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow,
                                       HealthCheck.filter_too_much])
SYMBOL_RE = re.compile(r"^[A-Za-z]{1,2}\d{3,4}\.[A-Z]+$")
TOPIC_RE = re.compile(r"^tick:[A-Za-z]{1,2}[0-9]{3,4}$")
VALID_PARAMS: dict[str, dict[str, Any]] = {
    "position.close": {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1, "price_type": "MARKET"},
    "strategy.start": {"name": "au_dual_ma"},
    "order.cancel": {"vt_orderid": "SIM.1"},
    "emergency.stop": {},
}

# ---------------------------------------------------------------- generated values

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=12)
json_values = st.recursive(scalars, lambda kids: st.lists(kids, max_size=3)
                           | st.dictionaries(st.text(max_size=6), kids, max_size=3), max_leaves=8)
huge_text = st.integers(200, 20_000).map(lambda n: "a" * n)
numeric_text = st.sampled_from(["1", "1.0", "1e3", "0x10", "１", "٣", "+1", " 1", "1_000", "NaN", "inf"])
not_a_lot = (st.sampled_from([True, False, 1.0, 1.5, 0, -1, 1001, 2**63, None, [], {}, [1]]) | numeric_text
             | st.floats() | st.integers().filter(lambda n: not 1 <= n <= 1000))
bad_price = (st.sampled_from([None, True, 0, -1, "950", PRICE_MAX * 2, 1e300, [950]]) | numeric_text
             | st.floats().filter(lambda x: not (math.isfinite(x) and 0 < x <= PRICE_MAX)))
not_a_string = json_values.filter(lambda v: not isinstance(v, str))
bad_symbol = not_a_string | huge_text | st.text(max_size=20).filter(lambda s: not SYMBOL_RE.match(s))
bad_name = not_a_string | huge_text | st.sampled_from(["", "a\nb", "\x00", "x" * 65])
bad_enum = json_values.filter(lambda v: v not in ("LONG", "SHORT", "MARKET", "LIMIT"))
bad_id = json_values.filter(lambda v: not (isinstance(v, str) and COMMAND_ID_RE.match(v))) | huge_text
bad_type = json_values.filter(lambda v: not (isinstance(v, str) and v in VALID_PARAMS)) | st.just("contract.switch")
BAD_FIELD = {"volume": not_a_lot, "vt_symbol": bad_symbol, "direction": bad_enum, "price_type": bad_enum,
             "name": bad_name, "vt_orderid": bad_name}
garbage_text = st.text(max_size=40).filter(lambda t: not _is_json(t)) | st.sampled_from(
    ["{", '{"id": NaN', "[" * 5000, "nul", "{'id': 1}", '{"a":1}{"b":2}'])


def _is_json(text: str) -> bool:
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


@st.composite
def bad_commands(draw: st.DrawFn) -> str:
    """A command body with at least one definite fault (raw JSON text: NaN/Infinity stay literal)."""
    fault = draw(st.sampled_from(["volume"] * 4 + ["price"] * 3 + ["field"] * 2 + [
        "extra_param", "id", "type", "extra", "params", "many", "body", "text"]))
    kind = "position.close" if fault in ("volume", "price") else draw(st.sampled_from(sorted(VALID_PARAMS)))
    body: dict[str, Any] = {"id": "fuzz-cmd-0001", "type": kind, "params": dict(VALID_PARAMS[kind])}
    fields = [f for f in body["params"] if f in BAD_FIELD]
    if fault == "volume":  # the one that closed a real position: a JSON true taken as 1 lot
        body["params"]["volume"] = draw(not_a_lot)
    elif fault == "field" and fields:
        field = draw(st.sampled_from(fields))
        body["params"][field] = draw(BAD_FIELD[field])
    elif fault == "price":
        body["params"].update(price_type="LIMIT", price=draw(bad_price))
    elif fault in ("field", "price", "extra_param"):
        key = draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in body["params"]))
        body["params"][key] = draw(json_values)
    elif fault == "id":
        body["id"] = draw(bad_id)
    elif fault == "type":
        body["type"] = draw(bad_type)
    elif fault == "extra":
        body[draw(st.text(min_size=1, max_size=8).filter(lambda k: k not in body))] = draw(json_values)
    elif fault == "params":
        body["params"] = draw(not_a_string.filter(lambda v: not isinstance(v, dict)) | huge_text)
    elif fault == "many":
        body["params"] = {f"k{i}": i for i in range(draw(st.integers(17, 300)))}
    elif fault == "body":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict) or "type" not in v)))
    else:
        return draw(garbage_text)
    return json.dumps(body)


@st.composite
def bad_switches(draw: st.DrawFn) -> str:
    fault = draw(st.sampled_from(["symbol", "extra", "body", "text"]))
    if fault == "symbol":
        symbol = draw(not_a_string | huge_text | st.sampled_from(["AU2706", "au2706 ", "au27061", "au 2706"])
                      | st.text(max_size=10).filter(lambda s: not re.match(r"^[a-z]{1,2}\d{4}$", s)))
        return json.dumps({"symbol": symbol})
    if fault == "extra":
        return json.dumps({"symbol": "au2706", draw(st.text(min_size=1, max_size=8).filter(lambda k: k != "symbol")):
                           draw(json_values)})
    if fault == "body":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict) or "symbol" not in v)))
    return draw(garbage_text)


GET_ROUTES = {
    "/api/market": ["symbol"], "/api/market/ticks": ["symbol", "limit"], "/api/orders": ["active_only"],
    "/api/positions": [], "/api/status": [], "/api/trades": ["symbol", "direction", "day_from", "day_to",
                                                             "time_from", "time_to", "page_size", "cursor"],
    "/api/trades.csv": ["symbol", "day_from", "time_to", "cursor"], "/api/account/equity": ["range"],
    "/api/performance": ["range"], "/api/triggers": ["strategy", "cursor", "page_size"],
    "/api/system/events": ["cursor", "page_size"], "/api/audit": ["cursor", "page_size"],
    "/api/triggers/stats": ["days", "strategy"], "/api/bars": ["symbol", "minutes"],
}
VALID_QUERY = {"symbol": "au2702", "limit": "5", "page_size": "5", "direction": "LONG", "day_from": "2027-01-11",
               "day_to": "2027-01-12", "time_from": "2027-01-11T00:00", "time_to": "2027-01-12T00:00+08:00",
               "range": "week", "active_only": "true", "strategy": "s1", "cursor": "5",
               "days": "7", "minutes": "60"}
TRADE_CURSOR = "20270111.1799999999999.5"
query_values = st.text(max_size=30) | numeric_text | huge_text.map(lambda s: s[:3000]) | st.sampled_from([
    "au2702", "1", "500", "501", "0", "-1", "9" * 30, "today", "LONG", "true", "2027-01-11", "2027-13-01",
    "9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01", "1700000000", "20251399.1.1",
    "99999999.1.1", "20270111.9999999999999999.1", "20270111.1.99999999999999999999", "٢٠٢٧٠١١١.1.1", "²", "1\x00",
])


@st.composite
def get_queries(draw: st.DrawFn) -> tuple[str, list[tuple[str, str]]]:
    """Mostly declared parameters with valid values and one fault, so the fault reaches the route's code."""
    path = draw(st.sampled_from(sorted(GET_ROUTES)))
    declared = GET_ROUTES[path]
    chosen = draw(st.lists(st.sampled_from(declared), unique=True)) if declared else []
    params = [(n, TRADE_CURSOR if n == "cursor" and "trades" in path else VALID_QUERY[n]) for n in chosen]
    fault = draw(st.sampled_from(["value", "value", "value", "name", "repeat"]))
    if fault == "value" and params:
        at = draw(st.integers(0, len(params) - 1))
        params[at] = (params[at][0], draw(query_values))
    elif fault == "repeat" and params:
        params.append(params[0])
    else:
        params.append((draw(st.text(min_size=1, max_size=8).filter(lambda n: n not in declared)), draw(query_values)))
    return path, params


# ---------------------------------------------------------------- checks


class Published:
    """The app's own OpenAPI document: the 422 schema each route publishes."""

    def __init__(self, api: ApiClient) -> None:
        res = api.get("/openapi.json")
        assert res.status_code == 200, res.text
        self.doc = res.json()
        assert "HTTPValidationError" not in self.doc["components"]["schemas"], "no route publishes FastAPI's default"

    def check(self, method: str, path: str, res: httpx.Response) -> None:
        assert res.status_code < 500, (method, path, res.status_code, res.text[:300])
        if res.status_code == 422:
            schema = self.doc["paths"][path][method]["responses"]["422"]["content"]["application/json"]["schema"]
            jsonschema.Draft202012Validator({**schema, "components": self.doc["components"]}).validate(res.json())
            assert len(res.json()["detail"]) > 10


def _post_raw(api: ApiClient, path: str, text: str) -> httpx.Response:
    return api.http.post(path, content=text.encode("utf-8", "surrogatepass"), headers={
        "Origin": api.base_url, "X-CSRF-Token": api.csrf, "Content-Type": "application/json"})


def _redis_keys(r: redis.Redis, web: WebServer) -> set[str]:
    return set(r.scan_iter(match=f"{web.keys.prefix}*", count=1000))


# ---------------------------------------------------------------- HTTP fuzz


def test_fuzz_commands_and_main_contract(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    seed.write_contracts(redis_client, web.keys, ["au2702", "au2706"], "au2702")
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 1000, 600.0), event=False)
    published, config = Published(api), Path(web.settings.config_file)
    config_before, keys_before = config.read_bytes(), _redis_keys(redis_client, web)

    @settings(FUZZ, max_examples=120)
    @given(text=bad_commands())
    def commands(text: str) -> None:
        res = _post_raw(api, "/api/commands", text)
        published.check("post", "/api/commands", res)
        assert res.status_code in (400, 422), (text[:200], res.status_code, res.text[:300])

    @settings(FUZZ, max_examples=50)
    @given(text=bad_switches())
    def switches(text: str) -> None:
        res = _post_raw(api, "/api/main-contract", text)
        published.check("post", "/api/main-contract", res)
        assert res.status_code in (400, 422), (text[:200], res.status_code, res.text[:300])

    commands()
    switches()
    assert redis_client.llen(web.keys.commands) == 0
    assert _redis_keys(redis_client, web) == keys_before, "no state written for invalid input"
    assert config.read_bytes() == config_before


def test_fuzz_get_queries(api: ApiClient, web: WebServer, redis_client: redis.Redis) -> None:
    seed.write_tick(redis_client, web.keys, "au2702", 600.0)
    published = Published(api)

    @settings(FUZZ, max_examples=150)
    @given(query=get_queries())
    def queries(query: tuple[str, list[tuple[str, str]]]) -> None:
        path, params = query
        res = api.get(path, params=params)
        published.check("get", path, res)
        declared = GET_ROUTES[path]
        names = [name for name, _ in params]
        if any(name not in declared for name in names) or len(set(names)) < len(names):
            assert res.status_code == 422, (path, params)

    queries()
    assert redis_client.llen(web.keys.commands) == 0


# ---------------------------------------------------------------- WebSocket fuzz

bad_topic = not_a_string | huge_text.map(lambda s: s[:100]) | st.text(max_size=20).filter(
    lambda s: s not in PLAIN_TOPICS and not TOPIC_RE.match(s))
good_topics = st.lists(st.sampled_from(sorted(PLAIN_TOPICS) + ["tick:au2702"]), max_size=3)


@st.composite
def bad_ws_messages(draw: st.DrawFn) -> str | bytes:
    fault = draw(st.sampled_from(["topic", "topics", "many", "op", "t", "extra", "value", "text", "long", "binary"]))
    op = draw(st.sampled_from(["subscribe", "unsubscribe"]))
    if fault == "topic":
        topics = draw(good_topics)
        topics.insert(draw(st.integers(0, len(topics))), draw(bad_topic))
        return json.dumps({"op": op, "topics": topics})
    if fault == "topics":
        return json.dumps({"op": op, "topics": draw(not_a_string.filter(lambda v: not isinstance(v, list)) | st.just([]))})
    if fault == "many":
        return json.dumps({"op": op, "topics": ["positions"] * draw(st.integers(33, 200))})
    if fault == "op":
        return json.dumps({"op": draw(json_values.filter(lambda v: v not in ("subscribe", "unsubscribe", "ping", "pong"))),
                           "topics": ["positions"]})
    if fault == "t":
        t = draw(st.sampled_from([True, [1], {"a": 1}, float("nan"), float("inf"), "x" * 65]) | huge_text)
        return json.dumps({"op": draw(st.sampled_from(["ping", "pong"])), "t": t})
    if fault == "extra":
        return json.dumps({"op": op, "topics": ["positions"], draw(st.text(min_size=1, max_size=6).filter(
            lambda k: k not in ("op", "topics"))): draw(json_values)})
    if fault == "value":
        return json.dumps(draw(json_values.filter(lambda v: not isinstance(v, dict) or "op" not in v)))
    if fault == "long":
        return json.dumps({"op": "subscribe", "topics": ["positions"], "pad": "x" * 9000})
    if fault == "binary":
        return draw(st.binary(min_size=1, max_size=64))
    return draw(garbage_text)


def _open_ws(web: WebServer, api: ApiClient) -> ClientConnection:
    ws = connect(web.base_url.replace("http", "ws") + "/ws", origin=web.base_url,
                 additional_headers={"Cookie": api.cookie_header}, open_timeout=5, max_queue=None)
    assert json.loads(ws.recv(timeout=5))["type"] == "hello"
    return ws


def _next_reply(ws: ClientConnection, kinds: tuple[str, ...]) -> dict[str, Any]:
    while True:
        message = json.loads(ws.recv(timeout=5))
        if message["type"] == "ping":
            ws.send(json.dumps({"op": "pong", "t": message["t"]}))
        elif message["type"] in kinds:
            return message


def test_fuzz_websocket_messages(api: ApiClient, web: WebServer) -> None:
    with _open_ws(web, api) as ws:

        @settings(FUZZ, max_examples=100)
        @given(message=bad_ws_messages())
        def messages(message: str | bytes) -> None:
            ws.send(message)
            reply = _next_reply(ws, ("error", "snapshot", "pong"))
            assert reply["type"] == "error" and reply["message"], (str(message)[:200], reply)

        messages()
        ws.send(json.dumps({"op": "ping", "t": 7}))
        assert _next_reply(ws, ("pong",))["t"] == 7, "the socket survived every invalid message"
        assert [c.topics for c in list(web.hub.clients)] == [set()], "no invalid message subscribed anything"


# ---------------------------------------------------------------- plain regressions

CLOSE = {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 1, "price_type": "MARKET"}
REGRESSIONS = [
    json.dumps({"id": "regress-0001", "type": "position.close", "params": {**CLOSE, "volume": True}}),
    json.dumps({"id": "regress-0002", "type": "position.close", "params": {**CLOSE, "volume": 1.0}}),
    json.dumps({"id": "regress-0003", "type": "position.close", "params": {**CLOSE, "volume": "1"}}),
    json.dumps({"id": "regress-0004", "type": "position.close", "params": {**CLOSE, "volume": 1.5}}),
    '{"id": "regress-0005", "type": "position.close", "params": {"vt_symbol": "au2702.SHFE", "direction": "LONG",'
    ' "volume": 1, "price_type": "LIMIT", "price": NaN}}',
    '{"id": "regress-0006", "type": "position.close", "params": {"vt_symbol": "au2702.SHFE", "direction": "LONG",'
    ' "volume": 1, "price_type": "LIMIT", "price": Infinity}}',
    json.dumps({"id": "regress-0007", "type": "position.close", "params": {**CLOSE, "vt_symbol": "a" * 100_000}}),
    json.dumps({"id": "regress-0008", "type": "strategy.start", "params": {"name": "n" * 100_000}}),
    json.dumps({"id": "regress-0009" * 10_000, "type": "emergency.stop", "params": {}}),
    json.dumps({"id": "regress-0010", "type": "emergency.stop", "params": {}, "operator": "x"}),
]


def test_true_float_and_string_lots_nan_prices_and_huge_strings_are_422_and_nothing_is_sent(
    api: ApiClient, web: WebServer, redis_client: redis.Redis
) -> None:
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 5, 600.0), event=False)
    published = Published(api)
    for text in REGRESSIONS:
        res = _post_raw(api, "/api/commands", text)
        published.check("post", "/api/commands", res)
        assert res.status_code == 422, (text[:120], res.text[:300])
        assert "nothing sent" in res.json()["detail"] or res.json()["errors"], res.text[:300]
        assert len(res.text) < 10_000, "the answer does not echo a huge input"
    body = _post_raw(api, "/api/commands", REGRESSIONS[0]).json()
    assert body["errors"][0]["loc"] == ["params", "volume"] and "volume" in body["detail"]
    assert redis_client.llen(web.keys.commands) == 0


def test_strict_queries_and_login(api: ApiClient, web: WebServer) -> None:
    published = Published(api)
    for path, params in [("/api/trades", {"page_sise": "10"}), ("/api/trades", [("page_size", "5")] * 2),
                         ("/api/audit", {"page_size": "1.0"}), ("/api/audit", {"cursor": "²"}),
                         ("/api/trades", {"time_from": "0001-01-01T00:00:00+14:00"}),
                         ("/api/trades", {"cursor": "20270111.9999999999999999.1"}), ("/api/positions", {"x": "1"})]:
        res = api.get(path, params=params)
        published.check("get", path, res)
        assert res.status_code == 422, (path, params, res.text)
    anon = web.client(login=False)
    origin = {"Origin": web.base_url}
    for body in ({"password": True}, {"password": "x", "admin": True}, ["x"], {"password": "p" * 5000}):
        res = anon.http.post("/login", json=body, headers=origin)
        assert res.status_code == 422 and isinstance(res.json()["detail"], str), (body, res.text)
    res = anon.http.post("/login", content=b"{not json", headers={**origin, "Content-Type": "application/json"})
    assert res.status_code == 422
    res = anon.http.post("/login", data={"password": ["a", "b"]}, headers=origin)
    assert res.status_code == 422 and "invalid login form" in res.text
    assert anon.http.post("/login", json={"password": "wrong"}, headers=origin).status_code == 401
