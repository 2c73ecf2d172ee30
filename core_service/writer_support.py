"""What the MySQL writer leans on: which MySQL errors are worth a retry, and the reporter that hands
what the writer found (conflicts, ledger and position reports) to the core once it is stored."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Generic, TypeVar

import pymysql

log = logging.getLogger("core_service.mysql_writer")
T = TypeVar("T")

# Server error codes that mean "try again later", not "this row is wrong".
TRANSIENT_CODES = {1040, 1053, 1205, 1213, 1290, 1927}


def is_transient(exc: BaseException) -> bool:
    """Connection trouble (retry later) as opposed to a record MySQL refuses (never retry)."""
    if isinstance(exc, OSError | pymysql.err.InterfaceError):
        return True
    code = exc.args[0] if exc.args and isinstance(exc.args[0], int) else 0
    return code >= 2000 or code in TRANSIENT_CODES


class Reporter(Generic[T]):
    """Hands what the writer found to a handler, after it is stored; holds it until a handler is set
    (found while draining the spool at start). A failing handler never stops the writer."""

    def __init__(self, describe: Callable[[T], str]) -> None:
        self._describe = describe
        self._lock = threading.Lock()
        self._handler: Callable[[T], None] | None = None
        self._held: list[T] = []

    def set_handler(self, handler: Callable[[T], None]) -> None:
        with self._lock:
            self._handler, held, self._held = handler, self._held, []
        for item in held:
            self.report(item)

    def report(self, item: T) -> None:
        with self._lock:
            handler = self._handler
            if handler is None:
                self._held.append(item)
                log.error("mysql writer: %s", self._describe(item))
                return
        try:
            handler(item)
        except Exception:  # the writer must carry on whatever the handler does
            log.exception("mysql writer: handler failed for: %s", self._describe(item))
