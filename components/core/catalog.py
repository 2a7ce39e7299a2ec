"""The parameter catalog: what each parameter of a CLOUDFORMATION_JSON export template overrides.

Pure core: no I/O, no Pulumi, no boto3. Input is the parsed template; output is one
``CatalogEntry`` per template parameter, in a stable order.

QuickSight names a parameter ``<LogicalId><Property>`` (``<LogicalId>ManifestFileLocationBucket``
and ``...Key`` for a data source's manifest) and describes it ``"<Property> for <kind>:<asset id>"``.
The logical id's hash suffix is not documented, so logical ids are read from the template's
``Resources`` and never computed. A parameter is mapped to an asset only when its description and
the resource that uses it agree; anything else is kept with kind ``unknown``, so that it can still
be set by its raw name.

The template is only walked as data: QuickSight calculated fields contain literal ``${Name}``
strings that are not CloudFormation substitutions, so only ``Ref`` and ``Fn::Sub`` count as uses.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Optional

from pydantic import BaseModel, ConfigDict

from ..errors import BundleFormatError
from .template import (
    ASSET_KINDS,
    DATASOURCE,
    PREFIX_PARAMETER,
    REFRESH_SCHEDULE,
    VPC_CONNECTION,
    TemplateResource,
    kind_of,
    parameter_uses,
    quicksight_resources,
    referenced_parameters,
)

IDENTITY_REGION_PARAMETER = "IdentityRegion"
# Created by ResourceIdOverrideConfiguration.PrefixForAllResources and IncludePermissions.
GLOBAL_PARAMETERS: tuple[str, ...] = (PREFIX_PARAMETER, IDENTITY_REGION_PARAMETER)

GLOBAL = "global"
UNKNOWN = "unknown"
KINDS: tuple[str, ...] = (GLOBAL, *ASSET_KINDS, UNKNOWN)

# Kind tokens of generated descriptions ("Name for vpcConnection:<id>") and of ARNs, by their
# lower-cased, hyphen-less spelling.
_KIND_TOKENS: dict[str, str] = {kind.replace("-", "").lower(): kind for kind in ASSET_KINDS}

# Properties QuickSight exports as two parameters (``<LogicalId>ManifestFileLocationBucket``/``Key``).
SPLIT_PROPERTIES: dict[str, str] = {
    "ManifestFileLocationBucket": "ManifestFileLocation.Bucket",
    "ManifestFileLocationKey": "ManifestFileLocation.Key",
}

# Data source properties that hold credentials. QuickSight never exports a password, so Password
# (and often Username) has no Default; SecretArn names a Secrets Manager secret of the source account.
CREDENTIAL_PROPERTIES: frozenset[str] = frozenset({"Password", "Username", "SecretArn"})
# The credentials that are secrets, marked NoEcho in the deployed template and set encrypted. A
# SecretArn names a Secrets Manager secret and is none: a stage may write it in plain text, and
# CloudFormation shows it (it is still hidden in reports and kept secret in Pulumi state).
NO_ECHO_PROPERTIES: frozenset[str] = frozenset({"Password", "Username"})

# Data source properties that say where and how the data is reached. Their Default is the source
# account's value, so a stage that forgets one silently reads dev's data (or dev's secret, role or
# bucket), which may even work because of cross-account trust. They must be set per stage unless
# the user opts in to reusing source defaults. DisableSsl is included because reusing dev's
# "SSL off" in prod silently weakens the connection. Name (a display name) and ProductType (the
# product flavour, e.g. Starburst Galaxy vs Enterprise, the same in every stage) are not.
CONNECTION_PROPERTIES: frozenset[str] = frozenset(
    {
        "Host",
        "Port",
        "Database",
        "WorkGroup",
        "Catalog",
        "Warehouse",
        "InstanceId",
        "ClusterId",
        "ManifestFileLocation.Bucket",
        "ManifestFileLocation.Key",
        "RoleArn",
        "SecretArn",
        "Domain",
        "DataSetName",
        "Username",
        "Password",
        "DisableSsl",
    }
)

# Properties of other kinds that name a place in the source account, set per stage like connection
# properties: a folder's parent folder (an ARN of the source account's folder).
PER_STAGE_PROPERTIES: dict[str, frozenset[str]] = {"folder": frozenset({"ParentFolderArn"})}

# A VPC connection's network placement and role are the source account's: a stage must set them
# (QuickSight exports SubnetIds/SecurityGroupIds as one parameter per item, SubnetId0, SubnetId1...).
_VPC_CONNECTION_PROPERTY = re.compile(r"^(RoleArn|SubnetIds|SecurityGroupIds|SubnetId\d+|SecurityGroupId\d+)$")

_DESCRIPTION = re.compile(r"^\s*(?P<property>[A-Za-z][\w.]*)\s+for\s+(?P<kind>[A-Za-z][\w-]*):(?P<id>\S+)\s*$")


class CatalogEntry(BaseModel):
    """One parameter of the export template and what it overrides.

    Attributes:
        name: The CloudFormation parameter name, e.g. ``826ec13904c94a4fa09dCB5442Host``.
        kind: ``global``, an asset kind (``datasource``, ``dataset``, ``analysis``, ``dashboard``,
            ``theme``, ``folder``, ``vpc-connection``, ``refresh-schedule``) or ``unknown``.
        asset_id: The asset id without the id prefix (``<data set id>/<schedule id>`` for a refresh
            schedule); None for globals and unknown parameters.
        logical_id: The logical id of the resource the parameter belongs to, read from the template.
        property: The overridden property (``Host``, ``ManifestFileLocation.Bucket``, ...); the
            parameter name for globals; None for unknown parameters.
        key: The friendly key ``<kind>/<asset id>.<Property>``; the name for globals and unknown ones.
        type: The CloudFormation parameter type (``String``, ``Number``, ``CommaDelimitedList``, ...).
        default: The Default as CloudFormation reads it (a string), None when there is none.
        has_default: Whether the parameter has a Default (an empty string counts).
        allowed_values: AllowedValues as strings.
        allowed_pattern: AllowedPattern; CloudFormation requires the whole value to match.
        min_value: MinValue (Number parameters).
        max_value: MaxValue (Number parameters).
        min_length: MinLength (String parameters).
        max_length: MaxLength (String parameters).
        constraint_description: ConstraintDescription, shown when a constraint fails.
        credential: A data source's Password, Username or SecretArn: treat its value as secret.
        connection: A data source property saying where or how data is reached (see
            ``CONNECTION_PROPERTIES``), a VPC connection's placement, or a folder's parent folder
            (``PER_STAGE_PROPERTIES``): its source default must not be reused silently.
        description: The parameter's Description.
        no_echo: NoEcho is set: CloudFormation masks the value.
        note: Why the parameter is ``unknown``; None otherwise.
    """

    model_config = ConfigDict(frozen=True)

    name: str
    kind: str
    asset_id: Optional[str] = None
    logical_id: Optional[str] = None
    property: Optional[str] = None
    key: str
    type: str = "String"
    default: Optional[str] = None
    has_default: bool = False
    allowed_values: Optional[list[str]] = None
    allowed_pattern: Optional[str] = None
    min_value: Optional[float] = None
    max_value: Optional[float] = None
    min_length: Optional[int] = None
    max_length: Optional[int] = None
    constraint_description: Optional[str] = None
    credential: bool = False
    connection: bool = False
    description: Optional[str] = None
    no_echo: bool = False
    note: Optional[str] = None

    def asset_key(self) -> Optional[str]:
        """``<kind>/<asset id>`` for an asset's parameter, None for globals and unknown ones."""
        if self.asset_id is None or self.kind in (GLOBAL, UNKNOWN):
            return None
        return f"{self.kind}/{self.asset_id}"

    def sensitive(self) -> bool:
        """Whether the value must never be shown (a credential, or a NoEcho parameter)."""
        return self.credential or self.no_echo

    def encrypted(self) -> bool:
        """Whether a stage sets the value encrypted (``pulumi config set --secret``): a secret, not a SecretArn."""
        return self.no_echo or (self.credential and self.property in NO_ECHO_PROPERTIES)


