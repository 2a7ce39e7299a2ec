"""A template over CloudFormation's limits, split into a parent stack and nested stacks (pure core).

CloudFormation reads a template of at most 1,000,000 bytes (TemplateURL) with at most 500
resources. A bundle over either is deployed as a parent stack whose resources are
``AWS::CloudFormation::Stack`` resources, one per nested template, each under the limits.

The split is a function of the deployable template alone, so every stage splits the same bytes
the same way (the pin is on the deployable template, before the split):

- Resources are grouped by what depends on what, in that order: data sources and VPC
  connections; data sets and refresh schedules; themes; analyses; dashboards; folders; then any
  other type. A group over the limits is cut into parts, in template order.
- A reference from one nested template to a resource of another (``Ref``, ``Fn::GetAtt``,
  ``Fn::Sub``'s ``${Name}`` and ``${Name.Attribute}``) becomes an output of the nested stack that
  holds the resource and a parameter of the one that uses it, passed by the parent
  (``Fn::GetAtt: [<stack>, Outputs.<name>]``); a ``DependsOn`` on a resource of another becomes a
  ``DependsOn`` between the two nested stacks.
- The stage's parameters are declared in each nested template that uses them, as the template
  declares them (``NoEcho`` kept on credentials), and passed down by the parent.
- The parent's ``TemplateURL`` of each nested stack is ``NESTED_URL_PLACEHOLDER`` + its name:
  the deployment stages each nested template (content-addressed, checksummed, at a version) and
  puts its URL there (``with_urls``).

A split that would break a reference is refused naming it (``NestingError``): a ``GetAtt`` of an
attribute that is not a string (an output carries strings only), a reference cycle between nested
stacks, a nested template over CloudFormation's per-template quotas, or one resource over the
byte limit on its own.
"""

from __future__ import annotations

import copy
import hashlib
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import NestingError, clean
from .bundle import compact_json
from .quotas import OUTPUT_LIMIT, PARAMETER_LIMIT, RESOURCE_LIMIT, URL_TEMPLATE_LIMIT
from .template import section

# Groups of resource types, in dependency order; types of no group go to OTHER_GROUP, last.
GROUPS: tuple[tuple[str, frozenset[str]], ...] = (
    ("Sources", frozenset({"AWS::QuickSight::DataSource", "AWS::QuickSight::VPCConnection"})),
    ("DataSets", frozenset({"AWS::QuickSight::DataSet", "AWS::QuickSight::RefreshSchedule"})),
    ("Themes", frozenset({"AWS::QuickSight::Theme"})),
    ("Analyses", frozenset({"AWS::QuickSight::Analysis"})),
    ("Dashboards", frozenset({"AWS::QuickSight::Dashboard"})),
    ("Folders", frozenset({"AWS::QuickSight::Folder"})),
)
OTHER_GROUP = "Others"
NESTED_STACK_TYPE = "AWS::CloudFormation::Stack"
NESTED_URL_PLACEHOLDER = "quicksight-promotion-nested:"
# Attributes of QuickSight resources that are strings: what a nested stack's output can carry.
STRING_ATTRIBUTES = frozenset({"Arn", "CreatedTime", "LastUpdatedTime", "LastPublishedTime", "Status"})
# Room left in each nested template for the parameters and outputs a split adds (at most 200 of each).
_HEADROOM_BYTES = 50_000
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")
_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9]")


@dataclass(frozen=True)
class NestedTemplate:
    """One nested stack's template.

    Attributes:
        name: Its logical id in the parent (``Dashboards``, ``Dashboards2``...).
        body: Compact JSON (what is staged).
        sha256: Of ``body``'s UTF-8 bytes.
        size: Bytes of ``body``.
        resources: The logical ids of the original template it holds.
    """

    name: str
    body: str
    sha256: str
    size: int
    resources: tuple[str, ...]


