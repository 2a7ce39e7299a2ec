"""Which AWS operations the product makes, and as which role: recorded while the suite runs.

Every AWS call of the product goes through one method, ``calls.Calls.attempt`` (AssumeRole
included: ``Calls.open_session``), and every boto3 call ends in botocore's
``BaseClient._make_api_call``, Stubber's and the emulators' alike. ``install`` wraps both:

- ``Calls.attempt`` notes, in the caller's thread, the purpose of the calls (export, release,
  deployment, archive) and whether the caller is the product (a frame of ``components/`` other
  than the call layer itself: a test of the call layer that calls it directly is not the
  product), and hands that to the thread that makes the call (``session.call_within``).
- ``_make_api_call`` records ``(role, "<service>:<Operation>")`` for a call made under a
  product's ``Calls.attempt``. A boto3 call made by product code outside ``Calls`` is recorded
  for the role ``UNATTRIBUTED``, which no policy grants, so the test that made it fails.

The role follows from the purpose (``ROLE_OF_PURPOSE``); AssumeRole is made with the pipeline's
own credentials, whatever the purpose, so it is the pipeline's. The program reads the archive
through pulumi-aws invokes (``aws.s3.getObject``), which run in the Pulumi engine's aws provider:
the Pulumi mocks record them with ``record_invoke`` (``INVOKES``: token -> role and action).

Calls made by a dynamic provider in its own process (the engine harness) are not seen here; the
same code paths run in-process in tests/aws, which is where the recorded set comes from.

The IAM action of an operation is ``<service>:<Operation>`` except where ``ACTION_OF`` says
otherwise (S3's HeadObject is authorised by s3:GetObject); some parameters need an action of
their own (``IMPLIED``: a CloudFormation ``RoleARN`` is iam:PassRole, an S3 ``VersionId``
s3:GetObjectVersion), and CloudFormation reads a ``TemplateURL`` with the caller's credentials.

A whole-suite run with ``QSP_WRITE_OPERATIONS=1`` writes the record anew (``LISTED``).
"""

from __future__ import annotations

import json
import os
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator, Mapping, Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
COMPONENTS = ROOT / "components"
# The call layer itself: a frame here is not a caller.
_CALL_LAYER = {COMPONENTS / "aws" / "calls.py", COMPONENTS / "aws" / "session.py"}

# The committed record of what the product makes, by role (tests/project/test_policies.py reads it).
LISTED = ROOT / "tests" / "project" / "operations.json"

_MERGED = pytest.StashKey[set]()

PIPELINE = "pipeline"
UNATTRIBUTED = "unattributed"

# IAM actions that are not "<service>:<Operation>".
ACTION_OF = {
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
}

# Parameters that need a permission of their own beside the operation's: (IAM action, parameter) -> action.
IMPLIED = {
    ("cloudformation:CreateChangeSet", "RoleARN"): "iam:PassRole",
    ("cloudformation:CreateStack", "RoleARN"): "iam:PassRole",
    ("cloudformation:UpdateStack", "RoleARN"): "iam:PassRole",
    ("s3:GetObject", "VersionId"): "s3:GetObjectVersion",
    ("s3:PutObject", "Tagging"): "s3:PutObjectTagging",
    ("s3:PutObject", "ObjectLockMode"): "s3:PutObjectRetention",
    ("s3:PutObject", "ObjectLockRetainUntilDate"): "s3:PutObjectRetention",
    ("s3:PutObject", "ObjectLockLegalHoldStatus"): "s3:PutObjectLegalHold",
}

# pulumi-aws invokes the program makes -> (role, IAM action); invokes that call no AWS API are absent.
INVOKES = {
    "aws:s3/getObject:getObject": ("archive-reader", "s3:GetObject"),
    "aws:index/getCallerIdentity:getCallerIdentity": (PIPELINE, "sts:GetCallerIdentity"),
}


def _role_of_purpose() -> dict[int, str]:
    from components.aws import calls

    return {
        id(calls.EXPORT): "source-export-reader",
        id(calls.RELEASE): "release-cutter",
        id(calls.DEPLOYMENT): "target-deployer",
        id(calls.ARCHIVE): "archive-writer",
    }


