"""Figure 2: provider overhead, ``create`` through the engine harness against the raw steps by hand.

Against the loopback emulator (the job already SUCCESSFUL, ``generate_bundle(scale=2)``
pretty-printed, ~0.5 MB), side by side in one run:

- provider start-up: ``python -u -m pulumi.dynamic`` spawned until its gRPC channel is ready and
  Configure answered (the engine's part before any resource call), median of several processes;
- the first Check and the first Create of each process (cold: dill imports ``components``,
  ``components.aws`` imports boto3 and botocore loads the QuickSight model), reported apart;
- warm ``Create`` calls through the harness (the provider's whole work as the engine sees it:
  gRPC, property (de)serialisation, dill, input validation, a new boto3 client on the process's
  shared botocore data loader, Describe, download, unpack, catalog, stage values, outputs),
  interleaved with
- the raw steps by hand: a new boto3 client, one Describe, one GET of the URL, ``json.loads``
  (and, for information, the same with one reused client, which like the provider does not parse
  the service model again), all in one long-lived minimal interpreter (``bench/_raw_steps.py``:
  boto3, urllib and json only) driven step by step, so that neither side pays for the other's
  heap (botocore's model loading slows down measurably in a process holding pulumi, grpc and the
  emulator).

The target ratio is warm Create / raw steps. The timings can be bimodal (a run either includes
a full garbage collection of the process or not), so a median can land in either mode by chance;
the verdict therefore uses the ratio of the totals over all interleaved rounds (the amortised
cost), and the median of per-round ratios and the ratio of medians are printed beside it. The
Create's work is then broken down in a provider-like process (``bench/_create_breakdown.py``: the
provider called directly, each stage wrapped with a timer, collections timed).

Run alone: ``python bench/overhead.py [--quick]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any, Callable

import _common
from _common import Row, median, provider_props, table

from tools.generator import dump_bundle, generate_bundle
from emulator import QuickSightEmulator
from engine import EngineHarness

JOB = "overhead-job"
RAW_CHILD = str(_common.REPO / "bench" / "_raw_steps.py")
BREAKDOWN_CHILD = str(_common.REPO / "bench" / "_create_breakdown.py")


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def cpu_seconds(pid: int) -> float:
    """CPU time of every live thread of a process (Linux schedstat), in seconds."""
    total = 0
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            with open(f"/proc/{pid}/task/{tid}/schedstat", encoding="ascii") as fh:
                total += int(fh.read().split()[0])
        except (OSError, ValueError, IndexError):
            pass
    return total / 1e9


def run(quick: bool = False) -> list[Row]:
    processes = 2 if quick else 3
    rounds = 9 if quick else 31
    doc = generate_bundle(scale=2)
    payload = dump_bundle(doc).encode("utf-8")
    props = provider_props(doc, JOB)
    startups, first_checks, first_creates = [], [], []
    creates, raws, raws_reused = [], [], []
    with QuickSightEmulator() as emu:
        emu.add_job(JOB, payload=payload)
        env = emu.env()
        harnesses: list[EngineHarness] = []
        raw = subprocess.Popen(
            [sys.executable, RAW_CHILD, JOB], env={**_common.clean_env(), **env},
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
        )

        def ask(command: str) -> tuple[float, float]:
            assert raw.stdin is not None and raw.stdout is not None
            raw.stdin.write(command + "\n")
            raw.stdin.flush()
            wall, cpu = raw.stdout.readline().split()
            return float(wall), float(cpu)

        def create(harness: EngineHarness) -> tuple[float, float]:
            assert harness.process is not None
            cpu = cpu_seconds(harness.process.pid)
            wall = _timed(lambda: harness.create_raw(props))
            return wall, cpu_seconds(harness.process.pid) - cpu

        try:
            for _ in range(processes):
                engine = EngineHarness(env=env)
                startups.append(_timed(engine.start))
                harnesses.append(engine)
                first_checks.append(_timed(lambda e=engine: e.check({}, props)))
                first_creates.append(_timed(lambda e=engine: e.create_raw(props)))
            engine = harnesses[-1]
            ask("new")
            for i in range(rounds):
                steps = [
                    lambda: creates.append(create(engine)),
                    lambda: raws.append(ask("new")),
                    lambda: raws_reused.append(ask("reused")),
                ]
                for step in steps if i % 2 == 0 else reversed(steps):
                    step()
        finally:
            for h in harnesses:
                h.close()
            assert raw.stdin is not None
            raw.stdin.write("quit\n")
            raw.stdin.close()
            raw.wait(timeout=30)
        done = subprocess.run(
            [sys.executable, BREAKDOWN_CHILD, str(3 if quick else 5)], input=json.dumps(props),
            env={**_common.clean_env(), **env}, cwd=str(_common.REPO), capture_output=True, text=True, timeout=300,
        )
        if done.returncode != 0:
            raise RuntimeError(f"breakdown child failed: {done.stderr[-2000:]}")
        parts = json.loads(done.stdout)

    m = {name: median(v) for name, v in (
        ("startup", startups), ("check1", first_checks), ("create1", first_creates),
        ("create", [w for w, _ in creates]),
        ("raw", [w for w, _ in raws]), ("raw_reused", [w for w, _ in raws_reused]),
        ("create_cpu", [c for _, c in creates]), ("raw_cpu", [c for _, c in raws]),
    )}
    ratio = m["create"] / m["raw"]
    paired = median([c[0] / r[0] for c, r in zip(creates, raws)])
    paired_cpu = median([c[1] / r[1] for c, r in zip(creates, raws)])
    mean_ratio = sum(w for w, _ in creates) / sum(w for w, _ in raws)
    mean_cpu = sum(c for _, c in creates) / sum(c for _, c in raws)
    mean_reused = sum(w for w, _ in creates) / sum(w for w, _ in raws_reused)
    cpu_ratio = m["create_cpu"] / m["raw_cpu"]
    print(f"Figure 2: provider overhead (template {len(payload):,} bytes pretty; medians of {rounds} interleaved "
          f"rounds, {processes} provider processes; CPU = the process's own CPU time)")
    print(table(["step", "median wall", "vs raw", "median CPU", "vs raw (CPU)"], [
        ["provider start-up (spawn to gRPC ready + Configure)", f"{1000 * m['startup']:.0f} ms", "", "", ""],
        ["first Check (cold: dill imports components)", f"{1000 * m['check1']:.0f} ms", "", "", ""],
        ["first Create (cold: boto3 import, first model load)", f"{1000 * m['create1']:.0f} ms",
         f"{m['create1'] / m['raw']:.2f}x", "", ""],
        ["warm Create through the harness", f"{1000 * m['create']:.1f} ms", f"{ratio:.2f}x",
         f"{1000 * m['create_cpu']:.1f} ms", f"{cpu_ratio:.2f}x"],
        ["raw steps (minimal process): new client, Describe, GET, json.loads", f"{1000 * m['raw']:.1f} ms",
         "1.00x", f"{1000 * m['raw_cpu']:.1f} ms", "1.00x"],
        ["raw steps with one reused client", f"{1000 * m['raw_reused']:.1f} ms",
         f"{m['raw_reused'] / m['raw']:.2f}x", "", ""],
    ]))
    print(f"Create / raw steps: ratio of totals {mean_ratio:.2f}x wall, {mean_cpu:.2f}x CPU; median of per-round "
          f"ratios {paired:.2f}x wall, {paired_cpu:.2f}x CPU; ratio of medians {ratio:.2f}x wall, {cpu_ratio:.2f}x CPU")
    print(f"Create / raw steps with one reused client: ratio of totals {mean_reused:.2f}x wall")
    print("sorted warm Create / raw steps, wall ms (a full garbage collection of the process or not):")
    print("  create: " + " ".join(f"{1000 * w:.0f}" for w in sorted(w for w, _ in creates)))
    print("  raw:    " + " ".join(f"{1000 * w:.0f}" for w in sorted(w for w, _ in raws)))
    total = parts["total"]
    lines = [[name, f"{1000 * t:.1f} ms", f"{100 * t / total:.0f} %"] for name, t in parts["stages"]]
    rest = total - sum(t for _, t in parts["stages"])
    lines.append(["the rest (pydantic inputs/outputs, model_dump, ...)", f"{1000 * rest:.1f} ms",
                  f"{100 * rest / total:.0f} %"])
    lines.append(["create (stages timed)", f"{1000 * total:.1f} ms", "100 %"])
    lines.append(["  of which garbage collection, all stages", f"{1000 * parts['gc']:.1f} ms",
                  f"{100 * parts['gc'] / total:.0f} %"])
    print("\nWhere a warm create's time goes (provider-like process, each stage timed):")
    print(table(["stage", "per create", "share"], lines))
    print("\ncProfile of direct fetch_export calls, functions by own time (profiler-inflated):")
    print(table(["function", "own time per call", "share"],
                [[name, f"{1000 * t:.1f} ms", f"{100 * share:.0f} %"] for name, t, share in parts["profile"]]))
    fig = "2 overhead"
    return [
        Row(fig, f"warm Create (harness) / raw steps, totals of {rounds} rounds",
            f"{mean_ratio:.2f}x wall, {mean_cpu:.2f}x CPU", "<= 1.15", max(mean_ratio, mean_cpu) <= 1.15),
        Row(fig, "same: median of paired rounds / ratio of medians",
            f"{paired:.2f}x / {ratio:.2f}x wall", ""),
        Row(fig, "provider start-up (separate)", f"{1000 * m['startup']:.0f} ms, + first Check "
            f"{1000 * m['check1']:.0f} ms", ""),
        Row(fig, "first (cold) Create / raw steps", f"{m['create1'] / m['raw']:.2f}x", ""),
        Row(fig, "warm Create / raw steps with one reused client", f"{mean_reused:.2f}x wall (totals)", ""),
    ]


if __name__ == "__main__":
    sys.exit(_common.main_for(run))
