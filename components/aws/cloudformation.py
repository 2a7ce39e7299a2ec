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
- one deadline for the whole operation, every wait on ``core.polling.poll_until``.

Clients come from ``session.py`` (lazily, inside calls); tests hand in their own.
"""

from __future__ import annotations

import datetime as dt
import secrets
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping, Optional, Sequence

from botocore.exceptions import BotoCoreError, ClientError
from botocore.parsers import ResponseParserError

from ..core import deployment as core
from ..core.polling import Backoff, poll_until
from ..core.transform import INLINE_TEMPLATE_LIMIT, URL_TEMPLATE_LIMIT
from ..errors import AwsAccessError, ThrottledError, clean
from .session import CLIENT_CONFIG, account_mismatch, caller_account, error_code, is_access_error, session

THROTTLING_CODES = frozenset({"Throttling", "ThrottlingException", "RequestLimitExceeded", "TooManyRequestsException"})
# How many pages of DescribeStackEvents (100 events each) are read for one failure: an operation
# on a bundle of hundreds of assets writes a few events per resource.
MAX_EVENT_PAGES = 20
SESSION_NAME = "quicksight-promotion-deploy"
# Failures below the API: no answer, or one that is not the service's (a proxy's HTML page, a 500
# of an emulator). botocore's parser error is not a BotoCoreError.
TRANSPORT_ERRORS = (BotoCoreError, ResponseParserError)


@dataclass(frozen=True)
class Target:
    """Clients for the target account and region, after the account guard.

    Attributes:
        cloudformation: A CloudFormation client.
        s3: Makes an S3 client on first use (only a staged template needs one).
        account_id: The account the credentials act in.
        region: The region of the clients.
    """

    cloudformation: Any
    s3: Callable[[], Any]
    account_id: str
    region: str


def connect(
    region: Optional[str],
    role_arn: Optional[str],
    expected_account_id: Optional[str],
    stack_name: str,
    profile: Optional[str] = None,
) -> Target:
    """Clients for the target account, refusing any other account than ``expected_account_id``.

    A dynamic provider cannot use the credentials of the program's ``aws.Provider``: it runs
    with the provider process's AWS chain (or ``role_arn``). This guard is what stops a deploy
    into another account than the one the program meant.

    Raises:
        AccountMismatchError: the credentials act in another account.
        AwsAccessError: STS refused the credentials.
        DeploymentError: no region, or STS could not be reached.
    """
    try:
        boto_session = session(region, role_arn, SESSION_NAME, profile)
        if not boto_session.region_name:
            raise core.DeploymentError(
                f"CloudFormation stack {stack_name!r}: no AWS region: set the resource's region input, AWS_REGION, or "
                "aws:region in the stack configuration"
            )
        account = caller_account(boto_session)
    except ClientError as exc:
        raise _translate(exc, "sts:GetCallerIdentity", stack_name) from exc
    except TRANSPORT_ERRORS as exc:  # includes ProfileNotFound, NoCredentialsError
        raise core.DeploymentError(
            f"CloudFormation stack {stack_name!r}: could not ask STS who the credentials are: {clean(exc)}; check the "
            "AWS credentials and network of the process that runs pulumi"
        ) from exc
    why = account_mismatch(account, expected_account_id)
    if why:
        via = f" (after assuming {role_arn})" if role_arn else ""
        raise core.AccountMismatchError(
            f"CloudFormation stack {stack_name!r}: {why}{via}: nothing was deployed. The deployment runs with the AWS "
            "credentials of the process that runs pulumi (environment, AWS_PROFILE, or role_arn), not with the "
            "program's aws provider: give it credentials for the target account, or set role_arn to a role there"
        )
    region_name = str(boto_session.region_name)
    return Target(
        cloudformation=boto_session.client("cloudformation", config=CLIENT_CONFIG),
        s3=lambda: boto_session.client("s3", config=CLIENT_CONFIG),
        account_id=account,
        region=region_name,
    )


def _translate(exc: ClientError, operation: str, stack_name: str) -> Exception:
    code, message = error_code(exc)
    if is_access_error(exc):
        return AwsAccessError(
            f"AWS refused {operation} for CloudFormation stack {stack_name!r}: {code}: {clean(message)}; give the "
            "deploying credentials (or role_arn) this permission in the target account"
        )
    if code in THROTTLING_CODES:
        return ThrottledError(f"{operation} for CloudFormation stack {stack_name!r} kept being throttled ({code})")
    return core.DeploymentError(
        f"{operation} for CloudFormation stack {stack_name!r} failed: {code}: {clean(message)}"
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
        capabilities, tags, iam_role_arn, notification_arns: As CreateChangeSet takes them
            (``tags`` without the ownership tag, which is added here).
        termination_protection: Wanted state of termination protection.
        execute: False: create the change set and stop (for review).
        adopt: Take over a stack without this library's ownership tag.
        timeout_seconds: Deadline of the whole operation.
        staging_bucket, staging_prefix: Where a template over 51,200 bytes is staged.
        assets: Logical id -> {"kind", "id"} (of this and the previous template), for messages.
        on_failure: OnStackFailure of a CREATE change set (ROLLBACK, DELETE, DO_NOTHING); None:
            CloudFormation's default (ROLLBACK: the next deploy deletes the empty stack and creates it again).
        stale_change_set: The change set a previous ``execute=False`` run left for review: deleted
            first, so reviews never pile up (the new one is computed from the current inputs).
    """

    stack_name: str
    template_body: str
    parameters: Mapping[str, str]
    keep: frozenset[str] = frozenset()
    capabilities: Sequence[str] = ()
    tags: Mapping[str, str] = field(default_factory=dict)
    iam_role_arn: Optional[str] = None
    notification_arns: Sequence[str] = ()
    termination_protection: bool = False
    execute: bool = True
    adopt: bool = False
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

    Args:
        target: The clients (see ``connect``).
        sleep, clock, draw: Injectable for tests (``poll_until``'s).
        change_set_backoff, stack_backoff: Poll schedules (``core.deployment``'s by default).
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
    ) -> None:
        self.target = target
        self.cfn = target.cloudformation
        self.sleep = sleep
        self.clock = clock
        self.draw = draw
        self.change_set_backoff = change_set_backoff
        self.stack_backoff = stack_backoff
        self.calls: list[str] = []

    # --- calls ---------------------------------------------------------------------------------
    def _call(self, operation: str, stack_name: str, **kwargs: Any) -> Any:
        """One CloudFormation call; its errors become ours."""
        self.calls.append(operation)
        method = getattr(self.cfn, _snake(operation))
        try:
            return method(**kwargs)
        except ClientError as exc:
            raise _translate(exc, f"cloudformation:{operation}", stack_name) from exc
        except TRANSPORT_ERRORS as exc:
            raise core.DeploymentError(
                f"cloudformation:{operation} for stack {stack_name!r} failed: {clean(exc)}; check the network and "
                "endpoint of the process that runs pulumi, then run pulumi up again"
            ) from exc

    def _poll_kwargs(self, backoff: Backoff) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"backoff": backoff, "sleep": self.sleep, "clock": self.clock}
        if self.draw is not None:
            kwargs["draw"] = self.draw
        return kwargs

    def describe(self, stack: str) -> Optional[dict[str, Any]]:
        """DescribeStacks for a name or id; None when there is no such stack (or it is deleted)."""
        self.calls.append("DescribeStacks")
        try:
            stacks = self.cfn.describe_stacks(StackName=stack).get("Stacks") or []
        except ClientError as exc:
            code, message = error_code(exc)
            if code == "ValidationError" and "does not exist" in message:
                return None
            raise _translate(exc, "cloudformation:DescribeStacks", stack) from exc
        except TRANSPORT_ERRORS as exc:
            raise core.DeploymentError(f"cloudformation:DescribeStacks for stack {stack!r} failed: {clean(exc)}") from exc
        if not stacks or not isinstance(stacks[0], dict):
            return None
        found = stacks[0]
        if found.get("StackStatus") == "DELETE_COMPLETE":
            return None
        return found

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
        return outcome.value, outcome.done

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
                f"timeout_seconds ({timeout:g} s): nothing was changed; wait for it to finish (CloudFormation console or "
                "aws cloudformation describe-stacks), then run pulumi up again"
            )
        return found

    # --- deploy ---------------------------------------------------------------------------------
    def deploy(self, request: DeployRequest) -> DeployResult:
        """Create or update the stack through a change set (see the module docstring).

        Raises:
            StackStateError, ChangeSetFailedError, StackOperationFailedError, DeploymentTimeoutError,
            DeploymentError, AwsAccessError: with the stack, the state seen and what to do.
        """
        name = request.stack_name
        deadline = self.clock() + request.timeout_seconds
        stack = self.describe(name)
        if stack is not None:
            stack = self._settle(stack, deadline, name, request.timeout_seconds)
        status = stack.get("StackStatus") if stack else None
        owned = _owned(stack)
        kind = core.phase(status)
        if kind in (core.Phase.ABSENT, core.Phase.REVIEW):
            change_set_type = "CREATE"
        elif kind is core.Phase.FAILED_CREATE:
            if not (owned or request.adopt):
                raise self._not_ours(name, status)
            # A failed first create holds no resources; it blocks the name until it is deleted.
            self._delete_and_wait(stack, deadline, name, request.timeout_seconds, request.assets)  # type: ignore[arg-type]
            stack, change_set_type = None, "CREATE"
        elif kind is core.Phase.STABLE:
            if not (owned or request.adopt):
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

        existing = {p.get("ParameterKey") for p in (stack or {}).get("Parameters") or []}
        parameters = [
            {"ParameterKey": key, "UsePreviousValue": True}
            if change_set_type == "UPDATE" and key in request.keep and key in existing
            else {"ParameterKey": key, "ParameterValue": value}
            for key, value in sorted(request.parameters.items())
        ]
        tags = [{"Key": k, "Value": v} for k, v in sorted(request.tags.items())]
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
            **source,
        }
        if request.iam_role_arn:
            arguments["RoleARN"] = request.iam_role_arn
        if change_set_type == "CREATE" and request.on_failure:
            arguments["OnStackFailure"] = request.on_failure
        try:
            self.calls.append("CreateChangeSet")
            created = self.cfn.create_change_set(**arguments)
        except ClientError as exc:
            code, message = error_code(exc)
            if code == "ValidationError" and core.is_empty_change_set(message):
                return self._finish(name, stack, [], None, False, change_set_type, request, template_url, deadline)
            raise _translate(exc, "cloudformation:CreateChangeSet", name) from exc
        except TRANSPORT_ERRORS as exc:
            raise core.DeploymentError(f"cloudformation:CreateChangeSet for stack {name!r} failed: {clean(exc)}") from exc
        change_set_id = str(created.get("Id") or change_set_name)
        stack_id = str(created.get("StackId") or name)

        described = self._wait_change_set(change_set_id, name, deadline, request.timeout_seconds)
        cs_status = described.get("Status")
        if cs_status == "FAILED":
            reason = str(described.get("StatusReason") or "")
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
        if not request.execute:
            return DeployResult(
                stack_id=stack_id,
                stack_status=str((self.describe(stack_id) or {}).get("StackStatus") or "REVIEW_IN_PROGRESS"),
                outputs=_outputs(stack) if stack else {},
                change_summary=summary,
                change_set_id=change_set_id,
                executed=False,
                change_set_type=change_set_type,
                termination_protection=bool((stack or {}).get("EnableTerminationProtection")),
                template_url=template_url,
            )

        token = f"quicksight-promotion-{secrets.token_hex(8)}"
        self._call(
            "ExecuteChangeSet", name, ChangeSetName=change_set_id, StackName=stack_id, ClientRequestToken=token
        )
        since = described.get("CreationTime")
        found, done = self._wait_stack(stack_id, deadline)
        if not done:
            raise core.DeploymentTimeoutError(
                f"CloudFormation stack {name!r} is still {clean((found or {}).get('StackStatus', 'in progress'))} after "
                f"timeout_seconds ({request.timeout_seconds:g} s); CloudFormation goes on with the {change_set_type.lower()} "
                "without us. Run pulumi up again later: it waits for the stack and carries on (raise timeout_seconds "
                "for large bundles)"
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
        current = self.describe(str((stack or {}).get("StackId") or name)) if executed or stack is None else stack
        if current is None:
            raise core.DeploymentError(
                f"CloudFormation stack {name!r} disappeared during the deployment (deleted by someone else?); "
                "run pulumi up again to create it"
            )
        protected = bool(current.get("EnableTerminationProtection"))
        if protected != request.termination_protection:
            self._call(
                "UpdateTerminationProtection",
                name,
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
        try:
            self.calls.append("s3:HeadObject")
            s3.head_object(Bucket=request.staging_bucket, Key=key)
        except ClientError as exc:
            code, _ = error_code(exc)
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if code not in ("404", "NoSuchKey", "NotFound") and status != 404:
                raise _translate(exc, f"s3:HeadObject on s3://{request.staging_bucket}/{key}", name) from exc
            try:
                self.calls.append("s3:PutObject")
                s3.put_object(
                    Bucket=request.staging_bucket,
                    Key=key,
                    Body=request.template_body.encode("utf-8"),
                    ContentType="application/json",
                )
            except ClientError as put_exc:
                raise _translate(put_exc, f"s3:PutObject to s3://{request.staging_bucket}/{key}", name) from put_exc
        except TRANSPORT_ERRORS as exc:
            raise core.DeploymentError(f"staging the template of stack {name!r} in S3 failed: {clean(exc)}") from exc
        # The bucket must be in the stack's region: CloudFormation reads it through this URL.
        return core.template_url(request.staging_bucket, self.target.region, key)

    def _wait_change_set(self, change_set_id: str, name: str, deadline: float, timeout: float) -> dict[str, Any]:
        def poll() -> dict[str, Any]:
            return dict(self._call("DescribeChangeSet", name, ChangeSetName=change_set_id, StackName=name))

        outcome = poll_until(
            poll,
            lambda d: d.get("Status") in ("CREATE_COMPLETE", "FAILED", "DELETE_COMPLETE", "DELETE_FAILED"),
            timeout=self._remaining(deadline),
            **self._poll_kwargs(self.change_set_backoff),
        )
        if not outcome.done or outcome.value is None:
            raise core.DeploymentTimeoutError(
                f"the change set for CloudFormation stack {name!r} was still "
                f"{clean((outcome.value or {}).get('Status', 'being created'))} after timeout_seconds ({timeout:g} s): "
                "nothing was executed; CloudFormation goes on evaluating it. Run pulumi up again (raise timeout_seconds)"
            )
        if outcome.value.get("Status") not in ("CREATE_COMPLETE", "FAILED"):
            raise core.ChangeSetFailedError(
                f"the change set for CloudFormation stack {name!r} was deleted while it was evaluated "
                f"({clean(outcome.value.get('Status'))}): nothing was executed; run pulumi up again"
            )
        return outcome.value

    def _all_changes(self, described: Mapping[str, Any], change_set_id: str, name: str) -> list[Mapping[str, Any]]:
        changes = list(described.get("Changes") or [])
        token = described.get("NextToken")
        while token:
            page = self._call("DescribeChangeSet", name, ChangeSetName=change_set_id, StackName=name, NextToken=token)
            changes.extend(page.get("Changes") or [])
            token = page.get("NextToken")
        return changes

    def _delete_change_set(self, change_set_id: str, name: str) -> None:
        try:
            self._call("DeleteChangeSet", name, ChangeSetName=change_set_id, StackName=name)
        except core.DeploymentError:
            pass  # a leftover FAILED change set costs nothing; the reason is what matters

    def _forget_review_stack(self, stack_id: str, name: str) -> None:
        """Delete the empty REVIEW_IN_PROGRESS stack a failed CREATE change set leaves (aws-cli leaves it)."""
        found = self.describe(stack_id)
        if found is not None and found.get("StackStatus") == "REVIEW_IN_PROGRESS":
            try:
                self._call("DeleteStack", name, StackName=stack_id)
            except core.DeploymentError:
                pass  # the next create uses it anyway (REVIEW_IN_PROGRESS is a CREATE)

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
        because = (
            f"root cause: {core.describe_event(cause, assets)}"
            if cause is not None
            else f"CloudFormation gave no failed resource event ({clean((stack or {}).get('StackStatusReason') or 'no reason')})"
        )
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
        """The first FAILED resource event of this operation (see ``core.deployment.root_cause``)."""
        events: list[Mapping[str, Any]] = []
        next_token = None
        since_utc = _utc(since)
        for _ in range(MAX_EVENT_PAGES):
            kwargs: dict[str, Any] = {"StackName": stack_id}
            if next_token:
                kwargs["NextToken"] = next_token
            try:
                page = self._call("DescribeStackEvents", name, **kwargs)
            except core.DeploymentError:
                break  # the failure is reported without its cause rather than not at all
            batch = list(page.get("StackEvents") or [])
            events.extend(batch)
            next_token = page.get("NextToken")
            oldest = _utc(batch[-1].get("Timestamp")) if batch else None
            if not next_token or (since_utc is not None and oldest is not None and oldest < since_utc):
                break
        chosen = core.operation_events(events, name, token, since_utc)
        return core.root_cause(chosen, name)

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
        deadline = self.clock() + timeout_seconds
        found = self.describe(stack)
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
        self._call("DeleteStack", name, StackName=stack_id, ClientRequestToken=token)
        found, done = self._wait_stack(stack_id, deadline)
        if not done:
            raise core.DeploymentTimeoutError(
                f"CloudFormation stack {name!r} is still {clean((found or {}).get('StackStatus', 'DELETE_IN_PROGRESS'))} "
                f"after timeout_seconds ({timeout:g} s); CloudFormation goes on deleting it without us. Run the "
                "command again later"
            )
        if found is not None:
            raise self._failed(stack_id, name, found.get("StackStatus"), "DELETE", token, started, assets, found)


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
