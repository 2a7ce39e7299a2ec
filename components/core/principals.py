"""Permission principals: the export's source-account users made template parameters, set per stage.

Pure core: no I/O, no Pulumi, no boto3.

An export made with ``IncludePermissions`` grants its assets to the *source* account's users
(``arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:user/default/Admin/<dev user>``).
Deployed unchanged in test or prod, the stack fails, or grants nobody, unless a user of that very
name exists there. ``principalize`` turns every distinct source principal into a template parameter
``Principal<hash10>`` (``hash10``: the first 10 hex digits of the sha256 of the source principal as
``inspect`` lists it) and writes ``{"Ref": "Principal<hash10>"}`` where the principal was, keeping
each entry's actions. The transform is a function of the template only, so every stage deploys the
same bytes; each stage then gives each parameter a value (``resolve_principals``).

One permission entry names one principal, and a stage cannot change how many entries the template
has without changing its bytes, so a source principal maps to exactly one target principal per
stage. Several users are granted through a QuickSight group holding them (the target is the group).

An export without any permissions, deployed by a stage that sets ``grant``, gets two grant slots
instead: the parameters ``GrantOwnerPrincipal`` and ``GrantViewerPrincipal`` (Default ``""``, empty
means unused) and, on every asset that takes permissions, entries for them under ``Fn::If``
conditions, with the owner or viewer actions of that resource type. Unused slots leave the asset's
``Permissions`` out, as exported. Whether a stage grants is part of the template (to whom is not):
set ``grant`` in every stage of a promotion, or in none.

Principals that already name a template parameter (hand-edited exports: ``user/default/${AdminUser}``,
``{"Ref": "QuickUserArn"}``) are kept: the stage sets that parameter through ``parameters``. A
namespace principal written with ``${AWS::AccountId}`` (dashboard link sharing) means the same in
every account and is kept as well.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Optional

from ..errors import BundleFormatError, PrincipalError, clean, listing
from .catalog import IDENTITY_REGION_PARAMETER
from .template import TemplateResource, quicksight_resources, referenced_parameters, section, sub_text

PRINCIPAL_PARAMETER_PREFIX = "Principal"
GRANT_OWNER_PARAMETER = "GrantOwnerPrincipal"
GRANT_VIEWER_PARAMETER = "GrantViewerPrincipal"
GRANT_ROLES: tuple[str, ...] = ("owner", "viewer")
_GRANT_PARAMETERS = {"owner": GRANT_OWNER_PARAMETER, "viewer": GRANT_VIEWER_PARAMETER}
_GRANT_CONDITIONS = {"owner": "QuickSightPromotionGrantOwner", "viewer": "QuickSightPromotionGrantViewer"}
_GRANT_ANY_CONDITION = "QuickSightPromotionGrantAny"

# The actions QuickSight itself writes for an owner (as in real exports and the console's
# "Owner"/"Co-owner" share) and for a viewer (the console's "Viewer" share), per resource type.
# AWS::QuickSight::VPCConnection and RefreshSchedule take no Permissions.
OWNER_ACTIONS: dict[str, tuple[str, ...]] = {
    "datasource": (
        "quicksight:DeleteDataSource",
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
        "quicksight:UpdateDataSource",
        "quicksight:UpdateDataSourcePermissions",
    ),
    "dataset": (
        "quicksight:CancelIngestion",
        "quicksight:CreateIngestion",
        "quicksight:CreateRefreshSchedule",
        "quicksight:DeleteDataSet",
        "quicksight:DeleteDataSetRefreshProperties",
        "quicksight:DeleteRefreshSchedule",
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:DescribeDataSetRefreshProperties",
        "quicksight:DescribeIngestion",
        "quicksight:DescribeRefreshSchedule",
        "quicksight:ListIngestions",
        "quicksight:ListRefreshSchedules",
        "quicksight:PassDataSet",
        "quicksight:PutDataSetRefreshProperties",
        "quicksight:UpdateDataSet",
        "quicksight:UpdateDataSetPermissions",
        "quicksight:UpdateRefreshSchedule",
    ),
    "analysis": (
        "quicksight:DeleteAnalysis",
        "quicksight:DescribeAnalysis",
        "quicksight:DescribeAnalysisPermissions",
        "quicksight:QueryAnalysis",
        "quicksight:RestoreAnalysis",
        "quicksight:UpdateAnalysis",
        "quicksight:UpdateAnalysisPermissions",
    ),
    "dashboard": (
        "quicksight:DeleteDashboard",
        "quicksight:DescribeDashboard",
        "quicksight:DescribeDashboardPermissions",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
        "quicksight:UpdateDashboard",
        "quicksight:UpdateDashboardPermissions",
        "quicksight:UpdateDashboardPublishedVersion",
    ),
    "theme": (
        "quicksight:CreateThemeAlias",
        "quicksight:DeleteTheme",
        "quicksight:DeleteThemeAlias",
        "quicksight:DescribeTheme",
        "quicksight:DescribeThemeAlias",
        "quicksight:DescribeThemePermissions",
        "quicksight:ListThemeAliases",
        "quicksight:ListThemeVersions",
        "quicksight:UpdateTheme",
        "quicksight:UpdateThemeAlias",
        "quicksight:UpdateThemePermissions",
    ),
    "folder": (
        "quicksight:CreateFolder",
        "quicksight:CreateFolderMembership",
        "quicksight:DeleteFolder",
        "quicksight:DeleteFolderMembership",
        "quicksight:DescribeFolder",
        "quicksight:DescribeFolderPermissions",
        "quicksight:UpdateFolder",
        "quicksight:UpdateFolderPermissions",
    ),
}
VIEWER_ACTIONS: dict[str, tuple[str, ...]] = {
    "datasource": (
        "quicksight:DescribeDataSource",
        "quicksight:DescribeDataSourcePermissions",
        "quicksight:PassDataSource",
    ),
    "dataset": (
        "quicksight:DescribeDataSet",
        "quicksight:DescribeDataSetPermissions",
        "quicksight:DescribeIngestion",
        "quicksight:ListIngestions",
        "quicksight:PassDataSet",
    ),
    "analysis": (
        "quicksight:DescribeAnalysis",
        "quicksight:DescribeAnalysisPermissions",
        "quicksight:QueryAnalysis",
    ),
    "dashboard": (
        "quicksight:DescribeDashboard",
        "quicksight:ListDashboardVersions",
        "quicksight:QueryDashboard",
    ),
    "theme": (
        "quicksight:DescribeTheme",
        "quicksight:DescribeThemeAlias",
        "quicksight:ListThemeAliases",
        "quicksight:ListThemeVersions",
    ),
    "folder": ("quicksight:DescribeFolder",),
}
PERMISSION_KINDS: tuple[str, ...] = tuple(OWNER_ACTIONS)

# What a target principal may be: an ARN (QuickSight user, group or namespace, or an account root
# for cross-account sharing), or the QuickSight resource part with its namespace spelt out
# (user names such as "Admin/jane" contain "/", so "user/Admin/jane" would be ambiguous).
_TARGET_ARN = re.compile(r"^arn:[a-z][a-z0-9-]*:(quicksight|iam):[a-z0-9-]*:(\d{12})?:\S.*$")
_TARGET_NAME = re.compile(r"^(user|group)/[A-Za-z0-9._-]+/\S.*$|^namespace/[A-Za-z0-9._-]+$")
_NAMESPACE_PRINCIPAL = re.compile(r":namespace/[A-Za-z0-9._-]+$")
# Target ARNs end up in a CloudFormation parameter whose AllowedPattern refuses anything else.
_PARAMETER_PATTERN = r"^arn:\S.*$"
# What the stage skeleton writes for a target still to choose (refused until it is replaced).
PLACEHOLDER = "<required"


@dataclass(frozen=True)
class SourcePrincipal:
    """One distinct principal of the export's permissions.

    Attributes:
        text: The principal as written, in one line: the ``Fn::Sub`` string, a plain ARN, ``${Name}``
            for a ``Ref``, or compact JSON for other forms. Stages map it by this text.
        parameter: The template parameter it becomes (``Principal<hash10>``); None when kept.
        assets: ``<kind>/<asset id>`` (or the logical id) of each asset granting it, sorted.
        kept_because: Why it is not turned into a parameter (it names template parameters, or it is
            an account-relative namespace); None when it is.
        named_parameters: The template parameters a kept principal names (set per stage).
    """

    text: str
    parameter: Optional[str]
    assets: tuple[str, ...]
    kept_because: Optional[str] = None
    named_parameters: tuple[str, ...] = ()

    @property
    def short(self) -> str:
        """The part after the ARN's last ``:`` (``user/default/Admin/jane``), also accepted as a key."""
        return self.text.rsplit(":", 1)[-1]


