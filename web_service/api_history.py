"""JSON API for history from MySQL: trades (+ CSV export), equity curve, triggers, system events.

Times in answers are UTC (`ts`, ISO with Z, and `ts_ms`); pages show them in Asia/Shanghai.
A `time_from`/`time_to` without an offset is read as Asia/Shanghai time.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, HTTPException, Query
from fastapi.responses import StreamingResponse

from common.performance import report as performance_history
from common.trading_calendar import CHINA_TZ
from web_service import history
from web_service.auth import require_session
from web_service.errors import VALIDATION_RESPONSES, QueryDate, QueryDatetime, QueryInt, refuse_unknown_query
from web_service.history import BadCursor, TradeQuery
from web_service.schemas import AuditPage, EquityCurve, Performance, SystemEventPage, TradePage, TriggerPage
from web_service.services import Svc, WebClock
from web_service.settings import PAGE_SIZE_DEFAULT, PAGE_SIZE_MAX

router = APIRouter(prefix="/api", tags=["history"], dependencies=[Depends(require_session), Depends(refuse_unknown_query)],
                   responses=VALIDATION_RESPONSES)
SYMBOL = r"^[A-Za-z]{1,2}\d{3,4}$"
PageSize = Annotated[QueryInt, Query(ge=1, le=PAGE_SIZE_MAX,
                                     description=f"rows per page (the pages offer 20, 50, 100), at most {PAGE_SIZE_MAX}")]
Cursor = Annotated[str | None, Query(max_length=18, pattern=r"^[0-9]+$", description="next_cursor of the previous page")]
Range = Literal["today", "week", "month", "all"]
CSV_COLUMNS = ["id", "trading_day", "time_china", "time_utc", "symbol", "exchange", "direction", "offset",
               "price", "volume", "tradeid", "orderid", "strategy", "gateway"]


def _utc_naive(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=CHINA_TZ)
    return value.astimezone(UTC).replace(tzinfo=None)


def trade_query(
    symbol: Annotated[str | None, Query(pattern=SYMBOL, description="contract, e.g. au2702")] = None,
    direction: Literal["LONG", "SHORT"] | None = None,
    day_from: Annotated[QueryDate | None, Query(description="first trading day (YYYY-MM-DD)")] = None,
    day_to: Annotated[QueryDate | None, Query(description="last trading day (YYYY-MM-DD), inclusive")] = None,
    time_from: Annotated[QueryDatetime | None, Query(description="from (ISO 8601; no offset = Asia/Shanghai)")] = None,
    time_to: Annotated[QueryDatetime | None, Query(description="before (ISO 8601; no offset = Asia/Shanghai)")] = None,
    page_size: PageSize = PAGE_SIZE_DEFAULT,
    cursor: Annotated[str | None, Query(max_length=64, description="next_cursor of the previous page")] = None,
) -> TradeQuery:
    if (day_from or day_to) and (time_from or time_to):
        raise HTTPException(422, "filter by trading day (day_from/day_to) or by time (time_from/time_to), not both")
    if day_from and day_to and day_from > day_to:
        raise HTTPException(422, "day_from is after day_to")
    q = TradeQuery(symbol, direction, day_from, day_to, _utc_naive(time_from), _utc_naive(time_to), page_size, cursor)
    if q.time_from and q.time_to and q.time_from >= q.time_to:
        raise HTTPException(422, "time_from must be before time_to")
    if cursor:
        try:
            history.parse_cursor(cursor)
        except BadCursor as exc:
            raise HTTPException(422, str(exc)) from exc
    return q


TradeFilter = Annotated[TradeQuery, Depends(trade_query)]


@router.get("/trades", summary="Trade history, newest first, keyset-paginated (follow next_cursor)",
            response_model=TradePage)
def get_trades(q: TradeFilter, svc: Svc) -> TradePage:
    return TradePage.model_validate(history.trade_page(svc.db, q))


def _csv_lines(batches: Iterator[list[dict[str, Any]]]) -> Iterator[str]:
    buf = io.StringIO()
    writer = csv.writer(buf)
    writer.writerow(CSV_COLUMNS)
    for rows in batches:
        for r in rows:
            utc = r["ts"].replace(tzinfo=UTC)
            writer.writerow([
                r["id"], r["trading_day"].isoformat(),
                utc.astimezone(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3],
                utc.strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z",
                r["symbol"], r["exchange"], r["direction"], r["offset_"], str(r["price"]), str(r["volume"]),
                r["tradeid"], r["orderid"], r["strategy"] or "", r["gateway"],
            ])
        yield buf.getvalue()
        buf.seek(0)
        buf.truncate()
    yield buf.getvalue()


@router.get("/trades.csv", summary="CSV export of every trade matching the filters (page_size ignored)")
def get_trades_csv(q: TradeFilter, svc: Svc, clock: WebClock) -> StreamingResponse:
    batches = history.trade_batches(svc.db, q)
    first = next(batches, [])  # runs the first query now: a MySQL error is a clean 503, not a cut-off file
    stamp = clock.now().strftime("%Y%m%d_%H%M%S")
    headers = {"Content-Disposition": f'attachment; filename="arbig_trades_{stamp}.csv"'}
    return StreamingResponse(_csv_lines(itertools.chain([first], batches)), media_type="text/csv; charset=utf-8",
                             headers=headers)


@router.get("/account/equity", summary="Equity curve (balance) from account snapshots", response_model=EquityCurve)
async def get_equity(svc: Svc, range: Range = "today") -> EquityCurve:
    return EquityCurve.model_validate(await asyncio.to_thread(history.equity_curve, svc.db, range, None, svc.clock))


@router.get("/performance", summary="Closed-trade statistics, max drawdown and daily Sharpe/Sortino for a range",
            response_model=Performance)
async def get_performance(svc: Svc, range: Range = "today") -> Performance:
    # closed positions carry their contract size: MySQL only, no Redis read
    report = await asyncio.to_thread(performance_history.performance_report, svc.db, svc.fills, range, None, svc.clock)
    return Performance.model_validate(report)


def _int_cursor(cursor: str | None) -> int | None:
    return None if cursor is None else int(cursor)  # digits only (the Cursor pattern)


@router.get("/triggers", summary="Strategy trigger records, newest first (optionally of one strategy)",
            response_model=TriggerPage)
def get_triggers(
    svc: Svc,
    strategy: Annotated[str | None, Query(min_length=1, max_length=64, pattern=r"^[^\x00-\x1f\x7f]+$")] = None,
    cursor: Cursor = None,
    page_size: PageSize = PAGE_SIZE_DEFAULT,
) -> TriggerPage:
    return TriggerPage.model_validate(history.trigger_page(svc.db, strategy, _int_cursor(cursor), page_size))


@router.get("/system/events", summary="System events (connects, logins, errors ...), newest first",
            response_model=SystemEventPage)
def get_system_events(svc: Svc, cursor: Cursor = None, page_size: PageSize = PAGE_SIZE_DEFAULT) -> SystemEventPage:
    return SystemEventPage.model_validate(history.system_events(svc.db, _int_cursor(cursor), page_size))


@router.get("/audit", summary="Operator commands and the core's answers (audit), newest first",
            response_model=AuditPage)
def get_audit(svc: Svc, cursor: Cursor = None, page_size: PageSize = PAGE_SIZE_DEFAULT) -> AuditPage:
    return AuditPage.model_validate(history.command_audit_page(svc.db, _int_cursor(cursor), page_size))
