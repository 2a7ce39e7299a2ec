"""Pure unit tests of unpacking and parsing export files (no network)."""

from __future__ import annotations

import hashlib
import io
import json
import struct
import zipfile

import pytest

from components.core.bundle import BundleLimits, parse_template, read_local_bundle, unpack_bundle
from components.errors import BundleFormatError
from conftest import CALC_EXPRESSION, pretty_bytes, sample_template, zip_bytes


def unpack(data: bytes, **limits: int):
    return unpack_bundle(io.BytesIO(data), limits=BundleLimits(**limits))


def test_raw_json_is_compacted_with_content_unchanged() -> None:
    template = sample_template()
    result = unpack(pretty_bytes(template))
    assert result.source == "json"
    assert json.loads(result.body) == template
    assert "\n" not in result.body and ": " not in result.body
    assert result.size == len(result.body.encode("utf-8"))
    # Non-ASCII stays text (not \\u escapes) and ${...} is never substituted.
    assert "Ventes 売上" in result.body
    assert CALC_EXPRESSION in result.body


def test_key_order_is_kept() -> None:
    template = {"Resources": {"B": {"Type": "x"}, "A": {"Type": "y"}}, "AWSTemplateFormatVersion": "2010-09-09"}
    body = unpack(json.dumps(template).encode()).body
    assert body.index('"B"') < body.index('"A"') < body.index("AWSTemplateFormatVersion")


def test_utf8_bom_is_tolerated() -> None:
    assert unpack(b"\xef\xbb\xbf" + pretty_bytes(sample_template())).document == sample_template()


def test_zip_with_one_template() -> None:
    data = zip_bytes({"assetbundle-job.json": pretty_bytes(sample_template()), "README.txt": b"hello"})
    result = unpack(data)
    assert result.source == "zip:assetbundle-job.json"
    assert result.document == sample_template()


def test_zip_directories_are_not_members_that_count() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("bundle/", b"")
        archive.writestr("bundle/template.json", pretty_bytes(sample_template()))
    assert unpack(buffer.getvalue()).source == "zip:bundle/template.json"


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "the downloaded file is empty"),
        (b"\xff\xfe{}", "not UTF-8 text"),
        (b'{"Resources": {', "not valid JSON"),
        (b"[1, 2]", "holds a JSON list, not a CloudFormation template object"),
        (b'{"AWSTemplateFormatVersion": "2010-09-09"}', "no non-empty 'Resources' object (top-level keys: AWSTemplateFormatVersion)"),
        (b'{"Resources": {}}', "no non-empty 'Resources' object"),
    ],
)
def test_bad_json_files_are_refused_with_the_reason(data: bytes, expected: str) -> None:
    with pytest.raises(BundleFormatError) as info:
        unpack(data)
    assert expected in str(info.value)
    assert "\n" not in str(info.value)


def test_invalid_json_names_line_and_column() -> None:
    with pytest.raises(BundleFormatError) as info:
        unpack(b'{\n  "Resources": {\n    "A": ,\n}}')
    assert "at line 3 column" in str(info.value)
    assert "download it again or re-export" in str(info.value)


@pytest.mark.parametrize("name", ["../evil.json", "/etc/template.json", "a/../../b.json", "C:/t.json", "a\\b.json"])
def test_zip_path_traversal_is_refused(name: str) -> None:
    data = zip_bytes({name: pretty_bytes(sample_template())})
    with pytest.raises(BundleFormatError) as info:
        unpack(data)
    assert f"unsafe member name {name!r}" in str(info.value)


def test_zip_without_template_lists_members() -> None:
    with pytest.raises(BundleFormatError) as info:
        unpack(zip_bytes({"a.txt": b"x", "b.yaml": b"y"}))
    assert "exactly one .json CloudFormation template, found 0 (members: a.txt, b.yaml)" in str(info.value)


def test_zip_with_two_templates_lists_them() -> None:
    with pytest.raises(BundleFormatError) as info:
        unpack(zip_bytes({"one.json": b"{}", "two.json": b"{}"}))
    assert "found 2 (members: one.json, two.json)" in str(info.value)


def test_empty_zip_is_refused() -> None:
    buffer = io.BytesIO()
    zipfile.ZipFile(buffer, "w").close()
    with pytest.raises(BundleFormatError) as info:
        unpack(buffer.getvalue())
    assert "found 0 (members: no files)" in str(info.value)


