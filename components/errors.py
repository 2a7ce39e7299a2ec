"""Every error quicksight-promotion raises on purpose, in one module.

Every error is one line that names the job, stack, asset or parameter involved, the state that
was seen and what to do next. In a dynamic provider the exception message is the only thing a
``pulumi up`` user sees, so messages must be complete on their own. No message ever contains a
pre-signed download URL, a credential or a configuration value.

Each error also carries its evidence as attributes (``job_id``, ``stack``, ``asset``,
``parameter``, ``account``, ``region``, ``operation``, ``code``; None where it does not apply),
so that a program can act on an error without parsing its text. ``evidence`` holds the ones set.

The tree (a class in brackets is a second base)::

    QuickSightPromotionError
    ├── InputError [ValueError]             an input, setting or flag is missing or malformed
    │   ├── ProblemsError                   several problems at once (``problems``)
    │   │   ├── ParameterError              stage values do not fit the template's parameters
    │   │   ├── PrincipalError              ``principals``/``grant`` do not fit the export
    │   │   ├── PromotionCheckError         the judge (``core.judge``) found errors in a stage
    │   │   └── ReleasePreflightError [ReleaseError]
    │   ├── ReleaseConflictError [ReleaseError]
    │   └── StageFileError                  the Pulumi CLI would refuse the project or stage file
    ├── AwsAccessError                      AWS refused the caller: credentials, permissions, edition
    ├── TransientError                      may pass on its own; retried until the deadline
    │   ├── ThrottledError                  throttled beyond botocore's retries
    │   └── ServiceUnavailableError         unreachable, no answer in time, 5xx, a broken connection
    │       └── DeploymentUnavailableError [DeploymentError]
    ├── MalformedAnswerError                an AWS answer not of the documented shape
    │   └── MalformedStackAnswerError [DeploymentError]
    ├── DeadlineError                       the operation's deadline passed
    │   ├── ExportTimeoutError [ExportJobError]
    │   ├── DeploymentTimeoutError [DeploymentError]
    │   └── ArchiveTimeoutError [ArchiveError]
    ├── ExportJobError                      an export job cannot be used
    │   ├── ExportJobNotFoundError
    │   ├── ExportJobFailedError
    │   ├── ExportFormatError
    │   └── ReleaseError                    a release (an export this library starts) cannot be cut
    ├── DownloadError                       the exported file could not be downloaded
    │   ├── DownloadUrlExpiredError
    │   └── DownloadRefusedError
    ├── IntegrityError                      bytes are not the expected ones
    │   └── ArchiveError                    the release archive holds no usable release
    │       └── ArchiveConflictError        a release name archived with another template
    ├── BundleFormatError [ValueError]      not a usable CloudFormation template (or zip of one)
    └── DeploymentError                     a CloudFormation deployment did not reach its goal
        ├── StackStateError                 a stack state this resource refuses to act on
        │   └── StackDriftError             the stack drifted and the stage refuses to overwrite it
        ├── ChangeSetFailedError
        ├── AssetVerificationError          deployed, but a dashboard or analysis failed in QuickSight
        ├── StackOperationFailedError
        ├── AccountMismatchError            the credentials act in another account
        ├── NestingError                    a template over one stack's limits cannot be split
        └── StackSetOperationFailedError    a StackSet operation failed in some accounts
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any, Optional

# The longest message an error carries. The engine shows a dynamic provider's message whole (the
# Go engine accepts gRPC metadata up to 16 MiB), so an unbounded one (a FAILED job with thousands
# of Errors) would bury the terminal; 8 KiB is far more than any useful message.
MAX_MESSAGE_CHARS = 8192
# Longest text quoted from an outside answer (an AWS message, a resource name) inside a message.
MAX_QUOTED_CHARS = 500
# How many entries of a list (errors, problems, findings) a message spells out before counting the rest.
MAX_LISTED = 10

# C0 and C1 control characters, DEL, and the Unicode line/paragraph separators and bidi controls:
# in a terminal or a CI log they break lines, forge log lines or recolour text (ANSI escapes).
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u200e\u200f\u202a-\u202e\u2066-\u2069]")

# The evidence an error may carry, in the order ``evidence`` lists it.
EVIDENCE = ("job_id", "stack", "asset", "parameter", "account", "region", "operation", "code")


def _escape(match: re.Match[str]) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def clean(text: object, limit: int = MAX_QUOTED_CHARS) -> str:
    """``text`` as one safe line: control characters escaped (``\\x1b``), at most ``limit`` characters.

    Use it for every piece of outside text (AWS messages, names from a template) put into a message.
    """
    escaped = _CONTROL.sub(_escape, str(text))
    if len(escaped) <= limit:
        return escaped
    return f"{escaped[: max(limit - 40, 0)]}... ({len(escaped) - max(limit - 40, 0):,} more characters)"


def listing(items: Iterable[str], limit: int = MAX_LISTED, sep: str = "; ") -> str:
    """The first ``limit`` items joined by ``sep``, each cleaned, then a count of the rest."""
    items = list(items)
    shown = [clean(item) for item in items[:limit]]
    if len(items) > limit:
        shown.append(f"and {len(items) - limit:,} more")
    return sep.join(shown)


class QuickSightPromotionError(Exception):
    """Base class of every error this library raises on purpose.

    Every message is made one bounded line here (control characters escaped, at most
    ``MAX_MESSAGE_CHARS``), whoever built it: in a dynamic provider it is all the user sees.

    Args:
        message: The whole message: what, the state seen, what to do next.
        job_id, stack, asset, parameter, account, region, operation, code: The evidence (see the
            module docstring): identifiers only, never a value.
    """

    job_id: Optional[str]
    stack: Optional[str]
    asset: Optional[str]
    parameter: Optional[str]
    account: Optional[str]
    region: Optional[str]
    operation: Optional[str]
    code: Optional[str]

    def __init__(
        self,
        message: object = "",
        *,
        job_id: Optional[str] = None,
        stack: Optional[str] = None,
        asset: Optional[str] = None,
        parameter: Optional[str] = None,
        account: Optional[str] = None,
        region: Optional[str] = None,
        operation: Optional[str] = None,
        code: Optional[str] = None,
    ) -> None:
        super().__init__(clean(message, MAX_MESSAGE_CHARS))
        given = {
            "job_id": job_id,
            "stack": stack,
            "asset": asset,
            "parameter": parameter,
            "account": account,
            "region": region,
            "operation": operation,
            "code": code,
        }
        for name, value in given.items():
            setattr(self, name, None if value is None else clean(value, 300))

    @property
    def evidence(self) -> dict[str, str]:
        """The evidence that is set, by name."""
        return {name: value for name in EVIDENCE if (value := getattr(self, name, None)) is not None}

    def with_evidence(self, **evidence: Optional[str]) -> "QuickSightPromotionError":
        """Add evidence not set yet (a caller that knows the stack or job adds it); returns self."""
        for name, value in evidence.items():
            if name not in EVIDENCE:
                raise TypeError(f"{name!r} is not evidence an error carries ({', '.join(EVIDENCE)})")
            if value is not None and getattr(self, name, None) is None:
                setattr(self, name, clean(value, 300))
        return self

    def __reduce__(self) -> tuple[Any, ...]:
        # Keyword-only evidence is not in ``args``: rebuild the error with it (pickle, copy).
        return (_rebuild, (type(self), self.args, self.__dict__))


def _rebuild(cls: type, args: tuple[Any, ...], state: dict[str, Any]) -> BaseException:
    error = cls.__new__(cls)
    Exception.__init__(error, *args)
    error.__dict__.update(state)
    return error


# --- inputs ------------------------------------------------------------------------------------


class InputError(QuickSightPromotionError, ValueError):
    """An input of a resource or component, a setting or a flag is missing or malformed."""


class ProblemsError(InputError):
    """Several problems found at once, so that the user fixes them all in one round.

    The message lists every problem, separated by ``"; "``; ``problems`` holds them one by one.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = (), **evidence: Optional[str]) -> None:
        super().__init__(message, **evidence)
        self.problems: tuple[str, ...] = tuple(problems)


