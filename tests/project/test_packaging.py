"""The library installs for other stacks as `quicksight_promotion` and has a stable provider path."""

from __future__ import annotations

import ast
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components"


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    # Built from a copy of the project: setuptools writes build/ and *.egg-info beside the sources,
    # and `make test` must leave the work tree as it found it.
    source = tmp_path_factory.mktemp("source") / "project"
    shutil.copytree(
        ROOT,
        source,
        ignore=shutil.ignore_patterns(".git", ".venv*", "build", "*.egg-info", ".pytest_cache", "__pycache__", "bench", "tests"),
    )
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-v", "-w", str(out), str(source)],
        check=True,
        capture_output=True,
        text=True,
        timeout=180,
    )
    # Kept for test_the_build_warns_of_nothing: setuptools' deprecations show only in a verbose build.
    (out / "build.log").write_text(built.stdout + built.stderr, encoding="utf-8")
    return next(out.glob("quicksight_promotion-*.whl"))


def test_the_build_warns_of_nothing(wheel: Path) -> None:
    log = (wheel.parent / "build.log").read_text(encoding="utf-8")
    warnings = [line.strip() for line in log.splitlines() if "Warning:" in line or "deprecated" in line]
    assert warnings == []


def test_the_version_is_written_once_and_the_wheel_carries_it(wheel: Path) -> None:
    import re

    import components

    assert re.fullmatch(r"\d+\.\d+\.\d+", components.__version__)
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    project = pyproject[pyproject.index("[project]\n") : pyproject.index("\n[", pyproject.index("[project]\n"))]
    assert not re.search(r"^version\s*=", project, re.M), "pyproject.toml reads the version from __version__"
    assert 'dynamic = ["version"]' in project
    assert 'version = { attr = "quicksight_promotion.__version__" }' in pyproject
    assert wheel.name.startswith(f"quicksight_promotion-{components.__version__}-")
    assert "quicksight_promotion/py.typed" in zipfile.ZipFile(wheel).namelist()


def test_wheel_ships_the_library_as_quicksight_promotion_only(wheel: Path) -> None:
    names = zipfile.ZipFile(wheel).namelist()
    assert "quicksight_promotion/provider.py" in names
    assert "quicksight_promotion/core/bundle.py" in names
    assert not any(n.startswith(("components/", "tests/", "tools/", "__main__.py")) for n in names)


def test_the_installed_console_script_names_itself(wheel: Path, tmp_path: Path) -> None:
    # What `pip install` puts on PATH: a `quicksight-promotion` script calling quicksight_promotion.__main__:main.
    target = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "--no-index", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
        timeout=120,
    )
    script = target / "bin" / "quicksight-promotion"
    assert script.exists()
    env = {**os.environ, "PYTHONPATH": str(target)}
    run = lambda *argv: subprocess.run(  # noqa: E731
        [sys.executable, str(script), *argv], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=60
    )
    import components

    version = run("--version")
    assert version.returncode == 0 and version.stdout.strip() == f"quicksight-promotion {components.__version__}"
    usage = run("inspect", "--source-account-id", "123", "--export-job-id", "j")
    assert usage.returncode == 2
    assert usage.stderr.startswith("quicksight-promotion inspect: error: argument --source-account-id: ")
    # From any directory, as the README runs it.
    report = run("inspect", "--json", str(ROOT / "examples" / "sales-bundle.json"))
    assert report.returncode == 0, report.stderr
    assert '"dashboard"' in report.stdout


CONSUMER_TEST = """
import pulumi
from quicksight_promotion import QuickSightBundleStack, QuickSightBundleStackArgs
from quicksight_promotion.testing import set_mocks

mocks = set_mocks()


@pulumi.runtime.test
def test_my_program_deploys_the_sales_dashboard():
    stack = QuickSightBundleStack("sales", QuickSightBundleStackArgs(source_account_id="111122223333", export_job_id="job-1"))

    def check(values):
        urls, name = values
        assert urls == ["https://us-east-1.quicksight.aws.amazon.com/sn/dashboards/sales-dashboard"]
        assert name == "project-test-sales"
        assert [r.name for r in mocks.by_type("CloudFormationDeployment")] == ["sales-stack"]

    return pulumi.Output.all(stack.dashboard_urls, stack.stack_name).apply(check)
"""


