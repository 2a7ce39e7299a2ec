"""Reviewing a deployment at the level of properties: the pure decisions.

Pure core: no I/O, no Pulumi, no boto3. The AWS boundary (``components/aws/cloudformation.py``)
hands in CloudFormation's answers and gets back what a message or an output says:

- **failures named at the property**: a change set that fails CloudFormation's early validation
  says only "... use the DescribeEvents API"; ``validation_failures`` reads DescribeEvents'
  ``VALIDATION_ERROR`` events (each with its ``ValidationPath``), ``schema_failures`` the
  "Properties validation failed ... #/path: message" reason of a resource event, and
  ``describe_failures`` names each asset (kind and id from the catalog), property path,
  CloudFormation's message and what to do;
- **property-level review**: ``property_changes`` lists, for one resource change of
  ``DescribeChangeSet(IncludePropertyValues=True)``, each property that changes with its before
  and after value, credentials and parameter values redacted and long values shortened with a digest.

Every piece of outside text is cleaned (``errors.clean``) and bounded; the caller's ``hide``
(``core.stacks.redact`` with the deployment's parameter values) is applied to every value shown.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from ..errors import MAX_LISTED, clean, listing
from .stacks import describe_asset, summarize_changes
from .polling import Backoff
from .template import quicksight_resources
from .transform import NO_ECHO_PROPERTIES

# What a change set's StatusReason says when CloudFormation's early validation (before any
# resource is touched) failed: "The following hook(s)/validation failed:
# [AWS::EarlyValidation::PropertyValidation]. To troubleshoot Early Validation errors, use the
# DescribeEvents API for detailed failure information."
EARLY_VALIDATION_MARKERS = ("EarlyValidation", "DescribeEvents", "validation failed")
# A resource event's reason when the resource handler refused a property against the type's schema
# (the classic failure of an exported QuickSight definition: cloudformation-coverage-roadmap#2545).
SCHEMA_MARKER = "Properties validation failed"
# How many DescribeEvents pages are read for one failed change set.
MAX_EVENT_PAGES = 5
# How many failed properties one message spells out before counting the rest.
MAX_FAILURES = MAX_LISTED
# How many changed properties one asset's review lists (the rest are counted in ``properties_left_off``).
MAX_PROPERTIES = 50
# Longest value a review shows whole; a longer one is shortened to its start and a digest.
MAX_VALUE_CHARS = 200
# What a review shows instead of a credential.
REDACTED = "<redacted>"


def names_early_validation(reason: Optional[str]) -> bool:
    """Whether a change set's StatusReason says early validation failed (DescribeEvents has the details)."""
    text = str(reason or "")
    return any(marker in text for marker in EARLY_VALIDATION_MARKERS)


@dataclass(frozen=True)
class PropertyFailure:
    """One property CloudFormation refused.

    Attributes:
        logical_id: The resource's logical id ("" when CloudFormation named none).
        resource_type: Its type (``AWS::QuickSight::Dashboard``), when known.
        path: The property path inside the resource (``Properties/Definition/Sheets/0``), "" if none.
        message: CloudFormation's message (outside text, not yet cleaned).
        check: The validation that failed (``AWS::EarlyValidation::PropertyValidation``), "" if none.
    """

    logical_id: str
    resource_type: Optional[str]
    path: str
    message: str
    check: str = ""


def property_path(validation_path: Optional[str], logical_id: str) -> str:
    """The path inside the resource: ``/Resources/<id>/Properties/X`` -> ``Properties/X``."""
    path = str(validation_path or "")
    for prefix in (f"/Resources/{logical_id}", "/Resources/"):
        if logical_id and path.startswith(prefix):
            path = path[len(prefix) :]
            break
    return path.strip("/")


