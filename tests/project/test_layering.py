"""The layers hold: no module borrows another's private names, no modules import each other, the core is pure.

Read from the source with ``ast`` (nothing is imported), so that a function-level import counts
as much as one at the top of a module.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "components"

# What the pure core may import from outside the project: the standard library's modules that do no
# I/O (zipfile and struct read a stream the caller opened; time and random are the polling's default
# clock, sleep and jitter, which callers replace), and pydantic for its models. A module that talks
# to the network, the file system, a process or Pulumi belongs to the AWS boundary or the shell.
PURE_MODULES = frozenset(
    {
        "__future__",
        "base64",
        "collections",
        "copy",
        "dataclasses",
        "datetime",
        "difflib",
        "functools",
        "enum",
        "hashlib",
        "hmac",
        "json",
        "math",
        "random",
        "re",
        "struct",
        "time",
        "typing",
        "zipfile",
        "zlib",
        "pydantic",
    }
)
# Modules that must never be imported by the core, whatever PURE_MODULES says.
IMPURE_MODULES = frozenset(
    {"pulumi", "pulumi_aws", "boto3", "botocore", "urllib", "urllib3", "socket", "http", "requests", "os", "subprocess"}
)


@dataclass(frozen=True)
class Import:
    """One name a module imports: ``module`` is what it imports from (resolved), ``name`` what (None: the module)."""

    source: str
    line: int
    module: str
    name: str | None


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES: dict[str, Path] = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def imports(source: str) -> list[Import]:
    """Every import statement of a project module, at any depth (function-level imports included)."""
    path = MODULES[source]
    package = source if path.name == "__init__.py" else source.rpartition(".")[0]
    return list(parse_imports(source, path.read_text(encoding="utf-8"), package))


def parse_imports(source: str, text: str, package: str) -> Iterator[Import]:
    """The imports of ``text``, relative ones resolved against ``package``."""
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(source, node.lineno, alias.name, None)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                module = ".".join([*base, node.module] if node.module else base)
            else:
                module = node.module or ""
            for alias in node.names:
                yield Import(source, node.lineno, module, alias.name)


def private_imports(sources: list[str]) -> list[str]:
    """``path:line imports _name from module`` for each private name taken from another project module."""
    return [
        f"{MODULES[item.source].relative_to(ROOT)}:{item.line} imports {item.name} from {item.module}"
        for source in sources
        for item in imports(source)
        if is_private_import(item)
    ]


def is_private_import(item: Import) -> bool:
    """Whether an import takes a private (``_name``, not ``__dunder__``) name of another project module."""
    name = item.name
    if name is None or not name.startswith("_") or (name.startswith("__") and name.endswith("__")):
        return False
    return item.module in MODULES and item.module != item.source


def project_edges(source: str) -> set[str]:
    """The project modules ``source`` imports (a submodule named in ``from package import submodule`` counts as itself)."""
    edges = set()
    for item in imports(source):
        if item.name is not None and f"{item.module}.{item.name}" in MODULES:
            edges.add(f"{item.module}.{item.name}")
        elif item.module in MODULES:
            edges.add(item.module)
    edges.discard(source)
    return edges


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in sorted(graph.get(node, ())):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return sorted(found)


AWS = "components.aws"
OUTSIDE_AWS = [m for m in MODULES if not (m == AWS or m.startswith(AWS + "."))]
INSIDE_AWS = [m for m in MODULES if m == AWS or m.startswith(AWS + ".")]

# The AWS boundary's private imports, which the AWS engineer's branch of issue 16 (i16-aws, one AWS
# call layer) removes. While exactly these are found, the "aws" case below is an expected failure;
# once that branch is merged none is found, the condition is false and the case must pass. Any other
# private import (or one more) fails it at once: this is no allow-list.
AWS_PRIVATE_IMPORTS_BEING_REMOVED = [
    "components/aws/release_cut.py:59 imports _MALFORMED_ADVICE from components.aws.quicksight",
    "components/aws/release_cut.py:59 imports _client_for from components.aws.quicksight",
    "components/aws/release_cut.py:59 imports _within from components.aws.quicksight",
]


@pytest.mark.parametrize(
    "sources",
    [
        pytest.param(OUTSIDE_AWS, id="outside-aws"),
        pytest.param(
            INSIDE_AWS,
            id="aws",
            marks=pytest.mark.xfail(
                sorted(private_imports(INSIDE_AWS)) == AWS_PRIVATE_IMPORTS_BEING_REMOVED,
                reason="aws/release_cut.py borrows aws/quicksight.py's private names until i16-aws is merged",
                strict=True,
            ),
        ),
    ],
)
def test_no_module_imports_another_modules_private_names(sources: list[str]) -> None:
    found = private_imports(sources)
    assert found == [], "make the name public where it is defined, or move it to the module that uses it: " + "; ".join(found)


def test_the_private_import_check_sees_what_it_must() -> None:
    assert "components.core.catalog" in OUTSIDE_AWS and "components.aws.quicksight" in INSIDE_AWS
    assert len(OUTSIDE_AWS) + len(INSIDE_AWS) == len(MODULES) > 30
    # The relative forms resolve to the modules they name (a function-level import included).
    resolved = {(i.module, i.name) for i in imports("components.preflight")}
    assert ("components.bundle_file", "load_bundle_file") in resolved
    assert ("components.core.catalog", "build_catalog") in resolved
    assert ("components.errors", "clean") in {(i.module, i.name) for i in imports("components.core.stacks")}
    assert ("components.aws", "fetch_export") in {(i.module, i.name) for i in imports("components.cli")}


def test_no_modules_import_each_other() -> None:
    graph = {source: project_edges(source) for source in MODULES}
    assert cycles(graph) == []


def test_the_cycle_check_finds_a_cycle_through_a_function_level_import() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert cycles({"a": {"b"}, "b": set()}) == []
    # cli imports the AWS boundary inside a function only: it is an edge all the same.
    assert "components.aws" in project_edges("components.cli")


CORE = [m for m in MODULES if m == "components.core" or m.startswith("components.core.")]


def impure_imports(items: list[Import]) -> list[str]:
    """``line N: module`` for each import of the core that is not the core, the errors or a pure module."""
    found = []
    for item in items:
        top = item.module.split(".")[0]
        if top == "components":
            allowed = item.module in ("components.errors", "components.core") or item.module.startswith("components.core.")
        else:
            allowed = top in PURE_MODULES and top not in IMPURE_MODULES
        if not allowed:
            found.append(f"line {item.line}: {item.module}")
    return found


@pytest.mark.parametrize("source", CORE)
def test_the_core_imports_only_the_core_errors_and_pure_modules(source: str) -> None:
    found = impure_imports(imports(source))
    assert found == [], (
        f"{source} is pure core (no I/O, no Pulumi): it may import components.core.*, components.errors and "
        f"{', '.join(sorted(PURE_MODULES))}; it imports {'; '.join(found)}"
    )


def test_the_layering_checks_refuse_what_they_must() -> None:
    assert len(CORE) >= 10 and not PURE_MODULES & IMPURE_MODULES
    text = (
        "import json\n"
        "from ..errors import clean\n"
        "from .template import section, _SUB_VARIABLE, __doc__\n"
        "def f():\n"
        "    import urllib.request\n"
        "    from pulumi import Output\n"
        "    from ..aws import session\n"
        "    from ..cli import _load_file\n"
    )
    items = list(parse_imports("components.core.catalog", text, "components.core"))
    assert impure_imports(items) == ["line 5: urllib.request", "line 6: pulumi", "line 7: components.aws", "line 8: components.cli"]
    assert [(i.module, i.name) for i in items if is_private_import(i)] == [
        ("components.core.template", "_SUB_VARIABLE"),
        ("components.cli", "_load_file"),
    ]