def to_parameter_string(value: Any) -> str:
    """Render a scalar the way CloudFormation receives a parameter value: the one rule for every caller.

    Booleans become ``true``/``false``; a float with an integral value is written as the integer
    it is (YAML and the Pulumi engine turn ``5432`` into ``5432.0``, and ``100000000000000000000``
    into ``1e+20``: CloudFormation gets ``5432`` and ``100000000000000000000``); other numbers and
    strings are kept as written.

    Raises:
        TypeError: the value is not a string, number or boolean.
        ValueError: the value is a non-finite float (CloudFormation has no such number).
    """
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"{value!r} is not a finite number")
        return str(int(value)) if value.is_integer() else repr(value)
    if isinstance(value, str):
        return value
    raise TypeError(f"expected a string, number or boolean, got {type(value).__name__}")


@dataclass(frozen=True)
class _Description:
    """A parsed generated description ``"<Property> for <kind>:<asset id>"``."""

    property: str
    kind: str
    asset_id: str


def build_catalog(template: Mapping[str, Any]) -> list[CatalogEntry]:
    """Map every parameter of an export template to the asset property it overrides.

    Args:
        template: The parsed CLOUDFORMATION_JSON template.

    Returns:
        One entry per parameter: globals first, then assets by kind, asset id and property,
        then unknown parameters by name.

    Raises:
        BundleFormatError: ``Parameters`` or ``Resources`` (or a parameter) is not a JSON object.
    """
    parameters = _section(template, "Parameters")
    assets = _assets(_section(template, "Resources"))
    users: dict[str, list[TemplateResource]] = {}
    for asset in assets:
        for name in referenced_parameters(asset.properties):
            users.setdefault(name, []).append(asset)
    placed = _placements(assets)
    entries = []
    for name, spec in parameters.items():
        if not isinstance(spec, Mapping):
            raise BundleFormatError(
                f"template parameter {name!r} is a JSON {type(spec).__name__}, not an object: "
                "the template is not a QuickSight export as produced; re-export the bundle"
            )
        entries.append(_entry(str(name), spec, users.get(name, []), placed.get(str(name))))
    return sorted(entries, key=_order)