@dataclass(frozen=True)
class PrincipalTransform:
    """The template with its principals as parameters.

    Attributes:
        document: The transformed template (a copy unless ``principalize`` was asked to work in place).
        principals: Every distinct source principal, sorted by text.
        grant_slots: Whether the grant parameters were added (the export has no permissions).
        parameters: Names of the parameters added, sorted.
    """

    document: dict[str, Any]
    principals: tuple[SourcePrincipal, ...]
    grant_slots: bool
    parameters: tuple[str, ...] = field(default=())

    def mapped(self) -> tuple[SourcePrincipal, ...]:
        """The source principals a stage must map (those turned into parameters)."""
        return tuple(p for p in self.principals if p.parameter is not None)


def principal_parameter(text: str) -> str:
    """The parameter name of a source principal: ``Principal`` + 10 hex digits of its sha256."""
    return PRINCIPAL_PARAMETER_PREFIX + hashlib.sha256(text.encode("utf-8")).hexdigest()[:10]


def principal_text(value: Any) -> str:
    """A principal expression as one line of text (see ``SourcePrincipal.text``)."""
    if isinstance(value, str):
        return value
    text = sub_text(value)
    if text is not None:
        return text
    if isinstance(value, Mapping) and len(value) == 1 and isinstance(value.get("Ref"), str):
        return "${" + value["Ref"] + "}"
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


