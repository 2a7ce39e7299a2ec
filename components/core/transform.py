"""What is deployed: the export template made safe for CloudFormation, and its size as sent.

Pure core: no I/O, no Pulumi. The template is changed only as parsed data, never by text
substitution (calculated fields contain literal ``${...}``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .bundle import compact_json

# CloudFormation's limits: a TemplateBody of at most 51,200 bytes, a TemplateURL object of at most 1 MB.
INLINE_TEMPLATE_LIMIT = 51_200
URL_TEMPLATE_LIMIT = 1_048_576

# Credential properties whose parameters are marked NoEcho: the secrets. A SecretArn names a
# Secrets Manager secret (an ARN is no secret), so it is deployed as is and shown by DescribeStacks.
NO_ECHO_PROPERTIES: frozenset[str] = frozenset({"Password", "Username"})

@dataclass(frozen=True)
class DeployableTemplate:
    """The template to deploy.

    Attributes:
        body: Compact JSON.
        sha256: Of ``body`` encoded as UTF-8 (the staged S3 object's content address).
        size: Bytes of ``body`` in UTF-8 (what an S3 object holds; TemplateURL's limit applies).
        inline_size: Bytes CloudFormation receives when ``body`` is sent as TemplateBody.
        hidden: Names of the parameters given ``NoEcho``.
    """

    body: str
    sha256: str
    size: int
    inline_size: int
    hidden: tuple[str, ...]

    @property
    def inline(self) -> bool:
        """Whether CloudFormation takes it as TemplateBody (else it is staged in S3)."""
        return self.inline_size <= INLINE_TEMPLATE_LIMIT

    @property
    def deployable(self) -> bool:
        """Whether CloudFormation takes it at all (through S3 when not inline)."""
        return self.size <= URL_TEMPLATE_LIMIT


def inline_size(body: str) -> int:
    """Bytes of a TemplateBody as the deployment sends it: boto3 form-encodes the body unchanged,
    so CloudFormation receives its UTF-8 bytes (pulumi-aws, no longer used to deploy, re-encoded
    it with Go's six-byte escapes for ``<``, ``>`` and ``&``)."""
    return len(body.encode("utf-8"))


def deployable(body: str, catalog: Sequence[Mapping[str, Any]]) -> DeployableTemplate:
    """Mark the credential parameters (Password, Username) ``NoEcho`` and measure the result.

    QuickSight exports declare Password/Username parameters without ``NoEcho``, so
    CloudFormation would show their values to anyone allowed to describe the stack. ``NoEcho``
    makes it mask them; every stage applies the same change, so pinned stages still deploy
    identical bytes.

    Args:
        body: The export template as JSON.
        catalog: The parameter catalog (dicts with ``name`` and ``credential``).
    """
    credentials = {str(e["name"]) for e in catalog if e.get("credential") and e.get("property") in NO_ECHO_PROPERTIES}
    document = json.loads(body)
    parameters = document.get("Parameters") or {}
    hidden = tuple(
        sorted(name for name in credentials if isinstance(parameters.get(name), dict) and not parameters[name].get("NoEcho"))
    )
    for name in hidden:
        parameters[name]["NoEcho"] = True
    out = compact_json(document) if hidden else body
    encoded = out.encode("utf-8")
    return DeployableTemplate(
        body=out,
        sha256=hashlib.sha256(encoded).hexdigest(),
        size=len(encoded),
        inline_size=inline_size(out),
        hidden=hidden,
    )