def validation_failures(events: Iterable[Mapping[str, Any]]) -> list[PropertyFailure]:
    """The failed validations among DescribeEvents' ``OperationEvents`` (warnings left out), in order."""
    failures = []
    for event in events:
        if not isinstance(event, Mapping):
            continue
        validation = event.get("EventType") == "VALIDATION_ERROR" or event.get("ValidationStatus") == "FAILED"
        if not validation or event.get("ValidationFailureMode") == "WARN":
            continue
        logical_id = str(event.get("LogicalResourceId") or "")
        failures.append(
            PropertyFailure(
                logical_id=logical_id,
                resource_type=_text(event.get("ResourceType")),
                path=property_path(_text(event.get("ValidationPath")), logical_id),
                message=str(event.get("ValidationStatusReason") or event.get("ResourceStatusReason") or "(no message)"),
                check=str(event.get("ValidationName") or ""),
            )
        )
    return failures


_SCHEMA_PATH = re.compile(r"#(/[^\s:]*)\s*:\s*")


def schema_failures(event: Mapping[str, Any]) -> list[PropertyFailure]:
    """The properties a resource event's "Properties validation failed ... #/path: message" reason names.

    CloudFormation writes one ``#/<json pointer>: <message>`` per refused property, several
    joined by commas inside brackets; a reason without that form names none.
    """
    reason = str(event.get("ResourceStatusReason") or "")
    if SCHEMA_MARKER not in reason:
        return []
    logical_id = str(event.get("LogicalResourceId") or "")
    found = list(_SCHEMA_PATH.finditer(reason))
    failures = []
    for index, match in enumerate(found):
        end = found[index + 1].start() if index + 1 < len(found) else len(reason)
        message = reason[match.end() : end].strip().rstrip(",]").strip()
        failures.append(
            PropertyFailure(
                logical_id=logical_id,
                resource_type=_text(event.get("ResourceType")),
                path=f"Properties{match.group(1)}".rstrip("/"),
                message=message or "(no message)",
                check="schema",
            )
        )
    return failures


def advice(failure: PropertyFailure) -> str:
    """What to do about one refused property."""
    if "ResourceExistence" in failure.check or "already exists" in failure.message:
        return (
            "an asset with this id already exists in the target account outside this stack: delete it there, adopt it, "
            "or deploy with another ResourceIdPrefixForAllResources"
        )
    if "does not exist" in failure.message or "not found" in failure.message.lower():
        return "what it refers to is missing in the target account: deploy or map it first (stage parameters)"
    return (
        "the exported value does not fit CloudFormation's schema for this property: fix it in the source asset and "
        "export again, or override the property for this stage"
    )


def describe_failure(failure: PropertyFailure, assets: Mapping[str, Mapping[str, Any]]) -> str:
    """``<logical id> (<type>, <kind>/<id>) at <path>: <message>; <what to do>`` for a message."""
    where = describe_asset(failure.logical_id or "?", failure.resource_type, assets)
    at = f" at {clean(failure.path, 300)}" if failure.path else ""
    return f"{where}{at}: {clean(failure.message, 300)} ({advice(failure)})"


def describe_failures(failures: Sequence[PropertyFailure], assets: Mapping[str, Mapping[str, Any]]) -> str:
    """Each failed property (at most ``MAX_FAILURES``, then a count), grouped by asset in order of first failure."""
    order = {failure.logical_id: index for index, failure in reversed(list(enumerate(failures)))}
    ranked = sorted(failures, key=lambda failure: order[failure.logical_id])
    return listing((describe_failure(failure, assets) for failure in ranked), MAX_FAILURES)


def first_asset(failures: Sequence[PropertyFailure], assets: Mapping[str, Mapping[str, Any]]) -> Optional[str]:
    """``<kind>/<id>`` of the first failed asset (an error's ``asset`` evidence), None when not an asset."""
    for failure in failures:
        asset = assets.get(failure.logical_id) or {}
        if asset.get("kind"):
            return f"{asset.get('kind')}/{asset.get('id') or '?'}"
    return None


# --- property-level review -----------------------------------------------------------------------


