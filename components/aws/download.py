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


def _is_loopback(host: str | None) -> bool:
    if not host:
        return False
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_download_url(url: str) -> None:
    """Refuse any URL but https (plain http is allowed to loopback hosts only, for tests).

    Messages name the scheme and host, never the URL: its query string is a credential.
    """
    try:
        parts = urllib.parse.urlsplit(url)
        scheme, host = parts.scheme, parts.hostname
    except (ValueError, TypeError):
        raise DownloadError("the download URL QuickSight gave cannot be parsed as a URL") from None
    if scheme == "https" or (scheme == "http" and _is_loopback(host)):
        return
    raise DownloadRefusedError(
        f"refusing to download from a {scheme or 'scheme-less'}:// URL on host {host or '?'}: "
        "only https download URLs are followed"
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs that pass ``check_download_url``."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_download_url(newurl)
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
) -> tuple[str, int]:
    """Stream ``url`` into ``sink`` within the limits; return (sha256 hex, bytes).

    The download ends by ``limits.timeout`` or ``deadline``, whichever is first, however the
    server behaves: every socket operation's timeout is the time left (at most
    ``limits.read_timeout``), the clock is checked after every piece read, and a watchdog shuts
    the connection down at the deadline (a server trickling its headers byte by byte would
    otherwise renew the socket timeout forever). A gzip ``Content-Encoding`` is decoded (bounded
    by ``max_bytes``); the hash and size are those of the decoded file.

    Raises:
        DownloadUrlExpiredError: S3 answered 400/403 (an expired or otherwise refused signature).
        DownloadRefusedError: the URL's scheme, the size, the encoding or the time is over a limit.
        DownloadError: any other failure (HTTP errors, broken connections, malformed answers).
    """
    check_download_url(url)
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
        transfer = _Transfer(limits, clock, end, sockets, f"the download did not finish within {budget:.0f} s")
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
    opener = urllib.request.build_opener(_HTTP(transfer.sockets), _HTTPS(transfer.sockets), _CheckedRedirects())
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