@dataclass
class _Site:
    """Where principals sit in one resource: (container, key) pairs whose value is a principal."""

    asset: str
    kind: str
    slots: list[tuple[Any, Any]]
    has_permissions: bool


def _sites(resources: Mapping[str, Any]) -> list[_Site]:
    return [_site(resource) for resource in quicksight_resources(resources) if resource.properties is not None]


def _site(resource: TemplateResource) -> _Site:
    """Where one resource names principals: its (and its link sharing's) Permissions, its column-level rules."""
    properties = resource.properties or {}
    site = _Site(resource.label, resource.kind, [], False)
    lists = [properties.get("Permissions")]
    sharing = properties.get("LinkSharingConfiguration")
    if isinstance(sharing, Mapping):
        lists.append(sharing.get("Permissions"))
    for entries in lists:
        if isinstance(entries, list):
            site.has_permissions = site.has_permissions or bool(entries)
            site.slots.extend((e, "Principal") for e in entries if isinstance(e, Mapping) and "Principal" in e)
    # Column-level security names principals too (data sets).
    rules = properties.get("ColumnLevelPermissionRules")
    if isinstance(rules, list):
        for rule in rules:
            principals = rule.get("Principals") if isinstance(rule, Mapping) else None
            if isinstance(principals, list):
                site.slots.extend((principals, i) for i in range(len(principals)))
    return site


def _named(value: Any, parameters: Mapping[str, Any]) -> tuple[str, ...]:
    return tuple(sorted(n for n in referenced_parameters(value) if n != IDENTITY_REGION_PARAMETER and n in parameters))


def _kept_because(value: Any, text: str, parameters: Mapping[str, Any]) -> Optional[str]:
    named = _named(value, parameters)
    if named:
        return f"it names the template parameter(s) {', '.join(named)}: set them through parameters"
    if _NAMESPACE_PRINCIPAL.search(text) and "${AWS::AccountId}" in text:
        return "a namespace of the deploying account: the same in every stage"
    return None


def find_principals(template: Mapping[str, Any]) -> tuple[SourcePrincipal, ...]:
    """Every distinct permission principal of a template, with the assets granting it.

    Args:
        template: The parsed CLOUDFORMATION_JSON template (only read).

    Returns:
        The source principals sorted by text.
    """
    return _collect(_sites(section(template, "Resources")), section(template, "Parameters"))


