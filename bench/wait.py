"""Figure 1: export wait, detection lag and Describe calls per job, on a simulated clock.

Every poller runs through the real ``poll_until`` with a fake clock and fake sleep: a poll at
time t sees SUCCESSFUL iff t >= T, where T is when the job completes. For a nominal duration D,
T is spread evenly over [0.9 D, 1.1 D] (the phase of each poller's schedule against the
completion, so that a fixed 5 s poller is not lucky at D = 5k); the same T values serve every
poller. Our poller's jitter draws come from a seeded generator. The mix spreads T evenly in
log scale from 5 s to 20 minutes.

Pollers: ours (``DEFAULT_BACKOFF``), the previous defaults (first 1 s, 15 %, cap 20 s, jitter 0.2),
a fixed 5 s poll, doubling 1, 2, 4, 8 ... s uncapped, and doubling capped at 60 s. All poll
once at t = 0 and once more at the deadline (1800 s, the default ``timeout_seconds``).

Run alone: ``python bench/wait.py [--quick]``.
"""

from __future__ import annotations

import math
import random
import sys
import zlib
from dataclasses import dataclass
from typing import Any, Callable, Optional

import _common
from _common import Row, table

from components.core.polling import DEFAULT_BACKOFF, Backoff, poll_until
from components.errors import ThrottledError

TIMEOUT = 1800.0
DURATIONS = [5, 10, 15, 20, 25, 30, 45, 60, 120, 180, 300, 450, 600, 900, 1200]
SPREAD = 0.1
OLD_DEFAULTS = Backoff(first=1.0, proportion=0.15, cap=20.0, jitter=0.2)


class Fixed:
    """A fixed interval."""

    def __init__(self, interval: float = 5.0) -> None:
        self.interval = interval

    def delay(self, waited: float, draw: float) -> float:
        return self.interval


class Doubling:
    """1, 2, 4, 8 ... seconds, optionally capped; stateful, so one instance per wait."""

    def __init__(self, first: float = 1.0, cap: Optional[float] = None) -> None:
        self.next = first
        self.cap = cap

    def delay(self, waited: float, draw: float) -> float:
        value = self.next if self.cap is None else min(self.cap, self.next)
        self.next *= 2
        return value


POLLERS: dict[str, Callable[[], Any]] = {
    "ours": lambda: DEFAULT_BACKOFF,
    "old defaults": lambda: OLD_DEFAULTS,
    "fixed 5 s": lambda: Fixed(5.0),
    "doubling": lambda: Doubling(1.0, None),
    "doubling cap 60": lambda: Doubling(1.0, 60.0),
}


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        assert seconds >= 0
        self.now += seconds


@dataclass
class Wait:
    done: bool
    lag: float  # seconds after completion that a poll saw it (inf if never)
    calls: int
    waited: float


def simulate(
    schedule: Any,
    completes_at: float,
    draw: Callable[[], float],
    *,
    timeout: float = TIMEOUT,
    throttled: Callable[[float], bool] = lambda t: False,
) -> Wait:
    fake = FakeClock()

    def poll() -> bool:
        if throttled(fake.now):
            raise ThrottledError("simulated throttling")
        return fake.now >= completes_at

    out = poll_until(
        poll, bool, timeout=timeout, backoff=schedule, sleep=fake.sleep, clock=fake.clock, draw=draw
    )
    lag = out.waited - completes_at if out.done else math.inf
    return Wait(out.done, lag, out.polls, out.waited)


@dataclass
class Stats:
    mean_lag: float
    max_lag: float
    mean_calls: float
    mean_ratio: float  # mean of lag / T
    done: float  # fraction of waits that saw the completion


def measure(name: str, times: list[float], seed: int) -> Stats:
    rng = random.Random(seed)
    waits = [simulate(POLLERS[name](), t, rng.random) for t in times]
    lags = [w.lag for w in waits]
    return Stats(
        mean_lag=sum(lags) / len(lags),
        max_lag=max(lags),
        mean_calls=sum(w.calls for w in waits) / len(waits),
        mean_ratio=sum(w.lag / t for w, t in zip(waits, times)) / len(waits),
        done=sum(w.done for w in waits) / len(waits),
    )


def deadline_check(trials: int) -> tuple[bool, str]:
    """Jobs finishing at 29 min and at 29:59 are seen with the 1800 s timeout; no poll after it."""
    rng = random.Random(7)
    seen = 0
    total = 0
    latest = 0.0
    for completes_at in (29 * 60.0, 1799.0):
        for _ in range(trials):
            wait = simulate(DEFAULT_BACKOFF, completes_at, rng.random)
            seen += wait.done
            total += 1
            latest = max(latest, wait.waited)
    never = simulate(DEFAULT_BACKOFF, 1801.0, rng.random)
    ok = seen == total and latest <= TIMEOUT and not never.done and never.waited == TIMEOUT
    return ok, f"{seen}/{total} seen, last poll at {latest:.0f} s (a 1801 s job: gave up at {never.waited:.0f} s)"


