"""The ``CloudFormationDeployment`` dynamic resource and its provider (thin Pulumi shell).

It deploys a template to a CloudFormation stack through change sets, as ``aws cloudformation
deploy`` does (``components/aws/cloudformation.py``), with what pulumi-aws's
``aws.cloudformation.Stack`` lacks for QuickSight bundles: NoEcho credentials that never make a
preview dirty, a failed first create that the next ``up`` repairs, review before execution,
termination protection and failures named by their root-cause event.

The provider's module and class path (``<package>.deployment.CloudFormationDeploymentProvider``)
are written into users' Pulumi state by dill: they are public API and must not move. Like the
export provider it is built with no arguments and holds no client or credential.

**Credentials.** The provider runs in the ``python -m pulumi.dynamic`` process the engine starts,
not in the program, so it cannot use the program's ``aws.Provider``: it takes the process's AWS
chain (environment, ``AWS_PROFILE``, SSO...), then ``role_arn`` if given. ``expected_account_id``
(STS GetCallerIdentity before any other call) is what stops it from deploying into another
account than the program meant; ``QuickSightBundleStack`` sets it from
``aws.get_caller_identity_output()`` of its own aws provider.

**What the engine hands to ``configure()``.** The engine configures the default provider of the
``pulumi-python`` package (every Python dynamic resource uses it) with
``Target.GetPackageConfig("pulumi-python")`` (pulumi/pulumi ``pkg/resource/deploy/target.go``): for
the two dynamic provider packages it passes the stack's *whole* configuration, namespaces kept
(``aws:region``, ``aws:profile``, ``quicksight-promotion:...``), every value a string, secrets
marked secret; for any other package only its own keys, namespace stripped (pulumi/pulumi#17229 and #17673,
autumn 2024; older engines sent a dynamic provider nothing useful). The SDK's servicer
(``pulumi/dynamic/__main__.py``) turns the Configure ``args`` into ``ConfigureRequest.config``,
secrets unwrapped. So ``aws:region`` and ``aws:profile`` arrive when the stack sets them, and
the provider uses them: ``aws:region`` when the ``region`` input is not set, ``aws:profile`` as
the shared-config profile to start from; without them the standard AWS chain decides. The engine
side cannot run on the test machines (no Pulumi CLI); ``tests/engine/test_engine_deployment.py``
proves the SDK side through the gRPC servicer, with the arguments the engine would send. Both
keys are the stack's *default* aws provider settings, not those of an explicit
``aws.Provider(...)``: the account guard is what makes either case safe.

**Secrets.** ``parameters`` is always a secret input. The provider records only HMAC-SHA256
digests of the values, keyed per resource by a key derived from the stack name and a random salt
(``digest_salt``, a secret output), never a value: no credential is in any output. Diff compares
digests, so an unchanged ``up`` makes no AWS call at all.
"""

from __future__ import annotations

import secrets
from typing import TYPE_CHECKING, Any, Mapping, Optional, Sequence

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import ValidationError

from .inputs import problems as input_problems, is_unknown, known_inputs
from .core import stacks as core
from .core.polling import Deadline
from .errors import InputError

if TYPE_CHECKING:
    # Only SDKs since pulumi/pulumi#17673 have it (requirements allow 3.130); an older SDK never calls configure().
    from pulumi.dynamic import ConfigureRequest

# The engine marks values that are not known yet (during preview) with this sentinel string.

