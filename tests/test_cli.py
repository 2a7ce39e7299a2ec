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
from components.core.generator import generate_bundle
from conftest import pretty_bytes, sample_template, zip_bytes

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "examples" / "sales-bundle.json"


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
    assert "TemplateURL (S3) limit   1,048,576 B: fits" in out
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


def test_inspect_too_large_for_cloudformation(tmp_path: Path) -> None:
    bundle = tmp_path / "big.json"
    bundle.write_text(json.dumps(generate_bundle(scale=20)))
    code, out, _ = inspect(str(bundle))
    assert code == 0
    assert "TOO LARGE: split the export into smaller bundles" in out


@pytest.mark.parametrize(
    ("content", "message"),
    [(b"not json", "is not valid JSON"), (b'{"Resources": {}}', "no non-empty 'Resources' object")],
)
def test_bad_bundle_exits_1_with_the_reason(tmp_path: Path, content: bytes, message: str) -> None:
    bundle = tmp_path / "bad.json"
    bundle.write_bytes(content)
    code, out, err = inspect(str(bundle))
    assert code == 1 and out == ""
    assert err.startswith("error: ") and message in err


def test_missing_file_exits_1() -> None:
    code, _, err = inspect("/nonexistent/bundle.json")
    assert code == 1
    assert "cannot read bundle file '/nonexistent/bundle.json': No such file or directory" in err


def test_usage_errors_exit_2() -> None:
    with pytest.raises(SystemExit) as info:
        run(["inspect"], out=io.StringIO(), err=io.StringIO())
    assert info.value.code == 2


def test_stage_config_skeleton_is_written_as_valid_yaml_and_not_overwritten(tmp_path: Path) -> None:
    code, out, _ = inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path))
    target = tmp_path / "Pulumi.prod.yaml"
    assert code == 0 and f"Wrote {target}" in out
    config = yaml.safe_load(target.read_text(encoding="utf-8"))["config"]["quicksight-promotion:parameters"]
    assert any(str(v).startswith("<required:") for asset in config.values() if isinstance(asset, dict) for v in asset.values())
    assert "pulumi config set --secret --path" in target.read_text(encoding="utf-8")
    code, _, err = inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path))
    assert code == 1 and "exists: pass --force to overwrite it" in err
    assert inspect(str(EXAMPLE), "--stage-config", "prod", "--out-dir", str(tmp_path), "--force")[0] == 0


def test_inspect_through_the_export_path(emulator, account: str) -> None:  # type: ignore[no-untyped-def]
    emulator.add_job("cli-job", payload=pretty_bytes(sample_template()))
    code, out, err = inspect("--account-id", account, "--job-id", "cli-job", "--region", "us-east-1")
    assert code == 0, err
    assert f"Bundle: export job cli-job in account {account} (json)" in out
    assert "SECRET" not in out


def test_inspect_through_the_export_path_reports_job_errors(emulator, account: str) -> None:  # type: ignore[no-untyped-def]
    code, out, err = inspect("--account-id", account, "--job-id", "missing-job", "--region", "us-east-1")
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


def test_generate_refuses_a_bad_scale_with_usage_exit(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        run(["generate", "--out", str(tmp_path / "b.json"), "--scale", "0"])
    assert info.value.code == 2
    assert "generator scale 0 is not an integer between 1 and 1000" in capsys.readouterr().err
    assert not (tmp_path / "b.json").exists()


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
    assert f"inline TemplateBody limit 51,200 B: fits ({compact:,} B as sent)" in out
