"""``preflight``: a stage file checked against a bundle offline, with the checks pulumi up would make."""

from __future__ import annotations

import io
import shutil
from pathlib import Path
from typing import Any

import pytest

from components.cli import run

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sales-bundle.json"
REDSHIFT = "datasource/e87a1613-e443-4f78-9558-867f5ba91faf"
# What `pulumi config set --secret --path` writes for the two credentials the example stages leave out.
CREDENTIALS = f"""\
    "{REDSHIFT}":
      Username:
        secure: v1:AAAAuser
      Password:
        secure: v1:AAAApass
"""


def _stage(tmp_path: Path, name: str, text: str) -> Path:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    path = tmp_path / f"Pulumi.{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def _example_with_credentials(tmp_path: Path, name: str = "test") -> Path:
    text = (ROOT / "examples" / f"Pulumi.{name}.yaml").read_text(encoding="utf-8")
    # Merge the credentials into the Redshift data source's mapping.
    text = text.replace(f'    "{REDSHIFT}":\n', CREDENTIALS, 1)
    return _stage(tmp_path, name, text)


def preflight(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["preflight", *argv], out=out, err=err, prog="quicksight-promotion")
    return code, out.getvalue(), err.getvalue()


def test_a_complete_stage_passes_with_its_credentials_encrypted(tmp_path: Path) -> None:
    stage = _example_with_credentials(tmp_path)
    code, out, err = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 0, out
    assert out.splitlines()[-1].startswith("Pulumi.test.yaml with sales-bundle.json: 0 errors, ")
    assert out.splitlines()[-1].endswith(": pulumi up --stack test may proceed")
    assert err == ""


def test_every_problem_is_listed_one_per_line_and_exits_1(tmp_path: Path) -> None:
    stage = _stage(
        tmp_path,
        "prod",
        """\
config:
  quicksight-promotion:sourceAccountId: "111122223333"
  quicksight-promotion:exportJobId: sales-release-42
  quicksight-promotion:expectedSha256: "0000000000000000000000000000000000000000000000000000000000000000"
  quicksight-promotion:parameters:
    "datasource/82e2e662-f728-44fa-8248-5e3a0a5d2f34":
      WorkGroup: analytics-prod
      WorkGroop: typo
""",
    )
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1
    lines = out.splitlines()
    assert lines[-1].startswith("Pulumi.prod.yaml with sales-bundle.json: ") and lines[-1].endswith(": pulumi up would stop")
    errors = [line[len("  error: ") :] for line in lines if line.startswith("  error: ")]
    assert all(line.startswith(("  error: ", "  warning: ")) for line in lines[:-1])
    assert any("unknown property 'WorkGroop' for datasource/82e2e662" in e and "did you mean 'WorkGroup'" in e for e in errors)
    assert any(e.startswith("template hashes to sha256 ") and "not the pinned 0000" in e for e in errors)


def test_settings_refused_by_the_cli_are_reported_before_anything_else(tmp_path: Path) -> None:
    stage = _stage(tmp_path, "prod", "config:\n  quicksight-promotion:exportJobId: j\n")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1
    assert out.splitlines()[0] == "  error: Pulumi.prod.yaml Stack 'prod' is missing configuration value 'sourceAccountId'"


def test_skeleton_placeholders_and_bad_settings_are_problems(tmp_path: Path) -> None:
    stage = _stage(
        tmp_path,
        "dev",
        """\
config:
  quicksight-promotion:sourceAccountId: "<required: the account (12 digits) that ran the export>"
  quicksight-promotion:exportJobId: j
""",
    )
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1
    assert "  error: setting sourceAccountId still holds the skeleton placeholder" in out


def test_a_malformed_account_is_one_finding_not_three(tmp_path: Path) -> None:
    text = _example_with_credentials(tmp_path).read_text(encoding="utf-8")
    stage = _stage(tmp_path, "test", text.replace('sourceAccountId: "111122223333"', 'sourceAccountId: "1111-2222-3333"'))
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("  error: ")]
    assert errors == ["  error: setting sourceAccountId String should match pattern '^[0-9]{12}$'"]
    assert "1111-2222-3333" not in out


