"""The ``diff`` command: what a release changes, offline."""

from __future__ import annotations

import copy
import io
import json
from pathlib import Path

from components.cli import run
from conftest import pretty_bytes, sample_template, zip_bytes


def diff(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["diff", *argv], out=out, err=err, prog="quicksight-promotion")
    return code, out.getvalue(), err.getvalue()


def test_diff_prints_each_changed_asset_and_property_and_exits_1_on_request(tmp_path: Path) -> None:
    old = sample_template()
    new = copy.deepcopy(old)
    new["Resources"]["salesdashboardAB12CD"]["Properties"]["ValidationStrategy"]["Mode"] = "STRICT"
    (tmp_path / "old.zip").write_bytes(zip_bytes({"assetbundle-old.json": pretty_bytes(old)}))
    (tmp_path / "new.json").write_bytes(pretty_bytes(new))

    code, out, err = diff(str(tmp_path / "old.zip"), str(tmp_path / "new.json"))

    assert (code, err) == (0, "")
    assert out.splitlines()[1:] == [
        "0 to add, 1 to modify, 0 to remove",
        "Modify dashboard/sales-dashboard (AWS::QuickSight::Dashboard)",
        "         Properties/ValidationStrategy/Mode: 'LENIENT' -> 'STRICT'",
    ]
    assert diff(str(tmp_path / "old.zip"), str(tmp_path / "new.json"), "--exit-code")[0] == 1
    assert diff(str(tmp_path / "new.json"), str(tmp_path / "new.json"), "--exit-code")[0] == 0
    code, out, _ = diff(str(tmp_path / "old.zip"), str(tmp_path / "new.json"), "--json")
    assert json.loads(out)["assets"][0]["properties"][0]["after"] == "STRICT"


def test_diff_of_a_file_that_is_no_bundle_exits_1_with_the_reason(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_bytes(b"[]")
    (tmp_path / "good.json").write_bytes(pretty_bytes(sample_template()))

    code, out, err = diff(str(tmp_path / "bad.json"), str(tmp_path / "good.json"))

    assert code == 1 and out == ""
    assert err.startswith(f"error: bundle file {str(tmp_path / 'bad.json')!r}: ")
