"""The overall per-bot window counts a request from its send until a window after its
answer, so that the server's count (at arrival, somewhere in between) never exceeds it."""

from __future__ import annotations

import pytest

from syndicator.push.pacing import IN_FLIGHT_POLL, SharedWindow


class Clock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.on_sleep: list[tuple[float, SharedWindow]] = []   # (release at, window)

    def monotonic(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds > 0
        self.slept.append(seconds)
        self.now += seconds
        while self.on_sleep and self.on_sleep[0][0] <= self.now:
            _, window = self.on_sleep.pop(0)
            window.release()


def test_a_place_frees_one_window_after_the_answer_not_after_the_send() -> None:
    clock = Clock()
    window = SharedWindow(3, 1.0, monotonic=clock.monotonic, sleep=clock.sleep)
    for _ in range(3):
        window.acquire()
    assert clock.slept == []
    for answered in (0.3, 0.5, 0.7):
        clock.now = answered
        window.release()
    window.acquire()                       # waits for the first answer's window to pass
    assert clock.now == pytest.approx(1.3)
    window.release()                       # answered at 1.3
    window.acquire()                       # second answer (0.5) + 1
    assert clock.now == pytest.approx(1.5)


def test_requests_in_flight_hold_their_place_until_answered() -> None:
    clock = Clock()
    window = SharedWindow(2, 1.0, monotonic=clock.monotonic, sleep=clock.sleep)
    window.acquire()
    window.acquire()
    # Both requests still wait for their answers: a third must wait for an answer, then
    # for a window after it (a send-time window would have let it go at t = 1.0).
    clock.on_sleep.append((2.0, window))
    window.acquire()
    assert clock.now == pytest.approx(3.0, abs=2 * IN_FLIGHT_POLL)
    assert min(clock.slept) == pytest.approx(IN_FLIGHT_POLL)


def test_a_full_window_of_answers_paces_to_the_limit() -> None:
    clock = Clock()
    window = SharedWindow(5, 1.0, monotonic=clock.monotonic, sleep=clock.sleep)
    sent = []
    while clock.now < 10.0:
        window.acquire()
        sent.append(clock.now)
        window.release()                   # answered at once
    # Never more than 5 in any one-second window, and the pace is the limit.
    for index in range(5, len(sent)):
        assert sent[index] - sent[index - 5] >= 1.0 - 1e-9
    assert len(sent) == pytest.approx(50, abs=5)
