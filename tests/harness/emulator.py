"""A loopback QuickSight emulator speaking the real REST-JSON API (and STS AssumeRole).

A real boto3 client reaches it through ``AWS_ENDPOINT_URL_QUICKSIGHT`` (and ``AWS_ENDPOINT_URL_STS``),
so signing, retries and error parsing are botocore's own. moto does not implement asset-bundle
jobs. Job timelines are scripted per Describe call, so tests are deterministic without sleeping.

What it serves:
- ``GET  /accounts/{acct}/asset-bundle-export-jobs/{id}``   DescribeAssetBundleExportJob
- ``POST /accounts/{acct}/asset-bundle-export-jobs/export``  StartAssetBundleExportJob
- ``GET  /download/{token}``                                   the pre-signed download "S3" URL
- ``POST /``  with ``Action=AssumeRole``                       STS AssumeRole (query protocol)
- the release assets' Describe routes (``AssetRegistry``, at the end of this module)

Misbehaving on command (fault injection): ``misbehave(*faults)`` makes the next QuickSight calls
answer with a fault each (5xx, reset, hang, non-HTTP line, truncated or arbitrary bodies); a
job's ``describe_overrides`` bend its Describe answers out of shape (``DROP`` removes a key);
its ``download_faults`` also take ``"trickle"``, ``"slowheaders"``, ``"hang"``, ``"reset"``, ``"badstatus"``,
``"midchunk"``, ``"gzip"`` and ``("encoding", name)``.
"""

from __future__ import annotations

import datetime as dt
import gzip
import itertools
import json
import re
import socket
import struct
import threading
import time
import urllib.parse
import uuid
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional

from loopback import LoopbackServer

from components.aws.download import LOOPBACK_DOWNLOADS_SWITCH

ACCOUNT = "111111111111"
REGION = "us-east-1"
ASSUMED_KEY_ID = "ASIAEMULATEDROLE0001"
BASE_KEY_ID = "AKIAEMULATEDBASE0001"

# In a job's describe_overrides: remove this key from the answer.
DROP = object()
# Faults a download or a QuickSight call can be told to commit on the wire (see the handler).
WIRE_FAULTS = ("trickle", "slowheaders", "hang", "reset", "badstatus", "midchunk", "gzip", "truncated")
# How long a "hang" holds a connection open at most (a test's client gives up well before).
HANG_SECONDS = 30.0

_JOB_PATH = re.compile(r"^/accounts/(?P<acct>[^/]+)/asset-bundle-export-jobs/(?P<job>[^/?]+)$")
_CREDENTIAL = re.compile(r"Credential=(?P<key>[A-Z0-9]+)/")


@dataclass
class EmulatedJob:
    """One scripted export job.

    Attributes:
        statuses: JobStatus answered by successive Describe calls; the last one repeats.
        payload: Bytes served at the download URL once SUCCESSFUL.
        expired_downloads: How many download URLs, in order of issue, answer 403 "Request has expired".
        download_status: If set, every download answers this HTTP status instead of the payload.
        download_url: If set, Describe returns this URL instead of the emulator's own.
        download_faults: Faults for successive (unexpired) downloads, one consumed per download: an int
            answers that HTTP status, ``"truncate"`` sends half the payload under the full Content-Length
            and closes the connection. Once used up, downloads behave as configured otherwise.
        send_content_length: If False, the payload is served without Content-Length (until close).
        download_redirect: If set, downloads answer 302 with this Location instead of the payload.
        omit_download_url: If True, a SUCCESSFUL Describe carries no DownloadUrl.
        describe_overrides: Changes to successive Describe answers, one consumed per Describe: keys
            set to a value replace or add it, keys set to ``DROP`` are removed.
    """

    job_id: str
    account: str = ACCOUNT
    export_format: str = "CLOUDFORMATION_JSON"
    statuses: list[str] = field(default_factory=lambda: ["SUCCESSFUL"])
    payload: bytes = b""
    errors: list[dict[str, str]] = field(default_factory=list)
    warnings: list[dict[str, str]] = field(default_factory=list)
    resource_arns: list[str] = field(default_factory=list)
    created_time: float = 1_780_000_000.0
    expired_downloads: int = 0
    download_status: Optional[int] = None
    download_url: Optional[str] = None
    download_faults: list[Any] = field(default_factory=list)
    send_content_length: bool = True
    download_redirect: Optional[str] = None
    omit_download_url: bool = False
    describe_overrides: list[dict[str, Any]] = field(default_factory=list)
    describes: int = 0
    downloads: int = 0

    @property
    def arn(self) -> str:
        return f"arn:aws:quicksight:{REGION}:{self.account}:asset-bundle-export-job/{self.job_id}"


