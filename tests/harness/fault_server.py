"""One AWS endpoint on loopback that answers every call with one scripted fault, in the asked service's protocol.

For the call layer's fault matrix (tests/aws/test_calls.py): point ``AWS_ENDPOINT_URL_<SERVICE>`` of
any service the product calls at it. The service is told from the request: QuickSight speaks
REST-JSON (paths under ``/accounts/``), CloudFormation and STS the query protocol (a form with
``Action=...``, XML answers), S3 REST-XML (anything else). A fault is one of:

- ``Refusal(status, code, message)``: that error answer, as the service writes it;
- ``MALFORMED``: 200 with an HTML page for a body and headers of the wrong type (what a proxy's
  login page or a mistyped endpoint answers);
- ``TRICKLE``: a status line, then one header byte every 50 ms (each byte renews a socket timeout).

With ``head_missing`` an S3 HeadObject is answered 404 (the key is not there), so that the PutObject
that follows it meets the fault.
"""

from __future__ import annotations

import json
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from typing import Any, Optional, Union

from loopback import LoopbackServer


@dataclass(frozen=True)
class Refusal:
    """An error answer: HTTP status, AWS error code, message."""

    status: int
    code: str
    message: str


MALFORMED = "malformed"
TRICKLE = "trickle"
Fault = Union[Refusal, str]

# Headers of typed members that a well-formed S3 answer carries as numbers or dates.
_WRONG_HEADERS = {"x-amz-object-size": "many", "x-amz-mp-parts-count": "many", "Last-Modified": "not a date"}


class FaultServer(LoopbackServer):
    """A loopback server answering every request with ``fault``. Use as a context manager."""

    def __init__(self, fault: Optional[Fault] = None, *, head_missing: bool = False) -> None:
        self.fault = fault
        self.head_missing = head_missing
        self.requests: list[tuple[str, str]] = []  # (protocol, what): ("query", "AssumeRole"), ("s3", "PUT")...
        super().__init__(_handler_for(self))


def _error(protocol: str, refusal: Refusal) -> tuple[bytes, str, dict[str, str]]:
    """(body, content type, headers) of an error answer in ``protocol``."""
    if protocol == "json":
        body = json.dumps({"Message": refusal.message}).encode()
        return body, "application/json", {"x-amzn-ErrorType": refusal.code, "x-amzn-RequestId": "fault-1"}
    if protocol == "query":
        body = (
            "<ErrorResponse><Error><Type>Sender</Type>"
            f"<Code>{refusal.code}</Code><Message>{refusal.message}</Message></Error>"
            "<RequestId>fault-1</RequestId></ErrorResponse>"
        ).encode()
        return body, "text/xml", {}
    body = (
        f'<?xml version="1.0" encoding="UTF-8"?><Error><Code>{refusal.code}</Code>'
        f"<Message>{refusal.message}</Message><RequestId>fault-1</RequestId></Error>"
    ).encode()
    return body, "application/xml", {}


def _handler_for(server: FaultServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True

        def log_message(self, *_: Any) -> None:
            pass

        def _answer(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length) if length else b""
            path = self.path.split("?", 1)[0]
            if self.command == "POST" and path == "/" and b"Action=" in raw:
                protocol, what = "query", urllib.parse.parse_qs(raw.decode()).get("Action", ["?"])[0]
            elif path.startswith("/accounts/"):
                protocol, what = "json", f"{self.command} {path}"
            else:
                protocol, what = "s3", self.command
            server.requests.append((protocol, what))
            if protocol == "s3" and self.command == "HEAD" and server.head_missing:
                self._send(404, b"", "application/xml", {})
                return
            fault = server.fault
            if isinstance(fault, Refusal):
                body, content_type, headers = _error(protocol, fault)
                self._send(fault.status, b"" if self.command == "HEAD" else body, content_type, headers)
            elif fault == MALFORMED:
                self._send(200, b"<html><body>Sign in to the proxy</body></html>", "text/html", _WRONG_HEADERS)
            elif fault == TRICKLE:
                self._trickle()
            else:
                raise AssertionError(f"no fault scripted for {what}")

        def _send(self, status: int, body: bytes, content_type: str, headers: dict[str, str]) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(body)))
            for key, value in headers.items():
                self.send_header(key, value)
            self.end_headers()
            self.wfile.write(body)

        def _trickle(self) -> None:
            self.close_connection = True
            self.wfile.write(b"HTTP/1.1 200 OK\r\nX-Padding: ")
            while not server.stopping.wait(0.05):
                try:
                    self.wfile.write(b"a")
                    self.wfile.flush()
                except OSError:
                    return

        do_GET = do_POST = do_PUT = do_HEAD = _answer  # noqa: N815

    return Handler
