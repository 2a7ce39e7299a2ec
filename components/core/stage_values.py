"""Per-stage parameter values: from a readable config mapping to CloudFormation parameter values.

Pure core: no I/O, no Pulumi. Input is the catalog of the export template and the mapping under
``quicksight-promotion:parameters`` of ``Pulumi.<stage>.yaml``; output is the string value of every
parameter the stage sets, after checking them the way CloudFormation will.

Accepted forms, freely mixed (each parameter may be given once)::

    ResourceIdPrefixForAllResources: "prod-"           # a global, by its name
    datasource/826ec139-04c9-4a4f-a09d-979551d5dc38:   # an asset: <kind>/<asset id> or its ARN
      Host: prod-db.example.com
      Port: 5432
      ManifestFileLocation: {Bucket: b, Key: k}        # or ManifestFileLocationBucket: b
    826ec13904c94a4fa09dCB5442Database: salesdb        # the raw CloudFormation parameter name
    datasource/826ec139-04c9-4a4f-a09d-979551d5dc38.Port: 5432   # a flat friendly key

ARNs are matched by kind and id only (the region and account are the source's). A refresh
schedule is ``refresh-schedule/<data set id>/<schedule id>`` or its ARN
``arn:...:dataset/<data set id>/refresh-schedule/<schedule id>``. QuickSight ids never contain
``.``, so in a flat key the property starts after the first ``.`` following the kind.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict, Field

from ..errors import ParameterError
from .catalog import (
    GLOBAL,
    UNKNOWN,
    CatalogEntry,
    iter_assets,
    kind_from_token,
    to_parameter_string,
)
from .template import REFRESH_SCHEDULE

DEFAULT_PROJECT = "quicksight-promotion"
HIDDEN = "<hidden>"
PLACEHOLDER_PREFIX = "<required"
_LIST_TYPES = re.compile(r"^(CommaDelimitedList|List<.+>)$")
# CloudFormation's Number: an integer or a float, in plain or exponent notation.
_NUMBER = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")
_PLAIN_KEY = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")
_YAML_WORDS = frozenset({"true", "false", "null", "yes", "no", "on", "off", "y", "n"})
_MAX_SHOWN = 80


class Resolution(BaseModel):
    """The parameter values of one stage, checked against the template's parameters.

    Attributes:
        values: CloudFormation parameter name -> value the stage sets explicitly.
        defaults: Parameter name -> Default, for parameters left to their (source) Default.
        from_defaults: Names of the parameters left to their Default, in catalog order.
        reused_connections: Data source connection parameters left to their source Default because
            ``allow_source_defaults`` was set (empty otherwise).
        credentials: Names of credential parameters that have a value: wrap them as secrets.
        sensitive: Names of credential or NoEcho parameters that have a value.
        given_as: Parameter name -> how the value was given (for plan output).
    """

    model_config = ConfigDict(frozen=True)

    values: dict[str, str] = Field(default_factory=dict)
    defaults: dict[str, str] = Field(default_factory=dict)
    from_defaults: list[str] = Field(default_factory=list)
    reused_connections: list[str] = Field(default_factory=list)
    credentials: set[str] = Field(default_factory=set)
    sensitive: set[str] = Field(default_factory=set)
    given_as: dict[str, str] = Field(default_factory=dict)

    def all_values(self) -> dict[str, str]:
        """Every parameter with the value CloudFormation will use, defaults included.

        Passing defaults explicitly keeps a stack's parameters readable in the CloudFormation
        console, which shows non-ASCII Defaults as ``?``.
        """
        return {**self.defaults, **self.values}

    def __repr_args__(self) -> Iterable[tuple[Optional[str], Any]]:
        # Never show credential values in a repr, a log line or an error.
        for name, value in super().__repr_args__():
            if name == "values":
                value = {k: HIDDEN if k in self.sensitive else v for k, v in self.values.items()}
            yield name, value


# Records one parameter's value and how it was given: (entry, value, how).
_Give = Callable[[CatalogEntry, Any, str], None]


class _Problems:
    """Collects every problem so that the user fixes them all in one round."""

    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, text: str) -> None:
        # The error must stay one line: user keys are shown with repr(), values as JSON, but be safe.
        self.items.append(text.replace("\r", " ").replace("\n", " "))

    def raise_if_any(self) -> None:
        if self.items:
            count = len(self.items)
            noun = "problem" if count == 1 else "problems"
            raise ParameterError(
                f"{count} {noun} with the stage's CloudFormation parameter values: " + "; ".join(self.items),
                tuple(self.items),
            )


class _Index:
    """Lookups over a catalog: by name, by asset key, and the accepted spellings of properties."""

    def __init__(self, catalog: Sequence[CatalogEntry]) -> None:
        self.by_name: dict[str, CatalogEntry] = {entry.name: entry for entry in catalog}
        self.assets: dict[str, dict[str, CatalogEntry]] = {
            key: {entry.property or entry.name: entry for entry in entries} for key, entries in iter_assets(catalog)
        }
        self.asset_ids: dict[str, list[str]] = {}
        for key in self.assets:
            self.asset_ids.setdefault(key.split("/", 1)[1], []).append(key)

    def property_entry(self, asset: str, prop: str) -> Optional[CatalogEntry]:
        properties = self.assets[asset]
        if prop in properties:
            return properties[prop]
        # ManifestFileLocationBucket, as in the parameter name, for ManifestFileLocation.Bucket.
        for name, entry in properties.items():
            if "." in name and name.replace(".", "") == prop:
                return entry
        return None

    def is_parent(self, asset: str, path: str) -> bool:
        return any(name.startswith(path + ".") for name in self.assets[asset])


def resolve_parameters(
    catalog: Sequence[CatalogEntry],
    values: Optional[Mapping[str, Any]],
    *,
    allow_source_defaults: bool = False,
    hide_values: bool = False,
) -> Resolution:
    """Turn a stage's configured values into CloudFormation parameter values and check them.

    Args:
        catalog: The template's parameters, as ``build_catalog`` returns them.
        values: The stage's ``parameters`` mapping (see the module docstring for its forms);
            None or empty when the stage sets nothing.
        allow_source_defaults: Let data source connection properties fall back to their source
            Default (the config ``allowSourceDefaults: true``). Off by default: a forgotten host or
            workgroup would silently point the stage at the source's data.
        hide_values: Never show any given value in a message (the values were given as a Pulumi
            secret); credential and NoEcho values are always hidden.

    Returns:
        The values to pass, the names left to their Default and which values are secret.

    Raises:
        ParameterError: listing every problem found (unknown or duplicate keys, missing required
            values, values CloudFormation would refuse, connection properties left to source
            defaults). Credential values are never part of the message.
    """
    problems = _Problems()
    given = _collect(catalog, values, problems)
    return _resolve(catalog, given, problems, allow_source_defaults, hide_values)


def given_parameters(catalog: Sequence[CatalogEntry], values: Optional[Mapping[str, Any]]) -> dict[str, Any]:
    """Which parameters a stage's ``parameters`` mapping sets, by CloudFormation name, values unchecked.

    Raises:
        ParameterError: a key names no parameter, or a parameter is given twice.
    """
    problems = _Problems()
    given = _collect(catalog, values, problems)
    problems.raise_if_any()
    return {name: value for name, (value, _) in given.items()}


def _collect(
    catalog: Sequence[CatalogEntry], values: Optional[Mapping[str, Any]], problems: _Problems
) -> dict[str, tuple[Any, str]]:
    """Map every key of the stage's mapping to its parameter: name -> (value, how it was given)."""
    index = _Index(catalog)
    given: dict[str, tuple[Any, str]] = {}

    def give(entry: CatalogEntry, value: Any, how: str) -> None:
        if entry.name in given:
            problems.add(f"{entry.key} is given twice ({given[entry.name][1]} and {how}): keep only one of them")
            return
        given[entry.name] = (value, how)

    for key, value in (values or {}).items():
        if not isinstance(key, str):
            problems.add(f"key {key!r} of the parameters mapping is a {type(key).__name__}: keys must be strings")
            continue
        if key in index.by_name:
            give(index.by_name[key], value, f"as parameter name {key!r}")
            continue
        reference = _parse_asset_reference(key)
        if reference is None:
            problems.add(_unknown_key(key, index))
            continue
        asset, prop = reference
        if asset not in index.assets:
            problems.add(_unknown_asset(key, asset, index))
            continue
        if prop is not None:
            _give_property(index, problems, give, asset, prop, value, f"as {key!r}")
            continue
        if value is None:
            continue  # An asset whose properties are all commented out in the stage file.
        if not isinstance(value, Mapping):
            problems.add(
                f"{key!r} holds a {_type_name(value)}: an asset takes a mapping of property -> value "
                f"(e.g. {key!r}: {{Name: ...}})"
            )
            continue
        for path, item in _flatten(index, asset, value):
            _give_property(index, problems, give, asset, path, item, f"under {key!r}")
    return given


