"""Reading stage files (components/stage_file.py): aliases refused, parse errors without the line, where the project is."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from components.errors import StageFileError
from components.stage_file import find_project, load_stack_config, stack_name, strict_yaml

SECRET = "hunter2-marker-value"


def test_an_alias_bomb_is_refused_before_it_expands(tmp_path: Path) -> None:
    lines = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    lines += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}, *{chr(97 + i)}]" for i in range(8)]
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text("config:\n  " + "\n  ".join(lines) + "\n", encoding="utf-8")
    started = time.monotonic()
    with pytest.raises(StageFileError) as caught:
        load_stack_config(path, "quicksight-promotion")
    assert time.monotonic() - started < 1.0
    assert str(caught.value) == (
        f"could not parse {path} as YAML: YAML anchors and aliases are not accepted in a stage file at line 2, column 6"
    )


def test_a_parse_error_names_line_and_column_never_the_lines_text(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.prod.yaml"
    path.write_text(f"config:\n  quicksight-promotion:parameters:\n    Password: {SECRET}: more\n", encoding="utf-8")
    with pytest.raises(StageFileError) as caught:
        load_stack_config(path, "quicksight-promotion")
    message = str(caught.value)
    assert SECRET not in message and caught.value.__cause__ is None and caught.value.__suppress_context__
    assert message == f"could not parse {path} as YAML: mapping values are not allowed here at line 3, column 35"


def test_a_duplicate_key_names_its_position() -> None:
    with pytest.raises(StageFileError, match=r"mapping key 'a' already defined at line 2, column 1$"):
        strict_yaml("a: 1\na: 2\n", "x.yaml")


def test_the_project_file_may_use_aliases() -> None:
    assert strict_yaml("a: &x 1\nb: *x\n", "Pulumi.yaml") == {"a": 1, "b": 1}


@pytest.mark.parametrize(
    ("name", "stack"), [("Pulumi.prod.yaml", "prod"), ("Pulumi.eu.prod.yml", "eu.prod"), ("Pulumi.m01d_x.yaml", "m01d_x")]
)
def test_the_stack_name_comes_from_pulumi_stack_yaml(name: str, stack: str) -> None:
    assert stack_name(Path(name)) == stack


@pytest.mark.parametrize("name", ["m01d_wrong_kind.yaml", "Pulumi.yaml", "prod.yaml", "Pulumi..yaml"])
def test_a_file_not_named_pulumi_stack_yaml_is_refused(name: str) -> None:
    with pytest.raises(StageFileError) as caught:
        stack_name(Path(name))
    assert str(caught.value) == (
        f"{name} is not named Pulumi.<stack>.yaml: the Pulumi CLI reads a stack's settings only from "
        "Pulumi.<stack>.yaml; rename it"
    )


def test_the_project_is_found_beside_the_stage_file_or_above(tmp_path: Path) -> None:
    (tmp_path / "Pulumi.yaml").write_text("name: p\nruntime: python\n", encoding="utf-8")
    nested = tmp_path / "stages" / "eu"
    nested.mkdir(parents=True)
    assert find_project(nested) == (tmp_path / "Pulumi.yaml").resolve()
    (nested / "Pulumi.yml").write_text("name: q\nruntime: python\n", encoding="utf-8")
    assert find_project(nested) == (nested / "Pulumi.yml").resolve()


def test_no_project_file_anywhere_is_one_line(tmp_path: Path) -> None:
    lonely = tmp_path / "a"
    lonely.mkdir()
    if any((p / "Pulumi.yaml").exists() for p in lonely.resolve().parents):
        pytest.skip("a Pulumi.yaml above the temporary folder")
    with pytest.raises(StageFileError, match=r"^no Pulumi.yaml in .* or any folder above it: put the stage file"):
        find_project(lonely)
