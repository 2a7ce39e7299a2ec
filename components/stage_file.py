"""What the Pulumi CLI does with ``Pulumi.yaml`` and ``Pulumi.<stack>.yaml`` before a program starts.

Used by the offline ``preflight`` command (and the tests of this project's own files), reproduced
from the CLI's own rules (pulumi/pulumi ``sdk/go/common/workspace/project.go``
and ``pkg/workspace/config.go``; summarised in ``../shared/pulumi/README.md``):

- both files are read with go-yaml v3, a YAML 1.2 parser: ``yes``/``no``/``on``/``off`` are strings,
  a plain scalar may not contain ``": "``, a mapping key given twice is an error;
- ``Pulumi.yaml`` is validated against the project JSON schema the CLI ships (``project.schema.json``,
  Draft 2020-12), after short-hand config (``key: value``) is rewritten into a declaration, then by
  ``Project.Validate`` (no ``default`` and ``value`` together, an ``array`` needs ``items``, a default of
  the declared type, keys of other namespaces carry only a ``value``);
- at ``preview``/``up`` the stack's config is merged with the declarations (``mergeConfig``): a
  project-namespace key declared without ``default`` or ``value`` is **required**; a declared default is
  written into the stack's config when the stack does not set the key; a typed key is type-checked.

``program_config`` then turns the merged config into what the language host hands the program
(``PULUMI_CONFIG``: strings, objects as JSON text, and the list of secret keys).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Optional

# PyYAML is a dependency of the pulumi SDK itself.
import yaml

from .errors import StageFileError


@dataclass(frozen=True)
class Secure:
    """A ``secure:`` (encrypted) config value: the CLI decrypts it; offline its text is unknown."""

    ciphertext: str


# --- YAML as go-yaml v3 reads it -----------------------------------------------------------------


class _Yaml12Loader(yaml.SafeLoader):
    """PyYAML's safe loader with YAML 1.2 core-schema scalars and duplicate keys refused."""


_Yaml12Loader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in (
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", "tTfF"),
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:int", r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$", "-+0123456789"),
    (
        "tag:yaml.org,2002:float",
        r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$",
        "-+0123456789.",
    ),
):
    _Yaml12Loader.add_implicit_resolver(_tag, re.compile(_pattern), list(_first))


def _construct_int(loader: _Yaml12Loader, node: yaml.ScalarNode) -> int:
    text = loader.construct_scalar(node)
    if text.startswith("0o"):
        return int(text[2:], 8)
    if text.startswith("0x"):
        return int(text[2:], 16)
    return int(text, 10)  # YAML 1.2: a leading 0 is not octal


def _construct_float(loader: _Yaml12Loader, node: yaml.ScalarNode) -> float:
    text = loader.construct_scalar(node).lower()
    if text.endswith("nan"):
        return math.nan
    if text.endswith("inf"):
        return -math.inf if text.startswith("-") else math.inf
    return float(text)


