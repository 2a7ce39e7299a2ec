"""One way to call AWS: every call of the boundary, its deadline, its retries and the errors it raises.

A call is made for a named **subject** (an export job, a stack, a release's archive) and a
**purpose** (the export, the release, the deployment, the archive), within the purpose's deadline
(``Calls``):

- ``Calls.call`` makes one API call, fitted to the time left (``session.BudgetedClients``) and
  bounded in wall time (``session.call_within``); with a deadline, its transient faults (throttling
  and 5xx beyond botocore's own retries, connections that fail or break, no answer in time) are
  retried on the purpose's poll schedule until the deadline (``Calls.until_deadline``, the one
  retry wrapper of the boundary), then end in the purpose's ``DeadlineError``.
- Every failure is read through **one table per service** (``QUICKSIGHT``, ``CLOUDFORMATION``,
  ``S3``, ``STS``: error code -> fault class and the advice to print) into a ``Diagnosis``; the
  purpose then names our error class for the fault (``Purpose``: a 5xx of CloudFormation, of S3
  staging a template or of STS assuming the deployment's role is a ``DeploymentUnavailableError``,
  of QuickSight a ``ServiceUnavailableError``...).
- Error answers an operation expects (no such stack, an empty change set, a missing key, a key
  that exists, an export job not found) are declared by the caller (``Expect``) and returned as
  ``Expected``, never raised.
- A fault class reads the same wherever it happens: ``<what>: <diagnosis>: <advice>``, where
  ``what`` names the action and the subject (``quicksight:DescribeAssetBundleExportJob for export
  job 'x' in account 111122223333 (us-east-1)``), the diagnosis is the fault class's words with the
  service's name and AWS's code, and only the advice is the service's or the purpose's.

Sessions are opened here too (``Calls.open_session``): AssumeRole is a call like any other.
"""

from __future__ import annotations

import http.client
import random
import socket
import time
from dataclasses import dataclass, field, replace
from enum import Enum
from types import MappingProxyType
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar, Union

import boto3
import urllib3.exceptions
from botocore import xform_name
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    ConnectionClosedError,
    ConnectionError as BotoConnectionError,
    CredentialRetrievalError,
    HTTPClientError,
    IncompleteReadError,
    NoCredentialsError,
    NoRegionError,
    PartialCredentialsError,
    ProfileNotFound,
    ResponseStreamingError,
    SSOError,
    TokenRetrievalError,
    UnauthorizedSSOTokenError,
)
from botocore.parsers import ResponseParserError

from ..core.polling import DEFAULT_BACKOFF, Backoff, Deadline, PollOutcome, poll_until
from ..errors import (
    ArchiveError,
    ArchiveTimeoutError,
    AwsAccessError,
    DeadlineError,
    DeploymentError,
    DeploymentTimeoutError,
    DeploymentUnavailableError,
    ExportJobError,
    ExportTimeoutError,
    InputError,
    MalformedAnswerError,
    MalformedStackAnswerError,
    QuickSightPromotionError,
    ReleaseError,
    ServiceUnavailableError,
    ThrottledError,
    clean,
)
from .session import DEFAULT_CALL_BUDGET, BudgetedClients, CallBudget, CallTimeout, assumed, base_session, call_within

T = TypeVar("T")

# --- what can go wrong ----------------------------------------------------------------------------


class Fault(str, Enum):
    """A class of failure: what the user is told, whichever service or call it happened in."""

    NO_CREDENTIALS = "no credentials"  # nothing to sign with (or a profile that does not exist)
    ACCESS_DENIED = "access denied"  # AWS refused the caller: permissions, signature, edition
    THROTTLED = "throttled"  # beyond botocore's retries (transient)
    UNAVAILABLE = "unavailable"  # a 5xx answer beyond botocore's retries (transient)
    UNREACHABLE = "unreachable"  # the connection failed or timed out (transient)
    BROKEN = "broken"  # the connection broke while the answer was read (transient)
    NO_ANSWER = "no answer"  # no whole answer within the call's wall-time bound (transient)
    MALFORMED = "malformed"  # an answer not of the documented shape
    UNKNOWN_HOST = "unknown host"  # DNS says the endpoint's host does not exist
    NO_REGION = "no region"  # no region anywhere
    NOT_SENT = "not sent"  # botocore would not make the call (an invalid region or parameter)
    REFUSED = "refused"  # any other error answer