INPUT_NAMES = tuple(core.DeploymentInputs.model_fields)
# Echoed settings: what diff compares against the recorded state.
SETTINGS = (
    "stack_name",
    "region",
    "role_arn",
    "expected_account_id",
    "capabilities",
    "tags",
    "iam_role_arn",
    "notification_arns",
    "termination_protection",
    "timeout_seconds",
    "execute",
    "adopt",
    "staging_bucket",
    "staging_prefix",
    "on_failure",
    "resource_digests",
)
OUTPUT_NAMES = (
    "stack_id",
    "stack_status",
    "outputs",
    "template_sha256",
    "change_summary",
    "parameter_digests",
    "account_id",
    "change_set_id",
    "executed",
    "template_url",
    "deployed_digests",
    "digest_salt",
    "assets",
)
# A secret output: with it the digests cannot be checked against guessed values by whoever reads
# the state's plain text.
SECRET_OUTPUTS = ["digest_salt"]
DEFAULTS: dict[str, Any] = {
    name: field.get_default(call_default_factory=True)
    for name, field in core.DeploymentInputs.model_fields.items()
    if not field.is_required()
}






# Inputs whose given value may be quoted back in a message: identifiers, names and numbers. Never
# `parameters` (credentials: the engine unwraps secrets before a dynamic provider sees them, so the
# provider cannot tell which were secret), `tags`, `template_body` (large), or anything unexpected.
_QUOTABLE = frozenset(
    {
        "stack_name",
        "region",
        "role_arn",
        "expected_account_id",
        "capabilities",
        "iam_role_arn",
        "notification_arns",
        "timeout_seconds",
        "staging_bucket",
        "staging_prefix",
        "on_failure",
        "termination_protection",
        "execute",
        "adopt",
    }
)




def parse_inputs(props: Mapping[str, Any]) -> core.DeploymentInputs:
    """Validate the inputs for create/update, reporting every problem in one message.

    Raises:
        InputError: naming each bad input and what it must look like.
    """
    try:
        return core.DeploymentInputs.model_validate(known_inputs(props, INPUT_NAMES))
    except ValidationError as exc:
        listed = "; ".join(f"{name}: {reason}" for name, reason in input_problems(exc, _QUOTABLE))
        raise InputError(
            f"invalid CloudFormationDeployment inputs for stack {props.get('stack_name')!r}: {listed}; fix them in the "
            "Pulumi program"
        ) from exc


def _normal(name: str, value: Any) -> Any:
    """A setting as compared by diff (absent = default; numbers as the engine sends them)."""
    if value is None:
        value = DEFAULTS.get(name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, (list, tuple)):
        value = list(value)
    return value


def _strings(values: Optional[Mapping[str, Any]]) -> dict[str, str]:
    return {str(k): core.parameter_string(v) for k, v in (values or {}).items()}


def _digests(values: Mapping[str, Any], stack_name: str, salt: str) -> dict[str, str]:
    return core.parameter_digests(_strings(values), core.digest_key(stack_name, salt))


