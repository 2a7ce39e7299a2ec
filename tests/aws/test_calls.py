"""The call layer (aws/calls.py): one diagnosis per fault class, the same words through every service the product calls.

The matrix: each fault class (no credentials, access denied, throttled past the deadline,
unreachable, no answer in time, a malformed answer, an unknown host) is provoked at every site
where the product calls AWS: QuickSight for an export and for a release, CloudFormation, S3 staging
a template and S3 writing the release archive, STS assuming the export's, the deployment's and the
archive's role, and STS GetCallerIdentity (the deployment's account guard). Every call is a real
botocore call to a loopback endpoint (``fault_server.FaultServer``, a closed port, or a host DNS
says does not exist); time is faked except where a call must really hang. Each case reads the
message: the fault class's words (only the service's name, AWS's code and the advice differ), the
class of error the site's purpose raises, and the evidence the error carries.
"""

from __future__ import annotations

import socket
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator, Optional

import botocore.retries.standard
import pytest

from cfn_emulator import CloudFormationEmulator
from conftest import FakeTime
from emulator import QuickSightEmulator
from fault_server import MALFORMED, TRICKLE, FaultServer, Refusal
from components.aws import calls
from components.aws.archive_writer import ArchiveTarget, archive_release
from components.aws.calls import ARCHIVE, CLOUDFORMATION, DEPLOYMENT, EXPORT, QUICKSIGHT, RELEASE, S3, STS, Purpose, Service
from components.aws.cloudformation import Deployer, DeployRequest, Target, connect
from components.aws.quicksight import fetch_export
from components.aws.release_cut import ReleaseRequest, cut_release
from components.aws.session import BudgetedClients, CallBudget, base_session
from components.core.manifest import build_manifest
from components.core.models import ExportInputs
from components.core.polling import Deadline
from components.core.transform import INLINE_TEMPLATE_LIMIT
from components.errors import (
    ArchiveTimeoutError,
    AwsAccessError,
    DeploymentUnavailableError,
    QuickSightPromotionError,
    ServiceUnavailableError,
    ThrottledError,
)
from moto_server import MotoServer, moto, moto_env, moto_server  # noqa: F401  (fixtures)

ACCOUNT = "111122223333"
REGION = "eu-west-1"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/qsp-calls"
NAME = "qsp-calls"
BUCKET = "qsp-archive"
DENIED = f"User: arn:aws:iam::{ACCOUNT}:user/ci is not authorized"
TEMPLATE = '{"Resources":{"salesds":{"Type":"AWS::QuickSight::DataSet","Properties":{"DataSetId":"sales-ds"}}}}'
BIG_TEMPLATE = TEMPLATE[:-1] + ',"Description":"' + "x" * INLINE_TEMPLATE_LIMIT + '"}'


def manifest() -> Any:
    return build_manifest(
        name="rel-1",
        template_body=TEMPLATE,
        export_sha256="ab" * 32,
        job_arn=f"arn:aws:quicksight:{REGION}:{ACCOUNT}:asset-bundle-export-job/rel-1",
        source_account_id=ACCOUNT,
        source_region=REGION,
        created_time="2026-11-01T10:00:00+00:00",
        resource_arns=[],
        catalog=[],
        assets={},
        archived_by="AssetBundleRelease",
    )


# --- time: faked, except where a call must really hang ---------------------------------------------


@dataclass
class Timing:
    seconds: int
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    budget: CallBudget

    @classmethod
    def fake(cls) -> "Timing":
        fake = FakeTime()
        return cls(10, fake.clock, fake.sleep, CallBudget())

    @classmethod
    def real(cls) -> "Timing":
        # A 1 s deadline: a hanging call is abandoned after it plus one short request timeout.
        return cls(1, time.monotonic, time.sleep, CallBudget(min_timeout=0.2))


def zero() -> float:
    return 0.0


# --- where the product calls AWS -------------------------------------------------------------------


@dataclass(frozen=True)
class Site:
    """A place the product calls AWS: the service, what the call is for, and how to make it fail."""

    label: str
    service: Service
    purpose: Purpose
    operations: frozenset[str]
    evidence: dict[str, str]
    run: Callable[[Timing, "Endpoints"], None]