class ParameterError(ProblemsError):
    """The stage's CloudFormation parameter values do not fit the export template's parameters."""


class PrincipalError(ProblemsError):
    """The stage's ``principals`` or ``grant`` do not fit the export's permission principals."""


class PromotionCheckError(ProblemsError):
    """The judge (``core.judge``) found errors in what a stage would deploy: nothing was deployed.

    ``problems`` holds each error as ``preflight`` prints it.
    """


class StageFileError(InputError):
    """The Pulumi CLI would refuse the project or stage file with this message."""


# --- answers from AWS ----------------------------------------------------------------------------


class AwsAccessError(QuickSightPromotionError):
    """AWS refused the call: credentials, permissions, edition or endpoint problems."""


class TransientError(QuickSightPromotionError):
    """A fault that may pass on its own (throttling, 5xx answers, resets, timeouts).

    The poll loop (``core.polling.poll_until``) counts one as a poll that learnt nothing and keeps
    its schedule, so such faults are retried until the deadline instead of ending a wait.
    """


class ThrottledError(TransientError):
    """An AWS service kept throttling after botocore's own retries were spent."""


class ServiceUnavailableError(TransientError):
    """An AWS service could not be reached, did not answer in time or answered 5xx (retried until the deadline)."""


class MalformedAnswerError(QuickSightPromotionError):
    """An AWS answer was not of the documented shape (not JSON or XML, a missing field, a wrong type)."""


