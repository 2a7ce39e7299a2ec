"""Downloading the exported file from its pre-signed URL (a bearer credential: never shown).

Nothing here quotes the URL or the text of an exception raised while using it: urllib and
http.client put the whole URL, query (signature, security token) included, into their messages
(``InvalidURL`` for a URL with a space or a control character, for one). Errors name the host,
the HTTP status or the exception's type, and are raised ``from None`` so that no chained
traceback carries the original text either.
"""

from __future__ import annotations

import hashlib
import http.client
import ipaddress
import os
import re
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from dataclasses import dataclass
from typing import IO, Any, Callable

from ..core.polling import Deadline
from ..errors import DownloadError, DownloadRefusedError, DownloadUrlExpiredError
from .session import USER_AGENT


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds on fetching the exported file.

    Attributes:
        max_bytes: Largest download accepted (after gzip decoding, if the server encoded it). A
            zip may carry more than the template itself.
        timeout: Seconds one download may take in all (it is also cut at the caller's deadline).
            The pre-signed URL must be *used* within 5 minutes; S3 does not cut a transfer that
            started in time, so this bounds a stall.
        read_timeout: Seconds one socket operation may block (never more than the time left).
        attempts: Downloads tried, each with a freshly described URL, before giving up.
        read_size: Largest piece read at once. Each read returns what one ``recv`` gives, so the
            deadline is checked after every piece however slowly the server trickles bytes.
    """

    max_bytes: int = 256 * 1024 * 1024
    timeout: float = 600.0
    read_timeout: float = 60.0
    attempts: int = 3
    read_size: int = 256 * 1024


DEFAULT_DOWNLOAD_LIMITS = DownloadLimits()

# Encodings a server may apply although we ask for identity (S3 serves an object stored with
# Content-Encoding: gzip metadata encoded whatever the request says).
_GZIP = ("gzip", "x-gzip")


# The test-only switch: set (to "1") by the loopback emulators' environment so that plain http to
# 127.0.0.1 / ::1 / localhost is followed. Never set it in a deployment: S3 serves downloads over https.
LOOPBACK_DOWNLOADS_SWITCH = "QUICKSIGHT_PROMOTION_TEST_ONLY_LOOPBACK_DOWNLOADS"

# S3 endpoint hosts (virtual-hosted ``<bucket>.`` or path-style), without the partition's DNS suffix:
# ``s3``, ``s3.<region>``, ``s3.dualstack.<region>``, ``s3-fips...``, the legacy ``s3-<region>`` and
# ``s3-external-1``. The region is ``us-east-1``, ``cn-north-1``, ``us-gov-west-1``...
_REGION = r"[a-z]{2}(?:-[a-z]+)+-\d{1,2}"
_S3_ENDPOINT = re.compile(
    rf"^(?:[a-z0-9][a-z0-9.-]*\.)?(?:s3(?:-fips)?(?:\.dualstack)?(?:\.(?P<region>{_REGION}))?"
    rf"|s3-(?P<legacy>{_REGION}|external-1))$"
)
# DNS suffix of each partition's S3 endpoints (aws-us-gov shares the aws suffix).
_PARTITION_SUFFIX = {"aws": ".amazonaws.com", "aws-cn": ".amazonaws.com.cn"}


def _partition_of(region: str) -> str:
    return "aws-cn" if region.startswith("cn-") else "aws"


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _loopback_switched_on() -> bool:
    return os.environ.get(LOOPBACK_DOWNLOADS_SWITCH, "") == "1"


def is_s3_endpoint(host: str | None, region: str | None = None) -> bool:
    """Whether ``host`` is an AWS S3 endpoint (of ``region``'s partition, when given).

    Args:
        host: The URL's host name (lower case, as ``urlsplit`` gives it); an IP literal never is.
        region: The region the file was exported in; its partition decides the DNS suffix.

    Returns:
        True for ``bucket.s3.amazonaws.com``, ``s3.us-west-2.amazonaws.com``, ``s3-eu-west-1.amazonaws.com``,
        ``bucket.s3.dualstack.us-east-1.amazonaws.com``, ``s3.cn-north-1.amazonaws.com.cn`` and the like.
    """
    if not host:
        return False
    partitions = [_partition_of(region)] if region else list(_PARTITION_SUFFIX)
    for partition in partitions:
        suffix = _PARTITION_SUFFIX[partition]
        if not host.endswith(suffix):
            continue
        match = _S3_ENDPOINT.match(host[: -len(suffix)])
        if match is None:
            continue
        named = match.group("region") or match.group("legacy")
        # An endpoint naming a region must be of the suffix's partition (s3.cn-north-1.amazonaws.com is not S3).
        if named is None or named == "external-1" or _partition_of(named) == partition:
            return True
    return False


def check_download_url(url: str, region: str | None = None) -> None:
    """Refuse any URL but https to an AWS S3 endpoint of the partition.

    Plain http to a loopback host is followed only when the test-only switch
    ``QUICKSIGHT_PROMOTION_TEST_ONLY_LOOPBACK_DOWNLOADS=1`` is set (the loopback emulators set it).
    Messages name the scheme and host, never the URL: its query string is a credential.

    Args:
        url: The pre-signed URL (or a redirect's target).
        region: The export's region: its partition's S3 endpoints only (any partition's when None).

    Raises:
        DownloadError: the URL cannot be parsed.
        DownloadRefusedError: another scheme or host.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme.lower(), parts.hostname
    except (ValueError, TypeError):
        raise DownloadError("the download URL QuickSight gave cannot be parsed as a URL") from None
    if scheme == "https" and is_s3_endpoint(host, region):
        return
    if scheme == "http" and _is_loopback(host) and _loopback_switched_on():
        return
    where = f" of the {_partition_of(region)} partition" if region else ""
    raise DownloadRefusedError(
        f"refusing to download from a {scheme or 'scheme-less'}:// URL on host {host or '?'}: "
        f"only https download URLs to an AWS S3 endpoint{where} are followed"
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs that pass ``check_download_url`` (the same partition's S3)."""

    def __init__(self, region: str | None = None) -> None:
        super().__init__()
        self._region = region

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_download_url(newurl, self._region)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


class _Sockets:
    """The socket of the connection in use, so that its timeout can follow the deadline and a
    watchdog can cut it (urllib exposes neither)."""

    def __init__(self) -> None:
        self.current: socket.socket | None = None
        self.cut = False
        self._lock = threading.Lock()

    def connection_class(self, base: type[http.client.HTTPConnection]) -> Callable[..., http.client.HTTPConnection]:
        tracker = self

        class Tracked(base):  # type: ignore[valid-type, misc]
            def connect(self) -> None:
                super().connect()
                with tracker._lock:
                    tracker.current = self.sock
                    if tracker.cut:
                        _shutdown(self.sock)

        return Tracked

    def set_timeout(self, seconds: float) -> None:
        with self._lock:
            if self.current is not None:
                try:
                    self.current.settimeout(max(seconds, 0.01))
                except OSError:
                    pass

    def cut_now(self) -> None:
        """Shut the connection down: a blocked read returns at once (the watchdog's job)."""
        with self._lock:
            self.cut = True
            if self.current is not None:
                _shutdown(self.current)


def _shutdown(sock: Any) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except (OSError, ValueError):
        pass


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, sockets: _Sockets) -> None:
        super().__init__()
        self._class = sockets.connection_class(http.client.HTTPConnection)

    def http_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(self._class, req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, sockets: _Sockets) -> None:
        super().__init__()
        self._class = sockets.connection_class(http.client.HTTPSConnection)

    def https_open(self, req):  # type: ignore[no-untyped-def]
        return self.do_open(self._class, req, context=self._context)


def _failure(exc: BaseException) -> str:
    """What broke, in words that cannot hold the URL: the exception's type and, for socket errors, errno."""
    if isinstance(exc, urllib.error.URLError) and isinstance(exc.reason, BaseException):
        exc = exc.reason
    if isinstance(exc, http.client.InvalidURL) or isinstance(exc, UnicodeError):
        return f"{type(exc).__name__}: the URL QuickSight gave holds spaces, control or non-ASCII characters"
    if isinstance(exc, socket.timeout):
        return "a socket read timed out"
    if isinstance(exc, OSError) and exc.errno is not None:
        return f"{type(exc).__name__}, errno {exc.errno}"
    return type(exc).__name__


class _Decoder:
    """Undo a gzip Content-Encoding, bounded: never inflate more than ``limit`` + 1 bytes.

    A gzip stream may hold several members one after the other (RFC 1952); each is inflated in turn.
    """

    def __init__(self, encoding: str, limit: int) -> None:
        self.gzip = encoding in _GZIP
        self._inflate = self._member() if self.gzip else None
        self.limit = limit
        self.produced = 0

    @staticmethod
    def _member() -> Any:
        return zlib.decompressobj(16 + zlib.MAX_WBITS)

    def feed(self, chunk: bytes) -> bytes:
        if self._inflate is None:
            self.produced += len(chunk)
            return chunk
        out = bytearray()
        data = chunk
        while data:
            room = self.limit + 1 - self.produced - len(out)
            if room <= 0:  # (a max_length of 0 would mean "no limit" to zlib)
                break
            try:
                out += self._inflate.decompress(data, room)
            except zlib.error:
                raise DownloadError("the download's gzip Content-Encoding is corrupt") from None
            if self._inflate.unconsumed_tail:
                # Output stopped at `room` with input left: the decoded file is over the limit
                # (produced is now limit + 1, and the caller refuses the download).
                break
            data = self._inflate.unused_data if self._inflate.eof else b""
            if data:
                self._inflate = self._member()
        self.produced += len(out)
        return bytes(out)

    def finish(self) -> None:
        if self._inflate is not None and not self._inflate.eof:
            raise DownloadError("the download's gzip Content-Encoding ended before its end marker (truncated)")


def download_to(
    url: str,
    sink: IO[bytes],
    *,
    limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    clock: Callable[[], float] = time.monotonic,
    deadline: Deadline | None = None,
    region: str | None = None,
) -> tuple[str, int]:
    """Stream ``url`` into ``sink`` within the limits; return (sha256 hex, bytes).

    The download ends by ``limits.timeout`` or ``deadline``, whichever is first, however the
    server behaves: every socket operation's timeout is the time left (at most
    ``limits.read_timeout``), the clock is checked after every piece read, and a watchdog shuts
    the connection down at the deadline (a server trickling its headers byte by byte would
    otherwise renew the socket timeout forever). A gzip ``Content-Encoding`` is decoded (bounded
    by ``max_bytes``); the hash and size are those of the decoded file. Only ``region``'s partition's
    S3 endpoints are followed, redirects included (see ``check_download_url``).

    Raises:
        DownloadUrlExpiredError: S3 answered 400/403 (an expired or otherwise refused signature).
        DownloadRefusedError: the URL's scheme, the size, the encoding or the time is over a limit.
        DownloadError: any other failure (HTTP errors, broken connections, malformed answers).
    """
    check_download_url(url, region)
    budget = limits.timeout if deadline is None else min(limits.timeout, deadline.remaining())
    end = clock() + budget
    if budget <= 0:
        raise DownloadRefusedError("no time was left to download the file")
    sockets = _Sockets()
    # The watchdog runs on real time: the clock may be injected (tests), the sockets are not.
    watchdog = threading.Timer(budget, sockets.cut_now)
    watchdog.daemon = True
    watchdog.start()
    try:
        transfer = _Transfer(limits, clock, end, sockets, f"the download did not finish within {budget:.0f} s", region)
        return _download(url, sink, transfer)
    finally:
        watchdog.cancel()


@dataclass(frozen=True)
class _Transfer:
    """The bounds of one download: its limits, its end on ``clock``, its sockets, what to say when time is up."""

    limits: DownloadLimits
    clock: Callable[[], float]
    end: float
    sockets: _Sockets
    took_too_long: str
    region: str | None = None

    def left(self) -> float:
        return self.end - self.clock()

    def out_of_time(self) -> bool:
        return self.sockets.cut or self.left() <= 0


def _download(url: str, sink: IO[bytes], transfer: _Transfer) -> tuple[str, int]:
    """Open ``url`` and stream its (decoded) bytes into ``sink``: (sha256 hex, bytes)."""
    response = _open(url, transfer)
    with response:
        encoding, declared = _checked_headers(response, transfer.limits)
        sha256, produced, received = _stream(response, sink, encoding, transfer)
    if declared is not None and declared != received:
        raise DownloadError(f"the download ended after {received:,} of {declared:,} bytes")
    return sha256, produced


def _open(url: str, transfer: _Transfer) -> Any:
    """The answer to GET ``url`` (redirects checked), its socket timeout the time left."""
    opener = urllib.request.build_opener(_HTTP(transfer.sockets), _HTTPS(transfer.sockets), _CheckedRedirects(transfer.region))
    try:
        # Inside the try: Request() itself quotes the whole URL in the ValueError it raises.
        request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT, "Accept-Encoding": "identity"})
        return opener.open(request, timeout=max(0.01, min(transfer.limits.read_timeout, transfer.left())))
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (400, 403):
            raise DownloadUrlExpiredError(
                f"the pre-signed download URL was refused with HTTP {exc.code} (expired or forbidden)"
            ) from None
        raise DownloadError(f"the download answered HTTP {exc.code}") from None
    except DownloadError:
        raise
    except (urllib.error.URLError, http.client.HTTPException, OSError, ValueError) as exc:
        if transfer.out_of_time():
            raise DownloadRefusedError(f"{transfer.took_too_long} (no answer in time)") from None
        raise DownloadError(f"the download failed to connect or to get an answer ({_failure(exc)})") from None


def _checked_headers(response: Any, limits: DownloadLimits) -> tuple[str, int | None]:
    """(Content-Encoding, declared Content-Length) of an answer; an encoding or a size over the limits refused."""
    encoding = (response.headers.get("Content-Encoding") or "identity").strip().lower()
    if encoding not in ("identity", *_GZIP):
        raise DownloadRefusedError(
            f"the file was served with Content-Encoding {encoding!r}, which cannot be decoded (only gzip is): "
            "check the S3 object's metadata or the proxy between this machine and S3"
        )
    declared_text = response.headers.get("Content-Length")
    declared = int(declared_text) if declared_text and declared_text.strip().isdigit() else None
    if declared is not None and encoding == "identity" and declared > limits.max_bytes:
        raise DownloadRefusedError(f"the exported file is {declared:,} bytes, more than the {limits.max_bytes:,} accepted")
    return encoding, declared


def _stream(response: Any, sink: IO[bytes], encoding: str, transfer: _Transfer) -> tuple[str, int, int]:
    """Read the body piece by piece into ``sink``, the clock checked after each: (sha256 hex, bytes decoded, bytes received)."""
    limits, sockets = transfer.limits, transfer.sockets
    digest = hashlib.sha256()
    received = 0
    decoder = _Decoder(encoding, limits.max_bytes)
    try:
        while True:
            left = transfer.left()
            if left <= 0 or sockets.cut:
                raise DownloadRefusedError(f"{transfer.took_too_long} ({received:,} bytes received)")
            sockets.set_timeout(min(limits.read_timeout, left))
            chunk = response.read1(limits.read_size)
            if sockets.cut:
                raise DownloadRefusedError(f"{transfer.took_too_long} ({received:,} bytes received)")
            if not chunk:
                break
            received += len(chunk)
            data = decoder.feed(chunk)
            if decoder.produced > limits.max_bytes or (encoding == "identity" and received > limits.max_bytes):
                raise DownloadRefusedError(f"the exported file is larger than the {limits.max_bytes:,} bytes accepted")
            digest.update(data)
            sink.write(data)
        decoder.finish()
    except DownloadError:
        raise
    except (http.client.HTTPException, OSError, ValueError) as exc:
        # IncompleteRead, a chunked body broken mid-chunk, a reset, a read timeout.
        if transfer.out_of_time():
            raise DownloadRefusedError(f"{transfer.took_too_long} ({received:,} bytes received)") from None
        raise DownloadError(f"the download broke off after {received:,} bytes ({_failure(exc)})") from None
    return digest.hexdigest(), decoder.produced, received