@dataclass(frozen=True)
class Endpoints:
    """Working services a site needs besides the faulty one."""

    cloudformation: Optional[str] = None


def export_inputs(role: Optional[str], seconds: int) -> ExportInputs:
    """The export's inputs under their names by role (``source_*``) and their earlier names: the model
    ignores names it does not have, so this reads the same before and after the shell's renames."""
    names = {
        "source_account_id": ACCOUNT, "aws_account_id": ACCOUNT, "source_region": REGION, "region": REGION,
        "source_role_arn": role, "role_arn": role, "export_timeout_seconds": seconds, "timeout_seconds": seconds,
    }  # fmt: skip
    return ExportInputs(export_job_id="job-1", **names)


def export(role: Optional[str] = None) -> Callable[[Timing, Endpoints], None]:
    def run(t: Timing, _: Endpoints) -> None:
        fetch_export(export_inputs(role, t.seconds), sleep=t.sleep, clock=t.clock, draw=zero, call_budget=t.budget)

    return run


def release(t: Timing, _: Endpoints) -> None:
    request = ReleaseRequest(source_account_id=ACCOUNT, release_name="rel-1", dashboard_ids=("d",), source_region=REGION, export_timeout_seconds=t.seconds)
    cut_release(request, sleep=t.sleep, clock=t.clock, draw=zero, call_budget=t.budget)


def clients(service: str, t: Timing, **extra: Any) -> BudgetedClients:
    session = base_session(REGION)
    return BudgetedClients(lambda config: session.client(service, config=config, **extra), t.budget)


def deploy(t: Timing, where: Endpoints) -> None:
    if where.cloudformation:  # a working CloudFormation (with credentials of its own): S3 staging is what fails
        cfn = clients("cloudformation", t, endpoint_url=where.cloudformation, aws_access_key_id="AKIAWORKS", aws_secret_access_key="x")
        body, bucket = BIG_TEMPLATE, "qsp-stage"
    else:
        cfn, body, bucket = clients("cloudformation", t), TEMPLATE, None
    s3 = clients("s3", t)
    deployer = Deployer(Target(cfn, lambda: s3, ACCOUNT, REGION), sleep=t.sleep, clock=t.clock, draw=zero)
    deployer.deploy(DeployRequest(stack_name=NAME, template_body=body, parameters={}, timeout_seconds=t.seconds, staging_bucket=bucket))


def guard(role: Optional[str]) -> Callable[[Timing, Endpoints], None]:
    def run(t: Timing, _: Endpoints) -> None:
        connect(REGION, role, None, NAME, deadline=Deadline.after(t.seconds, t.clock), budget=t.budget, sleep=t.sleep)

    return run


def archive(role: Optional[str] = None) -> Callable[[Timing, Endpoints], None]:
    def run(t: Timing, _: Endpoints) -> None:
        target = ArchiveTarget(BUCKET, region=REGION, role_arn=role, timeout_seconds=t.seconds)
        archive_release(target, manifest(), TEMPLATE, clock=t.clock, sleep=t.sleep, draw=zero, budget=t.budget)

    return run


JOB = {"job_id": "job-1", "account": ACCOUNT, "region": REGION}
STACK = {"stack": NAME, "region": REGION}
SITES = [
    Site("QuickSight for an export", QUICKSIGHT, EXPORT, frozenset({"quicksight:DescribeAssetBundleExportJob"}), JOB, export()),
    Site("QuickSight for a release", QUICKSIGHT, RELEASE, frozenset({"quicksight:DescribeDashboard"}), {**JOB, "job_id": "rel-1"}, release),
    Site("CloudFormation", CLOUDFORMATION, DEPLOYMENT, frozenset({"cloudformation:DescribeStacks"}), STACK, deploy),
    # HeadObject first: a fault the server never sees (no credentials, no host) meets it; else PutObject.
    Site("S3 staging a template", S3, DEPLOYMENT, frozenset({"s3:HeadObject", "s3:PutObject"}), STACK, deploy),
    Site("S3 writing the archive", S3, ARCHIVE, frozenset({"s3:PutObject"}), {"region": REGION}, archive()),
    Site("STS assuming the export's role", STS, EXPORT, frozenset({"sts:AssumeRole"}), JOB, export(ROLE)),
    Site("STS assuming the deployment's role", STS, DEPLOYMENT, frozenset({"sts:AssumeRole"}), STACK, guard(ROLE)),
    Site("STS assuming the archive's role", STS, ARCHIVE, frozenset({"sts:AssumeRole"}), {"region": REGION}, archive(ROLE)),
    Site("STS GetCallerIdentity", STS, DEPLOYMENT, frozenset({"sts:GetCallerIdentity"}), STACK, guard(None)),
]
ENDPOINT_VARIABLE = {QUICKSIGHT: "AWS_ENDPOINT_URL_QUICKSIGHT", CLOUDFORMATION: "AWS_ENDPOINT_URL_CLOUDFORMATION", S3: "AWS_ENDPOINT_URL_S3", STS: "AWS_ENDPOINT_URL_STS"}
# Each service's own codes for a refused caller and for throttling (S3's comes with a 503).
DENIAL = {QUICKSIGHT: Refusal(403, "AccessDeniedException", DENIED), CLOUDFORMATION: Refusal(403, "AccessDenied", DENIED),
          S3: Refusal(403, "AccessDenied", DENIED), STS: Refusal(403, "AccessDenied", DENIED)}  # fmt: skip
