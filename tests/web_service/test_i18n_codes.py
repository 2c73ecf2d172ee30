"""Every coded answer the operator can see has its text in Chinese and English (static/i18n_codes.js
"rc_<code>"), naming only the values the answer carries; the web's own refusals answer {detail, code, vars}
(CSRF, cross-origin, session expiry, closes, browser-only rules, validation per field, the main-contract
switch), and the login page's refusals are the ones static/login.js recognises.

The codes are found in the source (core_service/, web_service/) by reading its syntax tree, so a new code
without a translation fails here. Real Redis and MariaDB for the HTTP part."""

from __future__ import annotations

import ast
import json
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
import redis

from common.config import PROJECT_ROOT
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer
from web_service.auth import LOGIN_REFUSALS, login_refusal
from web_service.sessions import FREE_FAILURES

STATIC = PROJECT_ROOT / "static"
UNKNOWN = None  # the vars of a call that passes **values: not checked
# The core's refusal codes of the command API (issue 15).
CORE_CODES = [
    "expired", "future", "duplicate", "unsupported", "invalid", "busy", "unknown_strategy", "strategy_inited",
    "strategy_initing", "strategy_not_inited", "strategy_running", "strategy_not_running", "strategy_start_failed",
    "not_ready", "market_closed", "unknown_contract", "not_closable", "no_price", "outside_limits", "converter_empty",
    "margin", "gateway_refused", "unknown_order", "order_inactive", "flatten_changed", "flatten_pending",
    "nothing_to_flatten", "contract_unknown", "contract_is_main",
]
# Codes static/ui.js gives answers that carry none, with the vars it fills in.
BROWSER_CODES: dict[str, set[str] | None] = {"web_timeout_withdrawn": {"s"}, "web_timeout_taken": {"s"},
                                             "redis_lost": set(), "redis_down": set(), "network": {"error"},
                                             "session_expired": set()}


def i18n_tables() -> dict[str, dict[str, str]]:
    """{"zh": {key: text}, "en": {...}} of static/i18n_codes.js."""
    text = (STATIC / "i18n_codes.js").read_text(encoding="utf-8")
    zh_part, en_part = text.split("Object.assign(window.ARBIG_I18N.en")
    entry = re.compile(r'\b(\w+): ("(?:[^"\\]|\\.)*")')
    return {lang: {k: json.loads(v) for k, v in entry.findall(part)} for lang, part in (("zh", zh_part), ("en", en_part))}


def placeholders(text: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(text) if name}


def _const(node: ast.AST | None) -> str | None:
    return node.value if isinstance(node, ast.Constant) and isinstance(node.value, str) else None


def _kw_names(call: ast.Call, skip: tuple[str, ...]) -> set[str] | None:
    if any(k.arg is None for k in call.keywords):
        return UNKNOWN
    return {k.arg for k in call.keywords if k.arg and k.arg not in skip}


def _dict_keys(node: ast.AST | None) -> set[str] | None:
    if node is None:
        return set()
    if isinstance(node, ast.Dict) and all(_const(k) for k in node.keys):
        return {_const(k) for k in node.keys}  # type: ignore[misc]
    return UNKNOWN


def _keyword(call: ast.Call, name: str) -> ast.AST | None:
    return next((k.value for k in call.keywords if k.arg == name), None)


def _call_code(call: ast.Call) -> tuple[str | None, set[str] | None]:
    """(code, vars) of one call that makes a coded answer, else (None, None)."""
    func = call.func.id if isinstance(call.func, ast.Name) else call.func.attr if isinstance(call.func, ast.Attribute) else ""
    if func in ("Refused", "Failed", "CodedError", "Refusal", "refusal_response"):
        code = _const(call.args[1]) if len(call.args) > 1 else _const(_keyword(call, "code"))
        return code, _kw_names(call, ("code",))
    if func == "refusal_body":
        return _const(call.args[1]) if len(call.args) > 1 else None, _dict_keys(call.args[2] if len(call.args) > 2 else None)
    if func == "CommandReply":
        return _const(_keyword(call, "code")), _dict_keys(_keyword(call, "vars"))
    if func in ("validation_response", "error_body"):
        keys = _dict_keys(_keyword(call, "values"))
        return _const(_keyword(call, "code")) or "validation", None if keys is None else keys | {"problems"}
    return None, None