@dataclass(frozen=True)
class NestedPlan:
    """A template split into a parent and nested templates.

    Attributes:
        parent: The parent template (its ``TemplateURL``s are placeholders until ``with_urls``).
        nested: The nested templates, in the parent's order.
    """

    parent: dict[str, Any]
    nested: tuple[NestedTemplate, ...]

    def owner_of(self) -> dict[str, str]:
        """Logical id of the original template -> the nested stack that holds it."""
        return {logical_id: n.name for n in self.nested for logical_id in n.resources}

    def with_urls(self, urls: Mapping[str, str]) -> str:
        """The parent as compact JSON, each nested stack's TemplateURL the staged one (by nested name).

        Raises:
            NestingError: a nested template has no URL.
        """
        parent = copy.deepcopy(self.parent)
        for name, resource in section(parent, "Resources").items():
            if resource.get("Type") != NESTED_STACK_TYPE:
                continue
            if name not in urls:
                raise NestingError(f"nested stack {name!r} has no staged template URL")
            resource["Properties"]["TemplateURL"] = urls[name]
        body = compact_json(parent)
        _check_parent_size(len(body.encode("utf-8")))
        return body


def needs_nesting(size: int, resources: int) -> bool:
    """Whether a template of ``size`` bytes and ``resources`` resources is over what one stack takes."""
    return size > URL_TEMPLATE_LIMIT or resources > RESOURCE_LIMIT


def _group_of(resource: Any) -> str:
    resource_type = resource.get("Type") if isinstance(resource, Mapping) else None
    for name, types in GROUPS:
        if resource_type in types:
            return name
    return OTHER_GROUP


def _size(value: Any) -> int:
    return len(compact_json(value).encode("utf-8"))


def _parts(document: Mapping[str, Any], limit: int) -> list[tuple[str, list[str]]]:
    """(nested name, logical ids) in dependency-group order, each part under ``limit`` bytes of resources.

    Raises:
        NestingError: one resource alone is over the limit.
    """
    resources = section(document, "Resources")
    budget = limit - _HEADROOM_BYTES if limit > 2 * _HEADROOM_BYTES else limit // 2
    order = [name for name, _ in GROUPS] + [OTHER_GROUP]
    grouped: dict[str, list[str]] = {name: [] for name in order}
    for logical_id, resource in resources.items():
        grouped[_group_of(resource)].append(logical_id)
    parts: list[tuple[str, list[str]]] = []
    for group in order:
        chunks: list[list[str]] = []
        used = budget + 1
        for logical_id in grouped[group]:
            size = _size({logical_id: resources[logical_id]})
            if size > budget:
                raise NestingError(
                    f"resource {clean(logical_id)!r} ({clean(str(resources[logical_id].get('Type')))}) is {size:,} bytes on "
                    f"its own, over what one nested template can hold ({budget:,} of CloudFormation's {limit:,}): "
                    "re-export it with fewer sheets or visuals",
                    asset=logical_id,
                )
            if used + size > budget or len(chunks[-1]) >= RESOURCE_LIMIT // 2:
                chunks.append([])
                used = 0
            chunks[-1].append(logical_id)
            used += size
        for index, chunk in enumerate(chunks, 1):
            parts.append((group if len(chunks) == 1 else f"{group}{index}", chunk))
    return parts


@dataclass(frozen=True)
class _Reference:
    """A value one nested template takes from another: ``Ref`` (attribute None) or ``GetAtt``."""

    target: str
    attribute: Optional[str]

    @property
    def name(self) -> str:
        """The output and parameter name that carries it."""
        suffix = "Ref" if self.attribute is None else _NAME_UNSAFE.sub("", self.attribute)
        return f"{_NAME_UNSAFE.sub('', self.target)}{suffix}"

    def value(self) -> dict[str, Any]:
        return {"Ref": self.target} if self.attribute is None else {"Fn::GetAtt": [self.target, self.attribute]}


def _get_att_parts(argument: Any) -> Optional[tuple[str, str]]:
    """(resource, attribute) of an ``Fn::GetAtt`` argument, ``"A.B"`` or ``["A", "B"]``; None for another shape."""
    if isinstance(argument, str) and "." in argument:
        target, attribute = argument.split(".", 1)
        return target, attribute
    if isinstance(argument, list) and len(argument) == 2 and all(isinstance(a, str) for a in argument):
        return argument[0], argument[1]
    return None