def _resolve(
    catalog: Sequence[CatalogEntry],
    given: dict[str, tuple[Any, str]],
    problems: _Problems,
    allow_source_defaults: bool,
    hide_values: bool = False,
) -> Resolution:
    values: dict[str, str] = {}
    defaults: dict[str, str] = {}
    from_defaults: list[str] = []
    reused: list[str] = []
    for entry in catalog:
        if entry.name in given:
            text = _check_value(entry, given[entry.name][0], problems, hide_values)
            if text is not None:
                values[entry.name] = text
        elif not entry.has_default:
            problems.add(_missing(entry))
        elif entry.connection and not allow_source_defaults:
            shown = HIDDEN if entry.sensitive() else _show(entry.default or "")
            how = (
                f"set it as a secret with pulumi config set --secret --path '{config_path(entry)}' <value>"
                if entry.encrypted()
                else "set it explicitly"
            )
            problems.add(
                f"{entry.key} is not set and would reuse the source's value {shown}: it is {_CONNECTION_WHAT.get(entry.kind, _SOURCE_CONNECTION)}; {how}, "
                f"or pass allow_source_defaults=True (config '{DEFAULT_PROJECT}:allowSourceDefaults: true') to reuse it"
            )
        else:
            from_defaults.append(entry.name)
            defaults[entry.name] = entry.default or ""
            if entry.connection:
                reused.append(entry.name)
    problems.raise_if_any()
    with_values = {entry.name for entry in catalog if entry.name in values}
    by_name = {entry.name: entry for entry in catalog}
    return Resolution(
        values=values,
        defaults=defaults,
        from_defaults=from_defaults,
        reused_connections=reused,
        credentials={name for name in with_values if by_name[name].credential},
        sensitive={name for name in with_values if by_name[name].sensitive()},
        given_as={name: how for name, (_, how) in given.items()},
    )


