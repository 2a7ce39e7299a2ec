"""The providers' base (components/dynamic.py), through each of the three providers as the engine drives them.

- State compatibility: a state recorded by 0.1.0 holds the inputs (and their echo in the outputs)
  under their names of then. Upgrading the library with unchanged values is no diff and no AWS call;
  a changed value still diffs, replaces or is refused as before. The states here are what 0.1.0
  recorded: a real first ``up``, its keys renamed back by the 0.1.0 names written out below (not
  read from the providers, so that a change of their declarations is caught). Every number reaches
  the provider as the engine holds it, a double.
- Parsing: a bad input is named, its value quoted only when it is an identifier; the error is not
  chained to pydantic's, whose text holds every input value (issue 16: the release and deployment
  providers raised ``from exc``).
"""

from __future__ import annotations

import base64
import pickle
from typing import Any, Mapping

import dill
import grpc
import pytest

from conftest import inputs as export_inputs
from emulator import ACCOUNT, QuickSightEmulator
from engine import (
    DEPLOYMENT_TYPE,
    DIFF_NONE,
    DIFF_SOME,
    EngineHarness,
    ResourceState,
    error_text,
    user_error,
)
from moto_server import DEFAULT_ACCOUNT, NOWHERE, REGION, MotoServer, aws_env, moto, moto_server  # noqa: F401  (fixtures)

# The inputs renamed in 0.2.0, as 0.1.0 named them (CHANGELOG.md).
EXPORT_0_1 = {
    "source_account_id": "aws_account_id",
    "source_region": "region",
    "source_role_arn": "role_arn",
    "export_timeout_seconds": "timeout_seconds",
}
RELEASE_0_1 = EXPORT_0_1
DEPLOYMENT_0_1 = {
    "target_region": "region",
    "target_role_arn": "role_arn",
    "target_account_id": "expected_account_id",
    "stack_tags": "tags",
    "cloudformation_role_arn": "iam_role_arn",
    "stack_timeout_seconds": "timeout_seconds",
    "execute_change_set": "execute",
    "adopt_stack": "adopt",
}
ROLE = f"arn:aws:iam::{ACCOUNT}:role/quicksight-promotion-reader"
MARKER = "Marker-Pa55-9f3c1e"


def recorded_by_0_1(state: ResourceState, names: Mapping[str, str]) -> ResourceState:
    """The same state as 0.1.0 recorded it: inputs and outputs under their names of then."""

    def renamed(props: Mapping[str, Any]) -> dict[str, Any]:
        return {names.get(key, key): value for key, value in props.items()}

    old = ResourceState(state.id, renamed(state.inputs), renamed(state.outputs))
    assert set(old.outputs) & set(names.values()), "the state must hold inputs under their 0.1.0 names"
    assert not set(old.outputs) & set(names), "and none under its 0.2.0 names"
    return old


def since(qs: QuickSightEmulator, mark: int) -> list[str]:
    return [r["operation"] for r in qs.requests[mark:]]


def deployment_harness(env: dict[str, str]) -> EngineHarness:
    from components.deployment import CloudFormationDeploymentProvider

    return EngineHarness(env=env, provider=CloudFormationDeploymentProvider(), name="deployment", resource_type=DEPLOYMENT_TYPE)


def deployment(**overrides: Any) -> dict[str, Any]:
    base = {
        "stack_name": "qsp-legacy",
        "template_body": '{"Resources":{"Topic":{"Type":"AWS::SNS::Topic","Properties":{"TopicName":"qsp-legacy"}}}}',
        "parameters": {},
        "target_account_id": DEFAULT_ACCOUNT,
        "target_region": REGION,
        "stack_tags": {"team": "bi"},
        "stack_timeout_seconds": 120,
        "execute_change_set": True,
        "adopt_stack": False,
    }
    return base | overrides


# --- state recorded before the renames --------------------------------------------------------------


