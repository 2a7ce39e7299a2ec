"""cfn-lint template validation and how its findings are enforced."""

from __future__ import annotations

import json
import sys

import pytest

from components.errors import QuickSightPromotionError
from components.validation import Finding, TemplateValidationError, enforce, lint_template
from conftest import sample_template

ERROR = {"resource": "Dash", "path": "Definition/Bogus", "rule": "E3002", "level": "error", "message": "bad"}
WARNING = {"resource": "Dash", "path": "Name", "rule": "W1001", "level": "warning", "message": "meh"}


def test_lint_finds_a_schema_error_with_resource_path_and_rule() -> None:
    template = sample_template()
    template["Resources"]["salesdashboardAB12CD"]["Properties"]["Bogus"] = 1
    findings = lint_template(json.dumps(template), "eu-west-1")
    bogus = [f for f in findings if f.path == "Properties/Bogus"]
    assert bogus and bogus[0].resource == "salesdashboardAB12CD"
    assert bogus[0].rule == "E3002" and bogus[0].level == "error"
    assert "'Bogus' was unexpected" in bogus[0].message


def test_error_mode_lists_every_error_and_says_what_to_do() -> None:
    with pytest.raises(TemplateValidationError) as info:
        enforce([ERROR, WARNING, {**ERROR, "resource": "Other"}], "error", "export job 'j' in account 1")
    message = str(info.value)
    assert message.startswith("cfn-lint found 2 error(s) in the template of export job 'j' in account 1: ")
    assert "Dash Definition/Bogus: E3002 bad; Other Definition/Bogus: E3002 bad" in message
    assert "set template validation to 'warning' to deploy anyway" in message


def test_warning_mode_returns_findings_to_report_and_off_ignores_them() -> None:
    assert enforce([ERROR, WARNING], "warning", "x") == [Finding(**ERROR), Finding(**WARNING)]
    assert enforce([ERROR], "off", "x") == []
    assert enforce([WARNING], "error", "x") == [Finding(**WARNING)]


def test_unknown_mode_is_refused() -> None:
    with pytest.raises(QuickSightPromotionError) as info:
        enforce([], "strict", "export job 'j'")
    assert str(info.value) == "unknown template validation mode 'strict' for export job 'j': use one of error, warning, off"


def test_missing_cfn_lint_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "cfnlint.api", None)
    with pytest.raises(QuickSightPromotionError) as info:
        lint_template("{}")
    assert "template validation needs cfn-lint" in str(info.value)
    assert "pip install 'quicksight-promotion[validate]'" in str(info.value)
