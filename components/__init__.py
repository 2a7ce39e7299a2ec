"""quicksight-promotion: promote Amazon QuickSight assets between AWS accounts through CloudFormation.

Public API. The names are listed once, in ``__init__.pyi`` (what type checkers read); this module
reads that list and loads each name on first use (PEP 562), so that ``import components`` stays
light: a program pays for pydantic, pulumi and pulumi_aws only when it uses the names that need
them, and the dynamic provider process (which imports one provider module) never loads the rest
(bench/imports.py). Importing it has no side effects: no AWS client, no Pulumi resource.

Inside this project it is imported as ``components``; installed with pip (``pyproject.toml``) it
is the package ``quicksight_promotion``, so it cannot collide with a ``components`` folder of the
stack that uses it.
"""

import ast
import os
from importlib import import_module
from typing import Any

# The one place the version is written: pyproject.toml reads it (``[tool.setuptools.dynamic]``).
__version__ = "0.1.0"


def _public_names() -> dict[str, str]:
    """Name -> defining module (relative), read from ``__init__.pyi``'s ``from .x import Name as Name`` lines."""
    with open(os.path.join(os.path.dirname(__file__), "__init__.pyi"), encoding="utf-8") as stub:
        tree = ast.parse(stub.read())
    return {
        alias.asname or alias.name: "." * node.level + (node.module or "")
        for node in tree.body
        if isinstance(node, ast.ImportFrom)
        for alias in node.names
    }


_PUBLIC = _public_names()
__all__ = sorted(_PUBLIC)


def __getattr__(name: str) -> Any:
    if name in _PUBLIC:
        value = getattr(import_module(_PUBLIC[name], __name__), name)
        globals()[name] = value  # later lookups skip this function
        return value
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
