"""Unpack and parse the file a CLOUDFORMATION_JSON asset-bundle export produces.

Pure core: no network, no Pulumi. Input is a seekable binary stream (the download is spooled
to one, so a zip is never held twice); output is the template as compact JSON.

What QuickSight serves for CLOUDFORMATION_JSON is one CloudFormation template as raw JSON,
although the API documentation speaks of a ``.qs`` zip (that is the QUICKSIGHT_JSON format).
We sniff the first bytes: ``PK\\x03\\x04`` is a zip holding one JSON template, anything else is
parsed as UTF-8 JSON.

The template text is never searched and replaced: QuickSight calculated fields contain literal
``${Name}`` strings that are *not* CloudFormation substitutions.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
import struct
import zipfile
import zlib
from dataclasses import dataclass
from typing import IO, Any, Callable, NamedTuple

from ..errors import BundleFormatError
from .quotas import URL_TEMPLATE_LIMIT

ZIP_MAGIC = b"PK\x03\x04"
# An empty zip (no members) starts with the end-of-central-directory record instead.
EMPTY_ZIP_MAGIC = b"PK\x05\x06"

_CHUNK = 1024 * 1024
_DRIVE = re.compile(r"^[A-Za-z]:")


@dataclass(frozen=True)
class BundleLimits:
    """Upper bounds applied while unpacking; each protects the provider process.

    Attributes:
        max_template_bytes: Largest template accepted, in bytes before compaction. Real exports of
            a few analyses are ~0.5 MB pretty-printed; CloudFormation deploys at most 1 MB through
            S3, so 64 MiB leaves room for compaction while refusing absurd files.
        max_zip_members: Most members a zip may list. A CLOUDFORMATION_JSON zip holds one.
        max_central_directory_bytes: Largest zip central directory accepted, read from the
            end-of-central-directory record *before* ``zipfile`` parses (and holds) it: 1 MiB is
            thousands of entries.
        max_depth: Deepest nesting of objects and arrays accepted in the template. QuickSight
            definitions nest ~20 levels; CloudFormation itself refuses absurd depths.
    """

    max_template_bytes: int = 64 * 1024 * 1024
    max_zip_members: int = 1000
    max_central_directory_bytes: int = 1024 * 1024
    max_depth: int = 200


DEFAULT_LIMITS = BundleLimits()


@dataclass(frozen=True)
class Template:
    """A parsed export template.

    Attributes:
        body: The template as compact JSON (UTF-8 text, non-ASCII kept), content unchanged.
        size: Bytes of ``body`` encoded as UTF-8.
        source: ``"json"`` for a raw JSON download, ``"zip:<member>"`` for a zip.
        document: The parsed template.
    """

    body: str
    size: int
    source: str
    document: dict[str, Any]


_COMPACT = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"))
# The encoder's own quoting of strings with non-ASCII kept, as json.dumps(ensure_ascii=False) does.
_quote = json.encoder.encode_basestring


def compact_json(document: Any) -> str:
    """Serialise a parsed template as compact JSON, keeping key order and non-ASCII text.

    The same text as ``json.dumps(document, ensure_ascii=False, separators=(",", ":"))``, built
    one resource (one value two levels down) at a time: the encoder's scratch space is then that
    of one resource, not of the whole template (1.1 MB less peak memory for a 1 MB template, for
    ~0.3 ms more; see bench/memory.py).
    """
    return _compact(document, 2)


def _compact(value: Any, depth: int) -> str:
    if depth and isinstance(value, dict) and all(isinstance(key, str) for key in value):
        items = ",".join(f"{_quote(key)}:{_compact(item, depth - 1)}" for key, item in value.items())
        return "{" + items + "}"
    return _COMPACT.encode(value)


def parse_template(raw: bytes, *, source: str = "json", local: bool = False) -> Template:
    """Parse template bytes (UTF-8, BOM tolerated) and check it is a CloudFormation template.

    Args:
        raw: The bytes.
        source: ``json``, or ``zip:<member>`` for a member of a zip.
        local: The bytes were not downloaded (a local file, an archived template): messages say "the file".

    Raises:
        BundleFormatError: the bytes are not UTF-8 JSON, not an object, or have no ``Resources``.
    """
    return _parse(lambda: raw, source, words=_LOCAL if local else _DOWNLOADED)


# Longest number literal accepted: a 64-bit integer has 20 digits, a double needs 17
# significant digits; anything far longer is not a value CloudFormation or QuickSight can hold
# (and converting a 100,000-digit integer is quadratic on Python 3.10).
MAX_NUMBER_CHARS = 100


class _Refused(ValueError):
    """Raised from inside json.loads by the guards below; turned into a BundleFormatError."""


def _object(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    # json.loads keeps the last of duplicate keys without a word; CloudFormation refuses such
    # templates, and deploying a silently changed one would be worse.
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _Refused(f"the key {key!r} appears twice in one object")
            seen.add(key)
    return document


def _constant(name: str) -> Any:
    raise _Refused(f"it holds {name}, which is not JSON (a re-serialised template would not be JSON either)")


def _integer(text: str) -> int:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"it holds an integer of {len(text):,} digits")
    return int(text)


def _float(text: str) -> float:
    if len(text) > MAX_NUMBER_CHARS:
        raise _Refused(f"it holds a number of {len(text):,} characters")
    value = float(text)
    if math.isinf(value):
        raise _Refused(f"it holds the number {text[:40]}, too large for a double")
    return value


@dataclass(frozen=True)
class _Words:
    """How messages name the file: a download (the export path) or a local file (the command line)."""

    file: str
    zip: str
    json: str
    truncated: str
    empty: str


_DOWNLOADED = _Words(
    file="the downloaded file",
    zip="the downloaded zip",
    json="the downloaded JSON template",
    truncated="the download may be truncated; re-run to download it again or re-export the bundle",
    empty="describe the export job again and re-run, or re-export the bundle",
)
_LOCAL = _Words(
    file="the file",
    zip="the zip",
    json="the JSON template",
    truncated="the file may be truncated or not an export; check it, or re-export the bundle",
    empty="re-export the bundle",
)


def _too_deep(document: Any, limit: int) -> bool:
    """Whether objects/arrays nest deeper than ``limit`` (iterative: no recursion on hostile input)."""
    stack: list[tuple[Any, int]] = [(document, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > limit:
            return True
        if isinstance(value, dict):
            stack.extend((item, depth + 1) for item in value.values() if isinstance(item, (dict, list)))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value if isinstance(item, (dict, list)))
    return False


def _parse(
    read: Callable[[], bytes | bytearray], source: str, max_depth: int = 200, words: _Words = _DOWNLOADED
) -> Template:
    """Parse the bytes ``read()`` returns, holding as little at once as the stdlib allows.

    ``read`` hands the bytes over without the caller keeping a reference (``unpack_bundle``
    reads the download inside it), so each stage's input is freed as soon as the next stage has
    it: bytes -> text (the bytes freed) -> document (the text freed) -> compact body. Peak memory
    is then the largest pair of neighbours, not their sum (see bench/memory.py).
    """
    where = words.file if source == "json" else f"zip member {source[4:]!r}"
    text = _decode(read(), where)
    try:
        document = json.loads(
            text, object_pairs_hook=_object, parse_constant=_constant, parse_int=_integer, parse_float=_float
        )
    except json.JSONDecodeError as exc:
        raise BundleFormatError(
            f"{where} is not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}): {words.truncated}"
        ) from exc
    except _Refused as exc:
        raise BundleFormatError(
            f"{where} is refused: {exc}; the template is never changed silently: re-export the bundle from QuickSight"
        ) from None
    except RecursionError:
        raise BundleFormatError(
            f"{where} nests objects or arrays deeper than {max_depth} levels: refusing it; re-export the bundle"
        ) from None
    if _too_deep(document, max_depth):
        raise BundleFormatError(
            f"{where} nests objects or arrays deeper than {max_depth} levels: refusing it; re-export the bundle"
        )
    # The text is the largest object here (2 or 4 bytes a character once any character is
    # beyond Latin-1): drop it before the compact body is built.
    del text
    if not isinstance(document, dict):
        raise BundleFormatError(
            f"{where} holds a JSON {type(document).__name__}, not a CloudFormation template object: "
            "check that the job was exported with ExportFormat=CLOUDFORMATION_JSON"
        )
    resources = document.get("Resources")
    if not isinstance(resources, dict) or not resources:
        found = ", ".join(sorted(document)) or "nothing"
        raise BundleFormatError(
            f"{where} is JSON but not a CloudFormation template: no non-empty 'Resources' object "
            f"(top-level keys: {found}); check the export's ResourceArns and re-export"
        )
    body = compact_json(document)
    return Template(body=body, size=_utf8_size(body), source=source, document=document)


def _decode(raw: bytes | bytearray, where: str) -> str:
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise BundleFormatError(
            f"{where} is not UTF-8 text (invalid byte at offset {exc.start}): "
            "a CLOUDFORMATION_JSON export is a JSON template or a zip holding one; re-export the bundle"
        ) from exc


def _utf8_size(text: str) -> int:
    """Bytes of ``text`` in UTF-8, without encoding a copy when it is ASCII."""
    return len(text) if text.isascii() else len(text.encode("utf-8"))


def unpack_bundle(stream: IO[bytes], *, limits: BundleLimits = DEFAULT_LIMITS, local: bool = False) -> Template:
    """Read an export file from a seekable stream: raw JSON, or a zip holding one JSON template.

    Args:
        stream: The file, seekable.
        limits: Bounds of unpacking.
        local: The stream is a local file (messages then speak of the file, not of a download).

    Raises:
        BundleFormatError: with what was wrong (empty file, unsafe or ambiguous zip, bomb, bad JSON).
    """
    words = _LOCAL if local else _DOWNLOADED
    stream.seek(0)
    head = stream.read(4)
    stream.seek(0)
    if not head:
        raise BundleFormatError(f"{words.file} is empty: {words.empty}")
    if head in (ZIP_MAGIC, EMPTY_ZIP_MAGIC):
        return _unpack_zip(stream, limits, words)
    return _parse(lambda: _read_bounded(stream, limits.max_template_bytes, words.json), "json", limits.max_depth, words)


class LocalBundle(NamedTuple):
    """An export file read from disk (see ``read_local_bundle``).

    Attributes:
        template: The parsed template.
        sha256: The sha256 (hex) of the file's bytes, as ``expectedSha256`` pins it.
        size: Bytes of the file.
    """

    template: Template
    sha256: str
    size: int


def read_local_bundle(stream: IO[bytes], *, limits: BundleLimits = DEFAULT_LIMITS) -> LocalBundle:
    """Hash a local export file, then unpack it (messages speak of the file, not of a download).

    Args:
        stream: The file opened for binary reading, seekable, at its start.
        limits: Bounds of unpacking.

    Raises:
        BundleFormatError: as ``unpack_bundle``.
    """
    digest = hashlib.sha256()
    while chunk := stream.read(_CHUNK):
        digest.update(chunk)
    size = stream.tell()
    return LocalBundle(unpack_bundle(stream, limits=limits, local=True), digest.hexdigest(), size)


def _read_bounded(stream: IO[bytes], limit: int, what: str) -> bytes:
    """Read a whole stream but refuse more than ``limit`` bytes, without reading past it."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise BundleFormatError(
            f"{what} is larger than {limit:,} bytes: refusing it (CloudFormation deploys at most "
            f"{URL_TEMPLATE_LIMIT:,} bytes); export fewer assets per bundle"
        )
    return data