TRANSIENT_FAULTS = frozenset({Fault.THROTTLED, Fault.UNAVAILABLE, Fault.UNREACHABLE, Fault.BROKEN, Fault.NO_ANSWER})

# Error codes every service uses alike (each service's table starts from these).
ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidAccessKeyId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)
# botocore's standard mode retries these itself: a caller that sees one has spent its attempts.
THROTTLING_CODES = frozenset(
    {"ThrottlingException", "Throttling", "ThrottledException", "TooManyRequestsException", "RequestLimitExceeded", "SlowDown"}
)
# "Try again later" whatever the HTTP status (most come with a 5xx, transient by itself).
TRANSIENT_CODES = frozenset(
    {
        "InternalFailure",
        "InternalServerError",
        "InternalServerException",
        "InternalError",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
        "RequestTimeoutException",
        "PriorRequestNotComplete",
    }
)
# Failures to find credentials: nothing was sent.
CREDENTIAL_ERRORS: tuple[type[BaseException], ...] = (
    NoCredentialsError,
    PartialCredentialsError,
    ProfileNotFound,
    CredentialRetrievalError,
    SSOError,
    UnauthorizedSSOTokenError,
    TokenRetrievalError,
)
# How an answer can fail outside botocore's own error handling, the same for every service:
# - botocore reads the body after its retries are done, so a connection cut or timed out mid-body
#   surfaces as urllib3's or http.client's own exception (a broken connection: transient);
# - botocore's parser fails on a body of the wrong shape (HTML, a list where an object belongs, a
#   bad timestamp, an absurd number) with these built-in errors (a malformed answer: permanent).
BROKEN_ANSWER_ERRORS: tuple[type[BaseException], ...] = (urllib3.exceptions.HTTPError, http.client.HTTPException, OSError)
MALFORMED_ANSWER_ERRORS: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    AttributeError,
    KeyError,
    OverflowError,
    RuntimeError,
)
# Everything ``Calls.attempt`` reads into a diagnosis (anything else is a bug and propagates).
_READ = (CallTimeout, ClientError, BotoCoreError, ResponseParserError, *BROKEN_ANSWER_ERRORS, *MALFORMED_ANSWER_ERRORS)


# --- one table per service ------------------------------------------------------------------------


@dataclass(frozen=True)
class Rule:
    """What an error code of a service means: its fault class and, when the service says more, the advice."""

    fault: Fault
    advice: Optional[str] = None


def _table(specific: Mapping[str, Rule]) -> Mapping[str, Rule]:
    rules = {code: Rule(Fault.ACCESS_DENIED) for code in ACCESS_CODES}
    rules.update({code: Rule(Fault.THROTTLED) for code in THROTTLING_CODES})
    rules.update({code: Rule(Fault.UNAVAILABLE) for code in TRANSIENT_CODES})
    rules.update(specific)
    return MappingProxyType(rules)


@dataclass(frozen=True, eq=False)  # one object per service: compared (and hashed) by identity
class Service:
    """An AWS service the product calls, and its table of error codes.

    Attributes:
        name: As messages name it (``QuickSight``).
        prefix: Its IAM action prefix (``quicksight``): messages name ``quicksight:DescribeDashboard``.
        endpoint: The variable that overrides its endpoint (a malformed answer comes from there).
        codes: Error code -> ``Rule``. Codes not in it are read from the HTTP status: 401/403 access
            denied, 429 throttled, 5xx unavailable, anything else refused.
    """

    name: str
    prefix: str
    endpoint: str
    codes: Mapping[str, Rule] = field(default_factory=lambda: _table({}))

    def rule(self, code: str, status: Optional[int]) -> Rule:
        """The rule for an error answer."""
        if code in self.codes:
            return self.codes[code]
        if status in (401, 403):
            return Rule(Fault.ACCESS_DENIED)
        if status == 429:
            return Rule(Fault.THROTTLED)
        if isinstance(status, int) and status >= 500:
            return Rule(Fault.UNAVAILABLE)
        return Rule(Fault.REFUSED)