THROTTLE = {QUICKSIGHT: Refusal(429, "ThrottlingException", "Rate exceeded"), CLOUDFORMATION: Refusal(400, "Throttling", "Rate exceeded"),
            S3: Refusal(503, "SlowDown", "Rate exceeded"), STS: Refusal(400, "Throttling", "Rate exceeded")}  # fmt: skip
FAULTS = ("no credentials", "access denied", "throttled", "unreachable", "no answer in time", "malformed", "unknown host")
TRANSIENT = ("throttled", "unreachable", "no answer in time")


def words(fault: str, service: Service) -> list[str]:
    """What every site says for ``fault``: only the service's name, its code and its endpoint variable differ."""
    name, endpoint = service.name, ENDPOINT_VARIABLE[service]
    return {
        "no credentials": [
            "no AWS credentials (NoCredentialsError: Unable to locate credentials): configure AWS credentials "
            "(environment, profile or SSO) for the process that runs pulumi"
        ],
        "access denied": [f"AWS denied the call ({DENIAL[service].code}: {DENIED}): "],
        "throttled": [f"{name} throttled the call ({THROTTLE[service].code}: Rate exceeded) beyond botocore's retries: wait a minute and "],
        "unreachable": [
            f"cannot reach {name} (EndpointConnectionError: Could not connect to the endpoint URL: ",
            "check the network and region of the process that runs pulumi (and its proxies), then ",
        ],
        "no answer in time": [
            f"{name} did not answer within 1 s (an answer that hangs or trickles): check the network and proxies "
            f"between this machine and {name}, then "
        ],
        "malformed": [
            f"{name}'s answer is not of the documented shape (",
            f"this is not the documented answer: check {endpoint}, proxies (HTTPS_PROXY) and the region, then ",
        ],
        "unknown host": [
            f"cannot reach {name}: the endpoint's host does not exist (EndpointConnectionError: ",
            f"{name} is not offered in every region: check the network and region of the process that runs pulumi "
            f"(and {endpoint}), then ",
        ],
    }[fault]


def expected_class(fault: str, purpose: Purpose) -> type[QuickSightPromotionError]:
    if fault in ("no credentials", "access denied"):
        return AwsAccessError
    if fault == "malformed":
        return purpose.malformed
    if fault == "unknown host":
        return purpose.refused
    return purpose.deadline  # transient: retried until the deadline


