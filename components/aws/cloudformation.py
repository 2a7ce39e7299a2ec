"""Deploy a template through CloudFormation change sets, the way ``aws cloudformation deploy`` does.

The model is aws-cli's ``awscli/customizations/cloudformation/deployer.py``: CreateChangeSet
(CREATE for a new stack, UPDATE for an existing one), wait for it, treat "no changes" as a no-op,
ExecuteChangeSet, wait for the stack. On top of it:

- an account guard (STS GetCallerIdentity) before any other call;
- what to do with the stack's current status (busy stacks are waited for, a failed first create
  of ours is deleted and created again, a stack that is not ours is only taken over with
  ``adopt``, UPDATE_ROLLBACK_FAILED is refused with what to do);
- templates over 51,200 bytes staged once in S3 (HeadObject first) and deployed by TemplateURL;
- a failure names its root cause, read from this operation's stack events;
- one deadline for the whole operation, every wait on ``core.polling.poll_until``; every STS,
  CloudFormation and S3 call fitted to the time left (``session.BudgetedClients``) and cut at it
  (``session.call_within``), transient faults retried until it, malformed answers refused
  (``MalformedStackAnswerError``), parameter values never quoted (``core.stacks.redact``).

Clients come from ``session.py`` (lazily, inside calls); tests hand in their own.
"""

from __future__ import annotations

import datetime as dt
import json
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence, TypeVar

from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError
from botocore.parsers import ResponseParserError

from ..core import stacks as core
from ..core.polling import Backoff, Deadline, poll_until
from ..core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT
from ..errors import AwsAccessError, QuickSightPromotionError, ThrottledError, TransientError, clean, listing
from .calls import ACCESS_CODES, BROKEN_ANSWER_ERRORS, MALFORMED_ANSWER_ERRORS, is_transient, is_unknown_host, error_code as _error_code
from .session import (
    DEFAULT_CALL_BUDGET,
    BudgetedClients,
    CallBudget,
    CallTimeout,
    account_mismatch,
    call_within,
    harden,
    session,
)

T = TypeVar("T")

THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
# How many pages of DescribeStackEvents (100 events each) are read for one failure: an operation
# on a bundle of hundreds of assets writes a few events per resource.
MAX_EVENT_PAGES = 20
# How many pages of DescribeChangeSet's Changes are read: CloudFormation pages them 1,000 at a
# time and a template holds at most 500 resources, so more pages than this are a broken answer.
MAX_CHANGE_PAGES = 20
SESSION_NAME = "quicksight-promotion-deploy"
# Failures below the API: no answer, or one that is not the service's (a proxy's HTML page, a 500
# of an emulator). botocore's parser error is not a BotoCoreError.
TRANSPORT_ERRORS = (BotoCoreError, ResponseParserError)
# What a malformed answer asks of the user: it is not the service's documented answer, so
# something between us and AWS (an endpoint override, a proxy) answered instead.
_MALFORMED_ADVICE = (
    "this is not the documented answer: check AWS_ENDPOINT_URL / AWS_ENDPOINT_URL_CLOUDFORMATION (S3, STS), "
    "proxies (HTTPS_PROXY) and the region of the process that runs pulumi, then run pulumi up again"
)
# botocore's parser fails with these on an answer of the wrong shape (an HTML page parsed as XML
# is a KeyError, a bad timestamp a ValueError).
# Retries of one call (a busy stack's DescribeStacks, CreateChangeSet, ...) meeting transient
# faults: 1 s, then a quarter of the time waited, at most 5 s apart (the change set schedule):
# quick for a blip, and at most 12 calls a minute for a long outage.
RETRY_BACKOFF = core.CHANGE_SET_BACKOFF



def error_code(exc: ClientError) -> tuple[str, str]:  # replaced by the call layer in the next commit
    code, message, _ = _error_code(exc)
    return code, message


def is_access_error(exc: ClientError) -> bool:  # replaced by the call layer in the next commit
    code, _, status = _error_code(exc)
    return code in ACCESS_CODES or status in (401, 403)

@dataclass(frozen=True)
class Target:
    """Clients for the target account and region, after the account guard.

    Attributes:
        cloudformation: A CloudFormation client, or ``BudgetedClients`` whose calls fit the time left.
        s3: Makes an S3 client (or ``BudgetedClients``) on first use (only a staged template needs one).
        account_id: The account the credentials act in.
        region: The region of the clients.
    """

    cloudformation: Any
    s3: Callable[[], Any]
    account_id: str
    region: str


