"""Template repair: what CloudFormation's resource schemas reject in an export, and removing exactly that.

Pure core: no I/O, no Pulumi. The resource schemas are passed in (``components/validation.py``
loads them from cfn-lint's bundled copies of CloudFormation's registry schemas).

QuickSight's export runs ahead of CloudFormation's QuickSight resource schemas
(cloudformation-coverage-roadmap#2545, #2213): it writes keys the schema does not permit
(``additionalProperties: false``; e.g. a dropdown control's ``DisplayOptions.ControlTitleFormatText``,
cfn-lint E3002) and empty strings where the schema wants at least one character (a sheet's
``Title: ""``, cfn-lint E3033). CloudFormation refuses such a template at deploy.

``find_repairs`` walks every resource of a ``AWS::QuickSight::`` type whose schema is given, and
finds each of those two defects, with its JSON path. ``apply_repairs`` removes exactly the
repairable ones: a property the schema does not permit, and an empty string the schema does not
require; an empty string that is required (or is an item of a list) is left and reported as not
repairable. Nothing else changes, and the result is serialised as the export's own compact JSON,
so the same export always gives the same repaired bytes (what the pin, the archive and every
later stage see).

Intrinsic functions (``{"Fn::Sub": ...}``, ``{"Ref": ...}``, ``Fn::If``...) are never walked
into: CloudFormation resolves them, and the schema describes the resolved value.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any, Literal, Optional

from pydantic import BaseModel, ConfigDict

from .bundle import compact_json
from .manifest import sha256_text
from .template import KIND_BY_RESOURCE_TYPE, asset_id, section

REPAIR_MODES = ("report", "repair", "off")
QUICKSIGHT_PREFIX = "AWS::QuickSight::"

NOT_PERMITTED = "not-permitted"
EMPTY = "empty-string"


class Repair(BaseModel):
    """One place of a template that CloudFormation's resource schema rejects.

    Attributes:
        asset: ``<kind>/<asset id>`` (the logical id when the id cannot be read).
        logical_id: The resource's logical id.
        path: The JSON path under the resource, ``Properties/Definition/Sheets/0/Title``.
        problem: ``not-permitted`` (a key the schema does not allow) or ``empty-string`` (below
            a ``minLength`` of 1).
        repairable: Whether ``repair`` removes it (a required empty string, or one in a list, is not).
        detail: What the schema says, in words.
        repaired: Whether it was removed (``templateRepair: repair``).
    """

    model_config = ConfigDict(frozen=True)

    asset: str
    logical_id: str
    path: str
    problem: Literal["not-permitted", "empty-string"]
    repairable: bool
    detail: str
    repaired: bool = False

    def action(self) -> str:
        """What ``repair`` did, or would do, at this place."""
        if not self.repairable:
            return "not repairable: fix the asset in QuickSight and re-export"
        return "removed by templateRepair: repair" if self.repaired else "templateRepair: repair would remove it"

    def describe(self) -> str:
        """One line: ``<asset> <path>: <detail>; <action>``."""
        return f"{self.asset} {self.path}: {self.detail}; {self.action()}"


@dataclass(frozen=True)
class RepairedTemplate:
    """The outcome of ``repair_template``.

    Attributes:
        body: The template to use: the repaired compact JSON, or the given body unchanged when
            nothing was removed.
        changed: Whether anything was removed (then ``sha256`` is of ``body``).
        sha256: The sha256 of ``body`` in UTF-8 when ``changed``; None otherwise (the caller keeps
            the sha256 it had, that of the downloaded bytes).
        repairs: Every place found, repairable or not, in template order.
    """

    body: str
    changed: bool
    sha256: Optional[str]
    repairs: tuple[Repair, ...]


def needed_types(document: Mapping[str, Any]) -> list[str]:
    """The ``AWS::QuickSight::`` resource types of a template, sorted: the schemas ``find_repairs`` needs."""
    types = {
        resource.get("Type")
        for resource in section(document, "Resources").values()
        if isinstance(resource, Mapping) and isinstance(resource.get("Type"), str)
    }
    return sorted(t for t in types if t.startswith(QUICKSIGHT_PREFIX))


def find_repairs(document: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]]) -> list[Repair]:
    """Each key a resource schema does not permit, and each empty string below a ``minLength`` of 1.

    Args:
        document: The parsed template.
        schemas: CloudFormation resource schemas by resource type (``$ref`` to ``#/definitions/...``
            resolved within each). A type without a schema is not walked.

    Returns:
        The places found, in template order (resources, then keys, as written).
    """
    return [place for place, _ in _places(document, schemas)]


def apply_repairs(document: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]]) -> dict[str, Any]:
    """A copy of the template with exactly the repairable places ``find_repairs`` finds removed.

    The given template is not changed. Only object keys are removed (never a list item), so the
    places found stay valid while they are removed.
    """
    return _removed(document, list(_places(document, schemas)))


def _removed(document: Mapping[str, Any], places: list[tuple[Repair, tuple[Any, ...]]]) -> dict[str, Any]:
    """A copy of the template with the repairable ``places`` (found in it by ``_places``) removed."""
    repaired = copy.deepcopy(dict(document))
    resources = section(repaired, "Resources")
    for place, steps in places:
        if not place.repairable:
            continue
        node: Any = resources[place.logical_id]
        for step in steps[:-1]:
            node = node[step]
        del node[steps[-1]]
    return repaired


def _places(document: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]]) -> Iterator[tuple[Repair, tuple[Any, ...]]]:
    """Each place found, with its steps from the resource (keys and list indices)."""
    for logical_id, resource in section(document, "Resources").items():
        if not isinstance(resource, Mapping):
            continue
        schema = schemas.get(str(resource.get("Type")))
        properties = resource.get("Properties")
        if schema is None or not isinstance(properties, Mapping):
            continue
        label = _label(str(logical_id), str(resource.get("Type")), properties)
        for steps, problem, repairable, detail in _walk(schema, schema, properties, ("Properties",)):
            path = "/".join(map(str, steps))
            if _is_connection_variant(str(resource.get("Type")), steps):
                repairable = False
                detail = f"{detail}; it is the data source's connection itself (a type CloudFormation cannot express)"
            place = Repair(asset=label, logical_id=str(logical_id), path=path, problem=problem, repairable=repairable, detail=detail)
            yield place, steps


def repair_template(body: str, document: Mapping[str, Any], schemas: Mapping[str, Mapping[str, Any]], mode: str) -> RepairedTemplate:
    """Find what the schemas reject and, in ``repair`` mode, remove the repairable places.

    Args:
        body: The template as the export gave it (compact JSON).
        document: ``body`` parsed.
        schemas: Resource schemas by type (see ``find_repairs``).
        mode: ``report`` (find only), ``repair`` (find and remove) or ``off`` (nothing).

    Returns:
        The template to use and every place found; ``body`` itself unless something was removed.
    """
    if mode == "off":
        return RepairedTemplate(body, False, None, ())
    # The schema walk is made once: its places are both reported and removed.
    places = list(_places(document, schemas))
    repairs = tuple(place for place, _ in places)
    if mode != "repair" or not any(place.repairable for place in repairs):
        return RepairedTemplate(body, False, None, repairs)
    out = compact_json(_removed(document, places))
    done = tuple(place.model_copy(update={"repaired": place.repairable}) for place in repairs)
    return RepairedTemplate(out, True, sha256_text(out), done)


# --- the schema walk -------------------------------------------------------------------------------

_Found = tuple[tuple[Any, ...], Literal["not-permitted", "empty-string"], bool, str]


# A data source's DataSourceParameters (and each AlternateDataSourceParameters item) holds exactly one
# variant, which is the data source's connection: removing one CloudFormation's schema does not know
# would deploy a data source connected to nothing, so it is never repaired (the judge refuses the
# type: core.overrides.REFUSED_VARIANTS).
def _is_connection_variant(resource_type: str, steps: tuple[Any, ...]) -> bool:
    if resource_type != "AWS::QuickSight::DataSource" or len(steps) < 3:
        return False
    return (len(steps) == 3 and steps[1] == "DataSourceParameters") or (
        len(steps) == 4 and steps[1] == "AlternateDataSourceParameters"
    )


def _label(logical_id: str, resource_type: str, properties: Mapping[str, Any]) -> str:
    kind = KIND_BY_RESOURCE_TYPE.get(resource_type)
    found = asset_id(kind, properties) if kind else None
    return f"{kind}/{found}" if kind and found else logical_id


def _resolve(root: Mapping[str, Any], node: Any, seen: frozenset[str] = frozenset()) -> Mapping[str, Any]:
    """A schema node with its ``$ref`` chain (``#/definitions/...``) followed; {} for anything unreadable."""
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref = node["$ref"]
        if not ref.startswith("#/") or ref in seen:
            return {}
        seen = seen | {ref}
        target: Any = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, Mapping) else None
        node = target
    return node if isinstance(node, Mapping) else {}


