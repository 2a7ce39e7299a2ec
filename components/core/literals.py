"""Connection values written as literals: the source account's values that every stage would share.

Pure core: no I/O, no Pulumi. An export made without ``CloudFormationOverridePropertyConfiguration``
for a data source writes its Host, Port, Database or WorkGroup as plain values: deployed to test
or prod, the data source reads dev's database, and no parameter lets a stage change that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import KIND_BY_RESOURCE_TYPE, _asset_id, connection_sites, to_parameter_string


@dataclass(frozen=True)
class LiteralValue:
    """A connection property written as a literal.

    Attributes:
        asset: ``<kind>/<asset id>`` (the logical id when the id cannot be read).
        property: ``Host``, ``WorkGroup``, ``ManifestFileLocation.Bucket``, ``SubnetIds``...
        value: The literal as CloudFormation reads it.
    """

    asset: str
    property: str
    value: str

    def describe(self) -> str:
        """``asset property = value`` on one line."""
        return f"{self.asset} {self.property} = {self.value}"


def _literal(value: Any) -> str | None:
    """The text of a value that names no parameter and no pseudo parameter, else None.

    Values built from ``${AWS::AccountId}``/``${AWS::Region}`` (a role of the deploying account)
    follow the stage's account, and a ``Fn::GetAtt`` of another asset follows the stack: neither is
    reported.
    """
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("Fn::Sub"), str):
        text = value["Fn::Sub"]
        return None if "${" in text.replace("${!", "") else text.replace("${!", "${")
    if isinstance(value, (str, int, float, bool)):
        try:
            return to_parameter_string(value)
        except (TypeError, ValueError):
            return None
    return None


def literal_connection_values(template: Mapping[str, Any]) -> list[LiteralValue]:
    """Every data source and VPC connection property of ``CONNECTION_PROPERTIES`` written as a literal.

    ``DisableSsl`` is reported only when true (SSL off in every stage); ``false`` is the safe value.

    Args:
        template: The parsed CLOUDFORMATION_JSON template.

    Returns:
        The literal values by asset and property.
    """
    resources = template.get("Resources") if isinstance(template, Mapping) else None
    found = []
    for logical_id, resource in (resources or {}).items() if isinstance(resources, Mapping) else ():
        if not isinstance(resource, Mapping):
            continue
        kind = KIND_BY_RESOURCE_TYPE.get(str(resource.get("Type")))
        properties = resource.get("Properties")
        if kind is None or not isinstance(properties, Mapping):
            continue
        asset_id = _asset_id(kind, properties)
        asset = f"{kind}/{asset_id}" if asset_id else str(logical_id)
        for prop, value in connection_sites(kind, properties):
            text = _literal(value)
            if text is None or (prop == "DisableSsl" and text != "true"):
                continue
            found.append(LiteralValue(asset, prop, text))
    return sorted(found, key=lambda v: (v.asset, v.property, v.value))
