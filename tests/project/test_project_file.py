"""The project as the Pulumi CLI reads it: Pulumi.yaml, the stage files, the config the program gets.

A project file or stage file the CLI refuses means ``pulumi up`` never starts the program, so these
tests apply the CLI's own rules (``tests/pulumi_cli.py``) before the program's.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pulumi
import pytest

from components.program import KNOWN_KEYS, NAMESPACE, ProgramConfig, read_config
from pulumi_cli import SCHEMA, StageFileError, Secure, load_project, load_stack_config, merge_config, program_config, strict_yaml

ROOT = Path(__file__).resolve().parents[2]
STAGES = sorted((ROOT / "examples").glob("Pulumi.*.yaml"))
needs_schema = pytest.mark.skipif(
    not SCHEMA.exists(), reason=f"Pulumi's project schema is not at {SCHEMA} (../shared/pulumi/ is absent)"
)

# The smallest stage the README describes: the two required settings.
MINIMAL_STAGE = """\
config:
  aws:region: eu-west-1
  quicksight-promotion:sourceAccountId: "111122223333"
  quicksight-promotion:exportJobId: sales-release-42
"""


def _project() -> dict:
    return load_project(ROOT / "Pulumi.yaml", SCHEMA if SCHEMA.exists() else None)


def _write(tmp_path: Path, text: str, name: str = "Pulumi.stage.yaml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def test_project_file_parses_as_yaml_1_2_with_no_duplicate_keys() -> None:
    project = strict_yaml((ROOT / "Pulumi.yaml").read_text(encoding="utf-8"), "Pulumi.yaml")
    assert project["name"] == NAMESPACE
    assert project["runtime"]["name"] == "python"


@needs_schema
def test_project_file_validates_against_pulumis_project_schema() -> None:
    project = load_project(ROOT / "Pulumi.yaml", SCHEMA)
    assert set(project["config"]) == set(KNOWN_KEYS)


def test_the_strict_reader_refuses_what_go_yaml_refuses() -> None:
    # The two mistakes the CLI stops on: an unquoted "key: value" inside a plain scalar, a key given twice.
    with pytest.raises(StageFileError, match="mapping values are not allowed here"):
        strict_yaml("a:\n  description: The region (default: us-east-1).\n", "Pulumi.yaml")
    with pytest.raises(StageFileError, match="already defined"):
        strict_yaml("a: 1\na: 2\n", "Pulumi.yaml")
    # YAML 1.2: yes/no/on/off are strings, a leading zero is decimal.
    assert strict_yaml("a: yes\nb: off\nc: 0123\nd: true\n", "x") == {"a": "yes", "b": "off", "c": 123, "d": True}


@needs_schema
def test_the_schema_check_refuses_an_unknown_config_type(tmp_path: Path) -> None:
    path = _write(tmp_path, "name: p\nruntime: python\nconfig:\n  a:\n    type: map\n", "Pulumi.yaml")
    with pytest.raises(StageFileError, match="#/config/a"):
        load_project(path, SCHEMA)


def test_only_the_source_account_is_required_by_the_cli() -> None:
    # exportJobId (a stage deploys) or releaseName (the source stage cuts a release) is the program's rule.
    project = _project()
    required = sorted(k for k, d in project["config"].items() if d.get("default") is None and d.get("value") is None)
    assert required == ["sourceAccountId"]


def test_declared_defaults_are_the_programs_defaults() -> None:
    # The CLI writes each declared default into the stack's config; the program must read it as unset
    # or as its own default, never as a different value.
    project = _project()
    defaults = {k: d["default"] for k, d in project["config"].items() if "default" in d}
    flat, secret = program_config({f"{NAMESPACE}:{k}": v for k, v in defaults.items()})
    flat.update({f"{NAMESPACE}:sourceAccountId": "111122223333", f"{NAMESPACE}:exportJobId": "j"})
    pulumi.runtime.set_all_config(flat, secret)
    settings, parameters = read_config(pulumi.Config(NAMESPACE))
    bare = ProgramConfig.model_validate({"sourceAccountId": "111122223333", "exportJobId": "j"})
    assert settings == bare
    assert parameters == {}


def test_a_stage_without_a_required_setting_is_refused_as_the_cli_does(tmp_path: Path) -> None:
    path = _write(tmp_path, "config:\n  quicksight-promotion:exportJobId: j\n")
    with pytest.raises(StageFileError) as info:
        merge_config(_project(), "test", load_stack_config(path, NAMESPACE))
    assert str(info.value) == "Stack 'test' is missing configuration value 'sourceAccountId'"


def test_a_stage_with_neither_a_job_nor_a_release_is_refused_by_the_program(tmp_path: Path) -> None:
    from components.errors import InputError

    path = _write(tmp_path, 'config:\n  quicksight-promotion:sourceAccountId: "111122223333"\n')
    flat, secret_keys = program_config(merge_config(_project(), "test", load_stack_config(path, NAMESPACE)))
    pulumi.runtime.set_all_config(flat, secret_keys)
    with pytest.raises(InputError) as info:
        read_config(pulumi.Config(NAMESPACE))
    assert str(info.value) == (
        "invalid stack configuration: quicksight-promotion:exportJobId is required (pulumi config set "
        "quicksight-promotion:exportJobId <value>), or quicksight-promotion:releaseName for the source stage"
    )


def test_a_mistyped_setting_is_refused_as_the_cli_does(tmp_path: Path) -> None:
    path = _write(tmp_path, MINIMAL_STAGE + "  quicksight-promotion:exportTimeoutSeconds: soon\n")
    with pytest.raises(StageFileError) as info:
        merge_config(_project(), "test", load_stack_config(path, NAMESPACE))
    assert str(info.value) == "Stack 'test' with configuration key 'exportTimeoutSeconds' must be of type 'integer'"
    path = _write(tmp_path, MINIMAL_STAGE + "  quicksight-promotion:protect: yes\n")
    with pytest.raises(StageFileError, match="'protect' must be of type 'boolean'"):
        merge_config(_project(), "test", load_stack_config(path, NAMESPACE))


@pytest.mark.parametrize("stage", [*STAGES, None], ids=[*(p.name for p in STAGES), "minimal (README)"])
def test_every_example_stage_starts_under_the_cli_and_the_program(stage: Path | None, tmp_path: Path) -> None:
    path = stage or _write(tmp_path, MINIMAL_STAGE)
    name = path.name.split(".")[1]
    stack_config = load_stack_config(path, NAMESPACE)
    merged = merge_config(_project(), name, stack_config)
    flat, secret_keys = program_config(merged)
    pulumi.runtime.set_all_config(flat, secret_keys)
    settings, _ = read_config(pulumi.Config(NAMESPACE))
    assert settings.source_account_id == "111122223333"
    # The source stage cuts the release that the other stages deploy.
    assert (settings.release_name if name == "dev" else settings.export_job_id) == "sales-release-42"


def test_credentials_set_with_secret_path_reach_the_program_as_a_secret(tmp_path: Path) -> None:
    # What `pulumi config set --secret --path 'quicksight-promotion:parameters.datasource/x.Password'` writes.
    path = _write(
        tmp_path,
        MINIMAL_STAGE
        + "  quicksight-promotion:parameters:\n    datasource/x:\n      Password:\n        secure: v1:AAAA\n",
    )
    merged = merge_config(_project(), "test", load_stack_config(path, NAMESPACE))
    assert merged[f"{NAMESPACE}:parameters"] == {"datasource/x": {"Password": Secure("v1:AAAA")}}
    flat, secret_keys = program_config(merged, {Secure("v1:AAAA"): "hunter2"})
    assert secret_keys == [f"{NAMESPACE}:parameters"]
    pulumi.runtime.set_all_config(flat, secret_keys)
    _, parameters = read_config(pulumi.Config(NAMESPACE))
    assert isinstance(parameters, pulumi.Output)
