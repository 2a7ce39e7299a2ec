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
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

from botocore.config import Config
from pydantic import ValidationError

from ..core.bundle import DEFAULT_LIMITS, BundleLimits
from ..core.models import CLOUDFORMATION_JSON, ExportJobDescription
from ..core.overrides import (
    MAX_RESOURCE_ARNS,
    AssetSummary,
    BundleContents,
    DataSetSummary,
    DataSourceInfo,
    asset_arn,
    build_overrides,
    connection_gaps,
    normalize_overrides,
    parse_arn,
    refusal,
    release_job_id,
)
from ..core.polling import DEFAULT_BACKOFF, Backoff, Deadline, poll_until
from ..errors import (
    ExportJobNotFoundError,
    InputError,
    ReleaseConflictError,
    ReleasePreflightError,
    clean,
    listing,
)
from .calls import NOT_FOUND, QUICKSIGHT, RELEASE, Calls, Expect, Expected
from .download import DEFAULT_DOWNLOAD_LIMITS, DownloadLimits
from .quicksight import (
    FetchedExport,
    JobRef,
    describe_export_job,
    job_calls,
    quicksight_clients,
    wait_and_download,
)
from .session import CLIENT_CONFIG, DEFAULT_CALL_BUDGET, BudgetedClients, CallBudget