def connect(
    target_region: Optional[str],
    target_role_arn: Optional[str],
    target_account_id: Optional[str],
    stack_name: str,
    profile: Optional[str] = None,
    *,
    deadline: Optional[Deadline] = None,
    budget: CallBudget = DEFAULT_CALL_BUDGET,
    backoff: Backoff = RETRY_BACKOFF,
    sleep: Callable[[float], None] = time.sleep,
) -> Target:
    """Clients for the target account, refusing any other account than ``target_account_id``.

    A dynamic provider cannot use the credentials of the program's ``aws.Provider``: it runs
    with the provider process's AWS chain (or ``target_role_arn``). This guard is what stops a deploy
    into another account than the one the program meant.

    AssumeRole and GetCallerIdentity fit the time left before ``deadline`` (default: the
    deployment's default timeout) and are bounded in wall time; their transient faults are retried
    until it. The clients returned fit every later call to the time left as well.

    Raises:
        AccountMismatchError: the credentials act in another account.
        AwsAccessError: STS refused the credentials.
        DeploymentTimeoutError: STS kept failing transiently until the deadline.
        MalformedStackAnswerError: STS's answer could not be read.
        DeploymentError: no region, no credentials, or an endpoint that does not exist.
    """
    deadline = deadline or Deadline.after(core.DEFAULT_TIMEOUT_SECONDS)

    def attempt() -> tuple[Any, str]:
        def make() -> tuple[Any, str]:
            boto_session = session(
                target_region, target_role_arn, SESSION_NAME, profile, sts_config=budget.config(deadline.remaining())
            )
            if not boto_session.region_name:
                raise core.DeploymentError(
                    f"CloudFormation stack {stack_name!r}: no AWS region: set the resource's target_region input, AWS_REGION, "
                    "or aws:region in the stack configuration"
                )
            sts = harden(boto_session.client("sts", config=budget.config(deadline.remaining())))
            identity = sts.get_caller_identity()
            return boto_session, str(identity["Account"])

        within = max(deadline.remaining(), 0.0) + budget.min_timeout
        try:
            return call_within(make, within)
        except CallTimeout:
            raise core.DeploymentUnavailableError(
                f"CloudFormation stack {stack_name!r}: STS did not answer within {within:.0f} s (an answer that hangs "
                "or trickles)"
            ) from None
        except ClientError as exc:
            raise _translate(exc, f"sts:{exc.operation_name}", stack_name) from exc
        except ResponseParserError:
            raise core.MalformedStackAnswerError(
                f"CloudFormation stack {stack_name!r}: STS's answer cannot be parsed (not STS's XML): {_MALFORMED_ADVICE}"
            ) from None
        except TRANSPORT_ERRORS as exc:  # includes ProfileNotFound, NoCredentialsError
            if is_transient(exc):
                raise core.DeploymentUnavailableError(
                    f"CloudFormation stack {stack_name!r}: could not ask STS who the credentials are: {clean(exc)}; check "
                    "the AWS credentials and network of the process that runs pulumi"
                ) from exc
            unknown = "the endpoint's host does not exist (check the region and AWS_ENDPOINT_URL); " if is_unknown_host(exc) else ""
            raise core.DeploymentError(
                f"CloudFormation stack {stack_name!r}: could not ask STS who the credentials are: {clean(exc)}; {unknown}"
                "check the AWS credentials and network of the process that runs pulumi"
            ) from exc
        except BROKEN_ANSWER_ERRORS as exc:
            raise core.DeploymentUnavailableError(
                f"CloudFormation stack {stack_name!r}: the connection to STS broke while reading its answer "
                f"({type(exc).__name__})"
            ) from exc
        except MALFORMED_ANSWER_ERRORS as exc:
            raise core.MalformedStackAnswerError(
                f"CloudFormation stack {stack_name!r}: STS's answer cannot be read ({type(exc).__name__}): {_MALFORMED_ADVICE}"
            ) from None

    outcome = poll_until(attempt, lambda _made: True, timeout=max(deadline.remaining(), 0.0), backoff=backoff, sleep=sleep, clock=deadline.clock)
    if not outcome.done or outcome.value is None:
        raise core.DeploymentTimeoutError(
            f"CloudFormation stack {stack_name!r}: STS gave no answer within timeout_seconds ({deadline.seconds:g} s) "
            f"({outcome.polls} attempt(s); last fault: {clean(outcome.last_error, 400)}): nothing was deployed; check the "
            "AWS credentials and network of the process that runs pulumi, then run pulumi up again"
        )
    boto_session, account = outcome.value
    why = account_mismatch(account, target_account_id)
    if why:
        via = f" (after assuming {target_role_arn})" if target_role_arn else ""
        raise core.AccountMismatchError(
            f"CloudFormation stack {stack_name!r}: {clean(why)}{via}: nothing was deployed. The deployment runs with the AWS "
            "credentials of the process that runs pulumi (environment, AWS_PROFILE, or target_role_arn), not with the "
            "program's aws provider: give it credentials for the target account, or set target_role_arn to a role there"
        )
    region_name = str(boto_session.region_name)
    cloudformation = BudgetedClients(lambda config: boto_session.client("cloudformation", config=config), budget)
    s3 = BudgetedClients(lambda config: boto_session.client("s3", config=config), budget)
    return Target(cloudformation=cloudformation, s3=lambda: s3, account_id=account, region=region_name)


def _translate(exc: ClientError, operation: str, stack_name: str, hide: Callable[[str], str] = str) -> Exception:
    """Our error for a ClientError: access, throttling and transient faults, or a plain refusal.

    ``hide`` removes parameter values from AWS's message (see ``core.stacks.redact``).
    """
    code, message = error_code(exc)
    message = clean(hide(message))
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    if is_access_error(exc):
        return AwsAccessError(
            f"AWS refused {operation} for CloudFormation stack {stack_name!r}: {clean(code, 100)}: {message}; give the "
            "deploying credentials (or role_arn) this permission in the target account"
        )
    if code in THROTTLING_CODES or status == 429:
        return ThrottledError(f"{operation} for CloudFormation stack {stack_name!r} kept being throttled ({clean(code, 100)})")
    if is_transient(exc):
        return core.DeploymentUnavailableError(
            f"{operation} for CloudFormation stack {stack_name!r} met a transient fault (HTTP {status}, "
            f"{clean(code, 100)}: {message}) beyond botocore's retries"
        )
    return core.DeploymentError(
        f"{operation} for CloudFormation stack {stack_name!r} failed: {clean(code, 100)}: {message}"
    )


@dataclass(frozen=True)
class DeployRequest:
    """One deployment of a template to a stack.

    Attributes:
        stack_name: The stack.
        template_body: The template (JSON).
        parameters: Parameter values by name.
        keep: Parameters that may be sent as ``UsePreviousValue`` (unchanged NoEcho values), when
            the stack has them.
        capabilities, stack_tags, notification_arns: As CreateChangeSet takes them (``stack_tags``
            without the ownership tag, which is added here).
        cloudformation_role_arn: The service role CloudFormation assumes (CreateChangeSet's ``RoleARN``).
        termination_protection: Wanted state of termination protection.
        execute_change_set: False: create the change set and stop (for review).
        adopt_stack: Take over a stack without this library's ownership tag.
        timeout_seconds: Deadline of the whole operation.
        staging_bucket, staging_prefix: Where a template over 51,200 bytes is staged.
        assets: Logical id -> {"kind", "id"} (of this and the previous template), for messages.
        on_failure: OnStackFailure of a CREATE change set (ROLLBACK, DELETE, DO_NOTHING); None:
            CloudFormation's default (ROLLBACK: the next deploy deletes the empty stack and creates it again).
        stale_change_set: The change set a previous ``execute_change_set=False`` run left for review: deleted
            first, so reviews never pile up (the new one is computed from the current inputs).
    """

    stack_name: str
    template_body: str
    parameters: Mapping[str, str]
    keep: frozenset[str] = frozenset()
    capabilities: Sequence[str] = ()
    stack_tags: Mapping[str, str] = field(default_factory=dict)
    cloudformation_role_arn: Optional[str] = None
    notification_arns: Sequence[str] = ()
    termination_protection: bool = False
    execute_change_set: bool = True
    adopt_stack: bool = False
    timeout_seconds: float = core.DEFAULT_TIMEOUT_SECONDS
    staging_bucket: Optional[str] = None
    staging_prefix: str = "quicksight-promotion/"
    assets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    on_failure: Optional[str] = None
    stale_change_set: Optional[str] = None


