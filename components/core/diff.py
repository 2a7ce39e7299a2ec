"""What a release changes: two templates compared asset by asset and property by property (pure core).

The offline ``diff`` command (``cli.py``) reads two bundles (or two archived release templates)
and asks ``diff_templates`` what changes between them, so that a reviewer sees it before any stage
runs it. QuickSight resources are matched by ``<kind>/<asset id>`` (a logical id may change
between exports of the same asset), other resources by logical id. Values are shown as a change
set review shows them (``core.review.shown_at``: cleaned, long ones shortened with a digest),
credentials never.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from ..errors import clean, listing
from .review import MAX_PROPERTIES, shown_at
from .template import quicksight_resources, section

# How deep property paths are followed; past it a value is compared (and shown) whole.
MAX_DEPTH = 12


def _keyed(template: Mapping[str, Any]) -> dict[str, tuple[str, Mapping[str, Any]]]:
    """``<kind>/<asset id>`` (or the logical id) -> (type, resource) for every resource of a template."""
    resources = section(template, "Resources")
    labels = {r.logical_id: r.label for r in quicksight_resources(resources)}
    return {
        labels.get(str(logical_id), str(logical_id)): (str(resource.get("Type") or "?"), resource)
        for logical_id, resource in resources.items()
        if isinstance(resource, Mapping)
    }


def property_differences(before: Any, after: Any, path: str = "Properties", depth: int = 0) -> list[dict[str, Any]]:
    """Each leaf that differs between two property values: ``path``, ``before``, ``after`` (None: absent)."""
    if before == after:
        return []
    if depth < MAX_DEPTH and isinstance(before, Mapping) and isinstance(after, Mapping):
        return [
            difference
            for key in sorted(set(before) | set(after), key=str)
            for difference in property_differences(before.get(key), after.get(key), f"{path}/{key}", depth + 1)
        ]
    if depth < MAX_DEPTH and isinstance(before, list) and isinstance(after, list) and len(before) == len(after):
        return [
            difference
            for index, (old, new) in enumerate(zip(before, after))
            for difference in property_differences(old, new, f"{path}/{index}", depth + 1)
        ]
    return [{"path": clean(path, 300), "before": _shown(path, before), "after": _shown(path, after)}]


def _shown(path: str, value: Any) -> Any:
    """A template value as a review shows it (``core.review.shown_at``); one that is not a string, as compact JSON."""
    if value is not None and not isinstance(value, str):
        value = json.dumps(value, sort_keys=True, separators=(",", ":"))
    return shown_at(path, value)


def diff_templates(old: Mapping[str, Any], new: Mapping[str, Any]) -> dict[str, Any]:
    """What changes from template ``old`` to ``new``.

    Returns:
        ``assets``: one entry per resource added, removed or modified, sorted by key: ``key``
        (``<kind>/<id>`` or the logical id), ``type``, ``action`` (Add/Remove/Modify), and for a
        Modify ``properties`` (at most ``MAX_PROPERTIES``, then ``properties_left_off``);
        ``parameters``: the parameters ``added`` and ``removed``.
    """
    before, after = _keyed(old), _keyed(new)
    assets: list[dict[str, Any]] = []
    for key in sorted(set(before) | set(after)):
        if key not in before or key not in after:
            rtype = (after.get(key) or before.get(key) or ("?", {}))[0]
            assets.append({"key": clean(key, 300), "type": clean(rtype, 200), "action": "Add" if key in after else "Remove"})
            continue
        (old_type, old_resource), (new_type, new_resource) = before[key], after[key]
        changed = property_differences(old_resource.get("Properties"), new_resource.get("Properties"))
        if old_type != new_type:
            changed.insert(0, {"path": "Type", "before": clean(old_type, 200), "after": clean(new_type, 200)})
        if changed:
            entry: dict[str, Any] = {"key": clean(key, 300), "type": clean(new_type, 200), "action": "Modify", "properties": changed[:MAX_PROPERTIES]}
            if len(changed) > MAX_PROPERTIES:
                entry["properties_left_off"] = len(changed) - MAX_PROPERTIES
            assets.append(entry)
    old_parameters, new_parameters = set(section(old, "Parameters")), set(section(new, "Parameters"))
    return {
        "assets": assets,
        "parameters": {"added": sorted(new_parameters - old_parameters), "removed": sorted(old_parameters - new_parameters)},
    }


def describe_diff(found: Mapping[str, Any]) -> list[str]:
    """The lines the ``diff`` command prints: a summary, then each asset and its changed properties."""
    assets = found.get("assets") or []
    counts = {action: sum(1 for a in assets if a["action"] == action) for action in ("Add", "Modify", "Remove")}
    lines = [f"{counts['Add']} to add, {counts['Modify']} to modify, {counts['Remove']} to remove"]
    for asset in assets:
        lines.append(f"{asset['action']:<6} {asset['key']} ({asset['type']})")
        for change in asset.get("properties") or []:
            lines.append(f"         {change['path']}: {change['before']!r} -> {change['after']!r}")
        if asset.get("properties_left_off"):
            lines.append(f"         and {asset['properties_left_off']:,} more properties")
    parameters = found.get("parameters") or {}
    if parameters.get("added"):
        lines.append(f"Parameters added: {listing(parameters['added'], 20, ', ')}")
    if parameters.get("removed"):
        lines.append(f"Parameters removed: {listing(parameters['removed'], 20, ', ')}")
    return lines
