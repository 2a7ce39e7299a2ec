"""Stage parameter values through the engine: ``parameters``/``allow_source_defaults`` sent to a
real ``python -m pulumi.dynamic`` process over gRPC (tests/engine.py), with the loopback QuickSight
emulator serving a generated, realistic export bundle.

One emulator and one provider process serve the whole module; every test uses its own job ids.
"""

from __future__ import annotations

import copy
import hashlib
from typing import Any, Iterator

import grpc
import pytest

from components.core.catalog import CatalogEntry, build_catalog, summarize_resources
from tools.generator import dump_bundle, generate_bundle
from conftest import inputs, pretty_bytes
from emulator import ACCOUNT, QuickSightEmulator
from engine import DIFF_NONE, DIFF_SOME, UNKNOWN, EngineHarness, StepResult, error_text, user_error

PASSWORD = "Pa55-w0rd!finance-PROD"
OTHER_SECRET = "s3cret-typo-value-9Q"
PARAMETER_ERROR = "components.errors.ParameterError: "

DOC = generate_bundle()
PAYLOAD = dump_bundle(DOC).encode("utf-8")
CATALOG = build_catalog(DOC)


def _asset(prop: str, default: str | None = None) -> str:
    """The id of the one data source with ``prop`` (and that Default), read from the catalog."""
    found = {
        e.asset_id
        for e in CATALOG
        if e.kind == "datasource" and e.property == prop and (default is None or e.default == default)
    }
    assert len(found) == 1, (prop, default, found)
    return found.pop()


ATHENA = _asset("WorkGroup")
POSTGRES = _asset("Port", "5432")
S3 = _asset("ManifestFileLocation.Bucket")
REDSHIFT = _asset("Password")


def valid_parameters() -> dict[str, Any]:
    """Every required value of the generated bundle in the friendly nested form (plus an ARN and a flat key)."""
    return {
        "ResourceIdPrefixForAllResources": "prod-",
        f"datasource/{ATHENA}": {"WorkGroup": "analytics-prod"},
        f"datasource/{POSTGRES}": {
            "Host": "orders-prod.cluster-x.us-east-1.rds.amazonaws.com",
            "Port": 5432,
            "Database": "orders",
            "SecretArn": "arn:aws:secretsmanager:us-east-1:444455556666:secret:quicksight/orders-prod-Zz9",
        },
        f"datasource/{S3}": {"ManifestFileLocation": {"Bucket": "marketing-prod-exports", "Key": "manifests/c.json"}},
        f"datasource/{REDSHIFT}": {
            "Host": "finance-prod.abc.us-east-1.redshift.amazonaws.com",
            "Port": 5439,
            "Database": "finance",
            "ClusterId": "finance-prod",
            "Username": "quicksight",
            "Password": PASSWORD,
        },
        "arn:aws:quicksight:us-east-1:111122223333:vpcConnection/vpc-conn-orders-db": {
            "RoleArn": "arn:aws:iam::444455556666:role/quicksight-vpc-prod"
        },
        "dashboard/sales-dashboard.Name": "売上ダッシュボード (本番)",
    }


def number_port_bundle() -> dict[str, Any]:
    """The generated bundle with the Postgres Port declared ``Number`` 1..65535 (the generator has no Number)."""
    doc = copy.deepcopy(DOC)
    (name,) = [e.name for e in CATALOG if e.asset_id == POSTGRES and e.property == "Port"]
    doc["Parameters"][name].update({"Type": "Number", "MinValue": 1, "MaxValue": 65535})
    return doc


def add_job(qs: QuickSightEmulator, job_id: str, doc: dict[str, Any] | None = None) -> bytes:
    payload = PAYLOAD if doc is None else pretty_bytes(doc)
    qs.add_job(job_id, payload=payload)
    return payload


def deploy(engine: EngineHarness, qs: QuickSightEmulator, job_id: str, **extra: Any) -> StepResult:
    add_job(qs, job_id)
    result = engine.up(inputs(job_id, **extra))
    assert result.action == "create", result
    return result


def failed_up(engine: EngineHarness, props: dict[str, Any], state: Any = None) -> grpc.RpcError:
    with pytest.raises(grpc.RpcError) as caught:
        engine.up(props, state)
    return caught.value


def operations_since(qs: QuickSightEmulator, mark: int) -> list[str]:
    return [r["operation"] for r in qs.requests[mark:]]


# --- create ----------------------------------------------------------------------------------------


