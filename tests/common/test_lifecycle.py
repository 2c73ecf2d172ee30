"""Fast tests of common/lifecycle.py: the state machine and the service-thread skeleton (no sleeps:
the loop's waits are recorded instead of waited, or the test waits on an event the thread sets)."""

from __future__ import annotations

import logging
import threading

import pytest

from common.lifecycle import TRANSITIONS, Backoff, ComponentState, Lifecycle, LoopThread

S = ComponentState
WAIT_S = 5.0  # an upper bound only: every wait below ends as soon as its event is set


# ---------------------------------------------------------------- Lifecycle
def test_a_component_starts_starting_and_walks_the_legal_path() -> None:
    changes: list[tuple[ComponentState, ComponentState]] = []
    life = Lifecycle("core", on_change=lambda old, new: changes.append((old, new)))
    assert life.state == S.STARTING
    path = [S.RUNNING, S.DEGRADED, S.RUNNING, S.STOPPING, S.STOPPED]
    assert all(life.transition(to) for to in path)
    assert life.state == S.STOPPED
    assert changes == list(zip([S.STARTING, *path[:-1]], path, strict=True))


@pytest.mark.parametrize(("before", "illegal"), [
    ([S.DEGRADED], S.STOPPED), ([S.RUNNING], S.STARTING), ([S.RUNNING], S.STOPPED),
    ([S.RUNNING, S.STOPPING], S.RUNNING), ([S.RUNNING, S.STOPPING, S.STOPPED], S.DEGRADED),
])
def test_an_illegal_change_is_logged_and_changes_nothing(
        before: list[ComponentState], illegal: ComponentState, caplog: pytest.LogCaptureFixture) -> None:
    changes: list[tuple[ComponentState, ComponentState]] = []
    life = Lifecycle("core", on_change=lambda old, new: changes.append((old, new)))
    for to in before:
        life.transition(to)
    state, seen = life.state, len(changes)
    with caplog.at_level(logging.WARNING, logger="common.lifecycle"):
        assert life.transition(illegal) is False
    assert life.state == state and len(changes) == seen
    assert f"core: illegal state change {state} -> {illegal} ignored" in caplog.text


def test_the_same_state_again_is_a_quiet_no_op(caplog: pytest.LogCaptureFixture) -> None:
    changes: list[tuple[ComponentState, ComponentState]] = []
    life = Lifecycle("core", on_change=lambda old, new: changes.append((old, new)))
    life.transition(S.DEGRADED)
    with caplog.at_level(logging.WARNING, logger="common.lifecycle"):
        assert life.transition(S.DEGRADED) is False
    assert changes == [(S.STARTING, S.DEGRADED)] and "illegal" not in caplog.text


def test_a_failing_listener_does_not_hide_the_change_from_the_others() -> None:
    def broken(old: ComponentState, new: ComponentState) -> None:
        raise RuntimeError("listener bug")

    heard: list[ComponentState] = []
    life = Lifecycle("core", on_change=broken)
    life.add_listener(lambda old, new: heard.append(new))
    assert life.transition(S.RUNNING) and life.state == S.RUNNING and heard == [S.RUNNING]


def test_the_table_names_every_state_and_values_are_the_wire_names() -> None:
    assert set(TRANSITIONS) == set(S)
    assert [s.value for s in S] == ["starting", "running", "degraded", "stopping", "stopped"]
    assert S("degraded") is S.DEGRADED and f"{S.RUNNING}" == "running"


# ---------------------------------------------------------------- Backoff
def test_backoff_doubles_up_to_its_cap_and_resets() -> None:
    backoff = Backoff(0.5, 3.0)
    assert [backoff.next() for _ in range(5)] == [0.5, 1.0, 2.0, 3.0, 3.0]
    backoff.reset()
    assert backoff.next() == 0.5
    with pytest.raises(ValueError, match="0 < first_s <= max_s"):
        Backoff(2.0, 1.0)


# ---------------------------------------------------------------- LoopThread
class Scripted(LoopThread):
    """Runs a script of step outcomes; records each wait instead of waiting it."""

    def __init__(self, script: list[str], interval_s: float = 0.0, first_wait_s: float | None = None,
                 backoff_s: tuple[float, float] = (0.1, 0.2),
                 expected_errors: tuple[type[BaseException], ...] = ()) -> None:
        super().__init__("test-loop", what="the scripted step", interval_s=interval_s, first_wait_s=first_wait_s,
                         backoff_s=backoff_s, expected_errors=expected_errors)
        self.script = script
        self.waits: list[float] = []
        self.stopped = threading.Event()

    def pause(self, seconds: float) -> bool:
        self.waits.append(seconds)
        return self.halted.is_set()

    def step(self) -> float | None:
        outcome = self.script.pop(0)
        if outcome == "raise":
            raise ConnectionError("server at 127.0.0.1:1 refused")
        if outcome == "end":
            self.end_loop()
        return None

    def on_stop(self) -> None:
        self.stopped.set()