# --- the environment of one case -------------------------------------------------------------------------


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[pytest.MonkeyPatch]:
    """This process's AWS chain with credentials and a region and nothing else; botocore's own backoff zeroed."""
    import os

    for var in list(os.environ):
        if var.startswith(("AWS_", "BOTO")):
            monkeypatch.delenv(var)
    for key, value in {
        "AWS_ACCESS_KEY_ID": "AKIAFAULT",
        "AWS_SECRET_ACCESS_KEY": "fault-secret",
        "AWS_REGION": REGION,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_EC2_METADATA_DISABLED": "true",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    yield monkeypatch


@pytest.fixture(scope="module")
def working() -> Iterator[Endpoints]:
    """A CloudFormation that works (the stack does not exist yet), for the site where S3 staging is what fails."""
    with CloudFormationEmulator(ACCOUNT, REGION) as cloudformation:
        yield Endpoints(cloudformation=cloudformation.endpoint)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def provoke(site: Site, fault: str, aws: pytest.MonkeyPatch, working: Endpoints) -> QuickSightPromotionError:
    """Make ``site``'s call meet ``fault``; the error raised."""
    variable = ENDPOINT_VARIABLE[site.service]
    scripted = {
        "access denied": DENIAL[site.service],
        "throttled": THROTTLE[site.service],
        "no answer in time": TRICKLE,
        "malformed": MALFORMED,
    }.get(fault, Refusal(500, "NeverReached", "the call never reaches the server"))
    timing = Timing.real() if fault == "no answer in time" else Timing.fake()
    with FaultServer(scripted, head_missing=True) as server:
        endpoints = working if site.label.startswith("S3 staging") else Endpoints()
        aws.setenv(variable, server.url)
        if fault == "no credentials":
            aws.delenv("AWS_ACCESS_KEY_ID")
            aws.delenv("AWS_SECRET_ACCESS_KEY")
        elif fault == "unreachable":
            aws.setenv(variable, f"http://127.0.0.1:{closed_port()}")
        elif fault == "unknown host":
            aws.setenv(variable, "http://endpoint.nowhere.invalid")
            real = socket.getaddrinfo

            def resolve(host: Any, *args: Any, **kwargs: Any) -> Any:
                if str(host).endswith("nowhere.invalid"):
                    raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")
                return real(host, *args, **kwargs)

            aws.setattr(socket, "getaddrinfo", resolve)
        with pytest.raises(QuickSightPromotionError) as caught:
            site.run(timing, endpoints)
    return caught.value


# --- the matrix ------------------------------------------------------------------------------------


@pytest.mark.parametrize("site", SITES, ids=[site.label for site in SITES])
@pytest.mark.parametrize("fault", FAULTS)
def test_a_fault_class_reads_the_same_through_every_service(site: Site, fault: str, aws: pytest.MonkeyPatch, working: Endpoints) -> None:
    error = provoke(site, fault, aws, working)
    message = str(error)

    assert type(error) is expected_class(fault, site.purpose), (type(error), message)
    for said in words(fault, site.service):
        assert said in message, f"{said!r} not in: {message}"
    if fault in TRANSIENT:
        # Retried until the deadline, which names the setting to raise and the last fault.
        assert "last fault: " in message and message.index("last fault: ") < message.index(words(fault, site.service)[0])
        setting = site.purpose.timeout_setting
        assert (f"raise {setting}" if setting else "mend the last fault") in message, message
    if site.service is not QUICKSIGHT:
        assert "QuickSight" not in message, message
    # The evidence: where, which call, which code.
    assert error.operation in site.operations, (error.operation, message)
    for name, value in site.evidence.items():
        assert getattr(error, name) == value, (name, error.evidence)
    if fault in ("access denied", "throttled"):
        refusal = (DENIAL if fault == "access denied" else THROTTLE)[site.service]
        assert error.code == refusal.code


def test_access_denied_gives_the_service_or_purpose_advice(aws: pytest.MonkeyPatch, working: Endpoints) -> None:
    advice = {
        "QuickSight for an export": "grant the caller that permission, or set source_role_arn to a role in the source account that has it",
        "CloudFormation": "give the deploying credentials (or target_role_arn) this permission in the target account",
        "S3 writing the archive": "needs s3:PutObject and s3:GetObject on releases/* and templates/* of the bucket",
        "STS assuming the archive's role": "grant the caller sts:AssumeRole on the role, and let the role's trust policy trust the caller",
    }
    for site in SITES:
        if site.label in advice:
            message = str(provoke(site, "access denied", aws, working))
            assert advice[site.label] in message, message


# --- the defects issue 16 names --------------------------------------------------------------------------


def test_without_credentials_the_archive_writer_says_the_credentials_are_missing(aws: pytest.MonkeyPatch, working: Endpoints) -> None:
    [site] = [site for site in SITES if site.label == "S3 writing the archive"]
    error = provoke(site, "no credentials", aws, working)
    assert isinstance(error, AwsAccessError)
    message = str(error)
    assert message.startswith(f"s3:PutObject on s3://{BUCKET}/templates/")
    assert "no AWS credentials (NoCredentialsError: Unable to locate credentials)" in message
    assert "could not be reached" not in message and "check the network" not in message


@pytest.mark.parametrize("answer", [Refusal(400, "Throttling", "Rate exceeded"), Refusal(503, "ServiceUnavailable", "Try again")])
def test_an_sts_throttle_or_5xx_assuming_the_archive_role_is_transient(
    moto_env: MotoServer, monkeypatch: pytest.MonkeyPatch, answer: Refusal
) -> None:
    moto_env.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": moto_env.region})
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, context: 0.0)
    fake = FakeTime()
    target = ArchiveTarget(BUCKET, region=moto_env.region, role_arn=ROLE, timeout_seconds=30)
    with QuickSightEmulator() as sts:  # its STS answers AssumeRole, or the scripted error
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        sts.assume_role_error = (answer.status, answer.code, answer.message)

        # Until the deadline: a transient fault named as such, never "check the role's trust policy".
        with pytest.raises(ArchiveTimeoutError) as caught:
            archive_release(target, manifest(), TEMPLATE, clock=fake.clock, sleep=fake.sleep, draw=zero)
        message = str(caught.value)
        assert message.startswith(f"sts:AssumeRole on {ROLE} for the archive of release 'rel-1' (region {moto_env.region}): ")
        assert "no usable answer within 30 s" in message and f"last fault: STS {'throttled the call' if answer.status == 400 else 'answered HTTP 503'}" in message
        assert "trust policy" not in message
        assert len(sts.calls("AssumeRole")) > 1, "retried on the schedule"

        # A fault that passes: retried, and the release is archived.
        def recover(seconds: float) -> None:
            fake.sleep(seconds)
            sts.assume_role_error = None

        sts.assume_role_error = (answer.status, answer.code, answer.message)
        archived = archive_release(target, manifest(), TEMPLATE, clock=fake.clock, sleep=recover, draw=zero)
    assert archived.written and archived.manifest_key == "releases/rel-1.json"