def source_codes() -> Iterator[tuple[str, set[str] | None, str]]:
    """(code, vars, where) of every coded answer made in core_service/ and web_service/."""
    for folder in ("core_service", "web_service"):
        for path in sorted((PROJECT_ROOT / folder).rglob("*.py")):
            tree = ast.parse(path.read_text(encoding="utf-8"))
            for node in ast.walk(tree):
                where = f"{path.relative_to(PROJECT_ROOT)}:{getattr(node, 'lineno', 0)}"
                if isinstance(node, ast.Call):
                    code, names = _call_code(node)
                    if code:
                        yield code, names, where
                elif isinstance(node, ast.Dict):
                    keys = {_const(k): v for k, v in zip(node.keys, node.values, strict=True) if _const(k)}
                    if "code" in keys and _const(keys["code"]) and "vars" in keys:
                        yield _const(keys["code"]), _dict_keys(keys["vars"]), where  # type: ignore[misc]
    for code, text in LOGIN_REFUSALS.items():
        yield code, placeholders(text), "web_service/auth.py LOGIN_REFUSALS"


def test_every_coded_answer_has_chinese_and_english_naming_only_its_vars() -> None:
    tables = i18n_tables()
    found = list(source_codes())
    codes = {code for code, _, _ in found}
    assert {"no_position", "csrf", "validation", "command_invalid", "not_closable", "login_throttled"} <= codes, codes
    problems = []
    for code, names, where in found + [(c, v, "static/ui.js") for c, v in BROWSER_CODES.items()]:
        for lang, table in tables.items():
            text = table.get("rc_" + code)
            if text is None:
                problems.append(f"{where}: no {lang} text for rc_{code}")
            elif names is not UNKNOWN and not placeholders(text) <= names:
                problems.append(f"{where}: rc_{code} ({lang}) names {placeholders(text) - names} the answer lacks")
    assert problems == []
    for code in CORE_CODES:
        assert "rc_" + code in tables["zh"] and "rc_" + code in tables["en"], code


def test_chinese_texts_are_chinese_and_values_and_problems_are_translated() -> None:
    zh = i18n_tables()["zh"]
    for key, text in zh.items():
        if key.startswith(("rc_", "rcv_")) or key.startswith("ve_") and key != "ve_value_error":
            assert re.search(r"[\u4e00-\u9fff]", text), (key, text)
    assert zh["rc_not_closable"].startswith("不能平仓") and "可平" in zh["rc_not_closable"]
    assert "涨跌停" in zh["rc_outside_limits"] and "保证金" in zh["rc_margin"] and "冻结" in zh["rc_not_closable"]
    assert zh["rcv_offset_CLOSETODAY"] == "平今" and zh["rcv_offset_CLOSEYESTERDAY"] == "平昨"
    assert zh["rcv_direction_LONG"] == "多头" and zh["rcv_direction_SHORT"] == "空头"


def test_login_js_recognises_every_login_refusal() -> None:
    """static/login.js maps the login page's English error to its code (until the page is given the code)."""
    known = re.findall(r'\[/(.+?)/, "(\w+)"', (STATIC / "login.js").read_text(encoding="utf-8"))
    assert {code for _, code in known} == set(LOGIN_REFUSALS)
    samples = {"s": 12, "problems": "password: Input should be a valid string"}
    for code in LOGIN_REFUSALS:
        text = login_refusal(code, **{k: samples[k] for k in placeholders(LOGIN_REFUSALS[code])})["detail"]
        matched = [c for pattern, c in known if re.match(pattern, str(text))]
        assert matched and matched[0] == code, (code, text, matched)


def test_login_answers_are_the_login_refusals(web: WebServer) -> None:
    anon = web.client(login=False)
    origin = {"Origin": web.base_url}
    texts = []
    for _ in range(FREE_FAILURES + 1):
        texts.append(anon.http.post("/login", json={"password": "nope"}, headers=origin).json()["detail"])
    assert "too many failed logins" in texts[-1]
    evil = anon.http.post("/login", json={"password": "x"}, headers={"Origin": "http://evil.example"})
    assert evil.status_code == 403 and evil.json()["code"] == "cross_origin"  # OriginGuard answers first
    known = re.findall(r'\[/(.+?)/, "(\w+)"', (STATIC / "login.js").read_text(encoding="utf-8"))
    for text in texts:
        assert any(re.match(pattern, text) for pattern, _ in known), text


