"""Offline template validation with cfn-lint, which ships CloudFormation's QuickSight schemas.

Exported templates have failed CloudFormation's own schema validation when QuickSight's schema
ran ahead of CloudFormation's (properties such as ``ControlTitleFormatText``). cfn-lint finds
those before a deploy does. It is imported lazily: it costs about a second to import and is only
needed when a new template arrives (the export provider validates once per template, in
create/update, and keeps the findings in state).
"""

from __future__ import annotations

from typing import Any, Literal, Sequence

from pydantic import BaseModel, ConfigDict

from .errors import QuickSightPromotionError

Level = Literal["error", "warning", "informational"]
VALIDATION_MODES = ("error", "warning", "off")


class Finding(BaseModel):
    """One cfn-lint finding: which resource, where, which rule, what."""

    model_config = ConfigDict(frozen=True)

    resource: str
    path: str
    rule: str
    level: str
    message: str

    def describe(self) -> str:
        """One readable line: ``<resource> <path>: <rule> <message>``."""
        return f"{self.resource} {self.path}: {self.rule} {self.message}"


def lint_template(template_body: str, region: str | None = None) -> list[Finding]:
    """Run cfn-lint's rules on a template; return its findings (empty when it is clean).

    Args:
        template_body: The template as JSON text.
        region: The region whose resource schemas apply (default us-east-1).
    """
    try:
        from cfnlint.api import ManualArgs, lint  # noqa: PLC0415  (slow import, only when needed)
    except ImportError as exc:
        raise QuickSightPromotionError(
            "template validation needs cfn-lint, which is not installed in the environment that runs pulumi: "
            "pip install 'quicksight-promotion[validate]' (or cfn-lint), or set template validation to 'off'"
        ) from exc

    matches = lint(template_body, config=ManualArgs(regions=[region or "us-east-1"]))
    findings = []
    for match in matches:
        path = [str(p) for p in (getattr(match, "path", None) or [])]
        resource = path[1] if len(path) > 1 and path[0] == "Resources" else (path[0] if path else "template")
        findings.append(
            Finding(
                resource=resource,
                path="/".join(path[2:] if path[:1] == ["Resources"] else path) or "/",
                rule=match.rule.id,
                level=str(getattr(match.rule, "severity", "error")).lower(),
                message=str(match.message),
            )
        )
    return findings


def resource_schemas(resource_types: Sequence[str], region: str | None = None) -> dict[str, dict[str, Any]]:
    """CloudFormation's resource schemas of these types, as cfn-lint ships them (for ``core.repair``).

    cfn-lint bundles CloudFormation's registry schemas per region (with its own patches applied);
    a region it does not know reads us-east-1's. The schema of a type the region does not know is
    left out, and its resources are then not walked.

    Args:
        resource_types: Resource types, e.g. ``AWS::QuickSight::Dashboard``.
        region: The region whose schemas apply (default us-east-1).

    Raises:
        QuickSightPromotionError: cfn-lint is not installed.
    """
    try:
        from cfnlint.helpers import REGIONS  # noqa: PLC0415  (only when a template is repaired)
        from cfnlint.schema import PROVIDER_SCHEMA_MANAGER, ResourceNotFoundError  # noqa: PLC0415
    except ImportError as exc:
        raise QuickSightPromotionError(
            "template repair needs cfn-lint (it ships CloudFormation's resource schemas), which is not installed in "
            "the environment that runs pulumi: pip install 'quicksight-promotion[validate]' (or cfn-lint), or set "
            "templateRepair: off"
        ) from exc
    known = region if region in REGIONS else "us-east-1"
    found = {}
    for resource_type in resource_types:
        try:
            found[resource_type] = PROVIDER_SCHEMA_MANAGER.get_resource_schema(known, resource_type).schema
        except ResourceNotFoundError:
            continue
    return found