class DeadlineError(QuickSightPromotionError):
    """The operation's deadline passed before it finished (the message names the last fault seen)."""


# --- export jobs and releases --------------------------------------------------------------------


class ExportJobError(QuickSightPromotionError):
    """The export job cannot be used (not found, failed, wrong format, ...)."""


class ExportJobNotFoundError(ExportJobError):
    """DescribeAssetBundleExportJob answered ResourceNotFoundException."""


class ExportJobFailedError(ExportJobError):
    """The export job ended in the FAILED state."""


class ExportFormatError(ExportJobError):
    """The export job was not started with ExportFormat=CLOUDFORMATION_JSON."""


class ExportTimeoutError(DeadlineError, ExportJobError):
    """The export job (or the release) did not finish before the deadline."""


class ReleaseError(ExportJobError):
    """A release (an export this library starts) cannot be cut."""


class ReleasePreflightError(ProblemsError, ReleaseError):
    """Pre-flight found problems in the release's assets before any job started."""


class ReleaseConflictError(InputError, ReleaseError):
    """The release name's job exists with other assets or options: a release name is used once."""


# --- the exported file ---------------------------------------------------------------------------


class DownloadError(QuickSightPromotionError):
    """The exported file could not be downloaded."""


class DownloadUrlExpiredError(DownloadError):
    """The pre-signed URL was refused (expired or forbidden); describe the job again for a fresh one."""


class DownloadRefusedError(DownloadError):
    """We refuse this download (scheme, size or time limit): fetching it again would not help."""


class IntegrityError(QuickSightPromotionError):
    """Bytes are not the expected ones (a sha256 that differs from the pinned or recorded one)."""


class BundleFormatError(QuickSightPromotionError, ValueError):
    """The downloaded file is not a usable CloudFormation template (or zip holding one)."""


# --- the release archive -------------------------------------------------------------------------


class ArchiveError(IntegrityError):
    """The release archive does not hold a usable release (or cannot be written)."""


class ArchiveConflictError(ArchiveError):
    """A release name is archived with another template: a release name stands for one template."""


class ArchiveTimeoutError(DeadlineError, ArchiveError):
    """The archive could not be written or read before the deadline."""


# --- deployments ---------------------------------------------------------------------------------


class DeploymentError(QuickSightPromotionError):
    """A CloudFormation deployment did not reach its goal (the message says why and what to do)."""


class StackStateError(DeploymentError):
    """The stack is in a state this resource refuses to act on (busy, failed rollback, not ours...)."""


class StackDriftError(StackStateError):
    """The stack drifted from its last deployment (edits in the target account) and ``on_drift`` refuses (each drifted asset named)."""


class AssetVerificationError(DeploymentError):
    """The stack completed, but QuickSight reports a dashboard or analysis failed or with errors (each named)."""


class ChangeSetFailedError(DeploymentError):
    """CloudFormation could not build the change set (its reason is in the message)."""


class StackOperationFailedError(DeploymentError):
    """The stack operation failed and rolled back (the root-cause event is in the message)."""


class DeploymentTimeoutError(DeadlineError, DeploymentError):
    """The deadline passed while CloudFormation was still working (it goes on without us)."""


class AccountMismatchError(DeploymentError):
    """The credentials act in another account than the target account."""


class NestingError(DeploymentError):
    """A template over one stack's limits cannot be split into nested stacks (the reference or resource is named)."""


class StackSetOperationFailedError(DeploymentError):
    """A StackSet operation ended FAILED or STOPPED (each failed account, region and root cause is in the message)."""


class DeploymentUnavailableError(ServiceUnavailableError, DeploymentError):
    """CloudFormation, S3 or STS could not be reached, did not answer in time or answered 5xx.

    A ``TransientError``: the deployment retries it until its deadline (``core.polling.poll_until``).
    """


class MalformedStackAnswerError(MalformedAnswerError, DeploymentError):
    """A CloudFormation, S3 or STS answer was not of the documented shape (HTML, a missing field, a bad timestamp)."""


def error_classes() -> list[type[QuickSightPromotionError]]:
    """Every error class of this module, base first (for the public API and its tests)."""
    found: list[type[QuickSightPromotionError]] = []
    for value in list(globals().values()):
        if isinstance(value, type) and issubclass(value, QuickSightPromotionError) and value not in found:
            found.append(value)
    return found