QUICKSIGHT = Service(
    "QuickSight",
    "quicksight",
    "AWS_ENDPOINT_URL_QUICKSIGHT",
    _table(
        {
            "UnsupportedUserEditionException": Rule(
                Fault.ACCESS_DENIED,
                "asset bundle exports need QuickSight Enterprise edition: upgrade the source account's QuickSight "
                "subscription",
            ),
        }
    ),
)
CLOUDFORMATION = Service(
    "CloudFormation",
    "cloudformation",
    "AWS_ENDPOINT_URL_CLOUDFORMATION",
    _table(
        {
            "InsufficientCapabilitiesException": Rule(
                Fault.REFUSED, "the template needs a capability it was not given: add it to capabilities"
            ),
        }
    ),
)
S3 = Service(
    "S3",
    "s3",
    "AWS_ENDPOINT_URL_S3",
    _table(
        {
            "NoSuchBucket": Rule(Fault.REFUSED, "the bucket does not exist (or not in this region): create it, or fix its name"),
            "PermanentRedirect": Rule(Fault.REFUSED, "the bucket is in another region: give the bucket's region"),
            "AuthorizationHeaderMalformed": Rule(Fault.REFUSED, "the bucket is in another region: give the bucket's region"),
        }
    ),
)
STS = Service(
    "STS",
    "sts",
    "AWS_ENDPOINT_URL_STS",
    _table(
        {
            "AccessDenied": Rule(
                Fault.ACCESS_DENIED,
                "grant the caller sts:AssumeRole on the role, and let the role's trust policy trust the caller",
            ),
            "RegionDisabledException": Rule(
                Fault.REFUSED, "STS is not activated in this region: activate it in the account's IAM settings"
            ),
        }
    ),
)
SERVICES = (QUICKSIGHT, CLOUDFORMATION, S3, STS)
# The codes every service shares, for a failure whose service does not matter (``is_transient``).
_ANY_SERVICE = Service("AWS", "aws", "AWS_ENDPOINT_URL")


# --- what a call is for ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Purpose:
    """What calls are for: which of our errors each fault raises, and what the advice names.

    Attributes:
        refused: A permanent refusal (an error answer, an unknown host, a call botocore would not make).
        unavailable: A transient fault (5xx, unreachable, broken, no answer): a ``TransientError``.
        malformed: An answer not of the documented shape.
        deadline: Transient faults until the deadline.
        no_region: No region anywhere.
        permission: How to get a permission AWS denied.
        region: How to give a region.
        timeout_setting: The setting that bounds the whole operation (None: not the user's).
        rerun: What to do once a fault is mended.
        resumes: What a re-run does after a deadline, if it helps to say (``timed_out``).
        advice: Error code -> advice, over the service's (e.g. the archive's missing bucket).
    """

    refused: type[QuickSightPromotionError]
    unavailable: type[ServiceUnavailableError]
    malformed: type[MalformedAnswerError]
    deadline: type[DeadlineError]
    no_region: type[QuickSightPromotionError]
    permission: str
    region: str
    timeout_setting: Optional[str]
    rerun: str = "re-run"
    resumes: str = ""
    advice: Mapping[str, str] = field(default_factory=dict)

    def error_class(self, fault: Fault) -> type[QuickSightPromotionError]:
        """Our error class for a fault."""
        if fault in (Fault.NO_CREDENTIALS, Fault.ACCESS_DENIED):
            return AwsAccessError
        if fault is Fault.THROTTLED:
            return ThrottledError
        if fault in TRANSIENT_FAULTS:
            return self.unavailable
        if fault is Fault.MALFORMED:
            return self.malformed
        if fault is Fault.NO_REGION:
            return self.no_region
        return self.refused


