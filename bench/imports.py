"""Figure 6: import cost of ``import components`` against ``import pulumi_aws.cloudformation``.

Each import runs in a fresh interpreter (cwd = the repo, as ``pulumi up`` runs the program), timed
inside the child around the import statement only, so interpreter start-up is excluded; the
variants are interleaved and the medians compared. ``components/__init__.py`` loads every public
name but the errors on first use (PEP 562), so ``import components`` itself is light; also
measured:

- ``from components import AssetBundleExport``, what a stack program pays for the resource it
  uses, alone and on top of ``pulumi_aws.cloudformation`` (both import pulumi; the program needs
  pulumi_aws anyway);
- which heavy packages each variant loads (pulumi, pulumi_aws, pydantic, boto3, cfn-lint, grpc),
  and which modules ``from components import AssetBundleExport`` loads that
  ``import pulumi_aws.cloudformation`` does not (``python -X importtime``).

Run alone: ``python bench/imports.py [--quick]``.
"""

from __future__ import annotations

import re
import subprocess
import sys
from collections import defaultdict

import _common
from _common import REPO, Row, median, table

PROBE = (
    "import sys, time\n"
    "t = time.perf_counter()\n"
    "{stmt}\n"
    "print(time.perf_counter() - t)\n"
    "print(*[m for m in ('pulumi', 'pulumi_aws', 'pydantic', 'boto3', 'cfnlint', 'grpc') if m in sys.modules])\n"
)
RESOURCE = "from components import AssetBundleExport"


def timed_import(stmt: str) -> tuple[float, list[str]]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(stmt=stmt)], cwd=str(REPO), env=_common.clean_env(),
        capture_output=True, text=True, timeout=120,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{stmt!r} failed: {done.stderr[-2000:]}")
    first, *rest = done.stdout.splitlines()
    return float(first), (rest[0].split() if rest else [])


def importtime(stmt: str) -> dict[str, int]:
    """Self time in microseconds of every module ``stmt`` imports (python -X importtime)."""
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", stmt], cwd=str(REPO), env=_common.clean_env(),
        capture_output=True, text=True, timeout=120,
    )
    found = {}
    for line in done.stderr.splitlines():
        match = re.match(r"import time:\s+(\d+) \|\s+(\d+) \|\s+(.*)$", line)
        if match:
            found[match.group(3).strip()] = int(match.group(1))
    return found


def run(quick: bool = False) -> list[Row]:
    repeats = 5 if quick else 9
    variants = {
        "import pulumi_aws.cloudformation": "import pulumi_aws.cloudformation",
        "import components": "import components",
        RESOURCE: RESOURCE,
        "import pulumi": "import pulumi",
        "AssetBundleExport after pulumi_aws.cloudformation": (
            f"import pulumi_aws.cloudformation\nt = time.perf_counter()\n{RESOURCE}"),
    }
    times: dict[str, list[float]] = defaultdict(list)
    loaded: dict[str, list[str]] = {}
    for name, stmt in variants.items():  # warm the file cache and .pyc files
        loaded[name] = timed_import(stmt)[1]
    for _ in range(repeats):
        for name, stmt in variants.items():
            times[name].append(timed_import(stmt)[0])
    ours = importtime(RESOURCE)
    theirs = importtime("import pulumi_aws.cloudformation")

    m = {name: median(v) for name, v in times.items()}
    base = m["import pulumi_aws.cloudformation"]
    ratio = m["import components"] / base
    resource = m[RESOURCE] / base
    print(f"Figure 6: import cost in fresh interpreters (medians of {repeats}, import statement only)")
    print(table(["import", "median", "vs pulumi_aws.cloudformation", "also loaded"], [
        [name, f"{1000 * m[name]:.0f} ms", f"{m[name] / base:.2f}x", " ".join(loaded[name]) or "-"]
        for name in variants
    ]))
    extra: dict[str, int] = defaultdict(int)
    for module, self_us in ours.items():
        if module not in theirs:
            extra[module.split(".")[0] if not module.startswith("components") else module] += self_us
    top = sorted(extra.items(), key=lambda kv: -kv[1])[:12]
    print(f"\nLoaded by `{RESOURCE}` but not by `import pulumi_aws.cloudformation` (self time, -X importtime):")
    print(table(["module (top-level package, or ours)", "self time"], [[k, f"{v / 1000:.1f} ms"] for k, v in top]))
    print(f"total: {sum(extra.values()) / 1000:.0f} ms in {sum(1 for k in ours if k not in theirs)} modules")
    fig = "6 imports"
    heavy = ("pulumi", "pulumi_aws", "pydantic", "boto3", "cfnlint")
    return [
        Row(fig, "import components / import pulumi_aws.cloudformation", f"{ratio:.2f}x "
            f"({1000 * m['import components']:.0f} vs {1000 * base:.0f} ms)", "<= 1.2", ratio <= 1.2),
        Row(fig, "import components loads pulumi / pulumi_aws / pydantic / boto3 / cfn-lint?", ", ".join(
            f"{mod} {'yes' if mod in loaded['import components'] else 'no'}" for mod in heavy), ""),
        Row(fig, f"{RESOURCE} / pulumi_aws.cloudformation", f"{resource:.2f}x "
            f"({1000 * m[RESOURCE]:.0f} ms; loads {' '.join(loaded[RESOURCE]) or '-'})", ""),
        Row(fig, "AssetBundleExport on top of pulumi_aws.cloudformation",
            f"+{1000 * m['AssetBundleExport after pulumi_aws.cloudformation']:.0f} ms", ""),
    ]


if __name__ == "__main__":
    sys.exit(_common.main_for(run))