def actions(service: str, operation: str, params: Any = None) -> list[str]:
    """The IAM actions that authorise ``operation`` of ``service`` (its signing name) with ``params``."""
    name = f"{service}:{operation}"
    needed = [ACTION_OF.get(name, name)]
    params = params if isinstance(params, dict) else {}
    for (implied_by, parameter), implied in IMPLIED.items():
        if implied_by == needed[0] and params.get(parameter) is not None:
            needed.append(implied)
    url = params.get("TemplateURL")
    if service == "cloudformation" and isinstance(url, str):
        # CloudFormation reads a TemplateURL's object with the caller's credentials: at a version
        # (``?versionId=``) that is s3:GetObjectVersion.
        needed.append("s3:GetObjectVersion" if "versionId=" in url else "s3:GetObject")
    return needed


class Recorder:
    """The (role, IAM action) pairs made so far in this process, in order of first use."""

    def __init__(self) -> None:
        self.made: dict[tuple[str, str], None] = {}
        self._lock = threading.Lock()
        self._local = threading.local()

    def add(self, role: str, iam_action: str) -> None:
        with self._lock:
            self.made.setdefault((role, iam_action), None)

    def pairs(self) -> list[tuple[str, str]]:
        with self._lock:
            return list(self.made)


RECORDER = Recorder()


_KIND_OF_FILE: dict[str, str] = {}


def _kind(filename: str) -> str:
    """"layer" (the call layer), "product" (the rest of components/) or "" (anything else), cached per file."""
    kind = _KIND_OF_FILE.get(filename)
    if kind is None:
        path = Path(filename).resolve()
        kind = "layer" if path in _CALL_LAYER else "product" if COMPONENTS in path.parents else ""
        _KIND_OF_FILE[filename] = kind
    return kind


def _product_caller(frame: Any) -> bool:
    """Whether a frame of product code above the call layer is on the stack (else the caller is a test)."""
    while frame is not None:
        if _kind(frame.f_code.co_filename) == "product":
            return True
        frame = frame.f_back
    return False


def _in_product(frame: Any) -> bool:
    """Whether any frame of components/ (call layer included) is on the stack."""
    while frame is not None:
        if _kind(frame.f_code.co_filename):
            return True
        frame = frame.f_back
    return False


def install() -> None:
    """Wrap ``Calls.attempt`` and botocore's ``_make_api_call`` (once per process)."""
    import botocore.client

    from components.aws.calls import Calls

    if getattr(Calls.attempt, "_records_operations", False):
        return
    roles = _role_of_purpose()
    local = RECORDER._local  # noqa: SLF001
    attempt = Calls.attempt

    def recording_attempt(self: Calls, service: Any, operation: Any, invoke: Callable[[], Any], **kwargs: Any) -> Any:
        # "" marks a call the product did not make (a test of the call layer): recorded for nobody.
        role = roles.get(id(self.purpose), UNATTRIBUTED) if _product_caller(sys._getframe(1)) else ""  # noqa: SLF001

        def traced() -> Any:
            before = getattr(local, "role", None)
            local.role = role
            try:
                return invoke()
            finally:
                local.role = before

        return attempt(self, service, operation, traced, **kwargs)

    recording_attempt._records_operations = True  # type: ignore[attr-defined]
    Calls.attempt = recording_attempt  # type: ignore[method-assign]

    make_api_call = botocore.client.BaseClient._make_api_call  # noqa: SLF001

    def recording_make_api_call(client: Any, operation_name: str, api_params: Any) -> Any:
        role = getattr(local, "role", None)
        if role is None and _in_product(sys._getframe(1)):  # noqa: SLF001
            role = UNATTRIBUTED
        if role:
            service = client.meta.service_model.signing_name
            if (service, operation_name) == ("sts", "AssumeRole"):
                role = PIPELINE
            for needed in actions(service, operation_name, api_params):
                RECORDER.add(role, needed)
        return make_api_call(client, operation_name, api_params)

    botocore.client.BaseClient._make_api_call = recording_make_api_call  # type: ignore[method-assign]  # noqa: SLF001


def record_invoke(token: str, args: Optional[Mapping[str, Any]] = None) -> None:
    """Record a pulumi-aws invoke the program made (a no-op for invokes that call no AWS API).

    S3 authorizes a GetObject of a given version as ``s3:GetObjectVersion``, not ``s3:GetObject``.
    """
    if token in INVOKES:
        role, action = INVOKES[token]
        if action == "s3:GetObject" and (args or {}).get("versionId"):
            action = "s3:GetObjectVersion"
        RECORDER.add(role, action)