def throttle_checks(trials: int) -> list[tuple[str, bool, str]]:
    """Bursts of ThrottledError: through poll_until, and through wait_for_export_job with a stub client."""
    results = []
    rng = random.Random(11)
    for label, completes_at, start, end in (
        ("first 60 s throttled, 20 s job", 20.0, 0.0, 60.0),
        ("3 min throttled around a 5 min job", 300.0, 240.0, 420.0),
        ("10 min throttled, 15 min job", 900.0, 600.0, 1200.0),
    ):
        waits = [
            simulate(DEFAULT_BACKOFF, completes_at, rng.random, throttled=lambda t, a=start, b=end: a <= t < b)
            for _ in range(trials)
        ]
        done = sum(w.done for w in waits)
        after = sum(w.waited - end for w in waits) / len(waits)
        results.append(
            (label, done == trials, f"{done}/{trials} completed, seen {after:.1f} s after the burst on average")
        )
    results.append(_through_wait_for_export_job())
    return results


def _through_wait_for_export_job() -> tuple[str, bool, str]:
    """The real AWS boundary: botocore ThrottlingException answers for 4 minutes, job done at 60 s."""
    from botocore.exceptions import ClientError

    from components.aws import JobRef, wait_for_export_job

    fake = FakeClock()
    calls = {"throttled": 0, "answered": 0}

    class StubClient:
        def describe_asset_bundle_export_job(self, **_: Any) -> dict[str, Any]:
            if 30.0 <= fake.now < 270.0:
                calls["throttled"] += 1
                raise ClientError(
                    {"Error": {"Code": "ThrottlingException", "Message": "Rate exceeded"},
                     "ResponseMetadata": {"HTTPStatusCode": 429}},
                    "DescribeAssetBundleExportJob",
                )
            calls["answered"] += 1
            status = "SUCCESSFUL" if fake.now >= 60.0 else "IN_PROGRESS"
            answer = {"AssetBundleExportJobId": "job", "JobStatus": status, "ExportFormat": "CLOUDFORMATION_JSON"}
            if status == "SUCCESSFUL":
                answer["DownloadUrl"] = "https://example.invalid/x"
            return answer

    try:
        description = wait_for_export_job(
            StubClient(), JobRef(_common.ACCOUNT, "job", "us-east-1"), timeout=TIMEOUT,
            sleep=fake.sleep, clock=fake.clock, draw=random.Random(3).random,
        )
        ok = description.status == "SUCCESSFUL"
        detail = f"SUCCESSFUL at {fake.now:.0f} s after {calls['throttled']} throttled Describes"
    except Exception as exc:  # noqa: BLE001  (the row reports any failure)
        ok, detail = False, f"failed: {type(exc).__name__}: {exc}"
    return ("wait_for_export_job, Describe throttled 30-270 s, job done at 60 s", ok, detail)


# Other points of the same schedule family, to show the trade-off between the lag and call targets.
FRONTIER = [
    Backoff(first=1.0, proportion=0.15, cap=20.0, jitter=0.2),
    Backoff(first=1.0, proportion=0.21, cap=30.0, jitter=0.2),
    Backoff(first=1.0, proportion=0.22, cap=32.0, jitter=0.2),
    Backoff(first=1.0, proportion=0.21, cap=31.0, jitter=0.15),
    Backoff(first=1.0, proportion=0.23, cap=33.0, jitter=0.2),
]


def trade_off(spreads: dict[int, list[float]], trials: int) -> list[list[str]]:
    """Worst lag share, worst mean lag and call ratios for each Backoff of FRONTIER."""
    fixed = {d: measure("fixed 5 s", times[:trials], seed=1) for d, times in spreads.items()}
    lines = []
    for backoff in FRONTIER:
        POLLERS["_candidate"] = lambda b=backoff: b
        ours = {d: measure("_candidate", times[:trials], seed=2) for d, times in spreads.items()}
        share = max(ours[d].mean_lag / (0.1 * d) for d in ours)
        short = max(ours[d].mean_lag / fixed[d].mean_lag for d in ours if d < 30)
        lines.append([
            f"first={backoff.first}, proportion={backoff.proportion}, cap={backoff.cap}, jitter={backoff.jitter}"
            + (" (default)" if backoff == DEFAULT_BACKOFF else ""),
            f"{10 * share:.1f} %",
            f"{max(o.mean_lag for o in ours.values()):.1f} s",
            f"{short:.2f}x",
            f"{ours[300].mean_calls / fixed[300].mean_calls:.3f}",
            f"{max(ours[d].mean_calls / fixed[d].mean_calls for d in ours if d >= 600):.3f}",
        ])
    del POLLERS["_candidate"]
    print(f"\nTrade-off along the schedule family ({trials} waits per cell; targets 10 %, 15 s, < 1x, 0.5, 0.333):")
    print(table(["Backoff", "worst lag/D", "worst mean lag", "vs fixed < 30 s", "calls 5 min", "calls >= 10 min"], lines))
    return lines


