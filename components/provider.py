"""The ``AssetBundleExport`` dynamic resource and its provider (thin Pulumi shell).

The provider's module and class path (``<package>.provider.AssetBundleExportProvider``) are
written into users' Pulumi state by dill: they are public API and must not move.

How the engine runs it: ``pulumi up`` starts ``python -u -m pulumi.dynamic`` in the project
directory and calls Check/Diff/Create/Update/Delete over gRPC, handing over the dill-serialised
provider in the ``__provider`` property. The provider is built with no arguments and holds no
client, session or credential, so it pickles to a few bytes naming this class; each call creates
its AWS client from the provider process's own environment.
"""

from __future__ import annotations

import datetime as dt
from typing import Any, Optional

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import ValidationError

from . import aws
from .core.models import ExportInputs, ExportOutputs
from .errors import InputError

# The engine marks values that are not known yet (during preview) with this sentinel string;
# the SDK hands them to Check and Diff as ``pulumi.output.Unknown`` objects.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"

INPUT_NAMES = tuple(ExportInputs.model_fields)
# Inputs that identify the export: a change means another job, so another resource.
REPLACE_ON = ("aws_account_id", "export_job_id", "region")
# Inputs that change how the same job is fetched or verified: fetch again in place.
UPDATE_ON = ("role_arn", "expected_sha256")
# timeout_seconds only bounds a wait; changing it must not touch a deployed stack.


def _is_unknown(value: Any) -> bool:
    """Whether a value is not known yet (preview)."""
    return isinstance(value, pulumi.output.Unknown) or (isinstance(value, str) and value == UNKNOWN)


def _known(props: dict[str, Any]) -> dict[str, Any]:
    """The inputs among ``props`` whose values are known (not None, not unknown)."""
    return {k: props[k] for k in INPUT_NAMES if props.get(k) is not None and not _is_unknown(props[k])}


def _problems(error: ValidationError) -> list[tuple[str, str]]:
    """(input name, reason) for each validation error."""
    found = []
    for item in error.errors():
        name = str(item["loc"][0]) if item["loc"] else "inputs"
        value = item.get("input")
        shown = f" (got {value!r})" if isinstance(value, (str, int, float)) and name != "inputs" else ""
        found.append((name, f"{item['msg']}{shown}"))
    return found


def parse_inputs(props: dict[str, Any]) -> ExportInputs:
    """Validate the inputs for create/update, reporting every problem in one message.

    Raises:
        InputError: naming each bad input and what it must look like.
    """
    try:
        return ExportInputs.model_validate(_known(props))
    except ValidationError as exc:
        listed = "; ".join(f"{name}: {reason}" for name, reason in _problems(exc))
        raise InputError(f"invalid AssetBundleExport inputs: {listed}; fix them in the Pulumi program") from exc


def _same(old: Any, new: Any) -> bool:
    return (old or None) == (new or None)