def _parse_asset_reference(key: str) -> Optional[tuple[str, Optional[str]]]:
    """Split ``<kind>/<id>[.<Property>]`` or an ARN into (asset key, property); None if neither."""
    if key.startswith("arn:"):
        parts = key.split(":", 5)
        if len(parts) != 6 or parts[2] != "quicksight" or "/" not in parts[5]:
            return None
        token, rest = parts[5].split("/", 1)
        schedule = re.match(r"^([^/.]+)/refresh-schedule/(.+)$", rest)
        if token == "dataset" and schedule:
            token, rest = REFRESH_SCHEDULE, f"{schedule.group(1)}/{schedule.group(2)}"
    elif "/" in key:
        token, rest = key.split("/", 1)
    else:
        return None
    kind = kind_from_token(token) or token
    asset_id, dot, prop = rest.partition(".")
    return f"{kind}/{asset_id}", (prop if dot else None)


def _flatten(index: _Index, asset: str, mapping: Mapping[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Property paths and values of an asset's mapping.

    ``{ManifestFileLocation: {Bucket: b}}`` gives ``("ManifestFileLocation.Bucket", b)``; a mapping
    under a key that is not the first part of a dotted property is kept as a (wrong) value.
    """
    found: list[tuple[str, Any]] = []
    for key, value in mapping.items():
        path = f"{prefix}{key}"
        if index.is_parent(asset, path) and (value is None or isinstance(value, Mapping)):
            found.extend(_flatten(index, asset, value or {}, path + "."))
        else:
            found.append((path, value))
    return found


def _give_property(
    index: _Index, problems: _Problems, give: _Give, asset: str, prop: str, value: Any, how: str
) -> None:
    entry = index.property_entry(asset, prop)
    if entry is not None:
        give(entry, value, how)
        return
    valid = sorted(index.assets[asset])
    hint = _suggest(prop, valid)
    problems.add(f"unknown property {prop!r} for {asset}{hint} (its parameters: {', '.join(valid)})")


def _unknown_asset(key: str, asset: str, index: _Index) -> str:
    kinds = index.asset_ids.get(asset.split("/", 1)[1], [])
    suggestions = kinds or difflib.get_close_matches(asset, list(index.assets), n=3, cutoff=0.6)
    hint = f": did you mean {_quoted(suggestions)}?" if suggestions else ""
    return (
        f"unknown asset {key!r}{hint} (no parameter of the template belongs to {asset}; "
        "use <kind>/<asset id> or the asset's ARN)"
    )


def _unknown_key(key: str, index: _Index) -> str:
    candidates = [*index.by_name, *index.assets]
    hint = _suggest(key, candidates)
    return (
        f"unknown key {key!r}{hint} (expected a template parameter name, <kind>/<asset id>, an asset ARN "
        "or <kind>/<asset id>.<Property>)"
    )


def _suggest(word: str, candidates: Sequence[str]) -> str:
    """``": did you mean 'X'?"`` from close matches (case-insensitive ones first), or ``""``."""
    exact_case = [c for c in candidates if c.lower() == word.lower()]
    close = difflib.get_close_matches(word, list(candidates), n=3, cutoff=0.6)
    suggestions = list(dict.fromkeys([*exact_case, *close]))[:3]
    return f": did you mean {_quoted(suggestions)}?" if suggestions else ""


def _quoted(words: Sequence[str]) -> str:
    return " or ".join(repr(w) for w in words)


def _missing(entry: CatalogEntry) -> str:
    if entry.encrypted():
        return (
            f"{entry.key} has no source default and no value: QuickSight never exports credentials; "
            f"set it as a secret with pulumi config set --secret --path '{config_path(entry)}' <value>"
        )
    return f"{entry.key} has no source default and no value: set it in the stage's parameters"


def config_path(entry: CatalogEntry, project: str = DEFAULT_PROJECT) -> str:
    """The ``pulumi config set --path`` key of a parameter in the nested form.

    Pulumi property paths need bracket notation for segments that start with a digit or hold
    ``.``, ``[``, ``]`` or ``"``; asset keys start with their kind, raw names may start with a digit.
    """
    root = f"{project}:parameters"
    asset = entry.asset_key()
    if asset is None:
        return root + _path_segment(entry.name)
    return root + _path_segment(asset) + "".join(_path_segment(p) for p in (entry.property or "").split("."))


def _path_segment(name: str) -> str:
    if re.match(r"^[A-Za-z_][^.\[\]\"]*$", name):
        return "." + name
    return "[" + json.dumps(name) + "]"


def _check_value(entry: CatalogEntry, value: Any, problems: _Problems, hide: bool = False) -> Optional[str]:
    """The value as CloudFormation receives it, or None after recording why it cannot be used."""
    label = entry.key
    if value is None:
        problems.add(f"{label} is null: give a value, or remove the key to use the source default")
        return None
    if isinstance(value, str) and value.startswith(PLACEHOLDER_PREFIX):
        problems.add(f"{label} still holds the skeleton placeholder: replace it with the stage's value")
        return None
    is_list = bool(_LIST_TYPES.match(entry.type))
    try:
        if isinstance(value, (list, tuple)):
            if not is_list:
                problems.add(f"{label} got a list but its parameter type is {entry.type}: give a single value")
                return None
            items = [to_parameter_string(item) for item in value]
            if any("," in item for item in items):
                problems.add(f"{label} got a list item containing ',': CommaDelimitedList items cannot hold commas")
                return None
            text = ",".join(items)
        else:
            text = to_parameter_string(value)
    except TypeError:
        problems.add(f"{label} got a {_type_name(value)}: give a string, number or boolean")
        return None
    except ValueError:
        problems.add(f"{label} got a non-finite number: give a finite number")
        return None
    before = len(problems.items)
    _check_constraints(entry, text, is_list, problems, hide)
    return text if len(problems.items) == before else None


def _check_constraints(entry: CatalogEntry, text: str, is_list: bool, problems: _Problems, hide: bool = False) -> None:
    """Apply the parameter's declared constraints the way CloudFormation does."""
    label, shown = entry.key, (HIDDEN if hide or entry.sensitive() else _show(text))
    why = f" ({entry.constraint_description})" if entry.constraint_description else ""
    if entry.type == "Number" or entry.type == "List<Number>":
        numbers = text.split(",") if is_list else [text]
        if not all(_NUMBER.match(n.strip()) for n in numbers):
            problems.add(f"{label} is a {entry.type} parameter but got {shown}: give a number such as 5432")
            return
        for number in (float(n) for n in numbers):
            if entry.min_value is not None and number < entry.min_value:
                problems.add(f"{label} got {shown}, below its MinValue {_number(entry.min_value)}{why}")
            if entry.max_value is not None and number > entry.max_value:
                problems.add(f"{label} got {shown}, above its MaxValue {_number(entry.max_value)}{why}")
    items = text.split(",") if is_list else [text]
    if entry.allowed_values is not None and any(item not in entry.allowed_values for item in items):
        allowed = ", ".join(_show(v) for v in entry.allowed_values)
        problems.add(f"{label} got {shown}, not one of its AllowedValues: {allowed}{why}")
    if entry.type == "String":
        if entry.allowed_pattern is not None:
            try:
                pattern: Optional[re.Pattern[str]] = re.compile(entry.allowed_pattern)
            except re.error:
                # A Java-only construct: leave the check to CloudFormation.
                pattern = None
            if pattern is not None and pattern.fullmatch(text) is None:
                problems.add(
                    f"{label} got {shown}, which does not match its AllowedPattern {entry.allowed_pattern!r}{why}"
                )
        if entry.min_length is not None and len(text) < entry.min_length:
            problems.add(f"{label} got {shown} ({len(text)} characters), shorter than its MinLength {entry.min_length}")
        if entry.max_length is not None and len(text) > entry.max_length:
            problems.add(f"{label} got {shown} ({len(text)} characters), longer than its MaxLength {entry.max_length}")


def _show(text: str) -> str:
    shown = json.dumps(text, ensure_ascii=False)
    return shown if len(shown) <= _MAX_SHOWN else shown[: _MAX_SHOWN - 4] + '..."'


def _number(value: float) -> str:
    return to_parameter_string(value) if math.isfinite(value) else str(value)


def _type_name(value: Any) -> str:
    if isinstance(value, Mapping):
        return "mapping"
    if isinstance(value, (list, tuple)):
        return "list"
    return type(value).__name__


# The program's settings a stage file needs, with the placeholder shown when the command line did not give them.
SKELETON_SETTINGS: tuple[tuple[str, Optional[str]], ...] = (
    ("sourceAccountId", "the account (12 digits) that ran the export"),
    ("exportJobId", "the export job id"),
    ("sourceRegion", None),
    ("sourceRoleArn", None),
)


def stage_config_skeleton(
    catalog: Sequence[CatalogEntry],
    stage: str,
    project: str = DEFAULT_PROJECT,
    settings: Optional[Mapping[str, str]] = None,
) -> str:
    """Write a complete, commented ``Pulumi.<stage>.yaml`` that lists every parameter of the template.

    The program's settings come first: those in ``settings`` (what the command line gave) are
    filled in, the required rest (``sourceAccountId``, ``exportJobId``) get ``"<required: ...>"``
    placeholders. Parameter values the stage must set (no Default, or a data source connection
    property) get a ``"<required: ...>"`` placeholder that ``resolve_parameters`` refuses until it
    is replaced. Other parameters are commented out with their source Default.

    The file stays valid YAML whichever single commented line is uncommented: every parameter line
    sits under its own asset, whose key is always present (an asset whose lines are all commented
    is null, which means "nothing set"); prose is written ``## ...``, so that uncommenting it
    leaves a comment. Credentials never get a line of their own: a prose comment shows the
    ``pulumi config set --secret`` command to run instead.

    Args:
        catalog: The template's parameters, as ``build_catalog`` returns them.
        stage: The stack name, e.g. ``prod``.
        project: The Pulumi project name (the config namespace).
        settings: Program settings to write (``sourceAccountId``, ``exportJobId``,
            ``sourceRegion``, ``sourceRoleArn``); missing required ones become placeholders.

    Returns:
        YAML text.
    """
    lines = _skeleton_settings(stage, project, dict(settings or {}))
    top = _skeleton_unmapped(catalog, project)
    assets: list[str] = []
    for asset, entries in iter_assets(catalog):
        assets.extend(_skeleton_asset(asset, entries, project))
    if not assets and not any(_is_active(line) for line in top):
        # `parameters:` must stay a mapping (Pulumi.yaml declares it an object, and a null would not
        # be one): write the first source default as an explicit value.
        for index, line in enumerate(top):
            if _is_parameter_comment(line):
                top[index] = _uncomment(line)
                break
    if not assets and not any(_is_active(line) for line in top):
        lines.append(f"  {project}:parameters: {{}}")
        return "\n".join(lines + top) + "\n"
    lines.append(f"  {project}:parameters:")
    return "\n".join(lines + top + assets) + "\n"


def _skeleton_settings(stage: str, project: str, given: Mapping[str, str]) -> list[str]:
    """The skeleton's prose and the program's settings (given ones filled in, required ones as placeholders)."""
    lines = [
        f"## Pulumi.{stage}.yaml: stage {stage!r} of {project}, generated from the export template's parameters.",
        "## Edit the values, keep the keys. \"<required: ...>\" marks a value to set: it has no source default,",
        "## or it is a data source connection property whose source default would silently point this stage",
        "## at the source's data. A commented-out line shows the source default, which applies while it stays",
        "## commented. Credentials go in with pulumi config set --secret --path (shown below); that command",
        "## stores values such as 0123 or true as numbers or booleans unless given --type string (recent CLIs).",
        "config:",
        "  ## aws:region: the target region (or set it with: pulumi config set aws:region <region>)",
    ]
    for key, placeholder in SKELETON_SETTINGS:
        if given.get(key):
            lines.append(f"  {project}:{key}: {_yaml_text(given[key])}")
        elif placeholder is not None:
            lines.append(f"  {project}:{key}: {_yaml_text(f'{PLACEHOLDER_PREFIX}: {placeholder}>')}")
    lines.append(f"  ## {project}:allowSourceDefaults: true   (reuse source connection values; not recommended)")
    return lines


def _skeleton_unmapped(catalog: Sequence[CatalogEntry], project: str) -> list[str]:
    """The skeleton's lines for parameters set by their raw name: the globals, then the unknown ones."""
    top: list[str] = []
    for entry in catalog:
        if entry.kind == GLOBAL:
            top.extend(_skeleton_entry(entry, entry.name, "    ", project))
    unknown = [entry for entry in catalog if entry.kind == UNKNOWN]
    if unknown:
        top.append("    ## Parameters the catalog could not map to an asset property; set them by their raw name.")
        for entry in unknown:
            top.append(f"    ## {entry.name}: {_comment_text(entry.note or '')}")
            top.extend(_skeleton_entry(entry, entry.name, "    ", project))
    return top


def _skeleton_asset(asset: str, entries: list[CatalogEntry], project: str) -> list[str]:
    lines: list[str] = [f"    {_yaml_key(asset)}:"]
    groups: dict[str, list[CatalogEntry]] = {}
    for entry in entries:
        groups.setdefault((entry.property or entry.name).split(".", 1)[0], []).append(entry)
    for parent, members in groups.items():
        if len(members) == 1 and "." not in (members[0].property or ""):
            lines.extend(_skeleton_entry(members[0], parent, "      ", project))
            continue
        lines.append(f"      {_yaml_key(parent)}:")
        for entry in members:
            lines.extend(_skeleton_entry(entry, (entry.property or "").split(".", 1)[1], "        ", project))
    return lines


def _skeleton_entry(entry: CatalogEntry, key: str, indent: str, project: str) -> list[str]:
    hints = _hints(entry)
    suffix = f"   # {'; '.join(hints)}" if hints else ""
    what = entry.key if entry.kind in (GLOBAL, UNKNOWN) else f"{entry.property} for {entry.asset_key()}"
    if entry.encrypted():
        state = "no source default" if not entry.has_default else "source default not shown"
        return [
            f"{indent}## {key}: credential ({state}); never write it here in plain text, run:",
            f"{indent}##   pulumi config set --secret --path '{config_path(entry, project)}' <value>",
        ]
    if not entry.has_default or entry.connection:
        value = _yaml_text(f"{PLACEHOLDER_PREFIX}: {what}>")
        default = "" if not entry.has_default or entry.sensitive() else f"   # source default: {_yaml_text(entry.default or '')}"
        return [f"{indent}{_yaml_key(key)}: {value}{default}{suffix}"]
    return [f"{indent}# {_yaml_key(key)}: {_yaml_text(entry.default or '')}   # source default{suffix}"]


# What a connection entry is, by kind, in the refusal of a source default (catalog.CatalogEntry.connection).
_SOURCE_CONNECTION = "a data source connection property, so the stage would silently use the source's data"
_CONNECTION_WHAT = {
    "vpc-connection": "a VPC connection connection property, so the stage would silently use the source's data",
    "folder": "a folder's parent folder, a folder of the source account, so the stage would silently file it there",
}


def _is_active(line: str) -> bool:
    return not line.lstrip().startswith("#")


def _is_parameter_comment(line: str) -> bool:
    """A commented-out parameter line (``# Key: value``), not prose (``## ...``)."""
    stripped = line.lstrip()
    return stripped.startswith("# ") and not stripped.startswith("##")


def _uncomment(line: str) -> str:
    indent = len(line) - len(line.lstrip())
    return line[:indent] + line[indent:].removeprefix("# ")


def _hints(entry: CatalogEntry) -> list[str]:
    hints = []
    if entry.type != "String":
        hints.append(f"type {entry.type}")
    if entry.allowed_values is not None:
        hints.append("allowed: " + ", ".join(entry.allowed_values))
    if entry.allowed_pattern is not None:
        hints.append(f"pattern: {entry.allowed_pattern}")
    return [_comment_text(h) for h in hints]


def _yaml_key(key: str) -> str:
    if _PLAIN_KEY.match(key) and key.lower() not in _YAML_WORDS:
        return key
    return _yaml_text(key)


def _yaml_text(text: str) -> str:
    """A double-quoted YAML scalar (JSON string syntax is valid YAML) kept on one line."""
    quoted = json.dumps(text, ensure_ascii=False)
    # JSON leaves these unescaped, but YAML 1.1 readers treat them as line breaks.
    for char in ("\x85", "\u2028", "\u2029", "\ufeff"):
        quoted = quoted.replace(char, f"\\u{ord(char):04x}")
    return quoted


def _comment_text(text: str) -> str:
    return _yaml_text(text)[1:-1] if text else '""'