@dataclass(frozen=True)
class DeployResult:
    """What a deployment did.

    Attributes:
        stack_id: The stack's ARN.
        stack_status: Its status at the end.
        outputs: Its outputs (OutputKey -> OutputValue).
        change_summary: The change set's resource changes (empty for a no-op).
        change_set_id: The change set left for review (``execute`` false), else None.
        executed: Whether a change set was executed.
        change_set_type: CREATE or UPDATE.
        termination_protection: Whether termination protection is on at the end.
        template_url: The staged template's URL (None when sent inline).
    """

    stack_id: str
    stack_status: str
    outputs: dict[str, str]
    change_summary: list[dict[str, Any]]
    change_set_id: Optional[str]
    executed: bool
    change_set_type: str
    termination_protection: bool
    template_url: Optional[str] = None


class Deployer:
    """Change-set deployments and deletions of stacks in one account and region.

    Every call fits the time left before the operation's deadline (when the target's clients are
    ``BudgetedClients``, as ``connect`` makes them) and is bounded in wall time; transient faults
    are retried until the deadline, permanent ones fail at once; answers of the wrong shape become
    ``MalformedStackAnswerError``. No message quotes a parameter value (``core.stacks.redact``).

    Args:
        target: The clients (see ``connect``).
        sleep, clock, draw: Injectable for tests (``poll_until``'s).
        change_set_backoff, stack_backoff: Poll schedules (``core.stacks``'s by default).
        deadline: A bound of every operation (e.g. made before ``connect``, so that connecting
            counts); each operation also ends within its own ``timeout_seconds``.
    """

    def __init__(
        self,
        target: Target,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Optional[Callable[[], float]] = None,
        change_set_backoff: Backoff = core.CHANGE_SET_BACKOFF,
        stack_backoff: Backoff = core.STACK_BACKOFF,
        deadline: Optional[Deadline] = None,
    ) -> None:
        self.target = target
        self.cfn = target.cloudformation
        self.sleep = sleep
        self.clock = clock
        self.draw = draw
        self.change_set_backoff = change_set_backoff
        self.stack_backoff = stack_backoff
        self.calls: list[str] = []
        self.deadline = deadline
        # The running operation's deadline (clock seconds) and timeout_seconds, for calls and messages.
        self._deadline: Optional[float] = deadline.at if deadline else None
        self._timeout: float = deadline.seconds if deadline else float(core.DEFAULT_TIMEOUT_SECONDS)
        # Parameter values never quoted from outside text (value -> parameter name).
        self._hidden: dict[str, str] = {}
        # The last transient fault a wait met, for its timeout message.
        self._last_fault: Optional[TransientError] = None
        # What root_cause learnt besides the cause (see there).
        self._events_note: str = ""
        self._other_failures: list[Mapping[str, Any]] = []

    # --- calls ---------------------------------------------------------------------------------
    def _begin(self, timeout_seconds: float) -> float:
        """Start an operation bounded by ``timeout_seconds`` (and the deployer's deadline); its deadline."""
        at = self.clock() + timeout_seconds
        if self.deadline is not None:
            at = min(at, self.deadline.at)
        self._deadline, self._timeout, self._last_fault = at, timeout_seconds, None
        return at

    def _left(self) -> Optional[float]:
        return None if self._deadline is None else self._deadline - self.clock()

    def hide(self, text: object) -> str:
        """Outside text without any parameter value of the running deployment."""
        return core.redact(str(text), self._hidden)

    def _attempt(self, what: str, stack_name: str, clients: Any, call: Callable[[Any], Any]) -> dict[str, Any]:
        """One call of ``call(client)``, fitted to the deadline, its errors made ours.

        Raises:
            ThrottledError, DeploymentUnavailableError: transient faults (``TransientError``).
            AwsAccessError, DeploymentError: permanent faults, with what to do.
            MalformedStackAnswerError: an answer of the wrong shape.
        """
        left = self._left()
        budgeted = isinstance(clients, BudgetedClients)
        within = max(left, 0.0) + clients.budget.min_timeout if budgeted and left is not None else None
        try:
            client = clients.within(left) if budgeted else clients
            response = call_within(lambda: call(client), within)
        except CallTimeout as exc:
            raise core.DeploymentUnavailableError(
                f"{what} for CloudFormation stack {stack_name!r} got no answer within {exc.seconds:.0f} s (an answer "
                "that hangs or trickles): check the network and proxies of the process that runs pulumi"
            ) from None
        except ClientError as exc:
            error = _translate(exc, what, stack_name, self.hide)
            if self._hidden and any(value in str(exc) for value in self._hidden):
                raise error from None  # AWS's own text (in the chained error) quoted a parameter value
            raise error from exc
        except NoCredentialsError as exc:
            raise AwsAccessError(
                f"no AWS credentials for {what} on CloudFormation stack {stack_name!r}: configure credentials "
                "(environment, profile or SSO) for the process that runs pulumi"
            ) from exc
        except ResponseParserError:
            # Its text quotes the answer's body, which may echo the request (parameter values).
            raise core.MalformedStackAnswerError(
                f"the answer to {what} for CloudFormation stack {stack_name!r} cannot be parsed (not the service's XML): "
                f"{_MALFORMED_ADVICE}"
            ) from None
        except BotoCoreError as exc:
            if is_transient(exc):
                raise core.DeploymentUnavailableError(
                    f"{what} for stack {stack_name!r} failed: {clean(exc)}; check the network and endpoint of the process "
                    "that runs pulumi, then run pulumi up again"
                ) from exc
            unknown = "the endpoint's host does not exist (check the region and AWS_ENDPOINT_URL); " if is_unknown_host(exc) else ""
            raise core.DeploymentError(
                f"{what} for stack {stack_name!r} failed: {clean(self.hide(exc))}; {unknown}check the network and endpoint "
                "of the process that runs pulumi, then run pulumi up again"
            ) from None
        except BROKEN_ANSWER_ERRORS as exc:
            raise core.DeploymentUnavailableError(
                f"the connection broke while reading the answer to {what} for CloudFormation stack {stack_name!r} "
                f"({type(exc).__name__}): check the network and proxies, then run pulumi up again"
            ) from exc
        except MALFORMED_ANSWER_ERRORS as exc:
            raise core.MalformedStackAnswerError(
                f"the answer to {what} for CloudFormation stack {stack_name!r} cannot be read ({type(exc).__name__}: "
                f"{clean(self.hide(exc), 200)}): {_MALFORMED_ADVICE}"
            ) from None
        if not isinstance(response, dict):
            raise core.MalformedStackAnswerError(
                f"the answer to {what} for CloudFormation stack {stack_name!r} is not an object: {_MALFORMED_ADVICE}"
            )
        return response

    def _call(self, operation: str, stack_name: str, **kwargs: Any) -> dict[str, Any]:
        """One CloudFormation call (one attempt, see ``_attempt``)."""
        self.calls.append(operation)
        method = _snake(operation)
        return self._attempt(f"cloudformation:{operation}", stack_name, self.cfn, lambda c: getattr(c, method)(**kwargs))

    def _retried(self, what: str, stack_name: str, attempt: Callable[[], T], after: str = "") -> T:
        """``attempt()``, its transient faults retried until the deadline.

        Raises:
            DeploymentTimeoutError: only transient faults until the deadline (the last one named).
        """
        left = self._left()
        outcome = poll_until(
            attempt,
            lambda _value: True,
            timeout=max(left, 0.0) if left is not None else float(core.DEFAULT_TIMEOUT_SECONDS),
            **self._poll_kwargs(RETRY_BACKOFF),
        )
        if not outcome.done:
            raise core.DeploymentTimeoutError(
                f"{what} for CloudFormation stack {stack_name!r} got no usable answer within timeout_seconds "
                f"({self._timeout:g} s) ({outcome.polls} attempt(s); last fault: {clean(outcome.last_error, 600)})"
                f"{after}: check the network and endpoint of the process that runs pulumi, then run pulumi up again "
                "(it carries on from the stack's state)"
            )
        return outcome.value  # type: ignore[return-value]

    def _poll_kwargs(self, backoff: Backoff) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"backoff": backoff, "sleep": self.sleep, "clock": self.clock}
        if self.draw is not None:
            kwargs["draw"] = self.draw
        return kwargs

    def describe(self, stack: str) -> Optional[dict[str, Any]]:
        """DescribeStacks for a name or id (one attempt); None when there is no such stack (or it is deleted).

        Raises:
            MalformedStackAnswerError: no Stacks list, or an entry without a StackStatus.
            And ``_attempt``'s errors.
        """
        def call(client: Any) -> Any:
            try:
                return client.describe_stacks(StackName=stack)
            except ClientError as exc:
                code, message = error_code(exc)
                if code == "ValidationError" and "does not exist" in message:
                    return {"Stacks": []}
                raise

        self.calls.append("DescribeStacks")
        answer = self._attempt("cloudformation:DescribeStacks", stack, self.cfn, call)
        stacks = answer.get("Stacks", [])
        if not isinstance(stacks, list):
            raise self._malformed("DescribeStacks", stack, "Stacks is not a list")
        if not stacks:
            return None
        found = stacks[0]
        if not isinstance(found, dict):
            raise self._malformed("DescribeStacks", stack, "Stacks[0] is not an object")
        status = found.get("StackStatus")
        if not isinstance(status, str) or not status:
            raise self._malformed("DescribeStacks", stack, "Stacks[0].StackStatus is missing")
        for key in ("Tags", "Parameters", "Outputs"):
            if not isinstance(found.get(key, []), list):
                raise self._malformed("DescribeStacks", stack, f"Stacks[0].{key} is not a list")
        if status == "DELETE_COMPLETE":
            return None
        return found

    def describe_within_deadline(self, stack: str, name: str) -> Optional[dict[str, Any]]:
        """DescribeStacks within the deployer's deadline (for a refresh), transient faults retried."""
        self._hidden = {}
        return self._describe_retried(stack, name)

    def _describe_retried(self, stack: str, name: str) -> Optional[dict[str, Any]]:
        """DescribeStacks, transient faults retried until the deadline."""
        return self._retried("cloudformation:DescribeStacks", name, lambda: self.describe(stack))

    def _malformed(self, operation: str, stack: str, what: str) -> core.MalformedStackAnswerError:
        return core.MalformedStackAnswerError(
            f"CloudFormation's answer to {operation} for stack {clean(stack)!r} is not of the documented shape ({what}): "
            f"{_MALFORMED_ADVICE}"
        )

    # --- waiting ------------------------------------------------------------------------------
    def _remaining(self, deadline: float) -> float:
        return max(0.0, deadline - self.clock())

    def _wait_stack(self, stack: str, deadline: float) -> tuple[Optional[dict[str, Any]], bool]:
        """Poll DescribeStacks until the stack is settled (or gone); (last description, settled)."""
        outcome = poll_until(
            lambda: self.describe(stack),
            lambda found: found is None or core.settled(found.get("StackStatus")),
            timeout=self._remaining(deadline),
            **self._poll_kwargs(self.stack_backoff),
        )
        self._last_fault = outcome.last_error
        return outcome.value, outcome.done

    def _fault(self) -> str:
        """``; last fault: ...`` when the last wait met transient faults (for its timeout message)."""
        return f"; last fault: {clean(self._last_fault, 600)}" if self._last_fault is not None else ""

    def _settle(self, stack: dict[str, Any], deadline: float, name: str, timeout: float) -> Optional[dict[str, Any]]:
        """Wait for a busy stack within the deadline, or refuse naming its status."""
        status = stack.get("StackStatus")
        if core.phase(status) is not core.Phase.BUSY:
            return stack
        found, done = self._wait_stack(str(stack.get("StackId") or name), deadline)
        if not done:
            last = (found or stack).get("StackStatus")
            raise core.StackStateError(
                f"CloudFormation stack {name!r} is busy ({clean(last)}, another operation runs) and did not settle within "
                f"timeout_seconds ({timeout:g} s){self._fault()}: nothing was changed; wait for it to finish "
                "(CloudFormation console or aws cloudformation describe-stacks), then run pulumi up again"
            )
        return found

    # --- deploy ---------------------------------------------------------------------------------
    def deploy(self, request: DeployRequest) -> DeployResult:
        """Create or update the stack through a change set (see the module docstring).

        Raises:
            StackStateError, ChangeSetFailedError, StackOperationFailedError, DeploymentTimeoutError,
            DeploymentError, AwsAccessError, MalformedStackAnswerError: with the stack, the state seen and
            what to do; never with a parameter value (``core.stacks.redact``).
        """
        try:
            self._hidden = core.hidden_values(request.parameters, _no_echo(request.template_body))
        except Exception:  # noqa: BLE001  (an unparsable template is refused by CloudFormation; hide every value)
            self._hidden = core.hidden_values(request.parameters, request.parameters)
        try:
            return self._deploy(request)
        except QuickSightPromotionError as exc:
            _scrub(exc, self._hidden)
            raise

    def _deploy(self, request: DeployRequest) -> DeployResult:
        name = request.stack_name
        deadline = self._begin(request.timeout_seconds)
        stack = self._describe_retried(name, name)
        if stack is not None:
            stack = self._settle(stack, deadline, name, request.timeout_seconds)
        status = stack.get("StackStatus") if stack else None
        owned = _owned(stack)
        kind = core.phase(status)
        if kind in (core.Phase.ABSENT, core.Phase.REVIEW):
            change_set_type = "CREATE"
        elif kind is core.Phase.FAILED_CREATE:
            if not (owned or request.adopt_stack):
                raise self._not_ours(name, status)
            # A failed first create holds no resources; it blocks the name until it is deleted.
            self._delete_and_wait(stack, deadline, name, request.timeout_seconds, request.assets)  # type: ignore[arg-type]
            stack, change_set_type = None, "CREATE"
        elif kind is core.Phase.STABLE:
            if not (owned or request.adopt_stack):
                raise self._not_ours(name, status)
            change_set_type = "UPDATE"
        elif kind is core.Phase.UPDATE_ROLLBACK_FAILED:
            raise core.StackStateError(
                f"CloudFormation stack {name!r} is UPDATE_ROLLBACK_FAILED: a failed update could not roll back, and "
                "CloudFormation accepts no update until the rollback is finished: nothing was changed. Fix what "
                "blocked the rollback (see the stack's events), then run aws cloudformation continue-update-rollback "
                f"--stack-name {name} (with --resources-to-skip for resources that cannot roll back), and pulumi up again"
            )
        else:
            raise core.StackStateError(
                f"CloudFormation stack {name!r} is {clean(status)}: this resource does not act on a stack in that state; "
                "nothing was changed. Resolve it in CloudFormation (see the stack's events; a DELETE_FAILED stack must "
                "be deleted again, retaining what cannot be deleted), then run pulumi up again"
            )

        if request.stale_change_set:
            self._delete_change_set(request.stale_change_set, name)

        template_url = None
        source: dict[str, Any]
        body_bytes = len(request.template_body.encode("utf-8"))
        if body_bytes > URL_TEMPLATE_LIMIT:
            raise core.DeploymentError(
                f"the template for CloudFormation stack {name!r} is {body_bytes:,} bytes, over CloudFormation's "
                f"{URL_TEMPLATE_LIMIT:,}-byte TemplateURL limit: nothing was deployed; split the bundle"
            )
        if body_bytes <= INLINE_TEMPLATE_LIMIT:
            source = {"TemplateBody": request.template_body}
        else:
            template_url = self._stage(request, name)
            source = {"TemplateURL": template_url}

        existing = {p.get("ParameterKey") for p in (stack or {}).get("Parameters") or [] if isinstance(p, dict)}
        parameters = [
            {"ParameterKey": key, "UsePreviousValue": True}
            if change_set_type == "UPDATE" and key in request.keep and key in existing
            else {"ParameterKey": key, "ParameterValue": value}
            for key, value in sorted(request.parameters.items())
        ]
        tags = [{"Key": k, "Value": v} for k, v in sorted(request.stack_tags.items())]
        tags.append({"Key": core.OWNERSHIP_TAG, "Value": core.OWNERSHIP_VALUE})
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
        change_set_name = f"quicksight-promotion-{stamp}-{secrets.token_hex(3)}"
        arguments: dict[str, Any] = {
            "StackName": name,
            "ChangeSetName": change_set_name,
            "ChangeSetType": change_set_type,
            "Parameters": parameters,
            "Capabilities": list(request.capabilities),
            "Tags": tags,
            "NotificationARNs": list(request.notification_arns),
            "Description": "quicksight-promotion CloudFormationDeployment",
            # The same token on every retry: CloudFormation then knows a retried request is not
            # another change set of the same name.
            "ClientToken": f"quicksight-promotion-{secrets.token_hex(8)}",
            **source,
        }
        if request.cloudformation_role_arn:
            arguments["RoleARN"] = request.cloudformation_role_arn
        if change_set_type == "CREATE" and request.on_failure:
            arguments["OnStackFailure"] = request.on_failure
        def create(client: Any) -> Any:
            try:
                return client.create_change_set(**arguments)
            except ClientError as exc:
                code, message = error_code(exc)
                if code == "ValidationError" and core.is_empty_change_set(message):
                    return {"Empty": True}
                raise

        def attempt() -> dict[str, Any]:
            self.calls.append("CreateChangeSet")
            return self._attempt("cloudformation:CreateChangeSet", name, self.cfn, create)

        created = self._retried("cloudformation:CreateChangeSet", name, attempt, "; nothing was executed")
        if created.get("Empty") is True:
            return self._finish(name, stack, [], None, False, change_set_type, request, template_url, deadline)
        change_set_id = str(created.get("Id") or change_set_name)
        stack_id = str(created.get("StackId") or name)

        described = self._wait_change_set(change_set_id, name, deadline, request.timeout_seconds)
        cs_status = described.get("Status")
        if cs_status == "FAILED":
            reason = self.hide(described.get("StatusReason") or "")
            self._delete_change_set(change_set_id, name)
            if core.is_empty_change_set(reason):
                # Nothing to change: a no-op, never a failure, never a leftover change set.
                return self._finish(name, stack, [], None, False, change_set_type, request, template_url, deadline)
            if change_set_type == "CREATE":
                self._forget_review_stack(stack_id, name)
            raise core.ChangeSetFailedError(
                f"CloudFormation could not create a change set for stack {name!r}: {clean(reason) or '(no reason given)'}; "
                "nothing was changed and the change set was deleted. Fix the template or parameters, then pulumi up again"
            )
        summary = core.summarize_changes(self._all_changes(described, change_set_id, name), request.assets)
        if not request.execute_change_set:
            return DeployResult(
                stack_id=stack_id,
                stack_status=str((self._describe_retried(stack_id, name) or {}).get("StackStatus") or "REVIEW_IN_PROGRESS"),
                outputs=_outputs(stack) if stack else {},
                change_summary=summary,
                change_set_id=change_set_id,
                executed=False,
                change_set_type=change_set_type,
                termination_protection=bool((stack or {}).get("EnableTerminationProtection")),
                template_url=template_url,
            )

        token = f"quicksight-promotion-{secrets.token_hex(8)}"
        # The same ClientRequestToken on every retry: CloudFormation executes a change set once.
        self._retried(
            "cloudformation:ExecuteChangeSet",
            name,
            lambda: self._call(
                "ExecuteChangeSet", name, ChangeSetName=change_set_id, StackName=stack_id, ClientRequestToken=token
            ),
            f"; the change set {clean(change_set_id)} may or may not have been executed",
        )
        since = described.get("CreationTime")
        found, done = self._wait_stack(stack_id, deadline)
        if not done:
            raise core.DeploymentTimeoutError(
                f"CloudFormation stack {name!r} is still {clean((found or {}).get('StackStatus', 'in progress'))} after "
                f"timeout_seconds ({request.timeout_seconds:g} s); CloudFormation goes on with the {change_set_type.lower()} "
                f"without us{self._fault()}. Run pulumi up again later: it waits for the stack and carries on (raise "
                "timeout_seconds for large bundles)"
            )
        final = found.get("StackStatus") if found else None
        if final != core.SUCCESS[change_set_type]:
            raise self._failed(stack_id, name, final, change_set_type, token, since, request.assets, found)
        return self._finish(name, found, summary, None, True, change_set_type, request, template_url, deadline)

    def _not_ours(self, name: str, status: Optional[str]) -> core.StackStateError:
        return core.StackStateError(
            f"CloudFormation stack {name!r} already exists ({clean(status)}) and was not created by this library (it "
            f"has no {core.OWNERSHIP_TAG} tag): nothing was changed. Choose another stack_name, or set adopt=true to "
            "take it over (its template and parameters will be replaced by this deployment's)"
        )

    def _finish(
        self,
        name: str,
        stack: Optional[dict[str, Any]],
        summary: list[dict[str, Any]],
        change_set_id: Optional[str],
        executed: bool,
        change_set_type: str,
        request: DeployRequest,
        template_url: Optional[str],
        deadline: float,
    ) -> DeployResult:
        """Set termination protection as wanted and read the stack's final state."""
        current = (
            self._describe_retried(str((stack or {}).get("StackId") or name), name) if executed or stack is None else stack
        )
        if current is None:
            raise core.DeploymentError(
                f"CloudFormation stack {name!r} disappeared during the deployment (deleted by someone else?); "
                "run pulumi up again to create it"
            )
        protected = bool(current.get("EnableTerminationProtection"))
        if protected != request.termination_protection:
            self._retried(
                "cloudformation:UpdateTerminationProtection",
                name,
                lambda: self._call(
                    "UpdateTerminationProtection",
                    name,
                    StackName=str(current.get("StackId") or name),
                    EnableTerminationProtection=request.termination_protection,
                ),
                "; the stack is deployed, its termination protection may not be as asked",
            )
            protected = request.termination_protection
        return DeployResult(
            stack_id=str(current.get("StackId")),
            stack_status=str(current.get("StackStatus")),
            outputs=_outputs(current),
            change_summary=summary,
            change_set_id=change_set_id,
            executed=executed,
            change_set_type=change_set_type,
            termination_protection=protected,
            template_url=template_url,
        )

    def _stage(self, request: DeployRequest, name: str) -> str:
        """Upload the template once to ``<prefix><sha256>.json`` (HeadObject first); its URL."""
        if not request.staging_bucket:
            raise core.DeploymentError(
                f"the template for CloudFormation stack {name!r} is over CloudFormation's {INLINE_TEMPLATE_LIMIT:,}-byte "
                "TemplateBody limit and must be staged in S3, but no staging_bucket is set: set staging_bucket to a "
                "bucket of the target account in the stack's region"
            )
        sha = core.template_sha256(request.template_body)
        key = core.staged_key(request.staging_prefix, sha)
        s3 = self.target.s3()
        where = f"s3://{request.staging_bucket}/{key}"

        def head(client: Any) -> Any:
            try:
                return client.head_object(Bucket=request.staging_bucket, Key=key)
            except ClientError as exc:
                code, _ = error_code(exc)
                status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
                if code in ("404", "NoSuchKey", "NotFound") or status == 404:
                    return {"Missing": True}
                raise

        def head_attempt() -> dict[str, Any]:
            self.calls.append("s3:HeadObject")
            return self._attempt(f"s3:HeadObject on {where}", name, s3, head)

        def put_attempt() -> dict[str, Any]:
            self.calls.append("s3:PutObject")
            return self._attempt(
                f"s3:PutObject to {where}",
                name,
                s3,
                lambda client: client.put_object(
                    Bucket=request.staging_bucket,
                    Key=key,
                    Body=request.template_body.encode("utf-8"),
                    ContentType="application/json",
                ),
            )

        # Content-addressed, so a retried upload writes the same bytes.
        if self._retried(f"s3:HeadObject on {where}", name, head_attempt, "; nothing was deployed").get("Missing"):
            self._retried(f"s3:PutObject to {where}", name, put_attempt, "; nothing was deployed")
        # The bucket must be in the stack's region: CloudFormation reads it through this URL.
        return core.template_url(request.staging_bucket, self.target.region, key)

    def _wait_change_set(self, change_set_id: str, name: str, deadline: float, timeout: float) -> dict[str, Any]:
        def poll() -> dict[str, Any]:
            answer = self._call("DescribeChangeSet", name, ChangeSetName=change_set_id, StackName=name)
            status = answer.get("Status")
            if not isinstance(status, str) or not status:
                raise self._malformed("DescribeChangeSet", name, "Status is missing")
            if not isinstance(answer.get("Changes", []), list):
                raise self._malformed("DescribeChangeSet", name, "Changes is not a list")
            return answer

        outcome = poll_until(
            poll,
            lambda d: d.get("Status") in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED"),
            timeout=self._remaining(deadline),
            **self._poll_kwargs(self.change_set_backoff),
        )
        if not outcome.done or outcome.value is None:
            raise core.DeploymentTimeoutError(
                f"the change set for CloudFormation stack {name!r} was still "
                f"{clean((outcome.value or {}).get('Status', 'being created'))} after timeout_seconds ({timeout:g} s)"
                f"{f'; last fault: {clean(outcome.last_error, 600)}' if outcome.last_error else ''}: "
                "nothing was executed; CloudFormation goes on evaluating it. Run pulumi up again (raise timeout_seconds)"
            )
        if outcome.value.get("Status") not in ("CREATE_COMPLETE", "FAILED"):
            raise core.ChangeSetFailedError(
                f"the change set for CloudFormation stack {name!r} was deleted while it was evaluated "
                f"({clean(outcome.value.get('Status'))}): nothing was executed; run pulumi up again"
            )
        return outcome.value

    def _all_changes(self, described: Mapping[str, Any], change_set_id: str, name: str) -> list[Mapping[str, Any]]:
        changes = [c for c in described.get("Changes") or [] if isinstance(c, Mapping)]
        token = described.get("NextToken")
        seen: set[str] = set()
        for _ in range(MAX_CHANGE_PAGES):
            if not isinstance(token, str) or not token or token in seen:
                break  # no more pages (a token seen before would loop for ever)
            if (self._left() or 0.0) < 0.0:
                break  # past the deadline: the summary of the pages read (each page would cost a request timeout)
            seen.add(token)
            page = self._retried(
                "cloudformation:DescribeChangeSet",
                name,
                lambda: self._call("DescribeChangeSet", name, ChangeSetName=change_set_id, StackName=name, NextToken=token),
                "; nothing was executed",
            )
            batch = page.get("Changes") or []
            if not isinstance(batch, list):
                raise self._malformed("DescribeChangeSet", name, "Changes is not a list")
            changes.extend(c for c in batch if isinstance(c, Mapping))
            token = page.get("NextToken")
        return changes

    def _delete_change_set(self, change_set_id: str, name: str) -> None:
        try:
            self._call("DeleteChangeSet", name, ChangeSetName=change_set_id, StackName=name)
        except QuickSightPromotionError:
            pass  # a leftover FAILED change set costs nothing; the reason is what matters

    def _forget_review_stack(self, stack_id: str, name: str) -> None:
        """Delete the empty REVIEW_IN_PROGRESS stack a failed CREATE change set leaves (aws-cli leaves it)."""
        try:
            found = self.describe(stack_id)
            if found is not None and found.get("StackStatus") == "REVIEW_IN_PROGRESS":
                self._call("DeleteStack", name, StackName=stack_id)
        except QuickSightPromotionError:
            pass  # the next create uses it anyway (REVIEW_IN_PROGRESS is a CREATE); the reason is what matters

    def _failed(
        self,
        stack_id: str,
        name: str,
        status: Optional[str],
        change_set_type: str,
        token: Optional[str],
        since: Any,
        assets: Mapping[str, Mapping[str, Any]],
        stack: Optional[Mapping[str, Any]],
    ) -> core.DeploymentError:
        cause = self.root_cause(stack_id, name, token, since)
        if cause is not None:
            cause = {**cause, "ResourceStatusReason": self.hide(cause.get("ResourceStatusReason") or "(no reason given)")}
            because = f"root cause: {core.describe_event(cause, assets)}"
            if self._other_failures:
                # A bundle of hundreds of assets fails with as many events: the first few, then a count.
                others = [core.describe_asset(str(e.get("LogicalResourceId", "?")), e.get("ResourceType"), assets) for e in self._other_failures]
                because += f" (other resources failed too: {listing(others, 5, ', ')})"
        else:
            reason = clean(self.hide((stack or {}).get("StackStatusReason") or "no reason"))
            because = f"CloudFormation gave no failed resource event ({reason}){self._events_note}"
        if change_set_type == "CREATE" and status is None:
            after = "CloudFormation deleted the failed stack (on_failure DELETE); the next pulumi up creates it again"
        elif change_set_type == "CREATE":
            after = (
                "the stack was rolled back and is kept empty for its events; the next pulumi up deletes it and creates it "
                "again"
            )
        elif change_set_type == "DELETE":
            after = "resources that could not be deleted are still there"
        else:
            after = "the stack was rolled back to the previous template and values"
        if status == "UPDATE_ROLLBACK_FAILED":
            after = (
                f"the rollback failed too: run aws cloudformation continue-update-rollback --stack-name {name} once the "
                "cause is fixed"
            )
        return core.StackOperationFailedError(
            f"CloudFormation stack {name!r}: the {change_set_type.lower()} failed ({clean(status or 'DELETE_COMPLETE')}); "
            f"{because}; {after}. "
            "Fix the cause, then run pulumi up again"
        )

    def root_cause(self, stack_id: str, name: str, token: Optional[str], since: Any) -> Optional[Mapping[str, Any]]:
        """The first FAILED resource event of this operation (see ``core.stacks.root_cause``).

        Best effort: the failure is reported without its cause rather than not at all when the
        events cannot be read (``_events_note`` then says why); the operation's other failed
        resources (not the cancellations) are kept in ``_other_failures`` for the message.
        """
        events: list[Mapping[str, Any]] = []
        next_token: Optional[str] = None
        seen: set[str] = set()
        since_utc = _utc(since)
        self._events_note, self._other_failures = "", []
        for _ in range(MAX_EVENT_PAGES):
            kwargs: dict[str, Any] = {"StackName": stack_id}
            if next_token:
                kwargs["NextToken"] = next_token
                if (self._left() or 0.0) < 0.0:
                    break  # past the deadline: the cause among the pages read (each page would cost a request timeout)
            try:
                page = self._retried(
                    "cloudformation:DescribeStackEvents", name, lambda: self._call("DescribeStackEvents", name, **kwargs)
                )
            except QuickSightPromotionError as exc:
                self._events_note = f"; its events could not be read: {clean(exc, 600)}"
                break
            batch = page.get("StackEvents") or []
            if not isinstance(batch, list):
                self._events_note = "; its events could not be read: StackEvents is not a list"
                break
            batch = [event for event in batch if isinstance(event, Mapping)]
            events.extend(batch)
            next_token = page.get("NextToken") if isinstance(page.get("NextToken"), str) else None
            oldest = _utc(batch[-1].get("Timestamp")) if batch else None
            if not next_token or next_token in seen or (since_utc is not None and oldest is not None and oldest < since_utc):
                break
            seen.add(next_token)
        chosen = core.operation_events(events, name, token, since_utc)
        cause = core.root_cause(chosen, name)
        self._other_failures = [
            e
            for e in chosen
            if e is not cause
            and str(e.get("ResourceStatus", "")).endswith("_FAILED")
            and e.get("LogicalResourceId") != name
            and not any(marker in str(e.get("ResourceStatusReason") or "") for marker in core.CANCELLED_MARKERS)
        ]
        return cause

    # --- delete ---------------------------------------------------------------------------------
    def delete(
        self, stack: str, name: str, timeout_seconds: float, assets: Mapping[str, Mapping[str, Any]] | None = None
    ) -> bool:
        """Delete a stack and wait; False when it was already gone.

        Raises:
            StackStateError: termination protection is on, or the stack stays busy.
            StackOperationFailedError: DELETE_FAILED (root cause named).
            DeploymentTimeoutError: still deleting at the deadline.
        """
        self._hidden = {}  # a delete knows no parameter values
        deadline = self._begin(timeout_seconds)
        found = self._describe_retried(stack, name)
        if found is None:
            return False
        found = self._settle(found, deadline, name, timeout_seconds)
        if found is None:
            return False
        if found.get("EnableTerminationProtection"):
            raise core.StackStateError(
                f"CloudFormation stack {name!r} has termination protection on, so it cannot be deleted: nothing was "
                "deleted. Turn it off first (termination_protection=false and pulumi up, or aws cloudformation "
                f"update-termination-protection --no-enable-termination-protection --stack-name {name}), then delete again"
            )
        self._delete_and_wait(found, deadline, name, timeout_seconds, assets or {})
        return True

    def _delete_and_wait(
        self,
        stack: Mapping[str, Any],
        deadline: float,
        name: str,
        timeout: float,
        assets: Mapping[str, Mapping[str, Any]],
    ) -> None:
        stack_id = str(stack.get("StackId") or name)
        token = f"quicksight-promotion-{secrets.token_hex(8)}"
        started = dt.datetime.now(dt.timezone.utc) - dt.timedelta(seconds=60)
        # The same ClientRequestToken on every retry: one deletion.
        self._retried(
            "cloudformation:DeleteStack",
            name,
            lambda: self._call("DeleteStack", name, StackName=stack_id, ClientRequestToken=token),
            "; the stack may or may not be being deleted",
        )
        found, done = self._wait_stack(stack_id, deadline)
        if not done:
            raise core.DeploymentTimeoutError(
                f"CloudFormation stack {name!r} is still {clean((found or {}).get('StackStatus', 'DELETE_IN_PROGRESS'))} "
                f"after timeout_seconds ({timeout:g} s); CloudFormation goes on deleting it without us{self._fault()}. "
                "Run the command again later"
            )
        if found is not None:
            raise self._failed(stack_id, name, found.get("StackStatus"), "DELETE", token, started, assets, found)


