"""Reading an export file from disk (components/bundle_file.py), as ``inspect`` and ``preflight`` both do."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from components.bundle_file import load_bundle_file
from components.errors import QuickSightPromotionError
from conftest import pretty_bytes, sample_template


def test_a_bundle_file_is_read_hashed_and_parsed(tmp_path: Path) -> None:
    raw = pretty_bytes(sample_template())
    path = tmp_path / "bundle.json"
    path.write_bytes(raw)
    template, sha256, size = load_bundle_file(path)
    assert (sha256, size) == (hashlib.sha256(raw).hexdigest(), len(raw))
    assert json.loads(template.body) == sample_template()


def test_a_file_that_is_no_export_is_named_in_the_message(tmp_path: Path) -> None:
    path = tmp_path / "bad.json"
    path.write_bytes(b'{"Resources": {}}')
    with pytest.raises(QuickSightPromotionError) as info:
        load_bundle_file(path)
    assert str(info.value).startswith(f"bundle file {str(path)!r}: the file is JSON but not a CloudFormation template")


def test_a_file_that_cannot_be_read_says_why(tmp_path: Path) -> None:
    path = tmp_path / "missing.json"
    with pytest.raises(QuickSightPromotionError) as info:
        load_bundle_file(path)
    assert str(info.value) == f"cannot read bundle file {str(path)!r}: No such file or directory"
    with pytest.raises(QuickSightPromotionError) as info:
        load_bundle_file(tmp_path)
    assert str(info.value) == f"cannot read bundle file {str(tmp_path)!r}: Is a directory"
