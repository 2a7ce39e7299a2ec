"""A bundle of over 5 MB as exported, deployed as nested stacks through the loopback CloudFormation.

The real deployment provider runs in its own process (the engine harness): it splits the
deployable template (``core.nesting``), stages each nested template in S3 (moto: checksummed, at a
version), and creates a parent whose ``AWS::CloudFormation::Stack`` resources the loopback
CloudFormation (``cfn_emulator``, given moto's S3 to read TemplateURLs) deploys as nested stacks.
Then one dashboard changes (the review names it inside its nested stack), and a dashboard fails
(the failure names the nested stack and the root cause inside it).
"""

from __future__ import annotations

import json
from typing import Any, Iterator

import grpc
import pytest

from components.core.catalog import build_catalog
from components.core.transform import deployable
from cfn_emulator import ACCOUNT, NESTED, CloudFormationEmulator
from engine import DEPLOYMENT_TYPE, EngineHarness, user_error
from moto_server import MotoServer, ensure_bucket, moto, moto_server  # noqa: F401  (fixtures)
from tools.generator import dump_bundle, generate_bundle

STACK = "quicksight-sales-nested"
BUCKET = "qsp-staging-nested"


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    # Three copies of a scale-10 analysis and dashboard: 6.2 MB as exported, 2.3 MB as deployed.
    return generate_bundle(scale=10, copies=3, include_permissions=False)


def deployed_body(template: dict[str, Any]) -> str:
    return deployable(json.dumps(template, separators=(",", ":")), [e.model_dump() for e in build_catalog(template)]).body


def inputs(body: str) -> dict[str, Any]:
    parameters = json.loads(body).get("Parameters") or {}
    return {
        "stack_name": STACK,
        "template_body": body,
        "parameters": {key: "stage-value" for key, spec in parameters.items() if "Default" not in spec},
        "staging_bucket": BUCKET,
        "target_account_id": ACCOUNT,
        "target_region": "eu-west-1",
        "stack_timeout_seconds": 120,
        "owner": "sales/test",
        "on_drift": "ignore",
        "verify_assets": "off",
    }


@pytest.fixture
def deployment(moto: MotoServer) -> Iterator[tuple[CloudFormationEmulator, EngineHarness]]:
    from components.deployment import CloudFormationDeploymentProvider

    ensure_bucket(moto.s3, BUCKET)
    moto.s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    with CloudFormationEmulator(s3=moto.s3) as cfn:
        env = {**cfn.env(), "AWS_ENDPOINT_URL_S3": moto.endpoint}
        with EngineHarness(env=env, provider=CloudFormationDeploymentProvider(), name="nested", resource_type=DEPLOYMENT_TYPE) as engine:
            yield cfn, engine


def test_a_bundle_over_5_mb_deploys_as_nested_stacks_and_a_change_is_reviewed_inside_them(
    bundle: dict[str, Any], deployment: tuple[CloudFormationEmulator, EngineHarness]
) -> None:
    cfn, engine = deployment
    assert len(dump_bundle(bundle).encode("utf-8")) > 5_000_000
    body = deployed_body(bundle)

    created = engine.up(inputs(body))

    parent = cfn.stack(STACK)
    assert parent.status == "CREATE_COMPLETE" and created.outputs["stack_status"] == "CREATE_COMPLETE"
    nested = {logical_id: cfn.stack(stack_id) for logical_id, stack_id in parent.nested.items()}
    assert sorted(nested) == sorted(k for k, r in parent.template["Resources"].items() if r["Type"] == NESTED)
    assert all(stack.status == "CREATE_COMPLETE" for stack in nested.values())
    # Every resource of the bundle deployed once, in one nested stack; references passed as values.
    held = [logical_id for stack in nested.values() for logical_id in stack.template["Resources"]]
    assert sorted(held) == sorted(json.loads(body)["Resources"])
    stage = set(json.loads(body).get("Parameters") or {})
    passed = {k: v for stack in nested.values() for k, v in stack.parameters.items() if k not in stage}
    assert passed and all(value.startswith("arn:aws:quicksight:") for value in passed.values())
    summary = created.outputs["change_summary"]
    inside = [entry for entry in summary if entry.get("nested_stack")]
    assert {entry["logical_id"] for entry in inside} == set(held)
    assert all(entry["action"] == "Add" for entry in inside)

    # One dashboard changes: only its nested stack changes, and the review names it there.
    changed = json.loads(json.dumps(bundle))
    dashboard = next(k for k, r in changed["Resources"].items() if r["Type"] == "AWS::QuickSight::Dashboard")
    changed["Resources"][dashboard]["Properties"]["VersionDescription"] = "v43"
    updated = engine.up(inputs(deployed_body(changed)), created.state)

    assert updated.action == "update" and cfn.stack(STACK).status == "UPDATE_COMPLETE"
    modified = [e for e in updated.outputs["change_summary"] if e.get("nested_stack") and e["action"] == "Modify"]
    assert [(e["logical_id"], e["asset_kind"]) for e in modified] == [(dashboard, "dashboard")]
    (change,) = [p for p in modified[0]["properties"] if p["path"].endswith("VersionDescription")]
    assert change["after"] == "v43"


def test_a_failure_inside_a_nested_stack_names_it_and_its_root_cause(
    bundle: dict[str, Any], deployment: tuple[CloudFormationEmulator, EngineHarness]
) -> None:
    cfn, engine = deployment
    body = deployed_body(bundle)
    dashboard = next(k for k, r in bundle["Resources"].items() if r["Type"] == "AWS::QuickSight::Dashboard")
    cfn.fail_next_execution(dashboard, "Invalid request provided: the dashboard's data set was not found")

    with pytest.raises(grpc.RpcError) as info:
        engine.up(inputs(body))

    line = user_error(info.value)
    assert "CloudFormation stack 'quicksight-sales-nested': the create failed (ROLLBACK_COMPLETE); root cause (in " in line
    home = next(k for k, s in cfn.stack(STACK).nested.items() if dashboard in cfn.stack(s).template["Resources"])
    assert f"root cause (in nested stack {home}): {dashboard} (AWS::QuickSight::Dashboard, dashboard/" in line
    assert "CREATE_FAILED: Invalid request provided: the dashboard's data set was not found" in line