def _no_echo(template_body: str) -> frozenset[str]:
    """The NoEcho parameters of a template body."""
    return core.no_echo_parameters(json.loads(template_body))


def _scrub(exc: BaseException, hidden: Mapping[str, str]) -> None:
    """Remove parameter values from ``exc``'s message; cut its chain when a chained error quotes one.

    The engine shows a dynamic provider's whole traceback, chained exceptions included.
    """
    if not hidden or not exc.args:
        return
    message = str(exc.args[0])
    redacted = core.redact(message, hidden)
    if redacted != message:
        exc.args = (redacted, *exc.args[1:])
    link: Optional[BaseException] = exc.__cause__ or exc.__context__
    depth = 0
    while link is not None and depth < 10:
        if any(value in str(link) or value in repr(getattr(link, "response", "")) for value in hidden):
            exc.__cause__ = None
            exc.__suppress_context__ = True
            return
        link = link.__cause__ or link.__context__
        depth += 1


def _owned(stack: Optional[Mapping[str, Any]]) -> bool:
    tags = (stack or {}).get("Tags") or []
    return any(t.get("Key") == core.OWNERSHIP_TAG for t in tags if isinstance(t, Mapping))


def _outputs(stack: Optional[Mapping[str, Any]]) -> dict[str, str]:
    return {
        str(o.get("OutputKey")): str(o.get("OutputValue", ""))
        for o in (stack or {}).get("Outputs") or []
        if isinstance(o, Mapping) and o.get("OutputKey")
    }


def stack_outputs(stack: Optional[Mapping[str, Any]]) -> dict[str, str]:
    """A DescribeStacks entry's outputs as a mapping."""
    return _outputs(stack)


def _utc(value: Any) -> Optional[dt.datetime]:
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.timezone.utc)
    return None


def _snake(operation: str) -> str:
    out = []
    for i, ch in enumerate(operation):
        if ch.isupper() and i:
            out.append("_")
        out.append(ch.lower())
    return "".join(out)
