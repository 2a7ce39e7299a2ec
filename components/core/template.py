"""The QuickSight resources of an export template, and the parameters a node of it uses.

Pure core: no I/O, no Pulumi. One walker serves every reader of a template (the parameter catalog,
the permission principals, the literal connection values, the deployment's asset names and the
release manifest's digests), so that they agree on what a resource is and which asset it holds.

QuickSight writes an asset id as a plain string, or as
``{"Fn::Sub": "${ResourceIdPrefixForAllResources}<id>"}`` when the export asked for an id prefix
(``ResourceIdOverrideConfiguration.PrefixForAllResources``); the prefix is never in a name or in a
refresh schedule's ``ScheduleId``. A refresh schedule has no id of its own: it is named
``<data set id>/<schedule id>`` (its ARN is ``.../dataset/<id>/refresh-schedule/<schedule id>``).

Only ``Ref`` and ``Fn::Sub`` use a parameter: QuickSight calculated fields hold literal ``${Name}``
text in plain strings, which CloudFormation never substitutes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Optional

PREFIX_PARAMETER = "ResourceIdPrefixForAllResources"

DATASOURCE = "datasource"
VPC_CONNECTION = "vpc-connection"
REFRESH_SCHEDULE = "refresh-schedule"
TOPIC = "topic"

# Asset kinds in catalog order, keyed by CloudFormation resource type.
KIND_BY_RESOURCE_TYPE: dict[str, str] = {
    "AWS::QuickSight::DataSource": DATASOURCE,
    "AWS::QuickSight::DataSet": "dataset",
    "AWS::QuickSight::Analysis": "analysis",
    "AWS::QuickSight::Dashboard": "dashboard",
    "AWS::QuickSight::Theme": "theme",
    "AWS::QuickSight::Folder": "folder",
    "AWS::QuickSight::VPCConnection": VPC_CONNECTION,
    "AWS::QuickSight::RefreshSchedule": REFRESH_SCHEDULE,
    # Q topics: the export's TopicsV2 override kind (botocore's AssetBundleCloudFormationOverridePropertyConfiguration).
    "AWS::QuickSight::Topic": TOPIC,
    "AWS::QuickSight::TopicV2": TOPIC,
}
ASSET_KINDS: tuple[str, ...] = tuple(dict.fromkeys(KIND_BY_RESOURCE_TYPE.values()))

# The property that carries the asset id. A RefreshSchedule has none of its own: it is identified
# by its data set's id and ``Schedule.ScheduleId``.
ID_PROPERTY: dict[str, str] = {
    DATASOURCE: "DataSourceId",
    "dataset": "DataSetId",
    "analysis": "AnalysisId",
    "dashboard": "DashboardId",
    "theme": "ThemeId",
    "folder": "FolderId",
    VPC_CONNECTION: "VPCConnectionId",
    TOPIC: "TopicId",
}

# ${Name} in an Fn::Sub string; ${!Literal} is CloudFormation's escape for a literal "${Literal}".
_SUB_VARIABLE = re.compile(r"\$\{(?!!)([^}]*)\}")
_PREFIX = "${" + PREFIX_PARAMETER + "}"


@dataclass(frozen=True)
class TemplateResource:
    """A QuickSight resource of a template.

    Attributes:
        logical_id: Its logical id, as the template names it.
        kind: The asset kind (``datasource``, ``dataset``, ... ``refresh-schedule``).
        asset_id: The asset id without the id prefix (``<data set id>/<schedule id>`` for a refresh
            schedule); None when the template does not write it as one (see ``id_literal``).
        properties: Its ``Properties`` (the template's own object, not a copy); None when it has no
            ``Properties`` object.
    """

    logical_id: str
    kind: str
    asset_id: Optional[str]
    properties: Optional[Mapping[str, Any]]

    @property
    def label(self) -> str:
        """``<kind>/<asset id>`` for messages and keys; the logical id when the id cannot be read."""
        return f"{self.kind}/{self.asset_id}" if self.asset_id else self.logical_id


def section(template: Any, name: str) -> Mapping[str, Any]:
    """A top-level section (``Resources``, ``Parameters``...) of a template; empty when it is not an object."""
    value = template.get(name) if isinstance(template, Mapping) else None
    return value if isinstance(value, Mapping) else {}


def kind_of(resource: Any) -> Optional[str]:
    """The asset kind of a resource, None for other resource types and malformed entries."""
    resource_type = resource.get("Type") if isinstance(resource, Mapping) else None
    return KIND_BY_RESOURCE_TYPE.get(resource_type) if isinstance(resource_type, str) else None


def quicksight_resources(resources: Mapping[str, Any]) -> list[TemplateResource]:
    """The QuickSight resources of a ``Resources`` section, in template order.

    Args:
        resources: The template's ``Resources`` object (see ``section``).

    Returns:
        One entry per resource of a QuickSight type; other resource types and entries that are not
        objects are left out.
    """
    found = []
    for logical_id, resource in resources.items():
        kind = kind_of(resource)
        if kind is None:
            continue
        properties = resource.get("Properties")
        if not isinstance(properties, Mapping):
            found.append(TemplateResource(str(logical_id), kind, None, None))
            continue
        found.append(TemplateResource(str(logical_id), kind, asset_id(kind, properties), properties))
    return found


def asset_id(kind: str, properties: Mapping[str, Any]) -> Optional[str]:
    """The asset id a resource's properties carry, without the id prefix (None when unreadable)."""
    if kind == REFRESH_SCHEDULE:
        schedule = properties.get("Schedule")
        data_set_id = id_literal(properties.get("DataSetId"))
        schedule_id = id_literal(schedule.get("ScheduleId")) if isinstance(schedule, Mapping) else None
        return f"{data_set_id}/{schedule_id}" if data_set_id and schedule_id else None
    prop = ID_PROPERTY.get(kind)
    return id_literal(properties.get(prop)) if prop else None


def id_literal(value: Any) -> Optional[str]:
    """An id written as a non-empty string or as ``{"Fn::Sub": "${ResourceIdPrefixForAllResources}<id>"}``.

    The prefix is removed only where QuickSight writes it, in front; an ``Fn::Sub`` that substitutes
    anything else, or whose own variables could redefine the prefix, names no id this can read.
    """
    if isinstance(value, Mapping):
        text = sub_text(value)
        if text is None:
            return None
        value = text.removeprefix(_PREFIX)
        if "${" in value:
            return None
    return value if isinstance(value, str) and value else None


def sub_text(value: Any) -> Optional[str]:
    """The text of an ``Fn::Sub`` without variables of its own, else None.

    ``{"Fn::Sub": text}`` and ``{"Fn::Sub": [text, {}]}`` are the same to CloudFormation; a list of
    any other shape has variables (or is no valid ``Fn::Sub``).
    """
    if not isinstance(value, Mapping) or len(value) != 1 or "Fn::Sub" not in value:
        return None
    argument = value["Fn::Sub"]
    if isinstance(argument, list) and len(argument) == 2 and argument[1] == {}:
        argument = argument[0]
    return argument if isinstance(argument, str) else None


def parameter_uses(node: Any) -> dict[str, int]:
    """How many times each parameter is used under ``node``, through ``Ref`` or ``Fn::Sub``.

    Plain strings never count (calculated fields hold literal ``${Name}`` text), nor do pseudo
    parameters (``AWS::Region``), ``Fn::Sub``'s GetAtt forms (``${Asset.Arn}``) or its own
    variables; the values of those variables are walked like any node.
    """
    counts: dict[str, int] = {}
    stack = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, Mapping):
            if len(item) == 1:
                ((function, argument),) = item.items()
                if function == "Ref" and isinstance(argument, str):
                    counts[argument] = counts.get(argument, 0) + 1
                    continue
                if function == "Fn::Sub":
                    for name in _sub_names(argument):
                        counts[name] = counts.get(name, 0) + 1
                    if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], Mapping):
                        stack.extend(argument[1].values())
                    continue
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)
    return counts


def referenced_parameters(node: Any) -> set[str]:
    """The names ``parameter_uses`` counts under ``node``."""
    return set(parameter_uses(node))


def _sub_names(argument: Any) -> set[str]:
    """Parameters an ``Fn::Sub`` substitutes: not pseudo parameters, GetAtt forms or its own variables."""
    if isinstance(argument, str):
        text, local = argument, {}
    elif isinstance(argument, list) and len(argument) == 2 and isinstance(argument[0], str):
        text, local = argument[0], argument[1] if isinstance(argument[1], Mapping) else {}
    else:
        return set()
    names = set()
    for match in _SUB_VARIABLE.finditer(text):
        name = match.group(1).strip()
        if name and "." not in name and not name.startswith("AWS::") and name not in local:
            names.add(name)
    return names
