"""A small scripted CloudFormation (and STS GetCallerIdentity) on loopback, for what moto cannot do.

It speaks the AWS query protocol (form-encoded ``Action=...`` requests, XML answers) to real boto3
clients, so a provider process started by the engine harness reaches it through
``AWS_ENDPOINT_URL``. It models only what the deployment provider uses, synchronously (an executed
change set is final at the next DescribeStacks), and it can be told to fail the next create the way
CloudFormation does: the resource fails, the others are cancelled, the stack rolls back to
``ROLLBACK_COMPLETE``, every event carrying the execution's ``ClientRequestToken``. It can fail the
next change set under early validation, its details in ``DescribeEvents`` (``VALIDATION_ERROR``
events with a ``ValidationPath``), and a change set's Modify entries carry property ``Details``
(values with ``IncludePropertyValues``), in botocore's wire shapes.

Nested stacks: given an S3 client (``s3=``, e.g. moto's), it reads a ``TemplateURL`` (bucket, key
and ``versionId`` of ``https://<bucket>.s3.<region>.amazonaws.com/<key>?versionId=...``) and
deploys each ``AWS::CloudFormation::Stack`` resource as a nested stack: its parameters resolved
(``Ref`` of the parent's parameters, ``Fn::Join`` of a list, ``Fn::GetAtt`` of another nested
stack's ``Outputs.<name>``), in dependency order, its outputs resolved (``Ref`` -> a physical id,
``Fn::GetAtt`` -> an ARN). ``IncludeNestedStacks`` gives each nested stack a change set of its own,
named by the parent's ``ChangeSetId``. A failure scripted for a resource of a nested template fails
that nested stack (its own events say why) and the parent ("Embedded stack ... was not
successfully created"), which rolls back.

Typical use::

    with CloudFormationEmulator() as cfn:
        cfn.fail_next_execution("salesds", "Invalid DataSetId")
        ... EngineHarness(env=cfn.env()) ...
        assert cfn.actions == [...]
"""

from __future__ import annotations

import datetime as dt
import http.server
import itertools
import json
import socket
import struct
import threading
import urllib.parse
import uuid
from dataclasses import dataclass, field
from typing import Any, Optional
from xml.sax.saxutils import escape

from components.aws.cloudformation import LOOPBACK_CLOUDFORMATION_SWITCH

ACCOUNT = "123456789012"
REGION = "eu-west-1"
NAMESPACE = "http://cloudformation.amazonaws.com/doc/2010-05-15/"
NESTED = "AWS::CloudFormation::Stack"
EMPTY_REASON = "The submitted information didn't contain changes. Submit different information to create a change set."
EARLY_VALIDATION_REASON = (
    "The following hook(s)/validation failed: [AWS::EarlyValidation::PropertyValidation]. To troubleshoot Early "
    "Validation errors, use the DescribeEvents API for detailed failure information."
)


@dataclass
class Stack:
    name: str
    stack_id: str
    status: str
    created: dt.datetime
    template: dict[str, Any] = field(default_factory=dict)
    parameters: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    protected: bool = False
    events: list[dict[str, Any]] = field(default_factory=list)  # oldest first
    # Edits made outside CloudFormation: logical id -> property path (``/Name``) -> actual value.
    drift: dict[str, dict[str, Any]] = field(default_factory=dict)
    # Nested stacks: the parent's stack id, and of a parent its nested stacks' ids by logical id.
    parent: Optional[str] = None
    nested: dict[str, str] = field(default_factory=dict)
    outputs: Optional[dict[str, str]] = None


@dataclass
class ChangeSet:
    change_set_id: str
    name: str
    stack: Stack
    kind: str
    template: dict[str, Any]
    parameters: dict[str, str]
    tags: dict[str, str]
    created: dt.datetime
    status: str = "CREATE_COMPLETE"
    reason: Optional[str] = None
    changes: list[dict[str, Any]] = field(default_factory=list)
    events: list[dict[str, Any]] = field(default_factory=list)  # DescribeEvents' OperationEvents
    mode: Optional[str] = None  # DeploymentMode (REVERT_DRIFT)


def _xml(value: Any) -> str:
    if isinstance(value, dict):
        return "".join(f"<{k}>{_xml(v)}</{k}>" for k, v in value.items() if v is not None)
    if isinstance(value, list):
        return "".join(f"<member>{_xml(v)}</member>" for v in value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dt.datetime):
        return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return escape(str(value))


