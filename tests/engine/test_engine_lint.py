"""``TemplateLint`` driven the way ``pulumi preview``/``up`` drive it (tests/engine.py): cfn-lint in Check, once per sha256.

The findings must be known at preview (the engine then hands the checked inputs back as outputs),
kept in state without the template, and never computed again while the template, the region and
cfn-lint are the same: a second up is no change and runs no cfn-lint (a recorded marker finding
survives it, which a new run would have replaced).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import pytest

from components.core.manifest import sha256_text
from conftest import sample_template
from engine import UNKNOWN, CheckFailedError, EngineHarness, ResourceState, user_error

LINT_TYPE = "pulumi-python:dynamic/quicksight:TemplateLint"


@pytest.fixture(scope="module")
def lint_engine() -> Iterator[EngineHarness]:
    from components.lint import TemplateLintProvider

    with EngineHarness(provider=TemplateLintProvider(), name="lint", resource_type=LINT_TYPE) as harness:
        yield harness


def broken_template() -> str:
    template = sample_template()
    template["Resources"]["salesdashboardAB12CD"]["Properties"]["NoSuchProperty"] = 1
    return json.dumps(template, separators=(",", ":"))


def lint_inputs(body: str, **extra: Any) -> dict[str, Any]:
    return {"template_body": body, "template_sha256": sha256_text(body), "source_region": "eu-west-1", **extra}


def test_findings_are_known_at_preview_and_kept_in_state_without_the_template(lint_engine: EngineHarness) -> None:
    body = broken_template()

    preview = lint_engine.preview(lint_inputs(body))
    found = preview.check.inputs["findings"]
    assert any(f["rule"] == "E3002" and "NoSuchProperty" in f["path"] for f in found)
    assert "template_body" not in preview.check.inputs

    created = lint_engine.up(lint_inputs(body))
    assert created.action == "create" and created.id == sha256_text(body)
    assert created.outputs["findings"] == found and created.outputs["cfn_lint_version"] not in ("", "none")
    assert "template_body" not in created.state.inputs and "template_body" not in created.outputs


def test_the_same_template_is_never_linted_again(lint_engine: EngineHarness) -> None:
    body = broken_template()
    first = lint_engine.up(lint_inputs(body))
    marker = [{"resource": "marker", "path": "/", "rule": "X0000", "level": "error", "message": "recorded"}]
    recorded = ResourceState(first.state.id, {**first.state.inputs, "findings": marker}, {**first.outputs, "findings": marker})

    again = lint_engine.up(lint_inputs(body), recorded)

    assert again.action == "same" and again.check.inputs["findings"] == marker


def test_a_new_template_is_linted_and_updates_the_findings(lint_engine: EngineHarness) -> None:
    clean = json.dumps({"AWSTemplateFormatVersion": "2010-09-09", "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    first = lint_engine.up(lint_inputs(broken_template()))

    changed = lint_engine.up(lint_inputs(clean), first.state)

    assert changed.action == "update" and changed.diff.changes
    assert changed.outputs["findings"] == [] and changed.outputs["template_sha256"] == sha256_text(clean)


def test_a_body_that_is_not_the_named_template_is_refused_in_check(lint_engine: EngineHarness) -> None:
    body = broken_template()
    with pytest.raises(CheckFailedError) as info:
        lint_engine.up(lint_inputs(body, template_sha256="ab" * 32))
    (failure,) = info.value.failures
    assert failure[0] == "template_body"
    assert failure[1] == (
        f"template_body is not the template of template_sha256 {'ab' * 32}: hand TemplateLint the bytes the stage "
        "deploys and their sha256"
    )


def test_a_template_not_known_at_preview_is_linted_in_up(lint_engine: EngineHarness) -> None:
    preview = lint_engine.preview({"template_body": UNKNOWN, "template_sha256": UNKNOWN})
    assert preview.action == "create" and preview.check.failures == []
    assert preview.check.inputs.get("findings") is None


def test_create_without_findings_says_what_is_missing(lint_engine: EngineHarness) -> None:
    import grpc

    with pytest.raises(grpc.RpcError) as info:
        lint_engine.create({"template_sha256": "ab" * 32})
    assert (
        f"TemplateLint of template sha256 {'ab' * 32} has no findings: its Check did not see template_body; hand it "
        "the template's bytes"
    ) in user_error(info.value)