EXPORT = Purpose(
    refused=ExportJobError,
    unavailable=ServiceUnavailableError,
    malformed=MalformedAnswerError,
    deadline=ExportTimeoutError,
    no_region=InputError,
    permission="grant the caller that permission, or set source_role_arn to a role in the source account that has it",
    region="set the resource's source_region input, or AWS_REGION / a profile region in the environment that runs pulumi",
    timeout_setting="export_timeout_seconds",
)
RELEASE = replace(EXPORT, refused=ReleaseError)
DEPLOYMENT = Purpose(
    refused=DeploymentError,
    unavailable=DeploymentUnavailableError,
    malformed=MalformedStackAnswerError,
    deadline=DeploymentTimeoutError,
    no_region=DeploymentError,
    permission="give the deploying credentials (or target_role_arn) this permission in the target account",
    region="set the resource's target_region input, AWS_REGION, or aws:region in the stack configuration",
    timeout_setting="stack_timeout_seconds",
    rerun="run pulumi up again",
    resumes=" (it carries on from the stack's state)",
    advice={"NoSuchBucket": "create staging_bucket in the stack's region, or set staging_bucket to a bucket there"},
)
ARCHIVE = Purpose(
    refused=ArchiveError,
    unavailable=ServiceUnavailableError,
    malformed=MalformedAnswerError,
    deadline=ArchiveTimeoutError,
    no_region=InputError,
    permission=(
        "the archive writer (the provider's AWS chain, or archive_role_arn) needs s3:PutObject and s3:GetObject on "
        "releases/* and templates/* of the bucket (see docs/archive.md)"
    ),
    region="set archiveRegion, or AWS_REGION / a profile region in the environment that runs pulumi",
    timeout_setting=None,
    advice={"NoSuchBucket": "create it (the source stage does, see docs/archive.md) or fix archiveBucket/archiveRegion"},
)
PURPOSES = (EXPORT, RELEASE, DEPLOYMENT, ARCHIVE)


# --- diagnosis -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Diagnosis:
    """A failure read through a service's table.

    Attributes:
        fault: Its class.
        detail: AWS's code and message, or the exception's type and text (cleaned; values hidden).
        code: AWS's error code (None when no answer came).
        status: The HTTP status of the answer (None when no answer came).
        advice: The service's own advice for this code, if any.
        seconds: The wall-time bound that passed (``NO_ANSWER``).
    """

    fault: Fault
    detail: str = ""
    code: Optional[str] = None
    status: Optional[int] = None
    advice: Optional[str] = None
    seconds: float = 0.0

    @property
    def transient(self) -> bool:
        return self.fault in TRANSIENT_FAULTS


def error_code(exc: ClientError) -> tuple[str, str, Optional[int]]:
    """(code, message, HTTP status) of a botocore ClientError."""
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return str(error.get("Code", "Unknown")), str(error.get("Message", "")).strip(), status


def is_unknown_host(exc: BaseException) -> bool:
    """Whether DNS answered that the endpoint's host does not exist (EAI_NONAME).

    That is a region without the service, or a mistyped endpoint override: waiting cannot help.
    A DNS server that cannot answer now (EAI_AGAIN) stays transient.
    """
    kwargs = getattr(exc, "kwargs", None)
    error = kwargs.get("error") if isinstance(kwargs, dict) else None
    seen = 0
    while isinstance(error, BaseException) and seen < 5:
        if isinstance(error, socket.gaierror):
            return error.errno == socket.EAI_NONAME
        error = error.__cause__ or error.__context__
        seen += 1
    return False


