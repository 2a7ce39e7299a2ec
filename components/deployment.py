"""The ``CloudFormationDeployment`` dynamic resource and its provider (thin Pulumi shell).

It deploys a template to a CloudFormation stack through change sets, as ``aws cloudformation
deploy`` does (``components/aws/cloudformation.py``), with what pulumi-aws's
``aws.cloudformation.Stack`` lacks for QuickSight bundles: NoEcho credentials that never make a
preview dirty, a failed first create that the next ``up`` repairs, review before execution,
termination protection and failures named by their root-cause event.

The provider's module and class path (``<package>.deployment.CloudFormationDeploymentProvider``)
are written into users' Pulumi state by dill: they are public API and must not move. Like the
export provider it is built with no arguments, holds no client or credential, and rests on the
providers' base (``components/dynamic.py``).

**Credentials.** The provider runs in the ``python -m pulumi.dynamic`` process the engine starts,
not in the program, so it cannot use the program's ``aws.Provider``: it takes the process's AWS
chain (environment, ``AWS_PROFILE``, SSO...), then ``target_role_arn`` if given.
``target_account_id`` (required; STS GetCallerIdentity before any other call) is what stops it from
deploying into another account than the program meant; ``QuickSightBundleStack`` sets it from
``aws.get_caller_identity_output()`` of its own aws provider, and ``target_region`` from
``aws.get_region_output()``.

**What the engine hands to ``configure()``.** The engine configures the default provider of the
``pulumi-python`` package (every Python dynamic resource uses it) with
``Target.GetPackageConfig("pulumi-python")`` (pulumi/pulumi ``pkg/resource/deploy/target.go``): for
the two dynamic provider packages it passes the stack's *whole* configuration, namespaces kept
(``aws:region``, ``aws:profile``, ``quicksight-promotion:...``), every value a string, secrets
marked secret; for any other package only its own keys, namespace stripped (pulumi/pulumi#17229 and #17673,
autumn 2024; older engines sent a dynamic provider nothing useful). The SDK's servicer
(``pulumi/dynamic/__main__.py``) turns the Configure ``args`` into ``ConfigureRequest.config``,
secrets unwrapped. So ``aws:region`` and ``aws:profile`` arrive when the stack sets them, and
the provider uses them: ``aws:region`` when the ``target_region`` input is not set, ``aws:profile`` as
the shared-config profile to start from; without them the standard AWS chain decides. The engine
side cannot run on the test machines (no Pulumi CLI); ``tests/engine/test_engine_deployment.py``
proves the SDK side through the gRPC servicer, with the arguments the engine would send. Both
keys are the stack's *default* aws provider settings, not those of an explicit
``aws.Provider(...)``: the account guard is what makes either case safe.

**Ownership.** A dynamic provider never sees its URN, and two forks of a program have the same
project, stack and URN: so the resource mints an identity at its first create (``owner_identity``,
kept in state; a state written before 0.2.0 gets one at its next update) and tags its stack with
it, beside the readable ``owner`` input (``<project>/<stack>``). What a tag means, and what may be
adopted, is decided in ``core.stacks`` (``ownership``, ``may_adopt``, ``decide``); the review an
adoption needs is the change summary a run with ``execute_change_set`` false left in state.

**Secrets.** ``parameters`` is always a secret input. The provider records only HMAC-SHA256
digests of the values, keyed per resource by a key derived from the stack name and a random salt
(``digest_salt``, a secret output), never a value: no credential is in any output. Diff compares
digests, so an unchanged ``up`` makes no AWS call at all.
"""

from __future__ import annotations

import secrets
import sys
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import ReadResult

from .core import review
from .core import stacks as core
from .core.models import DeploymentInputs, DeploymentOutputs
from .core.polling import Deadline
from .core.template import PREFIX_PARAMETER
from .dynamic import DynamicProvider, echoed_inputs, has_unknown, is_unknown, known_inputs, secret_input

if TYPE_CHECKING:
    # Since pulumi 3.139 (pulumi/pulumi#17673), this library's floor.
    from pulumi.dynamic import ConfigureRequest

    from .aws import cloudformation as cfn

# A secret output: with it the digests cannot be checked against guessed values by whoever reads
# the state's plain text.
SECRET_OUTPUTS = ["digest_salt"]


def _strings(values: Optional[Mapping[str, Any]]) -> dict[str, str]:
    return {str(k): core.parameter_string(v) for k, v in (values or {}).items()}


