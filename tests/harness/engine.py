"""An engine harness: runs the dynamic provider exactly the way ``pulumi up`` does.

The Pulumi engine starts ``python -u -m pulumi.dynamic`` in the project directory, reads the
gRPC port from the first line of its stdout and calls the ResourceProvider service. The
provider itself travels in the ``__provider`` property, dill-serialised by the program exactly
as ``pulumi.dynamic.Resource.__init__`` does it. This harness does the same, so a test sees
the provider through the real gRPC servicer (``pulumi/dynamic/__main__.py``): property
(de)serialisation, unknowns, echoing of ``__provider`` and errors turned into tracebacks.

Typical use::

    with EngineHarness(env=emulator.env()) as engine:
        first = engine.up({"source_account_id": "111111111111", "export_job_id": "job-1"})
        again = engine.up({"source_account_id": "111111111111", "export_job_id": "job-1"}, first.state)
        assert again.action == "same"

Values are plain Python dicts. Numbers come back as the engine holds them (doubles), turned
into ``int`` when integral. ``UNKNOWN`` (the engine's preview sentinel) may be used as a value.
"""

from __future__ import annotations

import asyncio
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any, Mapping, Optional

import grpc
from google.protobuf import json_format, struct_pb2

from pulumi.dynamic.dynamic import serialize_provider
from pulumi.runtime import rpc
from pulumi.runtime._grpc_settings import _GRPC_CHANNEL_OPTIONS
from pulumi.runtime._serialization import _serialize
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

REPO_ROOT = Path(__file__).resolve().parents[2]
PROVIDER_KEY = "__provider"
# The string the engine puts in place of a value not known yet (preview).
UNKNOWN = rpc.UNKNOWN

# The engine's gRPC client (pulumi/pulumi sdk/go/common/util/rpcutil: GrpcChannelOptions) raises
# the receive limit to 400 MiB and leaves grpc-go's metadata limit at its default, 16 MiB
# (defaultClientMaxHeaderListSize = 16 << 20): a provider's error travels as a status message in
# the trailers, so this harness accepts metadata as large as the engine does (grpcio's own
# default, 8 KiB, would cut long messages that a user still sees in full).
ENGINE_MAX_METADATA_BYTES = 16 * 1024 * 1024
ENGINE_MAX_MESSAGE_BYTES = 400 * 1024 * 1024
ENGINE_CHANNEL_OPTIONS = [
    *[option for option in _GRPC_CHANNEL_OPTIONS if option[0] != "grpc.max_receive_message_length"],
    ("grpc.max_receive_message_length", ENGINE_MAX_MESSAGE_BYTES),
    ("grpc.max_metadata_size", ENGINE_MAX_METADATA_BYTES),
]

PROJECT = "quicksight-promotion"
STACK = "test"
RESOURCE_TYPE = "pulumi-python:dynamic/quicksight:AssetBundleExport"
RELEASE_RESOURCE_TYPE = "pulumi-python:dynamic/quicksight:AssetBundleRelease"
DEPLOYMENT_TYPE = "pulumi-python:dynamic/quicksight:CloudFormationDeployment"

DIFF_NONE = provider_pb2.DiffResponse.DIFF_NONE
DIFF_SOME = provider_pb2.DiffResponse.DIFF_SOME
DIFF_UNKNOWN = provider_pb2.DiffResponse.DIFF_UNKNOWN


def serialized_provider(provider: Any = None) -> str:
    """The ``__provider`` string a Pulumi program would send for ``provider``.

    Same call as ``pulumi.dynamic.Resource.__init__``. The engine strips secretness before
    calling a provider that answers ``acceptSecrets=False`` (the dynamic provider does), so the
    plain string is returned whether or not it would have been a secret Output.
    """
    if provider is None:
        from components.provider import AssetBundleExportProvider

        provider = AssetBundleExportProvider()
    text, _contains_secrets = _serialize(True, serialize_provider, provider)
    return text


def urn(name: str = "bundle", resource_type: str = RESOURCE_TYPE) -> str:
    return f"urn:pulumi:{STACK}::{PROJECT}::{resource_type}::{name}"


# --- property conversion -----------------------------------------------------------------------


def to_struct(props: Mapping[str, Any]) -> struct_pb2.Struct:
    """Serialise plain values as the SDK does (None values are dropped; UNKNOWN stays a string)."""
    loop = asyncio.new_event_loop()
    try:
        return loop.run_until_complete(rpc.serialize_properties(dict(props), {}))
    finally:
        loop.close()


