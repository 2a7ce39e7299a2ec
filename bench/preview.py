"""Figure 5: preview cost, requests reaching QuickSight on a second, unchanged ``pulumi up``/preview.

Through the engine harness against the emulator: a first ``up`` creates the resource (one
Describe, one download); then an unchanged ``up`` and an unchanged ``preview`` (each Check +
Diff, as the engine calls them) run from the recorded state, and every request the emulator saw
during them is counted. ``pulumi refresh`` (Read) is counted too.

Run alone: ``python bench/preview.py [--quick]``.
"""

from __future__ import annotations

import sys

import _common
from _common import Row, table

from tools.generator import dump_bundle, generate_bundle
from emulator import QuickSightEmulator
from engine import EngineHarness


def run(quick: bool = False) -> list[Row]:
    doc = generate_bundle(scale=2)
    props = _common.provider_props(doc, "preview-job")
    lines = []
    with QuickSightEmulator() as emu:
        emu.add_job("preview-job", payload=dump_bundle(doc).encode("utf-8"))
        with EngineHarness(env=emu.env()) as engine:
            before = len(emu.requests)
            first = engine.up(props)
            lines.append(["first up (create)", first.action, len(emu.requests) - before])
            before = len(emu.requests)
            again = engine.up(props, first.state)
            lines.append(["second up, unchanged (Check + Diff)", again.action, len(emu.requests) - before])
            second_cycle = len(emu.requests) - before
            before = len(emu.requests)
            previewed = engine.preview(props, again.state)
            lines.append(["preview, unchanged (Check + Diff)", previewed.action, len(emu.requests) - before])
            second_cycle += len(emu.requests) - before
            before = len(emu.requests)
            assert again.state is not None
            engine.read(again.state.id, again.state.outputs)
            lines.append(["refresh (Read)", "-", len(emu.requests) - before])
            refresh = len(emu.requests) - before
    print("Figure 5: requests reaching the emulator (QuickSight and the download URL)")
    print(table(["step", "action", "requests"], lines))
    fig = "5 preview"
    unchanged = again.action == "same" and previewed.action == "same"
    return [
        Row(fig, "requests on an unchanged up + preview", f"{second_cycle} ({again.action}/{previewed.action})",
            "0", second_cycle == 0 and unchanged),
        Row(fig, "requests on refresh (Read)", str(refresh), ""),
    ]


if __name__ == "__main__":
    sys.exit(_common.main_for(run))
