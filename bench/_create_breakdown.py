"""Child of bench/overhead.py: a warm ``create`` broken down by stage, in a provider-like process.

The process imports what ``python -m pulumi.dynamic`` holds (pulumi's runtime, grpc, dill) and the
provider, so that its heap, and so the cost of garbage collection, resembles the provider's. Each
stage is wrapped with a timer (no profiler, whose per-call cost would inflate the call-heavy
stages) and collections are timed through ``gc.callbacks``. Usage: ``python
bench/_create_breakdown.py ROUNDS`` with the inputs as JSON on stdin and the emulator's AWS_*
environment; prints one JSON object. It also profiles direct ``fetch_export`` calls with cProfile
(inflated by the profiler, but it names the hot functions).
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any, Callable

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import dill  # noqa: E402,F401  (held by the provider process)
import grpc  # noqa: E402,F401
import pulumi.dynamic  # noqa: E402,F401
import pulumi.runtime.proto  # noqa: E402,F401


def _timed(fn: Callable[[], Any]) -> float:
    start = time.perf_counter()
    fn()
    return time.perf_counter() - start


def breakdown(props: dict[str, Any], rounds: int) -> dict[str, Any]:
    """Where a warm in-process create spends its time: each stage wrapped with a timer (no profiler,
    whose per-call cost would inflate the call-heavy stages), plus the time in garbage collection."""
    import gc

    from components import provider as provider_module
    from components.aws import quicksight as aws

    stages = [
        ("boto3 session + client (new per create)", aws, "quicksight_client"),
        ("Describe + pydantic (wait_for_export_job)", aws, "wait_for_export_job"),
        ("download_to (GET, sha256, spool)", aws, "download_to"),
        ("unpack_bundle (decode, json.loads, compact)", aws, "unpack_bundle"),
        ("build_catalog", provider_module, "build_catalog"),
        ("stage values (resolve_parameters)", provider_module, "_resolve"),
        ("summarize_resources", provider_module, "summarize_resources"),
    ]
    spent = {name: 0.0 for name, _, _ in stages}
    originals = [(module, attr, getattr(module, attr)) for _, module, attr in stages]

    def timed(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            start = time.perf_counter()
            try:
                return fn(*args, **kwargs)
            finally:
                spent[name] += time.perf_counter() - start

        return wrapper

    gc_time = [0.0, 0.0]

    def on_gc(phase: str, _info: dict[str, Any]) -> None:
        if phase == "start":
            gc_time[1] = time.perf_counter()
        else:
            gc_time[0] += time.perf_counter() - gc_time[1]

    provider = provider_module.AssetBundleExportProvider()
    provider.create(props)
    for (name, module, attr), (_, _, original) in zip(stages, originals):
        setattr(module, attr, timed(name, original))
    gc.callbacks.append(on_gc)
    try:
        total = sum(_timed(lambda: provider.create(props)) for _ in range(rounds)) / rounds
    finally:
        gc.callbacks.remove(on_gc)
        for module, attr, original in originals:
            setattr(module, attr, original)
    return {
        "stages": [[name, spent[name] / rounds] for name, _, _ in stages],
        "total": total,
        "gc": gc_time[0] / rounds,
        "creates": [_timed(lambda: provider.create(props)) for _ in range(rounds)],
    }


def profile_fetch_export(props: dict[str, Any], rounds: int, top: int = 8) -> list[list[Any]]:
    """cProfile of direct ``fetch_export`` calls: the functions with the most time of their own."""
    import cProfile
    import pstats

    from components import aws
    from components.core.models import ExportInputs

    inputs = ExportInputs.model_validate(props)
    aws.fetch_export(inputs)
    profile = cProfile.Profile()
    profile.enable()
    for _ in range(rounds):
        aws.fetch_export(inputs)
    profile.disable()
    stats = pstats.Stats(profile).stats  # type: ignore[attr-defined]
    total = sum(v[2] for v in stats.values())
    rows = sorted(stats.items(), key=lambda kv: -kv[1][2])[:top]
    return [
        [f"{Path(k[0]).parent.name}/{Path(k[0]).name}:{k[2]}", v[2] / rounds, v[2] / total]
        for k, v in rows
    ]


def main() -> None:
    props = json.loads(sys.stdin.read())
    rounds = int(sys.argv[1])
    result = breakdown(props, rounds)
    result["profile"] = profile_fetch_export(props, rounds)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
