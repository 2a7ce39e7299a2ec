"""The `inspect` command line, offline and through the export path (emulator)."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.cli import run
from tools.generator import generate_bundle
from conftest import oversized_template, pretty_bytes, reported_case, sample_template, zip_bytes

ROOT = Path(__file__).resolve().parents[2]
EXAMPLE = ROOT / "examples" / "sales-bundle.json"


@pytest.fixture(autouse=True)
def _no_columns(monkeypatch: pytest.MonkeyPatch) -> None:
    # Into a StringIO (not a terminal) and without COLUMNS, the report's lines are whole.
    monkeypatch.delenv("COLUMNS", raising=False)


def inspect(*argv: str) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = run(["inspect", *argv], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def test_inspect_example_bundle_prints_resources_catalog_and_size() -> None:
    code, out, err = inspect(str(EXAMPLE))
    assert code == 0 and err == ""
    assert "(json), sha256 " in out
    assert "Template size: 112,254 bytes compact (282,913 bytes as downloaded)" in out
    assert "inline TemplateBody limit 51,200 B: too large: the template is staged in S3" in out
    assert "TemplateURL (S3) limit   1,000,000 B: fits" in out
    assert "dashboard (1): sales-dashboard" in out
    assert "refresh-schedule (1):" in out
    assert "Parameters (30; set each as ASSET.PROPERTY" in out
    host = next(line for line in out.splitlines() if " Host " in line)
    assert "yes (connection)" in host
    password = next(line for line in out.splitlines() if " Password " in line)
    assert "(none)" in password and password.rstrip().endswith("yes")


def test_inspect_zip_and_small_template(tmp_path: Path) -> None:
    bundle = tmp_path / "b.zip"
    bundle.write_bytes(zip_bytes({"assetbundle-x.json": pretty_bytes(sample_template())}))
    code, out, _ = inspect(str(bundle))
    assert code == 0
    assert "(zip:assetbundle-x.json)" in out
    assert "inline TemplateBody limit 51,200 B: fits" in out


def test_inspect_over_one_stack_shows_the_nested_stacks(tmp_path: Path) -> None:
    bundle = tmp_path / "big.json"
    bundle.write_text(json.dumps(generate_bundle(scale=20)))
    code, out, err = inspect(str(bundle))
    assert code == 0 and err == ""
    line = next(line for line in out.splitlines() if "TemplateURL (S3) limit" in line)
    assert "over one stack's limits: deployed as 6 nested stacks (Sources " in line and "Dashboards " in line


def test_inspect_too_large_for_cloudformation(tmp_path: Path) -> None:
    # One dashboard of 1.1 MB: no nested template can hold it.
    bundle = tmp_path / "huge.json"
    bundle.write_text(json.dumps(oversized_template()))
    code, out, err = inspect(str(bundle))
    assert code == 1
    assert "TOO LARGE: split the export into smaller bundles" in out
    assert err.startswith("error: the template as deployed is ") and "and it cannot be split into nested stacks: resource " in err
    assert "it cannot be deployed; split the export into smaller bundles" in err


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not json", "is not valid JSON"), (b'{"Resources": {}}', "no non-empty 'Resources' object")],
)
def test_bad_bundle_exits_1_with_the_reason(tmp_path: Path, content: bytes, message: str) -> None:
    bundle = tmp_path / "bad.json"
    bundle.write_bytes(content)
    code, out, err = inspect(str(bundle))
    assert code == 1 and out == ""
    assert err.startswith(f"error: bundle file {str(bundle)!r}: ") and message in err
    # A local file: nothing about downloads.
    assert "download" not in err


def test_missing_file_exits_1() -> None:
    code, _, err = inspect("/nonexistent/bundle.json")
    assert code == 1
    assert "cannot read bundle file '/nonexistent/bundle.json': No such file or directory" in err


def _usage(*argv: str) -> tuple[int, str]:
    err = io.StringIO()
    code = run(list(argv), out=io.StringIO(), err=err, prog="quicksight-promotion")
    return code, err.getvalue()


@pytest.mark.parametrize(
    ("argv", "flag", "reason"),
    [
        (["inspect", "--source-account-id", "123", "--export-job-id", "j"], "--source-account-id", "should match pattern '^[0-9]{12}$' (got '123')"),
        (["inspect", "--source-account-id", "111111111111", "--export-job-id", "bad id"], "--export-job-id", "(got 'bad id')"),
        (["inspect", "x.json", "--export-timeout-seconds", "soon"], "--export-timeout-seconds", "valid integer"),
        (["inspect", "x.json", "--export-timeout-seconds", "0"], "--export-timeout-seconds", "greater than or equal to 1"),
        (["inspect", "x.json", "--source-region", "Mars-1"], "--source-region", "(got 'Mars-1')"),
        (["inspect", "x.json", "--source-role-arn", "arn:aws:iam::1:user/x"], "--source-role-arn", "should match pattern"),
        (["inspect", "x.json", "--out-dir", str(EXAMPLE)], "--out-dir", "is not a directory"),
        (["inspect", "x.json", "--stage-config", "../prod"], "--stage-config", "a stack name is letters"),
        (["preflight", "/nonexistent.json", "--stage", "Pulumi.x.yaml"], "bundle", "is not an existing file"),
        (["inspect"], "", "give either a bundle file or --source-account-id and --export-job-id"),
        (["inspect", "--export-job-id", "j"], "--export-job-id", "--export-job-id needs --source-account-id"),
        (["frobnicate"], "", "invalid choice: 'frobnicate'"),
    ],
)
def test_usage_errors_exit_2_with_one_line_naming_the_flag(argv: list[str], flag: str, reason: str) -> None:
    code, err = _usage(*argv)
    assert code == 2
    assert err.count("\n") == 1 and "Traceback" not in err
    assert err.startswith("quicksight-promotion") and ": error: " in err
    assert flag in err and reason in err
    assert err.rstrip().endswith("--help)")


def test_version_and_help(capsys: pytest.CaptureFixture[str]) -> None:
    import components

    assert run(["--version"], prog="quicksight-promotion") == 0
    assert capsys.readouterr().out.strip() == f"quicksight-promotion {components.__version__}"
    assert run(["inspect", "--help"], prog="quicksight-promotion") == 0
    assert capsys.readouterr().out.startswith("usage: quicksight-promotion inspect")


def test_the_installed_console_script_names_itself(monkeypatch: pytest.MonkeyPatch) -> None:
    from components.cli import _prog

    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/quicksight-promotion", "inspect"])
    assert _prog() == "quicksight-promotion"
    monkeypatch.setattr(sys, "argv", [str(ROOT / "components" / "__main__.py")])
    assert _prog() == "python -m components"


def test_json_output_has_the_sizes_resources_and_catalog() -> None:
    code, out, err = inspect(str(EXAMPLE), "--json")
    assert code == 0 and err == ""
    report = json.loads(out)
    assert report["size"]["compact"] == 112_254 and report["size"]["inline"] is False and report["size"]["deployable"]
    assert report["resources"]["dashboard"] == ["sales-dashboard"]
    assert len(report["parameters"]) == 30
    password = next(p for p in report["parameters"] if p.get("property") == "Password")
    assert password["credential"] is True and "default" not in password


def test_stage_config_skeleton_is_written_as_valid_yaml_and_not_overwritten(tmp_path: Path) -> None:
    code, out, _ = inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path))
    target = tmp_path / "Pulumi.prod.yaml"
    assert code == 0 and f"Wrote {target}" in out
    document = yaml.safe_load(target.read_text(encoding="utf-8"))["config"]
    # From a file, the job is not known: the stage file says what to fill in.
    assert document["quicksight-promotion:exportJobId"] == "<required: the export job id>"
    config = document["quicksight-promotion:parameters"]
    assert any(str(v).startswith("<required:") for asset in config.values() if isinstance(asset, dict) for v in asset.values())
    assert "pulumi config set --secret --path" in target.read_text(encoding="utf-8")
    code, _, err = inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path))
    assert code == 1 and "exists: pass --force to overwrite it" in err
    assert inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path), "--force")[0] == 0


def test_inspect_through_the_export_path(emulator, account: str) -> None:  # type: ignore[no-untyped-def]
    emulator.add_job("cli-job", payload=pretty_bytes(sample_template()))
    code, out, err = inspect("--source-account-id", account, "--export-job-id", "cli-job", "--source-region", "us-east-1")
    assert code == 0, err
    assert f"Bundle: export job cli-job in account {account} (json)" in out
    assert "SECRET" not in out
    assert err.startswith(f"waiting for export job cli-job in account {account} (up to 1800 s)...\n  job status SUCCESSFUL after 0 s\ndownloaded ")


def test_the_stage_file_of_an_export_job_has_its_settings_filled_in(emulator, account: str, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    emulator.add_job("cli-job", payload=pretty_bytes(sample_template()))
    argv = ["--source-account-id", account, "--export-job-id", "cli-job", "--source-region", "us-east-1", "--stage-config", "test"]
    code, _, err = inspect(*argv, "--out-dir", str(tmp_path))
    assert code == 0, err
    config = yaml.safe_load((tmp_path / "Pulumi.test.yaml").read_text(encoding="utf-8"))["config"]
    assert config["quicksight-promotion:sourceAccountId"] == account
    assert config["quicksight-promotion:exportJobId"] == "cli-job"
    assert config["quicksight-promotion:sourceRegion"] == "us-east-1"


def test_job_errors_name_the_flags_not_the_resource_inputs(emulator, account: str) -> None:  # type: ignore[no-untyped-def]
    emulator.add_job("slow-job", statuses=["IN_PROGRESS"])
    code, out, err = inspect("--source-account-id", account, "--export-job-id", "slow-job", "--source-region", "us-east-1", "--export-timeout-seconds", "1")
    assert code == 1 and out == ""
    assert "did not finish within" in err and "raise --export-timeout-seconds" in err
    assert "timeout_seconds" not in err
    # Each status seen while waiting is shown on stderr.
    assert "\n  job status IN_PROGRESS after 0 s\n" in err


def test_each_job_flag_is_named_after_the_export_input_it_sets_and_messages_say_the_flag() -> None:
    from components.cli import _FLAG_FOR_INPUT, _INPUT_WORDS, _parser
    from components.core.models import ExportInputs
    from components.provider import AssetBundleExportProvider

    legacy = AssetBundleExportProvider.LEGACY_NAMES
    for word, flag in _FLAG_FOR_INPUT.items():
        if word in ExportInputs.model_fields:
            assert flag == "--" + word.replace("_", "-"), word
        elif word in legacy:
            # The boundary's words before 0.2.0 say the flag of the input's new name.
            assert flag == _FLAG_FOR_INPUT[legacy[word]], word
        else:
            assert (word, flag) == ("the resource's source_region input", "--source-region")
    inspect_parser = _parser("p")._subparsers._group_actions[0].choices["inspect"]  # noqa: SLF001
    flags = {option for action in inspect_parser._actions for option in action.option_strings}  # noqa: SLF001
    assert {flag for word, flag in _FLAG_FOR_INPUT.items() if word in ExportInputs.model_fields} <= flags
    said = "raise export_timeout_seconds or set source_role_arn (source_account_id, export_job_id, source_region)"
    assert _INPUT_WORDS.sub(lambda m: _FLAG_FOR_INPUT[m.group()], said) == (
        "raise --export-timeout-seconds or set --source-role-arn (--source-account-id, --export-job-id, --source-region)"
    )


def test_inspect_through_the_export_path_reports_job_errors(emulator, account: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = inspect("--source-account-id", account, "--export-job-id", "missing-job", "--source-region", "us-east-1")
    assert code == 1 and out == ""
    assert "export job 'missing-job' in account" in err and "14 days" in err


def test_python_dash_m_components_runs_the_cli() -> None:
    result = subprocess.run(
        [sys.executable, "-m", "components", "inspect", str(EXAMPLE)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "Parameters (30;" in result.stdout


def test_inline_fit_is_judged_on_the_utf8_body_the_deployment_sends(tmp_path: Path) -> None:
    template = sample_template()
    template["Resources"]["salesdashboardAB12CD"]["Properties"]["Definition"]["CalculatedFields"][0][
        "Expression"
    ] = "a < b " * 7000  # 42,000 bytes; boto3 sends '<' as one byte (pulumi-aws sent six)
    bundle = tmp_path / "lt.json"
    bundle.write_text(json.dumps(template))
    code, out, _ = inspect(str(bundle))
    assert code == 0
    compact = int(out.split("Template size: ")[1].split(" bytes")[0].replace(",", ""))
    assert compact <= 51_200
    # As sent: the UTF-8 bytes of the deployed body (boto3 does not escape < > &).
    assert "inline TemplateBody limit 51,200 B: fits (" in out


# --- inspect --show-overrides (a release's pre-flight, nothing started) -------------------------


def test_show_overrides_prints_the_release_configuration_and_starts_nothing(emulator) -> None:  # type: ignore[no-untyped-def]
    assets = emulator.assets
    assets.add_data_source("rs", "REDSHIFT", {"RedshiftParameters": {"ClusterId": "dev-cluster", "Database": "sales"}})
    assets.add_data_set("orders", ("rs",))
    assets.add_dashboard("sales-dashboard", ("orders",))
    code, out, err = inspect(
        "--show-overrides", "--source-account-id", "111111111111", "--dashboards", "sales-dashboard", "--release-name", "r-1"
    )
    assert code == 0, err
    assert "Release 'r-1': job id r-1 in account 111111111111 (us-east-1); pre-flight passed" in out
    assert "ResourceIdOverrideConfiguration.PrefixForAllResources: true" in out
    assert "arn:aws:quicksight:us-east-1:111111111111:datasource/rs: Name, Database, ClusterId, Username, Password" in out
    config = json.loads(out[out.index("\n{") + 1 :])
    assert config["Dashboards"] == [{"Arn": "arn:aws:quicksight:us-east-1:111111111111:dashboard/sales-dashboard", "Properties": ["Name"]}]
    assert emulator.calls("StartAssetBundleExportJob") == [] and emulator.calls("DescribeAssetBundleExportJob") == []


def test_show_overrides_reports_preflight_problems(emulator) -> None:  # type: ignore[no-untyped-def]
    code, out, err = inspect("--show-overrides", "--source-account-id", "111111111111", "--analyses", "gone")
    assert code == 1 and out == ""
    assert err.startswith("error: release 'preview' (preview) in account 111111111111 (us-east-1) cannot start")
    assert "analysis 'gone' was not found" in err


def test_show_overrides_needs_assets_and_an_account() -> None:
    code, err = _usage("inspect", "--show-overrides", "--source-account-id", "111111111111")
    assert code == 2
    assert "--show-overrides needs --source-account-id and --dashboards and/or --analyses" in err
    code, err = _usage("inspect", "--show-overrides", "--source-account-id", "1234", "--dashboards", "d")
    assert code == 2
    assert "argument --source-account-id: String should match pattern '^[0-9]{12}$' (got '1234')" in err


def test_the_written_stage_file_stays_valid_whichever_commented_line_is_uncommented(tmp_path: Path) -> None:
    # The principals section included: every `# ...` line is a value to uncomment, prose is `## ...`.
    from pulumi_cli import strict_yaml

    assert inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path))[0] == 0
    lines = (tmp_path / "Pulumi.prod.yaml").read_text(encoding="utf-8").splitlines()
    baseline = strict_yaml("\n".join(lines), "Pulumi.prod.yaml")["config"]
    assert "quicksight-promotion:principals" in baseline
    for number, line in enumerate(lines):
        body = line.lstrip()
        if not body.startswith("#"):
            continue
        indent = line[: len(line) - len(body)]
        changed = [*lines[:number], indent + (body[2:] if body.startswith("# ") else body[1:]), *lines[number + 1 :]]
        config = strict_yaml("\n".join(changed), "Pulumi.prod.yaml")["config"]
        assert set(config) == set(baseline), line


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "the file is empty: re-export the bundle"),
        (b"PK\x03\x04broken", "the file starts like a zip but cannot be read as one"),
        (b'{"Resources": {"a": 1}, "Resources": {}}', "the file is refused: "),
    ],
)
def test_local_file_messages_name_the_file_not_a_download(tmp_path: Path, content: bytes, message: str) -> None:
    bundle = tmp_path / "local.json"
    bundle.write_bytes(content)
    code, _, err = inspect(str(bundle))
    assert code == 1
    assert message in err and "download" not in err


def test_the_readme_shows_what_inspect_prints_for_the_example() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    shown = readme.split("```text\nBundle: examples/sales-bundle.json", 1)[1].split("```", 1)[0]
    first_lines = ("Bundle: examples/sales-bundle.json" + shown).splitlines()[:4]
    code, out, _ = inspect(str(EXAMPLE))
    assert code == 0
    assert out.replace(str(EXAMPLE), "examples/sales-bundle.json").splitlines()[:4] == first_lines


ESCAPES = "\x1b[2J\x1b]0;owned\x07\x9b31m"


def escaping_bundle(tmp_path: Path) -> Path:
    """A bundle whose asset id and parameter default carry terminal escape sequences."""
    template = sample_template(name=f"Sales{ESCAPES}")
    resource = template["Resources"]["salesdashboardAB12CD"]
    resource["Properties"]["DashboardId"] = f"sales{ESCAPES}"
    template["Parameters"]["salesdashboardAB12CDName"]["Description"] = f"Name for dashboard:sales{ESCAPES}"
    bundle = tmp_path / "escapes.json"
    bundle.write_bytes(pretty_bytes(template))
    return bundle


def test_inspect_prints_no_control_character_from_the_bundle(tmp_path: Path) -> None:
    code, out, err = inspect(str(escaping_bundle(tmp_path)))
    assert code == 0, err
    assert not any(ch in out + err for ch in "\x1b\x07\x9b")
    assert "sales\\x1b[2J\\x1b]0;owned\\x07\\x9b31m" in out  # the asset id, shown escaped
    assert "Sales\\x1b[2J" in out  # the parameter default, shown escaped
    table = [line for line in out.splitlines() if "Sales\\x1b" in line]
    assert table, out


def test_inspect_json_holds_no_control_character_from_the_bundle(tmp_path: Path) -> None:
    code, out, err = inspect(str(escaping_bundle(tmp_path)), "--json")
    assert code == 0, err
    assert "\\u001b" not in out and "\x9b" not in out and "\x1b" not in out
    report = json.loads(out)
    assert report["resources"]["dashboard"] == ["sales\\x1b[2J\\x1b]0;owned\\x07\\x9b31m"]
    defaults = [p.get("default") for p in report["parameters"]]
    assert "Sales\\x1b[2J\\x1b]0;owned\\x07\\x9b31m" in defaults


# --- manners: the terminal's width, the whole report in --json, files written as asked ---------------------

REFRESH_ID = "48268673-23a7-411a-8133-287637ebdcd9/149818d1-1759-4dc3-b2ae-22448b0163c1"


def _columns_of(line: str) -> int:
    from components.cli import _width

    return _width(line)


@pytest.mark.parametrize("columns", [80, 50])
def test_inspect_fits_the_terminals_width_and_shortens_long_ids_in_the_middle(monkeypatch: pytest.MonkeyPatch, columns: int) -> None:
    monkeypatch.setenv("COLUMNS", str(columns))
    code, out, _ = inspect(str(EXAMPLE))
    assert code == 0
    assert [line for line in out.splitlines() if _columns_of(line) > columns] == []
    # Nothing is dropped: each asset still heads its parameters, and wrapped lists keep every id.
    assert "  datasource/e87a1613-e443-4f78-9558-867f5ba91faf" in out.splitlines()
    assert out.count("sales-analysis") >= 3
    if columns == 50:
        # An id wider than the line: its two ends, an ellipsis between them; the full id is in --json.
        assert "48268673-23a7-411a-813\u2026dc3-b2ae-22448b0163c1" in out and REFRESH_ID not in out
        assert REFRESH_ID in json.loads(inspect(str(EXAMPLE), "--json")[1])["resources"]["refresh-schedule"]


def test_inspect_into_a_pipe_prints_whole_lines() -> None:
    code, out, _ = inspect(str(EXAMPLE))
    assert code == 0 and f"  refresh-schedule (1): {REFRESH_ID}" in out.splitlines()


def test_middle_shortening_counts_wide_characters() -> None:
    from components.cli import _middle

    assert _middle("abcdefghij", 5) == "ab\u2026ij"
    assert _middle("abc", 5) == "abc"
    shortened = _middle("受注データベース", 9)
    assert _columns_of(shortened) <= 9 and shortened.startswith("受注") and shortened.endswith("ース")


def test_json_carries_everything_the_text_shows() -> None:
    code, out, _ = inspect(str(EXAMPLE), "--json")
    assert code == 0
    report = json.loads(out)
    admin = next(p for p in report["principals"] if p["text"].endswith("user/default/QuickSightAdmin"))
    assert admin["parameter"] == "Principalad9bc02f58" and "dashboard/sales-dashboard" in admin["assets"]
    assert {"asset": "vpc-connection/vpc-conn-orders-db", "property": "SubnetIds", "value": "subnet-0123456789abcdef0"} in report[
        "literal_values"
    ]
    assert report["limits"]["resources"] == {"count": 14, "limit": 500}
    assert report["limits"]["parameters"] == {"count": 32, "limit": 200} and report["limits"]["exceeded"] == []
    assert report["refused_data_sources"] == [] and report["repairs"] == [] and report["size"]["nested"] is None


def test_json_carries_the_repairs_the_refusals_and_the_nested_stacks(tmp_path: Path) -> None:
    template = reported_case()
    template["Resources"]["bq"] = {
        "Type": "AWS::QuickSight::DataSource",
        "Properties": {"DataSourceId": "bq", "Type": "BIGQUERY", "DataSourceParameters": {"BigQueryParameters": {"ProjectId": "p"}}},
    }
    bundle = tmp_path / "b.json"
    bundle.write_text(json.dumps(template), encoding="utf-8")
    code, out, _ = inspect(str(bundle), "--json")
    text_code, text, _ = inspect(str(bundle))
    report = json.loads(out)
    assert [r["asset"] for r in report["refused_data_sources"]] == ["datasource/bq"]
    assert report["refused_data_sources"][0]["reason"] in text
    problems = {(r["path"].rsplit("/", 1)[-1], r["problem"]) for r in report["repairs"]}
    assert {("ControlTitleFormatText", "not-permitted"), ("Title", "empty-string")} <= problems
    assert f"Schema repairs ({len(report['repairs'])};" in text and text_code == code

    big = tmp_path / "big.json"
    big.write_text(json.dumps(generate_bundle(scale=14)), encoding="utf-8")
    code, out, _ = inspect(str(big), "--json")
    nested = json.loads(out)["size"]["nested"]
    assert code == 0 and nested["cannot_split"] is None
    assert [s["name"] for s in nested["stacks"]] == ["Sources", "DataSets", "Themes", "Analyses", "Dashboards", "Folders"]


def test_out_dir_is_created_as_needed(tmp_path: Path) -> None:
    target = tmp_path / "stages" / "new"
    code, out, _ = inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(target))
    assert code == 0 and (target / "Pulumi.prod.yaml").is_file()


def test_stage_config_onto_an_existing_file_errors_before_any_report(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.prod.yaml").write_text("mine\n", encoding="utf-8")
    code, out, err = inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path))
    assert code == 1 and out == ""
    assert err == f"error: {tmp_path / 'Pulumi.prod.yaml'} exists: pass --force to overwrite it\n"
    assert (tmp_path / "Pulumi.prod.yaml").read_text(encoding="utf-8") == "mine\n"

def test_inspect_lists_what_cloudformations_schema_rejects_and_what_repair_would_do(tmp_path: Path) -> None:
    bundle = tmp_path / "reported.json"
    bundle.write_bytes(pretty_bytes(reported_case()))
    code, out, _ = inspect(str(bundle))
    assert code == 0
    lines = out.splitlines()
    start = lines.index("Schema repairs (2; CloudFormation would refuse these; see docs/template-repair.md):")
    assert lines[start + 1].startswith("  dashboard/sales-dashboard Properties/Definition/Sheets/0/Title: an empty string")
    assert lines[start + 2].endswith("(cfn-lint E3002); templateRepair: repair would remove it")
    clean = tmp_path / "clean.json"
    clean.write_bytes(pretty_bytes(sample_template()))
    assert "Schema repairs: none (CloudFormation's resource schemas accept every property)" in inspect(str(clean))[1]


def test_inspect_names_a_data_source_that_cannot_be_promoted_and_why(tmp_path: Path) -> None:
    template = sample_template()
    template["Resources"]["bqAB12CD"] = {
        "Type": "AWS::QuickSight::DataSource",
        "Properties": {"DataSourceId": "bq", "Name": "bq", "Type": "BIGQUERY",
                       "DataSourceParameters": {"BigQueryParameters": {"ProjectId": "p", "DataSetRegion": "EU"}}},
    }  # fmt: skip
    bundle = tmp_path / "bq.json"
    bundle.write_bytes(pretty_bytes(template))
    lines = inspect(str(bundle))[1].splitlines()
    start = lines.index("Data sources that cannot be promoted (1; pulumi up and preflight stop on them):")
    assert lines[start + 1].startswith("  datasource/bq (BigQueryParameters): AWS::QuickSight::DataSource cannot express it")
    assert lines[start + 1].endswith("(cloudformation-coverage-roadmap#2366)")