def connection_sites(kind: str, properties: Mapping[str, Any]) -> Iterator[tuple[str, Any]]:
    """The connection properties a data source or VPC connection sets, as (property, value).

    Data sources: ``DataSourceParameters.<Type>Parameters.<P>`` and its alternates for each ``P`` of
    ``CONNECTION_PROPERTIES`` (``ManifestFileLocation.Bucket``/``Key`` for S3), ``Credentials.SecretArn``,
    ``Credentials.CredentialPair.Username``/``Password``, ``SslProperties.DisableSsl`` and
    ``VpcConnectionProperties.VpcConnectionArn``. VPC connections: ``RoleArn`` and each item of
    ``SubnetIds`` and ``SecurityGroupIds``. Other kinds have none.
    """
    if kind == VPC_CONNECTION:
        if "RoleArn" in properties:
            yield "RoleArn", properties["RoleArn"]
        for key in ("SubnetIds", "SecurityGroupIds"):
            items = properties.get(key)
            if isinstance(items, list):
                for item in items:
                    yield key, item
        return
    if kind != DATASOURCE:
        return
    groups = [properties.get("DataSourceParameters")]
    alternates = properties.get("AlternateDataSourceParameters")
    if isinstance(alternates, list):
        groups.extend(alternates)
    for group in groups:
        if not isinstance(group, Mapping):
            continue
        for typed in group.values():
            if not isinstance(typed, Mapping):
                continue
            for key, value in typed.items():
                if key in CONNECTION_PROPERTIES:
                    yield key, value
                elif isinstance(value, Mapping) and key in ("ManifestFileLocation",):
                    for part in ("Bucket", "Key"):
                        if part in value:
                            yield f"{key}.{part}", value[part]
    credentials = properties.get("Credentials")
    if isinstance(credentials, Mapping):
        if "SecretArn" in credentials:
            yield "SecretArn", credentials["SecretArn"]
        pair = credentials.get("CredentialPair")
        if isinstance(pair, Mapping):
            for key in ("Username", "Password"):
                if key in pair:
                    yield key, pair[key]
    ssl = properties.get("SslProperties")
    if isinstance(ssl, Mapping) and "DisableSsl" in ssl:
        yield "DisableSsl", ssl["DisableSsl"]
    vpc = properties.get("VpcConnectionProperties")
    if isinstance(vpc, Mapping) and "VpcConnectionArn" in vpc:
        yield "VpcConnectionArn", vpc["VpcConnectionArn"]


def _placements(assets: list[TemplateResource]) -> dict[str, tuple[TemplateResource, str]]:
    """Parameters used at exactly one connection property of one asset, and nowhere else."""
    uses: dict[str, int] = {}
    for asset in assets:
        for name, count in parameter_uses(asset.properties).items():
            uses[name] = uses.get(name, 0) + count
    sites: dict[str, list[tuple[TemplateResource, str]]] = {}
    for asset in assets:
        if asset.asset_id is None or asset.properties is None:
            continue
        for prop, value in connection_sites(asset.kind, asset.properties):
            for name, count in parameter_uses(value).items():
                sites.setdefault(name, []).extend([(asset, prop)] * count)
    return {name: found[0] for name, found in sites.items() if len(found) == 1 and uses.get(name) == 1}