class QuickSightEmulator(LoopbackServer):
    """Threaded HTTP server on 127.0.0.1 with scripted jobs. Use as a context manager."""

    def __init__(self) -> None:
        self.jobs: dict[tuple[str, str], EmulatedJob] = {}
        self.requests: list[dict[str, Any]] = []
        self.throttle_next = 0
        self.account_error: Optional[tuple[int, str, str]] = None
        # (status, code, message) answered by STS AssumeRole instead of credentials.
        self.assume_role_error: Optional[tuple[int, str, str]] = None
        # Faults for the next QuickSight calls, one consumed per call (see misbehave()).
        self.call_faults: list[Any] = []
        self._tokens: dict[str, tuple[EmulatedJob, bool]] = {}
        self._lock = threading.Lock()
        # Release assets and started exports (issue 12; see AssetRegistry at the end of this module).
        self.assets = AssetRegistry(self)
        super().__init__(_handler_for(self))

    def env(self) -> dict[str, str]:
        """Environment for a process whose boto3 clients should talk to this emulator."""
        return {
            "AWS_ENDPOINT_URL_QUICKSIGHT": self.url,
            "AWS_ENDPOINT_URL_STS": self.url,
            "AWS_ACCESS_KEY_ID": BASE_KEY_ID,
            "AWS_SECRET_ACCESS_KEY": "emulated-secret",
            "AWS_REGION": REGION,
            "AWS_DEFAULT_REGION": REGION,
            "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_CONFIG_FILE": "/dev/null",
            "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
            # Its downloads are served over plain http on 127.0.0.1: the test-only switch.
            LOOPBACK_DOWNLOADS_SWITCH: "1",
        }

    # --- scripting ------------------------------------------------------------------------
    def add_job(self, job_id: str, **kwargs: Any) -> EmulatedJob:
        job = EmulatedJob(job_id=job_id, **kwargs)
        with self._lock:
            self.jobs[(job.account, job_id)] = job
        return job

    def throttle(self, count: int) -> None:
        """Answer the next ``count`` QuickSight calls with 429 ThrottlingException."""
        with self._lock:
            self.throttle_next = count

    def misbehave(self, *faults: Any) -> None:
        """Answer the next QuickSight calls with these faults, one per call, before throttling applies.

        A fault is an int (that HTTP status with an ``InternalFailure`` JSON error), ``"reset"``
        (a TCP reset instead of an answer), ``"hang"`` (no answer, up to ``HANG_SECONDS``),
        ``"badstatus"`` (a non-HTTP status line), ``"truncated"`` (half of a valid answer under its
        full Content-Length) or ``("body", status, content_type, bytes)`` (that answer verbatim).
        """
        with self._lock:
            self.call_faults.extend(faults)

    def fail_account(self, status: int, code: str, message: str) -> None:
        """Answer every QuickSight call with this error (edition, access denied...)."""
        self.account_error = (status, code, message)

    def calls(self, operation: str) -> list[dict[str, Any]]:
        return [r for r in self.requests if r["operation"] == operation]

    # --- behaviour ------------------------------------------------------------------------
    def _new_download_url(self, job: EmulatedJob) -> str:
        if job.download_url:
            return job.download_url
        token = uuid.uuid4().hex
        issued = sum(1 for j, _ in self._tokens.values() if j is job)
        self._tokens[token] = (job, issued < job.expired_downloads)
        # The query string stands for the signature of a real pre-signed URL: a credential.
        return f"{self.url}/download/{token}?X-Amz-Signature=SECRET{token}"

    def describe(self, account: str, job_id: str) -> tuple[int, dict[str, Any]]:
        with self._lock:
            job = self.jobs.get((account, job_id))
            if job is None:
                return 404, _error(
                    "ResourceNotFoundException",
                    f"Asset bundle export job {job_id} for account {account} is not found.",
                )
            status = job.statuses[min(job.describes, len(job.statuses) - 1)]
            job.describes += 1
            body: dict[str, Any] = {
                "AssetBundleExportJobId": job.job_id,
                "AwsAccountId": job.account,
                "Arn": job.arn,
                "JobStatus": status,
                "ExportFormat": job.export_format,
                "CreatedTime": job.created_time,
                "ResourceArns": job.resource_arns,
                "IncludeAllDependencies": True,
                "RequestId": str(uuid.uuid4()),
            }
            if status == "SUCCESSFUL" and not job.omit_download_url:
                body["DownloadUrl"] = self._new_download_url(job)
            if status == "FAILED":
                body["Errors"] = job.errors
            if job.warnings:
                body["Warnings"] = job.warnings
            if job.describe_overrides:
                for key, value in job.describe_overrides.pop(0).items():
                    if value is DROP:
                        body.pop(key, None)
                    else:
                        body[key] = value
            return 200, body

    def start(self, account: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        job_id = request.get("AssetBundleExportJobId", "")
        with self._lock:
            existing = self.jobs.get((account, job_id))
            if existing and existing.statuses[-1] not in ("SUCCESSFUL", "FAILED"):
                return 409, _error("ConflictException", f"Job {job_id} is already running.")
        job = self.add_job(
            job_id,
            account=account,
            export_format=request.get("ExportFormat", "CLOUDFORMATION_JSON"),
            resource_arns=list(request.get("ResourceArns", [])),
            statuses=["IN_PROGRESS", "SUCCESSFUL"],
        )
        return 202, {"Arn": job.arn, "AssetBundleExportJobId": job_id, "RequestId": str(uuid.uuid4()), "Status": 202}

    def download(self, token: str) -> tuple[int, bytes, str]:
        plan = self.download_plan(token)
        return plan["status"], plan["body"], plan["content_type"]

    def download_plan(self, token: str) -> dict[str, Any]:
        """How to answer one download: status, body, content_type, headers, and the wire ``mode``
        (``"normal"``, ``"truncate"`` or ``"no-length"``)."""
        status, body, content_type, headers, mode = self._download(token)
        return {"status": status, "body": body, "content_type": content_type, "headers": headers, "mode": mode}

    def _download(self, token: str) -> tuple[int, bytes, str, dict[str, str], str]:
        with self._lock:
            entry = self._tokens.get(token)
            if entry is None or entry[1]:
                status, body, content_type = self._download_base(token)
                return status, body, content_type, {}, "normal"
            job = entry[0]
            if job.download_faults:
                job.downloads += 1
                fault = job.download_faults.pop(0)
                if fault == "truncate":
                    return 200, job.payload, "application/json", {}, "truncate"
                if fault in WIRE_FAULTS:
                    return 200, job.payload, "application/json", {}, fault
                if isinstance(fault, tuple) and fault[0] == "encoding":
                    return 200, job.payload, "application/json", {"Content-Encoding": fault[1]}, "normal"
                return int(fault), _s3_error("InternalError", "Scripted fault"), "application/xml", {}, "normal"
            if job.download_redirect and not job.download_status:
                job.downloads += 1
                return 302, b"", "text/plain", {"Location": job.download_redirect}, "normal"
            status, body, content_type = self._download_base(token)
            mode = "normal" if job.send_content_length or status != 200 else "no-length"
            return status, body, content_type, {}, mode

    def _download_base(self, token: str) -> tuple[int, bytes, str]:
        """The original download behaviour (unknown token, expiry, download_status); lock held."""
        entry = self._tokens.get(token)
        if entry is None:
            return 403, _s3_error("AccessDenied", "Access Denied"), "application/xml"
        job, expired = entry
        job.downloads += 1
        if expired:
            return 403, _s3_error("AccessDenied", "Request has expired"), "application/xml"
        if job.download_status:
            return job.download_status, _s3_error("InternalError", "Scripted failure"), "application/xml"
        return 200, job.payload, "application/json"


def _error(code: str, message: str) -> dict[str, Any]:
    return {"__type": code, "Message": message, "RequestId": str(uuid.uuid4())}


def _s3_error(code: str, message: str) -> bytes:
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{code}</Code><Message>{message}</Message>'
        f"<RequestId>{uuid.uuid4().hex[:16]}</RequestId></Error>"
    ).encode()