def _carried(target: str, attribute: Optional[str], where: str) -> _Reference:
    """The reference a nested stack's output carries to ``where``, refused unless it is a string.

    Raises:
        NestingError: the attribute is not a string (an output carries strings only).
    """
    if attribute is not None and attribute not in STRING_ATTRIBUTES:
        raise NestingError(
            f"{where} reads attribute {clean(attribute)!r} of {clean(target)!r}, which is not a string: a nested "
            "stack's output cannot carry it, so the template cannot be split there; export the two assets together",
            asset=target,
        )
    return _Reference(target, attribute)


class _Rewriter:
    """Rewrites one nested template's resources: references to other nested stacks become parameters."""

    def __init__(self, home: str, owner: Mapping[str, str], parameters: Mapping[str, Any]) -> None:
        self.home = home
        self.owner = owner
        self.parameters = parameters
        self.taken: dict[str, _Reference] = {}
        self.used_parameters: set[str] = set()

    def foreign(self, target: str) -> bool:
        """Whether ``target`` is a resource of another nested stack."""
        return target in self.owner and self.owner[target] != self.home

    def _take(self, target: str, attribute: Optional[str], where: str) -> str:
        reference = _carried(target, attribute, where)
        self.taken[reference.name] = reference
        return reference.name

    def rewrite(self, node: Any, where: str) -> Any:
        if isinstance(node, list):
            return [self.rewrite(item, where) for item in node]
        if not isinstance(node, Mapping):
            return node
        if len(node) == 1:
            ((function, argument),) = node.items()
            if function == "Ref" and isinstance(argument, str):
                return self._ref(argument, where)
            if function == "Fn::GetAtt":
                return self._get_att(argument, where)
            if function == "Fn::Sub":
                return {"Fn::Sub": self._sub(argument, where)}
        return {key: self.rewrite(value, where) for key, value in node.items()}

    def _ref(self, target: str, where: str) -> dict[str, Any]:
        if target in self.parameters:
            self.used_parameters.add(target)
        if self.foreign(target):
            return {"Ref": self._take(target, None, where)}
        return {"Ref": target}

    def _get_att(self, argument: Any, where: str) -> dict[str, Any]:
        parts = _get_att_parts(argument)
        if parts is None:
            return {"Fn::GetAtt": self.rewrite(argument, where)}
        target, attribute = parts
        if self.foreign(target):
            return {"Ref": self._take(target, attribute, where)}
        return {"Fn::GetAtt": argument}

    def _sub(self, argument: Any, where: str) -> Any:
        if isinstance(argument, str):
            text, local = argument, {}
        elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str) and isinstance(argument[1], Mapping):
            text, local = argument[0], {k: self.rewrite(v, where) for k, v in argument[1].items()}
        else:
            return self.rewrite(argument, where)

        def replace(match: re.Match[str]) -> str:
            name = match.group(1).strip()
            if name in local or name.startswith("AWS::"):
                return match.group(0)
            target, _, attribute = name.partition(".")
            if target in self.parameters and not attribute:
                self.used_parameters.add(target)
            if self.foreign(target):
                return "${" + self._take(target, attribute or None, where) + "}"
            return match.group(0)

        rewritten = _SUB_VARIABLE.sub(replace, text)
        return rewritten if isinstance(argument, str) else [rewritten, local]


def _nested_template(
    document: Mapping[str, Any], name: str, logical_ids: list[str], owner: Mapping[str, str]
) -> tuple[dict[str, Any], _Rewriter, set[str]]:
    """A nested template's document (without the outputs others take from it), its rewriter and stack dependencies."""
    resources = section(document, "Resources")
    parameters = section(document, "Parameters")
    rewriter = _Rewriter(name, owner, parameters)
    depends: set[str] = set()
    body: dict[str, Any] = {}
    for logical_id in logical_ids:
        resource = dict(resources[logical_id])
        where = f"resource {logical_id!r}"
        kept = []
        declared = resource.get("DependsOn")
        for target in [declared] if isinstance(declared, str) else list(declared or []):
            if isinstance(target, str) and rewriter.foreign(target):
                depends.add(owner[target])
            else:
                kept.append(target)
        if "DependsOn" in resource:
            if kept:
                resource["DependsOn"] = kept
            else:
                del resource["DependsOn"]
        body[logical_id] = rewriter.rewrite(resource, where)
    for section_name in ("Conditions", "Mappings"):
        # Never in an export: carried whole, with the parameters they use.
        rewriter.rewrite(section(document, section_name), section_name)
    nested: dict[str, Any] = {"AWSTemplateFormatVersion": document.get("AWSTemplateFormatVersion", "2010-09-09")}
    used = sorted(rewriter.used_parameters)
    if used or rewriter.taken:
        nested["Parameters"] = {p: copy.deepcopy(parameters[p]) for p in used}
        for reference in sorted(rewriter.taken):
            nested["Parameters"][reference] = {"Type": "String"}
    for section_name in ("Conditions", "Mappings"):
        if section(document, section_name):
            nested[section_name] = copy.deepcopy(dict(section(document, section_name)))
    nested["Resources"] = body
    return nested, rewriter, depends