def summarize_resources(template: Mapping[str, Any]) -> dict[str, list[str]]:
    """List the template's assets by kind, for display.

    Args:
        template: The parsed CLOUDFORMATION_JSON template.

    Returns:
        Kind -> sorted asset ids (a logical id where the id cannot be read), in catalog kind order;
        resources of other types are listed by logical id under ``"other"``. Empty kinds are left out.

    Raises:
        BundleFormatError: ``Resources`` is not a JSON object.
    """
    resources = _section(template, "Resources")
    found: dict[str, list[str]] = {}
    for asset in quicksight_resources(resources):
        found.setdefault(asset.kind, []).append(asset.asset_id or asset.logical_id)
    others = [str(logical_id) for logical_id, resource in resources.items() if kind_of(resource) is None]
    if others:
        found["other"] = others
    order = [*ASSET_KINDS, "other"]
    return {kind: sorted(found[kind]) for kind in order if kind in found}


def kind_from_token(token: str) -> Optional[str]:
    """The catalog kind for a description or ARN kind token (``vpcConnection`` -> ``vpc-connection``)."""
    return _KIND_TOKENS.get(token.replace("-", "").lower())


def iter_assets(catalog: Sequence[CatalogEntry]) -> Iterator[tuple[str, list[CatalogEntry]]]:
    """Group a catalog's asset entries by ``<kind>/<asset id>``, in catalog order.

    Args:
        catalog: Entries as ``build_catalog`` returns them.

    Returns:
        An iterator of (asset key, entries of that asset); globals and unknown entries are skipped.
    """
    groups: dict[str, list[CatalogEntry]] = {}
    for entry in catalog:
        key = entry.asset_key()
        if key is not None:
            groups.setdefault(key, []).append(entry)
    return iter(groups.items())


