"""Errors raised by quicksight-promotion.

Every error is one line that names the job, parameter or asset involved, the state that was
seen and what to do next. In a dynamic provider the exception message is the only thing a
``pulumi up`` user sees, so messages must be complete on their own. No message ever contains
the pre-signed download URL or any secret value.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

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
    """

    def __init__(self, message: object = "") -> None:
        super().__init__(clean(message, MAX_MESSAGE_CHARS))


class InputError(QuickSightPromotionError, ValueError):
    """An input of a resource or component is missing or malformed."""


class ExportJobError(QuickSightPromotionError):
    """The export job cannot be used (not found, failed, wrong format, ...)."""


class ExportJobNotFoundError(ExportJobError):
    """DescribeAssetBundleExportJob answered ResourceNotFoundException."""


class ExportJobFailedError(ExportJobError):
    """The export job ended in the FAILED state."""


class ExportFormatError(ExportJobError):
    """The export job was not started with ExportFormat=CLOUDFORMATION_JSON."""


class ExportTimeoutError(ExportJobError):
    """The export job did not finish before the deadline."""


class AwsAccessError(QuickSightPromotionError):
    """AWS refused the call: credentials, permissions, edition or endpoint problems."""


class TransientError(QuickSightPromotionError):
    """A fault that may pass on its own (throttling, 5xx answers, resets, timeouts).

    The poll loop (``core.polling.poll_until``) counts one as a poll that learnt nothing and keeps
    its schedule, so such faults are retried until the deadline instead of ending a wait.
    """


class ThrottledError(TransientError):
    """QuickSight kept throttling after botocore's own retries were spent."""


class ServiceUnavailableError(TransientError, ExportJobError):
    """QuickSight could not be reached or answered 5xx after botocore's retries (retried until the deadline)."""


class MalformedAnswerError(ExportJobError):
    """An AWS answer was not of the documented shape (not JSON, a missing field, a wrong type)."""


class DownloadError(QuickSightPromotionError):
    """The exported file could not be downloaded."""


class DownloadUrlExpiredError(DownloadError):
    """The pre-signed URL was refused (expired or forbidden); describe the job again for a fresh one."""


class DownloadRefusedError(DownloadError):
    """We refuse this download (scheme, size or time limit): fetching it again would not help."""


class IntegrityError(QuickSightPromotionError):
    """The downloaded bytes do not hash to the expected sha256."""


class BundleFormatError(QuickSightPromotionError, ValueError):
    """The downloaded file is not a usable CloudFormation template (or zip holding one)."""


class ProblemsError(InputError):
    """Several problems found at once, so that the user fixes them all in one round.

    The message lists every problem, separated by ``"; "``; ``problems`` holds them one by one.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)


class ParameterError(ProblemsError):
    """The stage's CloudFormation parameter values do not fit the export template's parameters."""


class ReleaseError(ExportJobError):
    """A release (an export this library starts) cannot be cut."""


class ReleasePreflightError(ReleaseError, ProblemsError):
    """Pre-flight found problems in the release's assets before any job started."""


class ReleaseConflictError(ReleaseError, InputError):
    """The release name's job exists with other assets or options: a release name is used once."""


class PrincipalError(ProblemsError):
    """The stage's ``principals`` or ``grant`` do not fit the export's permission principals."""