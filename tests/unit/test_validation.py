"""cfn-lint template validation (components/validation.py), and how the judge counts its findings."""

from __future__ import annotations

import json
import sys

import pytest

from components.errors import QuickSightPromotionError
from components.validation import lint_template
from conftest import sample_template

ERROR = {"resource": "Dash", "path": "Definition/Bogus", "rule": "E3002", "level": "error", "message": "bad"}
REPAIR_ADVICE = "set templateRepair: repair to remove it (docs/template-repair.md), or "
WARNING = {"resource": "Dash", "path": "Name", "rule": "W1001", "level": "warning", "message": "meh"}


def test_lint_finds_a_schema_error_with_resource_path_and_rule() -> None:
    template = sample_template()
    template["Resources"]["salesdashboardAB12CD"]["Properties"]["Bogus"] = 1
    findings = lint_template(json.dumps(template), "eu-west-1")
    bogus = [f for f in findings if f.path == "Properties/Bogus"]
    assert bogus and bogus[0].resource == "salesdashboardAB12CD"
    assert bogus[0].rule == "E3002" and bogus[0].level == "error"
    assert "'Bogus' was unexpected" in bogus[0].message


def test_error_mode_stops_on_each_error_and_warning_mode_reports_them() -> None:
    # How findings count is the judge's rule (core.judge), the same for the component and preflight.
    from components.core.judge import _lint, Stage

    stopped = _lint([ERROR, WARNING, {**ERROR, "resource": "Other"}], Stage(template_validation="error"))
    assert [(f.severity, f.describe()) for f in stopped] == [
        ("error", f"Dash.Definition/Bogus cfn-lint E3002: bad: {REPAIR_ADVICE}fix the asset and re-export, or set templateValidation: warning to deploy anyway"),
        ("warning", "Dash.Name cfn-lint W1001: meh"),
        ("error", f"Other.Definition/Bogus cfn-lint E3002: bad: {REPAIR_ADVICE}fix the asset and re-export, or set templateValidation: warning to deploy anyway"),
    ]
    other = _lint([{**ERROR, "rule": "E3012"}], Stage(template_validation="error"))
    assert other[0].advice == "fix the asset and re-export, or set templateValidation: warning to deploy anyway"
    assert {f.severity for f in _lint([ERROR, WARNING], Stage(template_validation="warning"))} == {"warning"}
    assert _lint([ERROR], Stage(template_validation="off")) == []


def test_missing_cfn_lint_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cfnlint.api", None)
    with pytest.raises(QuickSightPromotionError) as info:
        lint_template("{}")
    assert "template validation needs cfn-lint" in str(info.value)
    assert "pip install 'quicksight-promotion[validate]'" in str(info.value)


def test_resource_schemas_are_cfn_lints_and_leave_out_unknown_types_and_regions() -> None:
    from components.validation import resource_schemas

    found = resource_schemas(["AWS::QuickSight::Dashboard", "AWS::QuickSight::NoSuchThing"], "eu-west-1")
    assert list(found) == ["AWS::QuickSight::Dashboard"]
    assert found["AWS::QuickSight::Dashboard"]["definitions"]["DropDownControlDisplayOptions"]["additionalProperties"] is False
    assert list(resource_schemas(["AWS::QuickSight::Folder"], "xx-nowhere-1")) == ["AWS::QuickSight::Folder"]


def test_missing_cfn_lint_for_repair_says_how_to_install_it_or_turn_repair_off(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.validation import resource_schemas

    monkeypatch.setitem(sys.modules, "cfnlint.schema", None)
    with pytest.raises(QuickSightPromotionError) as info:
        resource_schemas(["AWS::QuickSight::Dashboard"])
    assert "template repair needs cfn-lint" in str(info.value)
    assert "set templateRepair: off" in str(info.value)


def test_repaired_without_cfn_lint_leaves_the_report_out_but_refuses_to_repair(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.core.bundle import parse_template
    from components.validation import repaired

    template = parse_template(json.dumps(sample_template()).encode())
    monkeypatch.setitem(sys.modules, "cfnlint.schema", None)
    assert repaired(template, "a" * 64, "report") == (template, "a" * 64, None)
    with pytest.raises(QuickSightPromotionError) as info:
        repaired(template, "a" * 64, "repair")
    assert "set templateRepair: off" in str(info.value)
