"""moto's server on loopback: S3, STS and CloudFormation for the deployment provider's happy paths.

One ``ThreadedMotoServer`` per test session (per xdist worker), on a free port of 127.0.0.1; the
``moto`` fixture resets its state (``POST /moto-api/reset``) before every test and hands out boto3
clients pointed at it with fake credentials in ``eu-west-1``. Nothing here reads or needs real
AWS credentials: every client is built with explicit endpoint, keys and region, so the caller's
``AWS_*`` environment is never consulted.

Typical use (import both fixtures into the test module)::

    from moto_server import MotoServer, moto, moto_server  # noqa: F401

    def test_x(moto: MotoServer) -> None:
        moto.s3.create_bucket(Bucket="my-bucket", CreateBucketConfiguration={"LocationConstraint": moto.region})
        moto.cloudformation.create_stack(StackName="s", TemplateBody="{...}")

``moto.account(id)`` gives clients acting in another account (through moto's STS AssumeRole), so
a test can deploy two stages into two accounts of one server.
"""

from __future__ import annotations

import json
import logging
import urllib.request
import warnings
from dataclasses import dataclass
from functools import cached_property
from typing import Any, Iterator, Mapping, Optional

import boto3
import pytest

from components.aws.cloudformation import LOOPBACK_CLOUDFORMATION_SWITCH
from botocore.config import Config

REGION = "eu-west-1"
# moto's default account: what fake long-term keys act as.
DEFAULT_ACCOUNT = "123456789012"
FAKE_KEY_ID = "AKIAMOTOFAKEKEY00001"
FAKE_SECRET = "moto-fake-secret"

_CONFIG = Config(
    retries={"max_attempts": 1, "mode": "standard"},
    s3={"addressing_style": "path"},  # 127.0.0.1 cannot be virtual-hosted
    connect_timeout=5,
    read_timeout=30,
)


@dataclass(frozen=True)
class AccountClients:
    """boto3 clients acting as one account of the moto server."""

    endpoint: str
    account_id: str
    key_id: str
    secret: str
    token: str | None = None
    region: str = REGION

    def client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,
            endpoint_url=self.endpoint,
            region_name=self.region,
            aws_access_key_id=self.key_id,
            aws_secret_access_key=self.secret,
            aws_session_token=self.token,
            config=_CONFIG,
        )

    @cached_property
    def s3(self) -> Any:
        return self.client("s3")

    @cached_property
    def cloudformation(self) -> Any:
        return self.client("cloudformation")

    @cached_property
    def sns(self) -> Any:
        return self.client("sns")


class MotoServer:
    """A running moto server on 127.0.0.1 (a free port) and clients for its default account."""

    def __init__(self) -> None:
        from moto.server import ThreadedMotoServer  # noqa: PLC0415  (moto is heavy to import)

        self._server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
        self.endpoint = ""
        self.region = REGION
        self._default: AccountClients | None = None

    def start(self) -> "MotoServer":
        # werkzeug logs every request on stderr: keep test output readable.
        logging.getLogger("werkzeug").setLevel(logging.ERROR)
        self._server.start()
        host, port = self._server.get_host_and_port()
        self.endpoint = f"http://{host}:{port}"
        self._default = AccountClients(self.endpoint, DEFAULT_ACCOUNT, FAKE_KEY_ID, FAKE_SECRET)
        return self

    def stop(self) -> None:
        self._server.stop()

    def reset(self) -> None:
        """Forget every bucket, object, stack, topic... (moto's own reset endpoint)."""
        request = urllib.request.Request(f"{self.endpoint}/moto-api/reset", method="POST", data=b"")
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310  (loopback only)
            assert response.status == 200, response.status

    # --- clients -------------------------------------------------------------------------------
    @property
    def default(self) -> AccountClients:
        assert self._default is not None, "the moto server is not started"
        return self._default

    @property
    def s3(self) -> Any:
        return self.default.s3

    @property
    def cloudformation(self) -> Any:
        return self.default.cloudformation

    @property
    def sns(self) -> Any:
        return self.default.sns

    def client(self, service: str) -> Any:
        return self.default.client(service)

    def account(self, account_id: str) -> AccountClients:
        """Clients acting in ``account_id``: moto maps the keys of an assumed role to the role's account."""
        if account_id == DEFAULT_ACCOUNT:
            return self.default
        credentials = self.default.client("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/moto-test-deployer", RoleSessionName="moto-test"
        )["Credentials"]
        return AccountClients(
            self.endpoint,
            account_id,
            credentials["AccessKeyId"],
            credentials["SecretAccessKey"],
            credentials["SessionToken"],
        )


