"""The providers' input and output models (components/core/models.py): one pure module, names by role."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ValidationError

from components.core import models
from components.core.stacks import OWNERSHIP_TAG


def test_deployment_inputs_report_every_problem() -> None:
    with pytest.raises(ValidationError) as info:
        models.DeploymentInputs.model_validate(
            {
                "stack_name": "bad name",
                "template_body": "[]",
                "capabilities": ["CAPABILITY_IAM", "NOPE"],
                "stack_tags": {OWNERSHIP_TAG: "x"},
                "stack_timeout_seconds": 0,
            }
        )
    fields = {".".join(str(p) for p in e["loc"]) for e in info.value.errors()}
    assert fields == {"stack_name", "template_body", "capabilities.1", "stack_tags", "stack_timeout_seconds", "target_account_id"}
    assert OWNERSHIP_TAG in str(info.value)
    parsed = models.DeploymentInputs(
        stack_name="s", template_body='{"Resources":{}}', parameters={"Port": 5432.0, "On": True}, target_account_id="123456789012"
    )
    assert parsed.parameters == {"Port": "5432", "On": "true"}


@pytest.mark.parametrize("model", [models.ExportInputs, models.ReleaseInputs, models.DeploymentInputs])
def test_every_required_input_has_a_valid_stand_in(model: type[BaseModel]) -> None:
    stand_ins = models.stand_ins(model)
    assert set(stand_ins) == {name for name, field in model.model_fields.items() if field.is_required()}
    model.model_validate(stand_ins)


@pytest.mark.parametrize("model", [models.ExportInputs, models.ReleaseInputs, models.DeploymentInputs])
def test_inputs_are_named_by_role(model: type[BaseModel]) -> None:
    # A region, role or account input says whose it is (source_* or target_*): never bare.
    for name in model.model_fields:
        if any(word in name for word in ("region", "role_arn", "account_id")):
            assert name.startswith(("source_", "target_", "archive_", "cloudformation_")), name


def test_export_inputs_read_an_empty_string_as_unset_and_numbers_as_the_engine_sends_them() -> None:
    inputs = models.ExportInputs.model_validate(
        {"source_account_id": "111111111111", "export_job_id": "j", "source_region": "", "export_timeout_seconds": 60.0}
    )
    assert inputs.source_region is None and inputs.export_timeout_seconds == 60
