"""vnpy's EventEngine with every handler call guarded.

In vnpy an exception escaping any handler ends the dispatch thread for good: no more ticks,
orders or strategy callbacks, silently. Here each handler runs in its own try/except; the
failure is logged (once per handler and exception type, then counted) and dispatch goes on.
"""

from __future__ import annotations

import logging
from collections import Counter

from vnpy.event import Event, EventEngine

log = logging.getLogger(__name__)


class GuardedEventEngine(EventEngine):
    def __init__(self, interval: int = 1) -> None:
        super().__init__(interval)
        self.handler_errors: Counter[str] = Counter()

    def _process(self, event: Event) -> None:
        for handler in self._handlers.get(event.type, ()):
            self._call(handler, event)
        for handler in self._general_handlers:
            self._call(handler, event)

    def _call(self, handler, event: Event) -> None:  # type: ignore[no-untyped-def]
        try:
            handler(event)
        except Exception as exc:
            key = f"{getattr(handler, '__qualname__', handler)}:{type(exc).__name__}"
            self.handler_errors[key] += 1
            if self.handler_errors[key] == 1:
                log.exception("event handler %s raised on %s; dispatch continues", key, event.type)
