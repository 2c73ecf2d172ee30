"""Login, sessions, CSRF, throttling and the operator password (real Redis and MariaDB)."""

from __future__ import annotations

import hashlib
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
from websockets.exceptions import InvalidStatus
from websockets.sync.client import connect

from common.config import PROJECT_ROOT
from common.db import Database
from tests.helpers import write_config
from tests.web_service.conftest import PASSWORD, ApiClient, WebServer
from web_service.__main__ import ensure_password
from web_service.passwords import OperatorStore
from web_service.sessions import FREE_FAILURES
from web_service.settings import load_settings

PAGES = ["/", "/market", "/positions", "/account", "/strategy", "/trades"]
GET_APIS = ["/api/session", "/api/status", "/api/market", "/api/market/ticks", "/api/positions", "/api/orders",
            "/api/account", "/api/strategies", "/api/contracts", "/api/trades", "/api/trades.csv",
            "/api/account/equity", "/api/performance", "/api/triggers", "/api/system/events", "/api/audit",
            "/openapi.json"]


def test_pages_redirect_to_login_and_api_says_401(web: WebServer) -> None:
    anon = web.client(login=False)
    for page in PAGES:
        res = anon.get(page)
        assert res.status_code == 303 and res.headers["location"].startswith("/login?next="), page
    for url in GET_APIS:
        res = anon.get(url)
        assert res.status_code == 401, url
        assert "login required" in res.json()["detail"]
    assert anon.get("/login").status_code == 200
    assert anon.get("/static/app.js").status_code == 200


def test_login_sets_strict_httponly_cookie_and_stores_only_a_hash(web: WebServer, redis_client: redis.Redis) -> None:
    anon = httpx.Client(base_url=web.base_url)
    res = anon.post("/login", data={"password": PASSWORD, "next": "/positions"}, headers={"Origin": web.base_url})
    assert res.status_code == 303 and res.headers["location"] == "/positions"
    cookie = res.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict")
    token = anon.cookies["arbig_session"]
    key = web.keys.web_session(hashlib.sha256(token.encode()).hexdigest())
    assert redis_client.exists(key) and 0 < redis_client.ttl(key) <= 12 * 3600
    for name in redis_client.scan_iter(match=web.keys.web_session("*")):
        assert token not in name and token not in (redis_client.get(name) or "")
    assert anon.get("/positions").status_code == 200


def test_open_redirect_is_refused(web: WebServer) -> None:
    anon = httpx.Client(base_url=web.base_url)
    res = anon.post("/login", data={"password": PASSWORD, "next": "//evil.example/x"}, headers={"Origin": web.base_url})
    assert res.headers["location"] == "/"


def test_cross_origin_login_is_refused(web: WebServer) -> None:
    anon = web.client(login=False)
    res = anon.http.post("/login", json={"password": PASSWORD}, headers={"Origin": "http://evil.example"})
    assert res.status_code == 403
    assert "arbig_session" not in anon.http.cookies


def test_failed_logins_are_throttled(web: WebServer) -> None:
    anon = web.client(login=False)
    headers = {"Origin": web.base_url}
    for _ in range(FREE_FAILURES):
        res = anon.http.post("/login", json={"password": "wrong password"}, headers=headers)
        assert res.status_code == 401 and "wrong password" in res.json()["detail"]
    res = anon.http.post("/login", json={"password": PASSWORD}, headers=headers)
    assert res.status_code == 429, "even the right password waits once throttled"
    assert int(res.headers["retry-after"]) >= 1 and "too many failed logins" in res.json()["detail"]


def test_logout_ends_the_session(api: ApiClient) -> None:
    assert api.get("/api/status").status_code == 200
    assert api.post("/logout").status_code == 200
    assert api.get("/api/status").status_code == 401


def _post_routes(api: ApiClient) -> list[str]:
    spec = api.get("/openapi.json").json()
    return [path for path, ops in spec["paths"].items() if "post" in ops] + ["/logout"]


def test_every_state_changing_route_needs_same_origin_and_csrf_token(
    api: ApiClient, redis_client: redis.Redis, web: WebServer
) -> None:
    routes = _post_routes(api)
    assert {"/api/commands", "/api/main-contract", "/logout"} <= set(routes)
    body = {"id": "abcdef0123456789", "type": "emergency.stop", "params": {}}
    for route in routes:
        for origin, csrf in (("http://evil.example", api.csrf), (None, api.csrf), (web.base_url, None),
                             (web.base_url, "not-the-token")):
            res = api.post(route, body, origin=origin, csrf=csrf)
            assert res.status_code == 403, (route, origin, csrf, res.text)
    assert redis_client.llen(web.keys.commands) == 0, "nothing was sent"
    assert api.get("/api/status").status_code == 200, "still logged in"


