"""Run the benchmarks and print one summary table.

Usage::

    python bench/run.py                 # every figure (30-70 s on 2 cores)
    python bench/run.py wait memory     # some figures
    python bench/run.py --quick         # fewer repeats, for a smoke run

Figures: wait (1), overhead (2), memory (3), size (4), preview (5), imports (6), deploy (7), fanout (8). Each is also a
script of its own (``python bench/wait.py``). Every ratio is measured side by side in one run;
absolute times on a shared machine are noise (see bench/README.md).
"""

from __future__ import annotations

import importlib
import sys
import time
import traceback

from _common import Row, machine, summary_table

FIGURES = ["wait", "overhead", "memory", "size", "preview", "imports", "deploy", "fanout"]


def main(argv: list[str]) -> int:
    quick = "--quick" in argv
    names = [a for a in argv if not a.startswith("-")] or FIGURES
    unknown = [n for n in names if n not in FIGURES]
    if unknown:
        print(f"unknown figure(s) {', '.join(unknown)}; choose from {', '.join(FIGURES)}", file=sys.stderr)
        return 2
    rows: list[Row] = []
    started = time.perf_counter()
    timings = []
    for name in names:
        print(f"\n=== {name} ===", flush=True)
        began = time.perf_counter()
        try:
            rows += importlib.import_module(name).run(quick=quick)
        except Exception as exc:  # noqa: BLE001  (one broken figure must not hide the others)
            traceback.print_exc()
            rows.append(Row(f"{FIGURES.index(name) + 1} {name}", "figure failed", f"{type(exc).__name__}: {exc}",
                            "runs", False))
        timings.append(f"{name} {time.perf_counter() - began:.0f} s")
        sys.stdout.flush()
    total = time.perf_counter() - started
    print("\n=== summary ===")
    print(summary_table(rows))
    met = sum(r.met is True for r in rows)
    missed = sum(r.met is False for r in rows)
    print(f"\n{met} targets met, {missed} missed; {total:.0f} s ({', '.join(timings)}){' [quick]' if quick else ''}")
    print(f"machine: {machine()}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