@pytest.mark.parametrize("site", [site for site in SITES if site.service is not QUICKSIGHT], ids=lambda site: site.label)
def test_a_throttled_error_names_the_service_that_throttled(site: Site, aws: pytest.MonkeyPatch, working: Endpoints) -> None:
    error = provoke(site, "throttled", aws, working)
    message = str(error)
    assert f"last fault: {site.service.name} throttled the call" in message
    assert "QuickSight" not in message


# --- the layer's own rules ---------------------------------------------------------------------------


def test_one_table_per_service_starts_from_the_shared_code_sets() -> None:
    for service in calls.SERVICES:
        for code in calls.THROTTLING_CODES:
            assert service.rule(code, 400).fault is calls.Fault.THROTTLED
        for code in calls.ACCESS_CODES:
            assert service.rule(code, 400).fault is calls.Fault.ACCESS_DENIED
        assert service.rule("SomethingNew", 500).fault is calls.Fault.UNAVAILABLE
        assert service.rule("SomethingNew", 429).fault is calls.Fault.THROTTLED
        assert service.rule("SomethingNew", 403).fault is calls.Fault.ACCESS_DENIED
        assert service.rule("SomethingNew", 400).fault is calls.Fault.REFUSED
    assert calls.QUICKSIGHT.rule("UnsupportedUserEditionException", 403).advice.startswith("asset bundle exports need")
    assert calls.S3.rule("NoSuchBucket", 404).fault is calls.Fault.REFUSED


@pytest.mark.parametrize(
    ("fault", "export", "deployment", "archive"),
    [
        (calls.Fault.THROTTLED, ThrottledError, ThrottledError, ThrottledError),
        (calls.Fault.UNAVAILABLE, ServiceUnavailableError, DeploymentUnavailableError, ServiceUnavailableError),
        (calls.Fault.NO_ANSWER, ServiceUnavailableError, DeploymentUnavailableError, ServiceUnavailableError),
        (calls.Fault.NO_CREDENTIALS, AwsAccessError, AwsAccessError, AwsAccessError),
    ],
)
def test_each_purpose_names_its_error_class(fault: calls.Fault, export: type, deployment: type, archive: type) -> None:
    assert (EXPORT.error_class(fault), DEPLOYMENT.error_class(fault), ARCHIVE.error_class(fault)) == (export, deployment, archive)