_request_ids = itertools.count(1)


def _handler_for(emulator: QuickSightEmulator) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        # Headers and body go out in separate writes: without TCP_NODELAY every answer waits for
        # the client's delayed ACK (~40 ms).
        disable_nagle_algorithm = True

        def log_message(self, *args: Any) -> None:  # keep test output quiet
            pass

        def _record(self, operation: str) -> None:
            match = _CREDENTIAL.search(self.headers.get("Authorization", ""))
            emulator.requests.append(
                {
                    "n": next(_request_ids),
                    "operation": operation,
                    "path": self.path.split("?", 1)[0],
                    "access_key": match.group("key") if match else None,
                    "user_agent": self.headers.get("User-Agent", ""),
                    "accept_encoding": self.headers.get("Accept-Encoding", ""),
                }
            )

        def _send(
            self,
            status: int,
            body: bytes,
            content_type: str,
            headers: dict[str, str] | None = None,
            mode: str = "normal",
        ) -> None:
            if mode in WIRE_FAULTS:
                self._misbehave(mode, status, body, content_type)
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if mode == "no-length":
                self.send_header("Connection", "close")
            else:
                self.send_header("Content-Length", str(len(body)))
            for key, value in (headers or {}).items():
                self.send_header(key, value)
            self.end_headers()
            if mode == "truncate":
                body = body[: len(body) // 2]
            self.wfile.write(body)
            if mode != "normal":
                self.wfile.flush()
                self.close_connection = True

        def _misbehave(self, fault: str, status: int, body: bytes, content_type: str) -> None:
            """Commit one wire fault instead of a proper answer, then drop the connection."""
            self.close_connection = True
            if fault == "reset":
                # SO_LINGER 0: close() sends a TCP RST, as a crashed proxy or load balancer does.
                self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                self.connection.close()
                return
            if fault == "hang":
                emulator.stopping.wait(HANG_SECONDS)
                return
            if fault == "badstatus":
                self.wfile.write(b"SSH-2.0-OpenSSH_9.6 not an HTTP server\r\n\r\n")
                self.wfile.flush()
                return
            if fault == "slowheaders":
                # A status line, then one header byte every 0.2 s: each byte renews a socket timeout.
                self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
                while not emulator.stopping.wait(0.2):
                    try:
                        self.wfile.write(b"a")
                        self.wfile.flush()
                    except OSError:
                        return
                return
            if fault == "gzip":
                encoded = gzip.compress(body)
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Encoding", "gzip")
                self.send_header("Content-Length", str(len(encoded)))
                self.end_headers()
                self.wfile.write(encoded)
                self.wfile.flush()
                self.close_connection = False
                return
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            if fault == "midchunk":
                self.send_header("Transfer-Encoding", "chunked")
                self.end_headers()
                # One chunk announced as 4 KiB, then the connection ends inside it.
                self.wfile.write(b"1000\r\n" + body[:100])
                self.wfile.flush()
                return
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if fault == "truncated":
                self.wfile.write(body[: len(body) // 2])
                self.wfile.flush()
                return
            # "trickle": one byte every 0.2 s, until the client gives up or the payload ends.
            for index in range(len(body)):
                if emulator.stopping.wait(0.2):
                    return
                try:
                    self.wfile.write(body[index : index + 1])
                    self.wfile.flush()
                except OSError:
                    return

        def _json(self, status: int, payload: dict[str, Any]) -> None:
            headers = {"x-amzn-RequestId": str(uuid.uuid4())}
            if status >= 400:
                headers["x-amzn-ErrorType"] = payload["__type"]
            self._send(status, json.dumps(payload).encode(), "application/json", headers)

        def _quicksight_gate(self) -> bool:
            """Apply account-wide errors and throttling; True if the call was answered."""
            if emulator.account_error:
                status, code, message = emulator.account_error
                self._json(status, _error(code, message))
                return True
            with emulator._lock:
                throttled = emulator.throttle_next > 0
                if throttled:
                    emulator.throttle_next -= 1
            if throttled:
                self._json(429, _error("ThrottlingException", "Rate exceeded"))
                return True
            with emulator._lock:
                fault = emulator.call_faults.pop(0) if emulator.call_faults else None
            if fault is None:
                return False
            if isinstance(fault, int):
                self._json(fault, _error("InternalFailure", f"Scripted fault {fault}"))
            elif isinstance(fault, tuple) and fault[0] == "body":
                _, status, content_type, raw = fault
                self._send(status, raw, content_type)
            else:
                payload = json.dumps(_error("InternalFailure", "x" * 200)).encode()
                self._misbehave(fault, 200, payload, "application/json")
            return True

        def do_GET(self) -> None:  # noqa: N802
            path = self.path.split("?", 1)[0]
            if path.startswith("/download/"):
                self._record("Download")
                plan = emulator.download_plan(path[len("/download/") :])
                self._send(plan["status"], plan["body"], plan["content_type"], plan["headers"], plan["mode"])
                return
            routed = emulator.assets.route_get(path)
            if routed is not None:
                operation, status, payload = routed
                self._record(operation)
                if not self._quicksight_gate():
                    self._json(status, payload)
                return
            match = _JOB_PATH.match(path)
            if not match:
                self._json(404, _error("UnknownOperationException", f"no route for GET {path}"))
                return
            self._record("DescribeAssetBundleExportJob")
            if self._quicksight_gate():
                return
            status, payload = emulator.describe(match["acct"], urllib.parse.unquote(match["job"]))
            self._json(status, emulator.assets.decorate(match["acct"], urllib.parse.unquote(match["job"]), payload))

        def do_POST(self) -> None:  # noqa: N802
            length = int(self.headers.get("Content-Length", "0"))
            raw = self.rfile.read(length)
            path = self.path.split("?", 1)[0]
            if path == "/":
                form = urllib.parse.parse_qs(raw.decode())
                self._record(form.get("Action", ["?"])[0])
                # What STS was asked (tests read the session name and the ExternalId sent).
                emulator.requests[-1]["sts"] = {key: values[0] for key, values in form.items()}
                self._assume_role(form)
                return
            match = _JOB_PATH.match(path)
            if not match or match["job"] != "export":
                self._json(404, _error("UnknownOperationException", f"no route for POST {path}"))
                return
            self._record("StartAssetBundleExportJob")
            if self._quicksight_gate():
                return
            status, payload = emulator.assets.start(match["acct"], json.loads(raw or b"{}"))
            self._json(status, payload)

        def _assume_role(self, form: dict[str, list[str]]) -> None:
            if emulator.assume_role_error:
                status, code, message = emulator.assume_role_error
                error = (
                    '<ErrorResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/"><Error><Type>Sender</Type>'
                    f"<Code>{code}</Code><Message>{message}</Message></Error>"
                    f"<RequestId>{uuid.uuid4()}</RequestId></ErrorResponse>"
                )
                self._send(status, error.encode(), "text/xml")
                return
            expiry = (dt.datetime.now(dt.timezone.utc) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
            role = form.get("RoleArn", [""])[0]
            name = form.get("RoleSessionName", [""])[0]
            body = f"""<AssumeRoleResponse xmlns="https://sts.amazonaws.com/doc/2011-06-15/">
<AssumeRoleResult><Credentials><AccessKeyId>{ASSUMED_KEY_ID}</AccessKeyId>
<SecretAccessKey>assumed-secret</SecretAccessKey><SessionToken>assumed-token</SessionToken>
<Expiration>{expiry}</Expiration></Credentials>
<AssumedRoleUser><AssumedRoleId>AROAEMULATED:{name}</AssumedRoleId><Arn>{role}/{name}</Arn></AssumedRoleUser>
</AssumeRoleResult><ResponseMetadata><RequestId>{uuid.uuid4()}</RequestId></ResponseMetadata></AssumeRoleResponse>"""
            self._send(200, body.encode(), "text/xml")

    return Handler


# --- release assets (issue 12): dashboards, analyses, data sets, data sources, and started exports ---
#
# Kept apart from the job scripting above. ``QuickSightEmulator.assets`` is an ``AssetRegistry``;
# its routes (real REST paths of botocore's quicksight model) are tried first by the handler:
#   GET /accounts/{acct}/dashboards/{id}[/definition]      DescribeDashboard(Definition)
#   GET /accounts/{acct}/analyses/{id}[/definition]        DescribeAnalysis(Definition)
#   GET /accounts/{acct}/data-sets/{id}                    DescribeDataSet
#   GET /accounts/{acct}/data-sets/{id}/refresh-schedules  ListRefreshSchedules
#   GET /accounts/{acct}/data-sources/{id}                 DescribeDataSource
# and StartAssetBundleExportJob is answered by ``AssetRegistry.start``: the job then runs
# (QUEUED_FOR_IMMEDIATE_EXECUTION, IN_PROGRESS, SUCCESSFUL by default) and serves a template
# generated from the registry with one parameter per override property asked for and present.

_ASSET_PATH = re.compile(
    r"^/accounts/(?P<acct>[^/]+)/(?P<kind>dashboards|analyses|data-sets|data-sources)/(?P<id>[^/]+)"
    r"(?P<sub>/definition|/refresh-schedules)?$"
)
_TERMINAL = ("SUCCESSFUL", "FAILED")
_RESOURCE_TYPES = {
    "datasource": "AWS::QuickSight::DataSource",
    "dataset": "AWS::QuickSight::DataSet",
    "analysis": "AWS::QuickSight::Analysis",
    "dashboard": "AWS::QuickSight::Dashboard",
    "theme": "AWS::QuickSight::Theme",
    "vpcconnection": "AWS::QuickSight::VPCConnection",
}
_ID_PROPERTIES = {
    "datasource": "DataSourceId",
    "dataset": "DataSetId",
    "analysis": "AnalysisId",
    "dashboard": "DashboardId",
    "theme": "ThemeId",
    "vpcconnection": "VPCConnectionId",
}
_LIST_KIND = {
    "DataSources": "datasource",
    "DataSets": "dataset",
    "Analyses": "analysis",
    "Dashboards": "dashboard",
    "Themes": "theme",
    "VPCConnections": "vpcconnection",
}


def arn_of(kind: str, asset_id: str, account: str = ACCOUNT) -> str:
    """``arn:aws:quicksight:us-east-1:<account>:<kind>/<id>`` (kind as in ARNs: dashboard, dataset, ...)."""
    return f"arn:aws:quicksight:{REGION}:{account}:{kind}/{asset_id}"


def _logical_id(asset_id: str) -> str:
    # The export's rule: alphanumerics of the id cut to 20, plus a 6-character uppercase hash.
    import hashlib

    return re.sub(r"[^A-Za-z0-9]", "", asset_id)[:20] + hashlib.sha256(asset_id.encode()).hexdigest()[:6].upper()


class AssetRegistry:
    """The emulated account's assets and the export jobs started on them.

    Attributes:
        conflict_next: Answer the next N StartAssetBundleExportJob calls with ConflictException.
        limit_next: Answer the next N with LimitExceededException (as if 5 exports were running).
        max_concurrent: Exports running at once before LimitExceededException (QuickSight: 5).
        job_statuses: The JobStatus sequence of each started job (Describe by Describe).
        job_warnings: The ``Warnings`` of each started job (QuickSight reports them under lenient validation).
        started: The request bodies of the accepted StartAssetBundleExportJob calls.
        options: The recorded request of each job id (echoed by DescribeAssetBundleExportJob).
    """

    def __init__(self, emulator: "QuickSightEmulator") -> None:
        self.emulator = emulator
        self.items: dict[tuple[str, str, str], dict[str, Any]] = {}
        self.conflict_next = 0
        self.limit_next = 0
        self.max_concurrent = 5
        self.job_statuses: list[str] = ["QUEUED_FOR_IMMEDIATE_EXECUTION", "IN_PROGRESS", "SUCCESSFUL"]
        self.job_warnings: list[dict[str, str]] = []
        self.started: list[dict[str, Any]] = []
        self.options: dict[tuple[str, str], dict[str, Any]] = {}

    # --- scripting ------------------------------------------------------------------------------
    def add_data_source(
        self,
        source_id: str,
        source_type: str,
        parameters: dict[str, Any],
        *,
        name: Optional[str] = None,
        secret_arn: Optional[str] = None,
        vpc_connection_id: Optional[str] = None,
        account: str = ACCOUNT,
    ) -> str:
        """A data source; ``parameters`` is its DataSourceParameters (one variant). Returns its ARN."""
        arn = arn_of("datasource", source_id, account)
        body: dict[str, Any] = {
            "Arn": arn,
            "DataSourceId": source_id,
            "Name": name or f"source {source_id}",
            "Type": source_type,
            "Status": "CREATION_SUCCESSFUL",
            "CreatedTime": 1_780_000_000.0,
            "DataSourceParameters": parameters,
        }
        if secret_arn:
            body["SecretArn"] = secret_arn
        if vpc_connection_id:
            body["VpcConnectionProperties"] = {"VpcConnectionArn": arn_of("vpcConnection", vpc_connection_id, account)}
        self.items[(account, "data-sources", source_id)] = body
        return arn

    def add_data_set(
        self,
        set_id: str,
        source_ids: tuple[str, ...] = (),
        *,
        name: Optional[str] = None,
        parent_set_ids: tuple[str, ...] = (),
        import_mode: str = "DIRECT_QUERY",
        schedule_ids: tuple[str, ...] = (),
        file_upload: bool = False,
        account: str = ACCOUNT,
    ) -> str:
        """A data set reading ``source_ids`` (one physical table each) and built on ``parent_set_ids``."""
        arn = arn_of("dataset", set_id, account)
        physical: dict[str, Any] = {
            f"t{i}": {
                "RelationalTable": {
                    "DataSourceArn": arn_of("datasource", source, account),
                    "Schema": "public",
                    "Name": "sales",
                    "InputColumns": [{"Name": "amount", "Type": "DECIMAL"}],
                }
            }
            for i, source in enumerate(source_ids)
        }
        if file_upload:
            physical["upload"] = {"FileSource": {"InputColumns": [{"Name": "amount", "Type": "DECIMAL"}]}}
        logical = {
            f"p{i}": {"Alias": parent, "Source": {"DataSetArn": arn_of("dataset", parent, account)}}
            for i, parent in enumerate(parent_set_ids)
        }
        self.items[(account, "data-sets", set_id)] = {
            "Arn": arn,
            "DataSetId": set_id,
            "Name": name or f"data set {set_id}",
            "ImportMode": import_mode,
            "PhysicalTableMap": physical,
            "LogicalTableMap": logical,
            "_schedules": list(schedule_ids),
        }
        return arn

    def _add_root(
        self, collection: str, kind: str, asset_id: str, set_ids: tuple[str, ...], name: Optional[str],
        errors: list[dict[str, Any]], theme_id: Optional[str], status: str, account: str,
    ) -> str:  # fmt: skip
        arn = arn_of(kind, asset_id, account)
        self.items[(account, collection, asset_id)] = {
            "Arn": arn,
            "Id": asset_id,
            "Name": name or f"{kind} {asset_id}",
            "DataSetArns": [arn_of("dataset", s, account) for s in set_ids],
            "Errors": errors,
            "Status": status,
            "ThemeArn": arn_of("theme", theme_id, account) if theme_id else "arn:aws:quicksight::aws:theme/CLASSIC",
        }
        return arn

    def add_dashboard(
        self, dashboard_id: str, set_ids: tuple[str, ...] = (), *, name: Optional[str] = None,
        errors: Optional[list[dict[str, Any]]] = None, theme_id: Optional[str] = None,
        status: str = "CREATION_SUCCESSFUL", account: str = ACCOUNT,
    ) -> str:  # fmt: skip
        """A published dashboard using ``set_ids``; ``errors`` are its definition Errors."""
        return self._add_root("dashboards", "dashboard", dashboard_id, set_ids, name, errors or [], theme_id, status, account)

    def add_analysis(
        self, analysis_id: str, set_ids: tuple[str, ...] = (), *, name: Optional[str] = None,
        errors: Optional[list[dict[str, Any]]] = None, theme_id: Optional[str] = None,
        status: str = "CREATION_SUCCESSFUL", account: str = ACCOUNT,
    ) -> str:  # fmt: skip
        """An analysis using ``set_ids``; ``errors`` are its definition Errors."""
        return self._add_root("analyses", "analysis", analysis_id, set_ids, name, errors or [], theme_id, status, account)

    # --- the API --------------------------------------------------------------------------------
    def route_get(self, path: str) -> Optional[tuple[str, int, dict[str, Any]]]:
        """(operation, status, body) for an asset route, None for other paths."""
        match = _ASSET_PATH.match(path)
        if not match:
            return None
        account, collection = match["acct"], match["kind"]
        asset_id, sub = urllib.parse.unquote(match["id"]), match["sub"] or ""
        operation = {
            ("dashboards", ""): "DescribeDashboard",
            ("dashboards", "/definition"): "DescribeDashboardDefinition",
            ("analyses", ""): "DescribeAnalysis",
            ("analyses", "/definition"): "DescribeAnalysisDefinition",
            ("data-sets", ""): "DescribeDataSet",
            ("data-sets", "/refresh-schedules"): "ListRefreshSchedules",
            ("data-sources", ""): "DescribeDataSource",
        }.get((collection, sub))
        if operation is None:
            return "Unknown", 404, _error("UnknownOperationException", f"no route for GET {path}")
        with self.emulator._lock:
            item = self.items.get((account, collection, asset_id))
        if item is None:
            noun = {"dashboards": "Dashboard", "analyses": "Analysis", "data-sets": "DataSet", "data-sources": "DataSource"}
            return operation, 404, _error(
                "ResourceNotFoundException", f"{noun[collection]} {asset_id} for account {account} is not found."
            )
        return operation, 200, self._answer(operation, account, item)

    def _answer(self, operation: str, account: str, item: dict[str, Any]) -> dict[str, Any]:
        request = {"RequestId": str(uuid.uuid4()), "Status": 200}
        if operation in ("DescribeDataSource",):
            return {"DataSource": item, **request}
        if operation == "DescribeDataSet":
            return {"DataSet": {k: v for k, v in item.items() if not k.startswith("_")}, **request}
        if operation == "ListRefreshSchedules":
            schedules = [
                {
                    "ScheduleId": sid,
                    "Arn": f"{item['Arn']}/refresh-schedule/{sid}",
                    "ScheduleFrequency": {"Interval": "DAILY", "TimeOfTheDay": "03:00"},
                    "StartAfterDateTime": 1_780_000_000.0,
                    "RefreshType": "FULL_REFRESH",
                }
                for sid in item["_schedules"]
            ]
            return {"RefreshSchedules": schedules, **request}
        declarations = [
            {"Identifier": f"ds{i}", "DataSetArn": arn} for i, arn in enumerate(item["DataSetArns"])
        ]
        if operation == "DescribeDashboard":
            version = {
                "VersionNumber": 1,
                "Status": item["Status"],
                "Errors": item["Errors"],
                "Arn": f"{item['Arn']}/version/1",
                "DataSetArns": item["DataSetArns"],
                "ThemeArn": item["ThemeArn"],
            }
            return {"Dashboard": {"DashboardId": item["Id"], "Arn": item["Arn"], "Name": item["Name"], "Version": version}, **request}
        if operation == "DescribeAnalysis":
            analysis = {
                "AnalysisId": item["Id"], "Arn": item["Arn"], "Name": item["Name"], "Status": item["Status"],
                "Errors": item["Errors"], "DataSetArns": item["DataSetArns"], "ThemeArn": item["ThemeArn"],
            }  # fmt: skip
            return {"Analysis": analysis, **request}
        key = "DashboardId" if operation == "DescribeDashboardDefinition" else "AnalysisId"
        body = {
            key: item["Id"],
            "Name": item["Name"],
            "ResourceStatus": item["Status"],
            "ThemeArn": item["ThemeArn"],
            "Definition": {"DataSetIdentifierDeclarations": declarations, "Sheets": []},
            **request,
        }
        if item["Errors"]:
            body["Errors"] = item["Errors"]
        return body

    def _running(self, account: str) -> int:
        count = 0
        for (acct, _), job in self.emulator.jobs.items():
            current = job.statuses[min(job.describes, len(job.statuses) - 1)]
            if acct == account and current not in _TERMINAL:
                count += 1
        return count

    def start(self, account: str, request: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        """StartAssetBundleExportJob: ConflictException, LimitExceededException, else a new running job."""
        job_id = request.get("AssetBundleExportJobId", "")
        with self.emulator._lock:
            if self.conflict_next > 0:
                self.conflict_next -= 1
                return 409, _error("ConflictException", f"Asset bundle export job {job_id} is already running.")
            existing = self.emulator.jobs.get((account, job_id))
            if existing and existing.statuses[min(existing.describes, len(existing.statuses) - 1)] not in _TERMINAL:
                return 409, _error("ConflictException", f"Asset bundle export job {job_id} is already running.")
            if self.limit_next > 0 or self._running(account) >= self.max_concurrent:
                self.limit_next = max(0, self.limit_next - 1)
                return 409, _error(
                    "LimitExceededException", "Too many asset bundle export jobs are running; the limit is 5."
                )
            self.started.append(json.loads(json.dumps(request)))
            self.options[(account, job_id)] = request
            payload = json.dumps(self.template_for(account, request), indent=2, ensure_ascii=False).encode()
        job = self.emulator.add_job(
            job_id,
            account=account,
            export_format=request.get("ExportFormat", "CLOUDFORMATION_JSON"),
            resource_arns=list(request.get("ResourceArns", [])),
            statuses=list(self.job_statuses),
            payload=payload,
            warnings=list(self.job_warnings),
        )
        return 202, {"Arn": job.arn, "AssetBundleExportJobId": job_id, "RequestId": str(uuid.uuid4()), "Status": 202}

    def decorate(self, account: str, job_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Add the options a job was started with to its Describe answer, as QuickSight echoes them."""
        recorded = self.options.get((account, job_id))
        if recorded is None or "JobStatus" not in body:
            return body
        for key in ("IncludeAllDependencies", "IncludePermissions", "IncludeTags", "ValidationStrategy",
                    "CloudFormationOverridePropertyConfiguration"):  # fmt: skip
            if key in recorded:
                body[key] = recorded[key]
        return body

    # --- the generated template -----------------------------------------------------------------
    def template_for(self, account: str, request: dict[str, Any]) -> dict[str, Any]:
        """A CLOUDFORMATION_JSON template of the job's assets with the parameters its overrides ask for."""
        config = request.get("CloudFormationOverridePropertyConfiguration") or {}
        prefix = bool((config.get("ResourceIdOverrideConfiguration") or {}).get("PrefixForAllResources"))
        asked: dict[str, list[str]] = {}
        for key, entries in config.items():
            if key in _LIST_KIND or key == "RefreshSchedules":
                for entry in entries:
                    asked[entry["Arn"]] = list(entry["Properties"])
        parameters: dict[str, Any] = {}
        resources: dict[str, Any] = {}
        if prefix:
            parameters["ResourceIdPrefixForAllResources"] = {"Type": "String", "Default": ""}
        if request.get("IncludePermissions"):
            parameters["IdentityRegion"] = {"Type": "String", "Default": REGION}

        def param(lid: str, kind: str, asset_id: str, prop: str, default: Any) -> dict[str, str]:
            spec: dict[str, Any] = {"Type": "String", "Description": f"{prop} for {kind}:{asset_id}"}
            if default is not None:
                spec["Default"] = str(default)
            parameters[f"{lid}{prop}"] = spec
            return {"Fn::Sub": "${" + f"{lid}{prop}" + "}"}

        def ident(value: str) -> Any:
            return {"Fn::Sub": "${ResourceIdPrefixForAllResources}" + value} if prefix else value

        for arn in self._closure(account, request.get("ResourceArns") or []):
            kind, asset_id = arn.split(":", 5)[5].split("/", 1)
            kind = kind.lower()
            if kind == "vpcconnection" or kind == "theme":
                item: dict[str, Any] = {"Name": f"{kind} {asset_id}"}
            else:
                collection = {"datasource": "data-sources", "dataset": "data-sets", "analysis": "analyses",
                              "dashboard": "dashboards"}[kind]  # fmt: skip
                item = self.items[(account, collection, asset_id)]
            lid = _logical_id(asset_id)
            props: dict[str, Any] = {"AwsAccountId": {"Fn::Sub": "${AWS::AccountId}"}, _ID_PROPERTIES[kind]: ident(asset_id)}
            wanted = asked.get(arn, [])
            props["Name"] = param(lid, kind, asset_id, "Name", item["Name"]) if "Name" in wanted else item["Name"]
            if kind == "datasource":
                props["Type"] = item["Type"]
                variant, values = next(iter(item["DataSourceParameters"].items()))
                rendered = dict(values)
                for prop in wanted:
                    if prop == "ManifestFileLocation" and isinstance(values.get(prop), dict):
                        rendered[prop] = {
                            part: param(lid, kind, asset_id, f"ManifestFileLocation{part}", values[prop][part])
                            for part in ("Bucket", "Key")
                        }
                    elif prop in values:
                        rendered[prop] = param(lid, kind, asset_id, prop, values[prop])
                props["DataSourceParameters"] = {variant: rendered}
                if "SecretArn" in wanted:
                    props["Credentials"] = {"SecretArn": param(lid, kind, asset_id, "SecretArn", None)}
                elif "Username" in wanted:
                    props["Credentials"] = {
                        "CredentialPair": {
                            "Username": param(lid, kind, asset_id, "Username", None),
                            "Password": param(lid, kind, asset_id, "Password", None),
                        }
                    }
            elif kind == "vpcconnection" and "RoleArn" in wanted:
                props["RoleArn"] = param(lid, "vpcConnection", asset_id, "RoleArn", f"arn:aws:iam::{account}:role/qs-vpc")
            resources[lid] = {"Type": _RESOURCE_TYPES[kind], "Properties": props}
            if kind == "dataset":
                for sid in item["_schedules"]:
                    schedule_arn = f"{arn}/refresh-schedule/{sid}"
                    schedule: dict[str, Any] = {"ScheduleId": sid, "ScheduleFrequency": {"Interval": "DAILY"}}
                    schedule_lid = f"{lid}RS{_logical_id(sid)}"
                    if "StartAfterDateTime" in asked.get(schedule_arn, []):
                        schedule["StartAfterDateTime"] = param(
                            schedule_lid, "refresh-schedule", f"{asset_id}/{sid}", "StartAfterDateTime", "2026-06-01T00:00:00Z"
                        )
                    resources[schedule_lid] = {
                        "Type": "AWS::QuickSight::RefreshSchedule",
                        "DependsOn": [lid],
                        "Properties": {"AwsAccountId": {"Fn::Sub": "${AWS::AccountId}"}, "DataSetId": ident(asset_id), "Schedule": schedule},
                    }
        template: dict[str, Any] = {
            "AWSTemplateFormatVersion": "2010-09-09",
            "Description": f"Generated by AWS QuickSight for {account}",
        }
        if parameters:
            template["Parameters"] = parameters
        template["Resources"] = resources
        return template

    def _closure(self, account: str, roots: list[str]) -> list[str]:
        """Every ARN IncludeAllDependencies exports for ``roots`` (dependencies first)."""
        seen: dict[str, None] = {}

        def visit(arn: str) -> None:
            if arn in seen:
                return
            kind, asset_id = arn.split(":", 5)[5].split("/", 1)
            collection = {"dashboard": "dashboards", "analysis": "analyses", "dataset": "data-sets",
                          "datasource": "data-sources"}.get(kind)  # fmt: skip
            item = self.items.get((account, collection, asset_id)) if collection else None
            if item is not None:
                for dep in item.get("DataSetArns", []):
                    visit(dep)
                theme = item.get("ThemeArn")
                if isinstance(theme, str) and f":{account}:" in theme:
                    visit(theme)
                for table in item.get("PhysicalTableMap", {}).values():
                    for member in table.values():
                        if isinstance(member, dict) and member.get("DataSourceArn"):
                            visit(member["DataSourceArn"])
                for logical in item.get("LogicalTableMap", {}).values():
                    visit(logical["Source"]["DataSetArn"])
                vpc = (item.get("VpcConnectionProperties") or {}).get("VpcConnectionArn")
                if vpc:
                    visit(vpc)
            seen[arn] = None

        for root in roots:
            visit(root)
        return list(seen)
