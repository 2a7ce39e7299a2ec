"""Pure tests of the backoff schedule and the poll loop, on a fake clock."""

from __future__ import annotations

import pytest

from components.core.polling import Backoff, Informed, Predicted, poll_until
from components.errors import QuickSightPromotionError, ThrottledError
from conftest import FakeTime


def test_delay_starts_quick_grows_with_time_waited_and_is_capped() -> None:
    backoff = Backoff(first=1.0, proportion=0.15, cap=20.0, jitter=0.0)
    assert backoff.delay(0.0, 0.5) == 1.0
    assert backoff.delay(5.0, 0.5) == 1.0
    assert backoff.delay(60.0, 0.5) == pytest.approx(9.0)
    assert backoff.delay(3600.0, 0.5) == 20.0


def test_jitter_only_shortens() -> None:
    backoff = Backoff(first=1.0, proportion=0.15, cap=20.0, jitter=0.2)
    assert backoff.delay(3600.0, 0.0) == 20.0
    assert backoff.delay(3600.0, 0.999) == pytest.approx(16.0, abs=0.01)


def test_poll_until_done_counts_polls_and_sleeps_with_backoff() -> None:
    fake = FakeTime()
    finish_at = 120.0
    outcome = poll_until(
        lambda: fake.now,
        lambda now: now >= finish_at,
        timeout=1800,
        sleep=fake.sleep,
        clock=fake.clock,
        draw=lambda: 0.0,
    )
    assert outcome.done
    assert outcome.polls == len(fake.sleeps) + 1
    assert fake.sleeps[:3] == [1.0, 1.0, 1.0]
    assert fake.sleeps == sorted(fake.sleeps)
    # Detection lag stays a small fraction of the job's duration.
    assert outcome.waited - finish_at <= 0.15 * finish_at


def test_deadline_is_never_overslept_and_last_value_is_returned() -> None:
    fake = FakeTime()
    outcome = poll_until(
        lambda: "IN_PROGRESS", lambda s: False, timeout=100, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0
    )
    assert not outcome.done
    assert outcome.value == "IN_PROGRESS"
    assert fake.now == pytest.approx(100.0)
    assert outcome.waited == pytest.approx(100.0)


def test_throttled_polls_do_not_end_the_wait() -> None:
    fake = FakeTime()
    answers = iter([ThrottledError("slow down")] * 5 + ["SUCCESSFUL"])

    def poll() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    outcome = poll_until(poll, lambda s: s == "SUCCESSFUL", timeout=600, sleep=fake.sleep, clock=fake.clock)
    assert outcome.done and outcome.value == "SUCCESSFUL" and outcome.polls == 6


def test_every_poll_throttled_times_out_with_no_value() -> None:
    fake = FakeTime()

    def poll() -> str:
        raise ThrottledError("slow down")

    outcome = poll_until(poll, lambda s: True, timeout=30, sleep=fake.sleep, clock=fake.clock)
    assert not outcome.done and outcome.value is None


def test_other_errors_propagate_at_once() -> None:
    fake = FakeTime()

    def poll() -> str:
        raise QuickSightPromotionError("boom")

    with pytest.raises(QuickSightPromotionError, match="boom"):
        poll_until(poll, lambda s: True, timeout=30, sleep=fake.sleep, clock=fake.clock)
    assert fake.sleeps == []


# --- a schedule around a predicted duration ---------------------------------------------------------------


def poll_times(schedule: object, done_at: float, timeout: float = 7200.0) -> list[float]:
    fake = FakeTime()
    times: list[float] = []

    def poll() -> float:
        times.append(fake.now)
        return fake.now

    poll_until(poll, lambda now: now >= done_at, timeout=timeout, backoff=schedule, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0)  # type: ignore[arg-type]
    return times


