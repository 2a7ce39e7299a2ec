"""Offline template validation with cfn-lint, which ships CloudFormation's QuickSight schemas.

Exported templates have failed CloudFormation's own schema validation when QuickSight's schema
ran ahead of CloudFormation's (properties such as ``ControlTitleFormatText``). cfn-lint finds
those before a deploy does. It is imported lazily: it costs about a second to import and is only
needed when a new template arrives (the export provider validates once per template, in
create/update, and keeps the findings in state).
"""

from __future__ import annotations

import json
from dataclasses import replace
from typing import Any, Literal, Optional, Sequence

from pydantic import BaseModel, ConfigDict

from .core.bundle import Template
from .core.repair import needed_types, repair_template
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


def repaired(template: Template, sha256: str, mode: str, region: Optional[str] = None) -> tuple[Template, str, Optional[list[dict[str, Any]]]]:
    """A template as ``templateRepair`` makes it (``core.repair`` with cfn-lint's schemas), its sha256, the places found.

    With ``repair`` and something removed, the template is the repaired compact JSON and the
    sha256 that of those bytes; otherwise both are returned unchanged.

    Args:
        template: The template as fetched or read.
        sha256: Its sha256 (the downloaded or read bytes').
        mode: ``report``, ``repair`` or ``off``.
        region: The region whose resource schemas apply (else us-east-1's).

    Returns:
        (template, sha256, each place found as a dict; None when ``off``, or ``report`` without cfn-lint).

    Raises:
        QuickSightPromotionError: ``repair`` without cfn-lint installed.
    """
    if mode == "off":
        return template, sha256, None
    try:
        schemas = resource_schemas(needed_types(template.document), region)
    except QuickSightPromotionError:
        if mode == "repair":
            raise
        return template, sha256, None  # cfn-lint is not installed: the default report is left out, not a failure
    result = repair_template(template.body, template.document, schemas, mode)
    found = [place.model_dump() for place in result.repairs]
    if not result.changed or result.sha256 is None:
        return template, sha256, found
    body = result.body
    fixed = replace(template, body=body, size=len(body.encode("utf-8")), document=json.loads(body))
    return fixed, result.sha256, found