def run(quick: bool = False) -> list[Row]:
    trials = 500 if quick else 2000
    rng = random.Random(2026)
    # Completion times evenly spread over [0.9 D, 1.1 D] (stratified: every phase equally often,
    # so only the jitter draws are random), shuffled so that a prefix is a fair sample too.
    spreads = {}
    for d in DURATIONS:
        times = [d * (1 - SPREAD + 2 * SPREAD * (i + 0.5) / trials) for i in range(trials)]
        rng.shuffle(times)
        spreads[d] = times
    low, high = math.log(5), math.log(1200)
    mix = [math.exp(low + (high - low) * (i + 0.5) / trials) for i in range(trials)]
    names = list(POLLERS)
    stats = {
        (name, key): measure(name, times, seed=zlib.crc32(f"{name}|{key}".encode()))
        for name in names
        for key, times in [*spreads.items(), ("mix", mix)]
    }
    b = DEFAULT_BACKOFF
    print(
        f"Figure 1: export wait ({trials} waits per cell; T spread evenly over [0.9 D, 1.1 D]; timeout {TIMEOUT:.0f} s)\n"
        f"ours = Backoff(first={b.first}, proportion={b.proportion}, cap={b.cap}, jitter={b.jitter}); "
        "cells: mean lag s / max lag s / mean Describe calls"
    )
    headers = ["D", *names, "ours lag/D", "ours calls / fixed"]
    lines = []
    for key in [*DURATIONS, "mix"]:
        cells = [f"{key} s" if key != "mix" else "mix 5 s-20 min (log-uniform)"]
        for name in names:
            s = stats[(name, key)]
            cells.append(f"{s.mean_lag:.2f} / {s.max_lag:.1f} / {s.mean_calls:.1f}")
        ours, fixed = stats[("ours", key)], stats[("fixed 5 s", key)]
        ratio = ours.mean_lag / key if key != "mix" else ours.mean_ratio
        cells += [f"{100 * ratio:.1f} %", f"{ours.mean_calls / fixed.mean_calls:.3f}"]
        lines.append(cells)
    print(table(headers, lines))

    ours = {d: stats[("ours", d)] for d in DURATIONS}
    fixed = {d: stats[("fixed 5 s", d)] for d in DURATIONS}
    worst_share, worst_d = max((ours[d].mean_lag / (0.1 * d), d) for d in DURATIONS)
    worst_mean = max(ours[d].mean_lag for d in DURATIONS)
    worst_max = max(ours[d].max_lag for d in DURATIONS)
    short = max((ours[d].mean_lag / fixed[d].mean_lag, d) for d in DURATIONS if d < 30)
    five = ours[300].mean_calls / fixed[300].mean_calls
    ten = max((ours[d].mean_calls / fixed[d].mean_calls, d) for d in DURATIONS if d >= 600)
    deadline_ok, deadline_text = deadline_check(trials // 4)
    throttles = throttle_checks(trials // 4)
    print("\nThrottling bursts (ours):")
    print(table(["burst", "completed", "detail"], [(t[0], "yes" if t[1] else "NO", t[2]) for t in throttles]))

    frontier = trade_off(spreads, trials // 2)

    fig = "1 wait"
    rows = [
        Row(fig, "mean lag / D, worst D (5 s-20 min)", f"{10 * worst_share:.1f} % (D={worst_d} s)", "<= 10 %",
            worst_share <= 1.0),
        Row(fig, "mean lag, worst D", f"{worst_mean:.1f} s", "<= 15 s", worst_mean <= 15.0),
        Row(fig, "max lag over all waits (strict reading)", f"{worst_max:.1f} s", "<= 15 s (see README)",
            worst_max <= 15.0),
        Row(fig, "mean lag vs fixed 5 s, jobs < 30 s (worst)", f"{short[0]:.2f}x (D={short[1]} s)", "< 1x",
            short[0] < 1.0),
        Row(fig, "calls vs fixed 5 s, 5 min job", f"{five:.3f}", "<= 0.5", five <= 0.5),
        Row(fig, "calls vs fixed 5 s, >= 10 min (worst)", f"{ten[0]:.3f} (D={ten[1]} s)", "<= 0.333",
            ten[0] <= 1 / 3),
        Row(fig, "jobs done at 29:00 / 29:59, timeout 1800 s", deadline_text, "all seen", deadline_ok),
        Row(fig, "throttling bursts (4 scenarios)",
            f"{sum(t[1] for t in throttles)}/{len(throttles)} completed", "all complete",
            all(t[1] for t in throttles)),
    ]
    mix_o, mix_f = stats[("ours", "mix")], stats[("fixed 5 s", "mix")]
    rows.append(Row(fig, "mix: mean lag/T, calls vs fixed",
                    f"{100 * mix_o.mean_ratio:.1f} %, {mix_o.mean_calls / mix_f.mean_calls:.3f}", ""))
    return rows


if __name__ == "__main__":
    sys.exit(_common.main_for(run))