def _plain(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, list):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    """Plain dict of a Struct (top-level nulls dropped, as the SDK does; UNKNOWN kept as the string)."""
    raw = json_format.MessageToDict(struct)
    return {k: _plain(v) for k, v in raw.items() if v is not None}


# --- results -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CheckOutcome:
    inputs: dict[str, Any]
    failures: list[tuple[str, str]]


@dataclass(frozen=True)
class DiffOutcome:
    changes: int  # DIFF_NONE / DIFF_SOME / DIFF_UNKNOWN
    replaces: list[str]
    stables: list[str]
    delete_before_replace: bool
    raw: provider_pb2.DiffResponse = field(repr=False, compare=False)

    @property
    def has_changes(self) -> bool:
        return self.changes == DIFF_SOME or bool(self.replaces)

    @property
    def replace(self) -> bool:
        return bool(self.replaces)


@dataclass(frozen=True)
class ResourceState:
    """What the engine records for the resource: its id, checked inputs and outputs."""

    id: str
    inputs: dict[str, Any]
    outputs: dict[str, Any]


@dataclass(frozen=True)
class StepResult:
    """What ``up``/``preview`` did.

    Attributes:
        action: ``create``, ``same``, ``update`` or ``replace``.
        state: The resulting state (for a preview: the state the step would start from; for a
            previewed create: None).
        check: The Check answer.
        diff: The Diff answer (None for a create).
        deleted_id: The id deleted after a replacement.
        raw: The raw Create/Update response, if any.
    """

    action: str
    state: Optional[ResourceState]
    check: CheckOutcome
    diff: Optional[DiffOutcome] = None
    deleted_id: Optional[str] = None
    raw: Any = field(default=None, repr=False, compare=False)

    @property
    def id(self) -> Optional[str]:
        return self.state.id if self.state else None

    @property
    def outputs(self) -> dict[str, Any]:
        return self.state.outputs if self.state else {}


class CheckFailedError(Exception):
    """Check returned failures; the engine would stop here and print them."""

    def __init__(self, failures: list[tuple[str, str]]) -> None:
        self.failures = failures
        super().__init__("; ".join(f"{prop}: {reason}" for prop, reason in failures))


# --- errors as the user sees them ----------------------------------------------------------------


def error_text(exc: grpc.RpcError) -> str:
    """The full text the provider sent: the Python traceback (``details()``)."""
    return exc.details() or ""  # type: ignore[attr-defined]