def test_an_invalid_template_validation_setting_does_not_unmap_principals(tmp_path: Path) -> None:
    text = _example_with_credentials(tmp_path).read_text(encoding="utf-8")
    stage = _stage(tmp_path, "test", text.replace("templateValidation: warning", "templateValidation: strict"))
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    errors = [line for line in out.splitlines() if line.startswith("  error: ")]
    assert code == 1 and len(errors) == 1 and errors[0].startswith("  error: setting templateValidation ")


def test_a_prod_stage_pointing_at_dev_is_stopped(tmp_path: Path) -> None:
    text = _example_with_credentials(tmp_path, "prod").read_text(encoding="utf-8")
    text = text.replace("finance-prod.ghi789.eu-west-1.redshift.amazonaws.com", "finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com")
    text = text.replace("ClusterId: finance-prod", "ClusterId: finance-dev")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(_stage(tmp_path, "prod", text)), "--no-lint")
    assert code == 1
    assert (
        f"  error: {REDSHIFT}.Host is 'finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com', the source's own Host "
        "(the export's value): this stage would use the source's resource: set this stage's own Host"
    ) in out.splitlines()
    assert f"  warning: {REDSHIFT}.ClusterId is 'finance-dev', the same ClusterId as the source's" in out
    assert "no problems" not in out and "may proceed" not in out


def test_warnings_up_gives_preflight_gives_and_strict_fails_on_them(tmp_path: Path) -> None:
    text = _example_with_credentials(tmp_path).read_text(encoding="utf-8")
    text = text.replace("      Password:\n        secure: v1:AAAApass\n", "      Password: plain-text-pass\n")
    stage = _stage(tmp_path, "test", text)
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 0, out
    assert f"  warning: {REDSHIFT}.Password is a credential given in plain text in the stage file" in out
    assert "plain-text-pass" not in out
    assert "is a literal, not a parameter: every stage uses this source value" in out
    strict, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint", "--strict")
    assert strict == 1 and out.splitlines()[-1].endswith("--strict counts warnings as errors")


def test_json_carries_every_finding(tmp_path: Path) -> None:
    import json

    stage = _example_with_credentials(tmp_path)
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint", "--json")
    document = json.loads(out)
    assert code == 0 and document["passed"] is True and document["stage"] == "test" and document["errors"] == 0
    assert {"severity", "rule", "subject", "property", "message", "advice"} == set(document["findings"][0])
    assert document["warnings"] == len(document["findings"])


def test_the_source_stage_is_judged_as_a_source_stage(tmp_path: Path) -> None:
    stage = _stage(tmp_path, "dev", (ROOT / "examples" / "Pulumi.dev.yaml").read_text(encoding="utf-8"))
    code, out, _ = preflight("--stage", str(stage))
    assert code == 0, out
    assert out == "Pulumi.dev.yaml (the source stage: its settings): 0 errors, 0 warnings: pulumi up --stack dev may proceed\n"
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 0, out


def test_it_runs_from_anywhere_finding_the_project_above_the_stage_file(tmp_path: Path, monkeypatch: Any) -> None:
    shutil.copy(ROOT / "Pulumi.yaml", tmp_path / "Pulumi.yaml")
    nested = tmp_path / "stages"
    nested.mkdir()
    stage = nested / "Pulumi.test.yaml"
    stage.write_text(_example_with_credentials(tmp_path).read_text(encoding="utf-8"), encoding="utf-8")
    monkeypatch.chdir(tmp_path.parent)
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 0, out


def test_a_stage_file_without_a_project_or_with_a_wrong_name_is_one_line(tmp_path: Path) -> None:
    lonely = tmp_path / "Pulumi.test.yaml"
    lonely.write_text("config: {}\n", encoding="utf-8")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(lonely), "--no-lint", "--project", str(tmp_path / "nope.yaml"))
    assert code == 2  # --project must exist: a usage error
    wrong = _stage(tmp_path, "x", "config: {}\n").rename(tmp_path / "m01d_wrong_kind.yaml")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(wrong), "--no-lint")
    assert code == 1
    assert out.splitlines()[0] == (
        "  error: m01d_wrong_kind.yaml m01d_wrong_kind.yaml is not named Pulumi.<stack>.yaml: the Pulumi CLI reads a "
        "stack's settings only from Pulumi.<stack>.yaml; rename it"
    )
    assert "ong_kind" not in out.replace("wrong_kind", "")


