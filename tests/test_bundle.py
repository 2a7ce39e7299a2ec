"""Pure unit tests of unpacking and parsing export files (no network)."""

from __future__ import annotations

import io
import json
import zipfile

import pytest

from components.core.bundle import BundleLimits, parse_template, unpack_bundle
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
