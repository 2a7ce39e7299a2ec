"""The judge (core.judge): every finding of a stage, on the example bundle and the example stage files."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.core.catalog import build_catalog
from components.core.judge import Stage, Target, judge

ROOT = Path(__file__).resolve().parents[2]
BUNDLE = (ROOT / "examples" / "sales-bundle.json").read_text(encoding="utf-8")
CATALOG = build_catalog(json.loads(BUNDLE))
DEV_ACCOUNT = "111122223333"
PROD = Target(account_id="777788889999", region="eu-west-1", partition="aws")


def stage_file(name: str) -> dict[str, Any]:
    config = yaml.safe_load((ROOT / "examples" / f"Pulumi.{name}.yaml").read_text(encoding="utf-8"))["config"]
    return {key.split(":", 1)[1]: value for key, value in config.items() if key.startswith("quicksight-promotion:")}


REDSHIFT = "datasource/e87a1613-e443-4f78-9558-867f5ba91faf"


def prod_stage(**changes: Any) -> Stage:
    """The prod example, with the credentials it sets encrypted (outside the file) given."""
    settings = stage_file("prod")
    values = copy.deepcopy(settings["parameters"])
    values[REDSHIFT].update(Username="qs_reader", Password="s3cret-value")
    base = dict(
        name="prod",
        source_account_id=settings["sourceAccountId"],
        source_region=settings["sourceRegion"],
        values=values,
        principals=settings["principals"],
        template_validation="error",
    )
    return Stage(**{**base, **changes})


def rules(verdict: Any) -> list[tuple[str, str, str, Any]]:
    return [(f.severity, f.rule, f.subject, f.property) for f in verdict.findings]


def test_the_prod_example_has_no_error_and_deploys_values() -> None:
    verdict = judge(BUNDLE, CATALOG, prod_stage(), PROD)
    assert verdict.errors == []
    assert verdict.values["IdentityRegion"] == "eu-west-1"
    # Its databases have the source's names: worth a look, not a stop.
    assert {f.rule for f in verdict.warnings} <= {"source-name", "literal"}


def test_a_prod_stage_with_devs_host_and_cluster_pasted_in_is_stopped() -> None:
    stage = prod_stage()
    source = stage.values["datasource/e87a1613-e443-4f78-9558-867f5ba91faf"]
    source["Host"] = "finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com"
    source["ClusterId"] = "finance-dev"
    verdict = judge(BUNDLE, CATALOG, stage, PROD)
    asset = "datasource/e87a1613-e443-4f78-9558-867f5ba91faf"
    assert ("error", "source-value", asset, "Host") in rules(verdict)
    assert ("warning", "source-name", asset, "ClusterId") in rules(verdict)
    host = next(f for f in verdict.errors if f.property == "Host")
    assert host.describe() == (
        f"{asset}.Host is 'finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com', the source's own Host (the "
        "export's value): this stage would use the source's resource: set this stage's own Host"
    )
    assert verdict.values == {}


def test_allow_source_defaults_makes_source_values_warnings() -> None:
    stage = prod_stage(allow_source_defaults=True)
    stage.values["datasource/e87a1613-e443-4f78-9558-867f5ba91faf"]["Host"] = (
        "finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com"
    )
    verdict = judge(BUNDLE, CATALOG, stage, PROD)
    assert verdict.errors == [] and any(f.rule == "source-value" for f in verdict.warnings)


def test_a_secret_of_the_source_account_is_stopped() -> None:
    stage = prod_stage()
    stage.values["datasource/c8a70639-eb11-47b3-a7a9-c3787c65c1e5"]["SecretArn"] = (
        f"arn:aws:secretsmanager:eu-west-1:{DEV_ACCOUNT}:secret:quicksight/orders-dev-a1B2c3"
    )
    verdict = judge(BUNDLE, CATALOG, stage, PROD)
    assert ("error", "source-account", "datasource/c8a70639-eb11-47b3-a7a9-c3787c65c1e5", "SecretArn") in rules(verdict)


def test_a_principal_mapped_to_a_dev_arn_is_stopped() -> None:
    stage = prod_stage(
        principals={
            "user/default/QuickSightAdmin": f"arn:aws:quicksight:us-east-1:{DEV_ACCOUNT}:group/default/bi-admins",
            "user/default/sales-analyst": "group/default/sales-analysts",
        }
    )
    verdict = judge(BUNDLE, CATALOG, stage, PROD)
    assert [f.rule for f in verdict.errors] == ["source-account"]
    assert verdict.errors[0].subject == "principals"


def test_a_malformed_source_account_does_not_also_unmap_principals() -> None:
    verdict = judge(BUNDLE, CATALOG, prod_stage(source_account_id="1111-2222-3333", unreliable=frozenset({"source_account_id"})), PROD)
    assert [f.rule for f in verdict.errors] == []


def test_a_broken_principals_setting_is_not_judged_twice() -> None:
    verdict = judge(BUNDLE, CATALOG, prod_stage(principals=None, unreliable=frozenset({"principals"})), PROD)
    assert not any(f.rule == "principal" for f in verdict.findings)


def test_an_unmapped_principal_is_an_error_naming_it() -> None:
    verdict = judge(BUNDLE, CATALOG, prod_stage(principals={"user/default/QuickSightAdmin": "group/default/a"}), PROD)
    (error,) = verdict.errors
    assert error.rule == "principal" and "sales-analyst" in error.message and "has no target" in error.message


def test_plain_text_credentials_and_literals_and_lint_warnings() -> None:
    stage = prod_stage(plain_credentials=frozenset({n.name for n in CATALOG if n.property == "Password"}), template_validation="warning")
    lint = [{"level": "error", "resource": "x", "path": "Properties/Y", "rule": "E3002", "message": "bad"}]
    verdict = judge(BUNDLE, CATALOG, stage, PROD, lint_findings=lint)
    assert verdict.errors == []
    assert {"plain-credential", "lint"} <= {f.rule for f in verdict.warnings}
    strict = judge(BUNDLE, CATALOG, prod_stage(), PROD, lint_findings=lint)
    assert [f.rule for f in strict.errors] == ["lint"]


def test_the_pin_is_the_downloaded_bytes_or_the_archived_template() -> None:
    verdict = judge(BUNDLE, CATALOG, prod_stage(expected_sha256="0" * 64), PROD, sha256="a" * 64)
    assert [f.rule for f in verdict.errors] == ["pin"]
    assert judge(BUNDLE, CATALOG, prod_stage(expected_sha256="A" * 64), PROD, sha256="a" * 64).errors == []


def test_a_value_another_stage_uses_and_another_stages_word_are_warnings() -> None:
    test_values = stage_file("test")["parameters"]
    stage = prod_stage(other_stages={"test": test_values, "dev": None})
    stage.values["datasource/c8a70639-eb11-47b3-a7a9-c3787c65c1e5"]["Host"] = test_values[
        "datasource/c8a70639-eb11-47b3-a7a9-c3787c65c1e5"
    ]["Host"]
    verdict = judge(BUNDLE, CATALOG, stage, PROD)
    found = {(f.rule, f.property) for f in verdict.warnings}
    assert ("shared-value", "Host") in found


def test_an_export_without_permissions_and_no_grant_is_a_warning() -> None:
    document = json.loads(BUNDLE)
    for resource in document["Resources"].values():
        resource.get("Properties", {}).pop("Permissions", None)
    body = json.dumps(document)
    verdict = judge(body, build_catalog(document), prod_stage(principals=None), PROD)
    assert any(f.rule == "no-permissions" for f in verdict.warnings)


def test_the_judges_own_findings_read_in_full() -> None:
    document = json.loads(BUNDLE)
    for resource in document["Resources"].values():
        resource.get("Properties", {}).pop("Permissions", None)
    verdict = judge(json.dumps(document), build_catalog(document), prod_stage(principals=None), PROD)
    (none,) = [f for f in verdict.findings if f.rule == "no-permissions"]
    assert none.describe() == (
        "principals the export carries no permissions and the stage sets no grant: nobody could see the deployed "
        "assets: re-export with IncludePermissions, or set grant (e.g. {principal: group/default/<admins>, role: owner})"
    )
    plain = judge(BUNDLE, CATALOG, prod_stage(plain_credentials=frozenset({f"{REDSHIFT}.Password"})), PROD)
    (credential,) = [f for f in plain.findings if f.rule == "plain-credential"]
    assert credential.describe() == (
        f"{REDSHIFT}.Password is a credential given in plain text in the stage file: it is kept secret in state, but "
        "readable in the file: store it encrypted: pulumi config set --secret --path "
        f"'quicksight-promotion:parameters.{REDSHIFT}.Password' <value>"
    )
    pinned = judge(BUNDLE, CATALOG, prod_stage(expected_sha256="0" * 64), PROD, sha256="a" * 64)
    assert pinned.errors[0].describe() == (
        f"template hashes to sha256 {'a' * 64}, not the pinned {'0' * 64}: this stage deploys only what the pinned "
        "stage deployed: deploy that release, or promote this one through the pinned stage first"
    )
    (literal, *_) = [f for f in verdict.findings if f.rule == "literal"]
    assert literal.describe().endswith(
        "is a literal, not a parameter: every stage uses this source value: re-export with "
        "CloudFormationOverridePropertyConfiguration for it"
    )


def test_recorded_repairs_are_warnings_saying_what_repair_did_or_would_do() -> None:
    place = {
        "asset": "dashboard/sales",
        "logical_id": "salesAB12CD",
        "path": "Properties/Definition/Sheets/0/Title",
        "problem": "empty-string",
        "repairable": True,
        "detail": "an empty string",
    }
    found = judge(BUNDLE, CATALOG, prod_stage(), PROD, repairs=[place, {**place, "path": "P/1", "repaired": True}, {**place, "path": "P/2", "repairable": False}])
    described = [f.describe() for f in found.warnings if f.rule == "repair"]
    assert described == [
        "dashboard/sales.Properties/Definition/Sheets/0/Title an empty string: templateRepair: repair would remove it",
        "dashboard/sales.P/1 an empty string: removed by templateRepair: repair",
        "dashboard/sales.P/2 an empty string: not repairable: fix the asset in QuickSight and re-export",
    ]
    assert found.errors == []


def test_a_data_source_cloudformation_cannot_express_is_an_error_saying_why() -> None:
    template = json.loads(BUNDLE)
    logical, resource = next((k, r) for k, r in template["Resources"].items() if r["Type"] == "AWS::QuickSight::DataSource")
    resource["Properties"]["DataSourceParameters"] = {"BigQueryParameters": {"ProjectId": "p", "DataSetRegion": "EU"}}
    verdict = judge(json.dumps(template), CATALOG, prod_stage(), PROD)
    refused = [f for f in verdict.errors if f.rule == "data-source-type"]
    asset = "datasource/82e2e662-f728-44fa-8248-5e3a0a5d2f34"  # its id, the prefix parameter left out
    assert [f.describe() for f in refused] == [
        f"{asset}.DataSourceParameters is a BigQueryParameters data source, which cannot be promoted: "
        "AWS::QuickSight::DataSource cannot express it (CloudFormation's DataSourceParameters has no such member), so "
        "the stack would fail at deploy (cloudformation-coverage-roadmap#2366): replace the data source in QuickSight, "
        "or leave the data sets that read it out of the export"
    ], logical
