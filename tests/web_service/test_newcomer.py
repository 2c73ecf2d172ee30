"""The newcomer's path through the web service: /system serves the system page, the API reference /docs and
/openapi.json are behind login (redirect / 401 without a session), and every paged list takes 20, 50 or
100 rows a page."""

from __future__ import annotations

from datetime import datetime

import pytest

from common.db import Database
from common.trading_calendar import CHINA_TZ
from tests.web_service import seed
from tests.web_service.conftest import ApiClient, WebServer


def test_system_page_is_served_at_system_too(web: WebServer, api: ApiClient) -> None:
    res = api.get("/system")
    assert res.status_code == 200 and 'data-page="system"' in res.text and 'id="s-gw-state"' in res.text
    anonymous = web.client(login=False)
    res = anonymous.get("/system")
    assert res.status_code == 303 and res.headers["location"] == "/login?next=/system"
    anonymous.http.close()


def test_docs_and_openapi_need_a_session(web: WebServer, api: ApiClient) -> None:
    anonymous = web.client(login=False)
    res = anonymous.get("/docs")
    assert res.status_code == 303 and res.headers["location"] == "/login?next=/docs"
    assert anonymous.get("/openapi.json").status_code == 401
    assert anonymous.get("/redoc").status_code in (401, 404)
    anonymous.http.close()

    docs = api.get("/docs")
    assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
    for text in ("/api/bars", "/api/trades", "page_size", "1..500", "POST", "/api/commands", "CommandRequest",
                 'href="/openapi.json"'):
        assert text in docs.text, text
    assert "cdn" not in docs.text.lower()
    assert "PositionRow" in docs.text and "TradePage" in docs.text, "answers name their response models"
    spec = api.get("/openapi.json").json()
    assert "/api/bars" in spec["paths"] and "/docs" not in spec["paths"]
    schemas = spec["components"]["schemas"]
    for name in ("Status", "PositionRow", "AccountView", "TradePage", "RiskPage", "Executions", "TriggerStats", "Bars"):
        assert name in schemas, name
    untyped = [f"{method} {path}" for path, item in spec["paths"].items() for method, op in item.items()
               if not path.endswith(".csv")
               and not op["responses"]["200"].get("content", {}).get("application/json", {}).get("schema")]
    assert untyped == [], "every JSON route declares its response model"


@pytest.mark.parametrize("size", [20, 50, 100])
def test_trades_come_in_pages_of_20_50_100(api: ApiClient, db: Database, size: int) -> None:
    seed.insert_trades(db, seed.trade_rows(130, datetime(2027, 1, 11, 9, 30, tzinfo=CHINA_TZ)))
    seen, cursor = [], None
    while True:
        page = api.get("/api/trades", params={"page_size": size, **({"cursor": cursor} if cursor else {})}).json()
        assert len(page["items"]) == (size if page["next_cursor"] else 130 - len(seen))
        seen += [t["tradeid"] for t in page["items"]]
        cursor = page["next_cursor"]
        if not cursor:
            break
    assert len(seen) == len(set(seen)) == 130
    for path in ("/api/system/events", "/api/audit", "/api/risk-events", "/api/triggers"):
        assert api.get(path, params={"page_size": size}).status_code == 200, path
