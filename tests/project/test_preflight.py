"""``preflight``: a stage file checked against a bundle offline, with the checks pulumi up would make."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

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
    assert out == "Pulumi.test.yaml with sales-bundle.json: no problems found offline; pulumi up --stack test may proceed\n"
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
    assert lines[0].startswith("Pulumi.prod.yaml with sales-bundle.json: ") and "problems that pulumi up would stop on" in lines[0]
    problems = [line[4:] for line in lines[1:]]
    assert all(line.startswith("  - ") for line in lines[1:])
    assert any("unknown property 'WorkGroop' for datasource/82e2e662" in p and "did you mean 'WorkGroup'" in p for p in problems)
    assert any(p.startswith("quicksight-promotion:expectedSha256 is 0000") and "the bundle hashes to" in p for p in problems)


def test_settings_refused_by_the_cli_are_reported_before_anything_else(tmp_path: Path) -> None:
    stage = _stage(tmp_path, "prod", "config:\n  quicksight-promotion:exportJobId: j\n")
    code, out, _ = preflight(str(EXAMPLE), "--stage", str(stage), "--no-lint")
    assert code == 1
    assert "Stack 'prod' is missing configuration value 'sourceAccountId'" in out


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
    assert "quicksight-promotion:sourceAccountId still holds the skeleton placeholder" in out


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
    assert "2 problems" in out
    assert "  - source principal 'arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:user/default/QuickSightAdmin' (held by 12 asset(s): " in out
    assert "has no target: add it under principals" in out


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
    assert f"quicksight-promotion:releaseSha256 is {'0' * 64} but the bundle's template is archived as {sha}" in out