def test_an_expected_answer_is_returned_not_raised() -> None:
    from botocore.stub import Stubber

    client = base_session(REGION).client("s3", aws_access_key_id="AKIAX", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error("put_object", "PreconditionFailed", "At least one of the pre-conditions failed", 412)
    stub.add_client_error("head_object", "404", "Not Found", 404)
    caller = calls.Calls(ARCHIVE, "the archive of release 'x'")
    with stub:
        exists = caller.call(client, S3, "PutObject", expect=(calls.OBJECT_EXISTS,), Bucket=BUCKET, Key="k", Body=b"{}", IfNoneMatch="*")
        missing = caller.call(client, S3, "HeadObject", expect=(calls.MISSING_OBJECT,), Bucket=BUCKET, Key="k")
    assert isinstance(exists, calls.Expected) and exists.expect is calls.OBJECT_EXISTS and exists.code == "PreconditionFailed"
    assert isinstance(missing, calls.Expected) and missing.expect is calls.MISSING_OBJECT


def test_hidden_values_are_never_quoted_nor_chained() -> None:
    from botocore.stub import Stubber

    client = base_session(REGION).client("cloudformation", aws_access_key_id="AKIAX", aws_secret_access_key="x")
    stub = Stubber(client)
    stub.add_client_error("describe_stacks", "ValidationError", "value s3cr3t-Pw is bad", 400)
    caller = calls.Calls(DEPLOYMENT, f"CloudFormation stack {NAME!r}", hide=lambda text: text.replace("s3cr3t-Pw", "<value of parameter Pw>"))
    with stub, pytest.raises(QuickSightPromotionError) as caught:
        caller.call(client, CLOUDFORMATION, "DescribeStacks", StackName=NAME)
    assert "value <value of parameter Pw> is bad" in str(caught.value)
    assert caught.value.__cause__ is None and caught.value.__suppress_context__


def test_the_deadline_message_names_the_last_fault_once() -> None:
    fake = FakeTime()
    caller = calls.Calls(EXPORT, "export job 'j'", deadline=Deadline.after(3, fake.clock), sleep=fake.sleep, draw=zero)
    what = caller.what(QUICKSIGHT, "DescribeDashboard", "dashboard 'd'")

    def attempt() -> Any:
        raise caller.error(calls.Diagnosis(calls.Fault.UNAVAILABLE, "InternalFailure: boom", "InternalFailure", 500), QUICKSIGHT, "DescribeDashboard", on="dashboard 'd'")

    with pytest.raises(QuickSightPromotionError) as caught:
        caller.until_deadline(attempt, what)
    message = str(caught.value)
    assert message.count(what) == 1, message
    assert message.startswith(f"{what}: no usable answer within export_timeout_seconds (3 s) (")
    assert "last fault: QuickSight answered HTTP 500 (InternalFailure: boom) beyond botocore's retries" in message
    assert message.endswith("raise export_timeout_seconds, or mend the last fault, then re-run")
    assert (caught.value.operation, caught.value.code) == ("quicksight:DescribeDashboard", "InternalFailure")
    assert fake.now == 3


def test_a_refresh_of_assumed_credentials_that_fails_is_named_as_sts_s() -> None:
    from botocore.exceptions import ClientError

    caller = calls.Calls(EXPORT, "export job 'j'", {"job_id": "j"})

    def refresh_refused() -> Any:
        # What botocore raises when RefreshableCredentials cannot refresh inside a QuickSight call.
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}, "ResponseMetadata": {"HTTPStatusCode": 403}}, "AssumeRole")

    with pytest.raises(AwsAccessError) as caught:
        caller.attempt(QUICKSIGHT, "DescribeAssetBundleExportJob", refresh_refused)
    assert str(caught.value) == (
        "sts:AssumeRole for export job 'j': AWS denied the call (AccessDenied: no): grant the caller sts:AssumeRole on "
        "the role, and let the role's trust policy trust the caller"
    )
    assert caught.value.operation == "sts:AssumeRole"