def test_a_consumers_unit_test_passes_with_the_installed_testing_mocks(wheel: Path, tmp_path: Path) -> None:
    """A consumer's own test of a program using the component, against the wheel, outside the repository."""
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    consumer = tmp_path / "consumer"
    consumer.mkdir()
    (consumer / "test_program.py").write_text(CONSUMER_TEST, encoding="utf-8")
    env = {**os.environ, "PYTHONPATH": str(site)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "no:xdist", "test_program.py"],
        cwd=consumer,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    imported = subprocess.run(
        [sys.executable, "-c", "import quicksight_promotion.testing as t; print(t.__file__)"],
        cwd=consumer, env=env, capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    assert imported.stdout.startswith(str(site))


def test_installed_package_pickles_the_provider_under_its_installed_name(wheel: Path, tmp_path: Path) -> None:
    target = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(target)
    # A consumer project with its own `components` folder must not be shadowed.
    consumer = tmp_path / "consumer"
    (consumer / "components").mkdir(parents=True)
    (consumer / "components" / "__init__.py").write_text("MINE = True\n")
    code = (
        "import components, quicksight_promotion as q, pulumi.dynamic.dynamic as d, base64, dill;"
        "assert components.MINE;"
        "p = dill.loads(base64.b64decode(d.serialize_provider(q.AssetBundleExportProvider())));"
        "print(type(p).__module__, type(p).__qualname__)"
    )
    env = {**os.environ, "PYTHONPATH": str(target)}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=consumer, env=env, capture_output=True, text=True, timeout=60, check=True
    )
    assert result.stdout.split() == ["quicksight_promotion.provider", "AssetBundleExportProvider"]