def _collect(sites: list[_Site], declared: Mapping[str, Any]) -> tuple[SourcePrincipal, ...]:
    holders: dict[str, set[str]] = {}
    values: dict[str, Any] = {}
    for site in sites:
        for container, key in site.slots:
            text = principal_text(container[key])
            holders.setdefault(text, set()).add(site.asset)
            values.setdefault(text, container[key])
    principals = []
    for text in sorted(holders):
        kept = _kept_because(values[text], text, declared)
        principals.append(
            SourcePrincipal(
                text,
                None if kept else principal_parameter(text),
                tuple(sorted(holders[text])),
                kept,
                _named(values[text], declared) if kept else (),
            )
        )
    return tuple(principals)


def principalize(template: Mapping[str, Any], in_place: bool = False, grant: bool = False) -> PrincipalTransform:
    """Turn each source principal into a parameter; add grant slots to an export without permissions.

    Args:
        template: The parsed CLOUDFORMATION_JSON template.
        in_place: Change ``template`` itself (a dict) instead of a copy (saves a copy of a large template).
        grant: The stage uses ``grant``: add the grant slots when the export has no permissions.
            Only whether a stage grants shapes the template, never to whom, so stages that all set
            ``grant`` deploy the same bytes.

    Returns:
        The transformed copy, its source principals and the parameters added.

    Raises:
        BundleFormatError: a parameter or condition name the transform needs is already taken by the
            template.
    """
    document: dict[str, Any] = template if in_place and isinstance(template, dict) else copy.deepcopy(dict(template))
    resources = section(document, "Resources")
    declared = section(document, "Parameters")
    sites = _sites(resources)
    principals = _collect(sites, declared)
    added = _parameterize(sites, principals)
    grant = grant and any(site.kind in OWNER_ACTIONS for site in sites) and not any(s.has_permissions for s in sites)
    if grant:
        added.update(_grant_parameters())
    clash = sorted(name for name in added if name in declared)
    if clash:
        raise BundleFormatError(
            f"the template already declares parameter(s) {listing(clash, sep=', ')}, which the permission "
            "transform adds: the template is not a QuickSight export as produced; re-export the bundle"
        )
    if added:
        document["Parameters"] = {**declared, **dict(sorted(added.items()))}
    if grant:
        _add_grant_slots(document, resources)
    return PrincipalTransform(document, principals, grant, tuple(sorted(added)))


def _parameterize(sites: list[_Site], principals: Sequence[SourcePrincipal]) -> dict[str, dict[str, Any]]:
    """Write ``{"Ref": <its parameter>}`` where each mapped principal was; the parameters to declare."""
    added: dict[str, dict[str, Any]] = {}
    by_text = {p.text: p for p in principals}
    for site in sites:
        for container, key in site.slots:
            principal = by_text[principal_text(container[key])]
            if principal.parameter is None:
                continue
            container[key] = {"Ref": principal.parameter}
            added[principal.parameter] = {
                "Type": "String",
                # "${" in a Description reads as a substitution to cfn-lint (E1029): written "{" here.
                "Description": clean(
                    f"Target principal (QuickSight user or group ARN) for {principal.text.replace('${', '{')}", 4000
                ),
                "AllowedPattern": _PARAMETER_PATTERN,
                "ConstraintDescription": "must be the ARN of a QuickSight user or group of the target account",
            }
    return added


def _grant_parameters() -> dict[str, dict[str, Any]]:
    """The grant slots' parameters: one per role, empty (unused) by default."""
    return {
        _GRANT_PARAMETERS[role]: {
            "Type": "String",
            "Default": "",
            "Description": f"A QuickSight user or group ARN made {role} of every asset (empty: none)",
        }
        for role in GRANT_ROLES
    }