def test_yaml_aliases_and_parse_errors_never_echo_the_file(tmp_path: Path) -> None:
    stage = _stage(tmp_path, "test", "config:\n  a: &x [1]\n  b: *x\n  quicksight-promotion:parameters: {Password: hunter2: x}\n")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1 and "anchors and aliases are not accepted" in out and "hunter2" not in out
    stage = _stage(tmp_path, "test", "config:\n  quicksight-promotion:parameters:\n    Password: hunter2: x\n")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1 and "at line 3, column 22" in out and "hunter2" not in out


@pytest.mark.parametrize("name", ["test", "prod"])
def test_the_example_stages_pass(tmp_path: Path, name: str) -> None:
    stage = _example_with_credentials(tmp_path, name)
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 0, out


def test_cfn_lint_runs_with_progress_on_stderr(tmp_path: Path) -> None:
    stage = _example_with_credentials(tmp_path)
    code, out, err = preflight(str(EXAMPLE), "--stage", str(stage))
    assert code == 0, out
    assert err.startswith("running cfn-lint on the template")


def test_a_bad_bundle_is_a_problem_named_by_its_file(tmp_path: Path) -> None:
    stage = _example_with_credentials(tmp_path)
    bundle = tmp_path / "broken.json"
    bundle.write_text("{", encoding="utf-8")
    code, out, _ = preflight(str(bundle), "--stage", str(stage), "--no-lint")
    assert code == 1
    assert f"bundle file {str(bundle)!r}: the file is not valid JSON" in out
    assert "download" not in out


def test_unmapped_permission_principals_are_problems_naming_them(tmp_path: Path) -> None:
    text = _example_with_credentials(tmp_path).read_text(encoding="utf-8")
    start = text.index("  quicksight-promotion:principals:")
    end = text.index("\n  quicksight-promotion:", start + 1) + 1
    stage = _stage(tmp_path, "test", text[:start] + text[end:])
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1
    errors = [line for line in out.splitlines() if line.startswith("  error: ")]
    assert len(errors) == 2
    assert errors[0].startswith(
        "  error: principals source principal 'arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:user/default/QuickSightAdmin' (held by 12 asset(s): "
    )
    assert "has no target: add it under principals" in errors[0]


def test_a_stage_deploying_an_archived_release_preflights_its_archived_template(tmp_path: Path) -> None:
    import hashlib
    import json

    from components.core.bundle import compact_json

    # templates/<sha256>.json as the archive holds it: the compact template.
    archived = tmp_path / "archived.json"
    body = compact_json(json.loads(EXAMPLE.read_text(encoding="utf-8")))
    archived.write_text(body, encoding="utf-8")
    sha = hashlib.sha256(body.encode("utf-8")).hexdigest()
    text = _example_with_credentials(tmp_path).read_text(encoding="utf-8")
    release = "  quicksight-promotion:release: sales-release-42\n  quicksight-promotion:archiveBucket: qs-archive\n"
    text = text.replace("  quicksight-promotion:exportJobId: sales-release-42\n", release)
    stage = _stage(tmp_path, "test", text.replace(release, release + f"  quicksight-promotion:expectedSha256: '{sha}'\n"))
    code, out, _ = preflight(str(archived), "--stage", str(stage), "--no-lint")
    assert code == 0, out

    wrong = _stage(tmp_path, "test", text.replace(release, release + f"  quicksight-promotion:releaseSha256: '{'0' * 64}'\n"))
    code, out, _ = preflight(str(archived), "--stage", str(wrong), "--no-lint")
    assert code == 1
    assert f"  error: template hashes to sha256 {sha}, not the pinned {'0' * 64}" in out


