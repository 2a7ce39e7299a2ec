"""What every dynamic provider of this library does with the inputs the engine hands it (Pulumi shell).

The engine sends a value that is not known yet (during preview) as a sentinel string, which the
SDK hands to Check and Diff as ``pulumi.output.Unknown``; every number arrives as a double; and
secrets arrive unwrapped, so a provider cannot tell which inputs were secret and must quote back
only inputs it knows to be identifiers or numbers.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from typing import Any

import pulumi
from pydantic import ValidationError

from .errors import clean

# The engine's marker of a value not known yet (preview), as the SDK may still pass it.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """Whether a value is not known yet (preview)."""
    return isinstance(value, pulumi.output.Unknown) or (isinstance(value, str) and value == UNKNOWN)


def known_inputs(props: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The inputs among ``names`` whose values in ``props`` are known (not None, not unknown)."""
    return {k: props[k] for k in names if props.get(k) is not None and not is_unknown(props[k])}


def same(old: Any, new: Any) -> bool:
    """Whether two input values are the same, an empty value being the same as none."""
    return (old or None) == (new or None)


def problems(error: ValidationError, quotable: Collection[str]) -> list[tuple[str, str]]:
    """(input name, reason) for each validation error.

    The given value is quoted only for inputs named in ``quotable`` (identifiers and numbers),
    never for anything that may be a secret or is large.
    """
    found = []
    for item in error.errors():
        top = str(item["loc"][0]) if item["loc"] else "inputs"
        name = clean(".".join(str(part) for part in item["loc"]), 200) if item["loc"] else "inputs"
        value = item.get("input")
        if isinstance(value, float) and value.is_integer():
            value = int(value)  # the engine sends every number as a double
        shown = f" (got {clean(repr(value), 200)})" if top in quotable and isinstance(value, (str, int, float)) else ""
        found.append((name, f"{clean(item['msg'], 300)}{shown}"))
    return found