@pytest.fixture(scope="session")
def moto_server() -> Iterator[MotoServer]:
    """One moto server for the session (each xdist worker has its own session, so its own port)."""
    server = MotoServer().start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def moto(moto_server: MotoServer) -> Iterator[MotoServer]:
    """The session's moto server, reset to empty for this test."""
    moto_server.reset()
    with warnings.catch_warnings():
        # moto's CloudFormation warns for every resource type it does not model (AWS::QuickSight::*).
        warnings.filterwarnings("ignore", message=r"Tried to parse AWS::QuickSight::")
        yield moto_server


# --- recorded mock inputs ------------------------------------------------------------------------------
#
# Under Pulumi mocks a resource's inputs are recorded with secrets as {SECRET_SIG: ..., "value": ...}.

SECRET_SIG = "4dabf18193072939515e22adb298388d"


def unwrap_secrets(value: Any) -> Any:
    """Plain values of recorded mock inputs: every ``{SECRET_SIG: ..., "value": v}`` becomes ``v``."""
    if isinstance(value, Mapping):
        if SECRET_SIG in value:
            return unwrap_secrets(value.get("value"))
        return {key: unwrap_secrets(item) for key, item in value.items()}
    if isinstance(value, list):
        return [unwrap_secrets(item) for item in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, Mapping) and SECRET_SIG in value


def ensure_bucket(s3: Any, bucket: str, region: str = REGION) -> None:
    """CreateBucket (in ``region``) unless this account already has it."""
    try:
        s3.head_bucket(Bucket=bucket)
    except s3.exceptions.ClientError:
        s3.create_bucket(Bucket=bucket, CreateBucketConfiguration={"LocationConstraint": region})


def stack_description(cloudformation: Any, stack_name: str) -> dict[str, Any]:
    (stack,) = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return stack


def stack_parameters(cloudformation: Any, stack_name: str) -> dict[str, str]:
    """The parameters CloudFormation recorded for a stack, as a mapping."""
    return {p["ParameterKey"]: p["ParameterValue"] for p in stack_description(cloudformation, stack_name).get("Parameters", [])}


def stack_template(cloudformation: Any, stack_name: str) -> Any:
    """The template CloudFormation recorded for a stack, parsed."""
    body = cloudformation.get_template(StackName=stack_name)["TemplateBody"]
    return json.loads(body) if isinstance(body, str) else json.loads(json.dumps(body))


# --- running the real deployment provider against moto -------------------------------------------------


# An AWS environment where nothing listens: a provider process given it can make no AWS call, so
# whatever it decides (an unchanged `up`, a preview) it decides without one.
NOWHERE = {
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
    "AWS_ACCESS_KEY_ID": "AKIANOWHERE000000000",
    "AWS_SECRET_ACCESS_KEY": "nowhere",
    "AWS_DEFAULT_REGION": REGION,
    "AWS_MAX_ATTEMPTS": "1",
}


def aws_env(clients: AccountClients) -> dict[str, str]:
    """AWS_* environment that points the standard SDK chain at the moto server, acting as ``clients``' account.

    The CloudFormationDeployment provider builds its own clients from the chain (as in the provider
    process): one ``AWS_ENDPOINT_URL`` sends STS, CloudFormation and S3 to moto.
    """
    env = {
        "AWS_ENDPOINT_URL": clients.endpoint,
        "AWS_ACCESS_KEY_ID": clients.key_id,
        "AWS_SECRET_ACCESS_KEY": clients.secret,
        "AWS_DEFAULT_REGION": clients.region,
        "AWS_REGION": clients.region,
        # moto evaluates a change set before CreateChangeSet answers: poll it at once.
        LOOPBACK_CLOUDFORMATION_SWITCH: "1",
    }
    if clients.token:
        env["AWS_SESSION_TOKEN"] = clients.token
    return env


@pytest.fixture
def moto_env(moto: MotoServer, monkeypatch: pytest.MonkeyPatch) -> MotoServer:
    """The reset moto server, with this process's AWS chain pointed at its default account."""
    for var in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ROLE_ARN", "AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONFIG_FILE"):
        monkeypatch.delenv(var, raising=False)
    for key, value in aws_env(moto.default).items():
        monkeypatch.setenv(key, value)
    return moto