def _unsafe_member_reason(name: str) -> str | None:
    """Say why a zip member name is unsafe (absolute, traversal, drive letter), or None."""
    if "\x00" in name:
        return "contains a NUL byte"
    if name.startswith(("/", "\\")) or _DRIVE.match(name):
        return "is an absolute path"
    if "\\" in name:
        return "uses backslashes"
    if ".." in name.split("/"):
        return "climbs out of the archive with '..'"
    return None


_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record (22 bytes + comment)
_ZIP64_LOCATOR = struct.Struct("<4sLQL")  # zip64 end of central directory locator (20 bytes)
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")  # zip64 end of central directory record (56 bytes)
_MAX_COMMENT = 0xFFFF


def _central_directory(stream: IO[bytes]) -> tuple[int, int] | None:
    """(entries, bytes) of a zip's central directory, read from its end records; None if there are none.

    ``zipfile.ZipFile`` reads and parses the whole directory before anyone can look at it (a
    13 MB file listing hundreds of thousands of entries costs ~90 MB), so its size is read first.
    """
    stream.seek(0, 2)
    size = stream.tell()
    tail_start = max(0, size - _EOCD.size - _MAX_COMMENT)
    stream.seek(tail_start)
    tail = stream.read()
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        return None
    _sig, _disk, _cd_disk, _here, entries, cd_bytes, _offset, _comment = _EOCD.unpack_from(tail, at)
    locator_at = at - _ZIP64_LOCATOR.size
    if locator_at >= 0 and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        _sig, _disk, record_offset, _disks = _ZIP64_LOCATOR.unpack_from(tail, locator_at)
        if 0 <= record_offset <= size - _ZIP64_EOCD.size:
            stream.seek(record_offset)
            record = stream.read(_ZIP64_EOCD.size)
            if record[:4] == b"PK\x06\x06":
                fields = _ZIP64_EOCD.unpack(record)
                entries, cd_bytes = max(entries, fields[7]), max(cd_bytes, fields[8])
    return entries, cd_bytes


