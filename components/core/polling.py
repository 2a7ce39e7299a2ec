"""Waiting on an asynchronous job: one small loop with a deadline and injectable sleep/clock.

Pure core: the loop performs no I/O itself; it calls the ``poll`` function it is given.
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from typing import Callable, Generic, Optional, Protocol, TypeVar

from ..errors import TransientError

T = TypeVar("T")


@dataclass(frozen=True)
class Backoff:
    """Delay between polls, as a function of the time already waited.

    Export jobs finish in seconds to a few minutes, sometimes tens of minutes, and nothing
    announces completion (there is no waiter and no event), so the only cost of a slow poll is
    detection lag and the only cost of a fast poll is Describe calls (rate-limited per account).
    Waiting ``proportion`` of the time already waited keeps the lag a fixed fraction of the job's
    duration (quick for short jobs) while the number of calls grows only logarithmically; ``cap``
    bounds the lag of very long jobs.

    The defaults are tuned by ``bench/wait.py`` (see ``bench/README.md``): the mean detection lag
    stays under 10 % of the job's duration from 5 s jobs on and under 15 s for any job (the
    longest delay, ``cap``, averages 27 s with jitter, so half of it is ~14 s), it beats a fixed
    5 s poll for jobs under 30 s, and a job of 10 minutes costs 36 % of that poll's Describe
    calls (52 % at 5 minutes, 27 % at 20). The first 5 s are polled every second (a 5 s job must
    be seen within 0.5 s); past that, each delay is 21 % of the time waited (more would push the
    lag over 10 %), up to ``cap`` (more would push it over 15 s).

    Attributes:
        first: Shortest delay, seconds. One second: a small export finishes in a few seconds.
        proportion: Delay as a fraction of the time waited so far.
        cap: Longest delay, seconds, reached after ``cap / proportion`` (~2.4 minutes) of waiting.
        jitter: Fraction of the delay removed at random, so that several stacks waiting in one
            account (at most 5 export jobs run at once) do not poll in lock-step. Jitter only
            shortens a delay, so ``cap`` stays a true bound.
    """

    first: float = 1.0
    proportion: float = 0.21
    cap: float = 30.0
    jitter: float = 0.2
    # Seconds before the first poll (0: poll at once), for work that is never done that soon.
    initial: float = 0.0

    def delay(self, waited: float, draw: float) -> float:
        """Seconds to sleep after ``waited`` seconds of waiting; ``draw`` is uniform in [0, 1)."""
        base = min(self.cap, max(self.first, self.proportion * waited))
        return base * (1.0 - self.jitter * draw)


DEFAULT_BACKOFF = Backoff()


class Schedule(Protocol):
    """What ``poll_until`` asks of a schedule: the wait before the first poll, and each delay after."""

    @property
    def initial(self) -> float: ...

    def delay(self, waited: float, draw: float) -> float: ...


@dataclass(frozen=True)
class Predicted:
    """A schedule around a predicted duration: sparse while little can have changed, dense near the end.

    Used when the work's duration is known from before (a stack operation's previous duration,
    ``bench/deploy.py``): a fixed or proportional schedule pays either lag or calls everywhere,
    this one pays them only where the end is likely.

    - Before the window, one poll every ``sparse`` of ``expected`` (at least ``min_sparse`` s, so that
      an early end, such as a failure rolling back, is still seen within a quarter of the expected
      duration), the last one landing on the window's start.
    - The window starts at the whole number of ``step`` before ``expected`` that is nearest ``start``
      of it, so that one poll lands on ``expected`` itself; in it, one poll every ``step``
      (``expected``/15 between ``min_step`` and ``max_step``: a 20 s operation is polled every 2.5 s
      near its end, a 30-minute one every 8 s), to ``end`` of ``expected``.
    - Past the window, ``fallback`` (its proportional schedule), never sparser than ``step``.

    Attributes:
        expected: The predicted duration, seconds (> 0).
        fallback: The schedule once the prediction is passed.
        start, end: The earliest start and the end of the window, as fractions of ``expected``.
        sparse: The sparse phase's interval, as a fraction of ``expected`` (at least ``min_sparse`` s).
        min_step, max_step: The bounds of the step in the window.
        jitter: Fraction of a step removed at random (only shortens it).
    """

    expected: float
    fallback: Backoff
    start: float = 0.9
    end: float = 1.25
    sparse: float = 0.25
    min_sparse: float = 60.0
    min_step: float = 2.5
    max_step: float = 8.0
    jitter: float = 0.1

    @property
    def step(self) -> float:
        """The interval of the dense phase."""
        return min(self.max_step, max(self.min_step, self.expected / 15.0))

    @property
    def window(self) -> float:
        """When the dense phase starts: whole steps before ``expected``, not before ``start`` of it."""
        return self.expected - self.step * math.floor((1.0 - self.start) * self.expected / self.step)

    @property
    def initial(self) -> float:
        """The wait before the first poll: the start of the window, or the first sparse interval."""
        return min(self.window, max(self.min_sparse, self.sparse * self.expected))

    def delay(self, waited: float, draw: float) -> float:
        """Seconds to sleep after ``waited`` seconds of waiting; ``draw`` is uniform in [0, 1)."""
        window = self.window
        if waited < window - 1e-9:
            return min(window - waited, max(self.min_sparse, self.sparse * self.expected))
        step = self.step * (1.0 - self.jitter * draw)
        if waited < self.end * self.expected:
            return step
        return max(step, self.fallback.delay(waited, draw))


@dataclass(frozen=True)
class Informed:
    """A schedule that follows an estimate learnt while waiting: ``Predicted`` around it once known, else ``fallback``.

    Used for a stack operation with no previous duration: the resources completed so far project
    its end (``core.stacks.projected_seconds``), and the wait then polls sparsely until near it.

    Attributes:
        fallback: The schedule while there is no estimate (and its first wait).
        estimate: The current estimate of the whole duration, seconds (None: none yet); read at each delay.
        least: Estimates under this many seconds predict nothing useful: ``fallback`` goes on.
    """

    fallback: Backoff
    estimate: Callable[[], Optional[float]]
    least: float = 0.0

    @property
    def initial(self) -> float:
        """The fallback's: nothing is known before the first poll."""
        return self.fallback.initial

    def delay(self, waited: float, draw: float) -> float:
        """``Predicted``'s delay around the current estimate, or the fallback's."""
        expected = self.estimate()
        if expected is None or expected < self.least:
            return self.fallback.delay(waited, draw)
        return Predicted(expected=expected, fallback=self.fallback).delay(waited, draw)


