"""AWS sessions and client settings: where every boto3 client of this library is made.

Clients are created lazily, inside calls, from the standard SDK chain of the process that runs
them (for a dynamic provider: the ``python -m pulumi.dynamic`` process the engine starts):
environment variables (including ``AWS_ENDPOINT_URL_<SERVICE>``), profiles and shared config.
Throttling is retried by botocore's ``standard`` retry mode; nothing here retries it again.
"""

from __future__ import annotations

import threading
from typing import Any

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ClientError

USER_AGENT = "quicksight-promotion/0.1"

# botocore's standard mode retries throttling and transient errors with capped exponential
# backoff (base 2 s, cap 20 s). Eight attempts in all ride out most bursts of 429s inside one
# poll; a longer burst surfaces as ThrottledError, which the poll loop treats as a poll that
# learnt nothing.
CLIENT_CONFIG = Config(
    retries={"mode": "standard", "total_max_attempts": 8},
    connect_timeout=10,
    read_timeout=30,
    user_agent_extra=USER_AGENT,
)

ACCESS_CODES = frozenset(
    {
        "AccessDeniedException",
        "AccessDenied",
        "UnrecognizedClientException",
        "InvalidClientTokenId",
        "InvalidSignatureException",
        "SignatureDoesNotMatch",
        "ExpiredToken",
        "ExpiredTokenException",
    }
)


_LOADER: botocore.loaders.Loader | None = None
_LOADER_LOCK = threading.Lock()


def _botocore_session() -> botocore.session.Session:
    """A new botocore session (credentials and configuration resolved afresh, as for any call)
    sharing one data loader per process.

    A dynamic provider process serves every create and update of a `pulumi up`; without a shared
    loader each new client parses the QuickSight service model and endpoint rules again, which
    is most of a create's time (bench/overhead.py).
    """
    global _LOADER
    core = botocore.session.get_session()
    with _LOADER_LOCK:
        if _LOADER is None:
            _LOADER = core.get_component("data_loader")
        else:
            core.register_component("data_loader", _LOADER)
    return core


def session(
    region: str | None, role_arn: str | None, session_name: str, profile: str | None = None
) -> boto3.session.Session:
    """A boto3 session from the standard chain, optionally as an assumed role.

    The assumed-role credentials refresh themselves: a wait may outlive one STS session.
    ``profile`` names a shared-config profile to start from (else the chain's, ``AWS_PROFILE``).
    """
    base = boto3.session.Session(botocore_session=_botocore_session(), region_name=region, profile_name=profile)
    if not role_arn:
        return base
    sts = base.client("sts", config=CLIENT_CONFIG)

    def fetch() -> dict[str, Any]:
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name)["Credentials"]
        return {
            "access_key": creds["AccessKeyId"],
            "secret_key": creds["SecretAccessKey"],
            "token": creds["SessionToken"],
            "expiry_time": creds["Expiration"].isoformat(),
        }

    credentials = RefreshableCredentials.create_from_metadata(
        metadata=fetch(), refresh_using=fetch, method="sts-assume-role"
    )
    core = _botocore_session()
    # botocore has no public setter for a session's credentials; this is the documented-by-use
    # way to give a session refreshable credentials of our own.
    core._credentials = credentials  # noqa: SLF001
    return boto3.session.Session(botocore_session=core, region_name=base.region_name)


def error_code(exc: ClientError) -> tuple[str, str]:
    """(code, message) of a botocore ClientError."""
    error = exc.response.get("Error", {})
    return str(error.get("Code", "Unknown")), str(error.get("Message", "")).strip()


def is_access_error(exc: ClientError) -> bool:
    """Whether AWS refused the caller (credentials, signature, permissions)."""
    code, _ = error_code(exc)
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return code in ACCESS_CODES or status in (401, 403)


def client(service: str, region: str | None, role_arn: str | None, session_name: str, profile: str | None = None) -> Any:
    """A boto3 client for ``service`` in ``region``, from the standard chain or as ``role_arn``.

    Args:
        service: The boto3 service name (``cloudformation``, ``s3``, ``sts``...).
        region: The region; None takes the chain's (``AWS_REGION``, the profile's).
        role_arn: A role to assume first (its credentials refresh themselves).
        session_name: The RoleSessionName, shown in CloudTrail.
        profile: A shared-config profile to start from (else the chain's).
    """
    return session(region, role_arn, session_name, profile).client(service, config=CLIENT_CONFIG)


def caller_account(boto_session: boto3.session.Session) -> str:
    """The account the session's credentials act in (STS GetCallerIdentity; needs no permission)."""
    identity = boto_session.client("sts", config=CLIENT_CONFIG).get_caller_identity()
    return str(identity["Account"])


def account_mismatch(actual: str, expected: str | None) -> str | None:
    """Why ``actual`` is refused (None when it is the expected account, or none is expected)."""
    if expected is None or actual == expected:
        return None
    return f"the credentials act in account {actual}, not the expected account {expected}"
