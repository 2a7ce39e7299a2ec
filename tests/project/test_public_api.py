"""The public API is listed once (``components/__init__.pyi``), and every name in it imports."""

from __future__ import annotations

import ast
import inspect
import subprocess
import sys
from pathlib import Path

import pytest

import components
from components import errors

ROOT = Path(__file__).resolve().parents[2]
STUB = ROOT / "components" / "__init__.pyi"


def stub_names() -> dict[str, str]:
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    return {
        alias.asname or alias.name: "." * node.level + (node.module or "")
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


def test_all_is_the_stubs_list_and_dir_shows_only_it() -> None:
    assert components.__all__ == sorted(stub_names())
    assert dir(components) == components.__all__


@pytest.mark.parametrize("name", sorted(stub_names()))
def test_every_public_name_imports_from_the_module_the_stub_names(name: str) -> None:
    value = getattr(components, name)
    module = stub_names()[name]
    defined = getattr(value, "__module__", None)
    assert defined == f"components{module}", f"{name} is defined in {defined}, the stub says {module}"


def test_the_stub_re_exports_each_name_as_itself_so_type_checkers_see_it() -> None:
    # In a stub, `from m import X` is private unless written `X as X` (PEP 484).
    tree = ast.parse(STUB.read_text(encoding="utf-8"))
    plain = [a.name for n in tree.body if isinstance(n, ast.ImportFrom) for a in n.names if a.asname != a.name]
    assert plain == []


def test_every_error_class_is_public_and_defined_in_the_errors_module() -> None:
    classes = errors.error_classes()
    assert {c.__name__ for c in classes} <= set(components.__all__)
    elsewhere = []
    for path in (ROOT / "components").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.ClassDef) and not node.name.startswith("_") and any(
                isinstance(base, ast.Name) and base.id.endswith("Error") for base in node.bases
            ):
                elsewhere.append(f"{path.relative_to(ROOT)}:{node.name}")
    assert [e for e in elsewhere if not e.startswith("components/errors.py:")] == []


def drawn_tree() -> dict[str, tuple[str | None, list[str]]]:
    """Name -> (drawn parent, bracketed second bases) from the tree in the errors module's docstring."""
    drawn: dict[str, tuple[str | None, list[str]]] = {}
    path: list[tuple[int, str]] = []
    for line in (errors.__doc__ or "").splitlines():
        stripped = line.strip(" │├└─")
        name = stripped.split()[0] if stripped else ""
        if not (name.endswith("Error") and name[:1].isupper()):
            continue
        column = line.index(name)
        while path and path[-1][0] >= column:
            path.pop()
        extra = stripped.split("[", 1)[1].split("]", 1)[0].split(", ") if "[" in stripped else []
        drawn[name] = (path[-1][1] if path else None, extra)
        path.append((column, name))
    return drawn


def test_the_error_tree_in_the_docstring_is_the_class_tree() -> None:
    drawn = drawn_tree()
    classes = {c.__name__: c for c in errors.error_classes()}
    assert set(drawn) == set(classes)
    for name, cls in classes.items():
        names = [b.__name__ for b in cls.__bases__]
        if cls is errors.QuickSightPromotionError:
            assert drawn[name] == (None, [])
            continue
        assert drawn[name] == (names[0], names[1:]), name


def test_errors_carry_their_evidence_and_survive_pickling() -> None:
    import pickle

    error = errors.DeploymentTimeoutError("stack 's' still busy", stack="s", account="111111111111", region="eu-west-1")
    assert error.evidence == {"stack": "s", "account": "111111111111", "region": "eu-west-1"}
    copy = pickle.loads(pickle.dumps(error))
    assert str(copy) == str(error) and copy.evidence == error.evidence and type(copy) is type(error)
    problems = errors.ParameterError("2 problems", ("a", "b"), parameter="Host")
    assert pickle.loads(pickle.dumps(problems)).problems == ("a", "b")
    assert error.with_evidence(job_id="j", stack="other").evidence["stack"] == "s"
    with pytest.raises(TypeError, match="is not evidence"):
        error.with_evidence(value="secret")


def test_public_classes_have_docstrings() -> None:
    missing = [n for n in components.__all__ if inspect.isclass(getattr(components, n)) and not getattr(components, n).__doc__]
    assert missing == []


def test_the_stub_ships_in_the_wheel_beside_py_typed() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text(encoding="utf-8")
    assert 'quicksight_promotion = ["__init__.pyi", "py.typed"]' in pyproject
    assert (ROOT / "components" / "py.typed").exists()


def test_import_reads_the_stub_without_loading_any_sdk() -> None:
    code = "import sys, components; print(len(components.__all__), 'pydantic' in sys.modules)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert result.stdout.split() == [str(len(stub_names())), "False"], result.stderr