def test_a_failing_step_backs_off_exponentially_and_a_good_one_resets(caplog: pytest.LogCaptureFixture) -> None:
    loop = Scripted(["raise", "raise", "raise", "ok", "raise", "end"], backoff_s=(0.1, 0.2))
    with caplog.at_level(logging.WARNING, logger="common.lifecycle"):
        loop.start()
        loop.join(WAIT_S)
    assert not loop.is_alive() and loop.stopped.is_set() and loop.script == []
    assert loop.waits == [0.0, 0.1, 0.2, 0.2, 0.0, 0.1]
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 4
    assert errors[0].getMessage() == ("test-loop: the scripted step failed (ConnectionError: server at"
                                      " 127.0.0.1:1 refused); retrying in 0.1 s")
    assert [bool(r.exc_info) for r in errors] == [True, False, False, True]  # the traceback once per run


def test_backoff_never_runs_faster_than_the_interval_and_expected_errors_are_warnings(
        caplog: pytest.LogCaptureFixture) -> None:
    loop = Scripted(["raise", "raise", "end"], interval_s=1.0, first_wait_s=0.0, backoff_s=(0.5, 4.0),
                    expected_errors=(ConnectionError,))
    with caplog.at_level(logging.WARNING, logger="common.lifecycle"):
        loop.start()
        loop.join(WAIT_S)
    assert loop.waits == [0.0, 1.0, 1.0]
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 2
    assert not any(r.exc_info for r in caplog.records)


def test_stop_halts_a_waiting_loop_joins_it_and_runs_on_stop() -> None:
    stopped = threading.Event()
    steps: list[int] = []
    loop = LoopThread("test-loop", what="nothing", interval_s=3600.0, step=lambda: steps.append(1) or None,
                      on_stop=stopped.set)
    loop.start()
    assert loop.stop(timeout=WAIT_S) is True
    assert not loop.is_alive() and stopped.is_set() and steps == []  # halted in its first wait: no round ran


def test_a_step_may_stop_its_own_loop() -> None:
    answers: list[bool] = []
    loop: LoopThread

    def step() -> float | None:
        answers.append(loop.stop(timeout=WAIT_S))  # no self-join: returns at once, still alive
        return 0.0

    loop = LoopThread("test-loop", what="stopping", step=step)
    loop.start()
    loop.join(WAIT_S)
    assert answers == [False] and not loop.is_alive()


def test_a_shared_halt_event_stops_the_loop() -> None:
    halt = threading.Event()
    loop = LoopThread("test-loop", what="nothing", interval_s=3600.0, step=lambda: None, halt=halt)
    loop.start()
    halt.set()
    loop.join(WAIT_S)
    assert not loop.is_alive()


def test_wake_runs_the_next_round_at_once() -> None:
    ran = threading.Condition()
    rounds: list[int] = []

    def step() -> float | None:
        with ran:
            rounds.append(len(rounds) + 1)
            ran.notify_all()
        return None

    loop = LoopThread("test-loop", what="a beat", interval_s=3600.0, step=step, wakeable=True)
    loop.start()
    try:
        for expected in (1, 2):
            loop.wake()
            with ran:
                assert ran.wait_for(lambda expected=expected: len(rounds) >= expected, WAIT_S)
        assert rounds == [1, 2]
    finally:
        assert loop.stop(timeout=WAIT_S)


def test_wake_needs_a_wakeable_loop_that_owns_its_halt() -> None:
    with pytest.raises(RuntimeError, match="not a wakeable loop"):
        LoopThread("test-loop", what="x", step=lambda: None).wake()
    with pytest.raises(ValueError, match="a wakeable loop owns its halt event"):
        LoopThread("test-loop", what="x", step=lambda: None, wakeable=True, halt=threading.Event())


def test_a_loop_without_a_step_is_refused_when_built() -> None:
    with pytest.raises(TypeError, match="needs a step"):
        LoopThread("arbig-test-nostep", what="nothing")