def test_an_export_recorded_before_the_renames_is_the_same_resource(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    from conftest import pretty_bytes, sample_template

    qs.add_job("legacy-export", payload=pretty_bytes(sample_template()))
    given = export_inputs("legacy-export", source_region="us-east-1", source_role_arn=ROLE, export_timeout_seconds=600)
    legacy = recorded_by_0_1(engine.up(given).state, EXPORT_0_1)
    mark = len(qs.requests)

    again = engine.up(given, legacy)

    assert again.action == "same" and again.diff is not None and again.diff.changes == DIFF_NONE
    assert since(qs, mark) == [], "upgrading the library must not call AWS"
    # refresh keeps the state, now under today's names, without a call either.
    _, refreshed = engine.read(legacy.id, legacy.outputs)
    assert refreshed["source_account_id"] == ACCOUNT and refreshed["source_role_arn"] == ROLE
    assert refreshed["export_timeout_seconds"] == 600 and "aws_account_id" not in refreshed
    # A changed stage value updates in place from the recorded catalog (no call), under today's names.
    revalued = engine.up({**given, "allow_source_defaults": True}, legacy)
    assert revalued.action == "update"
    assert revalued.outputs["source_account_id"] == ACCOUNT and "aws_account_id" not in revalued.outputs
    assert revalued.outputs["template_sha256"] == legacy.outputs["template_sha256"]
    assert since(qs, mark) == []
    # A changed value still diffs as before: another source account is another export.
    moved = engine.preview({**given, "source_account_id": "222222222222"}, legacy)
    assert moved.action == "replace" and moved.diff is not None and moved.diff.replaces == ["source_account_id"]
    other_region = engine.preview({**given, "source_region": "eu-west-1"}, legacy)
    assert other_region.diff is not None and other_region.diff.replaces == ["source_region"]


def test_a_release_recorded_before_the_renames_is_the_same_resource(
    release_engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    given = {
        "source_account_id": ACCOUNT,
        "release_name": "legacy-release",
        "dashboard_ids": ["sales-dashboard"],
        "source_role_arn": ROLE,
        "export_timeout_seconds": 900,
    }
    legacy = recorded_by_0_1(release_engine.up(given).state, RELEASE_0_1)
    mark = len(qs.requests)

    again = release_engine.up(given, legacy)

    assert again.action == "same" and again.diff is not None and again.diff.changes == DIFF_NONE
    assert since(qs, mark) == []
    other_role = release_engine.preview({**given, "source_role_arn": f"arn:aws:iam::{ACCOUNT}:role/other"}, legacy)
    assert other_role.action == "update" and other_role.diff is not None and other_role.diff.changes == DIFF_SOME
    moved = release_engine.preview({**given, "source_account_id": "222222222222"}, legacy)
    assert moved.action == "replace" and moved.diff is not None and moved.diff.replaces == ["source_account_id"]
    assert since(qs, mark) == []


def test_a_deployment_recorded_before_the_renames_is_the_same_stack(moto: MotoServer) -> None:
    with deployment_harness(aws_env(moto.default)) as engine:
        legacy = recorded_by_0_1(engine.up(deployment()).state, DEPLOYMENT_0_1)
    assert legacy.outputs["region"] == REGION and legacy.outputs["expected_account_id"] == DEFAULT_ACCOUNT

    # A provider that can reach no endpoint decides it just the same: no AWS call.
    with deployment_harness(NOWHERE) as offline:
        again = offline.up(deployment(), legacy)
        assert again.action == "same" and again.diff is not None and again.diff.changes == DIFF_NONE
        # Changed settings that reach CloudFormation still update it.
        retagged = offline.preview(deployment(stack_tags={"team": "finance"}), legacy)
        assert retagged.action == "update" and retagged.diff is not None and retagged.diff.replaces == []
        review = offline.preview(deployment(execute_change_set=False), legacy)
        assert review.action == "update"
        # Another target account is another stack: still refused before anything is deleted.
        with pytest.raises(grpc.RpcError) as info:
            offline.preview(deployment(target_account_id="210987654321"), legacy)
    line = user_error(info.value)
    assert line.startswith("components.errors.StackStateError: CloudFormation stack 'qsp-legacy': changing "), line
    assert f"account {DEFAULT_ACCOUNT} -> 210987654321" in line

    # refresh and delete read the recorded settings under today's names too.
    with deployment_harness(aws_env(moto.default)) as engine:
        _, refreshed = engine.read(legacy.id, legacy.outputs)
        assert refreshed["target_region"] == REGION and refreshed["stack_timeout_seconds"] == 120
        assert not set(refreshed) & set(DEPLOYMENT_0_1.values())
        assert refreshed["stack_status"] == "CREATE_COMPLETE"
        engine.delete(legacy.id, legacy.outputs)
    assert moto.cloudformation.describe_stacks(StackName=legacy.id)["Stacks"][0]["StackStatus"] == "DELETE_COMPLETE"


def test_timeouts_and_the_serialised_provider_never_cause_a_diff(moto: MotoServer) -> None:
    from components.deployment import CloudFormationDeploymentProvider

    with deployment_harness(aws_env(moto.default)) as engine:
        first = engine.up(deployment(stack_name="qsp-timeouts"))
    other = base64.b64encode(dill.dumps(CloudFormationDeploymentProvider(), protocol=pickle.HIGHEST_PROTOCOL)).decode()
    with deployment_harness(NOWHERE) as offline:
        assert other != offline.provider_string
        news = {**deployment(stack_name="qsp-timeouts", stack_timeout_seconds=7200, adopt_stack=True), "__provider": other}
        diff = offline.diff(first.id, first.outputs, news)
    assert diff.changes == DIFF_NONE and diff.replaces == []


# --- parsing: every bad input named, no value of a secret, no chained pydantic error ---------------------


def _bad_export() -> dict[str, Any]:
    return export_inputs("bad-inputs", parameters=f"{MARKER}-not-a-mapping", export_timeout_seconds=0)


def _bad_release() -> dict[str, Any]:
    return {"source_account_id": "12", "release_name": f"bad\n{MARKER}", "dashboard_ids": ["d"]}


def _bad_deployment() -> dict[str, Any]:
    return deployment(stack_name="qsp-bad", parameters={"DbPassword": {"v": MARKER}}, stack_tags={"team": [MARKER]})


CASES = [
    (
        "components.provider",
        "AssetBundleExportProvider",
        _bad_export,
        "invalid AssetBundleExport inputs: ",
        "export_timeout_seconds",
        {"job_id": "bad-inputs", "account": ACCOUNT},
    ),
    (
        "components.release",
        "AssetBundleReleaseProvider",
        _bad_release,
        "invalid AssetBundleRelease inputs: ",
        "source_account_id",
        {"account": "12"},
    ),
    (
        "components.deployment",
        "CloudFormationDeploymentProvider",
        _bad_deployment,
        "invalid CloudFormationDeployment inputs for stack 'qsp-bad': ",
        "parameters.DbPassword",
        {"stack": "qsp-bad", "account": DEFAULT_ACCOUNT, "region": REGION},
    ),
]


@pytest.mark.parametrize(("module", "name", "bad", "said", "named", "evidence"), CASES, ids=[c[1] for c in CASES])
def test_a_parse_error_is_not_chained_to_pydantics(
    module: str, name: str, bad: Any, said: str, named: str, evidence: dict[str, str]
) -> None:
    import importlib

    from components.errors import InputError

    provider = getattr(importlib.import_module(module), name)()
    with pytest.raises(InputError) as caught:
        provider.create(bad())
    error = caught.value
    assert str(error).startswith(said) and f"{named}: " in str(error), str(error)
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    assert chain == [error], f"chained to {chain[1:]!r}"
    assert all(MARKER not in str(e) and MARKER not in repr(e) for e in chain)
    # Its evidence: the identifiers given, never a value.
    assert error.evidence == evidence


def _chain(error: BaseException) -> list[BaseException]:
    chain: list[BaseException] = []
    current: BaseException | None = error
    while current is not None:
        chain.append(current)
        current = current.__cause__ or current.__context__
    return chain


# Identifier inputs whose bad value 0.1.0 quoted as "(got '...')": a setting may hold a secret
# pasted into the wrong key, so no value is quoted any more, in check or in create.
IDENTIFIER_CASES = [
    ("components.provider", "AssetBundleExportProvider", lambda: export_inputs("ids", source_role_arn=MARKER)),
    ("components.release", "AssetBundleReleaseProvider", lambda: {"source_account_id": MARKER, "release_name": "r", "dashboard_ids": ["d"]}),
    ("components.deployment", "CloudFormationDeploymentProvider", lambda: deployment(target_role_arn=MARKER, staging_prefix=f"{MARKER}\n")),
]


@pytest.mark.parametrize(("module", "name", "bad"), IDENTIFIER_CASES, ids=[c[1] for c in IDENTIFIER_CASES])
def test_a_bad_identifier_input_is_named_never_quoted(module: str, name: str, bad: Any) -> None:
    import importlib

    from components.errors import InputError

    provider = getattr(importlib.import_module(module), name)()
    failures = provider.check({}, bad()).failures
    assert failures and all(MARKER not in failure.reason and "(got" not in failure.reason for failure in failures)
    with pytest.raises(InputError) as caught:
        provider.create(bad())
    assert "should match pattern" in str(caught.value) or "String should" in str(caught.value), str(caught.value)
    chain = _chain(caught.value)
    assert chain == [caught.value] and all(MARKER not in str(e) and MARKER not in repr(e) for e in chain)


def test_what_the_user_sees_of_a_parse_error_holds_no_value(engine: EngineHarness, release_engine: EngineHarness) -> None:
    # The engine shows the provider's whole traceback: a chained pydantic error would print every value.
    with deployment_harness(NOWHERE) as deploying:
        for harness, (_, _, bad, said, _, _) in zip((engine, release_engine, deploying), CASES):
            failures = harness.check(None, bad()).failures
            assert failures and MARKER not in repr(failures)
            with pytest.raises(grpc.RpcError) as caught:
                harness.create(bad())
            text = error_text(caught.value)
            assert user_error(caught.value).startswith(f"components.errors.InputError: {said}"), text[-2000:]
            assert MARKER not in text and "ValidationError" not in text, text[-3000:]


# --- declarations ------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("declared", "said"),
    [
        ({"REPLACE_ON": ("region",)}, r"declared names that are not inputs \['region'\]"),
        ({"LEGACY_NAMES": {"export_job_id": "source_account_id"}}, r"legacy names still in use \['export_job_id'\]"),
        ({"ID_OUTPUT": "stack_id"}, r"id output 'stack_id'"),
    ],
)
def test_a_provider_whose_declarations_disagree_with_its_models_is_refused_when_defined(
    declared: dict[str, Any], said: str
) -> None:
    from components.core.models import ExportInputs, ExportOutputs
    from components.dynamic import DynamicProvider

    attributes = {"LABEL": "Stale", "INPUTS": ExportInputs, "OUTPUTS": ExportOutputs, "ID_OUTPUT": "export_job_arn"}
    with pytest.raises(TypeError, match=said):
        type("Stale", (DynamicProvider,), {**attributes, **declared})
