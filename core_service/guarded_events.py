"""vnpy's EventEngine with every handler call guarded.

In vnpy an exception escaping any handler ends the dispatch thread for good: no more ticks,
orders or strategy callbacks, silently. Here each handler runs in its own try/except; the
failure is logged (once per handler and exception type, then counted) and dispatch goes on.
"""

from __future__ import annotations

import logging
from collections import Counter

from vnpy.event import Event, EventEngine
from vnpy.event.engine import HandlerType

log = logging.getLogger(__name__)


class GuardedEventEngine(EventEngine):
    def __init__(self, interval: int = 1) -> None:
        super().__init__(interval)
        self.handler_errors: Counter[str] = Counter()

    def close(self) -> None:
        """Stop the dispatch and timer threads if they run (vnpy's `stop` fails on an engine never started)."""
        if self._active:
            self.stop()

    def _process(self, event: Event) -> None:
        for handler in self._handlers.get(event.type, ()):
            self._call(handler, event)
        for handler in self._general_handlers:
            self._call(handler, event)

    def _call(self, handler: HandlerType, event: Event) -> None:
        try:
            handler(event)
        except Exception as exc:
            key = f"{getattr(handler, '__qualname__', handler)}:{type(exc).__name__}"
            self.handler_errors[key] += 1
            if self.handler_errors[key] == 1:
                log.exception("event handler %s raised on %s; dispatch continues", key, event.type)