def shown_value(value: Any, hide: Callable[[str], str] = str) -> Optional[str]:
    """A before/after value as a review shows it: hidden values redacted, then cleaned and bounded.

    A value over ``MAX_VALUE_CHARS`` is shortened to its start and ``(N chars, sha256 <12 hex>)``,
    the digest taken of the redacted text (so that it never lets a parameter value be guessed).
    """
    if value is None:
        return None
    text = hide(str(value))
    if len(text) <= MAX_VALUE_CHARS:
        return clean(text, MAX_VALUE_CHARS * 6)
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()[:12]
    return f"{clean(text[: MAX_VALUE_CHARS // 2], MAX_VALUE_CHARS * 3)}... ({len(text):,} chars, sha256 {digest})"


def is_secret_path(path: str) -> bool:
    """Whether a property path holds credentials (a data source's ``Credentials``, a password or user name)."""
    parts = [part for part in path.split("/") if part]
    return "Credentials" in parts or any(part in NO_ECHO_PROPERTIES for part in parts)


def shown_at(path: str, value: Any, hide: Callable[[str], str] = str) -> Optional[str]:
    """A value at property ``path`` as a review shows it: None when absent, ``REDACTED`` under a credentials path, else ``shown_value``."""
    if value is None:
        return None
    return REDACTED if is_secret_path(path) else shown_value(value, hide)


def property_changes(
    resource_change: Mapping[str, Any], hide: Callable[[str], str] = str
) -> tuple[list[dict[str, Any]], int]:
    """Each property change of one ``ResourceChange`` (``IncludePropertyValues``), and how many were left off.

    Each entry: ``path`` (``Properties/Definition/Sheets/0/Name``), ``change`` (Add/Remove/Modify),
    ``before``, ``after``, ``recreation`` (Never/Conditionally/Always) and ``source`` (what caused it:
    ``DirectModification``, ``ParameterReference <name>``...). At most ``MAX_PROPERTIES``.

    Values: ``REDACTED`` under a credentials path; ``<value of parameter NAME>`` for a change a
    parameter causes (the stage's values are a secret input as a whole, the previous ones too);
    else ``shown_value``.
    """
    entries: list[dict[str, Any]] = []
    for detail in resource_change.get("Details") or []:
        target = detail.get("Target") if isinstance(detail, Mapping) else None
        if not isinstance(target, Mapping):
            continue
        path = str(target.get("Path") or f"{target.get('Attribute') or ''}/{target.get('Name') or ''}").strip("/")
        causing = str(detail.get("CausingEntity") or "")
        parameter = causing if detail.get("ChangeSource") == "ParameterReference" and causing else None

        def show(value: Any) -> Optional[str]:
            if parameter and value is not None and not is_secret_path(path):
                return f"<value of parameter {clean(parameter, 200)}>"
            return shown_at(path, value, hide)

        entries.append(
            {
                "path": clean(path, 300),
                "change": _text(target.get("AttributeChangeType")),
                "before": show(target.get("BeforeValue")),
                "after": show(target.get("AfterValue")),
                "recreation": _text(target.get("RequiresRecreation")),
                "source": clean(" ".join(p for p in (str(detail.get("ChangeSource") or ""), causing) if p), 200) or None,
            }
        )
    unique = list({(e["path"], e["before"], e["after"]): e for e in entries}.values())
    return unique[:MAX_PROPERTIES], max(0, len(unique) - MAX_PROPERTIES)


def review_changes(
    changes: Iterable[Mapping[str, Any]],
    assets: Mapping[str, Mapping[str, Any]],
    hide: Callable[[str], str] = str,
) -> list[dict[str, Any]]:
    """The change summary (``core.stacks.summarize_changes``), each entry with the properties it changes.

    An entry whose change carries property details (``DescribeChangeSet`` with ``IncludePropertyValues``)
    gets ``properties`` (``property_changes``) and, when more changed than it lists,
    ``properties_left_off``; one without details is the resource-level entry alone.
    """
    changes = [change for change in changes if isinstance(change, Mapping)]
    details: dict[str, tuple[list[dict[str, Any]], int]] = {}
    for change in changes:
        resource = change.get("ResourceChange")
        if isinstance(resource, Mapping) and resource.get("Details"):
            details[str(resource.get("LogicalResourceId", ""))] = property_changes(resource, hide)
    summary = summarize_changes(changes, assets)
    for entry in summary:
        listed, left_off = details.get(entry["logical_id"], ([], 0))
        if listed:
            entry["properties"] = listed
        if left_off:
            entry["properties_left_off"] = left_off
    return summary


