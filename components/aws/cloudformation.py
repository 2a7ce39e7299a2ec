"""Deploy a template through CloudFormation change sets, the way ``aws cloudformation deploy`` does.

The model is aws-cli's ``awscli/customizations/cloudformation/deployer.py``: CreateChangeSet
(CREATE for a new stack, UPDATE for an existing one), wait for it, treat "no changes" as a no-op,
ExecuteChangeSet, wait for the stack. On top of it:

- an account guard (STS GetCallerIdentity) before any other call;
- what to do with the stack's current status (``core.stacks.decide``: busy stacks are waited for,
  a failed first create of ours is deleted and created again, a stack that is not ours is only
  taken over with ``adopt_stack`` (another deployment's only by its identity, and never removing what
  no review showed), UPDATE_ROLLBACK_FAILED is refused with what to do);
- templates over 51,200 bytes staged in S3 (an object reused only when its stored checksum is the
  template's; both calls with ExpectedBucketOwner) and deployed by a TemplateURL naming the version;
- a failure names its root cause, read from this operation's stack events;
- one deadline for the whole operation, every wait on ``core.polling.poll_until``; every STS,
  CloudFormation and S3 call made through the call layer (``calls.Calls``, purpose
  ``DEPLOYMENT``): fitted to the time left, cut at it, transient faults retried until it,
  failures read through each service's table (a malformed answer is a
  ``MalformedStackAnswerError``), parameter values never quoted (``core.stacks.redact``).

Clients come from ``session.py`` (lazily, inside calls); tests hand in their own.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import os
import random
import secrets
import time
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Iterable, Mapping, Optional, Sequence, Union

import botocore.session

from ..core import review
from ..core import stacks as core
from ..core.nesting import NESTED_STACK_TYPE, needs_nesting, split_template
from ..core.polling import Backoff, Deadline, Schedule, poll_until
from ..core.quotas import RESOURCE_LIMIT
from ..core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT
from ..core.types import role_session_name
from ..errors import NestingError, QuickSightPromotionError, TransientError, clean, listing
from .calls import CLOUDFORMATION, DEPLOYMENT, MISSING_OBJECT, S3, STS, Calls, Expect, Expected, Service
from .session import DEFAULT_CALL_BUDGET, BudgetedClients, CallBudget, account_mismatch

# How many pages of DescribeStackEvents (100 events each) are read for one failure: an operation
# on a bundle of hundreds of assets writes a few events per resource.
MAX_EVENT_PAGES = 20
# How deep nested stacks are looked into for a failure's root cause (the split makes one level).
MAX_NESTING_DEPTH = 3
# How many pages of DescribeChangeSet's Changes are read: CloudFormation pages them 1,000 at a
# time and a template holds at most 500 resources, so more pages than this are a broken answer.
MAX_CHANGE_PAGES = 20
# Retries of one call (a busy stack's DescribeStacks, CreateChangeSet, ...) meeting transient faults.
RETRY_BACKOFF = core.RETRY_BACKOFF
# The error answers the deployment expects (returned by the call layer, not raised).
NO_STACK = Expect("no such stack", frozenset({"ValidationError"}), says=lambda message: "does not exist" in message)
EMPTY_CHANGE_SET = Expect("nothing to change", frozenset({"ValidationError"}), says=core.is_empty_change_set)
# A loopback CloudFormation (moto, a test emulator, LocalStack) has evaluated a change set before it
# answers CreateChangeSet: with this switch on ("1") the first poll is made at once, not after the
# wait meant for AWS's (``core.stacks.CHANGE_SET_BACKOFF.initial``).
LOOPBACK_CLOUDFORMATION_SWITCH = "QSP_LOOPBACK_CLOUDFORMATION"
# Said after a deadline's message: what the deadline left undone.
NOTHING_DEPLOYED = "; nothing was deployed"
NOTHING_EXECUTED = "; nothing was executed"


@dataclass(frozen=True)
class Target:
    """Clients for the target account and region, after the account guard.

    Attributes:
        cloudformation: A CloudFormation client, or ``BudgetedClients`` whose calls fit the time left.
        s3: Makes an S3 client (or ``BudgetedClients``) on first use (only a staged template needs one).
        account_id: The account the credentials act in.
        region: The region of the clients.
        quicksight: Makes a QuickSight client (or ``BudgetedClients``) on first use (verification after
            deploy, ``verify.py``); None: none was made.
    """

    cloudformation: Any
    s3: Callable[[], Any]
    account_id: str
    region: str
    quicksight: Optional[Callable[[], Any]] = None


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
    external_id: Optional[str] = None,
) -> Target:
    """Clients for the target account, refusing any other account than ``target_account_id``.

    ``target_role_arn`` is assumed with ``external_id`` (if its trust policy asks for one) under a
    session name that names the stack (``qsp-deploy-<stack>``, shown in CloudTrail).

    A dynamic provider cannot use the credentials of the program's ``aws.Provider``: it runs
    with the provider process's AWS chain (or ``target_role_arn``). This guard is what stops a deploy
    into another account than the one the program meant.

    AssumeRole and GetCallerIdentity are calls like any other (``calls.Calls``): fitted to the time
    left before ``deadline`` (default: the deployment's default timeout), bounded in wall time,
    their transient faults retried until it. The clients returned fit every later call as well.

    Raises:
        AccountMismatchError: the credentials act in another account.
        AwsAccessError: no credentials, or STS refused them.
        DeploymentTimeoutError: STS kept failing transiently until the deadline.
        MalformedStackAnswerError: STS's answer could not be read.
        DeploymentError: no region, or an endpoint that does not exist.
    """
    deadline = deadline or Deadline.after(core.DEFAULT_TIMEOUT_SECONDS)
    calls = Calls(
        DEPLOYMENT,
        f"CloudFormation stack {stack_name!r}",
        {"stack": stack_name, "account": target_account_id, "region": target_region},
        deadline,
        backoff,
        sleep,
    )
    boto_session = calls.open_session(
        target_region,
        target_role_arn,
        role_session_name("qsp-deploy", stack_name),
        profile,
        budget=budget,
        after=NOTHING_DEPLOYED,
        external_id=external_id,
    )
    sts = BudgetedClients(lambda config: boto_session.client("sts", config=config), budget)
    account = _guarded_account(calls, sts, stack_name, target_account_id, target_role_arn)
    cloudformation = BudgetedClients(lambda config: boto_session.client("cloudformation", config=config), budget)
    s3, quicksight = (BudgetedClients(lambda config, name=name: boto_session.client(name, config=config), budget) for name in ("s3", "quicksight"))
    return Target(cloudformation, lambda: s3, account, str(boto_session.region_name), lambda: quicksight)


def _guarded_account(
    calls: Calls, sts: Any, stack_name: str, target_account_id: Optional[str], target_role_arn: Optional[str]
) -> str:
    """The account the credentials act in (GetCallerIdentity), refused unless it is ``target_account_id``.

    Raises:
        AccountMismatchError: the credentials act in another account.
        MalformedStackAnswerError: STS's answer names no account.
    """
    identity = calls.call(sts, STS, "GetCallerIdentity", after=NOTHING_DEPLOYED)
    account = identity.get("Account") if isinstance(identity, dict) else None
    if not isinstance(account, str) or not account:
        raise calls.malformed(STS, "GetCallerIdentity", "Account is missing")
    why = account_mismatch(account, target_account_id)
    if why:
        via = f" (after assuming {target_role_arn})" if target_role_arn else ""
        raise core.AccountMismatchError(
            f"CloudFormation stack {stack_name!r}: {clean(why)}{via}: nothing was deployed. The deployment runs with the AWS "
            "credentials of the process that runs pulumi (environment, AWS_PROFILE, or target_role_arn), not with the "
            "program's aws provider: give it credentials for the target account, or set target_role_arn to a role there",
            stack=stack_name,
            account=account,
        )
    return account


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
        claim: The deploying resource's identity, readable owner, recorded stack id and what it may adopt
            (``core.stacks.ownership``, ``core.stacks.may_adopt``); the stack is tagged with the first two.
        adopt_allow_removals: Execute an adoption's change set even when it removes or replaces resources
            that no review showed.
        reviewed_changes: The change summary of the change set this resource last left for review (empty:
            none); an adoption removes or replaces only what it showed, unless ``adopt_allow_removals``.
        created_stack: Whether the deploying resource created the stack: termination protection is never
            turned off on a stack it did not create.
        timeout_seconds: Deadline of the whole operation.
        staging_bucket, staging_prefix: Where a template over 51,200 bytes is staged.
        assets: Logical id -> {"kind", "id"} (of this and the previous template), for messages.
        on_failure: OnStackFailure of a CREATE change set (ROLLBACK, DELETE, DO_NOTHING); None:
            CloudFormation's default (ROLLBACK: the next deploy deletes the empty stack and creates it again).
        stale_change_set: The change set a previous ``execute_change_set=False`` run left for review: deleted
            first, so reviews never pile up (the new one is computed from the current inputs).
        on_drift: Before an update: ``refuse`` drift, ``warn`` (report it and go on), ``revert`` it through
            a drift-aware change set, or ``ignore`` (no detection) (``core.review.DRIFT_MODES``).
        expected_seconds: How long the stack's previous operation took (the wait polls around it), if known.
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
    claim: core.Claim = field(default_factory=lambda: core.Claim(identity=secrets.token_hex(16)))
    adopt_allow_removals: bool = False
    reviewed_changes: Sequence[Mapping[str, Any]] = ()
    created_stack: bool = False
    timeout_seconds: float = core.DEFAULT_TIMEOUT_SECONDS
    staging_bucket: Optional[str] = None
    staging_prefix: str = "quicksight-promotion/"
    assets: Mapping[str, Mapping[str, Any]] = field(default_factory=dict)
    on_failure: Optional[str] = None
    stale_change_set: Optional[str] = None
    on_drift: str = "ignore"
    expected_seconds: Optional[float] = None


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
        drift: What drift detection found before the update (``core.review.summarize_drift``); None: not checked.
        stack_seconds: How long the executed stack operation took (None: nothing was executed).
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
    drift: Optional[dict[str, Any]] = None
    stack_seconds: Optional[float] = None


class Deployer:
    """Change-set deployments and deletions of stacks in one account and region.

    Every call is made through the call layer (``calls.Calls``, purpose ``DEPLOYMENT``): fitted to
    the time left before the operation's deadline (when the target's clients are
    ``BudgetedClients``, as ``connect`` makes them) and bounded in wall time; transient faults are
    retried until the deadline, permanent ones fail at once; answers of the wrong shape become
    ``MalformedStackAnswerError``. No message quotes a parameter value (``core.stacks.redact``).

    Args:
        target: The clients (see ``connect``).
        sleep, clock, draw: Injectable for tests (``poll_until``'s).
        change_set_backoff, stack_backoff: Poll schedules (``change_set_schedule()`` and ``core.stacks.STACK_BACKOFF``
            by default).
        deadline: A bound of every operation (e.g. made before ``connect``, so that connecting
            counts); each operation also ends within its own ``timeout_seconds``.
        progress: Where one line of progress goes at each poll of an executed change set's stack
            wait (the provider: stderr); None: no progress, no events read for it.
    """

    def __init__(
        self,
        target: Target,
        *,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        draw: Optional[Callable[[], float]] = None,
        change_set_backoff: Optional[Backoff] = None,
        stack_backoff: Backoff = core.STACK_BACKOFF,
        deadline: Optional[Deadline] = None,
        progress: Optional[Callable[[str], None]] = None,
    ) -> None:
        self.target = target
        self.progress = progress
        self.cfn = target.cloudformation
        self.sleep = sleep
        self.clock = clock
        self.draw = draw
        self.change_set_backoff = change_set_backoff or change_set_schedule()
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
        # What drift detection found before the running deployment (None: not checked).
        self._drift_report: Optional[dict[str, Any]] = None
        # How long the running deployment's stack operation took (None: none was executed).
        self._stack_seconds: Optional[float] = None
        # The whole duration the running stack wait's completed resources project (None: not known yet).
        self._projection: Optional[float] = None
        # What root_cause learnt besides the cause (see there).
        self._events_note: str = ""
        self._other_failures: list[Mapping[str, Any]] = []
        # The stack of the running operation and its calls (see ``_begin``).
        self._name = "?"
        self._aws = self._calls_for("?", self._deadline if self._deadline is not None else self.clock() + self._timeout)

    # --- calls ---------------------------------------------------------------------------------
    def _begin(self, timeout_seconds: float, name: str) -> float:
        """Start an operation on stack ``name`` bounded by ``timeout_seconds`` (and the deployer's deadline); its deadline."""
        at = self.clock() + timeout_seconds
        if self.deadline is not None:
            at = min(at, self.deadline.at)
        self._deadline, self._timeout, self._last_fault, self._name = at, timeout_seconds, None, name
        self._aws = self._calls_for(name, at)
        return at

    def _calls_for(self, name: str, at: float) -> Calls:
        return Calls(
            DEPLOYMENT,
            f"CloudFormation stack {name!r}",
            {"stack": name, "account": self.target.account_id, "region": self.target.region},
            Deadline(at, self._timeout, self.clock),
            RETRY_BACKOFF,
            self.sleep,
            self.draw or random.random,
            self.hide,
        )

    def _left(self) -> Optional[float]:
        return None if self._deadline is None else self._deadline - self.clock()

    def hide(self, text: object) -> str:
        """Outside text without any parameter value of the running deployment."""
        return core.redact(str(text), self._hidden)

    def _call(
        self,
        operation: str,
        *,
        expect: Sequence[Expect] = (),
        retry: bool = False,
        after: str = "",
        **params: Any,
    ) -> Union[dict[str, Any], Expected]:
        """A CloudFormation call (``retry``: its transient faults retried until the deadline, ``after`` told then)."""
        return self._on(self.cfn, CLOUDFORMATION, operation, operation, expect=expect, retry=retry, after=after, **params)

    def _on(
        self,
        clients: Any,
        service: Service,
        operation: str,
        record: str,
        *,
        on: Optional[str] = None,
        expect: Sequence[Expect] = (),
        retry: bool = False,
        after: str = "",
        **params: Any,
    ) -> Union[dict[str, Any], Expected]:
        """A call of ``service`` through the call layer, each attempt recorded in ``calls`` as ``record``."""

        def attempt() -> Union[dict[str, Any], Expected]:
            self.calls.append(record)
            return self._aws.once(clients, service, operation, on=on, expect=expect, **params)

        if not retry:
            return attempt()
        return self._aws.until_deadline(attempt, self._aws.what(service, operation, on), after)

    def _poll_kwargs(self, backoff: Schedule) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"backoff": backoff, "sleep": self.sleep, "clock": self.clock}
        if self.draw is not None:
            kwargs["draw"] = self.draw
        return kwargs

    def describe(self, stack: str) -> Optional[dict[str, Any]]:
        """DescribeStacks for a name or id (one attempt); None when there is no such stack (or it is deleted).

        Raises:
            MalformedStackAnswerError: no Stacks list, or an entry without a StackStatus.
            And the call layer's errors.
        """
        answer = self._call("DescribeStacks", expect=(NO_STACK,), StackName=stack)
        if isinstance(answer, Expected):
            return None
        stacks = answer.get("Stacks", [])
        if not isinstance(stacks, list):
            raise self._malformed("DescribeStacks", "Stacks is not a list")
        if not stacks:
            return None
        found = stacks[0]
        if not isinstance(found, dict):
            raise self._malformed("DescribeStacks", "Stacks[0] is not an object")
        status = found.get("StackStatus")
        if not isinstance(status, str) or not status:
            raise self._malformed("DescribeStacks", "Stacks[0].StackStatus is missing")
        for key in ("Tags", "Parameters", "Outputs"):
            if not isinstance(found.get(key, []), list):
                raise self._malformed("DescribeStacks", f"Stacks[0].{key} is not a list")
        if status == "DELETE_COMPLETE":
            return None
        return found

    def describe_within_deadline(self, stack: str, name: str) -> Optional[dict[str, Any]]:
        """DescribeStacks within the deployer's deadline (for a refresh), transient faults retried."""
        self._hidden = {}
        self._begin(self._timeout, name)
        return self._describe_retried(stack)

    def _describe_retried(self, stack: str, after: str = "") -> Optional[dict[str, Any]]:
        """DescribeStacks, transient faults retried until the deadline."""
        return self._aws.until_deadline(lambda: self.describe(stack), self._aws.what(CLOUDFORMATION, "DescribeStacks"), after)

    def _malformed(self, operation: str, what: str) -> QuickSightPromotionError:
        return self._aws.malformed(CLOUDFORMATION, operation, what)

    # --- waiting ------------------------------------------------------------------------------
    def _remaining(self, deadline: float) -> float:
        return max(0.0, deadline - self.clock())

    def _wait_stack(
        self,
        stack: str,
        deadline: float,
        expected_seconds: Optional[float] = None,
        on_wait: Optional[Callable[[Optional[dict[str, Any]], float, float], None]] = None,
        informed: bool = False,
    ) -> tuple[Optional[dict[str, Any]], bool]:
        """Poll DescribeStacks until the stack is settled (or gone); (last description, settled).

        ``expected_seconds`` (the previous operation's duration) makes the schedule ``Predicted``
        around it (``core.stacks.stack_schedule``); without it, ``informed`` follows the end that
        the resources completed so far project (learnt by ``on_wait``, ``_watch``), which is told each poll.
        """
        self._projection = None
        schedule = core.stack_schedule(expected_seconds, self.stack_backoff, (lambda: self._projection) if informed else None)
        outcome = poll_until(
            lambda: self.describe(stack),
            lambda found: found is None or core.settled(found.get("StackStatus")),
            timeout=self._remaining(deadline),
            on_wait=on_wait,
            **self._poll_kwargs(schedule),
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
                f"stack_timeout_seconds ({timeout:g} s){self._fault()}: nothing was changed; wait for it to finish "
                "(CloudFormation console or aws cloudformation describe-stacks), then run pulumi up again",
                stack=name,
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
        # Parsed once: for the NoEcho parameters here, and for the resource count and the split below.
        document = _template_document(request.template_body)
        self._hidden = core.hidden_values(request.parameters, _no_echo(document, request.parameters))
        self._stack_seconds = None
        try:
            return replace(self._deploy(request, document), drift=self._drift_report, stack_seconds=self._stack_seconds)
        except QuickSightPromotionError as exc:
            _scrub(exc, self._hidden)
            raise

    def _deploy(self, request: DeployRequest, document: Optional[dict[str, Any]]) -> DeployResult:
        """Decide, build the change set, review or execute it: the steps of a deployment (``document``: the template parsed)."""
        name = request.stack_name
        deadline = self._begin(request.timeout_seconds, name)
        stack, change_set_type, adopting = self._prepare(request, deadline)
        revert = self._guard_drift(stack, change_set_type, request, deadline)
        if request.stale_change_set:
            self._delete_change_set(request.stale_change_set)
        template_url, source = self._template_source(request, document)
        arguments = self._change_set_arguments(request, stack, change_set_type, source)
        if revert:
            # A drift-aware change set: it also puts the drifted properties back to the template's values.
            arguments["DeploymentMode"] = "REVERT_DRIFT"
        created = self._call("CreateChangeSet", expect=(EMPTY_CHANGE_SET,), retry=True, after=NOTHING_EXECUTED, **arguments)
        if isinstance(created, Expected):
            return self._finish(name, stack, [], None, False, change_set_type, request, template_url)
        change_set_id = str(created.get("Id") or arguments["ChangeSetName"])
        stack_id = str(created.get("StackId") or name)
        described = self._evaluated(change_set_id, stack_id, change_set_type, request, deadline)
        if described is None:
            return self._finish(name, stack, [], None, False, change_set_type, request, template_url)
        summary = review.review_changes(self._all_changes(described, change_set_id, name), request.assets, self.hide)
        if adopting and request.execute_change_set and not request.adopt_allow_removals:
            self._refuse_unreviewed(summary, change_set_id, request)
        if not request.execute_change_set:
            return DeployResult(
                stack_id=stack_id,
                stack_status=str((self._describe_retried(stack_id) or {}).get("StackStatus") or "REVIEW_IN_PROGRESS"),
                outputs=_outputs(stack) if stack else {},
                change_summary=summary,
                change_set_id=change_set_id,
                executed=False,
                change_set_type=change_set_type,
                termination_protection=bool((stack or {}).get("EnableTerminationProtection")),
                template_url=template_url,
            )
        found = self._execute(change_set_id, stack_id, change_set_type, described, request, deadline)
        return self._finish(name, found, summary, None, True, change_set_type, request, template_url)

    def _prepare(self, request: DeployRequest, deadline: float) -> tuple[Optional[dict[str, Any]], str, bool]:
        """The stack as found (settled), the change set type to use (``core.stacks.decide``), and
        whether this deployment adopts the stack.

        A failed first create of ours (or adopted) is deleted first: it holds no resources, and it
        blocks the name until it is deleted.

        Raises:
            StackStateError: a stack not ours (untagged or another identity's, not adopted), one
                whose termination protection this deployment would lower without having created
                it, UPDATE_ROLLBACK_FAILED, or a state this resource does not act on.
        """
        name = request.stack_name
        stack = self._describe_retried(name)
        if stack is not None:
            stack = self._settle(stack, deadline, name, request.timeout_seconds)
        status = stack.get("StackStatus") if stack else None
        tags = core.stack_tags((stack or {}).get("Tags") or [])
        whose = core.ownership(tags, (stack or {}).get("StackId"), request.claim)
        decision = core.decide(core.phase(status), whose, core.may_adopt(whose, tags, request.claim))
        if decision is core.Decision.RECREATE:
            self._delete_and_wait(stack, deadline, name, request.timeout_seconds, request.assets)  # type: ignore[arg-type]
            return None, "CREATE", False
        if decision is core.Decision.CREATE:
            return stack, "CREATE", False
        if decision is core.Decision.UPDATE:
            protected = bool((stack or {}).get("EnableTerminationProtection"))
            if core.lowers_protection(protected, request.termination_protection, request.created_stack):
                raise core.StackStateError(
                    f"CloudFormation stack {name!r} has termination protection on, and this deployment did not create "
                    "it, so it does not turn it off: nothing was changed. Set termination_protection=true, or have the "
                    "stack's owner turn it off (aws cloudformation update-termination-protection "
                    f"--no-enable-termination-protection --stack-name {name}), then run pulumi up again",
                    stack=name,
                )
            return stack, "UPDATE", not core.owned(whose)
        raise self._refusal(decision, name, status, whose, tags)

    def _refusal(
        self, decision: core.Decision, name: str, status: Optional[str], whose: core.Ownership, tags: Mapping[str, str]
    ) -> core.StackStateError:
        """Why a stack is left alone (``decide`` refused it), and what to do."""
        if decision is core.Decision.NOT_OURS:
            why = _not_ours(name, status, whose, tags)
        elif decision is core.Decision.CONTINUE_ROLLBACK:
            why = (
                f"CloudFormation stack {name!r} is UPDATE_ROLLBACK_FAILED: a failed update could not roll back, and "
                "CloudFormation accepts no update until the rollback is finished: nothing was changed. Fix what "
                "blocked the rollback (see the stack's events), then run aws cloudformation continue-update-rollback "
                f"--stack-name {name} (with --resources-to-skip for resources that cannot roll back), and pulumi up again"
            )
        else:
            why = (
                f"CloudFormation stack {name!r} is {clean(status)}: this resource does not act on a stack in that state; "
                "nothing was changed. Resolve it in CloudFormation (see the stack's events; a DELETE_FAILED stack must "
                "be deleted again, retaining what cannot be deleted), then run pulumi up again"
            )
        return core.StackStateError(why, stack=name)

    def _refuse_unreviewed(self, summary: Sequence[Mapping[str, Any]], change_set_id: str, request: DeployRequest) -> None:
        """Refuse to execute an adoption that removes or replaces what no review showed (the change set deleted).

        Raises:
            StackStateError: naming what would be removed or replaced, and the two ways on.
        """
        unreviewed = core.unreviewed_removals(summary, request.reviewed_changes)
        if not unreviewed:
            return
        self._delete_change_set(change_set_id)
        name = request.stack_name
        types = {entry.get("logical_id"): entry.get("type") for entry in summary}
        shown = [core.describe_asset(logical_id, types.get(logical_id), request.assets) for logical_id in unreviewed]
        raise core.StackStateError(
            f"CloudFormation stack {name!r} is being adopted, and its change set ({core.describe_summary(summary)}) "
            f"would remove or replace {listing(shown, 10, ', ')}, which no review showed: nothing was executed and the "
            "change set was deleted. Review it first (execute_change_set=false, pulumi up, read change_summary), then "
            "set execute_change_set=true; or set adopt_allow_removals=true to accept the removals",
            stack=name,
        )

    def _template_source(
        self, request: DeployRequest, document: Optional[dict[str, Any]]
    ) -> tuple[Optional[str], dict[str, Any]]:
        """(the staged template's URL, the change set's TemplateBody or TemplateURL argument).

        A template over one stack's limits is deployed as a parent and nested stacks
        (``core.nesting``): each nested template is staged like a large template, and the parent
        names each at the version staged. ``document`` is the template parsed (None: it is not
        one, and CloudFormation will say so).
        """
        body = request.template_body
        nested: dict[str, Any] = {}
        if document is not None and needs_nesting(len(body.encode("utf-8")), _resource_count(document)):
            # IncludeNestedStacks: each nested stack gets a change set of its own, which the review reads.
            nested = {"IncludeNestedStacks": True}
            body = self._nested_parent(request, document)
        if len(body.encode("utf-8")) <= INLINE_TEMPLATE_LIMIT:
            return None, {"TemplateBody": body, **nested}
        template_url = self._stage(request, body)
        return template_url, {"TemplateURL": template_url, **nested}

    def _nested_parent(self, request: DeployRequest, document: Mapping[str, Any]) -> str:
        """Split the template, stage each nested template, and return the parent naming them.

        Raises:
            NestingError: the template cannot be split (nothing was staged or deployed).
        """
        name = request.stack_name
        try:
            plan = split_template(document)
        except NestingError as exc:
            raise NestingError(
                f"the template for CloudFormation stack {name!r} is over one stack's limits ({URL_TEMPLATE_LIMIT:,} bytes, "
                f"{RESOURCE_LIMIT:,} resources) and cannot be split into nested stacks: {exc}; nothing was deployed",
                stack=name,
                asset=exc.asset,
            ) from None
        return plan.with_urls({nested.name: self._stage(request, nested.body) for nested in plan.nested})

    def _change_set_arguments(
        self, request: DeployRequest, stack: Optional[Mapping[str, Any]], change_set_type: str, source: Mapping[str, Any]
    ) -> dict[str, Any]:
        """CreateChangeSet's arguments: parameters (unchanged NoEcho values kept), tags, the ownership tag, a token."""
        existing = {p.get("ParameterKey") for p in (stack or {}).get("Parameters") or [] if isinstance(p, dict)}
        parameters = [
            {"ParameterKey": key, "UsePreviousValue": True}
            if change_set_type == "UPDATE" and key in request.keep and key in existing
            else {"ParameterKey": key, "ParameterValue": value}
            for key, value in sorted(request.parameters.items())
        ]
        tags = [{"Key": k, "Value": v} for k, v in sorted(request.stack_tags.items())]
        tags.append({"Key": core.OWNERSHIP_TAG, "Value": request.claim.identity})
        if request.claim.owner:
            tags.append({"Key": core.OWNER_TAG, "Value": request.claim.owner})
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d%H%M%S")
        arguments: dict[str, Any] = {
            "StackName": request.stack_name,
            "ChangeSetName": f"quicksight-promotion-{stamp}-{secrets.token_hex(3)}",
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
        return arguments

    def _evaluated(
        self, change_set_id: str, stack_id: str, change_set_type: str, request: DeployRequest, deadline: float
    ) -> Optional[dict[str, Any]]:
        """The change set once evaluated (None: it changes nothing, and was deleted).

        Raises:
            ChangeSetFailedError: CloudFormation could not build it (deleted, its reason named).
        """
        name = request.stack_name
        described = self._wait_change_set(change_set_id, name, deadline, request.timeout_seconds)
        if described.get("Status") != "FAILED":
            return described
        reason = self.hide(described.get("StatusReason") or "")
        if core.is_empty_change_set(reason):
            # Nothing to change: a no-op, never a failure, never a leftover change set.
            self._delete_change_set(change_set_id)
            return None
        # Early validation's details are events of the change set: read before it is deleted.
        failures, note = self._validation_failures(change_set_id) if review.names_early_validation(reason) else ([], "")
        self._delete_change_set(change_set_id)
        if change_set_type == "CREATE":
            self._forget_review_stack(stack_id)
        named = f"; failed properties: {review.describe_failures(failures, request.assets)}" if failures else note
        raise core.ChangeSetFailedError(
            f"CloudFormation could not create a change set for stack {name!r}: {clean(reason) or '(no reason given)'}"
            f"{named}; nothing was changed and the change set was deleted. Fix the template or parameters, then pulumi "
            "up again",
            stack=name,
            asset=review.first_asset(failures, request.assets),
        )

    def _validation_failures(self, change_set_id: str) -> tuple[list[review.PropertyFailure], str]:
        """The change set's failed validations (DescribeEvents), parameter values hidden; and why none, if none.

        Best effort, as the AWS CDK CLI does (aws-cdk-cli#970, #1406): when the events cannot be read
        (no ``cloudformation:DescribeEvents`` permission, a botocore without the operation) the change
        set's failure is reported with its reason and a note, never as another failure.
        """
        if not model_knows("DescribeEvents"):
            return [], "; the failed properties are not shown: this botocore has no DescribeEvents (upgrade boto3)"
        try:
            events = self._pages(
                "DescribeEvents", "OperationEvents", review.MAX_EVENT_PAGES, ChangeSetName=change_set_id, Filters={"FailedEvents": True}
            )
        except QuickSightPromotionError as exc:
            return [], f"; the failed properties could not be read: {clean(exc, 600)}"
        return [replace(f, message=self.hide(f.message)) for f in review.validation_failures(events)], ""

    def _pages(self, operation: str, key: str, max_pages: int, **params: Any) -> list[Mapping[str, Any]]:
        """The items under ``key`` of up to ``max_pages`` pages of ``operation`` (transient faults retried).

        Reading stops at the last page, at a token seen before (it would loop for ever) and past the
        deadline (each page would cost a request timeout).

        Raises:
            MalformedStackAnswerError: ``key`` is not a list. And the call layer's errors.
        """
        items: list[Mapping[str, Any]] = []
        token: Optional[str] = None
        seen: set[str] = set()
        for _ in range(max_pages):
            page = self._call(operation, retry=True, **params, **({"NextToken": token} if token else {}))
            assert isinstance(page, dict)
            batch = page.get(key) or []
            if not isinstance(batch, list):
                raise self._malformed(operation, f"{key} is not a list")
            items.extend(item for item in batch if isinstance(item, Mapping))
            token = page.get("NextToken") if isinstance(page.get("NextToken"), str) else None
            if not token or token in seen or (self._left() or 0.0) < 0.0:
                break
            seen.add(token)
        return items

    # --- drift ----------------------------------------------------------------------------------
    def _guard_drift(self, stack: Optional[Mapping[str, Any]], change_set_type: str, request: DeployRequest, deadline: float) -> bool:
        """Detect drift before an update, as ``request.on_drift`` asks; whether the change set reverts it.

        The report is kept in ``_drift_report`` (None: not checked). ``warn`` goes on whatever it
        finds (a detection that could not run is noted in the report); ``refuse`` and ``revert``
        stop when drift cannot be checked.

        Raises:
            StackDriftError: drift under ``refuse``; drift not checkable under ``refuse``/``revert``;
                ``revert`` with a botocore that has no ``DeploymentMode``.
            DeploymentTimeoutError: the detection still ran at the deadline.
        """
        self._drift_report = None
        if change_set_type != "UPDATE" or stack is None or request.on_drift == "ignore":
            return False
        name = request.stack_name
        try:
            report = self._detect_drift(str(stack.get("StackId") or name), request.assets, deadline)
        except core.DeploymentTimeoutError:
            raise
        except QuickSightPromotionError as exc:
            if request.on_drift == "warn":
                self._drift_report = {"drifted": [], "not_checked": [], "detection": {"status": "NOT_RUN", "reason": clean(exc, 600)}}
                return False
            raise core.StackDriftError(
                f"CloudFormation stack {name!r}: drift could not be checked ({clean(exc, 600)}): nothing was changed "
                f"(on_drift={request.on_drift}). Grant the deploying role cloudformation:DetectStackDrift, "
                "DescribeStackDriftDetectionStatus and DescribeStackResourceDrifts (policies/target-deployer), or set "
                "on_drift=warn to go on without the check",
                stack=name,
            ) from None
        self._drift_report = report
        decision = review.drift_decision(request.on_drift, report)
        if decision == "refuse":
            first = report["drifted"][0]
            raise core.StackDriftError(
                f"CloudFormation stack {name!r} drifted from its last deployment (edited in the target account): "
                f"{review.describe_drift(report, request.assets)}; nothing was changed (on_drift=refuse). Bring the edits "
                "into the source account and promote them; or set on_drift=revert to put the deployed values back, or "
                "on_drift=warn to overwrite them with this deployment",
                stack=name,
                asset=f"{first['asset_kind']}/{first['asset_id']}" if first.get("asset_kind") else None,
            )
        if decision == "revert" and not model_knows("CreateChangeSet", "DeploymentMode"):
            raise core.StackDriftError(
                f"CloudFormation stack {name!r} drifted and on_drift=revert, but this botocore has no CreateChangeSet "
                "DeploymentMode (REVERT_DRIFT): nothing was changed. Upgrade boto3, or set on_drift=warn",
                stack=name,
            )
        return decision == "revert"

    def _detect_drift(self, stack_id: str, assets: Mapping[str, Mapping[str, Any]], deadline: float) -> dict[str, Any]:
        """DetectStackDrift, wait for it, and read every resource's drift (``review.summarize_drift``)."""
        started = self._call("DetectStackDrift", retry=True, after=NOTHING_DEPLOYED, StackName=stack_id)
        assert isinstance(started, dict)
        detection_id = started.get("StackDriftDetectionId")
        if not isinstance(detection_id, str) or not detection_id:
            raise self._malformed("DetectStackDrift", "StackDriftDetectionId is missing")

        def poll() -> dict[str, Any]:
            answer = self._call("DescribeStackDriftDetectionStatus", StackDriftDetectionId=detection_id)
            assert isinstance(answer, dict)
            if not isinstance(answer.get("DetectionStatus"), str):
                raise self._malformed("DescribeStackDriftDetectionStatus", "DetectionStatus is missing")
            return answer

        outcome = poll_until(
            poll,
            lambda answer: answer.get("DetectionStatus") != "DETECTION_IN_PROGRESS",
            timeout=self._remaining(deadline),
            **self._poll_kwargs(core.DRIFT_BACKOFF),
        )
        if not outcome.done or outcome.value is None:
            raise core.DeploymentTimeoutError(
                f"drift detection of CloudFormation stack {self._name!r} was still running after stack_timeout_seconds "
                f"({self._timeout:g} s){self._fault()}: nothing was deployed. Run pulumi up again (or set on_drift=ignore)",
                stack=self._name,
            )
        drifts = self._pages("DescribeStackResourceDrifts", "StackResourceDrifts", review.MAX_DRIFT_PAGES, StackName=stack_id, MaxResults=100)
        return review.summarize_drift(drifts, assets, self.hide, outcome.value)

    def _execute(
        self,
        change_set_id: str,
        stack_id: str,
        change_set_type: str,
        described: Mapping[str, Any],
        request: DeployRequest,
        deadline: float,
    ) -> Optional[dict[str, Any]]:
        """Execute the change set and wait for the stack; the stack at the end.

        Raises:
            DeploymentTimeoutError: still working at the deadline (CloudFormation goes on).
            StackOperationFailedError: the operation failed (its root cause named).
        """
        name = request.stack_name
        token = f"quicksight-promotion-{secrets.token_hex(8)}"
        # The same ClientRequestToken on every retry: CloudFormation executes a change set once.
        self._call(
            "ExecuteChangeSet",
            retry=True,
            after=f"; the change set {clean(change_set_id)} may or may not have been executed",
            ChangeSetName=change_set_id,
            StackName=stack_id,
            ClientRequestToken=token,
        )
        since = described.get("CreationTime")
        began = self.clock()
        changes = described.get("Changes")
        watch = self._watch(stack_id, name, token, since, len(changes) if isinstance(changes, list) else 0, request.expected_seconds)
        found, done = self._wait_stack(stack_id, deadline, request.expected_seconds, watch, informed=watch is not None)
        self._stack_seconds = self.clock() - began
        if not done:
            raise core.DeploymentTimeoutError(
                f"CloudFormation stack {name!r} is still {clean((found or {}).get('StackStatus', 'in progress'))} after "
                f"stack_timeout_seconds ({request.timeout_seconds:g} s); CloudFormation goes on with the "
                f"{change_set_type.lower()} without us{self._fault()}. Run pulumi up again later: it waits for the stack "
                "and carries on (raise stack_timeout_seconds for large bundles)",
                stack=name,
            )
        final = found.get("StackStatus") if found else None
        if final != core.SUCCESS[change_set_type]:
            raise self._failed(stack_id, name, final, change_set_type, token, since, request.assets, found)
        return found

    def _watch(
        self, stack_id: str, name: str, token: str, since: Any, total: int, estimate: Optional[float]
    ) -> Optional[Callable[[Optional[dict[str, Any]], float, float], None]]:
        """The progress of an execution's stack wait: one line per poll to ``progress`` (None: no progress).

        Resources done are counted from this operation's stack events, read by the reader that
        finds a failure's cause (``_stack_events``, one attempt, new events only) when
        ``core.stacks.progress_due`` says a read is worth its call; between reads the last count is told.
        The end they project (``core.stacks.projected_seconds``) is kept for the wait's schedule.
        """
        if self.progress is None:
            return None
        write = self.progress
        since_utc = _utc(since)
        loopback = os.environ.get(LOOPBACK_CLOUDFORMATION_SWITCH, "") == "1"
        events: dict[str, Mapping[str, Any]] = {}
        read_at: list[float] = []

        def report(found: Optional[dict[str, Any]], waited: float, delay: float) -> None:
            due = core.progress_due(delay, waited - read_at[-1] if read_at else None, loopback)
            if due:
                read_at.append(waited)
                note = self._events_note
                for event in self._stack_events(stack_id, since_utc, frozenset(events), retry=False):
                    events.setdefault(str(event.get("EventId")), event)
                self._events_note = note  # a failed progress read says nothing about a failure's events
            done = core.resources_done(core.operation_events(list(events.values()), name, token, since_utc), name) if read_at else None
            if due:  # projected from the count as of this read, not a stale one
                self._projection = core.projected_seconds(done, total, waited)
            # The estimate: the previous duration, else the end the completed resources project.
            write(core.progress_line(name, (found or {}).get("StackStatus"), done, total, waited, estimate or self._projection))

        return report

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
    ) -> DeployResult:
        """Set termination protection as wanted and read the stack's final state."""
        current = self._describe_retried(str((stack or {}).get("StackId") or name)) if executed or stack is None else stack
        if current is None:
            raise core.DeploymentError(
                f"CloudFormation stack {name!r} disappeared during the deployment (deleted by someone else?); "
                "run pulumi up again to create it",
                stack=name,
            )
        protected = bool(current.get("EnableTerminationProtection"))
        if protected != request.termination_protection:
            self._call(
                "UpdateTerminationProtection",
                retry=True,
                after="; the stack is deployed, its termination protection may not be as asked",
                StackName=str(current.get("StackId") or name),
                EnableTerminationProtection=request.termination_protection,
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

    def stage(self, request: DeployRequest) -> str:
        """Stage ``request.template_body`` within ``request.timeout_seconds`` (as ``_stage``): its URL (for a StackSet's TemplateURL)."""
        self._begin(request.timeout_seconds, request.stack_name)
        return self._stage(request, request.template_body)

    def _stage(self, request: DeployRequest, template_body: str) -> str:
        """Stage a template at ``<prefix><sha256>.json``: its URL, naming the object version of these bytes.

        An object already there is reused only when S3's stored ``ChecksumSHA256`` is the template's;
        otherwise a new version is written with the checksum (S3 refuses bytes that do not match it).
        Both calls carry ``ExpectedBucketOwner`` (the target account).
        """
        name = request.stack_name
        if not request.staging_bucket:
            raise core.DeploymentError(
                f"the template for CloudFormation stack {name!r} is over CloudFormation's {INLINE_TEMPLATE_LIMIT:,}-byte "
                "TemplateBody limit and must be staged in S3, but no staging_bucket is set: set staging_bucket to a "
                "bucket of the target account in the stack's region",
                stack=name,
            )
        body = template_body.encode("utf-8")
        key = core.staged_key(request.staging_prefix, core.template_sha256(template_body))
        checksum = core.checksum_sha256(body)
        s3 = self.target.s3()
        where = f"s3://{request.staging_bucket}/{key}"
        # ExpectedBucketOwner: a bucket of that name in another account is refused (403), never written
        # to or read from. ChecksumMode: S3 answers the object's stored sha256, which the name is not.
        owner = {"Bucket": request.staging_bucket, "Key": key, "ExpectedBucketOwner": self.target.account_id}
        found = self._on(
            s3, S3, "HeadObject", "s3:HeadObject", on=where, expect=(MISSING_OBJECT,), retry=True, after=NOTHING_DEPLOYED,
            ChecksumMode="ENABLED", **owner,
        )  # fmt: skip
        if isinstance(found, Expected) or found.get("ChecksumSHA256") != checksum:
            # Missing, or other bytes (anyone who may write to the bucket may have replaced them), or
            # no checksum to tell: a new version of our bytes, which S3 refuses if they arrive otherwise.
            found = self._on(
                s3, S3, "PutObject", "s3:PutObject", on=where, retry=True, after=NOTHING_DEPLOYED,
                Body=body, ContentType="application/json", ChecksumAlgorithm="SHA256", ChecksumSHA256=checksum, **owner,
            )  # fmt: skip
        version = found.get("VersionId") if isinstance(found.get("VersionId"), str) else None
        # The bucket must be in the stack's region: CloudFormation reads it through this URL, at the
        # version written or checked (a bucket without versioning has none: the checksum check alone).
        return core.template_url(request.staging_bucket, self.target.region, key, version or None)

    def _wait_change_set(self, change_set_id: str, name: str, deadline: float, timeout: float) -> dict[str, Any]:
        def poll() -> dict[str, Any]:
            answer = self._call("DescribeChangeSet", ChangeSetName=change_set_id, StackName=name, **_property_values())
            assert isinstance(answer, dict)
            status = answer.get("Status")
            if not isinstance(status, str) or not status:
                raise self._malformed("DescribeChangeSet", "Status is missing")
            if not isinstance(answer.get("Changes", []), list):
                raise self._malformed("DescribeChangeSet", "Changes is not a list")
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
                f"{clean((outcome.value or {}).get('Status', 'being created'))} after stack_timeout_seconds ({timeout:g} s)"
                f"{f'; last fault: {clean(outcome.last_error, 600)}' if outcome.last_error else ''}: "
                "nothing was executed; CloudFormation goes on evaluating it. Run pulumi up again (raise stack_timeout_seconds)",
                stack=name,
            )
        if outcome.value.get("Status") not in ("CREATE_COMPLETE", "FAILED"):
            raise core.ChangeSetFailedError(
                f"the change set for CloudFormation stack {name!r} was deleted while it was evaluated "
                f"({clean(outcome.value.get('Status'))}): nothing was executed; run pulumi up again",
                stack=name,
            )
        return outcome.value

    def _all_changes(self, described: Mapping[str, Any], change_set_id: str, name: str) -> list[Mapping[str, Any]]:
        """Every change of the change set, and of each nested stack's change set (``IncludeNestedStacks``).

        A nested stack's changes name the resources of the original template (its logical ids), each
        marked ``NestedStack`` with the nested stack's logical id in the parent.
        """
        changes = self._changes_of(described, change_set_id, name)
        for change in list(changes):
            resource = change.get("ResourceChange")
            if not isinstance(resource, Mapping) or resource.get("ResourceType") != NESTED_STACK_TYPE:
                continue
            nested_id = resource.get("ChangeSetId")
            if not isinstance(nested_id, str) or not nested_id:
                continue
            page = self._call("DescribeChangeSet", retry=True, after=NOTHING_EXECUTED, ChangeSetName=nested_id, **_property_values())
            assert isinstance(page, dict)
            home = str(resource.get("LogicalResourceId", ""))
            for inner in self._changes_of(page, nested_id, None):
                if isinstance(inner.get("ResourceChange"), Mapping):
                    changes.append({**inner, "ResourceChange": {**inner["ResourceChange"], "NestedStack": home}})
        return changes

    def _changes_of(self, described: Mapping[str, Any], change_set_id: str, name: Optional[str]) -> list[Mapping[str, Any]]:
        """The Changes of one change set, every page of them."""
        changes = [c for c in described.get("Changes") or [] if isinstance(c, Mapping)]
        token = described.get("NextToken")
        seen: set[str] = set()
        for _ in range(MAX_CHANGE_PAGES):
            if not isinstance(token, str) or not token or token in seen:
                break  # no more pages (a token seen before would loop for ever)
            if (self._left() or 0.0) < 0.0:
                break  # past the deadline: the summary of the pages read (each page would cost a request timeout)
            seen.add(token)
            page = self._call(
                "DescribeChangeSet",
                retry=True,
                after=NOTHING_EXECUTED,
                ChangeSetName=change_set_id,
                NextToken=token,
                **({"StackName": name} if name else {}),
                **_property_values(),
            )
            assert isinstance(page, dict)
            batch = page.get("Changes") or []
            if not isinstance(batch, list):
                raise self._malformed("DescribeChangeSet", "Changes is not a list")
            changes.extend(c for c in batch if isinstance(c, Mapping))
            token = page.get("NextToken")
        return changes

    def _delete_change_set(self, change_set_id: str) -> None:
        try:
            self._call("DeleteChangeSet", ChangeSetName=change_set_id, StackName=self._name)
        except QuickSightPromotionError:
            pass  # a leftover FAILED change set costs nothing; the reason is what matters

    def _forget_review_stack(self, stack_id: str) -> None:
        """Delete the empty REVIEW_IN_PROGRESS stack a failed CREATE change set leaves (aws-cli leaves it)."""
        try:
            found = self.describe(stack_id)
            if found is not None and found.get("StackStatus") == "REVIEW_IN_PROGRESS":
                self._call("DeleteStack", StackName=stack_id)
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
            inside = f" (in nested stack {clean(cause['NestedStack'])})" if cause.get("NestedStack") else ""
            because = f"root cause{inside}: {core.describe_event(cause, assets)}"
            failures = review.schema_failures(cause)
            if failures:
                because += f" (failed properties: {review.describe_failures(failures, assets)})"
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
            "Fix the cause, then run pulumi up again",
            stack=name,
        )

    def root_cause(
        self, stack_id: str, name: str, token: Optional[str], since: Any, depth: int = 0
    ) -> Optional[Mapping[str, Any]]:
        """The first FAILED resource event of this operation (see ``core.stacks.root_cause``).

        Best effort: the failure is reported without its cause rather than not at all when the
        events cannot be read (``_events_note`` then says why); the operation's other failed
        resources (not the cancellations) are kept in ``_other_failures`` for the message. A
        nested stack that failed is looked into: its own first failed resource is the cause,
        marked ``NestedStack`` with the nested stack's logical id in the parent.
        """
        since_utc = _utc(since)
        self._events_note, self._other_failures = "", []
        events = self._stack_events(stack_id, since_utc)
        chosen = core.operation_events(events, name, token, since_utc)
        cause = core.root_cause(chosen, name)
        nested = self._nested_cause(cause, token, since, depth)
        if nested is not None:
            return nested
        self._other_failures = [
            e
            for e in chosen
            if e is not cause
            and str(e.get("ResourceStatus", "")).endswith("_FAILED")
            and e.get("LogicalResourceId") != name
            and not any(marker in str(e.get("ResourceStatusReason") or "") for marker in core.CANCELLED_MARKERS)
        ]
        return cause

    def _stack_events(
        self,
        stack_id: str,
        since_utc: Optional[dt.datetime],
        known: frozenset[str] = frozenset(),
        retry: bool = True,
    ) -> list[Mapping[str, Any]]:
        """The stack's events (newest first), page by page back to ``since_utc``, an event of ``known``
        (EventIds already read) or ``MAX_EVENT_PAGES``.

        Best effort: the events read so far when a page cannot be read (``_events_note`` then says
        why). ``retry``: a page's transient faults retried until the deadline (a failure's cause is
        worth it; progress is not: one attempt).
        """
        events: list[Mapping[str, Any]] = []
        next_token: Optional[str] = None
        seen: set[str] = set()
        for _ in range(MAX_EVENT_PAGES):
            kwargs: dict[str, Any] = {"StackName": stack_id}
            if next_token:
                kwargs["NextToken"] = next_token
                if (self._left() or 0.0) < 0.0:
                    break  # past the deadline: the events of the pages read (each page would cost a request timeout)
            try:
                page = self._call("DescribeStackEvents", retry=retry, **kwargs)
                assert isinstance(page, dict)
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
            if (
                not next_token
                or next_token in seen
                or (since_utc is not None and oldest is not None and oldest < since_utc)
                or any(str(event.get("EventId")) in known for event in batch)
            ):
                break
            seen.add(next_token)
        return events

    def _nested_cause(
        self, cause: Optional[Mapping[str, Any]], token: Optional[str], since: Any, depth: int
    ) -> Optional[Mapping[str, Any]]:
        """The root cause inside the nested stack whose failure ``cause`` is (None when it is not one)."""
        if cause is None or cause.get("ResourceType") != NESTED_STACK_TYPE or depth >= MAX_NESTING_DEPTH:
            return None
        nested_id = cause.get("PhysicalResourceId")
        if not isinstance(nested_id, str) or not nested_id.startswith("arn:"):
            return None
        others, note = self._other_failures, self._events_note
        inner = self.root_cause(nested_id, nested_id.split("/")[1] if "/" in nested_id else nested_id, token, since, depth + 1)
        # The parent's other failures and notes are what the message lists beside the nested cause.
        self._other_failures, self._events_note = others, note or self._events_note
        if inner is None or inner.get("ResourceType") == NESTED_STACK_TYPE and inner.get("LogicalResourceId") == cause.get("LogicalResourceId"):
            return None
        return {**inner, "NestedStack": str(cause.get("LogicalResourceId", ""))}

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
        deadline = self._begin(timeout_seconds, name)
        found = self._describe_retried(stack)
        if found is None:
            return False
        found = self._settle(found, deadline, name, timeout_seconds)
        if found is None:
            return False
        if found.get("EnableTerminationProtection"):
            raise core.StackStateError(
                f"CloudFormation stack {name!r} has termination protection on, so it cannot be deleted: nothing was "
                "deleted. Turn it off first (termination_protection=false and pulumi up, or aws cloudformation "
                f"update-termination-protection --no-enable-termination-protection --stack-name {name}), then delete again",
                stack=name,
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
        self._call(
            "DeleteStack",
            retry=True,
            after="; the stack may or may not be being deleted",
            StackName=stack_id,
            ClientRequestToken=token,
        )
        found, done = self._wait_stack(stack_id, deadline)
        if not done:
            raise core.DeploymentTimeoutError(
                f"CloudFormation stack {name!r} is still {clean((found or {}).get('StackStatus', 'DELETE_IN_PROGRESS'))} "
                f"after stack_timeout_seconds ({timeout:g} s); CloudFormation goes on deleting it without us{self._fault()}. "
                "Run the command again later",
                stack=name,
            )
        if found is not None:
            raise self._failed(stack_id, name, found.get("StackStatus"), "DELETE", token, started, assets, found)


def change_set_schedule() -> Backoff:
    """How change sets are polled: ``core.stacks.CHANGE_SET_BACKOFF``, at once on a loopback endpoint (``LOOPBACK_CLOUDFORMATION_SWITCH``)."""
    if os.environ.get(LOOPBACK_CLOUDFORMATION_SWITCH, "") == "1":
        return replace(core.CHANGE_SET_BACKOFF, initial=0.0)
    return core.CHANGE_SET_BACKOFF


@functools.lru_cache(maxsize=None)
def model_knows(operation: str, member: Optional[str] = None) -> bool:
    """Whether the installed botocore's CloudFormation model has ``operation`` (and its input ``member``).

    This library claims botocore 1.35.2 and later; DescribeEvents (2025) and DescribeChangeSet's
    IncludePropertyValues (2024) came after it: an older botocore refuses them before any request.
    """
    model = botocore.session.get_session().get_service_model("cloudformation")
    if operation not in model.operation_names:
        return False
    return member is None or member in model.operation_model(operation).input_shape.members


def _property_values() -> dict[str, Any]:
    """DescribeChangeSet's ``IncludePropertyValues`` (before/after values per property), where botocore knows it."""
    return {"IncludePropertyValues": True} if model_knows("DescribeChangeSet", "IncludePropertyValues") else {}


def _template_document(template_body: str) -> Optional[dict[str, Any]]:
    """The template parsed (None when it is no JSON object: CloudFormation will say)."""
    try:
        document = json.loads(template_body)
    except ValueError:
        return None
    return document if isinstance(document, dict) else None


def _no_echo(document: Optional[Mapping[str, Any]], parameters: Mapping[str, Any]) -> Iterable[str]:
    """The template's NoEcho parameters; every parameter when it is no template (none can be told apart)."""
    try:
        return core.no_echo_parameters(document) if document is not None else parameters
    except Exception:  # noqa: BLE001  (a malformed template is refused by CloudFormation; hide every value)
        return parameters


def _resource_count(document: Mapping[str, Any]) -> int:
    """How many resources a template declares."""
    resources = document.get("Resources")
    return len(resources) if isinstance(resources, dict) else 0


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


def _not_ours(name: str, status: Optional[str], whose: core.Ownership, tags: Mapping[str, str]) -> str:
    """The refusal of a stack another deployment (or someone else) owns: whose it is, and what to do."""
    if whose is core.Ownership.UNTAGGED:
        return (
            f"CloudFormation stack {name!r} already exists ({clean(status)}) and was not created by this library (it "
            f"has no {core.OWNERSHIP_TAG} tag): nothing was changed. Choose another stack_name, or set adopt_stack=true "
            "to take it over (its template and parameters will be replaced by this deployment's; run it with "
            "execute_change_set=false first to review what it removes)"
        )
    identity = clean(tags.get(core.OWNERSHIP_TAG), 80)
    if tags.get(core.OWNERSHIP_TAG) == core.LEGACY_OWNERSHIP_VALUE:
        whom = "a deployment of quicksight-promotion 0.1.0 whose state does not hold this stack"
    else:
        owner = tags.get(core.OWNER_TAG)
        whom = f"the deployment of {clean(owner, 200)!r}" if owner else "another deployment (no owner tag)"
    return (
        f"CloudFormation stack {name!r} already exists ({clean(status)}) and belongs to {whom} ({core.OWNERSHIP_TAG} "
        f"{identity!r}), not to this one: nothing was changed. Choose another stack_name; or, to take it over from its "
        f"owner, set adopt_stack=true and adopt_identity={identity!r} (review first with execute_change_set=false)"
    )


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


