"""Downloading the exported file from its pre-signed URL (a bearer credential: never shown)."""

from __future__ import annotations

import hashlib
import ipaddress
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import IO, Callable

from ..errors import DownloadError, DownloadRefusedError, DownloadUrlExpiredError
from .session import USER_AGENT


@dataclass(frozen=True)
class DownloadLimits:
    """Bounds on fetching the exported file.

    Attributes:
        max_bytes: Largest download accepted. A zip may carry more than the template itself.
        timeout: Seconds one download may take in all. The pre-signed URL must be *used* within
            5 minutes; S3 does not cut a transfer that started in time, so this bounds a stall.
        read_timeout: Seconds one socket read may block.
        attempts: Downloads tried, each with a freshly described URL, before giving up.
    """

    max_bytes: int = 256 * 1024 * 1024
    timeout: float = 600.0
    read_timeout: float = 60.0
    attempts: int = 3


DEFAULT_DOWNLOAD_LIMITS = DownloadLimits()


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
    parts = urllib.parse.urlsplit(url)
    if parts.scheme == "https" or (parts.scheme == "http" and _is_loopback(parts.hostname)):
        return
    raise DownloadRefusedError(
        f"refusing to download from a {parts.scheme or 'scheme-less'}:// URL on host {parts.hostname or '?'}: "
        "only https download URLs are followed"
    )


class _CheckedRedirects(urllib.request.HTTPRedirectHandler):
    """Follow redirects only to URLs that pass ``check_download_url``."""

    def redirect_request(self, req, fp, code, msg, headers, newurl):  # type: ignore[no-untyped-def]
        check_download_url(newurl)
        return super().redirect_request(req, fp, code, msg, headers, newurl)


def download_to(
    url: str,
    sink: IO[bytes],
    *,
    limits: DownloadLimits = DEFAULT_DOWNLOAD_LIMITS,
    clock: Callable[[], float] = time.monotonic,
) -> tuple[str, int]:
    """Stream ``url`` into ``sink`` within the limits; return (sha256 hex, bytes).

    Raises:
        DownloadUrlExpiredError: S3 answered 400/403 (an expired or otherwise refused signature).
        DownloadRefusedError: the URL's scheme, the size or the time is over a limit.
        DownloadError: any other failure (HTTP errors, broken connections).
    """
    check_download_url(url)
    opener = urllib.request.build_opener(_CheckedRedirects())
    request = urllib.request.Request(url, headers={"User-Agent": USER_AGENT})
    deadline = clock() + limits.timeout
    try:
        response = opener.open(request, timeout=limits.read_timeout)
    except urllib.error.HTTPError as exc:
        exc.close()
        if exc.code in (400, 403):
            raise DownloadUrlExpiredError(
                f"the pre-signed download URL was refused with HTTP {exc.code} (expired or forbidden)"
            ) from exc
        raise DownloadError(f"the download answered HTTP {exc.code}") from exc
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise DownloadError(f"the download failed to connect ({reason})") from exc
    digest = hashlib.sha256()
    total = 0
    with response:
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > limits.max_bytes:
            raise DownloadRefusedError(
                f"the exported file is {int(declared):,} bytes, more than the {limits.max_bytes:,} accepted"
            )
        try:
            while chunk := response.read(1024 * 1024):
                total += len(chunk)
                if total > limits.max_bytes:
                    raise DownloadRefusedError(f"the exported file is larger than the {limits.max_bytes:,} bytes accepted")
                if clock() > deadline:
                    raise DownloadRefusedError(f"the download took longer than {limits.timeout:.0f} s")
                digest.update(chunk)
                sink.write(chunk)
        except OSError as exc:
            raise DownloadError(f"the download broke off after {total:,} bytes ({exc})") from exc
    if declared and declared.isdigit() and int(declared) != total:
        raise DownloadError(f"the download ended after {total:,} of {int(declared):,} bytes")
    return digest.hexdigest(), total