def _text(value: Any) -> Optional[str]:
    return clean(value, 300) if isinstance(value, str) and value else None


# --- drift guard ---------------------------------------------------------------------------------------

# What a deployment does when the stack drifted from its last deployment (someone edited an asset
# in the target account): refuse naming the drift, warn (the outputs list it) and overwrite it,
# revert it through a drift-aware change set (CreateChangeSet ``DeploymentMode=REVERT_DRIFT``), or
# not look at all.
DRIFT_MODES = ("refuse", "warn", "revert", "ignore")
# StackResourceDriftStatus values that are drift; IN_SYNC is clean; anything else (NOT_CHECKED for
# a type CloudFormation cannot check, UNKNOWN when its check failed) was not checked, never clean.
DRIFTED_STATUSES = ("MODIFIED", "DELETED")
# How many DescribeStackResourceDrifts pages (100 resources each) are read: a stack holds at most 500.
MAX_DRIFT_PAGES = 10


def drift_mode(on_drift: Optional[str], protected: bool) -> str:
    """The stage's drift mode: ``on_drift`` when set, else ``refuse`` for a protected stage (``protect``), else ``warn``."""
    return on_drift or ("refuse" if protected else "warn")


def summarize_drift(
    drifts: Iterable[Mapping[str, Any]],
    assets: Mapping[str, Mapping[str, Any]],
    hide: Callable[[str], str] = str,
    detection: Optional[Mapping[str, Any]] = None,
) -> dict[str, Any]:
    """What drift detection found, plain JSON-able, by logical id.

    Args:
        drifts: DescribeStackResourceDrifts' ``StackResourceDrifts``.
        assets: Logical id -> {"kind", "id"}.
        hide: Removes parameter values from outside text.
        detection: DescribeStackDriftDetectionStatus' answer (its status and reason are kept).

    Returns:
        ``drifted``: one entry per drifted resource (``logical_id``, ``type``, ``asset_kind``,
        ``asset_id``, ``status``, ``properties``: ``path``, ``difference``, ``expected``, ``actual``);
        ``not_checked``: the resources CloudFormation did not check (same keys, no properties);
        ``detection``: the detection's status and reason.
    """
    drifted: list[dict[str, Any]] = []
    not_checked: list[dict[str, Any]] = []
    for drift in drifts:
        if not isinstance(drift, Mapping):
            continue
        logical_id = str(drift.get("LogicalResourceId") or "")
        asset = assets.get(logical_id) or {}
        status = _text(drift.get("StackResourceDriftStatus")) or "UNKNOWN"
        entry: dict[str, Any] = {
            "logical_id": clean(logical_id, 300),
            "type": _text(drift.get("ResourceType")),
            "asset_kind": asset.get("kind"),
            "asset_id": asset.get("id"),
            "status": status,
        }
        if status in DRIFTED_STATUSES:
            entry["properties"] = [_difference(d, hide) for d in drift.get("PropertyDifferences") or [] if isinstance(d, Mapping)][
                :MAX_PROPERTIES
            ]
            drifted.append(entry)
        elif status != "IN_SYNC":
            not_checked.append(entry)
    return {
        "drifted": sorted(drifted, key=lambda e: e["logical_id"]),
        "not_checked": sorted(not_checked, key=lambda e: e["logical_id"]),
        "detection": {
            "status": _text((detection or {}).get("DetectionStatus")),
            "reason": _text(hide(str((detection or {}).get("DetectionStatusReason") or ""))),
        },
    }