class _Refusal(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


class CloudFormationEmulator:
    """Loopback CloudFormation; ``actions`` lists every request's Action, ``sent`` their parameters."""

    def __init__(self, account: str = ACCOUNT, region: str = REGION, s3: Any = None) -> None:
        self.account = account
        self.region = region
        # An S3 client (moto's) that TemplateURLs are read through; None: TemplateBody only.
        self.s3 = s3
        self.stacks: list[Stack] = []
        self.change_sets: dict[str, ChangeSet] = {}
        self.actions: list[str] = []
        self.sent: list[dict[str, str]] = []
        self._fail: Optional[tuple[str, str]] = None
        self._fail_change_set: Optional[str] = None
        self._fail_validation: list[tuple[str, str, str]] = []
        # Every change set's OperationEvents by id and by name, kept after the change set is deleted.
        self.operation_events: dict[str, list[dict[str, Any]]] = {}
        # QuickSight's view of deployed assets: (kind, id) -> (status, errors) when not CREATION_SUCCESSFUL.
        self.asset_states: dict[tuple[str, str], tuple[str, list[dict[str, str]]]] = {}
        self.asset_reads: list[str] = []  # the QuickSight paths described
        # A data set's first ingestion: the IngestionStatus of each ListIngestions answer (the last repeats)
        # and its ErrorInfo; a SPICE data set of a live stack not scripted here: COMPLETED.
        self.ingestions: dict[str, tuple[list[str], Optional[dict[str, str]]]] = {}
        # Resource types drift detection does not check (their drift status is NOT_CHECKED).
        self.unchecked_types: set[str] = set()
        # Drift detections: id -> (stack, DescribeStackDriftDetectionStatus answers still to give IN_PROGRESS).
        self.detections: dict[str, tuple[Stack, int]] = {}
        # How many DescribeStacks the next successful execution stays IN_PROGRESS for, and the one running.
        self._slow = 0
        self._running: Optional[tuple[Stack, str, str, list[tuple[str, str]], int]] = None
        # (Action or None for any, fault) for the next requests, one consumed per matching request.
        self.faults: list[tuple[Optional[str], Any]] = []
        self.stopping = threading.Event()
        self._clock = itertools.count()
        self._lock = threading.Lock()
        emulator = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802
                # QuickSight's REST routes the verification after a deploy describes (rest-json).
                status, body, error = emulator.describe_asset(urllib.parse.urlparse(self.path).path)
                data = json.dumps(body).encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                if error:
                    self.send_header("x-amzn-ErrorType", error)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length") or 0)
                form = dict(urllib.parse.parse_qsl(self.rfile.read(length).decode("utf-8"), keep_blank_values=True))
                fault = emulator.take_fault(form.get("Action", ""))
                if fault is not None and fault != "trickle":
                    with emulator._lock:
                        emulator.actions.append(form.get("Action", ""))
                    self._misbehave(fault)
                    return
                status, body = emulator.handle(form)
                data = body.encode("utf-8")
                self.send_response(status)
                self.send_header("Content-Type", "text/xml")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                if fault == "trickle":
                    # One byte every 0.2 s: each byte renews the client's read timeout.
                    for index in range(len(data)):
                        if emulator.stopping.wait(0.2):
                            return
                        try:
                            self.wfile.write(data[index : index + 1])
                            self.wfile.flush()
                        except OSError:
                            return
                    return
                self.wfile.write(data)

            def _misbehave(self, fault: Any) -> None:
                self.close_connection = True
                if fault == "reset":
                    # SO_LINGER 0: close() sends a TCP RST, as a crashed proxy or load balancer does.
                    self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    self.connection.close()
                    return
                if fault == "hang":
                    emulator.stopping.wait(30)
                    return
                if isinstance(fault, int):
                    status, content_type = fault, "text/xml"
                    data = (
                        f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Receiver</Type><Code>InternalFailure</Code>'
                        f"<Message>Scripted fault {fault}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
                    ).encode()
                elif fault == "html":
                    status, content_type, data = 200, "text/html", b"<html><body><h1>Proxy login</h1></body></html>"
                else:
                    _, status, content_type, data = fault
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: Any) -> None:
                pass

        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self._server.server_address[1]}"

    # --- lifecycle ---------------------------------------------------------------------------
    def __enter__(self) -> "CloudFormationEmulator":
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stopping.set()
        self._server.shutdown()
        self._server.server_close()

    def env(self) -> dict[str, str]:
        """The provider process's AWS chain pointed here (STS and CloudFormation share the endpoint)."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_ACCESS_KEY_ID": "AKIAEMULATOR00000001",
            "AWS_SECRET_ACCESS_KEY": "emulator",
            "AWS_DEFAULT_REGION": self.region,
            # Change sets are evaluated before CreateChangeSet answers: poll them at once.
            LOOPBACK_CLOUDFORMATION_SWITCH: "1",
        }

    # --- scripting -----------------------------------------------------------------------------
    def fail_next_execution(self, logical_id: str, reason: str) -> None:
        """The next executed change set fails at ``logical_id`` with ``reason`` and rolls back."""
        self._fail = (logical_id, reason)

    def slow_next_execution(self, polls: int) -> None:
        """The next successful execution answers ``polls`` DescribeStacks IN_PROGRESS, its resources
        completing one per answer (``<verb>_COMPLETE`` events), the rest and the stack at the next."""
        self._slow = polls

    def fail_next_change_set(self, reason: str) -> None:
        """The next created change set is FAILED with ``reason`` (as for a template or parameter error)."""
        self._fail_change_set = reason

    def fail_next_validation(self, *failures: tuple[str, str, str]) -> None:
        """The next created change set fails early validation: one (logical id, property path, message) each.

        The path is relative to the resource (``Properties/Definition``), as a ValidationPath
        ``/Resources/<logical id>/<path>`` holds it.
        """
        self._fail_validation = list(failures)

    def fail_asset(self, kind: str, asset_id: str, status: str, *errors: tuple[str, str]) -> None:
        """QuickSight reports the deployed ``kind`` (dashboard, analysis) ``asset_id`` with ``status`` and (type, message) errors."""
        self.asset_states[(kind, asset_id)] = (status, [{"Type": t, "Message": m} for t, m in errors])

    def ingest(self, data_set_id: str, *statuses: str, error: Optional[tuple[str, str]] = None) -> None:
        """ListIngestions of ``data_set_id`` answers its first ingestion with each of ``statuses`` in turn."""
        self.ingestions[data_set_id] = (list(statuses), {"Type": error[0], "Message": error[1]} if error else None)

    def _list_ingestions(self, data_set_id: str) -> tuple[int, dict[str, Any], Optional[str]]:
        """ListIngestions (``GET /accounts/<account>/data-sets/<id>/ingestions``, botocore's rest-json shape)."""
        held = {
            self._asset_id(stack, resource.get("Properties", {}).get("DataSetId"))
            for stack in self.stacks
            if stack.status.endswith("_COMPLETE") and not stack.status.startswith(("DELETE", "ROLLBACK"))
            for resource in (stack.template.get("Resources") or {}).values()
            if resource.get("Type") == "AWS::QuickSight::DataSet"
        }
        if data_set_id not in held:
            return 404, {"Message": f"data set {data_set_id} is not found", "RequestId": str(uuid.uuid4())}, "ResourceNotFoundException"
        statuses, error = self.ingestions.get(data_set_id, (["COMPLETED"], None))
        status = statuses.pop(0) if len(statuses) > 1 else statuses[0]
        arn = f"arn:aws:quicksight:{self.region}:{self.account}:dataset/{data_set_id}/ingestion/first"
        first = {"Arn": arn, "IngestionId": "first", "IngestionStatus": status, "CreatedTime": 1767225600.0, "RequestSource": "MANUAL"}
        if error and status == "FAILED":
            first["ErrorInfo"] = error
        return 200, {"Ingestions": [first], "RequestId": str(uuid.uuid4())}, None

    def describe_asset(self, path: str) -> tuple[int, dict[str, Any], Optional[str]]:
        """DescribeDashboard / DescribeAnalysis of an asset a live stack holds (ids resolved with the id prefix);
        ListIngestions of a data set."""
        parts = path.strip("/").split("/")
        if len(parts) == 5 and parts[0] == "accounts" and parts[2] == "data-sets" and parts[4] == "ingestions":
            with self._lock:
                self.asset_reads.append(path)
                return self._list_ingestions(urllib.parse.unquote(parts[3]))
        kinds = {"dashboards": ("dashboard", "AWS::QuickSight::Dashboard", "DashboardId"), "analyses": ("analysis", "AWS::QuickSight::Analysis", "AnalysisId")}
        with self._lock:
            self.asset_reads.append(path)
            if len(parts) != 4 or parts[0] != "accounts" or parts[2] not in kinds:
                return 404, {"Message": f"no route {path}"}, "UnknownOperationException"
            kind, rtype, key = kinds[parts[2]]
            held = {
                self._asset_id(stack, resource.get("Properties", {}).get(key))
                for stack in self.stacks
                if stack.status.endswith("_COMPLETE") and not stack.status.startswith(("DELETE", "ROLLBACK"))
                for resource in (stack.template.get("Resources") or {}).values()
                if resource.get("Type") == rtype
            }
        asset_id = urllib.parse.unquote(parts[3])
        if asset_id not in held:
            return 404, {"Message": f"{kind} {asset_id} is not found", "RequestId": str(uuid.uuid4())}, "ResourceNotFoundException"
        status, listed = self.asset_states.get((kind, asset_id), ("CREATION_SUCCESSFUL", []))
        errors = listed or None  # botocore's model: Errors has at least one entry when present
        arn = f"arn:aws:quicksight:{self.region}:{self.account}:{kind}/{asset_id}"
        if kind == "dashboard":
            found = {"DashboardId": asset_id, "Arn": arn, "Version": {k: v for k, v in {"Status": status, "Errors": errors, "VersionNumber": 1}.items() if v is not None}}
            return 200, {"Dashboard": found, "RequestId": str(uuid.uuid4())}, None
        return 200, {"Analysis": {k: v for k, v in {"AnalysisId": asset_id, "Arn": arn, "Status": status, "Errors": errors}.items() if v is not None}, "RequestId": str(uuid.uuid4())}, None

    @staticmethod
    def _asset_id(stack: Stack, value: Any) -> Optional[str]:
        prefix = stack.parameters.get("ResourceIdPrefixForAllResources", "")
        if isinstance(value, dict) and isinstance(value.get("Fn::Sub"), str):
            return value["Fn::Sub"].replace("${ResourceIdPrefixForAllResources}", prefix)
        return value if isinstance(value, str) else None

    def edit(self, stack: str, logical_id: str, path: str, actual: Any) -> None:
        """Someone edits a resource outside CloudFormation: its property at ``path`` (``/Name``) is now ``actual``."""
        self.stack(stack).drift.setdefault(logical_id, {})[path] = actual

    def misbehave(self, *faults: Any, action: Optional[str] = None) -> None:
        """Answer the next requests (of ``action`` only, if given) with these faults, one per request.

        A fault is an int (that HTTP status with an InternalFailure error), ``"reset"`` (a TCP reset),
        ``"hang"`` (no answer, up to 30 s), ``"trickle"`` (the real answer, one byte every 0.2 s),
        ``"html"`` (a proxy's HTML page with 200) or ``("body", status, content_type, bytes)``.
        """
        with self._lock:
            self.faults.extend((action, fault) for fault in faults)

    def take_fault(self, action: str) -> Any:
        with self._lock:
            for index, (wanted, fault) in enumerate(self.faults):
                if wanted is None or wanted == action:
                    del self.faults[index]
                    return fault
        return None

    def body(self, action: str, result_xml: str) -> tuple[str, int, str, bytes]:
        """A 200 answer of ``action`` whose Result element holds ``result_xml`` verbatim (for malformed answers)."""
        return (
            "body",
            200,
            "text/xml",
            (
                f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{result_xml}</{action}Result>'
                f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
            ).encode(),
        )

    def stack(self, name: str) -> Stack:
        """The live (not deleted) stack of that name."""
        found = self._find(name)
        assert found is not None, f"no stack {name}"
        return found

    def sent_for(self, action: str) -> list[dict[str, str]]:
        return [form for form in self.sent if form.get("Action") == action]

    # --- the protocol ---------------------------------------------------------------------------
    def _now(self) -> dt.datetime:
        # A clock that moves one second per use: events of one operation are ordered.
        return dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=next(self._clock))

    def _find(self, ref: str) -> Optional[Stack]:
        for stack in reversed(self.stacks):
            if stack.stack_id == ref:
                return stack
            if stack.name == ref and stack.status != "DELETE_COMPLETE":
                return stack
        return None

    def handle(self, form: dict[str, str]) -> tuple[int, str]:
        action = form.get("Action", "")
        with self._lock:
            self.actions.append(action)
            self.sent.append(form)
            try:
                result = getattr(self, f"_{action}")(form)
            except _Refusal as refusal:
                return 400, (
                    f'<ErrorResponse xmlns="{NAMESPACE}"><Error><Type>Sender</Type><Code>{refusal.code}</Code>'
                    f"<Message>{escape(refusal.message)}</Message></Error><RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
                )
        return 200, (
            f'<{action}Response xmlns="{NAMESPACE}"><{action}Result>{_xml(result)}</{action}Result>'
            f"<ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></{action}Response>"
        )

    def _GetCallerIdentity(self, _form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        return {"Arn": f"arn:aws:iam::{self.account}:user/deployer", "UserId": "AIDAEMULATOR", "Account": self.account}

    def _describe(self, stack: Stack) -> dict[str, Any]:
        return {
            "StackId": stack.stack_id,
            "StackName": stack.name,
            "CreationTime": stack.created,
            "StackStatus": stack.status,
            "EnableTerminationProtection": stack.protected,
            "Parameters": [
                {"ParameterKey": k, "ParameterValue": "****" if self._no_echo(stack, k) else v}
                for k, v in sorted(stack.parameters.items())
            ],
            "Tags": [{"Key": k, "Value": v} for k, v in sorted(stack.tags.items())],
            "Outputs": self._outputs_of(stack) if stack.status.endswith("COMPLETE") else [],
            **({"ParentId": stack.parent, "RootId": stack.parent} if stack.parent else {}),
        }

    @staticmethod
    def _outputs_of(stack: Stack) -> list[dict[str, str]]:
        if stack.outputs is None:
            return [{"OutputKey": "Deployed", "OutputValue": stack.name}]
        return [{"OutputKey": k, "OutputValue": v} for k, v in sorted(stack.outputs.items())]

    @staticmethod
    def _no_echo(stack: Stack, key: str) -> bool:
        spec = (stack.template.get("Parameters") or {}).get(key) or {}
        return str(spec.get("NoEcho", "")).lower() == "true"

    def _DescribeStacks(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack = self._find(form["StackName"])
        if stack is None:
            raise _Refusal("ValidationError", f"Stack with id {form['StackName']} does not exist")
        self._advance(stack)
        return {"Stacks": [self._describe(stack)]}

    @staticmethod
    def _members(form: dict[str, str], prefix: str) -> list[dict[str, str]]:
        found: dict[int, dict[str, str]] = {}
        for key, value in form.items():
            if key.startswith(f"{prefix}.member."):
                index, _, name = key[len(prefix) + 8 :].partition(".")
                found.setdefault(int(index), {})[name] = value
        return [found[i] for i in sorted(found)]

    def _CreateChangeSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        name, kind = form["StackName"], form["ChangeSetType"]
        template = self._template(form)
        stack = self._find(name)
        if kind == "CREATE":
            if stack is not None and stack.status != "REVIEW_IN_PROGRESS":
                raise _Refusal("AlreadyExistsException", f"Stack [{name}] already exists")
            if stack is None:
                stack = Stack(name, f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{name}/{uuid.uuid4()}", "REVIEW_IN_PROGRESS", self._now())
                self.stacks.append(stack)
        elif stack is None:
            raise _Refusal("ValidationError", f"Stack [{name}] does not exist")
        parameters = {}
        for member in self._members(form, "Parameters"):
            key = member["ParameterKey"]
            if member.get("UsePreviousValue") == "true":
                if key not in stack.parameters:
                    raise _Refusal("ValidationError", f"Invalid input for parameter key {key}. Cannot specify usePreviousValue as true for a parameter key not in the previous template")
                parameters[key] = stack.parameters[key]
            else:
                parameters[key] = member.get("ParameterValue", "")
        tags = {m["Key"]: m["Value"] for m in self._members(form, "Tags")}
        resources = template.get("Resources") or {}
        change_set = ChangeSet(
            f"arn:aws:cloudformation:{self.region}:{self.account}:changeSet/{form['ChangeSetName']}/{uuid.uuid4()}",
            form["ChangeSetName"],
            stack,
            kind,
            template,
            parameters,
            tags,
            self._now(),
        )
        if self._fail_change_set is not None:
            change_set.status, change_set.reason = "FAILED", self._fail_change_set
            self._fail_change_set = None
        elif self._fail_validation:
            change_set.status, change_set.reason = "FAILED", EARLY_VALIDATION_REASON
            change_set.events = [self._validation_event(change_set, resources, *f) for f in self._fail_validation]
            self._fail_validation = []
        elif form.get("DeploymentMode") == "REVERT_DRIFT" and stack.drift:
            change_set.mode = "REVERT_DRIFT"
            for logical_id in sorted(stack.drift):
                entry = {"Action": "Modify", "LogicalResourceId": logical_id, "ResourceType": resources[logical_id].get("Type"), "Replacement": "False"}
                change_set.changes.append({"Type": "Resource", "ResourceChange": entry})
        elif kind == "UPDATE" and (template, parameters, tags) == (stack.template, stack.parameters, stack.tags):
            change_set.status, change_set.reason = "FAILED", EMPTY_REASON
        else:
            change_set.changes = self._resource_changes(stack, template, parameters)
            if form.get("IncludeNestedStacks") == "true":
                self._nested_change_sets(change_set)
        self.change_sets[change_set.change_set_id] = change_set
        self.operation_events[change_set.change_set_id] = self.operation_events[change_set.name] = change_set.events
        return {"Id": change_set.change_set_id, "StackId": stack.stack_id}

    def _resource_changes(
        self, stack: Stack, template: dict[str, Any], parameters: dict[str, str], only_changed: bool = False
    ) -> list[dict[str, Any]]:
        """The Changes of a change set from ``stack``'s template to ``template``, resource by resource.

        ``only_changed`` leaves out a resource whose properties and parameter values are the same
        (as CloudFormation does; a nested stack's change set is made so).
        """
        resources = template.get("Resources") or {}
        old = stack.template.get("Resources") or {}
        changes = []
        for logical_id, resource in sorted(resources.items()):
            action = "Add" if logical_id not in old else "Modify"
            entry = {"Action": action, "LogicalResourceId": logical_id, "ResourceType": resource.get("Type")}
            if action == "Modify":
                entry["Replacement"] = "False"
                entry["Details"] = self._details(
                    (stack.template, stack.parameters), (template, parameters), "/Properties",
                    (old[logical_id].get("Properties") or {}, resource.get("Properties") or {}),
                )  # fmt: skip
                if only_changed and not entry["Details"]:
                    continue
            changes.append({"Type": "Resource", "ResourceChange": entry})
        for logical_id in sorted(set(old) - set(resources)):
            entry = {"Action": "Remove", "LogicalResourceId": logical_id, "ResourceType": old[logical_id].get("Type")}
            changes.append({"Type": "Resource", "ResourceChange": entry})
        return changes

    # --- nested stacks ------------------------------------------------------------------------------
    def _template(self, form: dict[str, str]) -> dict[str, Any]:
        if "TemplateBody" in form:
            return json.loads(form["TemplateBody"])
        if "TemplateURL" in form:
            return self._fetch(form["TemplateURL"])
        raise _Refusal("ValidationError", "Either Template URL or Template Body must be specified.")

    def _fetch(self, url: str) -> dict[str, Any]:
        """A template named by an S3 URL (virtual-hosted style, with its versionId), read through ``s3``."""
        parsed = urllib.parse.urlparse(url)
        bucket, key = parsed.netloc.split(".s3.", 1)[0], urllib.parse.unquote(parsed.path.lstrip("/"))
        version = urllib.parse.parse_qs(parsed.query).get("versionId", [None])[0]
        if self.s3 is None or parsed.scheme != "https" or not parsed.netloc.endswith(".amazonaws.com"):
            raise _Refusal("ValidationError", "TemplateURL must be a supported URL.")
        try:
            found = self.s3.get_object(Bucket=bucket, Key=key, **({"VersionId": version} if version else {}))
        except Exception:
            raise _Refusal("ValidationError", "TemplateURL must reference a valid S3 object to which you have access.") from None
        return json.loads(found["Body"].read())

    def _nested_change_sets(self, change_set: ChangeSet) -> None:
        """Give each nested stack the change set ``IncludeNestedStacks`` makes, named in the parent's change."""
        resources = change_set.template.get("Resources") or {}
        for change in change_set.changes:
            entry = change["ResourceChange"]
            if entry.get("ResourceType") != NESTED or entry["Action"] not in ("Add", "Modify"):
                continue
            logical_id = entry["LogicalResourceId"]
            resource = resources[logical_id]
            template = self._fetch(resource["Properties"]["TemplateURL"])
            existing = self._find(change_set.stack.nested.get(logical_id, "")) if change_set.stack.nested.get(logical_id) else None
            nested = existing or Stack(f"{change_set.stack.name}-{logical_id}", f"{change_set.stack.stack_id}-{logical_id}", "REVIEW_IN_PROGRESS", self._now())
            parameters = self._nested_parameters(change_set.stack, resource, change_set.parameters, known_only=True)
            nested_set = ChangeSet(
                f"{change_set.change_set_id}-{logical_id}", f"{change_set.name}-{logical_id}", nested,
                "UPDATE" if existing else "CREATE", template, parameters, {}, self._now(),
            )  # fmt: skip
            nested_set.changes = self._resource_changes(nested, template, parameters, only_changed=True)
            self.change_sets[nested_set.change_set_id] = nested_set
            entry["ChangeSetId"] = nested_set.change_set_id

    def _nested_parameters(self, parent: Stack, resource: dict[str, Any], values: dict[str, str], known_only: bool = False) -> dict[str, str]:
        """A nested stack's parameter values, as its parent passes them (``known_only``: before execution)."""
        resolved = {}
        for key, value in ((resource.get("Properties") or {}).get("Parameters") or {}).items():
            if isinstance(value, dict) and "Ref" in value:
                resolved[key] = values.get(value["Ref"], "")
            elif isinstance(value, dict) and "Fn::Join" in value:
                resolved[key] = values.get(value["Fn::Join"][1]["Ref"], "")
            elif isinstance(value, dict) and "Fn::GetAtt" in value:
                other, attribute = value["Fn::GetAtt"]
                source = self._find(parent.nested.get(other, "")) if parent.nested.get(other) else None
                if source is None or source.outputs is None:
                    assert known_only, f"nested stack {other} has no outputs yet"
                    resolved[key] = "{{resolve at execution}}"
                else:
                    resolved[key] = source.outputs[attribute.split(".", 1)[1]]
            else:
                resolved[key] = str(value)
        return resolved

    @staticmethod
    def _nested_order(resources: dict[str, Any]) -> list[str]:
        """The nested stacks in an order that deploys each after those it reads from or depends on."""
        needs = {}
        for logical_id, resource in resources.items():
            if resource.get("Type") != NESTED:
                continue
            parameters = (resource.get("Properties") or {}).get("Parameters") or {}
            needs[logical_id] = set(resource.get("DependsOn") or []) | {
                v["Fn::GetAtt"][0] for v in parameters.values() if isinstance(v, dict) and "Fn::GetAtt" in v
            }
        order: list[str] = []
        while len(order) < len(needs):
            ready = sorted(n for n in needs if n not in order and needs[n] <= set(order))
            assert ready, f"nested stacks wait for each other: {needs}"
            order.extend(ready)
        return order

    def _nested_outputs(self, nested: Stack) -> dict[str, str]:
        outputs = {}
        for key, output in (nested.template.get("Outputs") or {}).items():
            value = output.get("Value")
            if isinstance(value, dict) and "Ref" in value:
                outputs[key] = f"{value['Ref']}-physical"
            elif isinstance(value, dict) and "Fn::GetAtt" in value:
                outputs[key] = f"arn:aws:quicksight:{self.region}:{self.account}:{value['Fn::GetAtt'][0].lower()}"
            else:
                outputs[key] = str(value)
        return outputs

    def _deploy_nested(self, stack: Stack, change_set: ChangeSet, token: str) -> Optional[tuple[str, str]]:
        """Create or update each nested stack of the parent's template; (logical id, reason) of a failed one."""
        resources = change_set.template.get("Resources") or {}
        for logical_id in self._nested_order(resources):
            resource = resources[logical_id]
            template = self._fetch(resource["Properties"]["TemplateURL"])
            existing = self._find(stack.nested.get(logical_id, "")) if stack.nested.get(logical_id) else None
            nested = existing
            if nested is None:
                name = f"{stack.name}-{logical_id}-{uuid.uuid4().hex[:12].upper()}"
                nested = Stack(name, f"arn:aws:cloudformation:{self.region}:{self.account}:stack/{name}/{uuid.uuid4()}", "CREATE_IN_PROGRESS", self._now(), parent=stack.stack_id)
                self.stacks.append(nested)
                stack.nested[logical_id] = nested.stack_id
            action = "UPDATE" if existing else "CREATE"
            self._event(stack, logical_id, NESTED, f"{action}_IN_PROGRESS", token, physical=nested.stack_id)
            nested.template, nested.parameters = template, self._nested_parameters(stack, resource, change_set.parameters)
            failure = self._execute_nested(nested, action, token)
            if failure is not None:
                failing, _reason = failure
                past = "created" if action == "CREATE" else "updated"
                reason = (
                    f"Embedded stack {nested.stack_id} was not successfully {past}: The following resource(s) failed "
                    f"to {action.lower()}: [{failing}]. "
                )
                self._event(stack, logical_id, NESTED, f"{action}_FAILED", token, reason, physical=nested.stack_id)
                return logical_id, reason
            nested.outputs = self._nested_outputs(nested)
            self._event(stack, logical_id, NESTED, f"{action}_COMPLETE", token, physical=nested.stack_id)
        for logical_id in sorted(set(stack.nested) - {k for k, r in resources.items() if r.get("Type") == NESTED}):
            gone = self._find(stack.nested.pop(logical_id))
            if gone is not None:
                gone.status = "DELETE_COMPLETE"
        return None

    def _execute_nested(self, nested: Stack, action: str, token: str) -> Optional[tuple[str, str]]:
        """One nested stack's operation: its resources' events, or the scripted failure and its rollback."""
        resources = nested.template.get("Resources") or {}
        self._event(nested, nested.name, NESTED, f"{action}_IN_PROGRESS", token, "User Initiated")
        if self._fail is not None and self._fail[0] in resources:
            failing, reason = self._fail
            self._fail = None
            self._event(nested, failing, resources[failing].get("Type", ""), f"{action}_FAILED", token, reason)
            for logical_id in sorted(set(resources) - {failing}):
                self._event(nested, logical_id, resources[logical_id].get("Type", ""), f"{action}_FAILED", token, "Resource creation cancelled")
            nested.status = "ROLLBACK_COMPLETE" if action == "CREATE" else "UPDATE_ROLLBACK_COMPLETE"
            self._event(nested, nested.name, NESTED, nested.status, token)
            return failing, reason
        for logical_id in sorted(resources):
            self._event(nested, logical_id, resources[logical_id].get("Type", ""), f"{action}_COMPLETE", token)
        nested.status = f"{action}_COMPLETE"
        self._event(nested, nested.name, NESTED, nested.status, token)
        return None

    def _validation_event(self, change_set: ChangeSet, resources: dict[str, Any], logical_id: str, path: str, message: str) -> dict[str, Any]:
        return {
            "EventId": str(uuid.uuid4()),
            "StackId": change_set.stack.stack_id,
            "OperationId": change_set.change_set_id.rsplit("/", 1)[-1],
            "OperationType": "CREATE_CHANGESET",
            "OperationStatus": "FAILED",
            "EventType": "VALIDATION_ERROR",
            "LogicalResourceId": logical_id,
            "ResourceType": (resources.get(logical_id) or {}).get("Type"),
            "Timestamp": self._now(),
            "ValidationFailureMode": "FAIL",
            "ValidationName": "AWS::EarlyValidation::PropertyValidation",
            "ValidationStatus": "FAILED",
            "ValidationStatusReason": message,
            "ValidationPath": f"/Resources/{logical_id}/{path}",
        }

    def _details(self, old: tuple[dict[str, Any], dict[str, str]], new: tuple[dict[str, Any], dict[str, str]], path: str, values: tuple[Any, Any]) -> list[dict[str, Any]]:
        """One ResourceChangeDetail per changed leaf (lists compared whole), Refs to parameters resolved."""
        before, after = values
        if isinstance(before, dict) and isinstance(after, dict) and "Ref" not in before and "Ref" not in after:
            return [
                detail
                for key in sorted(set(before) | set(after))
                for detail in self._details(old, new, f"{path}/{key}", (before.get(key), after.get(key)))
            ]
        shown = (self._resolved(old, before), self._resolved(new, after))
        if shown[0] == shown[1]:
            return []
        causing = next((v["Ref"] for v in (after, before) if isinstance(v, dict) and "Ref" in v), None)
        target = {
            "Attribute": "Properties",
            "Name": path.split("/")[2],
            "Path": path,
            "RequiresRecreation": "Never",
            "AttributeChangeType": "Add" if before is None else "Remove" if after is None else "Modify",
        }
        if shown[0] is not None:
            target["BeforeValue"] = shown[0]
        if shown[1] is not None:
            target["AfterValue"] = shown[1]
        source = {"ChangeSource": "ParameterReference", "CausingEntity": causing} if causing else {"ChangeSource": "DirectModification"}
        return [{"Target": target, "Evaluation": "Static", **source}]

    @staticmethod
    def _resolved(context: tuple[dict[str, Any], dict[str, str]], value: Any) -> Optional[str]:
        template, parameters = context
        if value is None:
            return None
        if isinstance(value, dict) and "Ref" in value and value["Ref"] in parameters:
            spec = (template.get("Parameters") or {}).get(value["Ref"]) or {}
            return "****" if str(spec.get("NoEcho", "")).lower() == "true" else parameters[value["Ref"]]
        return value if isinstance(value, str) else json.dumps(value, separators=(",", ":"))

    def _DescribeEvents(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        if not form.get("ChangeSetName"):
            raise _Refusal("ValidationError", "One of ChangeSetName, OperationId or StackName must be specified")
        events = self.operation_events.get(form["ChangeSetName"], [])
        if form.get("Filters.FailedEvents") == "true":
            events = [e for e in events if e.get("OperationStatus") == "FAILED" or e.get("ValidationStatus") == "FAILED"]
        return {"OperationEvents": events}

    def _DescribeChangeSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        change_set = self.change_sets.get(form["ChangeSetName"])
        if change_set is None:
            raise _Refusal("ChangeSetNotFound", f"ChangeSet [{form['ChangeSetName']}] does not exist")
        # Without IncludePropertyValues CloudFormation names the changed properties, not their values.
        values = form.get("IncludePropertyValues") == "true"
        hidden = ("BeforeValue", "AfterValue")
        changes = [
            {**change, "ResourceChange": {
                **change["ResourceChange"],
                "Details": [
                    {**d, "Target": {k: v for k, v in d["Target"].items() if values or k not in hidden}}
                    for d in change["ResourceChange"].get("Details") or []
                ] or None,
            }}
            for change in change_set.changes
        ]  # fmt: skip
        return {
            "ChangeSetId": change_set.change_set_id,
            "ChangeSetName": change_set.name,
            "StackId": change_set.stack.stack_id,
            "StackName": change_set.stack.name,
            "CreationTime": change_set.created,
            "ExecutionStatus": "AVAILABLE" if change_set.status == "CREATE_COMPLETE" else "UNAVAILABLE",
            "Status": change_set.status,
            "StatusReason": change_set.reason,
            "Changes": changes,
        }

    def _DeleteChangeSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        self.change_sets.pop(form["ChangeSetName"], None)
        return {}

    def _event(self, stack: Stack, logical_id: str, rtype: str, status: str, token: str, reason: str = "", physical: Optional[str] = None) -> None:
        stack.events.append(
            {
                "StackId": stack.stack_id,
                "EventId": str(uuid.uuid4()),
                "StackName": stack.name,
                "LogicalResourceId": logical_id,
                "PhysicalResourceId": physical,
                "ResourceType": rtype,
                "Timestamp": self._now(),
                "ResourceStatus": status,
                "ResourceStatusReason": reason or None,
                "ClientRequestToken": token,
            }
        )

    def _ExecuteChangeSet(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        change_set = self.change_sets.pop(form["ChangeSetName"])
        stack, token = change_set.stack, form.get("ClientRequestToken", "")
        verb = change_set.kind
        self._event(stack, stack.name, "AWS::CloudFormation::Stack", f"{verb}_IN_PROGRESS", token, "User Initiated")
        resources = change_set.template.get("Resources") or {}
        if verb == "CREATE":
            # A create gives the stack its template, parameters and tags; a rollback leaves them.
            stack.template, stack.parameters, stack.tags = change_set.template, change_set.parameters, change_set.tags
        nested_failure = None
        if any(r.get("Type") == NESTED for r in resources.values()) and (self._fail is None or self._fail[0] not in resources):
            nested_failure = self._deploy_nested(stack, change_set, token)
        if nested_failure is not None:
            failing, reason = nested_failure
            rollback = "ROLLBACK" if verb == "CREATE" else "UPDATE_ROLLBACK"
            self._event(stack, stack.name, "AWS::CloudFormation::Stack", f"{rollback}_IN_PROGRESS", token, f"The following resource(s) failed to {verb.lower()}: [{failing}]. ")
            stack.status = f"{rollback}_COMPLETE"
            self._event(stack, stack.name, "AWS::CloudFormation::Stack", stack.status, token)
            return {}
        if self._fail is not None:
            failing, reason = self._fail
            self._fail = None
            for logical_id, resource in sorted(resources.items()):
                rtype = resource.get("Type", "")
                if logical_id == failing:
                    self._event(stack, logical_id, rtype, f"{verb}_FAILED", token, reason)
            for logical_id, resource in sorted(resources.items()):
                if logical_id != failing:
                    self._event(stack, logical_id, resource.get("Type", ""), f"{verb}_FAILED", token, "Resource creation cancelled")
            rollback = "ROLLBACK" if verb == "CREATE" else "UPDATE_ROLLBACK"
            self._event(stack, stack.name, "AWS::CloudFormation::Stack", f"{rollback}_IN_PROGRESS", token, f"The following resource(s) failed to {verb.lower()}: [{failing}]. ")
            stack.status = f"{rollback}_COMPLETE"
            self._event(stack, stack.name, "AWS::CloudFormation::Stack", stack.status, token)
            return {}
        stack.template, stack.parameters, stack.tags = change_set.template, change_set.parameters, change_set.tags
        if change_set.mode == "REVERT_DRIFT":
            stack.drift = {}
        if self._slow:
            pending = [(logical_id, resource.get("Type", "")) for logical_id, resource in sorted(resources.items())]
            for logical_id, rtype in pending:
                self._event(stack, logical_id, rtype, f"{verb}_IN_PROGRESS", token)
            stack.status, self._running, self._slow = f"{verb}_IN_PROGRESS", (stack, verb, token, pending, self._slow), 0
            return {}
        stack.status = f"{verb}_COMPLETE"
        self._event(stack, stack.name, "AWS::CloudFormation::Stack", stack.status, token)
        return {}

    def _advance(self, stack: Stack) -> None:
        """A slow execution (``slow_next_execution``) moves on at each DescribeStacks of its stack."""
        if self._running is None or self._running[0] is not stack:
            return
        _, verb, token, pending, polls = self._running
        if polls > 0 and pending:
            logical_id, rtype = pending.pop(0)
            self._event(stack, logical_id, rtype, f"{verb}_COMPLETE", token)
            self._running = (stack, verb, token, pending, polls - 1)
            return
        for logical_id, rtype in pending:
            self._event(stack, logical_id, rtype, f"{verb}_COMPLETE", token)
        stack.status, self._running = f"{verb}_COMPLETE", None
        self._event(stack, stack.name, "AWS::CloudFormation::Stack", stack.status, token)

    def _DescribeStackEvents(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack = self._find(form["StackName"])
        if stack is None:
            raise _Refusal("ValidationError", f"Stack [{form['StackName']}] does not exist")
        return {"StackEvents": list(reversed(stack.events))}

    def _DeleteStack(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack = self._find(form["StackName"])
        if stack is None:
            return {}
        if stack.protected:
            raise _Refusal(
                "ValidationError",
                f"Stack [{stack.name}] cannot be deleted while TerminationProtection is enabled",
            )
        stack.status = "DELETE_COMPLETE"
        for nested_id in stack.nested.values():
            nested = self._find(nested_id)
            if nested is not None:
                nested.status = "DELETE_COMPLETE"
        return {}

    def _UpdateTerminationProtection(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack = self._find(form["StackName"])
        if stack is None:
            raise _Refusal("ValidationError", f"Stack [{form['StackName']}] does not exist")
        stack.protected = form["EnableTerminationProtection"] == "true"
        return {"StackId": stack.stack_id}

    # --- drift detection -----------------------------------------------------------------------
    def _DetectStackDrift(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack = self._find(form["StackName"])
        if stack is None:
            raise _Refusal("ValidationError", f"Stack [{form['StackName']}] does not exist")
        detection_id = str(uuid.uuid4())
        self.detections[detection_id] = (stack, 0)  # complete at once (the wait is tested with Stubber)
        return {"StackDriftDetectionId": detection_id}

    def _DescribeStackDriftDetectionStatus(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack, pending = self.detections[form["StackDriftDetectionId"]]
        self.detections[form["StackDriftDetectionId"]] = (stack, max(0, pending - 1))
        drifted = len(stack.drift)
        return {
            "StackId": stack.stack_id,
            "StackDriftDetectionId": form["StackDriftDetectionId"],
            "StackDriftStatus": "DRIFTED" if drifted else "IN_SYNC",
            "DetectionStatus": "DETECTION_IN_PROGRESS" if pending else "DETECTION_COMPLETE",
            "DriftedStackResourceCount": drifted,
            "Timestamp": self._now(),
        }

    def _DescribeStackResourceDrifts(self, form: dict[str, str]) -> dict[str, Any]:  # noqa: N802
        stack = self._find(form["StackName"])
        if stack is None:
            raise _Refusal("ValidationError", f"Stack [{form['StackName']}] does not exist")
        drifts = []
        for logical_id, resource in sorted((stack.template.get("Resources") or {}).items()):
            rtype = resource.get("Type", "")
            edits = stack.drift.get(logical_id, {})
            status = "NOT_CHECKED" if rtype in self.unchecked_types else "MODIFIED" if edits else "IN_SYNC"
            differences = [
                {
                    "PropertyPath": path,
                    "ExpectedValue": json.dumps((resource.get("Properties") or {}).get(path.strip("/"))),
                    "ActualValue": json.dumps(actual),
                    "DifferenceType": "NOT_EQUAL",
                }
                for path, actual in sorted(edits.items())
            ]
            drifts.append(
                {
                    "StackId": stack.stack_id,
                    "LogicalResourceId": logical_id,
                    "PhysicalResourceId": logical_id,
                    "ResourceType": rtype,
                    "StackResourceDriftStatus": status,
                    "PropertyDifferences": differences if status == "MODIFIED" else None,
                    "Timestamp": self._now(),
                }
            )
        return {"StackResourceDrifts": drifts}
