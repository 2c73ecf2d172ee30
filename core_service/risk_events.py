"""The risk desk: risk events and execution reports, recorded (MySQL) and pushed to the pages (Redis).

`raise_event` records a risk event once per key and window: a cause that persists (a drift seen on
every check) is raised again only after `window_s`; `clear(key)` marks the open one healed (the
drift closed). Acknowledging is the operator's (command `risk.ack`, audited). Any thread may call
these: they only put records on the writer's queue and publish to Redis (both never block long).
Dedup lives in memory: after a restart a cause still present is raised once more.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from common.clock import LIVE
from common.contract import (
    ExecutionReport,
    RiskEvent,
    RiskEventType,
    RiskEventUpdate,
    RiskSeverity,
    now_ms,
)
from core_service import serializers as ser
from core_service.records import (
    ExecutionReportRecord,
    Put,
    RiskAckRecord,
    RiskClearedRecord,
    RiskEventRecord,
)

log = logging.getLogger(__name__)

DEFAULT_WINDOW_S = 300.0
MAX_OPEN = 10_000  # keys remembered for dedup (oldest forgotten first)


class RiskDesk:
    def __init__(self, put: Put, publish: Callable[[str, dict[str, Any]], None],
                 trading_day: Callable[[], str], clock: Callable[[], float] = LIVE.monotonic) -> None:
        """`put`: the MySQL writer's queue; `publish(event_type, data)`: the pages' event stream;
        `trading_day()`: today's trading day, YYYY-MM-DD."""
        self._put = put
        self._publish = publish
        self._trading_day = trading_day
        self._clock = clock
        self._lock = threading.Lock()
        self._open: dict[str, tuple[RiskEvent, float]] = {}  # key -> (last raised, when, by `clock`)
        self._acked: set[str] = set()

    # ------------------------------------------------------------ risk events
    def raise_event(self, kind: RiskEventType, message: str, *, key: str = "", severity: RiskSeverity = "WARNING",
                    symbol: str = "", window_s: float = DEFAULT_WINDOW_S, **detail: Any) -> RiskEvent | None:
        """Record and push a risk event, unless the same key was raised within `window_s` (None then)."""
        key = key or f"{kind.value}:{symbol}"
        now = self._clock()
        with self._lock:
            last = self._open.get(key)
            if last is not None and now - last[1] < window_s and last[0].cleared_ms is None:
                return None
            event = RiskEvent(trading_day=self._trading_day(), type=kind, severity=severity, key=key[:160],
                              symbol=symbol, message=message[:1024], detail=detail)
            self._open[key] = (event, now)
            while len(self._open) > MAX_OPEN:
                self._open.pop(next(iter(self._open)))
        log.log(logging.ERROR if severity == "CRITICAL" else logging.WARNING, "risk event %s: %s", kind.value, message)
        self._put(RiskEventRecord(uid=event.uid, ts=ser.ms_to_db(event.ts_ms), trading_day=event.trading_day,
                                  type=kind.value, severity=severity, key=event.key, symbol=symbol,
                                  message=event.message, detail=detail))
        self._publish("risk_event", event.model_dump(mode="json"))
        return event

    def raised(self, uid: str) -> bool:
        """Raised by this core and still remembered (its row may not be written yet)."""
        with self._lock:
            return any(event.uid == uid for event, _ in self._open.values())

    def is_open(self, key: str) -> bool:
        with self._lock:
            last = self._open.get(key)
            return last is not None and last[0].cleared_ms is None

    def clear(self, key: str, message: str = "") -> RiskEvent | None:
        """The cause of the open event under `key` healed: mark it cleared (None if none was open)."""
        with self._lock:
            last = self._open.pop(key, None)
            if last is None or last[0].cleared_ms is not None:
                return None
            event = last[0].model_copy(update={"cleared_ms": now_ms()})
        assert event.cleared_ms is not None
        log.info("risk event %s cleared: %s", key, message or "healed")
        self._put(RiskClearedRecord(uid=event.uid, cleared_at=ser.ms_to_db(event.cleared_ms)))
        self._publish("risk_update", RiskEventUpdate(uid=event.uid, cleared_ms=event.cleared_ms,
                                                     message=message).model_dump(mode="json"))
        return event

    def acknowledge(self, uid: str, operator: str) -> dict[str, Any]:
        """The operator has seen it (command `risk.ack`). ValueError if it was acknowledged already
        in this session (the caller checks MySQL for older ones)."""
        with self._lock:
            if uid in self._acked:
                raise ValueError(f"risk event {uid} is already acknowledged")
            self._acked.add(uid)
        at = now_ms()
        self._put(RiskAckRecord(uid=uid, acknowledged_by=operator[:64], acknowledged_at=ser.ms_to_db(at)))
        self._publish("risk_update", RiskEventUpdate(uid=uid, acknowledged_by=operator,
                                                     acknowledged_ms=at).model_dump(mode="json"))
        return {"uid": uid, "acknowledged_by": operator, "acknowledged_ms": at}

    # ------------------------------------------------------------ execution reports
    def execution(self, report: ExecutionReport) -> None:
        """One step of an order the app follows up."""
        log.info("execution %s %s %s %s x%s @%s: %s", report.execution_id, report.step.value, report.vt_orderid,
                 report.direction, report.volume, report.price, report.message)
        self._put(ExecutionReportRecord(
            uid=report.uid, ts=ser.ms_to_db(report.ts_ms), trading_day=report.trading_day,
            execution_id=report.execution_id, source=report.source, vt_symbol=report.vt_symbol,
            direction=report.direction, offset=report.offset, step=report.step.value, vt_orderid=report.vt_orderid,
            price=report.price, volume=report.volume, traded=report.traded, attempt=report.attempt,
            message=report.message[:512]))
        self._publish("execution", report.model_dump(mode="json"))

    def trading_day(self) -> str:
        return self._trading_day()