def _section(template: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    if not isinstance(template, Mapping):
        raise BundleFormatError(
            f"the template is a {type(template).__name__}, not a JSON object: parse the export file first"
        )
    section = template.get(name)
    if section is None:
        return {}
    if not isinstance(section, Mapping):
        raise BundleFormatError(
            f"the template's {name!r} is a JSON {type(section).__name__}, not an object: "
            "the file is not a QuickSight export as produced; re-export the bundle"
        )
    return section


def _assets(resources: Mapping[str, Any]) -> list[TemplateResource]:
    """The QuickSight resources that have Properties (the others hold no parameter)."""
    return [resource for resource in quicksight_resources(resources) if resource.properties is not None]


def _parse_description(text: Any) -> Optional[_Description]:
    if not isinstance(text, str):
        return None
    match = _DESCRIPTION.match(text)
    if match is None:
        return None
    kind = _KIND_TOKENS.get(match.group("kind").replace("-", "").lower())
    if kind is None:
        return None
    return _Description(match.group("property"), kind, match.group("id"))


def _property_of(name: str, asset: TemplateResource) -> Optional[str]:
    """The property a parameter overrides: its name minus the resource's logical id."""
    if not name.startswith(asset.logical_id) or len(name) == len(asset.logical_id):
        return None
    suffix = name[len(asset.logical_id) :]
    return SPLIT_PROPERTIES.get(suffix, suffix)


def _description_agrees(description: _Description, asset: TemplateResource, prop: str) -> bool:
    if description.kind != asset.kind or asset.asset_id is None:
        return False
    if asset.kind == REFRESH_SCHEDULE:
        # The description's id form for a schedule is not observed yet: accept the data set id,
        # the schedule id, or both joined by "/".
        ids = {asset.asset_id, *asset.asset_id.split("/", 1)}
    else:
        ids = {asset.asset_id}
    if description.asset_id not in ids:
        return False
    said = re.sub(r"[^A-Za-z0-9]", "", description.property)
    # "ManifestFileLocation for datasource:<id>" may describe both halves of the split property.
    return said == prop.replace(".", "") or said == prop.split(".", 1)[0]


def _entry(
    name: str, spec: Mapping[str, Any], users: list[TemplateResource], placed: Optional[tuple[TemplateResource, str]] = None
) -> CatalogEntry:
    common = _constraints(name, spec)
    if name in GLOBAL_PARAMETERS:
        return CatalogEntry(name=name, kind=GLOBAL, property=name, key=name, **common)
    description = _parse_description(spec.get("Description"))
    candidates = [(asset, prop) for asset in users if (prop := _property_of(name, asset)) is not None]
    readable = [(asset, prop) for asset, prop in candidates if asset.asset_id is not None]
    note: Optional[str]
    if description is not None:
        agreeing = [(a, p) for a, p in readable if _description_agrees(description, a, p)]
        if len(agreeing) == 1:
            return _asset_entry(name, *agreeing[0], common)
        said = f"{description.kind}:{description.asset_id}"
        if not users:
            note = f"its description names {said} but no resource uses it"
        elif not readable:
            note = f"its description names {said} but no resource using it has a readable id matching its name"
        else:
            seen = ", ".join(sorted(f"{a.kind}:{a.asset_id} ({a.logical_id}, {p})" for a, p in readable))
            note = f"its description names {said} but the resources using it say {seen}"
    elif len(readable) == 1:
        return _asset_entry(name, *readable[0], common)
    elif placed is not None:
        # A hand-written parameter (free-text description, any name) used at exactly one connection
        # property of one asset is that property: it must be set per stage like the generated ones.
        return _asset_entry(name, *placed, common)
    elif not users:
        note = "no generated description and no resource uses it"
    else:
        note = "no generated description, and the resources using it do not identify one asset property"
    return CatalogEntry(name=name, kind=UNKNOWN, key=name, note=note, **common)


def _asset_entry(name: str, asset: TemplateResource, prop: str, common: dict[str, Any]) -> CatalogEntry:
    is_source = asset.kind == DATASOURCE
    connection = (
        (is_source and prop in CONNECTION_PROPERTIES)
        or (asset.kind == VPC_CONNECTION and _VPC_CONNECTION_PROPERTY.match(prop) is not None)
        or prop in PER_STAGE_PROPERTIES.get(asset.kind, frozenset())
    )
    return CatalogEntry(
        name=name,
        kind=asset.kind,
        asset_id=asset.asset_id,
        logical_id=asset.logical_id,
        property=prop,
        key=f"{asset.kind}/{asset.asset_id}.{prop}",
        credential=is_source and prop in CREDENTIAL_PROPERTIES,
        connection=connection,
        **common,
    )


def _constraints(name: str, spec: Mapping[str, Any]) -> dict[str, Any]:
    """The declared type, Default and constraints of a parameter, as CloudFormation reads them."""
    try:
        allowed = spec.get("AllowedValues")
        has_default = "Default" in spec and spec["Default"] is not None
        return {
            "type": str(spec.get("Type", "String")),
            "default": _default_string(spec["Default"]) if has_default else None,
            "has_default": has_default,
            "allowed_values": [to_parameter_string(v) for v in allowed] if isinstance(allowed, list) else None,
            "allowed_pattern": _optional_str(spec.get("AllowedPattern")),
            "min_value": _optional_number(spec.get("MinValue")),
            "max_value": _optional_number(spec.get("MaxValue")),
            "min_length": _optional_int(spec.get("MinLength")),
            "max_length": _optional_int(spec.get("MaxLength")),
            "constraint_description": _optional_str(spec.get("ConstraintDescription")),
            "description": _optional_str(spec.get("Description")),
            "no_echo": str(spec.get("NoEcho", "false")).lower() == "true",
        }
    except (TypeError, ValueError) as exc:
        raise BundleFormatError(
            f"template parameter {name!r} has a malformed declaration ({exc}): "
            "the template is not a QuickSight export as produced; re-export the bundle"
        ) from exc


def _default_string(value: Any) -> str:
    # A CommaDelimitedList Default may be written as a JSON list by hand-edited templates.
    if isinstance(value, list):
        return ",".join(to_parameter_string(v) for v in value)
    return to_parameter_string(value)


def _optional_str(value: Any) -> Optional[str]:
    return None if value is None else str(value)


def _optional_number(value: Any) -> Optional[float]:
    return None if value is None else float(value)


def _optional_int(value: Any) -> Optional[int]:
    return None if value is None else int(value)


def _order(entry: CatalogEntry) -> tuple[Any, ...]:
    if entry.kind == GLOBAL:
        return (0, GLOBAL_PARAMETERS.index(entry.name), "", "", entry.name)
    if entry.kind == UNKNOWN:
        return (2, 0, "", "", entry.name)
    return (1, ASSET_KINDS.index(entry.kind), entry.asset_id or "", entry.property or "", entry.name)
