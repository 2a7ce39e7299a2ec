"""Shared pieces of the benchmark scripts: paths, the result row, the table, machine facts.

Every figure is a module here with ``run(quick: bool) -> list[Row]`` that prints its own detail
table and returns summary rows; ``bench/run.py`` runs them and prints one table. Ratios are
measured side by side in one run: absolute times on a shared machine are noise.
"""

from __future__ import annotations

import datetime as dt
import os
import platform
import statistics
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Optional, Sequence

REPO = Path(__file__).resolve().parent.parent
TESTS = REPO / "tests"
for _path in (str(REPO), str(TESTS), str(TESTS / "harness")):
    if _path not in sys.path:
        sys.path.insert(0, _path)

ACCOUNT = "111111111111"


@dataclass(frozen=True)
class Row:
    """One line of the summary table.

    Attributes:
        figure: Which figure (1-6) and its short name.
        measure: What was measured.
        value: The result, formatted.
        target: The target, formatted ("" when the row is information only).
        met: True/False against the target, None for information rows.
    """

    figure: str
    measure: str
    value: str
    target: str = ""
    met: Optional[bool] = None

    @property
    def verdict(self) -> str:
        return {True: "met", False: "MISSED", None: "info"}[self.met]


def table(headers: Sequence[str], rows: Iterable[Sequence[object]]) -> str:
    """A GitHub-markdown table (readable as plain text too)."""
    cells = [[str(c) for c in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    out = [line(cells[0]), "| " + " | ".join("-" * w for w in widths) + " |"]
    out += [line(r) for r in cells[1:]]
    return "\n".join(out)


def summary_table(rows: Sequence[Row]) -> str:
    return table(
        ["figure", "measure", "result", "target", "verdict"],
        [(r.figure, r.measure, r.value, r.target, r.verdict) for r in rows],
    )


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def machine() -> str:
    return (
        f"nproc {os.cpu_count()}, CPU {cpu_model()}, Python {platform.python_version()} "
        f"({platform.python_implementation()}), {platform.system()} {platform.release()}, "
        f"run {dt.datetime.now().strftime('%Y-%m-%d %H:%M')}"
    )


def clean_env() -> dict[str, str]:
    """This process's environment without AWS_* variables or PYTHONPATH (children add the emulator's)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}


def provider_props(payload_doc: dict, job_id: str) -> dict:
    """Inputs of an AssetBundleExport whose stage values satisfy a generated bundle.

    Source defaults are allowed, and every parameter without a default (the credentials) gets a
    value, so that ``create`` runs to the end as it does for a real stage.
    """
    from components.core.catalog import build_catalog

    values = {entry.key: "bench-value" for entry in build_catalog(payload_doc) if not entry.has_default}
    return {
        "source_account_id": ACCOUNT,
        "export_job_id": job_id,
        "allow_source_defaults": True,
        "parameters": values,
    }


def main_for(run, argv: Optional[Sequence[str]] = None) -> int:  # type: ignore[no-untyped-def]
    """Run one figure alone: its detail, then its rows as a table."""
    args = list(sys.argv[1:] if argv is None else argv)
    rows = run(quick="--quick" in args)
    print()
    print(summary_table(rows))
    print()
    print(f"machine: {machine()}")
    return 0
