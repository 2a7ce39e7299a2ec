"""What is deployed: the export template made safe for CloudFormation, and its size as sent.

Pure core: no I/O, no Pulumi. The template is changed only as parsed data, never by text
substitution (calculated fields contain literal ``${...}``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Optional

from ..errors import NestingError
from .bundle import compact_json
from .catalog import NO_ECHO_PROPERTIES  # the credentials marked NoEcho (catalog says why not SecretArn)
from .nesting import NestedPlan, needs_nesting, split_template
from .principals import PrincipalTransform, SourcePrincipal, principalize
from .quotas import INLINE_TEMPLATE_LIMIT, OUTPUT_LIMIT, PARAMETER_LIMIT, RESOURCE_LIMIT, URL_TEMPLATE_LIMIT


@dataclass(frozen=True)
class DeployableTemplate:
    """The template to deploy.

    Attributes:
        body: Compact JSON.
        sha256: Of ``body`` encoded as UTF-8 (the staged S3 object's content address).
        size: Bytes of ``body`` in UTF-8 (what an S3 object holds; TemplateURL's limit applies).
        inline_size: Bytes CloudFormation receives when ``body`` is sent as TemplateBody.
        hidden: Names of the parameters given ``NoEcho``.
        principals: The export's permission principals (see ``core.principals``).
        grant_slots: Whether the grant parameters were added (an export without permissions).
        resources: How many resources the template declares.
        parameters: How many parameters it declares, those the principal transform adds included.
        outputs: How many outputs it declares.
    """

    body: str
    sha256: str
    size: int
    inline_size: int
    hidden: tuple[str, ...]
    principals: tuple[SourcePrincipal, ...] = ()
    grant_slots: bool = False
    resources: int = 0
    parameters: int = 0
    outputs: int = 0

    @property
    def inline(self) -> bool:
        """Whether CloudFormation takes it as TemplateBody (else it is staged in S3)."""
        return self.inline_size <= INLINE_TEMPLATE_LIMIT

    @property
    def deployable(self) -> bool:
        """Whether CloudFormation takes it at all (through S3 when not inline, as nested stacks when over one stack's limits)."""
        return not self.exceeded()

    @property
    def nested(self) -> bool:
        """Whether it is over what one stack takes (bytes or resources): deployed as nested stacks (``core.nesting``)."""
        return needs_nesting(self.size, self.resources)

    @cached_property
    def nesting(self) -> tuple[Optional[NestedPlan], Optional[str]]:
        """(the split into nested stacks, None) when ``nested``; (None, why it cannot be split) when it cannot."""
        if not self.nested:
            return None, None
        try:
            return split_template(json.loads(self.body)), None
        except NestingError as exc:
            return None, str(exc)

    def exceeded(self) -> list[str]:
        """Each CloudFormation limit the template exceeds, with the numbers (empty when it fits).

        Over one stack's bytes or resources is no limit while the template splits into nested
        stacks; the parent declares every parameter and output, so those limits stay.
        """
        found = []
        _plan, unsplittable = self.nesting
        if unsplittable:
            found.append(
                f"{self.size:,} bytes compact with {self.resources:,} resources, over one stack's limits "
                f"({URL_TEMPLATE_LIMIT:,} bytes, {RESOURCE_LIMIT:,} resources), and it cannot be split into nested "
                f"stacks: {unsplittable}"
            )
        for count, limit, what in (
            (self.parameters, PARAMETER_LIMIT, "parameters (the principal parameters included)"),
            (self.outputs, OUTPUT_LIMIT, "outputs"),
        ):
            if count > limit:
                found.append(f"{count:,} {what}, over the limit of {limit:,} per template")
        return found

    def principal_transform(self) -> PrincipalTransform:
        """The principal transform's result without the document (for ``resolve_principals``)."""
        return PrincipalTransform({}, self.principals, self.grant_slots)


def inline_size(body: str) -> int:
    """Bytes of a TemplateBody as the deployment sends it: boto3 form-encodes the body unchanged,
    so CloudFormation receives its UTF-8 bytes (pulumi-aws, no longer used to deploy, re-encoded
    it with Go's six-byte escapes for ``<``, ``>`` and ``&``)."""
    return len(body.encode("utf-8"))


def _count(document: Mapping[str, Any], section: str) -> int:
    value = document.get(section)
    return len(value) if isinstance(value, Mapping) else 0


def deployable(body: str, catalog: Sequence[Mapping[str, Any]], grant: bool = False) -> DeployableTemplate:
    """Make the permission principals parameters, mark the credential parameters (Password, Username) ``NoEcho``, measure.

    Each source principal becomes a ``Principal<hash10>`` parameter (and an export without
    permissions gets the grant slots): see ``core.principals``. The transform depends on the
    template only, so every stage deploys the same bytes.

    QuickSight exports declare Password/Username parameters without ``NoEcho``, so
    CloudFormation would show their values to anyone allowed to describe the stack. ``NoEcho``
    makes it mask them; every stage applies the same change, so pinned stages still deploy
    identical bytes.

    Args:
        body: The export template as JSON.
        catalog: The parameter catalog (dicts with ``name`` and ``credential``).
        grant: The stage sets ``grant``: an export without permissions gets the grant slots.
    """
    credentials = {str(e["name"]) for e in catalog if e.get("credential") and e.get("property") in NO_ECHO_PROPERTIES}
    transform = principalize(json.loads(body), in_place=True, grant=grant)
    document = transform.document
    parameters = document.get("Parameters") or {}
    hidden = tuple(
        sorted(name for name in credentials if isinstance(parameters.get(name), dict) and not parameters[name].get("NoEcho"))
    )
    for name in hidden:
        parameters[name]["NoEcho"] = True
    out = compact_json(document) if hidden or transform.parameters else body
    encoded = out.encode("utf-8")
    return DeployableTemplate(
        body=out,
        sha256=hashlib.sha256(encoded).hexdigest(),
        size=len(encoded),
        inline_size=inline_size(out),
        hidden=hidden,
        principals=transform.principals,
        grant_slots=transform.grant_slots,
        resources=_count(document, "Resources"),
        parameters=_count(document, "Parameters"),
        outputs=_count(document, "Outputs"),
    )
