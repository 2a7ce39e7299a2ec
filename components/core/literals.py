"""Connection values written as literals: the source account's values that every stage would share.

Pure core: no I/O, no Pulumi. An export made without ``CloudFormationOverridePropertyConfiguration``
for a data source writes its Host, Port, Database or WorkGroup as plain values: deployed to test
or prod, the data source reads dev's database, and no parameter lets a stage change that.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from .catalog import connection_sites, to_parameter_string
from .template import quicksight_resources, section, sub_text


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
    reported. ``${!Name}`` is CloudFormation's escape for the literal text ``${Name}``.
    """
    text = sub_text(value)
    if text is not None:
        return None if "${" in text.replace("${!", "") else text.replace("${!", "${")
    if isinstance(value, (str, int, float, bool)):
        try:
            return to_parameter_string(value)
        except ValueError:  # a non-finite number is no value CloudFormation takes
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
    found = []
    for resource in quicksight_resources(section(template, "Resources")):
        if resource.properties is None:
            continue
        for prop, value in connection_sites(resource.kind, resource.properties):
            text = _literal(value)
            if text is None or (prop == "DisableSsl" and text != "true"):
                continue
            found.append(LiteralValue(resource.label, prop, text))
    return sorted(found, key=lambda v: (v.asset, v.property, v.value))