def _construct_mapping(loader: _Yaml12Loader, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
    loader.flatten_mapping(node)
    mapping: dict[Any, Any] = {}
    for key_node, value_node in node.value:
        key = loader.construct_object(key_node, deep=True)
        if key in mapping:
            raise yaml.constructor.ConstructorError(
                None, None, f"mapping key {key!r} already defined", key_node.start_mark
            )
        mapping[key] = loader.construct_object(value_node, deep=True)
    return mapping


_Yaml12Loader.add_constructor("tag:yaml.org,2002:int", _construct_int)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:float", _construct_float)
_Yaml12Loader.add_constructor("tag:yaml.org,2002:map", _construct_mapping)


class _NoAliasLoader(_Yaml12Loader):
    """The stage-file loader: anchors and aliases refused.

    A 653-byte stage file of nested aliases (a "billion laughs") expands to gigabytes when loaded;
    no stage file needs them (``pulumi config set`` never writes them), so they are refused before
    anything is expanded.
    """

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        if isinstance(event, yaml.AliasEvent) or getattr(event, "anchor", None) is not None:
            raise yaml.composer.ComposerError(
                None, None, "YAML anchors and aliases are not accepted in a stage file", event.start_mark
            )
        return super().compose_node(parent, index)


def _position(exc: yaml.YAMLError) -> str:
    """Where a YAML error is, as ``line L, column C``: never the line's text (it may hold a secret)."""
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark is not None else "an unknown position"


def strict_yaml(text: str, where: str, *, aliases: bool = True) -> Any:
    """Parse YAML as go-yaml v3 would, or raise ``StageFileError`` naming the file and position.

    The message names the problem, the line and the column, never the text of the line: a stage
    file holds values that may be secrets.

    Args:
        text: The YAML text.
        where: The file, for messages.
        aliases: Whether anchors and aliases are accepted (not in stage files).
    """
    loader = _Yaml12Loader if aliases else _NoAliasLoader
    try:
        return yaml.load(text, Loader=loader)  # noqa: S506 (a SafeLoader subclass)
    except yaml.MarkedYAMLError as exc:
        problem = " ".join(str(exc.problem or exc.context or "malformed YAML").split())
        raise StageFileError(f"could not parse {where} as YAML: {problem} at {_position(exc)}") from None
    except yaml.YAMLError:
        raise StageFileError(f"could not parse {where} as YAML") from None


# --- Pulumi.yaml ---------------------------------------------------------------------------------


def _namespaced_by_project(project: str, key: str) -> bool:
    return ":" not in key or key.startswith(project + ":")


def _valid_value(type_name: str, items: Optional[dict[str, Any]], value: Any) -> bool:
    """``ValidateConfigValue``: whether a value fits a declared type."""
    if isinstance(value, Secure):
        return True  # decrypted by the CLI; cannot be judged offline
    if type_name == "string":
        return isinstance(value, str)
    if type_name == "integer":
        if isinstance(value, bool):
            return False
        if isinstance(value, int):
            return True
        if isinstance(value, float):
            return value == math.trunc(value)
        if isinstance(value, str):
            return re.fullmatch(r"[+-]?[0-9]+", value) is not None
        return False
    if type_name == "boolean":
        return isinstance(value, bool) or value in ("true", "false")
    if type_name == "object":
        return isinstance(value, dict)
    if not isinstance(value, list) or items is None:
        return False
    return all(_valid_value(items.get("type", ""), items.get("items"), item) for item in value)


def load_project(path: Path, schema: Optional[Path] = None) -> dict[str, Any]:
    """Read ``Pulumi.yaml`` as the CLI does; return it with short-hand config rewritten.

    Args:
        path: The project file.
        schema: Pulumi's project JSON schema; validation against it is skipped when None.

    Raises:
        StageFileError: what the CLI would say.
    """
    project = strict_yaml(path.read_text(encoding="utf-8"), str(path))
    if not isinstance(project, dict):
        raise StageFileError(f"expected project to be an object, was {type(project).__name__}")
    name = project.get("name")
    if not isinstance(name, str) or not name:
        raise StageFileError("project is missing a non-empty string 'name' attribute")
    config = project.get("config")
    if isinstance(config, dict):
        for key, value in list(config.items()):
            if isinstance(value, (str, int, bool, list)):  # RewriteShorthandConfigValues
                config[key] = {"default": value} if _namespaced_by_project(name, key) else {"value": value}
    if schema is not None:
        import jsonschema  # noqa: PLC0415

        validator = jsonschema.Draft202012Validator(json.loads(schema.read_text(encoding="utf-8")))
        errors = sorted(validator.iter_errors(project), key=lambda e: list(e.absolute_path))
        if errors:
            where = "/".join(str(p) for p in errors[0].absolute_path)
            raise StageFileError(f"#/{where}: {errors[0].message}")
    for key, declared in (config or {}).items() if isinstance(config, dict) else ():
        _validate_declaration(name, str(key), declared)
    return project


def _validate_declaration(project: str, key: str, declared: dict[str, Any]) -> None:
    """``Project.Validate`` for one config declaration."""
    if declared.get("default") is not None and declared.get("value") is not None:
        raise StageFileError(f"project config '{key}' cannot have both a 'default' and 'value' attribute")
    typed = "type" in declared
    if _namespaced_by_project(project, key):
        if typed and declared["type"] == "array" and declared.get("items") is None:
            raise StageFileError(
                f"The configuration key '{key}' declares an array but does not specify the underlying type via "
                "the 'items' attribute"
            )
        default = declared.get("default")
        if typed and default is not None and not _valid_value(declared["type"], declared.get("items"), default):
            raise StageFileError(f"The default value specified for configuration key '{key}' is not of the expected type")
        return
    if typed:
        raise StageFileError(f"Configuration key '{key}' is not namespaced by the project and should not define a type")
    if declared.get("default") is not None:
        raise StageFileError(f"Configuration key '{key}' is not namespaced by the project and should not define a default value")
    if declared.get("value") is None:
        raise StageFileError(f"Configuration key '{key}' is namespaced and must provide an attribute 'value'")


# --- Pulumi.<stack>.yaml ----------------------------------------------------------------------------


def _secure(value: Any) -> Any:
    """Turn ``{secure: ...}`` leaves into ``Secure`` values."""
    if isinstance(value, dict):
        if set(value) == {"secure"} and isinstance(value["secure"], str):
            return Secure(value["secure"])
        return {k: _secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_secure(v) for v in value]
    return value


PROJECT_FILES = ("Pulumi.yaml", "Pulumi.yml")
_STACK_FILE = re.compile(r"^Pulumi\.(?P<stack>[A-Za-z0-9_.-]+)\.ya?ml$")


def stack_name(path: Path) -> str:
    """The stack a stage file configures: ``Pulumi.<stack>.yaml`` (the only name the CLI reads).

    Raises:
        StageFileError: the file is not named so.
    """
    match = _STACK_FILE.match(path.name)
    if match is None or match.group("stack") in ("yaml", "yml"):
        raise StageFileError(
            f"{path.name} is not named Pulumi.<stack>.yaml: the Pulumi CLI reads a stack's settings only from "
            "Pulumi.<stack>.yaml; rename it"
        )
    return match.group("stack")


def find_project(start: Path) -> Path:
    """The project file the Pulumi CLI would use for a stack file in ``start``: there, else upward.

    Raises:
        StageFileError: none in ``start`` or any folder above it.
    """
    folder = start.resolve()
    for candidate in (folder, *folder.parents):
        for name in PROJECT_FILES:
            if (candidate / name).is_file():
                return candidate / name
    raise StageFileError(
        f"no Pulumi.yaml in {start} or any folder above it: put the stage file in the project's folder (beside "
        "Pulumi.yaml), or name the project file with --project"
    )


def load_stack_config(path: Path, project: str) -> dict[str, Any]:
    """The ``config:`` of a stack file, keys fully namespaced (``project:key``).

    Raises:
        StageFileError: the file does not parse, or a key is malformed.
    """
    document = strict_yaml(path.read_text(encoding="utf-8"), str(path), aliases=False) or {}
    if not isinstance(document, dict):
        raise StageFileError(f"{path}: a stack file is a mapping")
    config = document.get("config") or {}
    if not isinstance(config, dict):
        raise StageFileError(f"{path}: 'config' must be a mapping")
    merged: dict[str, Any] = {}
    for key, value in config.items():
        key = str(key)
        if key.count(":") > 1 or key.startswith(":") or key.endswith(":"):
            raise StageFileError(f"{path}: configuration key {key!r} could not be parsed: expected <namespace>:<name>")
        merged[key if ":" in key else f"{project}:{key}"] = _secure(value)
    return merged


def merge_config(project: dict[str, Any], stack: str, stack_config: dict[str, Any]) -> dict[str, Any]:
    """``mergeConfig``: the config the program receives, or the CLI's refusal.

    Raises:
        StageFileError: ``Stack '<stack>' is missing configuration value(s) ...`` or a type mismatch.
    """
    name = project["name"]
    merged = dict(stack_config)
    missing: list[str] = []
    for key in sorted(project.get("config") or {}):
        declared = project["config"][key]
        full = key if ":" in key else f"{name}:{key}"
        has_default = declared.get("default") is not None
        has_value = declared.get("value") is not None
        if full not in stack_config:
            if not has_default and not has_value:
                if full.split(":", 1)[0] == name:
                    missing.append(key)
                continue
            merged[full] = declared["default"] if has_default else declared["value"]
            continue
        if "type" in declared and not _valid_value(declared["type"], declared.get("items"), stack_config[full]):
            items = declared.get("items")
            type_name = f"array<{items.get('type')}>" if items else declared["type"]
            raise StageFileError(f"Stack '{stack}' with configuration key '{key}' must be of type '{type_name}'")
    if missing:
        listed = " and ".join(f"'{k}'" for k in sorted(missing)) if len(missing) <= 2 else (
            ", ".join(f"'{k}'" for k in sorted(missing)[:-1]) + f" and '{sorted(missing)[-1]}'"
        )
        noun = "value" if len(missing) == 1 else "values"
        raise StageFileError(f"Stack '{stack}' is missing configuration {noun} {listed}")
    return merged


def _config_text(value: Any, secrets: dict[Secure, Any]) -> tuple[str, bool]:
    """A config value as the language host hands it over: text (JSON for objects), and whether secret."""

    def plain(item: Any) -> Any:
        if isinstance(item, Secure):
            return secrets.get(item, "decrypted-secret")
        if isinstance(item, dict):
            return {k: plain(v) for k, v in item.items()}
        if isinstance(item, list):
            return [plain(v) for v in item]
        return item

    def has_secret(item: Any) -> bool:
        if isinstance(item, Secure):
            return True
        if isinstance(item, dict):
            return any(has_secret(v) for v in item.values())
        if isinstance(item, list):
            return any(has_secret(v) for v in item)
        return False

    secret = has_secret(value)
    value = plain(value)
    if isinstance(value, bool):
        return ("true" if value else "false"), secret
    if isinstance(value, (dict, list)):
        return json.dumps(value), secret
    if isinstance(value, float) and value.is_integer():
        return str(int(value)), secret
    return str(value), secret


def program_config(merged: dict[str, Any], secrets: Optional[dict[Secure, Any]] = None) -> tuple[dict[str, str], list[str]]:
    """``PULUMI_CONFIG`` and its secret keys, as ``pulumi.runtime.set_all_config`` takes them."""
    flat: dict[str, str] = {}
    secret_keys: list[str] = []
    for key, value in merged.items():
        flat[key], secret = _config_text(value, secrets or {})
        if secret:
            secret_keys.append(key)
    return flat, secret_keys