def test_a_predicted_wait_polls_sparsely_then_densely_with_a_poll_on_the_predicted_end() -> None:
    schedule = Predicted(expected=600.0, fallback=Backoff(first=2.0, proportion=0.21, cap=30.0, jitter=0.0))

    times = poll_times(schedule, done_at=610.0)

    assert schedule.step == 8.0 and schedule.window == 544.0
    assert times[:4] == [150.0, 300.0, 450.0, 544.0], "a quarter of the prediction apart, then the window"
    assert 600.0 in times and times[-1] == 616.0
    assert all(b - a == pytest.approx(8.0) for a, b in zip(times[3:], times[4:]))


def test_a_short_prediction_polls_first_on_the_predicted_end_and_a_wrong_one_falls_back() -> None:
    assert poll_times(Predicted(expected=20.0, fallback=Backoff(jitter=0.0)), done_at=19.0) == [20.0]
    late = poll_times(Predicted(expected=20.0, fallback=Backoff(first=2.0, proportion=0.21, cap=30.0, jitter=0.0)), done_at=200.0)
    gaps = [b - a for a, b in zip(late, late[1:])]
    assert gaps[:2] == [2.5, 2.5] and max(gaps) > 2.5 and max(gaps) <= 30.0, "past the window: the proportional schedule"
    # An early end (a failure rolling back) is seen within a quarter of the prediction.
    assert poll_times(Predicted(expected=1800.0, fallback=Backoff(jitter=0.0)), done_at=100.0) == [450.0]


def test_the_first_poll_waits_the_initial_delay_never_past_the_deadline() -> None:
    assert poll_times(Backoff(first=2.5, proportion=1.0, cap=5.0, jitter=0.0, initial=2.5), done_at=12.0) == [2.5, 5.0, 10.0, 15.0]
    assert poll_times(Backoff(initial=30.0, jitter=0.0), done_at=0.0, timeout=10.0) == [10.0]


def test_on_wait_is_told_each_poll_before_its_sleep_and_its_time_shortens_the_sleep() -> None:
    fake = FakeTime()
    told: list[tuple[object, float, float]] = []

    def on_wait(value: object, waited: float, delay: float) -> None:
        told.append((value, waited, delay))
        fake.now += 0.5  # the hook's own call takes half a second

    answers = iter(["IN_PROGRESS", "IN_PROGRESS", "DONE"])
    outcome = poll_until(
        lambda: next(answers), lambda s: s == "DONE", timeout=100, backoff=Backoff(first=2.0, proportion=0.0, cap=2.0, jitter=0.0),
        sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0, on_wait=on_wait,
    )  # fmt: skip
    assert outcome.done and told == [("IN_PROGRESS", 0.0, 2.0), ("IN_PROGRESS", 2.0, 2.0)]
    assert fake.sleeps == [1.5, 1.5]  # polls stay 2 s apart


def test_on_wait_never_carries_a_wait_past_its_deadline() -> None:
    fake = FakeTime()

    def slow(value: object, waited: float, delay: float) -> None:
        fake.now += 30.0

    outcome = poll_until(lambda: "IN_PROGRESS", lambda s: False, timeout=10, sleep=fake.sleep, clock=fake.clock, draw=lambda: 0.0, on_wait=slow)
    assert not outcome.done and fake.sleeps == [0.0] and outcome.polls == 2


def test_an_informed_wait_falls_back_until_an_estimate_is_learnt_then_predicts_around_it() -> None:
    fallback = Backoff(first=2.0, proportion=0.21, cap=30.0, jitter=0.0)
    learnt: list[float] = []
    informed = Informed(fallback=fallback, estimate=lambda: learnt[-1] if learnt else None, least=10.0)
    assert informed.initial == fallback.initial and informed.delay(9.0, 0.0) == fallback.delay(9.0, 0.0) == 2.0
    learnt.append(9.0)  # too short to predict anything: the fallback goes on (Predicted would poll every 2.5 s)
    assert informed.delay(9.0, 0.0) == 2.0
    learnt.append(600.0)  # the completed resources project a 10-minute operation
    assert informed.delay(100.0, 0.0) == Predicted(expected=600.0, fallback=fallback).delay(100.0, 0.0) == 150.0