def test_what_cloudformations_schema_rejects_is_reported_or_judged_repaired(tmp_path: Path) -> None:
    import json

    bundle = json.loads(EXAMPLE.read_text(encoding="utf-8"))
    sheet = bundle["Resources"]["salesdashboard818E72"]["Properties"]["Definition"]["Sheets"][0]
    sheet["Title"] = ""
    defective = tmp_path / "defective.json"
    defective.write_text(json.dumps(bundle), encoding="utf-8")
    where = "dashboard/sales-dashboard.Properties/Definition/Sheets/0/Title an empty string, shorter than the schema's minLength of 1, in an optional property (cfn-lint E3033)"
    stage = _example_with_credentials(tmp_path)
    code, out, _ = preflight(str(defective), "--stage", str(stage), "--no-lint")
    assert code == 0 and f"  warning: {where}: templateRepair: repair would remove it" in out.splitlines(), out

    text = stage.read_text(encoding="utf-8") + "  quicksight-promotion:templateRepair: repair\n"
    repairing = _stage(tmp_path, "test", text)
    code, out, _ = preflight(str(defective), "--stage", str(repairing), "--no-lint")
    assert code == 0 and f"  warning: {where}: removed by templateRepair: repair" in out.splitlines(), out


UNIT_A, UNIT_B = "222222222222", "333333333333"
DEV_HOST = "finance-dev.abc123xyz.us-east-1.redshift.amazonaws.com"


def _stack_set_stage(tmp_path: Path, accounts: str) -> Path:
    """The test example as a stack-set stage (its stackName dropped) with ``accounts`` as its stackSetAccounts."""
    stage = _example_with_credentials(tmp_path)
    text = stage.read_text(encoding="utf-8").replace("  quicksight-promotion:stackName: quicksight-sales-test\n", "")
    stage.write_text(
        text + "  quicksight-promotion:stackSetName: sales-fanout\n  quicksight-promotion:stackSetRegions: [eu-west-1]\n"
        f"  quicksight-promotion:stackSetAccounts:\n{accounts}",
        encoding="utf-8",
    )
    return stage


def test_a_stack_set_stage_judges_each_account_and_names_the_one_with_a_bad_override(tmp_path: Path) -> None:
    stage = _stack_set_stage(
        tmp_path,
        f"""\
    - accountId: "{UNIT_A}"
    - accountId: "{UNIT_B}"
      regions: [us-east-1, eu-west-1]
      parameters:
        "{REDSHIFT}":
          Host: {DEV_HOST}
""",
    )
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1, out
    errors = [line[len("  error: ") :] for line in out.splitlines() if line.startswith("  error: ")]
    # dev's host in each of B's regions; A, and B's principals (their own account's), pass.
    assert [e.split(": ", 1)[0] for e in errors] == [f"account {UNIT_B} in us-east-1", f"account {UNIT_B} in eu-west-1"], out
    assert errors[0] == (
        f"account {UNIT_B} in us-east-1: {REDSHIFT}.Host is '{DEV_HOST}', the source's own Host (the export's value): "
        "this stage would use the source's resource: set this stage's own Host"
    )
    # A's findings are those every instance has: said once, with no account named.
    assert f"account {UNIT_A}" not in out and "  warning: " in out
    assert out.splitlines()[-1].endswith(": pulumi up would stop")


def test_a_stack_set_stage_json_carries_each_findings_account_and_region(tmp_path: Path) -> None:
    import json

    accounts = f"""\
    - accountId: "{UNIT_A}"
    - accountId: "{UNIT_B}"
      parameters:
        "{REDSHIFT}":
          Host: {DEV_HOST}
"""
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(_stack_set_stage(tmp_path, accounts)), "--no-lint", "--json")
    document = json.loads(out)
    assert code == 1 and document["passed"] is False and document["errors"] == 1
    (error,) = [f for f in document["findings"] if f["severity"] == "error"]
    assert (error["account"], error["region"], error["subject"], error["property"]) == (UNIT_B, "eu-west-1", REDSHIFT, "Host")
    # A finding both accounts have is one, with no account or region; B's own carry B's.
    assert {(f.get("account"), f.get("region")) for f in document["findings"]} == {(None, None), (UNIT_B, "eu-west-1")}