def _passed(parameters: Mapping[str, Any], name: str) -> Any:
    """How the parent passes its parameter ``name`` down (a nested stack's parameters are strings)."""
    kind = str((parameters.get(name) or {}).get("Type", "String"))
    if kind == "CommaDelimitedList" or kind.startswith("List<"):
        return {"Fn::Join": [",", {"Ref": name}]}
    return {"Ref": name}


def split_template(document: Mapping[str, Any], limit: int = URL_TEMPLATE_LIMIT) -> NestedPlan:
    """Split a deployable template into a parent and nested templates (see the module docstring).

    Args:
        document: The deployable template, parsed.
        limit: The byte limit of each nested template (CloudFormation's TemplateURL limit).

    Raises:
        NestingError: a reference that cannot be carried, a cycle, a quota or a resource over the limit.
    """
    parts = _parts(document, limit)
    owner = {logical_id: name for name, ids in parts for logical_id in ids}
    built = {name: _nested_template(document, name, ids, owner) for name, ids in parts}
    outputs: dict[str, dict[str, Any]] = {name: {} for name, _ in parts}
    for _name, (_nested, rewriter, _depends) in built.items():
        for reference in rewriter.taken.values():
            outputs[owner[reference.target]][reference.name] = {"Value": reference.value()}
    # The template's own outputs read resources through the nested stacks: their outputs first.
    parent_outputs = {
        key: _parent_output(key, value, owner, outputs) for key, value in section(document, "Outputs").items()
    }
    parameters = section(document, "Parameters")
    parent_resources: dict[str, Any] = {}
    nested_templates = []
    for name, ids in parts:
        nested, rewriter, depends = built[name]
        if outputs[name]:
            nested["Outputs"] = dict(sorted(outputs[name].items()))
        _check_quotas(name, nested)
        parent_resources[name] = _nested_stack(name, rewriter, depends, parameters, owner)
        body = compact_json(nested)
        encoded = body.encode("utf-8")
        if len(encoded) > limit:
            raise NestingError(
                f"nested template {name!r} is {len(encoded):,} bytes after the split, over {limit:,}: the parameters and "
                "outputs it carries are that large; export the assets as smaller bundles"
            )
        nested_templates.append(NestedTemplate(name, body, hashlib.sha256(encoded).hexdigest(), len(encoded), tuple(ids)))
    _refuse_cycles(parent_resources)
    parent = _parent(document, parent_resources, parent_outputs)
    _check_parent_size(_size(parent))
    return NestedPlan(parent, tuple(nested_templates))


def _check_parent_size(size: int) -> None:
    """Refuse a parent over the limit (what is left in it: the parameters, outputs and description)."""
    if size > URL_TEMPLATE_LIMIT:
        raise NestingError(
            f"the parent template is {size:,} bytes, over {URL_TEMPLATE_LIMIT:,}, after the resources moved to nested "
            "stacks: its parameters, outputs or description are that large; shorten them"
        )


def _nested_stack(
    name: str, rewriter: _Rewriter, depends: set[str], parameters: Mapping[str, Any], owner: Mapping[str, str]
) -> dict[str, Any]:
    """The parent's ``AWS::CloudFormation::Stack`` resource of one nested template."""
    passed = {p: _passed(parameters, p) for p in sorted(rewriter.used_parameters)}
    for reference in sorted(rewriter.taken.values(), key=lambda r: r.name):
        passed[reference.name] = {"Fn::GetAtt": [owner[reference.target], f"Outputs.{reference.name}"]}
    stack: dict[str, Any] = {
        "Type": NESTED_STACK_TYPE,
        "Properties": {"TemplateURL": f"{NESTED_URL_PLACEHOLDER}{name}", **({"Parameters": passed} if passed else {})},
    }
    if depends:
        stack["DependsOn"] = sorted(depends)
    return stack