def test_library_uses_only_relative_imports_of_itself() -> None:
    """Absolute `components.` imports would break the installed `quicksight_promotion` package."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").startswith("components"):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
            if isinstance(node, ast.Import) and any(a.name.startswith("components") for a in node.names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


def test_only_the_aws_boundary_creates_boto3_clients() -> None:
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        if "aws" not in path.relative_to(PACKAGE).parts[:1] and ("import boto3" in text or ".client(" in text or "urllib.request" in text):
            offenders.append(str(path.relative_to(ROOT)))
    assert offenders == []


def test_core_has_no_io_and_no_pulumi() -> None:
    for path in (PACKAGE / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        imported = {a.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        imported |= {(n.module or "").split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level == 0}
        assert not imported & {"pulumi", "boto3", "botocore", "urllib", "socket", "requests", "http"}, path


def test_importing_the_package_has_no_side_effects() -> None:
    code = (
        "import components, boto3;"
        "missing = [n for n in components.__all__ if not hasattr(components, n)];"
        "assert not missing, missing;"
        "assert boto3.DEFAULT_SESSION is None, 'a boto3 session was created at import'"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "PULUMI_"))}
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""


def test_import_stays_light_for_the_provider_process() -> None:
    """Every public name loads on first use: `import components` itself pulls in no SDK."""
    code = (
        "import sys, components;"
        "print(' '.join(m for m in ('boto3', 'botocore', 'pulumi', 'pulumi_aws', 'pydantic', 'cfnlint') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == ""


def test_ci_runs_every_python_version_the_project_claims() -> None:
    import re

    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    claimed = re.findall(r'"Programming Language :: Python :: (3\.\d+)"', pyproject)
    (ci_list,) = re.findall(r'^PYTHONS="([^"]+)"$', (ROOT / ".ci" / "run").read_text(encoding="utf-8"), re.M)
    assert ci_list.split() == claimed
    low, high = re.search(r'requires-python = ">=(3\.\d+),<(3\.\d+)"', pyproject).groups()
    minors = [int(v.split(".")[1]) for v in claimed]
    assert minors == list(range(int(low.split(".")[1]), int(high.split(".")[1])))
    assert sys.version_info[:2] in [(3, m) for m in minors]


def test_the_product_does_not_import_the_tooling() -> None:
    # Sample generators are tooling (tools/), kept apart from the product's path and not installed.
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            modules = [a.name for a in node.names] if isinstance(node, ast.Import) else []
            if isinstance(node, ast.ImportFrom) and node.level == 0:
                modules = [node.module or ""]
            offenders += [f"{path.relative_to(ROOT)}:{node.lineno}" for m in modules if m.split(".")[0] in ("tools", "tests")]
    assert offenders == []
    assert not (PACKAGE / "core" / "generator.py").exists()


# --- dependency floors ----------------------------------------------------------------------------------

# Every API the product relies on that not every release of a dependency has: (package, the first
# release that has it, what it is, a probe of the installed release). The botocore versions were
# read from each release's own S3 service model (1.35.1 lacks PutObject's IfNoneMatch, 1.35.2 has
# it; 1.24.6 lacks ChecksumSHA256 and ChecksumMode, 1.24.7 has them); pulumi's from its CHANGELOG
# (3.139.0: "Allow accessing configuration in Python dynamic providers", pulumi/pulumi#17673).
def _s3_member(shape: str, member: str) -> bool:
    import botocore.session

    model = botocore.session.get_session().get_service_model("s3")
    return member in model.shape_for(shape).members


def _configure_request() -> bool:
    import pulumi.dynamic

    return hasattr(pulumi.dynamic, "ConfigureRequest") and hasattr(pulumi.dynamic.ResourceProvider, "configure")


NEEDS = [
    ("botocore", "1.35.2", "s3:PutObject IfNoneMatch (the archive's write-once)", lambda: _s3_member("PutObjectRequest", "IfNoneMatch")),
    ("boto3", "1.35.2", "a boto3 whose botocore sends IfNoneMatch", lambda: _s3_member("PutObjectRequest", "IfNoneMatch")),
    ("botocore", "1.24.7", "s3:PutObject ChecksumSHA256", lambda: _s3_member("PutObjectRequest", "ChecksumSHA256")),
    ("botocore", "1.24.7", "s3:GetObject/HeadObject ChecksumMode", lambda: _s3_member("HeadObjectRequest", "ChecksumMode")),
    ("pulumi", "3.139", "pulumi.dynamic.ConfigureRequest (the deployment provider's configure)", _configure_request),
]


def _floors(lines: list[str]) -> dict[str, str]:
    import re

    found = {}
    for line in lines:
        match = re.match(r"\s*\"?([A-Za-z0-9_.-]+)\s*>=\s*([0-9][0-9.]*)", line)
        if match:
            found[match.group(1).lower()] = match.group(2)
    return found


@pytest.mark.parametrize(("package", "first", "api", "probe"), NEEDS, ids=[f"{n[0]}:{n[2]}" for n in NEEDS])
def test_each_dependency_floor_has_every_api_the_product_relies_on(package: str, first: str, api: str, probe) -> None:  # type: ignore[no-untyped-def]
    from packaging.version import Version

    requirements = _floors((ROOT / "requirements.txt").read_text(encoding="utf-8").splitlines())
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    dependencies = pyproject[pyproject.index("dependencies = [") : pyproject.index("]", pyproject.index("dependencies = ["))]
    project = _floors(dependencies.splitlines())
    for where, floors in (("requirements.txt", requirements), ("pyproject.toml", project)):
        assert package in floors, f"{where} sets no floor for {package}, which {api} needs"
        assert Version(floors[package]) >= Version(first), f"{where}: {package}>={floors[package]} lacks {api} (since {first})"
    assert requirements[package] == project[package], "requirements.txt and pyproject.toml disagree"
    assert probe(), f"the installed {package} lacks {api}: the table is wrong"