def test_absurd_member_count_is_refused() -> None:
    data = zip_bytes({f"pad{i}.bin": b"" for i in range(12)} | {"t.json": b"{}"})
    with pytest.raises(BundleFormatError) as info:
        unpack(data, max_zip_members=10)
    assert "lists 13 members, more than the 10 accepted" in str(info.value)


def test_decompression_bomb_by_declared_size() -> None:
    data = zip_bytes({"t.json": b" " * 100_000})
    with pytest.raises(BundleFormatError) as info:
        unpack(data, max_template_bytes=50_000)
    assert "declares 100,000 bytes uncompressed, more than the 50,000 accepted" in str(info.value)
    assert "decompression bomb" in str(info.value)


def test_member_whose_header_understates_its_size_is_refused() -> None:
    # zipfile stops inflating at the declared size, so the lie shows up as a CRC failure:
    # either way no more than the declared bytes are ever held.
    data = bytearray(zip_bytes({"t.json": b" " * 100_000}))
    # Rewrite the uncompressed size in the central directory to claim 10 bytes.
    archive = zipfile.ZipFile(io.BytesIO(bytes(data)))
    info = archive.getinfo("t.json")
    central = bytes(data).rindex(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")
    local = info.header_offset
    data[local + 22 : local + 26] = (10).to_bytes(4, "little")
    with pytest.raises(BundleFormatError) as err:
        unpack(bytes(data), max_template_bytes=50_000)
    assert "zip member 't.json' cannot be decompressed (Bad CRC-32" in str(err.value)


def test_corrupt_zip_is_refused() -> None:
    data = zip_bytes({"t.json": pretty_bytes(sample_template())})
    with pytest.raises(BundleFormatError) as info:
        unpack(data[:40])
    assert "cannot be read as one" in str(info.value)


def test_corrupt_member_data_is_refused() -> None:
    data = bytearray(zip_bytes({"t.json": pretty_bytes(sample_template()) * 20}))
    data[60:80] = b"\x00" * 20
    with pytest.raises(BundleFormatError) as info:
        unpack(bytes(data))
    assert "zip member 't.json' cannot be decompressed" in str(info.value)


def test_raw_json_over_the_limit_is_refused() -> None:
    with pytest.raises(BundleFormatError) as info:
        unpack(b'{"Resources": {"A": "' + b"x" * 2000 + b'"}}', max_template_bytes=1000)
    assert "larger than 1,000 bytes" in str(info.value)


def test_parse_template_reports_zip_member_name() -> None:
    with pytest.raises(BundleFormatError) as info:
        parse_template(b"nope", source="zip:t.json")
    assert str(info.value).startswith("zip member 't.json' is not valid JSON")


# --- the template is never changed silently ----------------------------------------------------


def resources(inner: bytes) -> bytes:
    return b'{"Resources": {"A": {"Type": "AWS::QuickSight::Dashboard", "Properties": ' + inner + b"}}}"


@pytest.mark.parametrize(
    ("inner", "expected"),
    [
        (b'{"Name": "a", "Name": "b"}', "the key 'Name' appears twice in one object"),
        (b'{"N": NaN}', "holds NaN, which is not JSON"),
        (b'{"N": Infinity}', "holds Infinity, which is not JSON"),
        (b'{"N": -Infinity}', "holds -Infinity, which is not JSON"),
        (b'{"N": 1e400}', "holds the number 1e400, too large for a double"),
        (b'{"N": -1.5e309}', "too large for a double"),
        (b'{"N": ' + b"1" * 101 + b"}", "an integer of 101 digits"),
        (b'{"N": 0.' + b"1" * 200 + b"}", "a number of 202 characters"),
    ],
)
def test_values_json_loads_would_change_are_refused(inner: bytes, expected: str) -> None:
    with pytest.raises(BundleFormatError) as info:
        parse_template(resources(inner))
    message = str(info.value)
    assert message.startswith("the downloaded file is refused: "), message
    assert expected in message and "never changed silently" in message and "re-export" in message


def test_a_duplicate_key_is_refused_at_any_depth_and_in_a_zip() -> None:
    data = zip_bytes({"t.json": resources(b'{"Definition": {"Sheets": [{"Id": 1, "Id": 1}]}}')})
    with pytest.raises(BundleFormatError) as info:
        unpack(data)
    assert str(info.value).startswith("zip member 't.json' is refused: the key 'Id' appears twice")


def test_ordinary_numbers_still_parse_exactly() -> None:
    template = parse_template(resources(b'{"Port": 5432, "Ratio": 0.25, "Big": 9223372036854775807, "Neg": -1e-300}'))
    assert template.document["Resources"]["A"]["Properties"] == {
        "Port": 5432, "Ratio": 0.25, "Big": 9223372036854775807, "Neg": -1e-300,
    }


@pytest.mark.parametrize("depth", [201, 900, 100_000])
def test_absurd_nesting_is_refused(depth: int) -> None:
    with pytest.raises(BundleFormatError) as info:
        parse_template(resources(b"[" * depth + b"]" * depth))
    assert "nests objects or arrays deeper than 200 levels" in str(info.value)


def test_nesting_up_to_the_limit_is_accepted() -> None:
    # Resources (1) > A (2) > Properties (3) > the arrays: 197 arrays make 200 levels.
    template = parse_template(resources(b"[" * 197 + b"]" * 197))
    assert template.body.count("[") == 197
    with pytest.raises(BundleFormatError):
        unpack(resources(b"[" * 197 + b"]" * 197), max_depth=199)


# --- a zip's directory is measured before zipfile reads it ---------------------------------------


def with_end_record(data: bytes, entries: int, directory_bytes: int) -> bytes:
    """``data`` (a zip) with its end-of-central-directory record claiming other counts."""
    raw = bytearray(data)
    at = raw.rfind(b"PK\x05\x06")
    struct.pack_into("<HHL", raw, at + 8, entries, entries, directory_bytes)
    return bytes(raw)


def test_a_claimed_huge_directory_is_refused_before_zipfile_parses_it(monkeypatch: pytest.MonkeyPatch) -> None:
    def no_parsing(*_args: object, **_kwargs: object) -> None:
        raise AssertionError("zipfile.ZipFile must not be reached")

    data = with_end_record(zip_bytes({"t.json": b"{}"}), 65_000, 3_000_000)
    monkeypatch.setattr(zipfile, "ZipFile", no_parsing)
    with pytest.raises(BundleFormatError) as info:
        unpack(data)
    message = str(info.value)
    assert "lists 65,000 members, more than the 1,000 accepted" in message
    assert "read from its end record, before parsing the directory" in message


def test_a_directory_over_its_byte_limit_is_refused() -> None:
    data = zip_bytes({f"pad{i}.bin": b"" for i in range(40)} | {"t.json": b"{}"})
    with pytest.raises(BundleFormatError) as info:
        unpack(data, max_central_directory_bytes=1000)
    assert "-byte directory, more than the 1,000 bytes accepted" in str(info.value)


def test_a_zip64_end_record_is_read_too() -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", allowZip64=True) as archive:
        for i in range(3):
            archive.writestr(f"pad{i}.bin", b"")
        archive.writestr("t.json", json.dumps(sample_template()).encode())
    data = bytearray(buffer.getvalue())
    # Force zip64 end records: rewrite the archive's end as zipfile does past 65,535 entries.
    assert b"PK\x06\x06" not in data
    eocd = data.rfind(b"PK\x05\x06")
    _sig, _d, _cd, _here, total, size, offset, _comment = struct.unpack_from("<4s4H2LH", data, eocd)
    zip64 = struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, 500_000, 500_000, size, offset)
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, eocd, 1)
    end = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, size, offset, 0)
    forged = bytes(data[:eocd]) + zip64 + locator + end
    with pytest.raises(BundleFormatError) as info:
        unpack(forged)
    assert "lists 500,000 members" in str(info.value)


def test_a_local_file_is_hashed_as_read_and_spoken_of_as_a_file() -> None:
    raw = pretty_bytes(sample_template())
    loaded = read_local_bundle(io.BytesIO(raw))
    assert loaded.sha256 == hashlib.sha256(raw).hexdigest() and loaded.size == len(raw)
    assert loaded.template.document == sample_template()
    zipped = zip_bytes({"bundle.json": raw})
    assert read_local_bundle(io.BytesIO(zipped)).sha256 == hashlib.sha256(zipped).hexdigest()
    with pytest.raises(BundleFormatError) as info:
        read_local_bundle(io.BytesIO(b"not json"))
    assert str(info.value).startswith("the file is not valid JSON") and "download" not in str(info.value)