def diagnose(exc: BaseException, service: Service, hide: Callable[[str], str] = str) -> Optional[Diagnosis]:
    """Read a failure of a call to ``service`` (None: not a failure of the call, a bug to let through).

    ``hide`` removes input values (parameter values) from outside text before it is quoted.
    """

    def text(limit: int = 300) -> str:
        return f"{type(exc).__name__}: {clean(hide(str(exc)), limit)}"

    if isinstance(exc, CallTimeout):
        return Diagnosis(Fault.NO_ANSWER, seconds=exc.seconds)
    if isinstance(exc, ClientError):
        code, message, status = error_code(exc)
        rule = service.rule(code, status)
        detail = f"{clean(code, 100)}: {clean(hide(message))}" if message else clean(code, 100)
        return Diagnosis(rule.fault, detail, code, status, rule.advice)
    if isinstance(exc, CREDENTIAL_ERRORS):
        return Diagnosis(Fault.NO_CREDENTIALS, text())
    if isinstance(exc, NoRegionError):
        return Diagnosis(Fault.NO_REGION, text())
    if isinstance(exc, BotoCoreError):
        if is_unknown_host(exc):
            return Diagnosis(Fault.UNKNOWN_HOST, text())
        # EndpointConnectionError, ConnectTimeoutError and ProxyConnectionError are ConnectionErrors;
        # ReadTimeoutError is an HTTPClientError; a body cut mid-way is a ResponseStreamingError (or,
        # read from a stream, an IncompleteReadError).
        if isinstance(exc, (BotoConnectionError, HTTPClientError, ConnectionClosedError, ResponseStreamingError)):
            return Diagnosis(Fault.UNREACHABLE, text())
        if isinstance(exc, IncompleteReadError):
            return Diagnosis(Fault.BROKEN, text())
        return Diagnosis(Fault.NOT_SENT, text())
    if isinstance(exc, ResponseParserError):
        # Its text quotes the answer's body, which may echo the request: never quoted.
        return Diagnosis(Fault.MALFORMED, type(exc).__name__)
    if isinstance(exc, BROKEN_ANSWER_ERRORS):
        return Diagnosis(Fault.BROKEN, type(exc).__name__)
    if isinstance(exc, MALFORMED_ANSWER_ERRORS):
        return Diagnosis(Fault.MALFORMED, text(200))
    return None


def is_transient(exc: BaseException) -> bool:
    """Whether a botocore failure may pass on its own (throttling, 5xx, resets, timeouts, broken answers)."""
    found = diagnose(exc, _ANY_SERVICE)
    return found is not None and found.transient


def words(diagnosis: Diagnosis, service: Service, purpose: Purpose) -> tuple[str, str]:
    """(what went wrong, what to do) for a diagnosis: the same words for a fault class wherever it happens.

    Only the service's name, AWS's code and message, and the advice (the purpose's, or the
    service's for that code) differ between services and purposes.
    """
    name, fault, rerun = service.name, diagnosis.fault, purpose.rerun
    advice = purpose.advice.get(diagnosis.code or "") or diagnosis.advice
    network = f"check the network and region of the process that runs pulumi (and its proxies), then {rerun}"
    said: dict[Fault, tuple[str, str]] = {
        Fault.NO_CREDENTIALS: (
            f"no AWS credentials ({diagnosis.detail})",
            "configure AWS credentials (environment, profile or SSO) for the process that runs pulumi",
        ),
        Fault.ACCESS_DENIED: (f"AWS denied the call ({diagnosis.detail})", purpose.permission),
        Fault.THROTTLED: (
            f"{name} throttled the call ({diagnosis.detail}) beyond botocore's retries",
            f"wait a minute and {rerun}; fewer stacks calling {name} in the same account at once also helps",
        ),
        Fault.UNAVAILABLE: (
            f"{name} answered HTTP {diagnosis.status} ({diagnosis.detail}) beyond botocore's retries",
            f"a {name}-side fault: {rerun} later, or check the AWS Health Dashboard",
        ),
        Fault.UNREACHABLE: (f"cannot reach {name} ({diagnosis.detail})", network),
        Fault.BROKEN: (f"the connection to {name} broke while its answer was read ({diagnosis.detail})", network),
        Fault.NO_ANSWER: (
            f"{name} did not answer within {diagnosis.seconds:.0f} s (an answer that hangs or trickles)",
            f"check the network and proxies between this machine and {name}, then {rerun}",
        ),
        Fault.MALFORMED: (
            f"{name}'s answer is not of the documented shape ({diagnosis.detail})",
            f"this is not the documented answer: check {service.endpoint}, proxies (HTTPS_PROXY) and the region, "
            f"then {rerun}",
        ),
        Fault.UNKNOWN_HOST: (
            f"cannot reach {name}: the endpoint's host does not exist ({diagnosis.detail})",
            f"{name} is not offered in every region: check the network and region of the process that runs pulumi "
            f"(and {service.endpoint}), then {rerun}",
        ),
        Fault.NO_REGION: ("no AWS region", purpose.region),
        Fault.NOT_SENT: (
            f"botocore would not make the call ({diagnosis.detail})",
            f"check the region and {service.endpoint} of the process that runs pulumi, then {rerun}",
        ),
        Fault.REFUSED: (f"{name} refused the call ({diagnosis.detail})", f"fix what it names, then {rerun}"),
    }
    what, default = said[fault]
    return what, advice or default