def user_error(exc: grpc.RpcError) -> str:
    """The line a user reads: the traceback's last line, ``module.ErrorClass: message``."""
    lines = [line for line in error_text(exc).splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


# --- the harness ---------------------------------------------------------------------------------


def provider_env(extra: Optional[Mapping[str, str]] = None) -> dict[str, str]:
    """This process's environment without any AWS_* variable or PYTHONPATH, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_") and k != "PYTHONPATH"}
    env.update(extra or {})
    return env


class EngineHarness:
    """One ``python -u -m pulumi.dynamic`` process driven over gRPC like the Pulumi engine.

    Args:
        env: Extra environment for the provider process (e.g. ``QuickSightEmulator().env()``);
            it is laid over this process's environment stripped of every ``AWS_*`` variable.
        cwd: The project directory (the repo root): ``-m`` puts it on ``sys.path``.
        startup_timeout: Seconds to wait for the port line and a ready channel.
        call_timeout: Deadline of each gRPC call.
        provider: The provider object to serialise into ``__provider`` (default: a new
            ``AssetBundleExportProvider``).
        configure: Call Configure right after start, as the engine does.
        name: The resource's name in its URN.
        resource_type: The resource's type token in its URN (``RELEASE_RESOURCE_TYPE``, ``DEPLOYMENT_TYPE``).
        config: The ``args`` of that first Configure call (stack configuration keys, e.g. ``aws:region``).
    """

    def __init__(
        self,
        env: Optional[Mapping[str, str]] = None,
        *,
        cwd: Path = REPO_ROOT,
        startup_timeout: float = 20.0,
        call_timeout: float = 60.0,
        provider: Any = None,
        configure: bool = True,
        name: str = "bundle",
        resource_type: str = RESOURCE_TYPE,
        config: Optional[Mapping[str, Any]] = None,
    ) -> None:
        self.env = provider_env(env)
        self.cwd = Path(cwd)
        self.startup_timeout = startup_timeout
        self.call_timeout = call_timeout
        self.provider_string = serialized_provider(provider)
        self.urn = urn(name, resource_type)
        self._configure_on_start = configure
        self._config = dict(config or {})
        self.process: Optional[subprocess.Popen[bytes]] = None
        self.port: Optional[int] = None
        self.channel: Optional[grpc.Channel] = None
        self.stub: Optional[provider_pb2_grpc.ResourceProviderStub] = None
        self._stderr: Optional[IO[bytes]] = None
        self._stdout_lines: "queue.Queue[Optional[bytes]]" = queue.Queue()

    # --- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> "EngineHarness":
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def start(self) -> None:
        self._stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            [sys.executable, "-u", "-m", "pulumi.dynamic"],
            cwd=str(self.cwd),
            env=self.env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=self._stderr,
        )
        # Drain stdout for the life of the process, so that a print() never blocks it.
        threading.Thread(target=self._pump_stdout, daemon=True).start()
        try:
            deadline = time.monotonic() + self.startup_timeout
            try:
                first = self._stdout_lines.get(timeout=self.startup_timeout)
            except queue.Empty:
                raise RuntimeError(
                    f"the provider printed no port within {self.startup_timeout} s; stderr:\n{self.stderr_text()}"
                ) from None
            if not first or not first.strip().isdigit():
                raise RuntimeError(
                    f"the provider's first stdout line is not a port: {first!r}; stderr:\n{self.stderr_text()}"
                )
            self.port = int(first.strip())
            self.channel = grpc.insecure_channel(f"127.0.0.1:{self.port}", options=ENGINE_CHANNEL_OPTIONS)
            grpc.channel_ready_future(self.channel).result(timeout=max(0.1, deadline - time.monotonic()))
            self.stub = provider_pb2_grpc.ResourceProviderStub(self.channel)
            if self._configure_on_start:
                self.configure(self._config)
        except BaseException:
            self.close()
            raise

    def _pump_stdout(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in iter(self.process.stdout.readline, b""):
            self._stdout_lines.put(line)
        self._stdout_lines.put(None)

    def close(self) -> None:
        if self.channel is not None:
            self.channel.close()
            self.channel = None
        if self.process is not None:
            if self.process.poll() is None:
                self.process.kill()
            try:
                self.process.wait(timeout=10)
            finally:
                if self.process.stdout:
                    self.process.stdout.close()
        if self._stderr is not None:
            self._stderr.close()
            self._stderr = None

    def stderr_text(self) -> str:
        if self._stderr is None:
            return ""
        self._stderr.flush()
        self._stderr.seek(0)
        return self._stderr.read().decode("utf-8", "replace")

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    # --- raw RPCs with plain dicts -------------------------------------------------------------
    def _with_provider(self, props: Mapping[str, Any]) -> dict[str, Any]:
        out = dict(props)
        out.setdefault(PROVIDER_KEY, self.provider_string)
        return out

    def _call(self, method: str, request: Any) -> Any:
        assert self.stub is not None, "the harness is not started"
        return getattr(self.stub, method)(request, timeout=self.call_timeout)

    def configure(self, args: Optional[Mapping[str, Any]] = None) -> provider_pb2.ConfigureResponse:
        request = provider_pb2.ConfigureRequest(
            args=to_struct(args or {}), acceptSecrets=True, acceptResources=True
        )
        return self._call("Configure", request)

    def check(self, olds: Optional[Mapping[str, Any]], news: Mapping[str, Any]) -> CheckOutcome:
        """Check; ``olds`` are the previous (checked) inputs, ``{}``/None for a new resource."""
        request = provider_pb2.CheckRequest(
            urn=self.urn,
            olds=to_struct(self._with_provider(olds) if olds else {}),
            news=to_struct(self._with_provider(news)),
        )
        response = self._call("Check", request)
        return CheckOutcome(
            inputs=from_struct(response.inputs),
            failures=[(f.property, f.reason) for f in response.failures],
        )

    def diff(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> DiffOutcome:
        """Diff; ``olds`` are the recorded outputs, ``news`` the checked inputs."""
        request = provider_pb2.DiffRequest(
            id=id_,
            urn=self.urn,
            olds=to_struct(self._with_provider(olds)),
            news=to_struct(self._with_provider(news)),
        )
        response = self._call("Diff", request)
        return DiffOutcome(
            changes=response.changes,
            replaces=list(response.replaces),
            stables=list(response.stables),
            delete_before_replace=response.deleteBeforeReplace,
            raw=response,
        )

    def create_raw(self, props: Mapping[str, Any]) -> provider_pb2.CreateResponse:
        request = provider_pb2.CreateRequest(urn=self.urn, properties=to_struct(self._with_provider(props)))
        return self._call("Create", request)

    def create(self, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        response = self.create_raw(props)
        return response.id, from_struct(response.properties)

    def update_raw(
        self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]
    ) -> provider_pb2.UpdateResponse:
        request = provider_pb2.UpdateRequest(
            id=id_,
            urn=self.urn,
            olds=to_struct(self._with_provider(olds)),
            news=to_struct(self._with_provider(news)),
        )
        return self._call("Update", request)

    def update(self, id_: str, olds: Mapping[str, Any], news: Mapping[str, Any]) -> dict[str, Any]:
        return from_struct(self.update_raw(id_, olds, news).properties)

    def delete(self, id_: str, props: Mapping[str, Any]) -> None:
        request = provider_pb2.DeleteRequest(id=id_, urn=self.urn, properties=to_struct(self._with_provider(props)))
        self._call("Delete", request)

    def read(self, id_: str, props: Mapping[str, Any]) -> tuple[str, dict[str, Any]]:
        request = provider_pb2.ReadRequest(id=id_, urn=self.urn, properties=to_struct(self._with_provider(props)))
        response = self._call("Read", request)
        return response.id, from_struct(response.properties)

    # --- the engine's sequences ---------------------------------------------------------------
    def _checked(self, olds: Optional[Mapping[str, Any]], inputs: Mapping[str, Any]) -> CheckOutcome:
        outcome = self.check(olds, inputs)
        if outcome.failures:
            raise CheckFailedError(outcome.failures)
        return outcome

    def _legacy_changes(self, state: ResourceState, news: Mapping[str, Any]) -> bool:
        # DIFF_UNKNOWN: the engine compares old and new inputs itself.
        strip = lambda d: {k: v for k, v in d.items() if k != PROVIDER_KEY}  # noqa: E731
        return strip(state.inputs) != strip(news)

    def up(self, inputs: Mapping[str, Any], state: Optional[ResourceState] = None) -> StepResult:
        """One resource's step of ``pulumi up``.

        Check(olds=previous inputs, news=inputs), then Create (no state) or Diff(id, olds=recorded
        outputs, news=checked inputs) followed by nothing, Update, or a replacement: Check again
        with no olds (the engine recomputes defaults for the new resource), Create the new one,
        then Delete the old one (``deleteBeforeReplace`` reverses the order).

        Raises:
            CheckFailedError: Check returned failures.
            grpc.RpcError: the provider raised (``user_error``/``error_text`` show it).
        """
        checked = self._checked(state.inputs if state else None, inputs)
        if state is None:
            response = self.create_raw(checked.inputs)
            new = ResourceState(response.id, checked.inputs, from_struct(response.properties))
            return StepResult("create", new, checked, raw=response)
        diff = self.diff(state.id, state.outputs, checked.inputs)
        changed = diff.has_changes or (diff.changes == DIFF_UNKNOWN and self._legacy_changes(state, checked.inputs))
        if not changed:
            return StepResult("same", ResourceState(state.id, checked.inputs, state.outputs), checked, diff)
        if not diff.replace:
            response = self.update_raw(state.id, state.outputs, checked.inputs)
            new = ResourceState(state.id, checked.inputs, from_struct(response.properties))
            return StepResult("update", new, checked, diff, raw=response)
        rechecked = self._checked(None, inputs)
        if diff.delete_before_replace:
            self.delete(state.id, state.outputs)
        response = self.create_raw(rechecked.inputs)
        new = ResourceState(response.id, rechecked.inputs, from_struct(response.properties))
        if not diff.delete_before_replace:
            self.delete(state.id, state.outputs)
        return StepResult("replace", new, rechecked, diff, deleted_id=state.id, raw=response)

    def preview(self, inputs: Mapping[str, Any], state: Optional[ResourceState] = None) -> StepResult:
        """One resource's step of ``pulumi preview``: Check, then Diff if there is state; no Create/Update."""
        checked = self._checked(state.inputs if state else None, inputs)
        if state is None:
            return StepResult("create", None, checked)
        diff = self.diff(state.id, state.outputs, checked.inputs)
        changed = diff.has_changes or (diff.changes == DIFF_UNKNOWN and self._legacy_changes(state, checked.inputs))
        action = "same" if not changed else ("replace" if diff.replace else "update")
        return StepResult(action, state, checked, diff)