class CloudFormationDeploymentProvider(ResourceProvider):
    """Deploys a template to a CloudFormation stack through change sets.

    Constructed with no arguments and stateless but for what ``configure()`` hands over
    (``aws:region``/``aws:profile``, see the module docstring): safe to pickle into Pulumi state.
    """

    serialize_as_secret_always = False

    def configure(self, req: ConfigureRequest) -> None:
        """Keep ``aws:region`` and ``aws:profile`` of the stack configuration, if the engine hands them over."""
        region = req.config.get("aws:region")
        profile = req.config.get("aws:profile")
        self._config_region = str(region) if isinstance(region, str) and region else None
        self._config_profile = str(profile) if isinstance(profile, str) and profile else None

    # Set by configure() in the provider process; a provider never configured uses the chain alone.
    _config_region: Optional[str] = None
    _config_profile: Optional[str] = None

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the known inputs, every problem at once; unknown ones (preview) are checked in create/update."""
        failures: list[CheckFailure] = []
        for name in ("stack_name", "template_body"):
            if news.get(name) is None:
                failures.append(CheckFailure(name, f"{name} is required"))
        stand_ins = {"stack_name": "stand-in", "template_body": '{"Resources":{}}'}
        try:
            core.DeploymentInputs.model_validate({**stand_ins, **known_inputs(news, INPUT_NAMES)})
        except ValidationError as exc:
            failures.extend(CheckFailure(name, reason) for name, reason in input_problems(exc, _QUOTABLE))
        return CheckResult(news, failures)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare the template's sha256, the parameter digests and the settings; no AWS call.

        ``timeout_seconds``, ``adopt``, the staging location and ``__provider`` never cause a
        change (they only matter while something else changes). A changed stack name, region or
        account is refused here, before the engine could delete anything.

        Raises:
            StackStateError: the change would replace the stack.
        """
        problems = core.replacement_problems(olds, known_inputs(news, INPUT_NAMES))
        if problems:
            raise core.refuse_replacement(problems, olds.get("stack_name"))
        changed = []
        body = news.get("template_body")
        if is_unknown(body) or (body is not None and core.template_sha256(body) != olds.get("template_sha256")):
            changed.append("template_body")
        values = news.get("parameters")
        if is_unknown(values) or (isinstance(values, Mapping) and any(is_unknown(v) for v in values.values())):
            changed.append("parameters")
        elif olds.get("digest_salt") is None or _digests(
            values or {}, str(olds.get("stack_name")), str(olds["digest_salt"])
        ) != (olds.get("parameter_digests") or {}):
            changed.append("parameters")
        if self._digests_changed(olds, news):
            changed.append("resource_digests")
        for name in core.UPDATE_SETTINGS:
            if is_unknown(news.get(name)) or _normal(name, news.get(name)) != _normal(name, olds.get(name)):
                changed.append(name)
        for name in ("stack_name", "region", "expected_account_id", "role_arn"):
            if is_unknown(news.get(name)):
                changed.append(name)
        return DiffResult(changes=bool(changed), replaces=[], stables=[], delete_before_replace=False)

    @staticmethod
    def _digests_changed(olds: Mapping[str, Any], news: Mapping[str, Any]) -> bool:
        """Whether the per-resource digests changed: no AWS call, consistent with the template's sha256.

        They derive from ``template_body``, so they change exactly when its sha256 does; a state
        recorded before they existed has none, and then only the template comparison decides (no
        update on upgrading this library).
        """
        digests = news.get("resource_digests")
        if is_unknown(digests) or (isinstance(digests, Mapping) and any(is_unknown(v) for v in digests.values())):
            return True
        recorded = olds.get("resource_digests")
        if recorded is None:
            return False
        return dict(digests or {}) != dict(recorded)

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Deploy a new stack (or repair a failed first create of ours); the id is the stack's ARN."""
        inputs = parse_inputs(props)
        outs = self._deploy(inputs, secrets.token_hex(16), None)
        return CreateResult(outs["stack_id"], outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Deploy the new template/values/settings through an UPDATE change set (empty: no-op).

        Raises:
            StackStateError: a changed stack name, region or account (refused before any change).
        """
        inputs = parse_inputs(news)
        problems = core.replacement_problems(olds, inputs.model_dump())
        if problems:
            raise core.refuse_replacement(problems, olds.get("stack_name"))
        return UpdateResult(self._deploy(inputs, str(olds.get("digest_salt") or secrets.token_hex(16)), olds))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Read the stack's status and outputs (never its parameter values); a deleted stack is gone.

        Returns:
            The refreshed state, or an empty id when the stack no longer exists (the engine then
            drops the resource from the state).
        """
        from .aws import cloudformation as cfn  # noqa: PLC0415  (boto3 only in the provider process)

        name = str(props.get("stack_name") or id_)
        deadline = Deadline.after(float(props.get("timeout_seconds") or core.DEFAULT_TIMEOUT_SECONDS))
        target = self._connect(props, name, props.get("expected_account_id") or props.get("account_id"), deadline)
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

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete the stack and wait for it; refused while termination protection is on."""
        from .aws import cloudformation as cfn  # noqa: PLC0415

        name = str(props.get("stack_name") or id_)
        timeout = float(props.get("timeout_seconds") or core.DEFAULT_TIMEOUT_SECONDS)
        # One deadline from before connecting: AssumeRole and the account guard count too.
        deadline = Deadline.after(timeout)
        target = self._connect(props, name, props.get("expected_account_id") or props.get("account_id"), deadline)
        cfn.Deployer(target, deadline=deadline).delete(id_ or name, name, timeout, props.get("assets") or {})

    # --- the work ---------------------------------------------------------------------------------
    def _connect(self, props: Mapping[str, Any], name: str, expected: Any, deadline: Deadline) -> Any:
        from .aws import cloudformation as cfn  # noqa: PLC0415

        return cfn.connect(
            props.get("region") or self._config_region,
            props.get("role_arn"),
            str(expected) if expected else None,
            name,
            self._config_profile,
            deadline=deadline,
        )

    def _deploy(self, inputs: core.DeploymentInputs, salt: str, olds: Optional[Mapping[str, Any]]) -> dict[str, Any]:
        from .aws import cloudformation as cfn  # noqa: PLC0415

        name = inputs.stack_name
        # One deadline from before connecting: AssumeRole and the account guard count too.
        deadline = Deadline.after(inputs.timeout_seconds)
        target = self._connect(inputs.model_dump(), name, inputs.expected_account_id, deadline)
        if olds:
            # The chain (not an input) chose the region or account: a change there is another stack too.
            moved = [
                f"{label} {olds.get(key)} -> {actual}"
                for label, key, actual in (("region", "region", target.region), ("account", "account_id", target.account_id))
                if olds.get(key) and olds.get(key) != actual
            ]
            if moved:
                raise core.refuse_replacement(moved, name)
        document = inputs.document
        assets = core.resource_assets(document)
        digests = _digests(inputs.parameters, name, salt)
        previous = dict((olds or {}).get("deployed_digests") or {})
        keep = frozenset(n for n in core.no_echo_parameters(document) if n in previous and previous[n] == digests.get(n))
        request = cfn.DeployRequest(
            stack_name=name,
            template_body=inputs.template_body,
            parameters=inputs.parameters,
            keep=keep,
            capabilities=tuple(inputs.capabilities),
            stack_tags=inputs.tags,
            cloudformation_role_arn=inputs.iam_role_arn,
            notification_arns=tuple(inputs.notification_arns),
            termination_protection=inputs.termination_protection,
            execute_change_set=inputs.execute,
            adopt_stack=inputs.adopt,
            timeout_seconds=inputs.timeout_seconds,
            staging_bucket=inputs.staging_bucket,
            staging_prefix=inputs.staging_prefix,
            assets={**dict((olds or {}).get("assets") or {}), **assets},
            on_failure=inputs.on_failure,
            stale_change_set=(olds or {}).get("change_set_id"),
        )
        result = cfn.Deployer(target, deadline=deadline).deploy(request)
        # What the stack holds: the new values once executed (or when nothing needed to change),
        # the previous ones while a change set waits for review.
        applied = result.executed or result.change_set_id is None
        settings = {key: value for key, value in inputs.model_dump().items() if key in SETTINGS}
        return {
            **settings,
            "region": target.region,
            "account_id": target.account_id,
            "stack_id": result.stack_id,
            "stack_status": result.stack_status,
            "outputs": result.outputs,
            "template_sha256": core.template_sha256(inputs.template_body),
            "change_summary": result.change_summary,
            "parameter_digests": digests,
            "deployed_digests": digests if applied else previous,
            "digest_salt": salt,
            "change_set_id": result.change_set_id,
            "executed": result.executed,
            "template_url": result.template_url,
            "termination_protection": result.termination_protection,
            "assets": assets,
        }


class CloudFormationDeployment(pulumi.dynamic.Resource, module="quicksight", name="CloudFormationDeployment"):
    """A CloudFormation stack deployed through change sets.

    Args:
        resource_name: The Pulumi resource name.
        stack_name: The CloudFormation stack name.
        template_body: The template (JSON). Over 51,200 bytes it is staged in ``staging_bucket``.
        parameters: Parameter values by name; always kept secret; only keyed digests are recorded.
        staging_bucket: A bucket of the target account, in the stack's region, for large templates.
        staging_prefix: Key prefix of staged templates (``<prefix><sha256>.json``).
        region: The stack's region (else ``aws:region`` if handed over, else the AWS chain's).
        role_arn: A role in the target account to assume.
        expected_account_id: Refuse to act in any other account.
        capabilities: ``CAPABILITY_IAM``, ``CAPABILITY_NAMED_IAM``, ``CAPABILITY_AUTO_EXPAND``.
        tags: Stack tags (CloudFormation propagates them to the assets).
        iam_role_arn: The service role CloudFormation assumes.
        notification_arns: SNS topics for stack events.
        termination_protection: CloudFormation refuses to delete the stack while on.
        timeout_seconds: How long to wait (default 3600); CloudFormation goes on past it.
        execute: False: create the change set and stop, for review (``change_set_id``, ``change_summary``).
        adopt: Take over an existing stack this library did not create.
        on_failure: What CloudFormation does when the first create fails (``ROLLBACK``, ``DELETE``,
            ``DO_NOTHING``); either way the next ``up`` creates the stack again.
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
    region: pulumi.Output[str]
    change_set_id: pulumi.Output[Optional[str]]
    executed: pulumi.Output[bool]
    template_url: pulumi.Output[Optional[str]]
    termination_protection: pulumi.Output[bool]
    resource_digests: pulumi.Output[dict[str, str]]

    def __init__(
        self,
        resource_name: str,
        *,
        stack_name: pulumi.Input[str],
        template_body: pulumi.Input[str],
        parameters: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        staging_bucket: Optional[pulumi.Input[str]] = None,
        staging_prefix: Optional[pulumi.Input[str]] = None,
        region: Optional[pulumi.Input[str]] = None,
        role_arn: Optional[pulumi.Input[str]] = None,
        expected_account_id: Optional[pulumi.Input[str]] = None,
        capabilities: Optional[pulumi.Input[Sequence[str]]] = None,
        tags: Optional[pulumi.Input[Mapping[str, pulumi.Input[str]]]] = None,
        iam_role_arn: Optional[pulumi.Input[str]] = None,
        notification_arns: Optional[pulumi.Input[Sequence[pulumi.Input[str]]]] = None,
        termination_protection: Optional[pulumi.Input[bool]] = None,
        timeout_seconds: Optional[pulumi.Input[int]] = None,
        execute: Optional[pulumi.Input[bool]] = None,
        adopt: Optional[pulumi.Input[bool]] = None,
        on_failure: Optional[pulumi.Input[str]] = None,
        resource_digests: Optional[pulumi.Input[Mapping[str, str]]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "stack_name": stack_name,
            "template_body": template_body,
            # Always a secret: credentials are among the values, and the engine then keeps the
            # input encrypted in state (the provider never outputs it).
            "parameters": pulumi.Output.secret(parameters) if parameters is not None else None,
            "staging_bucket": staging_bucket,
            "staging_prefix": staging_prefix,
            "region": region,
            "role_arn": role_arn,
            "expected_account_id": expected_account_id,
            "capabilities": capabilities,
            "tags": tags,
            "iam_role_arn": iam_role_arn,
            "notification_arns": notification_arns,
            "termination_protection": termination_protection,
            "timeout_seconds": timeout_seconds,
            "execute": execute,
            "adopt": adopt,
            "on_failure": on_failure,
            "resource_digests": resource_digests,
        }
        props.update({name: None for name in OUTPUT_NAMES})
        opts = pulumi.ResourceOptions.merge(opts, pulumi.ResourceOptions(additional_secret_outputs=SECRET_OUTPUTS))
        super().__init__(CloudFormationDeploymentProvider(), resource_name, props, opts)