# --- expected answers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Expect:
    """An error answer an operation expects, declared by its caller: ``Calls.call`` returns it, never raises it.

    Attributes:
        name: What it means (for reading code and tests).
        codes: Error codes that match (any, if empty and ``statuses`` is set).
        statuses: HTTP statuses that match (an S3 HEAD answer has no code but its status).
        says: Matches only when AWS's message says so (e.g. "does not exist").
    """

    name: str
    codes: frozenset[str] = frozenset()
    statuses: frozenset[int] = frozenset()
    says: Optional[Callable[[str], bool]] = None

    def matches(self, code: str, message: str, status: Optional[int]) -> bool:
        if not (code in self.codes or status in self.statuses):
            return False
        return self.says is None or bool(self.says(message))


@dataclass(frozen=True)
class Expected:
    """An expected error answer (see ``Expect``), with AWS's code and message (cleaned)."""

    expect: Expect
    code: str
    message: str


# An object or key that is not there: S3 HeadObject answers a bare 404, GetObject NoSuchKey.
MISSING_OBJECT = Expect("missing object", frozenset({"404", "NoSuchKey", "NotFound"}), frozenset({404}))
# S3's answer to a conditional write (If-None-Match: *) whose key exists.
OBJECT_EXISTS = Expect("object exists", frozenset({"PreconditionFailed"}), frozenset({412}))
# QuickSight's answer to a Describe of something that is not there.
NOT_FOUND = Expect("not found", frozenset({"ResourceNotFoundException"}))


