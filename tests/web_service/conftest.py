"""Fixtures for the web service tests: the real app served by uvicorn on a free port (in a thread),
talking to the throwaway MariaDB database and Redis prefix; a logged-in HTTP client; a thread
that plays the core's side of the command reply list only; and the app reaching Redis and MySQL
through TcpProxy (tests/netproxy.py), to cut them off or hang them."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
import redis
import uvicorn

from common.contract import Command, CommandReply, CommandStatus, Keys
from common.db import Database
from tests.conftest import MYSQL_HOST, MYSQL_PORT, REDIS_HOST, REDIS_PORT
from tests.helpers import deep_merge, eventually, write_config
from tests.netproxy import TcpProxy
from web_service.app import create_app
from web_service.passwords import OperatorStore
from web_service.settings import UVICORN_WS_OPTIONS, WebSettings, load_settings

PASSWORD = "correct horse battery staple"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@dataclass
class WebServer:
    base_url: str
    settings: WebSettings
    app: Any
    server: uvicorn.Server
    thread: threading.Thread

    @property
    def keys(self) -> Keys:
        return self.settings.keys

    @property
    def services(self) -> Any:
        return self.app.state.services

    @property
    def hub(self) -> Any:
        return self.services.hub

    @property
    def cache(self) -> Any:
        """The read model (web_service/live_cache.py): prices, positions, tick readers, risk feed."""
        return self.services.cache

    def client(self, login: bool = True, password: str = PASSWORD) -> ApiClient:
        http = httpx.Client(base_url=self.base_url, timeout=30)
        api = ApiClient(http, self.base_url)
        if login:
            res = http.post("/login", json={"password": password}, headers={"Origin": self.base_url})
            assert res.status_code == 200, res.text
            api.csrf = res.json()["csrf_token"]
        return api

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(timeout=15)


@dataclass
class ApiClient:
    http: httpx.Client
    base_url: str
    csrf: str = ""

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.http.get(url, **kw)

    def post(self, url: str, body: Any = None, origin: str | None = "", csrf: str | None = "") -> httpx.Response:
        headers = {}
        origin = self.base_url if origin == "" else origin
        csrf = self.csrf if csrf == "" else csrf
        if origin is not None:
            headers["Origin"] = origin
        if csrf is not None:
            headers["X-CSRF-Token"] = csrf
        return self.http.post(url, json=body if body is not None else {}, headers=headers)

    @property
    def cookie_header(self) -> str:
        return "; ".join(f"{c.name}={c.value}" for c in self.http.cookies.jar)


def start_server(settings: WebSettings) -> WebServer:
    app = create_app(settings)
    port = settings.config.web.port
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=2,
                            **UVICORN_WS_OPTIONS)
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, name="uvicorn-test", daemon=True)
    thread.start()
    eventually(lambda: server.started, timeout=15, what="uvicorn started")
    return WebServer(f"http://127.0.0.1:{port}", settings, app, server, thread)


@pytest.fixture
def web_config(config_dict: dict[str, Any], tmp_path: Path) -> Path:
    data = dict(config_dict)
    data["web"] = {"host": "127.0.0.1", "port": free_port(), "stale_after_s": 10, "command_timeout_s": 1.5}
    return write_config(tmp_path / "arbig.json", data)


@pytest.fixture
def web(web_config: Path, db: Database, redis_client: redis.Redis) -> Iterator[WebServer]:
    settings = load_settings(web_config)
    OperatorStore(db).set_password(PASSWORD)
    server = start_server(settings)
    yield server
    server.stop()


@pytest.fixture
def api(web: WebServer) -> Iterator[ApiClient]:
    client = web.client()
    yield client
    client.http.close()


@dataclass
class CommandResponder:
    """Plays the core's side of the command list only: pops commands, pushes a reply."""

    r: redis.Redis
    keys: Keys
    decide: Callable[[Command], CommandReply | None]
    received: list[Command] = field(default_factory=list)
    _stop: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        while not self._stop.is_set():
            got = self.r.brpop([self.keys.commands], timeout=0.2)
            if not got:
                continue
            command = Command.model_validate_json(got[1])
            self.received.append(command)
            reply = self.decide(command)
            if reply is not None:
                self.r.lpush(self.keys.reply(command.id), reply.to_json())

    def stop(self) -> None:
        self._stop.set()


def done(command: Command) -> CommandReply:
    return CommandReply(command_id=command.id, status=CommandStatus.DONE, reason="ok", result={"echo": command.params})


@pytest.fixture
def responder(redis_client: redis.Redis, keys: Keys) -> Iterator[CommandResponder]:
    playing = CommandResponder(redis_client, keys, done)
    thread = threading.Thread(target=playing.run, name="fake-core-replies", daemon=True)
    thread.start()
    yield playing
    playing.stop()
    thread.join(timeout=2)


@dataclass
class ProxiedWeb:
    """The web app whose Redis and MySQL connections go through proxies the test controls."""

    server: WebServer
    redis_proxy: TcpProxy
    mysql_proxy: TcpProxy


@pytest.fixture
def proxied_web(
    config_dict: dict[str, Any], tmp_path: Path, db: Database, redis_client: redis.Redis
) -> Iterator[ProxiedWeb]:
    """Like `web`, but Redis and MySQL are reached through TcpProxy (down(), hang(), resume(), up())."""
    redis_proxy, mysql_proxy = TcpProxy(REDIS_HOST, REDIS_PORT), TcpProxy(MYSQL_HOST, MYSQL_PORT)
    data = deep_merge(config_dict, {
        "redis": {"port": redis_proxy.port}, "mysql": {"port": mysql_proxy.port},
        "web": {"host": "127.0.0.1", "port": free_port(), "stale_after_s": 10, "command_timeout_s": 6},
    })
    OperatorStore(db).set_password(PASSWORD)
    server = start_server(load_settings(write_config(tmp_path / "arbig_proxied.json", data)))
    yield ProxiedWeb(server, redis_proxy, mysql_proxy)
    for proxy in (redis_proxy, mysql_proxy):
        proxy.up()  # also lets hung bytes through, so the app stops promptly
    server.stop()
    for proxy in (redis_proxy, mysql_proxy):
        proxy.down()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Headless Debian Chromium for a test module's browser tests (skipped where it is not installed)."""
    from tests.web_service.test_browser import CHROMIUM, CHROMIUM_ARGS

    if not Path(CHROMIUM).exists():
        pytest.skip("Debian Chromium is not installed (apt-get install chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


@pytest.fixture
def tab(browser: Any, web: WebServer) -> Iterator[Any]:
    """A logged-in Chinese page (1440x900) on the overview, closed after the test."""
    context = browser.new_context(viewport={"width": 1440, "height": 900}, locale="zh-CN")
    page = login_page(context, web.base_url, "/")
    yield page
    context.close()


def login_page(context: Any, base_url: str, path: str) -> Any:
    """A new page of the browser `context`, logged in as the operator and on `path`."""
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto(base_url + "/login?next=" + path)
    page.fill("#password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(base_url + path)
    return page