def _add_grant_slots(document: dict[str, Any], resources: Mapping[str, Any]) -> None:
    conditions = document.get("Conditions")
    if conditions is None:
        conditions = {}
    if not isinstance(conditions, Mapping) or any(n in conditions for n in (*_GRANT_CONDITIONS.values(), _GRANT_ANY_CONDITION)):
        raise BundleFormatError(
            "the template's Conditions clash with the grant slots the permission transform adds: the template is "
            "not a QuickSight export as produced; re-export the bundle"
        )
    conditions = dict(conditions)
    for role in GRANT_ROLES:
        conditions[_GRANT_CONDITIONS[role]] = {"Fn::Not": [{"Fn::Equals": [{"Ref": _GRANT_PARAMETERS[role]}, ""]}]}
    conditions[_GRANT_ANY_CONDITION] = {"Fn::Or": [{"Condition": _GRANT_CONDITIONS[r]} for r in GRANT_ROLES]}
    document["Conditions"] = conditions
    for resource in quicksight_resources(resources):
        if resource.kind not in OWNER_ACTIONS or not isinstance(resource.properties, dict):
            continue
        entries = []
        for role, actions in (("owner", OWNER_ACTIONS[resource.kind]), ("viewer", VIEWER_ACTIONS[resource.kind])):
            entry = {"Principal": {"Ref": _GRANT_PARAMETERS[role]}, "Actions": list(actions)}
            entries.append({"Fn::If": [_GRANT_CONDITIONS[role], entry, {"Ref": "AWS::NoValue"}]})
        # Permissions takes 1-64 entries: with no grant at all the property is left out, as exported.
        resource.properties["Permissions"] = {"Fn::If": [_GRANT_ANY_CONDITION, entries, {"Ref": "AWS::NoValue"}]}


@dataclass(frozen=True)
class PrincipalContext:
    """Where target principals given by name live: the target account and its identity region.

    Attributes:
        partition: ``aws``, ``aws-cn``, ``aws-us-gov``...
        account_id: The target account (12 digits).
        identity_region: The target's QuickSight identity region (the stage's ``IdentityRegion``).
    """

    partition: str
    account_id: str
    identity_region: str


def target_arn(target: str, context: PrincipalContext) -> str:
    """A target principal as an ARN: an ARN as given, ``user|group/<namespace>/<name>`` in the target account.

    Raises:
        ValueError: the target is neither form.
    """
    if _TARGET_ARN.match(target):
        return target
    if _TARGET_NAME.match(target):
        return f"arn:{context.partition}:quicksight:{context.identity_region}:{context.account_id}:{target}"
    raise ValueError(
        "a target principal is a QuickSight ARN (arn:aws:quicksight:<region>:<account>:user/<namespace>/<name>, "
        "group/..., namespace/...) or user/<namespace>/<name> or group/<namespace>/<name> of the target account "
        "(e.g. group/default/bi-admins)"
    )


def _lookup(transform: PrincipalTransform) -> dict[str, list[SourcePrincipal]]:
    keys: dict[str, list[SourcePrincipal]] = {}
    for principal in transform.principals:
        for key in {principal.text, principal.short, principal.parameter or principal.text}:
            keys.setdefault(key, []).append(principal)
    return keys


def resolve_principals(
    transform: PrincipalTransform,
    principals: Optional[Mapping[str, Any]],
    grant: Optional[Sequence[Any]],
    context: Optional[PrincipalContext],
    subject: str = "the export",
) -> dict[str, str]:
    """The CloudFormation values of the principal and grant parameters for one stage.

    Args:
        transform: ``principalize`` of the export template.
        principals: Source principal (its text as ``inspect`` lists it, the part after its last
            ``:``, or its parameter name) -> target principal (a string, or a list holding one).
        grant: ``[{"principal": <target>, "role": "owner"|"viewer"}]``, at most one per role; only
            for exports without permissions.
        context: Where targets given by name live; None when every target is an ARN.
        subject: Names the export in messages.

    Returns:
        Parameter name -> target principal ARN (grant slots left unused get ``""``).

    Raises:
        PrincipalError: listing every problem: unmapped source principals (with the assets holding
            them), keys that name no source principal, malformed or several targets, grant misuse.
    """
    problems: list[str] = []
    values = _principal_values(transform, principals or {}, context, subject, problems)
    values.update(_grant_values(grant or [], context, problems))
    if grant and not transform.grant_slots:
        problems.append(
            f"grant is only for exports without permissions, and {subject} carries permissions (or no asset that "
            "takes them): map each of its source principals under principals instead"
        )
    if transform.grant_slots:
        for role in GRANT_ROLES:
            values.setdefault(_GRANT_PARAMETERS[role], "")
    if problems:
        raise PrincipalError(
            f"the permission principals of {subject} do not fit the stage: {listing(problems)}", tuple(problems)
        )
    return dict(sorted(values.items()))


