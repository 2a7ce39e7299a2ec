"""Cutting a release: pre-flight checks, then StartAssetBundleExportJob with generated overrides.

The release then waits, downloads and unpacks with the same code as ``AssetBundleExport``
(``quicksight.wait_for_export_job`` and ``quicksight.download_export``).

Pre-flight walks what ``IncludeAllDependencies`` will put in the bundle: each dashboard and
analysis (DescribeDashboard/DescribeAnalysis and their ...Definition), the data sets they declare
(DescribeDataSet, following data sets built on other data sets), the data sources those read
(DescribeDataSource), their VPC connections, the data sets' refresh schedules
(ListRefreshSchedules) and the custom themes in use. Every problem found (an asset not found, a
definition with errors, a data source type exports refuse, more ARNs than the API takes) is
collected and reported in one message before anything starts: an export job with one of them
would only fail minutes later, one cause at a time.
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any, Callable, Optional

from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from pydantic import ValidationError

from ..core.bundle import DEFAULT_LIMITS, BundleLimits
from ..core.models import CLOUDFORMATION_JSON, ExportJobDescription
from ..core.overrides import (
    MAX_RESOURCE_ARNS,
    UNSUPPORTED_TYPES,
    AssetSummary,
    BundleContents,
    DataSetSummary,
    DataSourceInfo,
    asset_arn,
    build_overrides,
    connection_gaps,
    normalize_overrides,
    parse_arn,
    release_job_id,
)
from ..core.polling import DEFAULT_BACKOFF, Backoff, Deadline, poll_until
from ..errors import (
    AwsAccessError,
    ExportJobNotFoundError,
    ExportTimeoutError,
    InputError,
    MalformedAnswerError,
    ReleaseConflictError,
    ReleaseError,
    ReleasePreflightError,
    ServiceUnavailableError,
    ThrottledError,
    clean,
    listing,
)
from .download import DEFAULT_DOWNLOAD_LIMITS, DownloadLimits
from .quicksight import (
    _MALFORMED_ADVICE,
    FetchedExport,
    JobRef,
    _client_for,
    _within,
    describe_export_job,
    download_export,
    quicksight_client,  # noqa: F401  (kept for callers that make a plain client)
    quicksight_clients,
    wait_for_export_job,
)
from .session import (
    BROKEN_ANSWER_ERRORS,
    MALFORMED_ANSWER_ERRORS,
    CLIENT_CONFIG,
    DEFAULT_CALL_BUDGET,
    THROTTLING_CODES,
    BudgetedClients,
    CallBudget,
    CallTimeout,
    call_within,
    error_code,
    is_access_error,
    is_transient,
    is_unknown_host,
)

# StartAssetBundleExportJob answers these while the job id is still running (ConflictException)
# or while the account already runs 5 export jobs (LimitExceededException): both clear on their
# own as jobs finish, so they are waited out within the release's deadline.
WAIT_OUT_CODES = frozenset({"ConflictException", "LimitExceededException"})

# StartAssetBundleExportJob is called with botocore's retries off: botocore's standard mode counts
# LimitExceededException as throttling and would retry it up to 8 times with real sleeps of up to
# 20 s, past the release's deadline. The poll loop retries it (and throttling) within the deadline.
START_CONFIG = CLIENT_CONFIG.merge(Config(retries={"mode": "standard", "total_max_attempts": 1}))
# The same for clients fitted to the release's deadline: one attempt, timeouts fitted to the time left.
START_BUDGET = CallBudget(max_attempts=1)


@dataclass(frozen=True)
class ReleaseRequest:
    """What a release exports and how (the provider's validated inputs).

    Attributes:
        account: The source (dev) account.
        release_name: Names the release; the job id derives from it.
        dashboard_ids, analysis_ids: Ids or ARNs of the release's dashboards and analyses.
        region: The QuickSight region (else the SDK chain's).
        role_arn: A role in the source account to assume first.
        include_permissions, include_tags: StartAssetBundleExportJob's options.
        strict_validation: ``ValidationStrategy.StrictModeForAllResources``.
        id_prefix: Parameterise every asset id with ``ResourceIdPrefixForAllResources``.
        timeout_seconds: Bounds the whole release: pre-flight, waiting for a free slot, the job, the download.
    """

    account: str
    release_name: str
    dashboard_ids: tuple[str, ...] = ()
    analysis_ids: tuple[str, ...] = ()
    region: Optional[str] = None
    role_arn: Optional[str] = None
    include_permissions: bool = False
    include_tags: bool = False
    strict_validation: bool = True
    id_prefix: bool = True
    timeout_seconds: float = 1800.0


@dataclass(frozen=True)
class PreparedRelease:
    """A release that passed pre-flight: the job id, the request body and what the bundle will hold."""

    ref: JobRef
    resource_arns: tuple[str, ...]
    contents: BundleContents
    overrides: dict[str, Any]
    body: dict[str, Any]


@dataclass(frozen=True)
class CutRelease:
    """A finished release: the fetched export and how it was prepared."""

    prepared: PreparedRelease
    fetched: FetchedExport
    started: bool


# --- calls ---------------------------------------------------------------------------------------


class _NotFound(Exception):
    """ResourceNotFoundException from a Describe call (collected as a pre-flight problem)."""


def _call(
    client: Any, operation: str, what: str, ref: JobRef, *, deadline: Optional[Deadline] = None, **kwargs: Any
) -> dict[str, Any]:
    """One QuickSight call, its errors translated (ResourceNotFoundException becomes ``_NotFound``).

    With ``BudgetedClients`` and a ``deadline`` the call fits the time left and is bounded in wall time.

    Raises:
        ThrottledError, ServiceUnavailableError: transient faults (``TransientError``: retried by the caller).
        AwsAccessError, ReleaseError: permanent faults.
        MalformedAnswerError: the answer cannot be parsed, or is not an object.
    """
    api = "".join(part.capitalize() for part in operation.split("_"))
    within = _within(client, deadline) if deadline is not None else None
    try:
        target = _client_for(client, deadline)
        response = call_within(lambda: getattr(target, operation)(**kwargs), within)
    except CallTimeout as exc:
        raise ServiceUnavailableError(
            f"QuickSight did not answer {api} of {what} for release {ref} within {exc.seconds:.0f} s (an answer that "
            "hangs or trickles): check the network and proxies between this machine and QuickSight"
        ) from None
    except ClientError as exc:
        code, message = error_code(exc)
        message = clean(message)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code == "ResourceNotFoundException":
            raise _NotFound(message) from exc
        if code in THROTTLING_CODES or status == 429:
            raise ThrottledError(
                f"QuickSight throttled {api} of {what} for release {ref} ({message}) beyond botocore's retries: "
                "wait a minute and re-run"
            ) from exc
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"QuickSight answered {api} of {what} for release {ref} with HTTP {status} ({clean(code, 100)}: "
                f"{message}) beyond botocore's retries: a QuickSight-side fault; re-run later"
            ) from exc
        if code == "UnsupportedUserEditionException":
            raise AwsAccessError(
                f"QuickSight in account {ref.account} refused {api} for {ref} ({code}: {message}): asset bundle "
                "exports need QuickSight Enterprise edition"
            ) from exc
        if is_access_error(exc):
            raise AwsAccessError(
                f"AWS denied quicksight:{api} on {what} for {ref} ({clean(code, 100)}: {message}): grant the caller that "
                "permission, or set role_arn to a role in the source account that has it"
            ) from exc
        raise ReleaseError(
            f"{api} of {what} for {ref} failed ({clean(code, 100)}: {message}): check the asset, then re-run"
        ) from exc
    except NoCredentialsError as exc:
        raise AwsAccessError(
            f"no AWS credentials to describe {what} for {ref}: configure credentials for the process that runs pulumi"
        ) from exc
    except BotoCoreError as exc:
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"cannot reach QuickSight to describe {what} for {ref} ({type(exc).__name__}: {clean(exc)}): check the "
                "network and region, then re-run"
            ) from exc
        unknown = "the endpoint's host does not exist (QuickSight is not offered in every region); " if is_unknown_host(exc) else ""
        raise ReleaseError(
            f"cannot reach QuickSight to describe {what} for {ref} ({type(exc).__name__}: {clean(exc)}): {unknown}check "
            "the network and region, then re-run"
        ) from exc
    except BROKEN_ANSWER_ERRORS as exc:
        raise ServiceUnavailableError(
            f"the connection to QuickSight broke while reading its answer to {api} of {what} for {ref} "
            f"({type(exc).__name__}): check the network and proxies, then re-run"
        ) from exc
    except MALFORMED_ANSWER_ERRORS as exc:
        raise MalformedAnswerError(
            f"QuickSight's answer to {api} of {what} for {ref} cannot be parsed ({type(exc).__name__}: "
            f"{clean(exc, 200)}): {_MALFORMED_ADVICE}"
        ) from None
    if not isinstance(response, dict):
        raise MalformedAnswerError(f"QuickSight's answer to {api} of {what} for {ref} is not an object: {_MALFORMED_ADVICE}")
    return response


def _asset_id(arn: str) -> str:
    parts = parse_arn(arn)
    return parts["id"] if parts else arn


def _custom_theme(arn: Any, account: str) -> Optional[str]:
    """A theme ARN of the source account (QuickSight's own themes live in account ``aws``)."""
    if not isinstance(arn, str):
        return None
    parts = parse_arn(arn)
    return arn if parts and parts["kind"] == "theme" and parts["account"] == account else None


# The member every answer of these calls has (botocore reads a body that is not JSON as {}).
_REQUIRED = {
    "describe_dashboard": "Dashboard",
    "describe_analysis": "Analysis",
    "describe_dashboard_definition": "Definition",
    "describe_analysis_definition": "Definition",
    "describe_data_set": "DataSet",
    "describe_data_source": "DataSource",
}


@dataclass(frozen=True)
class _Retry:
    """Retries a call's transient faults on the poll schedule until the release's deadline."""

    deadline: Deadline
    backoff: Backoff = DEFAULT_BACKOFF
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random

    def run(self, call: Callable[[], Any], what: str) -> Any:
        """``call()``, transient faults retried until the deadline.

        Raises:
            ExportTimeoutError: only transient faults until the deadline (the last one named).
        """
        outcome = poll_until(
            call,
            lambda _value: True,
            timeout=max(self.deadline.remaining(), 0.0),
            backoff=self.backoff,
            sleep=self.sleep,
            clock=self.deadline.clock,
            draw=self.draw,
        )
        if not outcome.done:
            raise ExportTimeoutError(
                f"{what} within timeout_seconds ({self.deadline.seconds:.0f} s) ({outcome.polls} attempt(s); last "
                f"fault: {clean(outcome.last_error, 600)}): raise timeout_seconds, or check network access to QuickSight"
            )
        return outcome.value


class _Walk:
    """Collects the bundle's contents and every problem found on the way."""

    def __init__(self, client: Any, ref: JobRef, retry: Optional["_Retry"] = None) -> None:
        self.client = client
        self.ref = ref
        self.retry = retry
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.data_sets: dict[str, None] = {}
        self.sources: dict[str, DataSourceInfo] = {}
        self.seen_sources: set[str] = set()
        self.themes: dict[str, None] = {}
        self.schedules: dict[str, None] = {}
        self.pending_sets: list[str] = []

    def _ask(self, operation: str, noun: str, **ids: str) -> dict[str, Any]:
        if self.retry is None:
            answer = _call(self.client, operation, noun, self.ref, AwsAccountId=self.ref.account, **ids)
        else:
            deadline = self.retry.deadline
            answer = self.retry.run(
                lambda: _call(self.client, operation, noun, self.ref, deadline=deadline, AwsAccountId=self.ref.account, **ids),
                f"pre-flight of release {self.ref} could not describe {noun}",
            )
        required = _REQUIRED.get(operation)
        if required is not None and not isinstance(answer.get(required), dict):
            # botocore reads a body that is not JSON (a proxy's HTML page) as an empty answer.
            api = "".join(part.capitalize() for part in operation.split("_"))
            raise MalformedAnswerError(
                f"QuickSight's answer to {api} of {noun} for {self.ref} has no {required} object: {_MALFORMED_ADVICE}"
            )
        return answer

    def _shape(self, model: Any, raw: Any, noun: str) -> Any:
        """Validate an answer's part; a malformed one becomes a problem (None)."""
        try:
            return model.model_validate(raw if isinstance(raw, dict) else {})
        except ValidationError as exc:
            first = exc.errors()[0]
            where = ".".join(str(part) for part in first["loc"]) or "answer"
            self.problems.append(
                f"{noun}: QuickSight's description of it is malformed ({clean(where, 80)}: {first['msg']}); "
                "re-run, and check the asset in QuickSight if it persists"
            )
            return None

    def root(self, kind: str, arn: str) -> None:
        """A dashboard or analysis: its status, definition errors, data sets and theme."""
        asset_id = _asset_id(arn)
        key = "DashboardId" if kind == "dashboard" else "AnalysisId"
        noun = f"{kind} '{asset_id}'"
        try:
            described = self._ask(f"describe_{kind}", noun, **{key: asset_id})
            defined = self._ask(f"describe_{kind}_definition", noun, **{key: asset_id})
        except _NotFound:
            self.problems.append(f"{noun} was not found in account {self.ref.account} ({self.ref.region})")
            return
        summary = described.get("Dashboard" if kind == "dashboard" else "Analysis")
        if kind == "dashboard" and isinstance(summary, dict):
            summary = summary.get("Version")  # a dashboard's status and errors are its published version's
        # The ...Definition answers carry the HTTP status as an integer "Status": not the resource's.
        definition = self._shape(AssetSummary, {k: v for k, v in defined.items() if k != "Status"}, noun)
        version = self._shape(AssetSummary, summary, noun) if definition is not None else None
        if version is None or definition is None:
            return
        errors = [e.describe() for e in definition.errors or version.errors]
        if errors:
            self.problems.append(
                f"{noun} has {len(errors):,} definition error(s): {listing(errors, 3, ', ')}: fix them in QuickSight "
                "(exports fail on definition errors)"
            )
        status = definition.resource_status or version.status
        if status and status.endswith("_FAILED"):
            self.problems.append(f"{noun} is {clean(status, 40)}: fix or re-save it in QuickSight")
        for theme in (definition.theme_arn, version.theme_arn):
            if (custom := _custom_theme(theme, self.ref.account)) is not None:
                self.themes[custom] = None
        for data_set in [*definition.declared_data_sets, *version.declared_data_sets]:
            if data_set not in self.data_sets:
                self.data_sets[data_set] = None
                self.pending_sets.append(data_set)

    def data_set(self, arn: str) -> None:
        """A data set: the data sources of its physical tables, data sets it builds on, refresh schedules."""
        set_id = _asset_id(arn)
        noun = f"data set '{set_id}'"
        try:
            answer = self._ask("describe_data_set", noun, DataSetId=set_id)
        except _NotFound:
            self.problems.append(f"{noun} (used by the release) was not found in account {self.ref.account}")
            return
        data_set = self._shape(DataSetSummary, answer.get("DataSet"), noun)
        if data_set is None:
            return
        for table_id in data_set.uploaded_tables:
            self.problems.append(
                f"{noun} reads an uploaded file (physical table {clean(table_id, 80)}): exports do not support "
                "uploaded files; move the data to S3 or a database"
            )
        for source in data_set.data_source_arns:
            if source not in self.seen_sources:
                self.seen_sources.add(source)
                self._data_source(source, noun)
        for parent in data_set.parent_data_set_arns:
            if parent not in self.data_sets:
                self.data_sets[parent] = None
                self.pending_sets.append(parent)
        if data_set.import_mode == "SPICE":
            # Only SPICE data sets are refreshed; their schedules are exported as RefreshSchedule resources.
            try:
                listed = self._ask("list_refresh_schedules", noun, DataSetId=set_id)
            except _NotFound:
                listed = {}
            for schedule in listed.get("RefreshSchedules") or []:
                if isinstance(schedule, dict) and isinstance(schedule.get("Arn"), str):
                    self.schedules[schedule["Arn"]] = None

    def _data_source(self, arn: str, user: str) -> None:
        source_id = _asset_id(arn)
        noun = f"data source '{source_id}'"
        try:
            answer = self._ask("describe_data_source", noun, DataSourceId=source_id)
        except _NotFound:
            self.problems.append(f"{noun} (read by {user}) was not found in account {self.ref.account}")
            return
        raw = answer.get("DataSource")
        info = self._shape(DataSourceInfo, {"Arn": arn, **(raw if isinstance(raw, dict) else {})}, noun)
        if info is None:
            return
        self.sources[arn] = info
        if info.type in UNSUPPORTED_TYPES:
            self.problems.append(
                f"{noun} is of type {clean(info.type, 40)}, which asset bundle exports do not support: replace it "
                f"(used by {user}) or leave that data set out of the release"
            )
        elif (gap := connection_gaps(info)) is not None:
            self.notes.append(gap)


def prepare_release(
    client: Any,
    request: ReleaseRequest,
    region: str,
    *,
    deadline: Optional[Deadline] = None,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    draw: Callable[[], float] = random.random,
) -> PreparedRelease:
    """Pre-flight: resolve the assets, walk their dependencies, build the overrides and the request.

    With a ``deadline`` every Describe call fits the time left (``BudgetedClients``) and its
    transient faults are retried until it; without one each call is made once.

    Raises:
        ReleasePreflightError: every problem found, in one message.
        InputError: the release names no asset, or a malformed id/ARN.
        AwsAccessError, ThrottledError, ReleaseError: a call failed otherwise.
    """
    ref = JobRef(request.account, release_job_id(request.release_name), region)
    problems: list[str] = []
    roots: list[tuple[str, str]] = []
    for kind, values in (("dashboard", request.dashboard_ids), ("analysis", request.analysis_ids)):
        for value in values:
            try:
                roots.append((kind, asset_arn(kind, value, account=request.account, region=region)))
            except InputError as exc:
                problems.append(str(exc))
    arns = tuple(dict.fromkeys(arn for _, arn in roots))
    if not arns and not problems:
        raise InputError(
            f"release '{clean(request.release_name, 100)}' names no dashboard or analysis: set dashboard_ids "
            "and/or analysis_ids"
        )
    if len(arns) > MAX_RESOURCE_ARNS:
        problems.append(
            f"{len(arns)} dashboards and analyses, more than the {MAX_RESOURCE_ARNS} ResourceArns one export "
            "takes: split them into several releases"
        )
    walk = _Walk(client, ref, _Retry(deadline, backoff, sleep, draw) if deadline is not None else None)
    if len(arns) <= MAX_RESOURCE_ARNS:
        for kind, arn in dict.fromkeys(roots):
            walk.root(kind, arn)
        while walk.pending_sets:
            walk.data_set(walk.pending_sets.pop(0))
    problems.extend(walk.problems)
    vpcs = tuple(sorted({s.vpc_connection_arn for s in walk.sources.values() if s.vpc_connection_arn}))
    contents = BundleContents(
        dashboards=tuple(a for k, a in roots if k == "dashboard"),
        analyses=tuple(a for k, a in roots if k == "analysis"),
        data_sets=tuple(walk.data_sets),
        data_sources=tuple(walk.sources.values()),
        themes=tuple(walk.themes),
        vpc_connections=vpcs,
        refresh_schedules=tuple(walk.schedules),
        notes=tuple(walk.notes),
    )
    overrides: dict[str, Any] = {}
    try:
        overrides = build_overrides(contents, id_prefix=request.id_prefix)
    except InputError as exc:
        problems.append(str(exc))
    if problems:
        raise ReleasePreflightError(
            f"release '{clean(request.release_name, 100)}' ({ref.job_id}) in account {request.account} ({region}) "
            f"cannot start: {len(problems)} problem(s): {listing(problems)}; fix them in QuickSight (or leave "
            "those assets out of the release) and re-run; no export job was started",
            tuple(problems),
        )
    body = {
        "AwsAccountId": request.account,
        "AssetBundleExportJobId": ref.job_id,
        "ResourceArns": list(arns),
        "IncludeAllDependencies": True,
        "ExportFormat": CLOUDFORMATION_JSON,
        "CloudFormationOverridePropertyConfiguration": overrides,
        "IncludePermissions": request.include_permissions,
        "IncludeTags": request.include_tags,
        "ValidationStrategy": {"StrictModeForAllResources": request.strict_validation},
    }
    return PreparedRelease(ref=ref, resource_arns=arns, contents=contents, overrides=overrides, body=body)


# --- starting the job ----------------------------------------------------------------------------


def differences(recorded: ExportJobDescription, prepared: PreparedRelease) -> list[str]:
    """How a recorded job with the release's id differs from what the release would start."""
    body = prepared.body
    found = []
    if set(recorded.resource_arns) != set(prepared.resource_arns):
        extra = sorted(set(recorded.resource_arns) - set(prepared.resource_arns))
        missing = sorted(set(prepared.resource_arns) - set(recorded.resource_arns))
        found.append(
            "ResourceArns differ"
            + (f" (the job also has {listing(extra, 3, ', ')})" if extra else "")
            + (f" (the job lacks {listing(missing, 3, ', ')})" if missing else "")
        )
    if recorded.export_format and recorded.export_format != CLOUDFORMATION_JSON:
        found.append(f"ExportFormat is {recorded.export_format}")
    for name, attribute in (
        ("IncludeAllDependencies", "include_all_dependencies"),
        ("IncludePermissions", "include_permissions"),
        ("IncludeTags", "include_tags"),
    ):
        if bool(getattr(recorded, attribute)) != bool(body[name]):
            found.append(f"{name} is {bool(getattr(recorded, attribute))}, the release asks {bool(body[name])}")
    strict = bool((recorded.validation_strategy or {}).get("StrictModeForAllResources"))
    if strict != body["ValidationStrategy"]["StrictModeForAllResources"]:
        found.append(f"StrictModeForAllResources is {strict}")
    if normalize_overrides(recorded.override_configuration) != normalize_overrides(prepared.overrides):
        found.append("the override configuration differs (the assets or their data sources changed since)")
    return found


def _start_once(
    client: Any, prepared: PreparedRelease, starter: Any, deadline: Optional[Deadline] = None
) -> tuple[Optional[str], str]:
    """One attempt: (``"adopted"``/``"started"``, "") or (None, why it must wait).

    Raises:
        ThrottledError, ServiceUnavailableError: transient faults (retried by ``start_release``).
    """
    ref = prepared.ref
    try:
        recorded: Optional[ExportJobDescription] = describe_export_job(
            _client_for(client, deadline), ref, within=_within(client, deadline) if deadline else None
        )
    except ExportJobNotFoundError:
        recorded = None
    if recorded is not None:
        found = differences(recorded, prepared)
        if found:
            raise ReleaseConflictError(
                f"{ref} exists with other assets or options ({listing(found)}): a release name stands for one "
                "export; give this release a new release_name"
            )
        if recorded.status != "FAILED":
            # The same release, already started (by an earlier run that was interrupted, or
            # finished): wait on it rather than export again.
            return "adopted", ""
    try:
        target = _client_for(starter, deadline)
        call_within(
            lambda: target.start_asset_bundle_export_job(**prepared.body),
            _within(starter, deadline) if deadline else None,
        )
    except CallTimeout as exc:
        # The job may have started: the next attempt's Describe adopts it (the job id is the release's).
        raise ServiceUnavailableError(
            f"QuickSight did not answer StartAssetBundleExportJob for {ref} within {exc.seconds:.0f} s: check the "
            "network and proxies between this machine and QuickSight"
        ) from None
    except ClientError as exc:
        code, message = error_code(exc)
        message = clean(message)
        status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
        if code in WAIT_OUT_CODES:
            return None, f"{code}: {clean(message, 200)}"
        if code in THROTTLING_CODES or status == 429:
            raise ThrottledError(f"QuickSight throttled StartAssetBundleExportJob for {ref} ({message})") from exc
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"QuickSight answered StartAssetBundleExportJob for {ref} with HTTP {status} ({clean(code, 100)}: "
                f"{message}): a QuickSight-side fault; re-run later"
            ) from exc
        if is_access_error(exc) or code == "UnsupportedUserEditionException":
            raise AwsAccessError(
                f"AWS denied quicksight:StartAssetBundleExportJob for {ref} ({code}: {message}): grant the caller "
                "that permission and describe rights on every asset of the release"
            ) from exc
        raise ReleaseError(
            f"StartAssetBundleExportJob for {ref} was refused ({code}: {message}): check the release's assets "
            "and options, then re-run"
        ) from exc
    except BotoCoreError as exc:
        if is_transient(exc):
            raise ServiceUnavailableError(
                f"cannot reach QuickSight to start {ref} ({type(exc).__name__}: {clean(exc)}): check the network"
            ) from exc
        raise ReleaseError(f"cannot reach QuickSight to start {ref} ({type(exc).__name__}: {clean(exc)}): re-run") from exc
    except BROKEN_ANSWER_ERRORS as exc:
        raise ServiceUnavailableError(
            f"the connection to QuickSight broke while reading its answer to StartAssetBundleExportJob for {ref} "
            f"({type(exc).__name__}): check the network and proxies"
        ) from exc
    except MALFORMED_ANSWER_ERRORS as exc:
        raise MalformedAnswerError(
            f"QuickSight's answer to StartAssetBundleExportJob for {ref} cannot be parsed ({type(exc).__name__}): "
            f"{_MALFORMED_ADVICE}"
        ) from None
    return "started", ""


def start_release(
    client: Any,
    prepared: PreparedRelease,
    *,
    timeout: float,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
    starter: Any = None,
    deadline: Optional[Deadline] = None,
) -> bool:
    """Start the release's job (or adopt the same one already there); True if this call started it.

    ``starter`` is the client that calls StartAssetBundleExportJob (``START_CONFIG`` or
    ``START_BUDGET``: no botocore retries); by default ``client``. With ``deadline`` (and
    ``BudgetedClients``) every call fits the time left; transient faults are retried until ``timeout``.

    A job id still running (ConflictException) or 5 exports already running in the account
    (LimitExceededException) are waited out with the export poll schedule: both clear as jobs
    finish, which takes seconds to minutes, like the jobs themselves.

    Raises:
        ReleaseConflictError: the job id exists with other assets or options.
        ExportTimeoutError: still refused at the deadline.
    """
    reasons: list[str] = []

    def attempt() -> Optional[str]:
        outcome, why = _start_once(client, prepared, starter or client, deadline)
        if why:
            reasons.append(why)
        return outcome

    outcome = poll_until(
        attempt, lambda o: o is not None, timeout=timeout, backoff=backoff, sleep=sleep, clock=clock, draw=draw
    )
    if not outcome.done:
        last = reasons[-1] if reasons else f"none usable; last fault: {clean(outcome.last_error, 400)}"
        raise ExportTimeoutError(
            f"{prepared.ref} could not start within {outcome.waited:.0f} s ({outcome.polls} attempts, last answer "
            f"{last}): the job id is still running or the account runs 5 exports at once; raise timeout_seconds "
            "or re-run later"
        )
    return outcome.value == "started"


def _release_clients(
    ref: JobRef,
    role_arn: Optional[str],
    deadline: Deadline,
    budget: CallBudget,
    retry: _Retry,
) -> BudgetedClients:
    """QuickSight clients fitted to ``deadline`` (AssumeRole included), its transient faults retried until it."""
    return retry.run(
        lambda: quicksight_clients(ref, role_arn, deadline, budget),
        f"no QuickSight client for release {ref}",
    )


def preview_release(request: ReleaseRequest, *, call_budget: CallBudget = DEFAULT_CALL_BUDGET) -> PreparedRelease:
    """Pre-flight only: what a release would export and with which overrides; starts nothing.

    Bounded by ``request.timeout_seconds`` like a release; transient faults are retried within it.
    """
    deadline = Deadline.after(request.timeout_seconds)
    retry = _Retry(deadline)
    named = JobRef(request.account, release_job_id(request.release_name), request.region)
    clients = _release_clients(named, request.role_arn, deadline, call_budget, retry)
    region = clients.within(deadline.remaining()).meta.region_name
    return prepare_release(clients, request, region, deadline=deadline)


def cut_release(
    request: ReleaseRequest,
    *,
    backoff: Backoff = DEFAULT_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
    draw: Callable[[], float] = random.random,
    bundle_limits: BundleLimits = DEFAULT_LIMITS,
    download_limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    call_budget: CallBudget = DEFAULT_CALL_BUDGET,
) -> CutRelease:
    """Pre-flight, start (or adopt), wait, download and unpack a release, all within ``timeout_seconds``.

    One deadline bounds it all: AssumeRole, every pre-flight Describe, the start (waiting out a
    running job id or the account's 5 exports), the wait and the download. Every call fits the time
    left (``BudgetedClients``) and is bounded in wall time, so the release ends within
    ``timeout_seconds`` plus at most one short request timeout (``call_budget.min_timeout``);
    transient faults (throttling, 5xx, resets, timeouts) are retried until the deadline.

    Raises:
        ReleasePreflightError, ReleaseConflictError, ExportTimeoutError, MalformedAnswerError and the
        errors of ``quicksight.wait_for_export_job`` and ``quicksight.download_export``.
    """
    deadline = Deadline.after(request.timeout_seconds, clock)
    retry = _Retry(deadline, backoff, sleep, draw)
    named = JobRef(request.account, release_job_id(request.release_name), request.region)
    clients = _release_clients(named, request.role_arn, deadline, call_budget, retry)
    region = clients.within(deadline.remaining()).meta.region_name
    prepared = prepare_release(clients, request, region, deadline=deadline, backoff=backoff, sleep=sleep, draw=draw)
    start_budget = CallBudget(
        connect_timeout=call_budget.connect_timeout,
        read_timeout=call_budget.read_timeout,
        max_attempts=START_BUDGET.max_attempts,
        min_timeout=call_budget.min_timeout,
    )
    starter = _release_clients(prepared.ref, request.role_arn, deadline, start_budget, retry)
    started = start_release(
        clients,
        prepared,
        timeout=max(deadline.remaining(), 0.0),
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        draw=draw,
        starter=starter,
        deadline=deadline,
    )
    description = wait_for_export_job(
        clients, prepared.ref, timeout=max(deadline.remaining(), 0.0), backoff=backoff, sleep=sleep, clock=clock,
        draw=draw, deadline=deadline,
    )  # fmt: skip
    fetched = download_export(
        clients,
        prepared.ref,
        description,
        deadline=deadline,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        bundle_limits=bundle_limits,
        download_limits=download_limits,
        grace=call_budget.min_timeout,
    )
    return CutRelease(prepared=prepared, fetched=fetched, started=started)