def _intrinsic(value: Any) -> bool:
    """A CloudFormation intrinsic function (``{"Ref": ...}``, ``{"Fn::...": ...}``): resolved at deploy."""
    if not isinstance(value, Mapping) or len(value) != 1:
        return False
    key = next(iter(value))
    return key == "Ref" or (isinstance(key, str) and key.startswith("Fn::")) or key == "Condition"


def _walk(root: Mapping[str, Any], node: Any, value: Any, path: tuple[Any, ...]) -> Iterator[_Found]:
    """The places under ``value`` that ``node`` (a schema node of ``root``) rejects."""
    schema = _resolve(root, node)
    if _intrinsic(value):
        return
    if isinstance(value, Mapping):
        yield from _walk_object(root, schema, value, path)
    elif isinstance(value, list):
        items = schema.get("items")
        for index, item in enumerate(value):
            if item == "" and _resolve(root, items).get("minLength", 0) >= 1:
                yield (*path, index), EMPTY, False, "an empty string in a list, whose items need at least 1 character"
            else:
                yield from _walk(root, items, item, (*path, index))


def _walk_object(root: Mapping[str, Any], schema: Mapping[str, Any], value: Mapping[str, Any], path: tuple[Any, ...]) -> Iterator[_Found]:
    properties = schema.get("properties") if isinstance(schema.get("properties"), Mapping) else {}
    patterns = schema.get("patternProperties") if isinstance(schema.get("patternProperties"), Mapping) else {}
    required = set(schema.get("required") or ())
    closed = schema.get("additionalProperties") is False
    for key, item in value.items():
        where = (*path, key)
        if key in properties:
            child = _resolve(root, properties[key])
        else:
            child = next((_resolve(root, s) for p, s in patterns.items() if _matches(p, key)), None)
            if child is None:
                if closed:
                    yield where, NOT_PERMITTED, True, f"'{key}' is not a property CloudFormation's schema permits here (cfn-lint E3002)"
                continue
        if item == "" and child.get("minLength", 0) >= 1:
            needed = key in required
            what = "a required property" if needed else "an optional property"
            yield where, EMPTY, not needed, f"an empty string, shorter than the schema's minLength of 1, in {what} (cfn-lint E3033)"
        else:
            yield from _walk(root, child, item, where)


def _matches(pattern: str, key: str) -> bool:
    try:
        return re.search(pattern, key) is not None
    except re.error:
        return False