def read_listed(path: Path = LISTED) -> dict[str, list[str]]:
    """The committed record: role -> IAM actions ({} before it is first written)."""
    if not path.is_file():
        return {}
    return json.loads(path.read_text(encoding="utf-8"))


_LISTED_PAIRS: list[set[tuple[str, str]]] = []


def listed_once() -> set[tuple[str, str]]:
    """The committed record's pairs, read once per process (the per-test check)."""
    if not _LISTED_PAIRS:
        _LISTED_PAIRS.append(listed_pairs(read_listed()))
    return _LISTED_PAIRS[0]


def listed_pairs(listed: dict[str, list[str]]) -> set[tuple[str, str]]:
    return {(role, act) for role, actions in listed.items() for act in actions}


def as_listing(pairs: Iterable[tuple[str, str]]) -> dict[str, list[str]]:
    """role -> sorted IAM actions (the shape of the committed record)."""
    listing: dict[str, set[str]] = {}
    for role, act in pairs:
        listing.setdefault(role, set()).add(act)
    return {role: sorted(actions) for role, actions in sorted(listing.items())}


# --- the pytest plugin (tests/conftest.py names this module in pytest_plugins) -------------------------


def pytest_configure(config: pytest.Config) -> None:
    install()
    config.stash[_MERGED] = set()
    if config.pluginmanager.hasplugin("xdist"):
        config.pluginmanager.register(_FromWorkers(config), "operations-from-workers")


class _FromWorkers:
    """Collects each xdist worker's record when it finishes (``workeroutput``)."""

    def __init__(self, config: pytest.Config) -> None:
        self.config = config

    def pytest_testnodedown(self, node: Any, error: Any) -> None:
        pairs = json.loads(getattr(node, "workeroutput", {}).get("operations", "[]"))
        self.config.stash[_MERGED].update(tuple(pair) for pair in pairs)


@pytest.fixture(autouse=True)
def _operations_are_listed() -> Iterator[None]:
    """Fail the test that made an operation the committed record (and so the policies) does not list."""
    before = set(RECORDER.pairs())
    yield
    if os.environ.get("QSP_WRITE_OPERATIONS") == "1":
        return  # the record is being written anew
    listed = listed_once()
    unlisted = sorted(pair for pair in RECORDER.pairs() if pair not in before and pair not in listed)
    if unlisted:
        pytest.fail(
            "this test made AWS operations that tests/project/operations.json does not list for the role that makes "
            f"them: {unlisted}; add each to that file and to the role's policy in policies/ (see policies/README.md)"
        )


def _whole_suite(session: pytest.Session) -> bool:
    """Whether this run ran the whole suite (no selection), so that every operation had its chance."""
    option = session.config.option
    if getattr(option, "keyword", "") or getattr(option, "markexpr", "") or getattr(option, "lf", False):
        return False
    if getattr(option, "deselect", None) or getattr(option, "exitfirst", False):
        return False
    roots = {ROOT, ROOT / "tests"}
    return all(Path(str(arg)).resolve() in roots for arg in session.config.args)


@pytest.hookimpl(trylast=True)
def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    config = session.config
    if hasattr(config, "workerinput"):  # an xdist worker: hand the record to the controller
        config.workeroutput["operations"] = json.dumps(RECORDER.pairs())  # type: ignore[attr-defined]
        return
    recorded = config.stash[_MERGED] | set(RECORDER.pairs())
    if not _whole_suite(session):
        return
    if os.environ.get("QSP_WRITE_OPERATIONS") == "1":
        if session.testsfailed:
            return  # a failed test may not have made all it makes
        LISTED.write_text(json.dumps(as_listing(recorded), indent=2) + "\n", encoding="utf-8")
        return
    never = sorted(listed_pairs(read_listed()) - recorded)
    if never:
        reporter = config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.ensure_newline()
            reporter.write_line(
                "tests/project/operations.json lists operations no test made (remove them there and from the "
                f"role's policy in policies/): {never}",
                red=True,
            )
        session.exitstatus = pytest.ExitCode.TESTS_FAILED