def _principal_values(
    transform: PrincipalTransform,
    principals: Mapping[str, Any],
    context: Optional[PrincipalContext],
    subject: str,
    problems: list[str],
) -> dict[str, str]:
    """The values of the ``Principal<hash10>`` parameters; records a problem per bad or missing mapping."""
    values: dict[str, str] = {}
    lookup = _lookup(transform)
    mapped_to: dict[str, str] = {}
    for key, target in principals.items():
        principal = _principal_for(str(key), lookup, transform, subject, problems)
        if principal is None or principal.parameter is None:
            continue
        if principal.parameter in mapped_to:
            problems.append(f"source principal {clean(principal.text)!r} is mapped twice ({mapped_to[principal.parameter]!r} and {clean(key)!r})")
            continue
        mapped_to[principal.parameter] = str(key)
        value = _target(target, f"source principal {principal.text!r}", context, problems)
        if value is not None:
            values[principal.parameter] = value
    for principal in transform.mapped():
        if principal.parameter not in mapped_to:
            problems.append(
                f"source principal {clean(principal.text)!r} (held by {len(principal.assets)} asset(s): "
                f"{listing(principal.assets, limit=3, sep=', ')}) has no "
                "target: add it under principals, e.g. "
                f"'{clean(principal.short)}': group/default/<group of the target account>"
            )
    return values


def _principal_for(
    key: str, lookup: Mapping[str, list[SourcePrincipal]], transform: PrincipalTransform, subject: str, problems: list[str]
) -> Optional[SourcePrincipal]:
    """The source principal a ``principals`` key names; records why when it names none, several or a kept one."""
    found = lookup.get(key, [])
    if len(found) > 1:
        problems.append(
            f"principals key {clean(key)!r} matches {len(found)} source principals "
            f"({listing([p.text for p in found])}): use the full text as inspect lists it"
        )
        return None
    if not found:
        hint = ", ".join(p.text for p in transform.mapped()) or "none"
        problems.append(f"principals key {clean(key)!r} is not a permission principal of {subject} (its principals: {clean(hint)})")
        return None
    if found[0].parameter is None:
        problems.append(f"principals key {clean(key)!r} is kept as exported ({found[0].kept_because}); remove it")
    return found[0]


def _grant_values(grant: Sequence[Any], context: Optional[PrincipalContext], problems: list[str]) -> dict[str, str]:
    """The values of the grant slots' parameters; records a problem per malformed or second grant of a role."""
    values: dict[str, str] = {}
    roles: dict[str, str] = {}
    for i, item in enumerate(grant):
        where = f"grant[{i}]"
        if not isinstance(item, Mapping) or set(item) - {"principal", "role"} or "principal" not in item:
            problems.append(f"{where} must be {{principal: <target principal>, role: owner|viewer}}")
            continue
        role = item.get("role", "owner")
        if role not in GRANT_ROLES:
            problems.append(f"{where}.role must be owner or viewer, got {clean(role)!r}")
            continue
        if role in roles:
            problems.append(
                f"{where}: a second {role} (one slot per role keeps the template the same in every stage): "
                "grant a QuickSight group holding them"
            )
            continue
        roles[role] = where
        value = _target(item["principal"], where, context, problems)
        if value is not None:
            values[_GRANT_PARAMETERS[role]] = value
    return values