def test_create_with_stage_values_outputs_catalog_assets_and_parameters(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    values = valid_parameters()
    mark = len(qs.requests)

    result = deploy(engine, qs, "params-create", parameters=values, allow_source_defaults=False)

    out = result.outputs
    assert operations_since(qs, mark) == ["DescribeAssetBundleExportJob", "Download"]
    assert out["template_sha256"] == hashlib.sha256(PAYLOAD).hexdigest()
    assert out["parameter_catalog"] == [e.model_dump(exclude_none=True) for e in CATALOG]
    by_key = {entry["key"]: entry for entry in out["parameter_catalog"]}
    host = by_key[f"datasource/{POSTGRES}.Host"]
    assert host["name"].endswith("Host") and host["kind"] == "datasource"
    assert (host["asset_id"], host["property"], host["connection"]) == (POSTGRES, "Host", True)
    password = by_key[f"datasource/{REDSHIFT}.Password"]
    assert password["credential"] is True and password["has_default"] is False and "default" not in password
    # Entries round-trip into the model the provider re-reads in Update.
    assert [CatalogEntry.model_validate(e) for e in out["parameter_catalog"]] == CATALOG
    assert out["assets"] == summarize_resources(DOC)
    assert out["assets"]["dashboard"] == ["sales-dashboard"] and len(out["assets"]["datasource"]) == 4
    # The stage's values are echoed as given, numbers included (the engine holds them as doubles).
    assert out["parameters"] == values
    assert out["allow_source_defaults"] is False
    assert PASSWORD not in engine.stderr_text()


def test_numbers_round_trip_as_doubles_without_a_diff(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    values = valid_parameters()
    first = deploy(engine, qs, "params-numbers", parameters=values)
    port = first.raw.properties["parameters"][f"datasource/{POSTGRES}"]["Port"]
    assert isinstance(port, float) and port == 5432.0, "the engine carries numbers as doubles"
    assert first.outputs["parameters"][f"datasource/{POSTGRES}"]["Port"] == 5432
    mark = len(qs.requests)

    again = engine.up(inputs("params-numbers", parameters=values), first.state)

    assert again.action == "same", again.diff
    assert again.diff.changes == DIFF_NONE
    assert operations_since(qs, mark) == []


def test_number_parameter_gets_an_engine_double_checked_as_an_integer(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    add_job(qs, "params-number-type", number_port_bundle())
    created = engine.up(inputs("params-number-type", parameters=valid_parameters()))
    assert created.action == "create"

    too_big = valid_parameters()
    too_big[f"datasource/{POSTGRES}"]["Port"] = 70000
    line = user_error(failed_up(engine, inputs("params-number-type", parameters=too_big)))
    assert line.startswith(PARAMETER_ERROR + "1 problem "), line
    assert f'datasource/{POSTGRES}.Port got "70000", above its MaxValue 65535' in line
    assert "70000.0" not in line


# --- bad values -----------------------------------------------------------------------------------------


def test_bad_values_fail_with_every_problem_in_one_parameter_error(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    add_job(qs, "params-bad", number_port_bundle())
    values = valid_parameters()
    postgres = values[f"datasource/{POSTGRES}"]
    postgres["Hots"] = postgres.pop("Host")  # typo: Host is then missing too
    postgres["Port"] = "five-four-three-two"
    values[f"datasource/{REDSHIFT}"]["Passwrod"] = OTHER_SECRET  # a mistyped credential, Password still given
    mark = len(qs.requests)

    exc = failed_up(engine, inputs("params-bad", parameters=values, allow_source_defaults=False))

    line = user_error(exc)
    assert line.startswith(PARAMETER_ERROR + "4 problems with the stage's CloudFormation parameter values: "), line
    assert f"unknown property 'Hots' for datasource/{POSTGRES}: did you mean 'Host'?" in line
    assert f"unknown property 'Passwrod' for datasource/{REDSHIFT}: did you mean 'Password'?" in line
    assert (
        f'datasource/{POSTGRES}.Port is a Number parameter but got "five-four-three-two": give a number such as 5432'
        in line
    )
    assert f"datasource/{POSTGRES}.Host is not set and would reuse the source's value " in line
    assert "allow_source_defaults=True" in line
    # One line, and no credential value anywhere: not in the traceback, not on the provider's stderr.
    assert "\n" not in line
    for secret in (PASSWORD, OTHER_SECRET):
        assert secret not in error_text(exc)
        assert secret not in engine.stderr_text()
    # Only the template was fetched (its parameters are needed to check the values): nothing else.
    assert operations_since(qs, mark) == ["DescribeAssetBundleExportJob", "Download"]
    assert engine.alive


def test_missing_credential_is_named_by_its_friendly_key(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    add_job(qs, "params-missing-password")
    values = valid_parameters()
    del values[f"datasource/{REDSHIFT}"]["Password"]

    line = user_error(failed_up(engine, inputs("params-missing-password", parameters=values)))

    assert line.startswith(PARAMETER_ERROR + "1 problem "), line
    assert f"datasource/{REDSHIFT}.Password has no source default and no value" in line
    assert (
        f"pulumi config set --secret --path 'quicksight-promotion:parameters.datasource/{REDSHIFT}.Password'" in line
    )


# --- allow_source_defaults ----------------------------------------------------------------------------


def test_allow_source_defaults_lets_connection_properties_fall_back(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    add_job(qs, "params-defaults")
    credentials_only = {f"datasource/{REDSHIFT}": {"Username": "quicksight", "Password": PASSWORD}}

    refused = failed_up(engine, inputs("params-defaults", parameters=credentials_only))
    line = user_error(refused)
    # Every data source connection property with a source default (2 + 1 + 4 + 4), and the VPC
    # connection's RoleArn.
    assert line.startswith(PARAMETER_ERROR + "12 problems "), line
    assert "vpc-connection/vpc-conn-orders-db.RoleArn is not set" in line
    assert f'datasource/{ATHENA}.WorkGroup is not set and would reuse the source\'s value "analytics-dev"' in line
    assert f"datasource/{S3}.ManifestFileLocation.Bucket is not set" in line
    assert f"datasource/{REDSHIFT}.ClusterId is not set" in line
    # The source's secret ARN is a credential: named, never shown.
    assert f"datasource/{POSTGRES}.SecretArn is not set and would reuse the source's value <hidden>" in line
    assert "secretsmanager" not in line
    assert PASSWORD not in error_text(refused)

    allowed = engine.up(inputs("params-defaults", parameters=credentials_only, allow_source_defaults=True))

    assert allowed.action == "create"
    assert allowed.outputs["allow_source_defaults"] is True
    assert allowed.outputs["parameters"] == credentials_only


# --- update: values only ---------------------------------------------------------------------------


def test_changing_only_parameters_updates_in_place_offline_and_revalidates(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    first = deploy(engine, qs, "params-update", parameters=valid_parameters())
    # The job description expired (14 days on): any AWS call would now fail.
    qs.jobs.clear()
    changed = valid_parameters()
    changed[f"datasource/{POSTGRES}"]["Host"] = "orders-prod-2.cluster-x.us-east-1.rds.amazonaws.com"
    changed[f"datasource/{REDSHIFT}"]["Port"] = 5440
    mark = len(qs.requests)

    diff = engine.diff(first.id, first.outputs, inputs("params-update", parameters=changed))
    assert diff.changes == DIFF_SOME and diff.replaces == []
    updated = engine.up(inputs("params-update", parameters=changed), first.state)

    assert updated.action == "update" and updated.diff.replaces == []
    assert updated.id == first.id
    assert operations_since(qs, mark) == [], "a values-only update must not call AWS"
    assert updated.outputs["parameters"] == changed
    for name in ("template_sha256", "template_body", "template_size", "parameter_catalog", "assets", "export_job_arn"):
        assert updated.outputs[name] == first.outputs[name], name

    # A bad value in an update is refused by the same checks, still without calling AWS.
    typo = valid_parameters()
    typo[f"datasource/{ATHENA}"] = {"WorkGroupp": "analytics-prod"}
    line = user_error(failed_up(engine, inputs("params-update", parameters=typo), updated.state))
    assert line.startswith(PARAMETER_ERROR), line
    assert f"unknown property 'WorkGroupp' for datasource/{ATHENA}: did you mean 'WorkGroup'?" in line
    assert f"datasource/{ATHENA}.WorkGroup is not set" in line
    assert operations_since(qs, mark) == []


def test_toggling_allow_source_defaults_updates_in_place_offline(engine: EngineHarness, qs: QuickSightEmulator) -> None:
    first = deploy(engine, qs, "params-toggle", parameters=valid_parameters())
    qs.jobs.clear()
    fewer = {f"datasource/{REDSHIFT}": {"Username": "quicksight", "Password": PASSWORD}}
    mark = len(qs.requests)

    line = user_error(failed_up(engine, inputs("params-toggle", parameters=fewer), first.state))
    assert line.startswith(PARAMETER_ERROR) and "allow_source_defaults=True" in line, line
    updated = engine.up(inputs("params-toggle", parameters=fewer, allow_source_defaults=True), first.state)

    assert updated.action == "update" and updated.diff.replaces == []
    assert updated.outputs["allow_source_defaults"] is True
    assert updated.outputs["template_sha256"] == first.outputs["template_sha256"]
    assert operations_since(qs, mark) == []


def test_preview_with_unknown_parameters_plans_an_update_not_a_replace(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    first = deploy(engine, qs, "params-preview", parameters=valid_parameters())
    mark = len(qs.requests)

    preview = engine.preview(inputs("params-preview", parameters=UNKNOWN), first.state)

    assert preview.action == "update", preview.diff
    assert preview.diff.changes == DIFF_SOME and preview.diff.replaces == []
    assert operations_since(qs, mark) == []



def test_values_given_as_a_secret_are_never_shown_in_the_provider_error(
    engine: EngineHarness, qs: QuickSightEmulator
) -> None:
    add_job(qs, "params-secret-bad", number_port_bundle())
    values = valid_parameters()
    values[f"datasource/{POSTGRES}"]["Port"] = "port-SECRET-7"

    exc = failed_up(engine, inputs("params-secret-bad", parameters=values, parameters_secret=True))

    line = user_error(exc)
    assert f"datasource/{POSTGRES}.Port is a Number parameter but got <hidden>" in line
    assert "port-SECRET-7" not in error_text(exc)