# StartAssetBundleExportJob answers these while the job id is still running (ConflictException)
# or while the account already runs 5 export jobs (LimitExceededException): both clear on their
# own as jobs finish, so they are waited out within the release's deadline.
WAIT_OUT_CODES = frozenset({"ConflictException", "LimitExceededException"})
WAIT_OUT = Expect("wait it out", WAIT_OUT_CODES)

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
        source_account_id: The source (dev) account.
        release_name: Names the release; the job id derives from it.
        dashboard_ids, analysis_ids: Ids or ARNs of the release's dashboards and analyses.
        source_region: The QuickSight region (else the SDK chain's).
        source_role_arn: A role in the source account to assume first.
        source_external_id: The ExternalId its trust policy asks for (never shown).
        include_permissions, include_tags: StartAssetBundleExportJob's options.
        strict_validation: ``ValidationStrategy.StrictModeForAllResources``.
        id_prefix: Parameterise every asset id with ``ResourceIdPrefixForAllResources``.
        export_timeout_seconds: Bounds the whole release: pre-flight, waiting for a free slot, the job, the download.
    """

    source_account_id: str
    release_name: str
    dashboard_ids: tuple[str, ...] = ()
    analysis_ids: tuple[str, ...] = ()
    source_region: Optional[str] = None
    source_role_arn: Optional[str] = None
    source_external_id: Optional[str] = field(default=None, repr=False)
    include_permissions: bool = False
    include_tags: bool = False
    strict_validation: bool = True
    id_prefix: bool = True
    export_timeout_seconds: float = 1800.0


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
    "DescribeDashboard": "Dashboard",
    "DescribeAnalysis": "Analysis",
    "DescribeDashboardDefinition": "Definition",
    "DescribeAnalysisDefinition": "Definition",
    "DescribeDataSet": "DataSet",
    "DescribeDataSource": "DataSource",
}


class _Walk:
    """Collects the bundle's contents and every problem found on the way."""

    def __init__(self, client: Any, ref: JobRef, calls: Calls) -> None:
        self.client = client
        self.ref = ref
        self.calls = calls
        self.problems: list[str] = []
        self.notes: list[str] = []
        self.data_sets: dict[str, None] = {}
        self.sources: dict[str, DataSourceInfo] = {}
        self.seen_sources: set[str] = set()
        self.themes: dict[str, None] = {}
        self.schedules: dict[str, None] = {}
        self.spice_sets: dict[str, None] = {}
        self.pending_sets: list[str] = []

    def _ask(self, operation: str, noun: str, **ids: str) -> Optional[dict[str, Any]]:
        """One Describe (or List) of the walk: its answer, or None when the asset is not found.

        With a deadline its transient faults are retried until it (``calls.Calls.call``).
        """
        answer = self.calls.call(
            self.client,
            QUICKSIGHT,
            operation,
            on=noun,
            expect=(NOT_FOUND,),
            refused="check the asset, then re-run",
            AwsAccountId=self.ref.account,
            **ids,
        )
        if isinstance(answer, Expected):
            return None
        required = _REQUIRED.get(operation)
        if required is not None and not isinstance(answer.get(required), dict):
            # botocore reads a body that is not JSON (a proxy's HTML page) as an empty answer.
            raise self.calls.malformed(QUICKSIGHT, operation, f"no {required} object", on=noun)
        return answer

    def contents(self, roots: list[tuple[str, str]]) -> BundleContents:
        """What the bundle will hold, as walked from ``roots`` (kind, ARN)."""
        vpcs = tuple(sorted({s.vpc_connection_arn for s in self.sources.values() if s.vpc_connection_arn}))
        return BundleContents(
            dashboards=tuple(a for k, a in roots if k == "dashboard"),
            analyses=tuple(a for k, a in roots if k == "analysis"),
            data_sets=tuple(self.data_sets),
            data_sources=tuple(self.sources.values()),
            themes=tuple(self.themes),
            vpc_connections=vpcs,
            refresh_schedules=tuple(self.schedules),
            notes=tuple(self.notes),
            spice_data_sets=tuple(self.spice_sets),
        )

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
        operation = "DescribeDashboard" if kind == "dashboard" else "DescribeAnalysis"
        described = self._ask(operation, noun, **{key: asset_id})
        defined = self._ask(f"{operation}Definition", noun, **{key: asset_id}) if described is not None else None
        if described is None or defined is None:
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
            self._pend(data_set)

    def _pend(self, data_set: str) -> None:
        """Queue a data set of the bundle to walk, once."""
        if data_set not in self.data_sets:
            self.data_sets[data_set] = None
            self.pending_sets.append(data_set)

    def data_set(self, arn: str) -> None:
        """A data set: the data sources of its physical tables, data sets it builds on, refresh schedules."""
        set_id = _asset_id(arn)
        noun = f"data set '{set_id}'"
        answer = self._ask("DescribeDataSet", noun, DataSetId=set_id)
        if answer is None:
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
            self._pend(parent)
        if data_set.import_mode == "SPICE":
            # Only SPICE data sets are refreshed; their schedules are exported as RefreshSchedule resources.
            self.spice_sets[arn] = None
            listed = self._ask("ListRefreshSchedules", noun, DataSetId=set_id) or {}
            for schedule in listed.get("RefreshSchedules") or []:
                if isinstance(schedule, dict) and isinstance(schedule.get("Arn"), str):
                    self.schedules[schedule["Arn"]] = None

    def _data_source(self, arn: str, user: str) -> None:
        source_id = _asset_id(arn)
        noun = f"data source '{source_id}'"
        answer = self._ask("DescribeDataSource", noun, DataSourceId=source_id)
        if answer is None:
            self.problems.append(f"{noun} (read by {user}) was not found in account {self.ref.account}")
            return
        raw = answer.get("DataSource")
        info = self._shape(DataSourceInfo, {"Arn": arn, **(raw if isinstance(raw, dict) else {})}, noun)
        if info is None:
            return
        self.sources[arn] = info
        why = refusal(info.variant, info.type)
        if why is not None:
            self.problems.append(
                f"{noun} is of type {clean(info.type, 40)}{f' ({info.variant})' if info.variant else ''}, which "
                f"cannot be promoted: {why}; replace it (used by {user}) or leave that data set out of the release"
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
    ref = JobRef(request.source_account_id, release_job_id(request.release_name), region)
    roots, problems = _roots(request, region)
    arns = tuple(dict.fromkeys(arn for _, arn in roots))
    if not arns and not problems:
        raise InputError(
            f"release '{clean(request.release_name, 100)}' names no dashboard or analysis: set dashboard_ids "
            "and/or analysis_ids",
            **ref.evidence,
        )
    if len(arns) > MAX_RESOURCE_ARNS:
        problems.append(
            f"{len(arns)} dashboards and analyses, more than the {MAX_RESOURCE_ARNS} ResourceArns one export "
            "takes: split them into several releases"
        )
    walk = _Walk(client, ref, job_calls(ref, RELEASE, deadline=deadline, backoff=backoff, sleep=sleep, draw=draw))
    if len(arns) <= MAX_RESOURCE_ARNS:
        for kind, arn in dict.fromkeys(roots):
            walk.root(kind, arn)
        while walk.pending_sets:
            walk.data_set(walk.pending_sets.pop(0))
    problems.extend(walk.problems)
    contents = walk.contents(roots)
    overrides: dict[str, Any] = {}
    try:
        overrides = build_overrides(contents, id_prefix=request.id_prefix)
    except InputError as exc:
        problems.append(str(exc))
    if problems:
        raise ReleasePreflightError(
            f"release '{clean(request.release_name, 100)}' ({ref.job_id}) in account {request.source_account_id} ({region}) "
            f"cannot start: {len(problems)} problem(s): {listing(problems)}; fix them in QuickSight (or leave "
            "those assets out of the release) and re-run; no export job was started",
            tuple(problems),
            **ref.evidence,
        )
    return PreparedRelease(ref=ref, resource_arns=arns, contents=contents, overrides=overrides, body=_body(request, ref, arns, overrides))


def _roots(request: ReleaseRequest, region: str) -> tuple[list[tuple[str, str]], list[str]]:
    """The release's dashboards and analyses as (kind, ARN), and the ids that are not usable."""
    problems: list[str] = []
    roots: list[tuple[str, str]] = []
    for kind, values in (("dashboard", request.dashboard_ids), ("analysis", request.analysis_ids)):
        for value in values:
            try:
                roots.append((kind, asset_arn(kind, value, account=request.source_account_id, region=region)))
            except InputError as exc:
                problems.append(str(exc))
    return roots, problems


def _body(request: ReleaseRequest, ref: JobRef, arns: tuple[str, ...], overrides: dict[str, Any]) -> dict[str, Any]:
    """The StartAssetBundleExportJob request of a release."""
    return {
        "AwsAccountId": request.source_account_id,
        "AssetBundleExportJobId": ref.job_id,
        "ResourceArns": list(arns),
        "IncludeAllDependencies": True,
        "ExportFormat": CLOUDFORMATION_JSON,
        "CloudFormationOverridePropertyConfiguration": overrides,
        "IncludePermissions": request.include_permissions,
        "IncludeTags": request.include_tags,
        "ValidationStrategy": {"StrictModeForAllResources": request.strict_validation},
    }


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
    client: Any, prepared: PreparedRelease, starter: Any, calls: Calls
) -> tuple[Optional[str], str]:
    """One attempt: (``"adopted"``/``"started"``, "") or (None, why it must wait).

    Raises:
        ReleaseConflictError: the job id exists with other assets or options.
        ThrottledError, ServiceUnavailableError: transient faults (retried by ``start_release``).
    """
    ref = prepared.ref
    try:
        recorded: Optional[ExportJobDescription] = describe_export_job(client, ref, calls=calls)
    except ExportJobNotFoundError:
        recorded = None
    if recorded is not None:
        found = differences(recorded, prepared)
        if found:
            raise ReleaseConflictError(
                f"{ref} exists with other assets or options ({listing(found)}): a release name stands for one "
                "export; give this release a new release_name",
                **ref.evidence,
            )
        if recorded.status != "FAILED":
            # The same release, already started (by an earlier run that was interrupted, or
            # finished): wait on it rather than export again.
            return "adopted", ""
    # A start with no answer in time may have started the job: the next attempt's Describe adopts it
    # (the job id is the release's).
    answer = calls.call(
        starter,
        QUICKSIGHT,
        "StartAssetBundleExportJob",
        expect=(WAIT_OUT,),
        refused="check the release's assets and options, then re-run",
        retry=False,
        **prepared.body,
    )
    if isinstance(answer, Expected):
        return None, f"{answer.code}: {clean(answer.message, 200)}"
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
    calls = job_calls(prepared.ref, RELEASE, deadline=deadline)

    def attempt() -> Optional[str]:
        outcome, why = _start_once(client, prepared, starter or client, calls)
        if why:
            reasons.append(why)
        return outcome

    outcome = poll_until(
        attempt, lambda o: o is not None, timeout=timeout, backoff=backoff, sleep=sleep, clock=clock, draw=draw
    )
    if not outcome.done:
        last = reasons[-1] if reasons else f"none usable; last fault: {clean(outcome.last_error, 400)}"
        raise RELEASE.deadline(
            f"{prepared.ref} could not start within {outcome.waited:.0f} s ({outcome.polls} attempts, last answer "
            f"{last}): the job id is still running or the account runs 5 exports at once; raise "
            f"{RELEASE.timeout_setting} or re-run later",
            **prepared.ref.evidence,
        )
    return outcome.value == "started"


def preview_release(request: ReleaseRequest, *, call_budget: CallBudget = DEFAULT_CALL_BUDGET) -> PreparedRelease:
    """Pre-flight only: what a release would export and with which overrides; starts nothing.

    Bounded by ``request.export_timeout_seconds`` like a release; transient faults are retried within it.
    """
    deadline = Deadline.after(request.export_timeout_seconds)
    named = JobRef(request.source_account_id, release_job_id(request.release_name), request.source_region)
    clients = quicksight_clients(
        named, request.source_role_arn, deadline, call_budget, calls=job_calls(named, RELEASE), external_id=request.source_external_id
    )
    region = clients.within(deadline.remaining()).meta.region_name
    return prepare_release(clients, request, region, deadline=deadline)


def _starter(
    request: ReleaseRequest, ref: JobRef, deadline: Deadline, call_budget: CallBudget, calls: Calls
) -> BudgetedClients:
    """The clients that call StartAssetBundleExportJob: botocore's retries off (``START_BUDGET``), timeouts as the others'."""
    start_budget = replace(call_budget, max_attempts=START_BUDGET.max_attempts)
    return quicksight_clients(
        ref, request.source_role_arn, deadline, start_budget, calls=calls, external_id=request.source_external_id
    )


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
    deadline = Deadline.after(request.export_timeout_seconds, clock)
    named = JobRef(request.source_account_id, release_job_id(request.release_name), request.source_region)
    calls = job_calls(named, RELEASE, deadline=deadline, backoff=backoff, sleep=sleep, draw=draw)
    clients = quicksight_clients(
        named, request.source_role_arn, deadline, call_budget, calls=calls, external_id=request.source_external_id
    )
    region = clients.within(deadline.remaining()).meta.region_name
    prepared = prepare_release(clients, request, region, deadline=deadline, backoff=backoff, sleep=sleep, draw=draw)
    calls = calls.about(str(prepared.ref), region=region)
    starter = _starter(request, prepared.ref, deadline, call_budget, calls)
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
    fetched = wait_and_download(
        clients,
        prepared.ref,
        deadline,
        calls,
        backoff=backoff,
        sleep=sleep,
        clock=clock,
        draw=draw,
        bundle_limits=bundle_limits,
        download_limits=download_limits,
        grace=call_budget.min_timeout,
    )
    return CutRelease(prepared=prepared, fetched=fetched, started=started)
