"""Figure 3: peak memory of ``fetch_export`` for a 1 MB template and for large zips, in fresh processes.

The emulator runs here; each measurement is a fresh ``python bench/_memory_child.py`` whose
boto3 client talks to it (see that file for how the baseline and the peak are taken). Payloads:

- a ~1 MB pretty-printed generated template served as raw JSON (what QuickSight serves);
- zips of 20, 50 and 100 MB: the same template (deflated) plus incompressible padding members
  stored uncompressed. The peak must not grow with the padding, and the spool must go to disk
  (past 2 MiB; the 1 MB JSON stays in memory).

The 1 MB JSON is also unpacked with ``components/core/bundle.py`` as it was before commit
e95cf54 (which lowered the memory of unpacking), side by side in the same run. The target is
relative to the template's own bytes (pretty-printed, as downloaded).

Run alone: ``python bench/memory.py [--quick]``.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import zipfile
from typing import Any

import _common
from _common import REPO, Row, table

from tools.generator import dump_bundle, generate_bundle
from emulator import QuickSightEmulator

CHILD = str(REPO / "bench" / "_memory_child.py")
MB = 1_000_000
MIB = 1024 * 1024
# bundle.py before e95cf54 (its parent), measured beside the current one while they differ.
BEFORE = "fbf427714a22f13f026f3ead24d1aa8a70616ba3"
BEFORE_LABEL = "bundle.py before e95cf54"


def _bundle_changed() -> bool:
    """Whether components/core/bundle.py differs from BEFORE (then both are measured)."""
    done = subprocess.run(
        ["git", "diff", "--quiet", BEFORE, "--", "components/core/bundle.py"], cwd=str(REPO), capture_output=True
    )
    return done.returncode == 1


def one_mb_template() -> bytes:
    """The smallest generated bundle whose pretty-printed form is at least 1,000,000 bytes."""
    for scale in range(1, 50):
        data = dump_bundle(generate_bundle(scale=scale)).encode("utf-8")
        if len(data) >= MB:
            return data
    raise RuntimeError("no generated bundle reaches 1 MB")


def padded_zip(template: bytes, padding_mb: int) -> bytes:
    buffer = io.BytesIO()
    chunk = os.urandom(MB)
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(zipfile.ZipInfo("assetbundle/template.json"), template, compress_type=zipfile.ZIP_DEFLATED)
        for i in range(padding_mb):
            archive.writestr(zipfile.ZipInfo(f"padding/{i:04d}.bin"), chunk, compress_type=zipfile.ZIP_STORED)
    return buffer.getvalue()


def child(env: dict[str, str], job: str, mode: str, trace: bool = False, bundle_from: str = "") -> dict[str, Any]:
    args = [sys.executable, CHILD, job, mode] + (["--trace"] if trace else [])
    args += [f"--bundle-from={bundle_from}"] if bundle_from else []
    done = subprocess.run(args, env=env, cwd=str(REPO), capture_output=True, text=True, timeout=300)
    if done.returncode != 0:
        raise RuntimeError(f"memory child failed for {job}: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def run(quick: bool = False) -> list[Row]:
    template = one_mb_template()
    size = len(template)
    paddings = [20, 50] if quick else [20, 50, 100]
    env = _common.clean_env()
    lines = []
    results: dict[str, dict[str, Any]] = {}
    with QuickSightEmulator() as emu:
        env.update(emu.env())
        emu.add_job("tiny", payload=b'{"Resources": {"A": {"Type": "AWS::SNS::Topic"}}}')
        emu.add_job("json", payload=template)
        cases = [
            ("1 MB JSON, client reused", "json", "cached", False, ""),
            ("1 MB JSON, client reused (tracemalloc)", "json", "cached", True, ""),
            ("1 MB JSON, new client per fetch (as create)", "json", "fresh", False, ""),
        ]
        if _bundle_changed():
            cases += [
                (f"1 MB JSON, {BEFORE_LABEL}", "json", "cached", False, BEFORE),
                (f"1 MB JSON, {BEFORE_LABEL} (tracemalloc)", "json", "cached", True, BEFORE),
            ]
        for label, job, mode, trace, before in cases:
            results[label] = r = child(env, job, mode, trace, bundle_from=before)
            lines.append(_line(label, size, r))
        for padding in paddings:
            payload = padded_zip(template, padding)
            emu.add_job(f"zip{padding}", payload=payload)
            del payload
            label = f"{padding} MB padding zip, client reused"
            results[label] = r = child(env, f"zip{padding}", "cached")
            lines.append(_line(label, size, r))
            emu.jobs.pop((_common.ACCOUNT, f"zip{padding}"))
    print(f"Figure 3: peak memory of fetch_export over the warmed-up interpreter (template {size:,} bytes pretty)")
    print(table(["case", "downloaded", "peak over baseline", "x template", "RSS kept after", "spool"], lines))

    json_peak = results["1 MB JSON, client reused"]["peak_over_base"]
    fresh_peak = results["1 MB JSON, new client per fetch (as create)"]["peak_over_base"]
    traced = results["1 MB JSON, client reused (tracemalloc)"]["traced_peak"]
    zip_peaks = {p: results[f"{p} MB padding zip, client reused"]["peak_over_base"] for p in paddings}
    zip_rolled = all(results[f"{p} MB padding zip, client reused"]["spools"][-1]["rolled"] for p in paddings)
    json_rolled = results["1 MB JSON, client reused"]["spools"][-1]["rolled"]
    flat = max(zip_peaks.values()) - min(zip_peaks.values())
    fig = "3 memory"
    headline = 50 if 50 in zip_peaks else paddings[-1]
    before = results.get(f"1 MB JSON, {BEFORE_LABEL}")
    before_rows = []
    if before:
        before_heap = results[f"1 MB JSON, {BEFORE_LABEL} (tracemalloc)"]["traced_peak"]
        before_rows.append(Row(
            fig, f"1 MB JSON with {BEFORE_LABEL}: RSS / heap peak",
            f"{before['peak_over_base'] / MB:.1f} MB = {before['peak_over_base'] / size:.1f}x / "
            f"{before_heap / MB:.1f} MB = {before_heap / size:.1f}x", ""))
    return [
        Row(fig, "1 MB JSON: peak RSS over baseline", f"{json_peak / MB:.1f} MB = {json_peak / size:.1f}x template",
            "<= 3x", json_peak <= 3 * size),
        Row(fig, "1 MB JSON: Python heap peak (tracemalloc)", f"{traced / MB:.1f} MB = {traced / size:.1f}x", ""),
        Row(fig, "1 MB JSON: with a new boto3 client (as create)",
            f"{fresh_peak / MB:.1f} MB = {fresh_peak / size:.1f}x", ""),
        *before_rows,
        Row(fig, f"{headline} MB zip: peak RSS over baseline",
            f"{zip_peaks[headline] / MB:.1f} MB = {zip_peaks[headline] / size:.1f}x template", "<= 3x",
            zip_peaks[headline] <= 3 * size),
        Row(fig, "spool past 2 MiB on disk: zips on disk, 1 MB JSON in memory",
            f"zips {'on disk' if zip_rolled else 'IN MEMORY'}, JSON {'ON DISK' if json_rolled else 'in memory'}",
            "zips on disk, JSON in memory", zip_rolled and not json_rolled),
        Row(fig, f"zip peak vs padding {'/'.join(map(str, paddings))} MB",
            " / ".join(f"{v / MB:.1f}" for v in zip_peaks.values()) + " MB", "flat (< 2 MB apart)", flat < 2 * MB),
    ]


def _line(label: str, size: int, r: dict[str, Any]) -> list[str]:
    spool = r["spools"][-1] if r["spools"] else {}
    where = ("disk" if spool.get("rolled") else "memory") + f" (max_size {spool.get('max_size', 0) / MIB:.0f} MiB)"
    peak = r["peak_over_base"] if "traced_peak" not in r else r["traced_peak"]
    what = "" if "traced_peak" not in r else " (heap)"
    return [
        label,
        f"{r['downloaded'] / MB:.1f} MB",
        f"{peak / MB:.1f} MB{what}",
        f"{peak / size:.1f}",
        f"{r['rss_after_over_base'] / MB:.1f} MB",
        where,
    ]


if __name__ == "__main__":
    sys.exit(_common.main_for(run))