def test_cross_site_form_post_is_refused_before_its_body_is_read(api: ApiClient, web: WebServer,
                                                                 redis_client: redis.Redis) -> None:
    forged = '{"id":"evilevil00000001","type":"emergency.stop","params":{},"x":"="}'
    res = api.http.post("/api/commands", content=forged, headers={
        "Origin": "http://127.0.0.1:1", "Content-Type": "text/plain"})
    assert res.status_code == 403 and "cross-origin" in res.json()["detail"]
    assert redis_client.llen(web.keys.commands) == 0


def test_foreign_host_header_is_refused(web: WebServer) -> None:
    """A loopback-bound app answers only loopback names (DNS rebinding)."""
    res = httpx.get(web.base_url + "/login", headers={"Host": "evil.example"})
    assert res.status_code == 400


def test_referer_is_accepted_when_origin_is_absent(api: ApiClient, web: WebServer) -> None:
    res = api.http.post("/api/main-contract", json={"symbol": "zz9999"},
                        headers={"Referer": web.base_url + "/", "X-CSRF-Token": api.csrf})
    assert res.status_code == 422  # passed the CSRF check, refused for the unknown contract


def test_websocket_needs_session_and_same_origin(web: WebServer, api: ApiClient) -> None:
    url = web.base_url.replace("http", "ws") + "/ws"
    with pytest.raises(InvalidStatus) as no_cookie:
        connect(url, origin=web.base_url, open_timeout=5)
    assert no_cookie.value.response.status_code == 403
    with pytest.raises(InvalidStatus):
        connect(url, origin="http://evil.example", additional_headers={"Cookie": api.cookie_header}, open_timeout=5)
    with connect(url, origin=web.base_url, additional_headers={"Cookie": api.cookie_header}, open_timeout=5) as ws:
        assert json.loads(ws.recv(timeout=5))["type"] == "hello"


def test_no_secret_reaches_pages_or_api(api: ApiClient, db: Database) -> None:
    stored_hash = db.query("SELECT password_hash FROM web_operator")[0]["password_hash"]
    for url in PAGES + [u for u in GET_APIS if not u.endswith(".csv")]:
        text = api.get(url).text
        assert PASSWORD not in text and stored_hash not in text and "$argon2" not in text, url


def _run_set_password(config: Path, password: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, ARBIG_CONFIG=str(config), PYTHONPATH=str(PROJECT_ROOT))
    return subprocess.run([sys.executable, "-m", "web_service.set_password"], input=password + "\n", text=True,
                          capture_output=True, env=env, cwd=str(PROJECT_ROOT), timeout=60)


def test_set_password_stores_an_argon2_hash_and_signs_everyone_out(
    web: WebServer, api: ApiClient, db: Database, web_config: Path
) -> None:
    initial = web.settings.initial_password_file
    initial.parent.mkdir(parents=True, exist_ok=True)
    initial.write_text("old\n")
    result = _run_set_password(web_config, "a brand new secret")
    assert result.returncode == 0, result.stderr
    assert "a brand new secret" not in result.stdout + result.stderr
    stored = db.query("SELECT password_hash FROM web_operator")[0]["password_hash"]
    assert stored.startswith("$argon2id$") and "a brand new secret" not in stored
    assert OperatorStore(db).verify("a brand new secret") and not OperatorStore(db).verify(PASSWORD)
    assert not initial.exists()
    assert api.get("/api/status").status_code == 401, "open sessions were signed out"
    assert web.client(password="a brand new secret").get("/api/status").status_code == 200


def test_set_password_rejects_a_short_one(web_config: Path, db: Database) -> None:
    result = _run_set_password(web_config, "short")
    assert result.returncode == 2 and "at least" in result.stderr
    assert db.query("SELECT COUNT(*) n FROM web_operator")[0]["n"] == 0


def test_first_start_generates_a_password_file_0600_and_never_logs_it(
    web_config: Path, db: Database, caplog: pytest.LogCaptureFixture
) -> None:
    settings = load_settings(web_config)
    with caplog.at_level("INFO"):
        assert ensure_password(settings)
    file = settings.initial_password_file
    password = file.read_text().strip()
    assert stat.S_IMODE(file.stat().st_mode) == 0o600
    assert OperatorStore(db).verify(password)
    assert str(file) in caplog.text and password not in caplog.text


def test_refuses_to_start_on_a_public_address_without_a_password(
    web_config: Path, db: Database, tmp_path: Path
) -> None:
    data: dict[str, Any] = json.loads(web_config.read_text())
    data["web"]["host"] = "0.0.0.0"
    config = write_config(tmp_path / "public.json", data)
    env = dict(os.environ, ARBIG_CONFIG=str(config), PYTHONPATH=str(PROJECT_ROOT))
    result = subprocess.run([sys.executable, "-m", "web_service"], capture_output=True, text=True, env=env,
                            cwd=str(PROJECT_ROOT), timeout=60)
    assert result.returncode == 2
    assert "not a loopback address" in result.stderr and "set_password" in result.stderr
    assert db.query("SELECT COUNT(*) n FROM web_operator")[0]["n"] == 0