class AssetBundleExportProvider(ResourceProvider):
    """Waits on a QuickSight CLOUDFORMATION_JSON export job and exposes its template.

    Constructed with no arguments and stateless: safe to pickle into Pulumi state.
    """

    # The provider captures no secrets, so its serialised form need not be a secret in state.
    serialize_as_secret_always = False

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the known inputs; unknown ones (preview) are checked later, in create."""
        known = _known(news)
        failures: list[CheckFailure] = []
        missing = [k for k in ("aws_account_id", "export_job_id") if k not in news or news[k] is None]
        for name in missing:
            failures.append(CheckFailure(name, f"{name} is required"))
        try:
            # Unknown required inputs are stood in for, so only known values are judged.
            stand_ins = {"aws_account_id": "000000000000", "export_job_id": "unknown"}
            ExportInputs.model_validate({**stand_ins, **known})
        except ValidationError as exc:
            failures.extend(CheckFailure(name, reason) for name, reason in _problems(exc))
        sha = news.get("expected_sha256")
        if isinstance(sha, str) and not _is_unknown(sha):
            # Normalised here so that diff compares like with like (outputs hold it lower-case).
            news = {**news, "expected_sha256": sha.lower()}
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare only the inputs that matter; ``__provider`` and ``timeout_seconds`` never cause a change.

        Ignoring the serialised provider means upgrading this library does not touch users' stacks.
        """
        replaces = [k for k in REPLACE_ON if _is_unknown(news.get(k)) or not _same(olds.get(k), news.get(k))]
        updates = [k for k in UPDATE_ON if _is_unknown(news.get(k)) or not _same(olds.get(k), news.get(k))]
        return DiffResult(
            changes=bool(replaces or updates),
            replaces=replaces,
            stables=[],
            delete_before_replace=False,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Wait for the job, download and unpack its template; the id is the job's ARN."""
        inputs = parse_inputs(props)
        outs = _fetch(inputs)
        return CreateResult(outs["export_job_arn"], outs)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Fetch the same job again (a changed role or pinned sha256) and re-verify it."""
        return UpdateResult(_fetch(parse_inputs(news)))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Keep the recorded state: ``pulumi refresh`` makes no AWS call.

        The template of a finished job never changes, and job descriptions expire after 14 days,
        so reading it again could only fail for a resource that is still correct.
        """
        return ReadResult(id_, props)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Do nothing remote: QuickSight deletes export job descriptions on its own after 14 days.

        Deleting this resource only forgets the downloaded template.
        """


def _fetch(inputs: ExportInputs) -> dict[str, Any]:
    fetched = aws.fetch_export(inputs)
    description = fetched.description
    outputs = ExportOutputs(
        template_body=fetched.template.body,
        template_sha256=fetched.sha256,
        template_size=fetched.template.size,
        export_job_arn=description.arn or f"{inputs.aws_account_id}/{inputs.export_job_id}",
        resource_arns=list(description.resource_arns),
        created_time=(
            description.created_time.astimezone(dt.timezone.utc).isoformat() if description.created_time else None
        ),
        warnings=[w.describe() for w in description.warnings],
    )
    return {**inputs.model_dump(), **outputs.model_dump()}


class AssetBundleExport(pulumi.dynamic.Resource, module="quicksight", name="AssetBundleExport"):
    """A finished QuickSight CLOUDFORMATION_JSON export job and its template.

    ``pulumi up`` waits for the job, refuses any other export format, downloads the template
    right after the job succeeds, unpacks it (raw JSON, or a zip holding one template) and
    exposes it as outputs. The pre-signed download URL is never stored.

    Args:
        resource_name: The Pulumi resource name.
        aws_account_id: The source account (12 digits) that ran the export.
        export_job_id: The ``AssetBundleExportJobId``.
        region: The QuickSight region; else the standard AWS chain's.
        role_arn: A role in the source account to assume before calling QuickSight.
        timeout_seconds: How long to wait for the job (default 1800).
        expected_sha256: Refuse a download whose bytes hash differently.
        opts: Resource options.
    """

    aws_account_id: pulumi.Output[str]
    export_job_id: pulumi.Output[str]
    region: pulumi.Output[Optional[str]]
    role_arn: pulumi.Output[Optional[str]]
    timeout_seconds: pulumi.Output[int]
    expected_sha256: pulumi.Output[Optional[str]]
    template_body: pulumi.Output[str]
    template_sha256: pulumi.Output[str]
    template_size: pulumi.Output[int]
    export_job_arn: pulumi.Output[str]
    resource_arns: pulumi.Output[list[str]]
    created_time: pulumi.Output[Optional[str]]
    warnings: pulumi.Output[list[str]]

    def __init__(
        self,
        resource_name: str,
        *,
        aws_account_id: pulumi.Input[str],
        export_job_id: pulumi.Input[str],
        region: Optional[pulumi.Input[str]] = None,
        role_arn: Optional[pulumi.Input[str]] = None,
        timeout_seconds: Optional[pulumi.Input[int]] = None,
        expected_sha256: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "aws_account_id": aws_account_id,
            "export_job_id": export_job_id,
            "region": region,
            "role_arn": role_arn,
            "timeout_seconds": timeout_seconds,
            "expected_sha256": expected_sha256,
        }
        # Output-only properties are declared as None so that they become attributes.
        props.update({name: None for name in ExportOutputs.model_fields})
        super().__init__(AssetBundleExportProvider(), resource_name, props, opts)