def _unpack_zip(stream: IO[bytes], limits: BundleLimits, words: _Words = _DOWNLOADED) -> Template:
    _check_directory(stream, limits, words)
    stream.seek(0)
    try:
        archive = zipfile.ZipFile(stream)
    except (zipfile.BadZipFile, OSError, ValueError, EOFError, struct.error, NotImplementedError) as exc:
        raise BundleFormatError(
            f"{words.file} starts like a zip but cannot be read as one ({exc}): {words.truncated}"
        ) from exc
    with archive:
        member = _template_member(archive, limits, words)
        return _parse(
            lambda: _read_member(archive, member, limits.max_template_bytes),
            f"zip:{member.filename}",
            limits.max_depth,
            words,
        )


def _check_directory(stream: IO[bytes], limits: BundleLimits, words: _Words) -> None:
    """Refuse a zip whose end record lists too many members or too large a directory, before parsing it."""
    directory = _central_directory(stream)
    if directory is None:
        return
    entries, cd_bytes = directory
    if entries > limits.max_zip_members:
        found = f"lists {entries:,} members, more than the {limits.max_zip_members:,} accepted"
    elif cd_bytes > limits.max_central_directory_bytes:
        found = f"has a {cd_bytes:,}-byte directory, more than the {limits.max_central_directory_bytes:,} bytes accepted"
    else:
        return
    raise BundleFormatError(
        f"{words.zip} {found} (read from its end record, before parsing the directory): "
        "a CLOUDFORMATION_JSON export holds one template; re-export with ExportFormat=CLOUDFORMATION_JSON"
    )