# ---------------------------------------------------------------- the web's answers carry their code


def _cmd(kind: str, params: dict[str, Any], cid: str = "cmd-0123456789ab") -> dict[str, Any]:
    return {"id": cid, "type": kind, "params": params}


def test_csrf_origin_and_session_refusals_have_codes(web: WebServer, api: ApiClient) -> None:
    res = api.post("/api/commands", _cmd("emergency.stop", {}), csrf=None)
    assert res.status_code == 403 and res.json()["code"] == "csrf" and "X-CSRF-Token" in res.json()["detail"]
    res = api.post("/api/commands", _cmd("emergency.stop", {}), origin="http://evil.example")
    assert res.status_code == 403 and res.json()["code"] == "cross_origin"  # OriginGuard, before the route
    anon = web.client(login=False)
    res = anon.post("/api/commands", _cmd("emergency.stop", {}))
    assert res.status_code == 401 and res.json()["code"] == "session_expired" and "login required" in res.json()["detail"]


def test_command_refusals_have_codes_and_vars(
    web: WebServer, api: ApiClient, redis_client: redis.Redis
) -> None:
    close = {"vt_symbol": "au2702.SHFE", "direction": "LONG", "volume": 3, "price_type": "MARKET"}
    body = api.post("/api/commands", _cmd("position.close", close)).json()
    assert body["code"] == "no_position" and body["vars"] == {"vt_symbol": "au2702.SHFE", "direction": "LONG"}
    seed.write_position(redis_client, web.keys, seed.position("au2702", "LONG", 2, 600.0))
    body = api.post("/api/commands", _cmd("position.close", close, cid="cmd-0123456789ac")).json()
    assert body["code"] == "more_than_held" and body["vars"]["volume"] == 3 and body["vars"]["held"] == "2"
    res = api.post("/api/commands", _cmd("sync.apply", {}))
    assert res.status_code == 422 and res.json()["code"] == "browser_sync" and res.json()["vars"] == {"type": "sync.apply"}
    res = api.post("/api/commands", _cmd("position.close", {**close, "volume": 1001}))
    body = res.json()
    assert res.status_code == 422 and body["code"] == "command_invalid" and body["vars"]["type"] == "position.close"
    item = body["errors"][0]
    assert item["type"] == "less_than_equal" and item["vars"] == {"le": 1000} and "volume" in item["loc"]
    assert "nothing sent" in body["detail"] and "volume" in body["vars"]["problems"]
    assert redis_client.llen(web.keys.commands) == 0


def test_validation_and_switch_refusals_have_codes(web: WebServer, api: ApiClient, redis_client: redis.Redis) -> None:
    res = api.post("/api/commands", {"id": "x" * 65, "type": "strategy.start", "params": {}})
    body = res.json()
    assert res.status_code == 422 and body["code"] == "validation" and body["errors"][0]["type"] == "string_too_long"
    assert body["errors"][0]["vars"] == {"max_length": 64} and "ve_string_too_long" in i18n_tables()["zh"]
    res = api.get("/api/trades", params={"page_size": "1.0"})
    assert res.status_code == 422 and res.json()["errors"][0]["type"] == "digits_only"
    seed.write_contracts(redis_client, web.keys, ["au2702", "au2706"], "au2702")
    res = api.post("/api/main-contract", {"symbol": "au2712"})
    body = res.json()
    assert res.status_code == 422 and body["code"] == "switch_unknown" and body["vars"] == {
        "symbol": "au2712", "known": "au2702, au2706"}


@pytest.mark.parametrize("code", sorted(LOGIN_REFUSALS))
def test_login_refusal_bodies(code: str) -> None:
    values = {name: 5 for name in placeholders(LOGIN_REFUSALS[code])}
    body = login_refusal(code, **values)
    assert body["code"] == code and body["vars"] == values and "{" not in str(body["detail"])


def test_the_i18n_table_file_exists_in_the_page(web: WebServer, api: ApiClient) -> None:
    page = api.get("/positions").text
    assert page.index("/static/i18n_codes.js") < page.index("/static/ui.js") < page.index("/static/app.js")
    login = web.client(login=False).get("/login").text
    assert "/static/i18n_codes.js" in login and "/static/login.js" in login and "/static/ui.js" in login