def _digests(values: Mapping[str, Any], stack_name: str, salt: str) -> dict[str, str]:
    return core.parameter_digests(_strings(values), core.digest_key(stack_name, salt))


class CloudFormationDeploymentProvider(DynamicProvider):
    """Deploys a template to a CloudFormation stack through change sets.

    Constructed with no arguments and stateless but for what ``configure()`` hands over
    (``aws:region``/``aws:profile``, see the module docstring): safe to pickle into Pulumi state.
    """

    LABEL = "CloudFormationDeployment"
    INPUTS = DeploymentInputs
    OUTPUTS = DeploymentOutputs
    ID_OUTPUT = "stack_id"
    # Identifiers, names and numbers. Never `parameters` (credentials: the engine unwraps secrets
    # before a dynamic provider sees them, so the provider cannot tell which were secret),
    # `stack_tags`, `template_body` (large), or anything unexpected.
    QUOTABLE = frozenset(
        {
            "stack_name",
            "target_region",
            "target_role_arn",
            "target_account_id",
            "capabilities",
            "cloudformation_role_arn",
            "notification_arns",
            "stack_timeout_seconds",
            "staging_bucket",
            "staging_prefix",
            "on_failure",
            "on_drift",
            "verify_assets",
            "wait_for_ingestion",
            "termination_protection",
            "execute_change_set",
            "adopt_stack",
            "adopt_identity",
            "adopt_allow_removals",
            "owner",
        }
    )
    # Never replaced: a change of what identifies the stack (its name, the target region or
    # account) is refused before the engine could delete anything (core.stacks.replacement_problems).
    REPLACE_ON = ()
    # Settings that reach CloudFormation: a change is an update (a change set, maybe empty).
    # on_failure only applies to a first create (CreateChangeSet's OnStackFailure);
    # stack_timeout_seconds, adopt_stack, adopt_identity, adopt_allow_removals, owner, target_role_arn
    # and the staging location only matter while something else changes: no diff on them.
    UPDATE_ON = (
        "capabilities",
        "stack_tags",
        "cloudformation_role_arn",
        "notification_arns",
        "termination_protection",
        "execute_change_set",
    )
    # Not known yet (preview): the stack may be another one, so the preview shows an update.
    IDENTITY = ("stack_name", "target_region", "target_account_id", "target_role_arn")
    # The names before 0.2.0 (CHANGELOG.md), as states written then hold them.
    LEGACY_NAMES = {
        "region": "target_region",
        "role_arn": "target_role_arn",
        "expected_account_id": "target_account_id",
        "tags": "stack_tags",
        "iam_role_arn": "cloudformation_role_arn",
        "timeout_seconds": "stack_timeout_seconds",
        "execute": "execute_change_set",
        "adopt": "adopt_stack",
    }
    EVIDENCE = {"stack": "stack_name", "account": "target_account_id", "region": "target_region"}
    REQUIRED_BECAUSE = {
        "target_account_id": (
            "the account guard refuses to deploy into any other account than this one (STS GetCallerIdentity "
            "before any other call); QuickSightBundleStack sets it from aws.get_caller_identity_output(), "
            "a program of its own passes the target account id"
        )
    }

    def configure(self, req: ConfigureRequest) -> None:
        """Keep ``aws:region`` and ``aws:profile`` of the stack configuration, if the engine hands them over."""
        region = req.config.get("aws:region")
        profile = req.config.get("aws:profile")
        self._config_region = str(region) if isinstance(region, str) and region else None
        self._config_profile = str(profile) if isinstance(profile, str) and profile else None

    # Set by configure() in the provider process; a provider never configured uses the chain alone.
    _config_region: Optional[str] = None
    _config_profile: Optional[str] = None

    def _subject(self, props: Mapping[str, Any]) -> str:
        return f" for stack {props.get('stack_name')!r}"

    def _changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """The template's sha256, the parameter digests and the settings; no AWS call.

        A changed stack name, target region or target account is refused here, before the engine
        could delete anything.

        Raises:
            StackStateError: the change would replace the stack.
        """
        problems = core.replacement_problems(olds, known_inputs(news, self.input_names()))
        if problems:
            raise core.refuse_replacement(problems, olds.get("stack_name"))
        _, changed = super()._changes(olds, news)
        body = news.get("template_body")
        if is_unknown(body) or (body is not None and core.template_sha256(body) != olds.get("template_sha256")):
            changed.append("template_body")
        if self._parameters_changed(olds, news):
            changed.append("parameters")
        if self._digests_changed(olds, news):
            changed.append("resource_digests")
        changed.extend(name for name in self.IDENTITY if is_unknown(news.get(name)))
        return [], changed

    @staticmethod
    def _parameters_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
        """Whether the values changed: their keyed digests against the recorded ones (never a value)."""
        values = news.get("parameters")
        if has_unknown(values):
            return True
        salt = olds.get("digest_salt")
        if salt is None:
            return True
        return _digests(values or {}, str(olds.get("stack_name")), str(salt)) != (olds.get("parameter_digests") or {})

    @staticmethod
    def _digests_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
        """Whether the per-resource digests changed: no AWS call, consistent with the template's sha256.

        They derive from ``template_body``, so they change exactly when its sha256 does; a state
        recorded before they existed has none, and then only the template comparison decides (no
        update on upgrading this library).
        """
        digests = news.get("resource_digests")
        if has_unknown(digests):
            return True
        recorded = olds.get("resource_digests")
        if recorded is None:
            return False
        return dict(digests or {}) != dict(recorded)

    def _create(self, inputs: DeploymentInputs) -> dict[str, Any]:
        """Deploy a new stack (or repair a failed first create of ours); the id is the stack's ARN.

        The resource's identity is minted here, once: the stack's ownership tag value from now on.
        """
        return self._deploy(inputs, secrets.token_hex(16), None)

    def _update(self, olds: Mapping[str, Any], _news: Mapping[str, Any], inputs: DeploymentInputs) -> dict[str, Any]:
        """Deploy the new template/values/settings through an UPDATE change set (empty: no-op).

        Raises:
            StackStateError: a changed stack name, target region or account (refused before any change).
        """
        problems = core.replacement_problems(olds, inputs.model_dump())
        if problems:
            raise core.refuse_replacement(problems, olds.get("stack_name"))
        return self._deploy(inputs, str(olds.get("digest_salt") or secrets.token_hex(16)), olds)

    @staticmethod
    def _claim(inputs: DeploymentInputs, olds: Optional[Mapping[str, Any]]) -> core.Claim:
        """This resource's identity (kept in state; minted when a state has none: at the first create, or
        the first update of a state written before 0.2.0), its readable owner and what it may adopt."""
        return core.Claim(
            identity=str((olds or {}).get("owner_identity") or secrets.token_hex(16)),
            owner=inputs.owner or "",
            recorded_stack_id=(olds or {}).get("stack_id"),
            adopt_stack=inputs.adopt_stack,
            adopt_identity=inputs.adopt_identity,
        )

    @staticmethod
    def _reviewed(olds: Optional[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The change summary of the change set the last run left for review (none: empty)."""
        if not olds or not olds.get("change_set_id") or olds.get("executed"):
            return []
        return list(olds.get("change_summary") or [])

    def _read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Read the stack's status and outputs (never its parameter values); a deleted stack is gone.

        Returns:
            The refreshed state (under today's names), or an empty id when the stack no longer
            exists (the engine then drops the resource from the state).
        """
        from .aws import cloudformation as cfn  # noqa: PLC0415  (boto3 only in the provider process)

        name = str(props.get("stack_name") or id_)
        deadline = Deadline.after(float(props.get("stack_timeout_seconds") or core.DEFAULT_TIMEOUT_SECONDS))
        target = self._connect(props, name, deadline)
        found = cfn.Deployer(target, deadline=deadline).describe_within_deadline(id_ or name, name)
        if found is None:
            return ReadResult("", {})
        refreshed = {
            **props,
            "stack_id": str(found.get("StackId") or id_),
            "stack_status": str(found.get("StackStatus")),
            "outputs": cfn.stack_outputs(found),
            "termination_protection": bool(found.get("EnableTerminationProtection")),
        }
        return ReadResult(refreshed["stack_id"], refreshed)

    def _delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the stack and wait for it; refused while termination protection is on."""
        from .aws import cloudformation as cfn  # noqa: PLC0415

        name = str(props.get("stack_name") or id_)
        timeout = float(props.get("stack_timeout_seconds") or core.DEFAULT_TIMEOUT_SECONDS)
        # One deadline from before connecting: AssumeRole and the account guard count too.
        deadline = Deadline.after(timeout)
        target = self._connect(props, name, deadline)
        cfn.Deployer(target, deadline=deadline).delete(id_ or name, name, timeout, props.get("assets") or {})

    # --- the work ---------------------------------------------------------------------------------
    def _connect(self, props: Mapping[str, Any], name: str, deadline: Deadline) -> Any:
        """Credentials for the target account (the process's chain, then ``target_role_arn``), account checked.

        The account guard is ``target_account_id``, else the account a recorded state acted in.
        """
        from .aws import cloudformation as cfn  # noqa: PLC0415

        account = props.get("target_account_id") or props.get("account_id")
        return cfn.connect(
            props.get("target_region") or self._config_region,
            props.get("target_role_arn"),
            str(account) if account else None,
            name,
            self._config_profile,
            deadline=deadline,
            external_id=props.get("target_external_id") or None,
        )

    def _deploy(self, inputs: DeploymentInputs, salt: str, olds: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        """Deploy through a change set within ``stack_timeout_seconds``: the outputs."""
        from .aws import cloudformation as cfn  # noqa: PLC0415

        name = inputs.stack_name
        # One deadline from before connecting: AssumeRole and the account guard count too.
        deadline = Deadline.after(inputs.stack_timeout_seconds)
        target = self._connect(inputs.model_dump(), name, deadline)
        if olds:
            _refuse_a_move(olds, target, name)
        document = inputs.document
        assets = core.resource_assets(document)
        digests = _digests(inputs.parameters, name, salt)
        previous = dict((olds or {}).get("deployed_digests") or {})
        keep = frozenset(n for n in core.no_echo_parameters(document) if n in previous and previous[n] == digests.get(n))
        claim = self._claim(inputs, olds)
        request = self._request(inputs, keep, claim, assets, olds)
        result = cfn.Deployer(target, deadline=deadline, progress=_to_stderr).deploy(request)
        verification = _verify(inputs, target, assets, deadline) if result.executed else (olds or {}).get("verification")
        # What the stack holds: the new values once executed (or when nothing needed to change),
        # the previous ones while a change set waits for review.
        applied = result.executed or result.change_set_id is None
        outputs = DeploymentOutputs(
            target_region=target.region,
            account_id=target.account_id,
            stack_id=result.stack_id,
            stack_status=result.stack_status,
            outputs=result.outputs,
            template_sha256=core.template_sha256(inputs.template_body),
            change_summary=result.change_summary,
            parameter_digests=digests,
            deployed_digests=digests if applied else previous,
            digest_salt=salt,
            change_set_id=result.change_set_id,
            executed=result.executed,
            template_url=result.template_url,
            termination_protection=result.termination_protection,
            assets=assets,
            owner_identity=claim.identity,
            stack_created=bool((olds or {}).get("stack_created")) or (result.change_set_type == "CREATE" and result.executed),
            drift=result.drift,
            verification=verification,
            stack_seconds=result.stack_seconds if result.stack_seconds is not None else (olds or {}).get("stack_seconds"),
        )
        # The settings are echoed (diff compares them), never the template or the values.
        settings = echoed_inputs(inputs, "template_body", "parameters")
        return {**settings, **outputs.model_dump()}

    def _request(
        self,
        inputs: DeploymentInputs,
        keep: frozenset[str],
        claim: core.Claim,
        assets: Mapping[str, Any],
        olds: Optional[Mapping[str, Any]],
    ) -> "cfn.DeployRequest":
        """The ``DeployRequest`` of these inputs: ``keep`` (unchanged NoEcho values), the claim, and what the state recorded."""
        from .aws import cloudformation as cfn  # noqa: PLC0415

        return cfn.DeployRequest(
            stack_name=inputs.stack_name,
            template_body=inputs.template_body,
            parameters=inputs.parameters,
            keep=keep,
            capabilities=tuple(inputs.capabilities),
            stack_tags=inputs.stack_tags,
            cloudformation_role_arn=inputs.cloudformation_role_arn,
            notification_arns=tuple(inputs.notification_arns),
            termination_protection=inputs.termination_protection,
            execute_change_set=inputs.execute_change_set,
            claim=claim,
            adopt_allow_removals=inputs.adopt_allow_removals,
            reviewed_changes=self._reviewed(olds),
            created_stack=bool((olds or {}).get("stack_created")),
            timeout_seconds=inputs.stack_timeout_seconds,
            staging_bucket=inputs.staging_bucket,
            staging_prefix=inputs.staging_prefix,
            assets={**dict((olds or {}).get("assets") or {}), **assets},
            on_failure=inputs.on_failure,
            stale_change_set=(olds or {}).get("change_set_id"),
            on_drift=review.drift_mode(inputs.on_drift, inputs.termination_protection),
            expected_seconds=(olds or {}).get("stack_seconds"),
        )


def _to_stderr(line: str) -> None:
    """A line of the stack wait's progress: a dynamic provider has no logger, its stderr reaches the engine's log."""
    print(line, file=sys.stderr, flush=True)


def _verify(inputs: DeploymentInputs, target: Any, assets: Mapping[str, Any], deadline: Deadline) -> Optional[list[dict[str, Any]]]:
    """Each dashboard and analysis as QuickSight describes it once the stack completed, and each SPICE data set's
    first ingestion when the stage waits for it (None: ``verify_assets`` off)."""
    from .aws import verify  # noqa: PLC0415  (boto3 only in the provider process)

    if inputs.verify_assets == "off":
        return None
    prefix = inputs.parameters.get(PREFIX_PARAMETER, "")
    statuses = verify.verify_assets(target, inputs.stack_name, review.verification_targets(assets, prefix), deadline)
    if inputs.wait_for_ingestion:
        statuses += verify.wait_for_ingestions(target, inputs.stack_name, review.ingestion_targets(inputs.document, prefix), deadline)
    return statuses


def _refuse_a_move(olds: Mapping[str, Any], target: Any, name: str) -> None:
    """Refuse a region or account that the chain (not an input) chose differently from the recorded one.

    Raises:
        StackStateError: it would be another stack.
    """
    moved = [
        f"{label} {olds.get(key)} -> {actual}"
        for label, key, actual in (("region", "target_region", target.region), ("account", "account_id", target.account_id))
        if olds.get(key) and olds.get(key) != actual
    ]
    if moved:
        raise core.refuse_replacement(moved, name)


class CloudFormationDeployment(pulumi.dynamic.Resource, module="quicksight", name="CloudFormationDeployment"):
    """A CloudFormation stack deployed through change sets.

    Args:
        resource_name: The Pulumi resource name.
        stack_name: The CloudFormation stack name.
        template_body: The template (JSON). Over 51,200 bytes it is staged in ``staging_bucket``.
        parameters: Parameter values by name; always kept secret; only keyed digests are recorded.
        staging_bucket: A bucket of the target account, in the stack's region, for large templates.
        staging_prefix: Key prefix of staged templates (``<prefix><sha256>.json``).
        target_region: The stack's region (else ``aws:region`` if handed over, else the AWS chain's).
        target_role_arn: A role in the target account to assume.
        target_external_id: The ExternalId ``target_role_arn``'s trust policy asks for (a secret;
            never in an output or a message).
        target_account_id: The target account (required): refuse to act in any other.
        capabilities: ``CAPABILITY_IAM``, ``CAPABILITY_NAMED_IAM``, ``CAPABILITY_AUTO_EXPAND``.
        stack_tags: Stack tags (CloudFormation propagates them to the assets).
        cloudformation_role_arn: The service role CloudFormation assumes (CloudFormation's ``RoleARN``).
        notification_arns: SNS topics for stack events.
        termination_protection: CloudFormation refuses to delete the stack while on.
        stack_timeout_seconds: How long to wait (default 3600); CloudFormation goes on past it.
        execute_change_set: False: create the change set and stop, for review (``change_set_id``,
            ``change_summary``).
        adopt_stack: Take over an existing stack this resource did not create: an untagged one, or
            another deployment's when ``adopt_identity`` names its identity. An adoption's change set
            that removes or replaces resources is executed only after a review (a run with
            ``execute_change_set`` false first) or with ``adopt_allow_removals``.
        adopt_identity: The identity (``quicksight-promotion:managed-by`` tag value) of the deployment
            a stack is taken from (with ``adopt_stack``); ``CloudFormationDeployment`` for a 0.1.0 stack.
        adopt_allow_removals: Execute an adoption's removals and replacements without a review first.
        owner: The readable owner ``<project>/<stack>`` tagged on the stack (``quicksight-promotion:owner``)
            beside this resource's identity, for whoever meets the stack later.
        on_failure: What CloudFormation does when the first create fails (``ROLLBACK``, ``DELETE``,
            ``DO_NOTHING``); either way the next ``up`` creates the stack again.
        on_drift: Before an update, detect drift (edits in the target account) and ``refuse`` (naming each
            drifted asset and property), ``warn`` (output ``drift``) and overwrite it, ``revert`` it through a
            drift-aware change set, or ``ignore`` it; default ``refuse`` with termination protection on, else ``warn``.
        verify_assets: Once the stack completes, describe each dashboard and analysis (output
            ``verification``: per-asset status and errors); ``error`` (default) or ``warning`` is what
            ``QuickSightBundleStack`` makes of a failed one, ``off`` describes none.
        wait_for_ingestion: Once the stack completes, wait for each SPICE data set's first ingestion
            (within the deadline) and add its status to ``verification`` (not with ``verify_assets`` off).
        resource_digests: ``<kind>/<asset id>`` -> sha256 of that resource's JSON in ``template_body``
            (``core.manifest.resource_digests``): known at preview when the template is, it makes
            ``pulumi preview --diff`` list the assets added, changed or removed. No AWS call.
        opts: Resource options (``digest_salt`` is always a secret output).
    """

    stack_name: pulumi.Output[str]
    stack_id: pulumi.Output[str]
    stack_status: pulumi.Output[str]
    outputs: pulumi.Output[dict[str, str]]
    template_sha256: pulumi.Output[str]
    change_summary: pulumi.Output[list[dict[str, Any]]]
    parameter_digests: pulumi.Output[dict[str, str]]
    account_id: pulumi.Output[str]
    target_region: pulumi.Output[str]
    change_set_id: pulumi.Output[Optional[str]]
    executed: pulumi.Output[bool]
    template_url: pulumi.Output[Optional[str]]
    termination_protection: pulumi.Output[bool]
    resource_digests: pulumi.Output[dict[str, str]]
    owner_identity: pulumi.Output[str]
    stack_created: pulumi.Output[bool]
    drift: pulumi.Output[Optional[dict[str, Any]]]
    verification: pulumi.Output[Optional[list[dict[str, Any]]]]
    stack_seconds: pulumi.Output[Optional[float]]

    def __init__(
        self,
        resource_name: str,
        *,
        stack_name: pulumi.Input[str],
        template_body: pulumi.Input[str],
        parameters: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        staging_bucket: Optional[pulumi.Input[str]] = None,
        staging_prefix: Optional[pulumi.Input[str]] = None,
        target_region: Optional[pulumi.Input[str]] = None,
        target_role_arn: Optional[pulumi.Input[str]] = None,
        target_external_id: Optional[pulumi.Input[str]] = None,
        target_account_id: pulumi.Input[str],
        capabilities: Optional[pulumi.Input[Sequence[str]]] = None,
        stack_tags: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        cloudformation_role_arn: Optional[pulumi.Input[str]] = None,
        notification_arns: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        termination_protection: Optional[pulumi.Input[bool]] = None,
        stack_timeout_seconds: Optional[pulumi.Input[int]] = None,
        execute_change_set: Optional[pulumi.Input[bool]] = None,
        adopt_stack: Optional[pulumi.Input[bool]] = None,
        adopt_identity: Optional[pulumi.Input[str]] = None,
        adopt_allow_removals: Optional[pulumi.Input[bool]] = None,
        owner: Optional[pulumi.Input[str]] = None,
        on_failure: Optional[pulumi.Input[str]] = None,
        on_drift: Optional[pulumi.Input[str]] = None,
        verify_assets: Optional[pulumi.Input[str]] = None,
        wait_for_ingestion: Optional[pulumi.Input[bool]] = None,
        resource_digests: Optional[pulumi.Input[Mapping[str, str]]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        # Every keyword argument is the provider input of its name (resource_props refuses any other).
        given = dict(locals())
        props: dict[str, Any] = {k: v for k, v in given.items() if k not in ("self", "resource_name", "opts", "__class__")}
        # Always a secret: credentials are among the values, and the engine then keeps the input
        # encrypted in state (the provider never outputs it).
        props["parameters"] = pulumi.Output.secret(parameters) if parameters is not None else None
        props["target_external_id"] = secret_input(target_external_id)
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        super().__init__(
            CloudFormationDeploymentProvider(),
            resource_name,
            CloudFormationDeploymentProvider.resource_props(props),
            opts,
        )
