"""Figure 4: template size, compact against original, and the largest bundle deployable.

Generated bundles (``generate_bundle``) pretty-printed as QuickSight serves them are parsed by
``parse_template`` exactly as the provider does; ``Template.size`` (compact UTF-8 bytes) is what
``QuickSightBundleStack`` checks against CloudFormation's limits (51,200 bytes inline, 1,000,000
bytes through S3). The largest bundle one stack takes is found by a binary search over ``scale``.

Over one stack's limits, the bundle deploys as nested stacks (``core.nesting``): then the limit is
one asset's size (each must fit one nested template), found by a second binary search, and a
bundle of several such assets (``copies``) deploys too. Both are reported side by side with the
largest bundle one stack takes, as a ratio.

Run alone: ``python bench/size.py [--quick]``.
"""

from __future__ import annotations

import sys

import _common
from _common import Row, table

from components.core.bundle import parse_template
from tools.generator import MAX_SCALE, dump_bundle, generate_bundle
from components.core.catalog import build_catalog
from components.core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT, DeployableTemplate, deployable

URL_LIMIT = URL_TEMPLATE_LIMIT
INLINE_LIMIT = INLINE_TEMPLATE_LIMIT
SCALES = [1, 2, 4, 8, 16, 32]
# The copies of each analysis and dashboard in the nested-stack example bundle.
COPIES = 8


def sizes(scale: int) -> tuple[int, int, int]:
    """(pretty bytes, compact bytes, resources) of the generated bundle at ``scale``."""
    doc = generate_bundle(scale=scale)
    pretty = dump_bundle(doc).encode("utf-8")
    template = parse_template(pretty)
    return len(pretty), template.size, len(doc["Resources"])


def largest_deployable() -> tuple[int, tuple[int, int, int], tuple[int, int, int], int]:
    """Binary search for the largest scale whose compact template is <= URL_LIMIT."""
    lo, hi = 1, MAX_SCALE
    evaluated = 0
    cache: dict[int, tuple[int, int, int]] = {}

    def at(scale: int) -> tuple[int, int, int]:
        nonlocal evaluated
        if scale not in cache:
            cache[scale] = sizes(scale)
            evaluated += 1
        return cache[scale]

    if at(lo)[1] > URL_LIMIT:
        raise RuntimeError("even scale 1 is over the limit")
    # Find an upper bound quickly, then bisect: the size grows monotonically with scale.
    bound = 2
    while bound < MAX_SCALE and at(bound)[1] <= URL_LIMIT:
        lo, bound = bound, min(MAX_SCALE, bound * 2)
    hi = bound
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if at(mid)[1] <= URL_LIMIT:
            lo = mid
        else:
            hi = mid
    return lo, at(lo), at(hi), evaluated


def deployed(scale: int, copies: int = 1) -> tuple[int, DeployableTemplate]:
    """(pretty bytes, the deployable template) of the generated bundle at ``scale`` with ``copies``."""
    doc = generate_bundle(scale=scale, copies=copies)
    pretty = dump_bundle(doc).encode("utf-8")
    template = parse_template(pretty)
    return len(pretty), deployable(template.body, [e.model_dump() for e in build_catalog(template.document)])


def placement(template: DeployableTemplate) -> str:
    """How the template deploys: inline, through S3, as nested stacks, or not at all."""
    if template.nested:
        plan, _why = template.nesting
        return f"nested ({len(plan.nested)} stacks)" if plan else "too large"
    return "inline" if template.inline else "S3 URL"


def largest_nested() -> tuple[int, int]:
    """(scale, pretty bytes) of the largest bundle whose every asset fits a nested template (copies 1)."""
    lo, hi = 1, MAX_SCALE
    bound = 16
    while bound < MAX_SCALE and deployed(bound)[1].deployable:
        lo, bound = bound, min(MAX_SCALE, bound * 2)
    hi = bound
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if deployed(mid)[1].deployable:
            lo = mid
        else:
            hi = mid
    return lo, deployed(lo)[0]


def create_through_engine(scale: int) -> str:
    """Create the resource for the bundle at ``scale`` through the engine harness and the emulator."""
    from emulator import QuickSightEmulator
    from engine import EngineHarness

    doc = generate_bundle(scale=scale)
    with QuickSightEmulator() as emu:
        emu.add_job("largest", payload=dump_bundle(doc).encode("utf-8"))
        with EngineHarness(env=emu.env()) as engine:
            step = engine.up(_common.provider_props(doc, "largest"))
    size = step.outputs["template_size"]
    verdict = "deployable through S3" if size <= URL_LIMIT else "over the limit"
    return f"{step.action}, template_size {size:,} ({verdict})"


def run(quick: bool = False) -> list[Row]:
    scales = SCALES[:4] if quick else SCALES
    lines = []
    ratios = []
    for scale in scales:
        pretty, compact, resources = sizes(scale)
        ratios.append(compact / pretty)
        lines.append([
            scale, resources, f"{pretty:,}", f"{compact:,}", f"{compact / pretty:.3f}", placement(deployed(scale)[1]),
        ])
    best, fits, over, evaluated = largest_deployable()
    print("Figure 4: template size (generated bundles; compact = what is deployed)")
    print(table(["scale", "resources", "pretty bytes", "compact bytes", "compact/pretty", "deploys as"], lines))
    # Between two scales the compact share is nearly constant: the pretty size at the limit.
    bound = URL_LIMIT / (over[1] / over[0])
    created = create_through_engine(best)
    print(
        f"\nLargest deployable (compact <= {URL_LIMIT:,}): scale {best}: {fits[0]:,} bytes pretty -> {fits[1]:,} "
        f"compact; scale {best + 1}: {over[0]:,} -> {over[1]:,} (over). {evaluated} scales evaluated. "
        f"At the limit's compact share, a bundle of ~{bound / 1e6:.2f} MB pretty-printed is the most that fits.\n"
        f"Scale {best} through the engine harness: {created}"
    )
    nested_scale, nested_pretty = largest_nested()
    many_pretty, many = deployed(nested_scale, COPIES)
    plan, _why = many.nesting
    ratio = many_pretty / fits[0]
    print(
        f"As nested stacks, each asset must fit one nested template: the largest is scale {nested_scale} "
        f"({nested_pretty:,} bytes pretty, {nested_pretty / fits[0]:.2f}x one stack's largest). With {COPIES} copies of "
        f"its analysis and dashboard: {many_pretty:,} bytes pretty ({many.size:,} compact) deploys as "
        f"{len(plan.nested) if plan else 0} nested stacks: {ratio:.2f}x the largest bundle one stack takes."
    )
    fig = "4 size"
    return [
        Row(fig, f"compact / pretty, scales {scales[0]}-{scales[-1]}", f"{min(ratios):.3f}-{max(ratios):.3f}", ""),
        Row(fig, "largest deployable bundle (pretty bytes)",
            f"{fits[0]:,} (scale {best}, compact {fits[1]:,}); limit ~{bound / 1e6:.2f} MB",
            f"compact <= {URL_LIMIT:,}"),
        Row(fig, f"largest deployable as nested stacks ({COPIES} copies of scale {nested_scale})",
            f"{many_pretty:,} bytes pretty: {ratio:.2f}x one stack's largest", ">= 5x"),
    ]


if __name__ == "__main__":
    sys.exit(_common.main_for(run))