def _target(target: Any, where: str, context: Optional[PrincipalContext], problems: list[str]) -> Optional[str]:
    """A target principal as the ARN a parameter takes; None after recording why it is not one."""
    if isinstance(target, list) and len(target) == 1:
        target = target[0]
    if isinstance(target, list):
        problems.append(
            f"{where} maps to {len(target)} principals: a permission entry names one principal and the template "
            "must be the same in every stage, so create a QuickSight group holding them and map to "
            "group/<namespace>/<group name>"
        )
        return None
    if isinstance(target, str) and target.startswith(PLACEHOLDER):
        problems.append(f"{where} still maps to the placeholder {clean(target)!r}: set a user or group of the target account")
        return None
    if not isinstance(target, str) or not target.strip():
        problems.append(f"{where} must map to a principal (a string), got {type(target).__name__}")
        return None
    target = target.strip()
    try:
        if context is None and not _TARGET_ARN.match(target):
            raise ValueError("give a full ARN: the target account is not known here")
        return target_arn(target, context) if context else target
    except ValueError as exc:
        problems.append(f"{where}: {clean(target)!r} is not a target principal: {exc}")
        return None


def duplicate_targets(transform: PrincipalTransform, values: Mapping[str, str]) -> list[str]:
    """Assets that would grant one target principal twice (two source principals mapped to it)."""
    found = []
    for asset in sorted({a for p in transform.mapped() for a in p.assets}):
        seen: dict[str, list[str]] = {}
        for principal in transform.mapped():
            if asset in principal.assets and principal.parameter in values:
                seen.setdefault(values[principal.parameter], []).append(principal.text)
        found.extend(
            f"{asset} grants {target} for {len(texts)} source principals ({'; '.join(texts)})"
            for target, texts in seen.items()
            if len(texts) > 1
        )
    return found


def principals_skeleton(transform: PrincipalTransform, project: str = "quicksight-promotion") -> str:
    """Lines of a ``Pulumi.<stage>.yaml`` (inside ``config:``) asking for a target per source principal.

    Args:
        transform: ``principalize`` of the export template.
        project: The config namespace.

    Returns:
        YAML text (possibly empty): a ``principals`` mapping with ``"<required: ...>"`` placeholders,
        or, for an export without permissions, a commented ``grant`` example.
    """
    mapped = transform.mapped()
    if not transform.principals:
        return (
            "  ## The export carries no permissions: without grant, nobody can see the deployed assets, e.g.:\n"
            f"  ## {project}:grant:\n"
            "  ##   - {principal: group/default/<admins of this account>, role: owner}\n"
        )
    if not mapped:
        return ""
    shorts = [p.short for p in mapped]
    lines = [
        "  ## The export grants its assets to these source-account users: map each to a user or group of this",
        "  ## account (group/<namespace>/<name>, user/<namespace>/<name> or an ARN); a group for several users.",
        f"  {project}:principals:",
    ]
    for principal in mapped:
        key = principal.short if shorts.count(principal.short) == 1 else principal.text
        shown = clean(", ".join(principal.assets[:3]) + (", ..." if len(principal.assets) > 3 else ""))
        lines.append(f"    ## held by {len(principal.assets)} asset(s): {shown}")
        lines.append(f'    {json.dumps(key, ensure_ascii=False)}: "{PLACEHOLDER}: a user or group of this account>"')
    return "\n".join(lines) + "\n"


def principals_left_to_defaults(
    principals: Sequence[SourcePrincipal], catalog: Sequence[Mapping[str, Any]], values: Mapping[str, str]
) -> list[str]:
    """Template parameters that kept principals name and that the stage left to their source Default.

    A hand-edited export's ``user/default/${AdminUser}`` with AdminUser's Default (dev's user, or a
    placeholder) grants the same name in every stage: worth a warning.

    Args:
        principals: The source principals (``find_principals``).
        catalog: The parameter catalog (dicts with ``name``, ``default``, ``has_default``).
        values: The stage's parameter values (defaults included).

    Returns:
        One line per such parameter, naming it, its Default and the principal.
    """
    entries = {str(e.get("name")): e for e in catalog}
    found = []
    for principal in principals:
        for name in principal.named_parameters:
            entry = entries.get(name)
            if entry and entry.get("has_default") and values.get(name) == entry.get("default"):
                found.append(
                    f"parameter {name} is left to its source default {clean(entry.get('default'))!r} and names the "
                    f"permission principal {clean(principal.text)!r} of {len(principal.assets)} asset(s): set it for "
                    "this stage under parameters"
                )
    return found
