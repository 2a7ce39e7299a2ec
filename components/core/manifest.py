"""The release archive's model: manifests, object keys, digests (pure core: no I/O, no Pulumi, no boto3).

A release archive is an S3 bucket holding, for every release a stage fetched:

- ``templates/<sha256>.json``: the template as exported, compacted (the ``template_body`` the
  export/release resources record), content-addressed by the sha256 of exactly those UTF-8 bytes;
- ``releases/<name>.json``: its manifest (``ReleaseManifest``), written once and never overwritten.

QuickSight forgets an export job 14 days after it started; the archive does not, so a later stage
deploys a release by name (or by sha256) a year later, and a rollback names an earlier release.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any, Mapping, Optional

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..errors import ArchiveConflictError, ArchiveError, BundleFormatError, InputError, clean, listing
from .bundle import parse_template
from .template import quicksight_resources, section
from .types import AccountId, OptionalVersionId

TEMPLATES_PREFIX = "templates/"
RELEASES_PREFIX = "releases/"
MANIFEST_VERSION = 1
# An archive name is an S3 key segment: what a job id allows (``[A-Za-z0-9_-]``) plus dots, no
# slash (it would make a folder), at most 512 characters (a job id's limit).
NAME_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9._-]{0,511}$"
SHA256_PATTERN = r"^[0-9a-f]{64}$"
_NAME = re.compile(NAME_PATTERN)


class ReleaseManifest(BaseModel):
    """``releases/<name>.json``: what one release is, independent of QuickSight's job descriptions.

    Attributes:
        name: The release name (the export job id it was fetched from).
        sha256: The sha256 of ``templates/<sha256>.json`` (the compact template's UTF-8 bytes).
        export_sha256: The sha256 of the bytes the export job served (the ``template_sha256``
            output of the export/release resource, what ``expectedSha256`` pins).
        template_key: ``templates/<sha256>.json``.
        template_version_id: The S3 version of ``template_key`` that holds those bytes (None in a
            bucket without versioning, and in manifests written before 0.2.0): stages read it.
        template_size: Bytes of the archived template.
        job_arn: The export job's ARN.
        source_account_id: The account that ran the export.
        source_region: Its QuickSight region (None when the chain's was used and not known).
        created_time: When the job was created (ISO 8601, UTC), if QuickSight said.
        archived_by: Which resource archived it (``AssetBundleRelease`` or ``AssetBundleExport``).
        resource_arns: The ARNs the job exported.
        catalog: The template's parameter catalog (``core.catalog.build_catalog``, as dumped).
        assets: Asset ids by kind (``core.catalog.summarize_resources``).
        lint_findings: cfn-lint's findings of the template when it was archived (as dumped), for
            people reading the archive; None when it was not validated. Stages never take them
            from the archive: whoever can write the archive could write "no findings".
        template_repairs: What CloudFormation's schemas reject in the template (``core.repair``, as
            dumped; each says whether ``templateRepair: repair`` removed it); None when not looked at.
            Informational, like ``lint_findings``: a stage shows them (``template_repairs``), decides nothing by them.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    version: int = MANIFEST_VERSION
    name: str = Field(pattern=NAME_PATTERN)
    sha256: str = Field(pattern=SHA256_PATTERN)
    export_sha256: Optional[str] = Field(default=None, pattern=SHA256_PATTERN)
    template_key: str
    template_version_id: OptionalVersionId = None
    template_size: int = Field(ge=2)
    job_arn: str
    source_account_id: AccountId
    source_region: Optional[str] = None
    created_time: Optional[str] = None
    archived_by: str = "AssetBundleRelease"
    resource_arns: list[str] = Field(default_factory=list)
    catalog: list[dict[str, Any]] = Field(default_factory=list)
    assets: dict[str, list[str]] = Field(default_factory=dict)
    lint_findings: Optional[list[dict[str, Any]]] = None
    template_repairs: Optional[list[dict[str, Any]]] = None

    def text(self) -> str:
        """The manifest as written to S3 (compact, keys sorted: the same release gives the same bytes)."""
        return json.dumps(self.model_dump(), ensure_ascii=False, sort_keys=True, separators=(",", ":"))

    def matches(self, sha256: str) -> bool:
        """Whether a pinned sha256 names this release: its archived template or the bytes its job served."""
        wanted = sha256.lower()
        return wanted == self.sha256 or wanted == self.export_sha256


def sha256_text(text: str) -> str:
    """The sha256 (hex) of ``text``'s UTF-8 bytes."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def check_name(name: str) -> str:
    """An archive name, refused when it is not one S3 key segment.

    Raises:
        InputError: naming the rule.
    """
    if not isinstance(name, str) or not _NAME.match(name):
        raise InputError(
            f"release {clean(repr(name), 200)} is not an archive name: use letters, digits, '.', '_' and '-' "
            "(starting with a letter or digit, at most 512 characters), the export job id the release was cut as"
        )
    return name


def template_key(sha256: str) -> str:
    """``templates/<sha256>.json``."""
    if not re.match(SHA256_PATTERN, sha256 or ""):
        raise InputError(f"releaseSha256 {clean(repr(sha256), 100)} is not a sha256 (64 lower-case hex digits)")
    return f"{TEMPLATES_PREFIX}{sha256}.json"


def manifest_key(name: str) -> str:
    """``releases/<name>.json``."""
    return f"{RELEASES_PREFIX}{check_name(name)}.json"


def build_manifest(
    *,
    name: str,
    template_body: str,
    export_sha256: Optional[str],
    job_arn: str,
    source_account_id: str,
    source_region: Optional[str],
    created_time: Optional[str],
    resource_arns: list[str],
    catalog: list[dict[str, Any]],
    assets: Mapping[str, list[str]],
    archived_by: str,
    lint_findings: Optional[list[dict[str, Any]]] = None,
    template_repairs: Optional[list[dict[str, Any]]] = None,
) -> ReleaseManifest:
    """The manifest of a fetched release (the template itself is archived under ``template_key``)."""
    sha = sha256_text(template_body)
    return ReleaseManifest(
        name=check_name(name),
        sha256=sha,
        export_sha256=export_sha256.lower() if export_sha256 else None,
        template_key=template_key(sha),
        template_size=len(template_body.encode("utf-8")),
        job_arn=job_arn,
        source_account_id=source_account_id,
        source_region=source_region,
        created_time=created_time,
        archived_by=archived_by,
        resource_arns=list(resource_arns),
        catalog=list(catalog),
        assets={k: list(v) for k, v in assets.items()},
        lint_findings=list(lint_findings) if lint_findings is not None else None,
        template_repairs=list(template_repairs) if template_repairs is not None else None,
    )


def parse_manifest(text: Optional[str], where: str, name: Optional[str] = None) -> ReleaseManifest:
    """Read a manifest, refusing anything that is not one (or one of another release).

    Args:
        text: The object's body.
        where: ``s3://<bucket>/<key>``, for messages.
        name: The release the key names (the manifest must say the same).

    Raises:
        ArchiveError: empty, not JSON, not a manifest, or of another release.
    """
    if not text:
        raise ArchiveError(
            f"the release manifest {where} is empty (or not readable as text: it must be stored as application/json): "
            "archive the release again from the stage that cut it"
        )
    try:
        document = json.loads(text)
    except ValueError:
        raise ArchiveError(f"the release manifest {where} is not JSON: it was not written by this program") from None
    try:
        manifest = ReleaseManifest.model_validate(document)
    except ValidationError as exc:
        fields = [".".join(str(p) for p in item["loc"]) or "manifest" for item in exc.errors()]
        raise ArchiveError(
            f"the release manifest {where} is not a release manifest (bad fields: {listing(fields)}): it was not "
            "written by this program"
        ) from None
    if manifest.version > MANIFEST_VERSION:
        raise ArchiveError(
            f"the release manifest {where} is version {manifest.version}, newer than this library reads "
            f"({MANIFEST_VERSION}): upgrade quicksight-promotion"
        )
    if name is not None and manifest.name != name:
        raise ArchiveError(f"the release manifest {where} names release {clean(manifest.name)!r}, not {name!r}")
    if manifest.template_key != template_key(manifest.sha256):
        raise ArchiveError(
            f"the release manifest {where} points at {clean(manifest.template_key)}, not templates/<its sha256>.json"
        )
    return manifest


def check_template(body: Optional[str], sha256: str, where: str) -> str:
    """The archived template, refused unless its UTF-8 bytes hash to ``sha256``.

    Raises:
        ArchiveError: as ``checked_document``.
    """
    checked_document(body, sha256, where)
    return str(body)


def checked_document(body: Optional[str], sha256: str, where: str) -> dict[str, Any]:
    """The archived template parsed, refused unless its UTF-8 bytes hash to ``sha256``.

    Raises:
        ArchiveError: missing, other bytes than the manifest names, or no template an export gives
            (the strict parser of exports: duplicate keys, NaN, absurd depth refused).
    """
    if body is None or body == "":
        raise ArchiveError(
            f"the archived template {where} is missing or empty (stored as application/json? archived in another "
            "region?): archive the release again from the stage that cut it"
        )
    actual = sha256_text(body)
    if actual != sha256:
        raise ArchiveError(
            f"the archived template {where} hashes to sha256 {actual}, not the {sha256} its key and manifest "
            "name: the object was changed after it was archived; restore its first version (the bucket is versioned)"
        )
    return archived_document(body, where)


def archived_document(body: str, where: str) -> dict[str, Any]:
    """An archived template parsed by the same strict parser as an export (duplicate keys, NaN, depth refused).

    Raises:
        ArchiveError: the archived bytes are no template an export could have given.
    """
    try:
        return parse_template(body.encode("utf-8"), local=True).document
    except BundleFormatError as exc:
        raise ArchiveError(f"the archived template {where} is not a template an export gives: {exc}") from None


def same_release(existing: ReleaseManifest, new: ReleaseManifest, where: str) -> ReleaseManifest:
    """The archived manifest, when ``new`` is the same release again (idempotent re-archive).

    Raises:
        ArchiveConflictError: the name is archived with another template (naming both sha256).
    """
    if existing.sha256 != new.sha256:
        raise ArchiveConflictError(
            f"release {new.name!r} is archived already ({where}) with template sha256 {existing.sha256}, not "
            f"{new.sha256}: an archived release is never overwritten; cut the new template as a new release name"
        )
    return existing


def resource_digests(template: Mapping[str, Any]) -> dict[str, str]:
    """One sha256 per QuickSight resource of a template: ``<kind>/<asset id>`` (else its logical id) -> digest.

    The digest is of the resource's JSON with keys sorted, so it changes exactly when what
    CloudFormation would deploy for that asset changes. Given to the deployment as an input, it
    makes ``pulumi preview --diff`` list the assets a new template adds, changes or removes.
    """
    resources = section(template, "Resources")
    found: dict[str, str] = {}
    for resource in quicksight_resources(resources):
        key = resource.label if resource.label not in found else resource.logical_id
        text = json.dumps(resources[resource.logical_id], ensure_ascii=False, sort_keys=True, separators=(",", ":"))
        found[key] = sha256_text(text)
    return dict(sorted(found.items()))