def _template_member(archive: zipfile.ZipFile, limits: BundleLimits, words: _Words) -> zipfile.ZipInfo:
    """The one .json member of a zip, refusing unsafe names, other counts and declared bombs."""
    members = archive.infolist()
    if len(members) > limits.max_zip_members:
        raise BundleFormatError(
            f"{words.zip} lists {len(members):,} members, more than the {limits.max_zip_members:,} "
            "accepted: a CLOUDFORMATION_JSON export holds one template; re-export with "
            "ExportFormat=CLOUDFORMATION_JSON"
        )
    for info in members:
        reason = _unsafe_member_reason(info.filename)
        if reason:
            raise BundleFormatError(
                f"{words.zip} has an unsafe member name {info.filename!r} that {reason}: "
                "refusing the archive; re-export the bundle from QuickSight"
            )
    templates = [m for m in members if not m.is_dir() and m.filename.lower().endswith(".json")]
    if len(templates) != 1:
        listed = ", ".join(m.filename for m in members if not m.is_dir()) or "no files"
        raise BundleFormatError(
            f"{words.zip} must hold exactly one .json CloudFormation template, found "
            f"{len(templates)} (members: {listed}); re-export with ExportFormat=CLOUDFORMATION_JSON"
        )
    member = templates[0]
    if member.file_size > limits.max_template_bytes:
        raise BundleFormatError(
            f"zip member {member.filename!r} declares {member.file_size:,} bytes uncompressed, more than the "
            f"{limits.max_template_bytes:,} accepted: refusing it as a decompression bomb; "
            "export fewer assets per bundle"
        )
    return member


def _read_member(archive: zipfile.ZipFile, member: zipfile.ZipInfo, limit: int) -> bytearray:
    """Decompress one member while counting bytes, since a zip header's sizes can lie.

    The chunks are appended to one buffer (not joined at the end), so the member is held once.
    """
    data = bytearray()
    try:
        with archive.open(member) as fh:
            while chunk := fh.read(_CHUNK):
                if len(data) + len(chunk) > limit:
                    raise BundleFormatError(
                        f"zip member {member.filename!r} inflates past {limit:,} bytes although its header "
                        f"declares {member.file_size:,}: refusing it as a decompression bomb; re-export the bundle"
                    )
                data += chunk
    except (zipfile.BadZipFile, zlib.error, NotImplementedError, RuntimeError, EOFError, OSError) as exc:
        # Corrupt data, CRC mismatches, encrypted members (RuntimeError) and unknown compression
        # methods (NotImplementedError) all mean the same thing to the user: the file is unusable.
        raise BundleFormatError(
            f"zip member {member.filename!r} cannot be decompressed ({exc}): re-run, or re-export the bundle"
        ) from exc
    return data