# --- calls ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Calls:
    """Calls to AWS for one subject and purpose, within one deadline.

    Attributes:
        purpose: What the calls are for (which of our errors they raise).
        subject: Names the subject in every message (``export job 'x' in account 1 (us-east-1)``).
        evidence: The evidence every error carries (``job_id``, ``stack``, ``account``, ``region``).
        deadline: The bound of the whole operation (None: one attempt per call, no fitting).
        backoff, sleep, draw: The schedule transient faults are retried on (``poll_until``'s).
        hide: Removes input values from outside text (``core.stacks.redact``).
    """

    purpose: Purpose
    subject: str
    evidence: Mapping[str, Optional[str]] = field(default_factory=dict)
    deadline: Optional[Deadline] = None
    backoff: Backoff = DEFAULT_BACKOFF
    sleep: Callable[[float], None] = time.sleep
    draw: Callable[[], float] = random.random
    hide: Callable[[str], str] = str

    def about(self, subject: str, **evidence: Optional[str]) -> "Calls":
        """The same calls for a subject named anew (e.g. once its region is known)."""
        return replace(self, subject=subject, evidence={**self.evidence, **evidence})

    def remaining(self) -> Optional[float]:
        """Seconds left before the deadline (None: no deadline)."""
        return None if self.deadline is None else self.deadline.remaining()

    def what(self, service: Service, operation: Optional[str], on: Optional[str] = None) -> str:
        """``quicksight:DescribeDashboard on dashboard 'd' for export job 'x' in account 1`` for a message.

        Without an operation: the AWS session (credentials and region) made for the subject.
        """
        if operation is None:
            return f"the AWS session for {self.subject}"
        target = f" on {on}" if on else ""
        return f"{service.prefix}:{operation}{target} for {self.subject}"

    # --- one call -----------------------------------------------------------------------------
    def call(
        self,
        clients: Any,
        service: Service,
        operation: str,
        *,
        on: Optional[str] = None,
        expect: Sequence[Expect] = (),
        refused: Optional[str] = None,
        retry: bool = True,
        after: str = "",
        within: Optional[float] = None,
        **params: Any,
    ) -> Union[dict[str, Any], Expected]:
        """Call ``operation`` of ``service`` with ``params``: its answer (an object), or the ``Expected`` it matched.

        Args:
            clients: A boto3 client, or ``BudgetedClients`` (then fitted to the time left and
                bounded in wall time by the deadline).
            service: The service, whose table reads the failures.
            operation: The API operation (``DescribeStacks``).
            on: What the call acts on, for messages (an asset, an S3 URL, a role).
            expect: Error answers that are answers (returned as ``Expected``).
            refused: Advice for a refusal (else the service's, or "fix what it names").
            retry: Retry transient faults until the deadline (with a deadline only); False for a
                caller whose own poll loop retries them.
            after: Added to the deadline's message (``"; nothing was deployed"``).
            within: A wall-time bound of one attempt (else the deadline's, for ``BudgetedClients``).

        Raises:
            Our error for the fault (see ``Purpose.error_class``); the purpose's ``DeadlineError``
            when transient faults lasted until the deadline.
        """

        def attempt() -> Union[dict[str, Any], Expected]:
            return self.once(clients, service, operation, on=on, expect=expect, refused=refused, within=within, **params)

        if retry and self.deadline is not None:
            return self.until_deadline(attempt, self.what(service, operation, on), after)
        return attempt()

    def once(
        self,
        clients: Any,
        service: Service,
        operation: str,
        *,
        on: Optional[str] = None,
        expect: Sequence[Expect] = (),
        refused: Optional[str] = None,
        within: Optional[float] = None,
        **params: Any,
    ) -> Union[dict[str, Any], Expected]:
        """One attempt of ``call`` (transient faults raise a ``TransientError``)."""
        remaining = self.remaining()
        budgeted = isinstance(clients, BudgetedClients)
        if within is None and budgeted and remaining is not None:
            within = max(remaining, 0.0) + clients.budget.min_timeout

        def invoke() -> Any:
            # A client fitted to the time left (made inside the bound: making one can fail too).
            client = clients.within(remaining) if budgeted else clients
            return getattr(client, xform_name(operation))(**params)

        answer = self.attempt(service, operation, invoke, on=on, expect=expect, refused=refused, within=within)
        if not isinstance(answer, (dict, Expected)):
            raise self.malformed(service, operation, "the answer is not an object", on=on)
        return answer

    def attempt(
        self,
        service: Service,
        operation: Optional[str],
        invoke: Callable[[], T],
        *,
        on: Optional[str] = None,
        expect: Sequence[Expect] = (),
        refused: Optional[str] = None,
        within: Optional[float] = None,
    ) -> Union[T, Expected]:
        """``invoke()`` (one call of ``operation``, or reading its answer) bounded by ``within``, its failures made ours."""
        try:
            return call_within(invoke, within)
        except QuickSightPromotionError:
            raise
        except _READ as exc:
            if isinstance(exc, ClientError):
                code, message, status = error_code(exc)
                for expected in expect:
                    if expected.matches(code, message, status):
                        return Expected(expected, code, clean(self.hide(message)))
            if isinstance(exc, ClientError) and exc.operation_name == "AssumeRole" and service is not STS:
                # Assumed-role credentials refresh themselves inside a later call: the fault is STS's.
                service, operation, on = STS, "AssumeRole", None
            found = diagnose(exc, service, self.hide)
            if found is None:
                raise
            error = self.error(found, service, operation, on=on, refused=refused)
            raise error from (exc if self._quotable(exc) else None)

    def _quotable(self, exc: BaseException) -> bool:
        """Whether ``exc`` may stay chained: no hidden value in it, and no answer body (a parser's text)."""
        if isinstance(exc, (CallTimeout, ResponseParserError, *MALFORMED_ANSWER_ERRORS)):
            return False
        texts = (str(exc), repr(getattr(exc, "response", "")))
        return all(self.hide(text) == text for text in texts)

    # --- errors ---------------------------------------------------------------------------------
    def error(
        self,
        diagnosis: Diagnosis,
        service: Service,
        operation: Optional[str],
        *,
        on: Optional[str] = None,
        refused: Optional[str] = None,
    ) -> QuickSightPromotionError:
        """Our error for a diagnosis: ``<what>: <diagnosis>: <advice>``, with the evidence."""
        said, advice = words(diagnosis, service, self.purpose)
        if diagnosis.fault is Fault.REFUSED and refused and not self.purpose.advice.get(diagnosis.code or ""):
            advice = diagnosis.advice or refused
        if diagnosis.fault is Fault.NO_REGION:
            message = f"{said} for {self.subject}: {advice}"
        else:
            message = f"{self.what(service, operation, on)}: {said}: {advice}"
        action = f"{service.prefix}:{operation}" if operation else None
        return self.purpose.error_class(diagnosis.fault)(message, **self.evidence, operation=action, code=diagnosis.code)

    def malformed(self, service: Service, operation: str, problem: str, *, on: Optional[str] = None) -> QuickSightPromotionError:
        """The error for an answer that parsed but is not of the documented shape (``problem`` says how)."""
        return self.error(Diagnosis(Fault.MALFORMED, clean(problem)), service, operation, on=on)

    # --- retries ----------------------------------------------------------------------------------
    def until_deadline(self, attempt: Callable[[], T], what: str, after: str = "") -> T:
        """``attempt()``, its transient faults retried on the schedule until the deadline: the one retry wrapper.

        Raises:
            The purpose's ``DeadlineError``: only transient faults until the deadline (the last one
            named, ``after`` added); whatever permanent fault ``attempt`` raised, at once.
        """
        if self.deadline is None:
            return attempt()
        outcome = poll_until(
            attempt,
            lambda _value: True,
            timeout=max(self.deadline.remaining(), 0.0),
            backoff=self.backoff,
            sleep=self.sleep,
            clock=self.deadline.clock,
            draw=self.draw,
        )
        if not outcome.done:
            raise self.timed_out(what, outcome, after)
        return outcome.value  # type: ignore[return-value]

    def timed_out(self, what: str, outcome: PollOutcome[Any], after: str = "") -> QuickSightPromotionError:
        """The purpose's ``DeadlineError`` for ``what``, which met only transient faults until the deadline."""
        seconds = self.deadline.seconds if self.deadline is not None else outcome.waited
        setting = self.purpose.timeout_setting
        bound = f"{setting} ({seconds:g} s)" if setting else f"{seconds:g} s"
        last = str(outcome.last_error) if outcome.last_error is not None else "none"
        if last.startswith(f"{what}: "):
            last = last[len(what) + 2 :]
        mend = f"raise {setting}, or mend the last fault" if setting else "mend the last fault"
        return self.purpose.deadline(
            f"{what}: no usable answer within {bound} ({outcome.polls} attempt(s); last fault: {clean(last, 600)})"
            f"{after}: {mend}, then {self.purpose.rerun}{self.purpose.resumes}",
            **self.evidence,
            operation=getattr(outcome.last_error, "operation", None),
            code=getattr(outcome.last_error, "code", None),
        )

    # --- sessions -------------------------------------------------------------------------------
    def open_session(
        self,
        region: Optional[str],
        role_arn: Optional[str],
        session_name: str,
        profile: Optional[str] = None,
        *,
        budget: CallBudget = DEFAULT_CALL_BUDGET,
        after: str = "",
        external_id: Optional[str] = None,
    ) -> boto3.session.Session:
        """A session from the standard chain (or ``profile``), as ``role_arn`` if given, refusing a missing region.

        ``session_name`` names the stack or job (``core.types.role_session_name``); ``external_id``
        is sent with AssumeRole when the role's trust policy asks for one, and never quoted.

        AssumeRole is a call like any other: fitted to the time left, bounded in wall time, its
        failures read through STS's table, its transient faults retried until the deadline. The
        assumed credentials refresh themselves (``session.assumed``).

        Raises:
            The purpose's ``no_region`` error; ``AwsAccessError`` (no credentials, AssumeRole
            denied); and the errors of ``call``.
        """

        def make() -> boto3.session.Session:
            base = base_session(region, profile)
            if not base.region_name:
                raise NoRegionError()
            if not role_arn:
                return base
            return assumed(base, role_arn, session_name, budget.config(self.remaining()), external_id)

        def attempt() -> boto3.session.Session:
            remaining = self.remaining()
            within = None if remaining is None else max(remaining, 0.0) + budget.min_timeout
            return self.attempt(STS, operation, make, on=role_arn, within=within)  # type: ignore[return-value]

        # Without a role no call is made: what can fail is the chain itself (a profile, the region).
        operation = "AssumeRole" if role_arn else None
        return self.until_deadline(attempt, self.what(STS, operation, role_arn), after)
