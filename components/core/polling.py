"""Waiting on an asynchronous job: one small loop with a deadline and injectable sleep/clock.

Pure core: the loop performs no I/O itself; it calls the ``poll`` function it is given.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Callable, Generic, TypeVar

from ..errors import ThrottledError

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

    def delay(self, waited: float, draw: float) -> float:
        """Seconds to sleep after ``waited`` seconds of waiting; ``draw`` is uniform in [0, 1)."""
        base = min(self.cap, max(self.first, self.proportion * waited))
        return base * (1.0 - self.jitter * draw)


DEFAULT_BACKOFF = Backoff()


@dataclass(frozen=True)
class PollOutcome(Generic[T]):
    """What the loop ended with.

    Attributes:
        value: The last value ``poll`` returned (None if every poll was throttled).
        done: Whether ``value`` satisfied ``is_done``.
        waited: Seconds between the first poll and the end.
        polls: Calls made to ``poll``.
    """

    value: T | None
    done: bool
    waited: float
    polls: int


def poll_until(
    poll: Callable[[], T],
    is_done: Callable[[T], bool],
    *,
    timeout: float,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
) -> PollOutcome[T]:
    """Call ``poll`` until ``is_done`` holds or ``timeout`` seconds have passed.

    A ``ThrottledError`` from ``poll`` (botocore's own throttling retries were spent) counts as
    a poll that learnt nothing: the loop keeps its schedule, so a burst of throttling never ends
    the wait early. Any other exception propagates. The last poll is made at the deadline, never
    after it, and a sleep never runs past the deadline.
    """
    start = clock()
    deadline = start + timeout
    value: T | None = None
    polls = 0
    while True:
        polls += 1
        try:
            value = poll()
        except ThrottledError:
            pass
        else:
            if is_done(value):
                return PollOutcome(value, True, clock() - start, polls)
        now = clock()
        if now >= deadline:
            return PollOutcome(value, False, now - start, polls)
        sleep(min(backoff.delay(now - start, draw()), deadline - now))
