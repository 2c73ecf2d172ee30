"""Lifecycle of ARBIG's long-running parts: a state machine and the one service-thread skeleton.

- `ComponentState` and `Lifecycle`: a component's state (starting, running, degraded, stopping,
  stopped) with a table of legal transitions. An illegal transition is logged and ignored (it returns
  False and changes nothing); every change is handed to the listeners as (old, new).
- `LoopThread`: the skeleton every service thread shares (halt event, stop/join, a loop of steps with
  exponential backoff on errors, an optional wake). Its contract is in its docstring.
- `Backoff`: the delays of that backoff, for loops that fail without raising (a batch Redis refused).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from enum import StrEnum

Step = Callable[[], float | None]

log = logging.getLogger(__name__)


class ComponentState(StrEnum):
    STARTING = "starting"
    RUNNING = "running"
    DEGRADED = "degraded"
    STOPPING = "stopping"
    STOPPED = "stopped"


S = ComponentState
TRANSITIONS: dict[ComponentState, frozenset[ComponentState]] = {
    S.STARTING: frozenset({S.RUNNING, S.DEGRADED, S.STOPPING, S.STOPPED}),  # STOPPED: a start that failed early
    S.RUNNING: frozenset({S.DEGRADED, S.STOPPING}),
    S.DEGRADED: frozenset({S.RUNNING, S.STOPPING}),
    S.STOPPING: frozenset({S.STOPPED}),
    S.STOPPED: frozenset({S.STARTING}),
}
"""The legal moves: state -> the states it may change to. Anything else is refused."""

Listener = Callable[[ComponentState, ComponentState], None]  # (old, new)


class Lifecycle:
    """The state of one component (`name` is used in the logs). A new component is STARTING.

    `transition(to)` changes the state if the table allows it and returns True; moving to the
    current state is a quiet no-op and an illegal move is logged as a warning: both return False.
    Listeners (`on_change`, `add_listener`) run after the change, on the caller's thread, one at a
    time in the order of the changes; a listener that raises is logged and does not stop the others.
    """

    def __init__(self, name: str, on_change: Listener | None = None) -> None:
        self.name = name
        self._state = ComponentState.STARTING
        self._lock = threading.RLock()
        self._listeners: list[Listener] = [on_change] if on_change is not None else []

    @property
    def state(self) -> ComponentState:
        return self._state

    def add_listener(self, listener: Listener) -> None:
        with self._lock:
            self._listeners.append(listener)

    def transition(self, to: ComponentState) -> bool:
        with self._lock:  # reentrant: a listener may transition again, and its change follows this one
            old = self._state
            if to == old:
                return False
            if to not in TRANSITIONS[old]:
                log.warning("%s: illegal state change %s -> %s ignored", self.name, old, to)
                return False
            self._state = to
            log.info("%s: %s -> %s", self.name, old, to)
            for listener in list(self._listeners):
                try:
                    listener(old, to)
                except Exception:  # one broken listener must not hide the change from the others
                    log.exception("%s: state listener failed on %s -> %s", self.name, old, to)
            return True


class Backoff:
    """Exponential delays: `first_s`, then doubled after each failure up to `max_s`; `reset()` on success."""

    def __init__(self, first_s: float = 0.5, max_s: float = 5.0) -> None:
        if first_s <= 0 or max_s < first_s:
            raise ValueError(f"backoff needs 0 < first_s <= max_s, got {first_s} and {max_s}")
        self.first_s = first_s
        self.max_s = max_s
        self.failures = 0

    def next(self) -> float:
        """The delay after one more failure in a row."""
        self.failures += 1
        return min(self.first_s * 2 ** (self.failures - 1), self.max_s)

    def reset(self) -> None:
        self.failures = 0


class LoopThread(threading.Thread):
    """A service thread: waits, runs one `step()`, and again, until stopped.

    Contract:
    - `step()` (override it, or pass `step=`) does one round of work and returns the seconds to wait
      before the next round (None: `interval_s`; 0: go on at once). The first round comes after
      `first_wait_s` (default `interval_s`). A step may block a little itself (a queue read with a
      timeout); it should check `halted` in long work and use `pause()` to wait.
    - A step that raises is logged (the thread's name, `what` failed, the exception's type and text:
      never the thread's arguments) and the next round comes after an exponential backoff
      (`backoff_s` = first, max; never sooner than `interval_s`); a step that returns resets it.
      Exceptions listed in `expected_errors` (an outage: Redis down) are logged as a warning without
      the traceback, anything else as an error with it (once per run of failures).
    - `stop(timeout)` sets `halted` and joins (not when called from the thread itself, not with
      timeout 0); True when the thread has ended. `halted` may be an event shared with the owner
      (the simulator stops its feeds with one event); setting it stops the loop too.
    - `on_stop()` (override, or pass `on_stop=`) runs on the thread after the last round: the place
      to flush. It also runs after `end_loop()`, which a step calls when the work is done.
    - `wake()` (only with `wakeable=True`) cuts the current wait short: the next round runs at once.
      A wakeable thread owns its halt event.
    """

    def __init__(self, name: str, *, what: str, interval_s: float = 0.0, first_wait_s: float | None = None,
                 step: Step | None = None, on_stop: Callable[[], None] | None = None, wakeable: bool = False,
                 halt: threading.Event | None = None, backoff_s: tuple[float, float] = (0.5, 5.0),
                 expected_errors: tuple[type[BaseException], ...] = (), logger: logging.Logger | None = None,
                 daemon: bool = True) -> None:
        super().__init__(name=name, daemon=daemon)
        if wakeable and halt is not None:
            raise ValueError(f"{name}: a wakeable loop owns its halt event")
        if interval_s < 0:
            raise ValueError(f"{name}: interval_s must not be negative, got {interval_s}")
        if step is None and type(self).step is LoopThread.step:
            raise TypeError(f"{name}: a loop needs a step (pass step= or override step())")
        self.what = what
        self.interval_s = interval_s
        self.first_wait_s = interval_s if first_wait_s is None else first_wait_s
        self.halted = halt if halt is not None else threading.Event()
        self._wake = threading.Event()
        self._signal = self._wake if wakeable else self.halted  # what a wait waits on
        self._wakeable = wakeable
        self._step = step
        self._on_stop = on_stop
        self._backoff = Backoff(*backoff_s)
        self._expected = expected_errors
        self._log = logger or log
        self._ended = False

    # ------------------------------------------------------------ to override
    def step(self) -> float | None:
        assert self._step is not None  # checked when built: a subclass without step= overrides this
        return self._step()

    def on_stop(self) -> None:
        if self._on_stop is not None:
            self._on_stop()

    # ------------------------------------------------------------ any thread
    def stop(self, timeout: float = 2.0) -> bool:
        """Halt the loop and wait up to `timeout` s for the thread to end; True when it has ended."""
        self.halted.set()
        self._wake.set()
        if timeout > 0 and self.is_alive() and threading.current_thread() is not self:
            self.join(timeout)
        return not self.is_alive()

    def wake(self) -> None:
        """Run the next round now (never blocks: safe from any thread)."""
        if not self._wakeable:
            raise RuntimeError(f"{self.name}: not a wakeable loop")
        self._wake.set()

    # ------------------------------------------------------------ the thread
    def end_loop(self) -> None:
        """Called by a step whose work is done: no further round (on_stop still runs)."""
        self._ended = True

    def pause(self, seconds: float) -> bool:
        """Wait up to `seconds` (a wake or a halt ends it early); True when halted."""
        if seconds > 0:
            self._signal.wait(seconds)
        return self.halted.is_set()

    def run(self) -> None:
        delay = self.first_wait_s
        while not self._ended:
            self.pause(delay)
            self._wake.clear()
            if self.halted.is_set() or self._ended:
                break
            try:
                wait = self.step()
            except Exception as exc:  # the loop survives anything one round does
                delay = max(self.interval_s, self._backoff.next())
                self._report(exc, delay)
                continue
            self._backoff.reset()
            delay = self.interval_s if wait is None else wait
        try:
            self.on_stop()
        except Exception:
            self._log.exception("%s: stopping failed", self.name)

    def _report(self, exc: Exception, delay: float) -> None:
        expected = isinstance(exc, self._expected)
        self._log.log(logging.WARNING if expected else logging.ERROR,
                      "%s: %s failed (%s: %s); retrying in %.1f s", self.name, self.what, type(exc).__name__,
                      str(exc)[:500], delay, exc_info=not expected and self._backoff.failures == 1)