def _check_quotas(name: str, nested: Mapping[str, Any]) -> None:
    for section_name, limit in (("Parameters", PARAMETER_LIMIT), ("Outputs", OUTPUT_LIMIT), ("Resources", RESOURCE_LIMIT)):
        count = len(section(nested, section_name))
        if count > limit:
            raise NestingError(
                f"nested template {name!r} would have {count:,} {section_name.lower()}, over CloudFormation's {limit:,}: "
                "the assets reference each other too much to be split; export them as smaller bundles"
            )


def _refuse_cycles(stacks: Mapping[str, Any]) -> None:
    """Refuse nested stacks that wait for each other (CloudFormation would refuse the parent)."""
    needs = {name: _needs(resource) for name, resource in stacks.items()}
    done: set[str] = set()
    for start in needs:
        path: list[str] = []
        _visit(start, needs, done, path)


def _needs(resource: Mapping[str, Any]) -> set[str]:
    found = set(resource.get("DependsOn") or [])
    for value in (resource["Properties"].get("Parameters") or {}).values():
        attribute = value.get("Fn::GetAtt") if isinstance(value, Mapping) else None
        if attribute:
            found.add(attribute[0])
    return found


def _visit(name: str, needs: Mapping[str, set[str]], done: set[str], path: list[str]) -> None:
    if name in done:
        return
    if name in path:
        cycle = " -> ".join([*path[path.index(name) :], name])
        raise NestingError(
            f"the nested stacks would wait for each other ({cycle}): the assets reference each other across "
            "groups; export them as one smaller bundle"
        )
    path.append(name)
    for other in sorted(needs[name]):
        _visit(other, needs, done, path)
    path.pop()
    done.add(name)


def _parent(document: Mapping[str, Any], stacks: Mapping[str, Any], outputs: Mapping[str, Any]) -> dict[str, Any]:
    """The parent template: the stage's parameters, the nested stacks, and the template's outputs."""
    parent: dict[str, Any] = {"AWSTemplateFormatVersion": document.get("AWSTemplateFormatVersion", "2010-09-09")}
    if "Description" in document:
        parent["Description"] = document["Description"]
    if section(document, "Parameters"):
        parent["Parameters"] = copy.deepcopy(dict(section(document, "Parameters")))
    parent["Resources"] = dict(stacks)
    if outputs:
        parent["Outputs"] = dict(outputs)
    return parent


def _parent_output(key: str, output: Any, owner: Mapping[str, str], outputs: dict[str, dict[str, Any]]) -> Any:
    """One output of the original template, its resource reference read from the nested stack that holds it.

    Raises:
        NestingError: the output reads a resource otherwise than by a plain Ref or GetAtt, or reads an
            attribute that is not a string.
    """
    value = output.get("Value") if isinstance(output, Mapping) else None
    parts = _get_att_parts(value["Fn::GetAtt"]) if isinstance(value, Mapping) and set(value) == {"Fn::GetAtt"} else None
    reference: Optional[_Reference] = None
    if isinstance(value, Mapping) and set(value) == {"Ref"} and value["Ref"] in owner:
        reference = _Reference(value["Ref"], None)
    elif parts is not None:
        reference = _carried(*parts, f"output {clean(key)!r}") if parts[0] in owner else None
    elif _mentions(value, owner):
        raise NestingError(
            f"output {clean(key)!r} reads a resource in a way the split cannot carry: give it a plain Ref or Fn::GetAtt"
        )
    if reference is None:
        return output
    home = owner[reference.target]
    outputs[home][reference.name] = {"Value": reference.value()}
    return {**output, "Value": {"Fn::GetAtt": [home, f"Outputs.{reference.name}"]}}


def _mentions(value: Any, owner: Mapping[str, str]) -> bool:
    text = compact_json(value)
    return any(f'"{logical_id}"' in text or "${" + logical_id in text for logical_id in owner)
