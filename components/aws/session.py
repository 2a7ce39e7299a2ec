"""AWS sessions and client settings: where every boto3 client of this library is made.

Clients are created lazily, inside calls, from the standard SDK chain of the process that runs
them (for a dynamic provider: the ``python -m pulumi.dynamic`` process the engine starts):
environment variables (including ``AWS_ENDPOINT_URL_<SERVICE>``), profiles and shared config.
Throttling and transient faults are retried by botocore's ``standard`` retry mode within one
call; a caller with a deadline fits each call's timeouts and attempts to the time left
(``CallBudget``, ``BudgetedClients``) and bounds it in wall time (``call_within``). Calls are made,
retried and their failures read by ``calls.py``; this module only makes sessions and clients.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any, Callable, TypeVar

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config
from botocore.credentials import RefreshableCredentials
from botocore.exceptions import ResponseStreamingError

USER_AGENT = "quicksight-promotion/0.1"

T = TypeVar("T")

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

# The largest delay botocore's standard mode sleeps between two attempts (its backoff is
# random(0, 1) * min(2 ** attempt, 20) seconds).
_BOTOCORE_MAX_BACKOFF = 20.0


@dataclass(frozen=True)
class CallBudget:
    """Timeouts and attempts of one API call, fitted to the time left before a deadline.

    botocore's timeouts are per socket operation and per attempt, and its retries sleep between
    attempts: with 8 attempts of a 30 s read timeout one hanging call lasts over 4 minutes,
    whatever deadline the caller had. ``fit`` shrinks the timeouts to the time left and keeps only
    as many attempts as fit in it in the worst case (every attempt hanging to its timeouts, every
    backoff at its maximum), so one call never outlives the deadline by more than one short
    request timeout (``min_timeout``, when less than that is left). Faults that outlast the
    attempts surface as transient errors, which the poll loop retries until the deadline.

    Attributes:
        connect_timeout: Longest TCP/TLS connect, seconds, with time to spare.
        read_timeout: Longest wait for a response's bytes, seconds, with time to spare. QuickSight
            answers Describe in well under a second; 30 s is botocore's own default cap here.
        max_attempts: Attempts (first try + retries) when time allows: eight ride out most bursts
            of throttling inside one poll.
        min_timeout: Shortest timeout ever used, seconds: below it even a healthy call would fail.
    """

    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    max_attempts: int = 8
    min_timeout: float = 1.0

    def fit(self, remaining: float | None) -> tuple[float, float, int]:
        """(connect timeout, read timeout, attempts) for a call with ``remaining`` seconds left (None: no deadline)."""
        if remaining is None:
            return self.connect_timeout, self.read_timeout, self.max_attempts
        left = max(remaining, self.min_timeout)
        # A third of the time for connecting: a dropped SYN must not eat the whole budget.
        connect = min(self.connect_timeout, max(self.min_timeout, left / 3))
        read = min(self.read_timeout, max(self.min_timeout, left - connect))
        attempts = 1
        while attempts < self.max_attempts and self.worst_case(connect, read, attempts + 1) <= left:
            attempts += 1
        return round(connect, 2), round(read, 2), attempts

    @staticmethod
    def worst_case(connect: float, read: float, attempts: int) -> float:
        """Longest time ``attempts`` attempts may take: each hangs to its timeouts, each backoff is maximal."""
        backoff = sum(min(2.0**i, _BOTOCORE_MAX_BACKOFF) for i in range(attempts - 1))
        return attempts * (connect + read) + backoff

    def config(self, remaining: float | None) -> Config:
        """A client ``Config`` (CLIENT_CONFIG's settings) for a call with ``remaining`` seconds left."""
        connect, read, attempts = self.fit(remaining)
        return CLIENT_CONFIG.merge(
            Config(
                connect_timeout=connect,
                read_timeout=read,
                retries={"mode": "standard", "total_max_attempts": attempts},
            )
        )


DEFAULT_CALL_BUDGET = CallBudget()


class BudgetedClients:
    """Clients of one service whose timeouts and retries fit the time left: ``within(remaining)``.

    A client's timeouts are fixed when it is made, so each call asks for a client fitted to its
    own remaining time. Clients are cheap once the data loader is shared (~3 ms); the last one is
    reused while the fit does not change, which keeps its connection pool.

    Args:
        make: Builds a client from a ``Config`` (e.g. ``session.client("quicksight", config=...)``).
        budget: How timeouts and attempts are fitted.
    """

    def __init__(self, make: Callable[[Config], Any], budget: CallBudget = DEFAULT_CALL_BUDGET) -> None:
        self._make = make
        self.budget = budget
        self._last: tuple[tuple[float, float, int], Any] | None = None

    def within(self, remaining: float | None) -> Any:
        """A client whose calls end within ``remaining`` seconds (plus at most one ``min_timeout``)."""
        key = self.budget.fit(remaining)
        if self._last is None or self._last[0] != key:
            self._last = (key, harden(self._make(self.budget.config(remaining))))
        return self._last[1]


class CallTimeout(Exception):
    """A call did not return within its wall-time bound (``call_within``); the caller makes it one of ours."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"no answer within {seconds:.1f} s")
        self.seconds = seconds


def call_within(call: Callable[[], T], seconds: float | None) -> T:
    """``call()``, but give up after ``seconds`` of wall time (None: wait as long as it takes).

    botocore's timeouts bound each socket operation, not a call: an answer trickled a byte at a
    time renews the read timeout forever. The call runs in a daemon thread; past ``seconds`` it is
    abandoned (its socket times out or its answer ends on its own; a boto3 client may be used from
    several threads) and ``CallTimeout`` is raised.

    Raises:
        CallTimeout: the call did not return in time.
        Whatever ``call`` raised.
    """
    if seconds is None:
        return call()
    outcome: dict[str, Any] = {}
    finished = threading.Event()

    def run() -> None:
        try:
            outcome["value"] = call()
        except BaseException as exc:  # noqa: BLE001  (handed to the caller as is)
            outcome["error"] = exc
        finally:
            finished.set()

    threading.Thread(target=run, name="quicksight-promotion-call", daemon=True).start()
    if not finished.wait(max(seconds, 0.0)):
        raise CallTimeout(seconds)
    if "error" in outcome:
        raise outcome["error"]
    return outcome["value"]


def _complete_body(response_dict: dict[str, Any], operation_model: Any = None, **_kwargs: Any) -> None:
    """Refuse an answer whose body is shorter than its Content-Length (botocore does not check).

    botocore reads answers with ``enforce_content_length=False``, so a connection cut mid-answer
    is parsed as if complete: a truncated JSON object reads as an empty answer. A short body is a
    broken connection, hence transient (``ResponseStreamingError``). The answer to a HEAD request
    (S3 HeadObject) has no body by definition: its Content-Length is the object's.
    """
    http = getattr(operation_model, "http", None)
    if isinstance(http, dict) and str(http.get("method", "")).upper() == "HEAD":
        return  # a HEAD answer declares the length of a body it never sends (S3 HeadObject)
    body = response_dict.get("body")
    declared = (response_dict.get("headers") or {}).get("content-length")
    if isinstance(body, (bytes, bytearray)) and declared and str(declared).isdigit() and int(declared) != len(body):
        raise ResponseStreamingError(error=f"the answer ended after {len(body):,} of {int(declared):,} bytes")


def harden(client: Any) -> Any:
    """Make a botocore client refuse truncated answers (see ``_complete_body``); returns it."""
    client.meta.events.register("before-parse", _complete_body, unique_id="quicksight-promotion-complete-body")
    return client


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


def base_session(region: str | None, profile: str | None = None) -> boto3.session.Session:
    """A boto3 session from the standard chain (or ``profile``) in ``region`` (None: the chain's); makes no call."""
    return boto3.session.Session(botocore_session=_botocore_session(), region_name=region, profile_name=profile)


def assumed(
    base: boto3.session.Session,
    role_arn: str,
    session_name: str,
    sts_config: Config | None = None,
    external_id: str | None = None,
) -> boto3.session.Session:
    """A session acting as ``role_arn``, assumed with ``base``'s credentials (AssumeRole is called now).

    The assumed-role credentials refresh themselves: a wait may outlive one STS session.

    Args:
        base: The session whose credentials assume the role.
        role_arn: The role.
        session_name: The STS role session name (shown in CloudTrail): ``core.types.role_session_name``.
        sts_config: The STS client's config (default CLIENT_CONFIG); pass ``CallBudget.config(...)``
            so that AssumeRole fits a deadline.
        external_id: The ExternalId the role's trust policy asks for (never shown anywhere).
    """
    sts = harden(base.client("sts", config=sts_config or CLIENT_CONFIG))

    def fetch() -> dict[str, Any]:
        extra = {"ExternalId": external_id} if external_id else {}
        creds = sts.assume_role(RoleArn=role_arn, RoleSessionName=session_name, **extra)["Credentials"]
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


def account_mismatch(actual: str, expected: str | None) -> str | None:
    """Why ``actual`` is refused (None when it is the expected account, or none is expected)."""
    if expected is None or actual == expected:
        return None
    return f"the credentials act in account {actual}, not the expected account {expected}"