@dataclass(frozen=True)
class Deadline:
    """An absolute point in time on an injectable clock: the one bound of a whole operation.

    A wait is made of many steps (polls, re-describes, a download); each step asks how much time
    is left and fits its own timeouts to it, so that no single step can carry the operation past
    its bound (a request timeout renewed per attempt or per received byte would).

    Attributes:
        at: The deadline, in ``clock()`` seconds.
        seconds: The whole budget the deadline was made with (for messages).
        clock: The clock ``at`` is measured on.
    """

    at: float
    seconds: float
    clock: Callable[[], float] = time.monotonic

    @classmethod
    def after(cls, seconds: float, clock: Callable[[], float] = time.monotonic) -> "Deadline":
        """The deadline ``seconds`` from now on ``clock``."""
        return cls(clock() + seconds, seconds, clock)

    def remaining(self) -> float:
        """Seconds left (negative once passed)."""
        return self.at - self.clock()

    @property
    def passed(self) -> bool:
        """Whether the deadline is reached."""
        return self.remaining() <= 0


@dataclass(frozen=True)
class PollOutcome(Generic[T]):
    """What the loop ended with.

    Attributes:
        value: The last value ``poll`` returned (None if every poll met a transient fault).
        done: Whether ``value`` satisfied ``is_done``.
        waited: Seconds between the first poll and the end.
        polls: Calls made to ``poll``.
        last_error: The last transient fault a poll met (None if none did), for the timeout message.
    """

    value: T | None
    done: bool
    waited: float
    polls: int
    last_error: TransientError | None = None


def poll_until(
    poll: Callable[[], T],
    is_done: Callable[[T], bool],
    *,
    timeout: float,
    backoff: Schedule = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
    on_wait: Optional[Callable[[Optional[T], float, float], None]] = None,
) -> PollOutcome[T]:
    """Call ``poll`` until ``is_done`` holds or ``timeout`` seconds have passed.

    A ``TransientError`` from ``poll`` (throttling, 5xx answers, resets or timeouts that
    botocore's own retries did not absorb) counts as a poll that learnt nothing: the loop keeps
    its schedule, so a burst of faults never ends the wait early, and the last one is reported in
    the outcome. Any other exception propagates (a permanent fault fails at once). The last poll is
    made at the deadline, never after it, and a sleep never runs past the deadline; ``poll`` itself
    must bound its calls by the time left (see ``Deadline``). The first poll is made after the
    schedule's ``initial`` wait (bounded by the deadline too).

    ``on_wait`` (progress) is called once before each sleep with the last value (None if the poll
    met a transient fault), the seconds waited and the coming delay, which is then asked of the
    schedule again (so that what ``on_wait`` learnt shapes it); its own time counts against the
    deadline (the sleep is shortened, never the deadline moved).
    """
    start = clock()
    deadline = start + timeout
    value: T | None = None
    last_error: TransientError | None = None
    polls = 0
    if backoff.initial > 0:
        sleep(min(backoff.initial, max(0.0, timeout)))
    while True:
        polls += 1
        try:
            value = poll()
        except TransientError as exc:
            last_error = exc
        else:
            if is_done(value):
                return PollOutcome(value, True, clock() - start, polls, last_error)
        now = clock()
        if now >= deadline:
            return PollOutcome(value, False, now - start, polls, last_error)
        chance = draw()
        delay = backoff.delay(now - start, chance)
        if on_wait is not None:
            on_wait(value, now - start, delay)
            # Asked again: what on_wait learnt (an ``Informed`` estimate) shapes this very sleep.
            delay = backoff.delay(now - start, chance)
            sleep(max(0.0, min(now + delay, deadline) - clock()))
        else:
            sleep(min(delay, deadline - now))
