"""Deploying a template through CloudFormation change sets: the pure decisions.

Pure core: no I/O, no Pulumi, no boto3. The AWS boundary (``components/aws/cloudformation.py``)
asks these functions what a stack status means, which event caused a failure, how a change set
reads, and what a parameter value's keyed digest is; the provider (``components/deployment.py``)
validates its inputs with ``core.models.DeploymentInputs``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any, Callable, Optional

from ..errors import (  # noqa: F401  (the deployment's errors, as the boundary names them)
    AccountMismatchError,
    ChangeSetFailedError,
    DeploymentError,
    DeploymentTimeoutError,
    DeploymentUnavailableError,
    MalformedStackAnswerError,
    StackDriftError,
    StackOperationFailedError,
    StackStateError,
    clean,
    listing,
)
from .catalog import to_parameter_string
from .polling import Backoff, Informed, Predicted, Schedule
from .template import quicksight_resources, section
from .types import LEGACY_IDENTITY
from .transform import NO_ECHO_PROPERTIES  # noqa: F401  (re-exported: the secrets among credentials)

# The tags this library puts on every stack it deploys. OWNERSHIP_TAG's value is the identity of
# the one CloudFormationDeployment resource that created (or adopted) the stack: a random id minted
# at its first create and kept in its state. Project, stack and URN cannot tell two forks of a
# program apart; the minted id can. OWNER_TAG is the readable ``<project>/<stack>`` of that resource,
# for messages only (it decides nothing but the repair of a failed first create, see ``ownership``).
# CloudFormation propagates stack tags to the resources that support them (QuickSight assets do),
# which is harmless.
OWNERSHIP_TAG = "quicksight-promotion:managed-by"
OWNER_TAG = "quicksight-promotion:owner"
# The fixed value 0.1.0 wrote on every stack: it tells no owner apart, so a stack carrying it is
# only this resource's when its state records that stack's id (and is then tagged with its identity).
LEGACY_OWNERSHIP_VALUE = LEGACY_IDENTITY


class Ownership(str, Enum):
    """Whose a stack is, seen from one deployment resource (see ``ownership``)."""

    OURS = "ours"  # tagged with this resource's identity
    OURS_LEGACY = "ours-legacy"  # 0.1.0's fixed tag value, on the stack this resource's state records
    NAMESAKE = "namesake"  # another identity with this resource's readable owner (a failed create's retry, or a fork)
    UNTAGGED = "untagged"  # no ownership tag: made by someone else
    THEIRS = "theirs"  # another identity, or 0.1.0's value on a stack this resource's state does not record


@dataclass(frozen=True)
class Claim:
    """What a deployment resource is and may take.

    Attributes:
        identity: Its identity (the ownership tag's value on the stacks it deploys).
        owner: Its readable owner (``<project>/<stack>``, "" when not given).
        recorded_stack_id: The stack id its state records (None at its first create).
        adopt_stack: Whether it may take over a stack it does not own.
        adopt_identity: The one other identity it may take a stack from (with ``adopt_stack``).
    """

    identity: str
    owner: str = ""
    recorded_stack_id: Optional[str] = None
    adopt_stack: bool = False
    adopt_identity: Optional[str] = None


def stack_tags(tags: Iterable[Any]) -> dict[str, str]:
    """A DescribeStacks entry's ``Tags`` list as a mapping (entries that are no tag ignored)."""
    return {
        str(tag["Key"]): str(tag.get("Value", ""))
        for tag in tags
        if isinstance(tag, Mapping) and isinstance(tag.get("Key"), str)
    }


def ownership(tags: Mapping[str, str], stack_id: Optional[str], claim: Claim) -> Ownership:
    """Whose the stack with ``tags`` (and id ``stack_id``) is, for the resource making ``claim``."""
    value = tags.get(OWNERSHIP_TAG)
    if value is None:
        return Ownership.UNTAGGED
    if value == claim.identity:
        return Ownership.OURS
    if value == LEGACY_OWNERSHIP_VALUE:
        recorded = claim.recorded_stack_id is not None and claim.recorded_stack_id == stack_id
        return Ownership.OURS_LEGACY if recorded else Ownership.THEIRS
    if claim.owner and tags.get(OWNER_TAG) == claim.owner:
        return Ownership.NAMESAKE
    return Ownership.THEIRS


def may_adopt(whose: Ownership, tags: Mapping[str, str], claim: Claim) -> bool:
    """Whether ``claim`` may take over a stack it does not own: an untagged one with ``adopt_stack``,
    another identity's only when ``adopt_identity`` names that identity."""
    if not claim.adopt_stack:
        return False
    if whose is Ownership.UNTAGGED:
        return True
    return claim.adopt_identity is not None and tags.get(OWNERSHIP_TAG) == claim.adopt_identity


def owned(whose: Ownership) -> bool:
    """Whether the stack is this resource's own (a 0.1.0 stack of its state included)."""
    return whose in (Ownership.OURS, Ownership.OURS_LEGACY)


# Change sets are evaluated in seconds (a large template in under a minute) and never at once.
# aws-cli polls every 5 s from the start; the first poll after 2.5 s, the next at ~5 s and then
# every 5 s sees a 2 s evaluation within ~0.5 s for no more calls than aws-cli's in any case
# (bench/deploy.py, figure 7).
CHANGE_SET_BACKOFF = Backoff(first=2.5, proportion=1.0, cap=5.0, jitter=0.05, initial=2.5)
# Drift detection takes seconds (a few resources) to minutes: polled as a retried call is.
DRIFT_BACKOFF = Backoff(first=1.0, proportion=0.25, cap=5.0, jitter=0.2)
# Retries of one call meeting transient faults: 1 s, then a quarter of the time waited, at most 5 s
# apart: quick for a blip, and at most 12 calls a minute for a long outage.
RETRY_BACKOFF = Backoff(first=1.0, proportion=0.25, cap=5.0, jitter=0.2)
# Stack operations with QuickSight assets take from ~20 s (a data source) to many minutes
# (analyses and dashboards with large definitions). aws-cli polls every 30 s; 2 s then 21 % of
# the time waited, capped at 30 s, keeps the lag a fraction of the operation's length. When the
# stack's previous operation took E seconds, the wait is ``Predicted`` around E instead (sparse,
# then dense near E, then this schedule): bench/deploy.py.
STACK_BACKOFF = Backoff(first=2.0, proportion=0.21, cap=30.0, jitter=0.2)


# A duration (previous or projected) under this many seconds predicts nothing useful (a no-op, a stack
# of one data source, or a projection made in the first seconds).
MIN_PREDICTION_SECONDS = 10.0


def stack_schedule(
    expected_seconds: Optional[float],
    fallback: Backoff = STACK_BACKOFF,
    projected: Optional[Callable[[], Optional[float]]] = None,
) -> Schedule:
    """The stack wait's schedule: ``Predicted`` around the previous operation's duration, else ``fallback``.

    A previous duration under ``MIN_PREDICTION_SECONDS`` is no prediction. Without one, ``projected`` (the end the completed resources project so far, ``projected_seconds``)
    makes it ``Informed``: ``fallback`` until a projection is known, then ``Predicted`` around it.
    """
    if expected_seconds is None or expected_seconds < MIN_PREDICTION_SECONDS:
        return fallback if projected is None else Informed(fallback=fallback, estimate=projected, least=MIN_PREDICTION_SECONDS)
    return Predicted(expected=float(expected_seconds), fallback=fallback)


def projected_seconds(done: Optional[int], total: int, elapsed: float) -> Optional[float]:
    """The operation's whole duration as its completed resources project it (None: nothing to project from).

    Linear: ``done`` of ``total`` resources in ``elapsed`` s. Only from a quarter of the resources on
    (the first completions, data sources, come early and would project too soon an end), and never
    once all are done (the stack's own completion follows).
    """
    if not done or total <= 0 or done >= total or done * 4 < total or elapsed <= 0:
        return None
    projected = elapsed * total / done
    return projected if projected >= MIN_PREDICTION_SECONDS else None


# --- progress of a stack wait ---------------------------------------------------------------------

# Progress counts the resources done from the operation's stack events: a DescribeStackEvents call
# besides the wait's DescribeStacks, so it is read only where it costs no lag and stays within
# aws-cli's calls (bench/deploy.py, figure 7): before a sleep of PROGRESS_QUIET s or more (the
# sparse phase of a ``Predicted`` wait: the user learns where the stack stands before a quiet
# minute), or PROGRESS_EVERY s after the last read outside a dense phase (sleeps under
# PROGRESS_DENSE s: the end is near, a read would only add calls). On a loopback CloudFormation,
# where calls cost nothing, at every poll.
PROGRESS_QUIET = 60.0
PROGRESS_EVERY = 120.0
PROGRESS_DENSE = 20.0


def progress_due(delay: float, since_read: Optional[float], loopback: bool = False) -> bool:
    """Whether the stack events are read before a sleep of ``delay`` s (``since_read``: s since the last read, None: none yet)."""
    if loopback or delay >= PROGRESS_QUIET:
        return True
    return delay >= PROGRESS_DENSE and (since_read is None or since_read >= PROGRESS_EVERY)


def resources_done(events: Sequence[Mapping[str, Any]], stack_name: str) -> int:
    """How many resources of an operation are done: distinct logical ids with a ``*_COMPLETE`` event.

    ``events`` are the operation's (``operation_events``); the stack's own events do not count.
    """
    return len(
        {
            str(e.get("LogicalResourceId"))
            for e in events
            if str(e.get("ResourceStatus", "")).endswith("_COMPLETE") and e.get("LogicalResourceId") != stack_name
        }
    )


def _duration(seconds: float) -> str:
    whole = max(0, int(round(seconds)))
    return f"{whole // 60}m{whole % 60:02d}s" if whole >= 60 else f"{whole}s"


def progress_line(
    stack_name: str,
    status: Optional[str],
    done: Optional[int],
    total: int,
    elapsed: float,
    estimate: Optional[float],
) -> str:
    """One line of a stack wait's progress, for stderr (escaped and bounded).

    Args:
        stack_name: The stack.
        status: Its status at the last poll (None: the poll met a transient fault).
        done: Resources done so far (``resources_done``; None: no events read yet).
        total: Resources the change set changes (0: not known).
        elapsed: Seconds since the execution started.
        estimate: The expected duration (the previous operation's), seconds, if known.
    """
    counted = "?" if done is None else str(min(done, total) if total else done)
    of = f" of {total}" if total else ""
    expected = f", about {_duration(estimate)} expected" if estimate else ""
    line = (
        f"quicksight-promotion: CloudFormation stack {stack_name!r} {status or 'status unknown'}: "
        f"{counted}{of} resources done, {_duration(elapsed)} elapsed{expected}"
    )
    return clean(line, 300)

# Reasons CloudFormation gives for a change set that is FAILED only because nothing changes.
EMPTY_CHANGE_SET_REASONS = ("didn't contain changes", "No updates are to be performed")
# Reasons of the events that follow a root cause: resources whose work was cancelled.
CANCELLED_MARKERS = ("Resource creation cancelled", "Resource update cancelled", "cancelled")


# Parameter values shorter than this are not searched for in outside text: a 1-3 character value
# ("1", "true") would garble every message it occurs in, and is no credential.
MIN_HIDDEN_NO_ECHO = 4
# Values of parameters without NoEcho are searched for from this length on: long enough not to
# match ordinary words of CloudFormation's messages, short enough for hosts, ARNs and tokens.
MIN_HIDDEN_VALUE = 8


def hidden_values(parameters: Mapping[str, Any], no_echo: Iterable[str] = ()) -> dict[str, str]:
    """Value -> parameter name, for every value that must never be quoted from outside text.

    ``parameters`` is a secret input as a whole; CloudFormation's own messages (a failed change
    set's StatusReason, a resource event, a refused CreateChangeSet) may echo a value, e.g.
    "Parameter value ... for parameter name ... does not exist". Every NoEcho value (the
    credentials) of at least ``MIN_HIDDEN_NO_ECHO`` characters and every other value of at least
    ``MIN_HIDDEN_VALUE`` characters is hidden.
    """
    secret_names = set(no_echo)
    found: dict[str, str] = {}
    for name, value in parameters.items():
        text = str(value)
        floor = MIN_HIDDEN_NO_ECHO if name in secret_names else MIN_HIDDEN_VALUE
        if len(text) >= floor:
            found.setdefault(text, str(name))
    return found


def redact(text: str, hidden: Mapping[str, str]) -> str:
    """``text`` with every hidden value replaced by ``<value of parameter NAME>`` (longest values first).

    Each value is also looked for as ``clean`` writes it (control characters escaped), so that
    text cleaned before it is redacted holds no value either.
    """
    for value in sorted(hidden, key=len, reverse=True):
        mark = f"<value of parameter {hidden[value]}>"
        text = text.replace(value, mark)
        escaped = clean(value, len(value) * 6 + 10)
        if escaped != value:
            text = text.replace(escaped, mark)
    return text


class Phase(str, Enum):
    """What a stack status means for a deployment."""

    ABSENT = "absent"  # no stack (or DELETE_COMPLETE): create it
    REVIEW = "review"  # REVIEW_IN_PROGRESS: created by a change set never executed: create it
    STABLE = "stable"  # can be updated
    FAILED_CREATE = "failed-create"  # a failed first create: nothing in it, delete and create again
    BUSY = "busy"  # an operation runs: wait for it
    UPDATE_ROLLBACK_FAILED = "update-rollback-failed"  # needs ContinueUpdateRollback by a human
    BROKEN = "broken"  # DELETE_FAILED and the like: needs a human


STABLE_STATUSES = frozenset(
    {
        "CREATE_COMPLETE",
        "UPDATE_COMPLETE",
        "UPDATE_ROLLBACK_COMPLETE",
        "IMPORT_COMPLETE",
        "IMPORT_ROLLBACK_COMPLETE",
        # With rollback disabled a failed update stays UPDATE_FAILED; it can be updated again.
        "UPDATE_FAILED",
    }
)
FAILED_CREATE_STATUSES = frozenset({"ROLLBACK_COMPLETE", "ROLLBACK_FAILED", "CREATE_FAILED"})


def phase(status: Optional[str]) -> Phase:
    """Classify a stack status (None: no stack)."""
    if status is None or status == "DELETE_COMPLETE":
        return Phase.ABSENT
    if status == "REVIEW_IN_PROGRESS":
        return Phase.REVIEW
    if status.endswith("_IN_PROGRESS"):
        return Phase.BUSY
    if status in STABLE_STATUSES:
        return Phase.STABLE
    if status in FAILED_CREATE_STATUSES:
        return Phase.FAILED_CREATE
    if status == "UPDATE_ROLLBACK_FAILED":
        return Phase.UPDATE_ROLLBACK_FAILED
    return Phase.BROKEN


class Decision(str, Enum):
    """What a deployment does with the stack it found (see ``decide``)."""

    CREATE = "create"  # no stack, or one a change set made and nobody executed: a CREATE change set
    UPDATE = "update"  # an UPDATE change set
    RECREATE = "recreate"  # a failed first create holds nothing: delete it, then a CREATE change set
    WAIT = "wait"  # an operation runs: wait for it to settle, then decide again
    NOT_OURS = "not-ours"  # refused: another's stack (untagged, or another identity) and not adopted
    CONTINUE_ROLLBACK = "continue-rollback"  # refused: a human must finish the failed rollback first
    REFUSE = "refuse"  # refused: a state this resource does not act on (DELETE_FAILED and the like)


def decide(stack_phase: Phase, whose: Ownership, adopt: bool) -> Decision:
    """The change-set decision: create, update, delete and create again, wait, or refuse.

    Args:
        stack_phase: What the stack's status means (``phase``).
        whose: Whose the stack is (``ownership``).
        adopt: Whether a stack not ours may be taken over (``may_adopt``).

    A stack that holds resources (STABLE) is only changed when it is ours or adopted; a failed
    first create (FAILED_CREATE) holds none, and is also deleted when it carries this resource's
    readable owner (NAMESAKE): a create that failed is in no state, so its retry mints another
    identity. A stack that holds none and blocks nothing (ABSENT, REVIEW) is created.
    """
    if stack_phase in (Phase.ABSENT, Phase.REVIEW):
        return Decision.CREATE
    if stack_phase is Phase.BUSY:
        return Decision.WAIT
    if stack_phase is Phase.STABLE:
        return Decision.UPDATE if owned(whose) or adopt else Decision.NOT_OURS
    if stack_phase is Phase.FAILED_CREATE:
        return Decision.RECREATE if owned(whose) or adopt or whose is Ownership.NAMESAKE else Decision.NOT_OURS
    if stack_phase is Phase.UPDATE_ROLLBACK_FAILED:
        return Decision.CONTINUE_ROLLBACK
    return Decision.REFUSE


def removals(summary: Sequence[Mapping[str, Any]]) -> list[str]:
    """Logical ids a change summary removes or replaces (``Conditional`` counts: it may replace)."""
    return sorted(
        str(entry.get("logical_id"))
        for entry in summary
        if entry.get("action") == "Remove" or entry.get("replacement") in ("True", "Conditional", True)
    )


def unreviewed_removals(summary: Sequence[Mapping[str, Any]], reviewed: Sequence[Mapping[str, Any]]) -> list[str]:
    """What an adoption's change set removes or replaces that no review showed.

    ``reviewed`` is the change summary of the change set this resource last left for review
    (``execute_change_set: false``) on the same stack; empty when there was none.
    """
    shown = set(removals(reviewed))
    return [logical_id for logical_id in removals(summary) if logical_id not in shown]


def lowers_protection(protected: bool, wanted: bool, created: bool) -> bool:
    """Whether a deployment would turn termination protection off on a stack it did not create (refused)."""
    return protected and not wanted and not created


# What each operation ends in when it worked.
SUCCESS = {"CREATE": "CREATE_COMPLETE", "UPDATE": "UPDATE_COMPLETE", "DELETE": "DELETE_COMPLETE"}


def settled(status: Optional[str]) -> bool:
    """Whether a status is final (no operation runs). REVIEW_IN_PROGRESS is final: nothing runs."""
    return status is None or status == "REVIEW_IN_PROGRESS" or not status.endswith("_IN_PROGRESS")


def is_empty_change_set(reason: Optional[str]) -> bool:
    """Whether a FAILED change set (or a refused CreateChangeSet) only means "nothing to change"."""
    return bool(reason) and any(marker in str(reason) for marker in EMPTY_CHANGE_SET_REASONS)


# --- assets of a template -------------------------------------------------------------------------


def resource_assets(template: Mapping[str, Any]) -> dict[str, dict[str, Optional[str]]]:
    """Logical id -> {"kind", "id"} for every QuickSight resource of a parsed template (``core.template``)."""
    return {
        resource.logical_id: {"kind": resource.kind, "id": resource.asset_id}
        for resource in quicksight_resources(section(template, "Resources"))
    }


def no_echo_parameters(template: Mapping[str, Any]) -> frozenset[str]:
    """Names of the template's parameters declared ``NoEcho``."""
    return frozenset(
        str(name)
        for name, spec in section(template, "Parameters").items()
        if isinstance(spec, Mapping) and str(spec.get("NoEcho", "")).lower() == "true"
    )


def describe_asset(logical_id: str, resource_type: Optional[str], assets: Mapping[str, Mapping[str, Any]]) -> str:
    """``logical id (type, kind/id)`` for a message."""
    asset = assets.get(logical_id) or {}
    where = f"{asset.get('kind')}/{asset.get('id') or '?'}" if asset.get("kind") else None
    details = ", ".join(part for part in (resource_type, where) if part)
    return f"{clean(logical_id)} ({clean(details)})" if details else clean(logical_id)


# --- change summaries -------------------------------------------------------------------------------


def summarize_changes(
    changes: Iterable[Mapping[str, Any]], assets: Mapping[str, Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """One entry per resource change of a DescribeChangeSet answer, sorted by logical id.

    Each entry: ``logical_id``, ``type``, ``action`` (Add/Modify/Remove/Import/Dynamic),
    ``replacement`` (True/False/Conditional for a Modify, else None), ``asset_kind``, ``asset_id``,
    and ``nested_stack`` for a change inside a nested stack (its logical id in the parent).
    """
    summary = []
    for change in changes:
        resource = change.get("ResourceChange") if isinstance(change, Mapping) else None
        if not isinstance(resource, Mapping):
            continue
        logical_id = str(resource.get("LogicalResourceId", ""))
        asset = assets.get(logical_id) or {}
        summary.append(
            {
                "logical_id": logical_id,
                "type": resource.get("ResourceType"),
                "action": resource.get("Action"),
                "replacement": resource.get("Replacement") if resource.get("Action") == "Modify" else None,
                "asset_kind": asset.get("kind"),
                "asset_id": asset.get("id"),
                **({"nested_stack": str(resource["NestedStack"])} if resource.get("NestedStack") else {}),
            }
        )
    return sorted(summary, key=lambda entry: entry["logical_id"])


def describe_summary(summary: Sequence[Mapping[str, Any]]) -> str:
    """``2 to add, 1 to modify (1 replaced), 0 to remove`` for a message or a log line."""
    counts = {action: sum(1 for e in summary if e.get("action") == action) for action in ("Add", "Modify", "Remove")}
    replaced = sum(1 for e in summary if e.get("replacement") in ("True", True))
    text = f"{counts['Add']} to add, {counts['Modify']} to modify, {counts['Remove']} to remove"
    return f"{text} ({replaced} replaced)" if replaced else text


# --- stack events ------------------------------------------------------------------------------------


def operation_events(
    events: Sequence[Mapping[str, Any]], stack_name: str, token: Optional[str], since: Optional[dt.datetime]
) -> list[Mapping[str, Any]]:
    """The events of one operation, oldest first.

    ``events`` is DescribeStackEvents' answer (newest first). An event belongs to the operation
    when it carries its ``ClientRequestToken``; when CloudFormation gives no tokens, the events
    from ``since`` (the execution's start) on count.
    """
    if token and any(e.get("ClientRequestToken") for e in events):
        chosen = [e for e in events if e.get("ClientRequestToken") == token]
    elif since is not None:
        chosen = [e for e in events if _timestamp(e) is None or _timestamp(e) >= since]  # type: ignore[operator]
    else:
        chosen = list(events)
    return list(reversed(chosen))


def _timestamp(event: Mapping[str, Any]) -> Optional[dt.datetime]:
    value = event.get("Timestamp")
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def root_cause(events_oldest_first: Sequence[Mapping[str, Any]], stack_name: str) -> Optional[Mapping[str, Any]]:
    """The event that made an operation fail: the first FAILED event of a resource.

    The stack's own FAILED/ROLLBACK events ("The following resource(s) failed to create: ...") and
    the cancellations that follow a failure ("Resource creation cancelled") are consequences, not
    causes; they are chosen only when nothing else failed.
    """
    failed = [e for e in events_oldest_first if str(e.get("ResourceStatus", "")).endswith("_FAILED")]
    for event in failed:
        reason = str(event.get("ResourceStatusReason") or "")
        if event.get("LogicalResourceId") == stack_name and event.get("ResourceType") == "AWS::CloudFormation::Stack":
            continue
        if any(marker in reason for marker in CANCELLED_MARKERS):
            continue
        return event
    for event in failed:
        if event.get("LogicalResourceId") != stack_name:
            return event
    return failed[0] if failed else None


def describe_event(event: Mapping[str, Any], assets: Mapping[str, Mapping[str, Any]]) -> str:
    """``<logical id> (<type>, <kind>/<id>) <status>: <reason>`` for a message."""
    where = describe_asset(str(event.get("LogicalResourceId", "?")), event.get("ResourceType"), assets)
    reason = clean(event.get("ResourceStatusReason") or "(no reason given)")
    return f"{where} {clean(event.get('ResourceStatus', '?'))}: {reason}"


# --- parameter digests ---------------------------------------------------------------------------


def digest_key(stack_name: str, salt: str) -> bytes:
    """The HMAC key of a stack's parameter digests: derived from its name and a random salt.

    The salt is random per resource (kept in state as a secret output), so digests of the same
    value differ between stacks and cannot be compared or looked up across them.
    """
    return hmac.new(bytes.fromhex(salt), f"quicksight-promotion/{stack_name}".encode(), hashlib.sha256).digest()


def parameter_digests(values: Mapping[str, str], key: bytes) -> dict[str, str]:
    """HMAC-SHA256 of every parameter (name and value) with ``key``: never the value itself."""
    return {
        name: hmac.new(key, name.encode("utf-8") + b"\x00" + str(value).encode("utf-8"), hashlib.sha256).hexdigest()
        for name, value in sorted(values.items())
    }


def template_sha256(body: str) -> str:
    """sha256 of a template body as sent (UTF-8)."""
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def checksum_sha256(body: bytes) -> str:
    """S3's ``ChecksumSHA256`` of an object written in one part: the base64 of its sha256 digest."""
    return base64.b64encode(hashlib.sha256(body).digest()).decode("ascii")


def template_url(bucket: str, region: str, key: str, version_id: Optional[str] = None) -> str:
    """The virtual-hosted S3 URL CloudFormation reads a staged template from (bucket in ``region``).

    With ``version_id`` (a versioned bucket's answer to the write or the checked read) the URL
    names that object version: a later write to the key is not what CloudFormation reads.
    """
    url = f"https://{bucket}.s3.{region}.amazonaws.com/{_quote(key)}"
    return f"{url}?versionId={_quote(version_id, slash=False)}" if version_id else url


_UNRESERVED = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")


def _quote(text: str, slash: bool = True) -> str:
    """Percent-encode for a URL (RFC 3986 unreserved characters kept, and ``/`` for a key's path)."""
    kept = _UNRESERVED | {ord("/")} if slash else _UNRESERVED
    return "".join(chr(b) if b in kept else f"%{b:02X}" for b in text.encode("utf-8"))


def staged_key(prefix: str, sha256: str) -> str:
    """Content-addressed key of a staged template: a changed template is a new object."""
    return f"{prefix}{sha256}.json"


# --- provider inputs --------------------------------------------------------------------------------

CAPABILITIES = ("CAPABILITY_IAM", "CAPABILITY_NAMED_IAM", "CAPABILITY_AUTO_EXPAND")
DEFAULT_TIMEOUT_SECONDS = 3600


def parameter_string(value: Any) -> Any:
    """An input's parameter value as CloudFormation takes it (``catalog.to_parameter_string``).

    Numbers arrive from the engine as doubles (``5432.0`` is sent as ``5432``); a non-finite number
    is refused (ValueError). A value that is no string, number or boolean is handed back unchanged,
    for the input model's ``dict[str, str]`` to refuse with a message naming the parameter.
    """
    if isinstance(value, (str, int, float)):
        return to_parameter_string(value)
    return value


def replacement_problems(olds: Mapping[str, Any], news: Mapping[str, Any]) -> list[str]:
    """What in ``news`` would make it another stack than the recorded one (known values only).

    What identifies the stack: its name, the target region and the target account; a change would
    be another stack (a replacement), which is refused.
    """
    problems = []
    if news.get("stack_name") is not None and olds.get("stack_name") not in (None, news["stack_name"]):
        problems.append(f"stack_name {clean(olds['stack_name'])!r} -> {clean(news['stack_name'])!r}")
    if news.get("target_region") is not None and olds.get("target_region") not in (None, news["target_region"]):
        problems.append(f"region {clean(olds['target_region'])} -> {clean(news['target_region'])}")
    expected = news.get("target_account_id")
    if expected is not None and olds.get("account_id") not in (None, expected):
        problems.append(f"account {clean(olds['account_id'])} -> {clean(expected)}")
    return problems


def refuse_replacement(problems: Sequence[str], stack_name: Any) -> DeploymentError:
    """The error for a change that would replace the stack."""
    return StackStateError(
        f"CloudFormation stack {clean(stack_name)!r}: changing {listing(problems)} would replace the deployment, "
        "and a new stack with the same QuickSight asset ids cannot be created while the old one holds them; "
        "nothing was changed or deleted. To move it, delete this resource first (pulumi destroy, or remove it "
        "from the program and pulumi up), then deploy to the new place; or revert the change"
    )