def _difference(difference: Mapping[str, Any], hide: Callable[[str], str]) -> dict[str, Any]:
    path = str(difference.get("PropertyPath") or "").strip("/")
    return {
        "path": clean(path, 300),
        "difference": _text(difference.get("DifferenceType")),
        "expected": shown_at(path, difference.get("ExpectedValue"), hide),
        "actual": shown_at(path, difference.get("ActualValue"), hide),
    }


def drift_decision(mode: str, report: Mapping[str, Any]) -> str:
    """``go`` (no drift, or ``warn``/``ignore``), ``refuse`` or ``revert`` for drift ``report`` under ``mode``."""
    if not report.get("drifted") or mode not in ("refuse", "revert"):
        return "go"
    return mode


def describe_drift(report: Mapping[str, Any], assets: Mapping[str, Mapping[str, Any]]) -> str:
    """Each drifted asset and property (bounded), then the resources not checked, for a message."""
    lines = []
    for entry in report.get("drifted") or []:
        where = describe_asset(str(entry.get("logical_id")), entry.get("type"), assets)
        properties = [
            f"{p.get('path') or '?'} {p.get('expected')!r} -> {p.get('actual')!r}" for p in entry.get("properties") or []
        ]
        changed = f": {listing(properties, 5, ', ')}" if properties else ""
        lines.append(f"{where} {entry.get('status')}{changed}")
    text = listing(lines, MAX_LISTED)
    unchecked = [describe_asset(str(e.get("logical_id")), e.get("type"), assets) for e in report.get("not_checked") or []]
    if unchecked:
        text += f" (not checked for drift: {listing(unchecked, 5, ', ')})"
    return text


# --- verification after deploy -----------------------------------------------------------------------

# The asset kinds verified once the stack completes: CloudFormation reports a dashboard or an
# analysis created even when its version failed or its definition carries errors.
VERIFIED_KINDS = ("dashboard", "analysis")
VERIFY_MODES = ("error", "warning", "off")
# How many of an asset's errors a status keeps.
MAX_ASSET_ERRORS = 10
# A status for an asset that could not be described (not a failure of the asset: unknown).
NOT_VERIFIED = "NOT_VERIFIED"


def verification_targets(assets: Mapping[str, Mapping[str, Any]], prefix: str = "") -> list[dict[str, str]]:
    """The dashboards and analyses to describe: ``logical_id``, ``kind`` and the ``id`` as deployed (``prefix`` + id)."""
    return sorted(
        (
            {"logical_id": str(logical_id), "kind": str(asset["kind"]), "id": f"{prefix}{asset['id']}"}
            for logical_id, asset in assets.items()
            if asset.get("kind") in VERIFIED_KINDS and asset.get("id")
        ),
        key=lambda target: (target["kind"], target["id"]),
    )