def test_a_bug_is_not_read_as_a_fault_of_the_call() -> None:
    caller = calls.Calls(EXPORT, "export job 'j'")

    def bug() -> Any:
        raise ZeroDivisionError("ours")

    with pytest.raises(ZeroDivisionError):
        caller.attempt(QUICKSIGHT, "DescribeDashboard", bug)


def test_json_is_what_the_fault_server_speaks_to_quicksight() -> None:
    # The harness is only as good as its protocols: QuickSight's error is read from x-amzn-ErrorType.
    with FaultServer(Refusal(403, "AccessDeniedException", "nope")) as server:
        client = base_session(REGION).client("quicksight", endpoint_url=server.url, aws_access_key_id="AKIAX", aws_secret_access_key="x")
        from botocore.exceptions import ClientError

        with pytest.raises(ClientError) as caught:
            client.describe_dashboard(AwsAccountId=ACCOUNT, DashboardId="d")
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert server.requests == [("json", f"GET /accounts/{ACCOUNT}/dashboards/d")]


# --- AssumeRole: the session names the stack, job or release; an ExternalId is sent, never shown ------------

EXTERNAL_ID = "Ext-Id-Marker-c4f1"


def test_the_archive_role_is_assumed_with_its_external_id_and_a_session_naming_the_release(
    moto_env: MotoServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    from components.aws.archive_writer import archive_outputs

    moto_env.s3.create_bucket(Bucket=BUCKET, CreateBucketConfiguration={"LocationConstraint": moto_env.region})
    outputs = {"template_body": TEMPLATE, "template_sha256": None, "export_job_arn": "arn:job"}
    with QuickSightEmulator() as sts:  # its STS answers AssumeRole
        monkeypatch.setenv("AWS_ENDPOINT_URL_STS", sts.url)
        added = archive_outputs(
            bucket=BUCKET, region=moto_env.region, role_arn=ROLE, name="sales-42.rel", outputs=outputs,
            external_id=EXTERNAL_ID, source_account_id=ACCOUNT, source_region=REGION, archived_by="AssetBundleRelease",
        )  # fmt: skip
        [assume] = sts.calls("AssumeRole")
    assert assume["sts"]["ExternalId"] == EXTERNAL_ID
    assert assume["sts"]["RoleSessionName"] == "qsp-archive-sales-42.rel"
    assert added["archive_manifest_key"] == "releases/sales-42.rel.json"
    assert EXTERNAL_ID not in repr(added)


def test_the_deploy_role_is_assumed_with_its_external_id_and_a_session_naming_the_stack(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.errors import AwsAccessError

    with QuickSightEmulator() as sts:
        for key, value in sts.env().items():
            monkeypatch.setenv(key, value)
        sts.assume_role_error = (403, "AccessDenied", "not authorized to perform sts:AssumeRole")
        with pytest.raises(AwsAccessError) as caught:
            connect(REGION, ROLE, ACCOUNT, "quicksight-sales-prod", deadline=Deadline.after(30), external_id=EXTERNAL_ID)
        [assume] = sts.calls("AssumeRole")
    assert assume["sts"]["ExternalId"] == EXTERNAL_ID
    assert assume["sts"]["RoleSessionName"] == "qsp-deploy-quicksight-sales-prod"
    # Refused: the message names the role and the stack, never the ExternalId (nor does its chain).
    error: Optional[BaseException] = caught.value
    assert f"sts:AssumeRole on {ROLE}" in str(caught.value)
    while error is not None:
        assert EXTERNAL_ID not in str(error) and EXTERNAL_ID not in repr(error)
        error = error.__cause__ or error.__context__


def test_without_an_external_id_none_is_sent(monkeypatch: pytest.MonkeyPatch) -> None:
    with QuickSightEmulator() as sts:
        for key, value in sts.env().items():
            monkeypatch.setenv(key, value)
        sts.assume_role_error = (403, "AccessDenied", "denied")
        with pytest.raises(Exception):
            connect(REGION, ROLE, ACCOUNT, "s", deadline=Deadline.after(30))
        [assume] = sts.calls("AssumeRole")
    assert "ExternalId" not in assume["sts"] and assume["sts"]["RoleSessionName"] == "qsp-deploy-s"