def asset_status(kind: str, answer: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` and ``errors`` of a DescribeDashboard (its ``Version``) or DescribeAnalysis answer."""
    found = answer.get("Dashboard" if kind == "dashboard" else "Analysis")
    found = found if isinstance(found, Mapping) else {}
    if kind == "dashboard":
        found = found.get("Version") if isinstance(found.get("Version"), Mapping) else {}
    errors = [e for e in found.get("Errors") or [] if isinstance(e, Mapping)]
    return {
        "status": _text(found.get("Status")),
        "errors": [clean(f"{e.get('Type') or 'ERROR'}: {e.get('Message') or '(no message)'}", 300) for e in errors][
            :MAX_ASSET_ERRORS
        ],
    }


def failed_assets(statuses: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The verified assets whose version failed or that carry errors (an unverified one is not failed)."""
    return [
        s
        for s in statuses
        if s.get("status") != NOT_VERIFIED and (s.get("errors") or str(s.get("status") or "").endswith(("_FAILED", "DELETED")))
    ]


def describe_verification(statuses: Sequence[Mapping[str, Any]]) -> str:
    """Each failed asset with its status and errors (bounded), for a message."""
    lines = [
        f"{s.get('kind')} {s.get('id')!r} {s.get('status') or '(no status)'}"
        + (f": {listing(s.get('errors') or [], 3, ', ')}" if s.get("errors") else "")
        for s in failed_assets(statuses)
    ]
    return listing(lines, MAX_LISTED)


def verification_advice(statuses: Sequence[Mapping[str, Any]]) -> str:
    """What to do about the failed assets: a dashboard or analysis is fixed at its source, an ingestion in the target."""
    kinds = {str(s.get("kind")) for s in failed_assets(statuses)}
    advice = []
    if kinds - {"dataset"}:
        advice.append("fix the dashboard or analysis in the source account and promote it again")
    if "dataset" in kinds:
        advice.append(
            "check the data set's data source in the target account (host, credentials, network) and the tables it "
            "reads, then refresh the data set"
        )
    return "; ".join(advice) or "nothing failed"


# --- SPICE first ingestion -------------------------------------------------------------------------

# QuickSight's IngestionStatus values that end an ingestion (the others: INITIALIZED, QUEUED, RUNNING).
INGESTION_DONE = ("COMPLETED", "FAILED", "CANCELLED")
# A first ingestion takes seconds (a small table) to many minutes: 2 s, then a quarter of the time
# waited, at most 30 s apart (as aws-cli's stack waiter), jittered.
INGESTION_BACKOFF = Backoff(first=2.0, proportion=0.25, cap=30.0, jitter=0.2)
# How many ListIngestions pages (100 each) are read for one data set: a new one has one ingestion.
MAX_INGESTION_PAGES = 5


def ingestion_targets(document: Mapping[str, Any], prefix: str = "") -> list[dict[str, str]]:
    """The SPICE data sets of a parsed template: ``logical_id``, ``kind`` (``dataset``) and ``id`` as deployed.

    A data set is in SPICE when its ``ImportMode`` is the literal ``SPICE`` (QuickSight then starts
    its first ingestion when CloudFormation creates it); DIRECT_QUERY ones hold no data to ingest.
    """
    resources = document.get("Resources") if isinstance(document.get("Resources"), Mapping) else {}
    return sorted(
        (
            {"logical_id": resource.logical_id, "kind": "dataset", "id": f"{prefix}{resource.asset_id}"}
            for resource in quicksight_resources(resources)
            if resource.kind == "dataset" and resource.asset_id and (resource.properties or {}).get("ImportMode") == "SPICE"
        ),
        key=lambda target: target["id"],
    )


def first_ingestion(ingestions: Sequence[Any]) -> Optional[Mapping[str, Any]]:
    """The earliest ingestion of a ListIngestions answer (by ``CreatedTime``; None when there is none)."""
    found = [i for i in ingestions if isinstance(i, Mapping) and i.get("CreatedTime") is not None]
    try:
        return min(found, key=lambda i: i["CreatedTime"]) if found else None
    except TypeError:  # times of mixed kinds: an answer of the wrong shape
        return None


def ingestion_status(ingestion: Mapping[str, Any]) -> dict[str, Any]:
    """``status`` (``INGESTION_<IngestionStatus>``) and ``errors`` of a data set's first ingestion.

    FAILED ends in ``_FAILED`` (``failed_assets``); a cancelled one carries an error saying so, so
    that it fails too: the data set holds no data.
    """
    status = _text(ingestion.get("IngestionStatus")) or "UNKNOWN"
    error = ingestion.get("ErrorInfo") if isinstance(ingestion.get("ErrorInfo"), Mapping) else {}
    errors = [clean(f"{error.get('Type') or 'ERROR'}: {error.get('Message') or '(no message)'}", 300)] if error else []
    if status == "CANCELLED" and not errors:
        errors = ["the first ingestion was cancelled: the data set holds no data until one completes"]
    return {"status": f"INGESTION_{status}", "errors": errors, "ingestion_id": _text(ingestion.get("IngestionId"))}
