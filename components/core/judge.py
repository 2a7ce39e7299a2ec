"""The judge: every finding about one stage deploying one template, the one place each rule is said.

Pure core: no I/O, no Pulumi. ``QuickSightBundleStack`` calls ``judge`` at preview and up, raises
on its errors before any write to the target and logs its warnings; the offline ``preflight``
command calls the same function with what a stage file says, and prints both. Neither has a rule
of its own.

A finding says its severity (``error`` stops ``up``; ``warning`` is reported), what it concerns (an
asset ``<kind>/<id>`` with its property, a setting, a principal, the template), what was seen and
what to do. One root cause gives one finding: a rule that needs a setting the stage got wrong is
not run (a malformed ``sourceAccountId`` does not also make the mapped principals "unmapped").
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Optional

from ..errors import ParameterError, PrincipalError, clean
from .catalog import GLOBAL, CatalogEntry, to_parameter_string
from .literals import literal_connection_values
from .overrides import refused_in_template
from .manifest import sha256_text
from .principals import (
    PrincipalContext,
    duplicate_targets,
    principals_left_to_defaults,
    resolve_principals,
)
from .repair import Repair
from .stage_values import HIDDEN, given_parameters, resolve_parameters
from .transform import NO_ECHO_PROPERTIES, DeployableTemplate, deployable
from .values import Context, Sighting, sightings

Severity = Literal["error", "warning"]
LINT_MODES = ("error", "warning", "off")
# A principal parameter's value names no asset property: the judge reports it under this subject.
_PRINCIPAL = "principals"
# A problem of resolve_parameters starts with the friendly key it concerns: <kind>/<id>.<Property>.
_KEYED = re.compile(r"^(?P<asset>[a-z][a-z-]*/[^\s.]+)\.(?P<property>[A-Za-z][\w.]*)\b")


@dataclass(frozen=True)
class Finding:
    """One thing ``up`` stops on (``error``) or reports (``warning``).

    Attributes:
        severity: ``error`` or ``warning``.
        rule: A stable name of the rule (``parameter``, ``source-value``, ``principal``, ``lint``...).
        subject: What it concerns: ``<kind>/<asset id>``, ``setting <name>``, ``principals``, ``template``.
        property: The asset property or parameter, where there is one.
        message: What was seen (never a credential's value).
        advice: What to do.
        account, region: The stack instance it concerns, for a StackSet's (``core.fanout``); else None.
    """

    severity: Severity
    rule: str
    subject: str
    message: str
    advice: str = ""
    property: Optional[str] = None
    account: Optional[str] = None
    region: Optional[str] = None

    def describe(self) -> str:
        """One line: ``[account <id> in <region>: ]subject.property message: advice`` (a stack instance's prefixed)."""
        where = f"{self.subject}.{self.property}" if self.property else self.subject
        instance = f"account {self.account} in {self.region}: " if self.account and self.region else (
            f"account {self.account}: " if self.account else f"region {self.region}: " if self.region else ""
        )
        return f"{instance}{where} {self.message}" + (f": {self.advice}" if self.advice else "")

    def as_dict(self) -> dict[str, Any]:
        """The finding as JSON-able data (``preflight --json``); ``account`` and ``region`` for a stack instance's."""
        found = {
            "severity": self.severity,
            "rule": self.rule,
            "subject": self.subject,
            "property": self.property,
            "message": self.message,
            "advice": self.advice,
        }
        if self.account or self.region:
            found |= {"account": self.account or None, "region": self.region}
        return found


@dataclass(frozen=True)
class Target:
    """What is known of where the stage deploys (None: not known, e.g. offline).

    Attributes:
        account_id: The target account.
        region: The target region.
        partition: ``aws``, ``aws-cn``, ``aws-us-gov``.
    """

    account_id: Optional[str] = None
    region: Optional[str] = None
    partition: Optional[str] = None


@dataclass(frozen=True)
class Stage:
    """What a stage asks for, as its settings and values say.

    Attributes:
        name: The stage (Pulumi stack) name, for messages.
        source_account_id: The account that exported.
        source_region: The region the export was made in.
        values: The stage's ``parameters`` mapping (see ``core.stage_values``).
        allow_source_defaults: Let source values stand (their findings become warnings).
        principals, grant: The ``principals`` and ``grant`` settings.
        template_validation: ``error``, ``warning`` or ``off``: how cfn-lint findings count.
        expected_sha256: The pin (``expectedSha256``/``pinFromStack``), when known.
        archived: Whether the template is an archived release (pinned by its archived sha256 too).
        plain_credentials: Credentials the stage gives in plain text: parameter names or friendly keys
            (``<kind>/<id>.<Property>``).
        unreliable: Settings that failed their own validation: rules needing them are not run.
        other_stages: Another stage's name -> its ``parameters`` mapping (same project).
        hide_values: The values were given as a secret: quote none.
    """

    name: Optional[str] = None
    source_account_id: Optional[str] = None
    source_region: Optional[str] = None
    values: Optional[Mapping[str, Any]] = None
    allow_source_defaults: bool = False
    principals: Optional[Mapping[str, Any]] = None
    grant: Optional[Sequence[Any]] = None
    template_validation: str = "error"
    expected_sha256: Optional[str] = None
    archived: bool = False
    plain_credentials: frozenset[str] = frozenset()
    unreliable: frozenset[str] = frozenset()
    other_stages: Mapping[str, Optional[Mapping[str, Any]]] = field(default_factory=dict)
    hide_values: bool = False


class Judged:
    """What holds findings (a ``Verdict``, a stack set's, ``preflight``'s report): its errors and warnings."""

    findings: tuple[Finding, ...]

    @property
    def errors(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "error"]

    @property
    def warnings(self) -> list[Finding]:
        return [f for f in self.findings if f.severity == "warning"]


@dataclass(frozen=True)
class Verdict(Judged):
    """The judge's answer.

    Attributes:
        findings: Every finding, errors first, each once.
        template: The template as deployed (principals made parameters, NoEcho on credentials).
        values: Every CloudFormation parameter value of the stage (defaults and principals
            included), when there was no error; empty otherwise.
    """

    findings: tuple[Finding, ...]
    template: Optional[DeployableTemplate] = None
    values: Mapping[str, str] = field(default_factory=dict)


def judge(
    body: str,
    catalog: Sequence[CatalogEntry],
    stage: Stage,
    target: Target = Target(),
    *,
    sha256: Optional[str] = None,
    lint_findings: Optional[Sequence[Mapping[str, Any]]] = None,
    repairs: Optional[Sequence[Mapping[str, Any]]] = None,
) -> Verdict:
    """Every finding of ``stage`` deploying the export template ``body`` into ``target``.

    Args:
        body: The export template (JSON), as exported or archived.
        catalog: Its parameter catalog (``build_catalog``).
        stage: The stage's settings and values.
        target: What is known of the target account, region and partition.
        sha256: The sha256 the export was fetched with (the downloaded bytes'), for the pin.
        lint_findings: cfn-lint findings of the template as deployed (dicts with ``level``,
            ``resource``, ``path``, ``rule``, ``message``), None when not linted.
        repairs: What CloudFormation's schemas reject in the template (``core.repair.Repair``
            dumped, as the export, the release and the archive record them), None when not looked at.

    Returns:
        The findings, the deployable template and, without errors, the stage's parameter values.
    """
    findings: list[Finding] = []
    findings += _pin(body, stage, sha256)
    template = deployable(body, [entry.model_dump() for entry in catalog], grant=bool(stage.grant))
    findings += [
        Finding("error", "limit", "template", f"as deployed is {exceeded}", "split the export into smaller bundles")
        for exceeded in template.exceeded()
    ]
    resolved, problems = _parameters(catalog, stage)
    findings += problems
    principal_values, principal_findings = _principals(template, stage, target)
    findings += principal_findings
    values = {**(resolved or {}), **principal_values}
    if resolved is not None:
        findings += _left_to_defaults(template, catalog, values)
        findings += _sightings(catalog, stage, target, resolved, principal_values)
    findings += _credentials_in_plain_text(catalog, stage)
    findings += _literals(body)
    findings += _refused_sources(body)
    findings += _lint(lint_findings, stage)
    findings += _repairs(repairs)
    ordered = tuple(sorted(_once(findings), key=lambda f: f.severity != "error"))
    clean_values = values if resolved is not None and not any(f.severity == "error" for f in ordered) else {}
    return Verdict(ordered, template, clean_values)


def _once(findings: Sequence[Finding]) -> list[Finding]:
    seen: set[tuple[str, str, Optional[str], str]] = set()
    kept = []
    for finding in findings:
        key = (finding.rule, finding.subject, finding.property, finding.message)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept


# --- the rules -------------------------------------------------------------------------------------


def _pin(body: str, stage: Stage, sha256: Optional[str]) -> list[Finding]:
    """The template is the pinned one: the downloaded bytes' sha256, or an archived template's."""
    pin = (stage.expected_sha256 or "").lower()
    if not pin or "expected_sha256" in stage.unreliable:
        return []
    names = {sha256_text(body)} if stage.archived or sha256 is None else set()
    if sha256:
        names.add(sha256.lower())
    if pin in names:
        return []
    return [
        Finding(
            "error",
            "pin",
            "template",
            f"hashes to sha256 {sorted(names)[0]}, not the pinned {pin}",
            "this stage deploys only what the pinned stage deployed: deploy that release, or promote this one "
            "through the pinned stage first",
        )
    ]


def _parameters(catalog: Sequence[CatalogEntry], stage: Stage) -> tuple[Optional[dict[str, str]], list[Finding]]:
    """The stage's parameter values, or the problems CloudFormation or the source rule would meet."""
    if stage.values is not None and not isinstance(stage.values, Mapping):
        return None, [Finding("error", "parameter", "setting parameters", "is not a mapping", "write asset -> property -> value")]
    try:
        resolution = resolve_parameters(
            catalog, stage.values, allow_source_defaults=stage.allow_source_defaults, hide_values=stage.hide_values
        )
    except ParameterError as exc:
        return None, [_parameter_finding(problem) for problem in exc.problems or (str(exc),)]
    return resolution.all_values(), []


def _parameter_finding(problem: str) -> Finding:
    keyed = _KEYED.match(problem)
    if keyed:
        rest = problem[keyed.end() :].strip()
        return Finding("error", "parameter", keyed.group("asset"), rest, property=keyed.group("property"))
    return Finding("error", "parameter", "parameters", problem)


def _principals(
    template: DeployableTemplate, stage: Stage, target: Target
) -> tuple[dict[str, str], list[Finding]]:
    """The principal and grant parameter values, and what keeps the assets from being seen by anyone."""
    if {"principals", "grant"} & stage.unreliable:
        return {}, []
    transform = template.principal_transform()
    if not transform.principals and not stage.grant:
        return {}, [
            Finding(
                "warning",
                "no-permissions",
                _PRINCIPAL,
                "the export carries no permissions and the stage sets no grant: nobody could see the deployed assets",
                "re-export with IncludePermissions, or set grant (e.g. {principal: group/default/<admins>, role: owner})",
            )
        ]
    # Targets given by name become ARNs of the target account; offline a stand-in is enough to find
    # unmapped, unknown or malformed principals.
    context = PrincipalContext(
        target.partition or "aws",
        target.account_id or "000000000000",
        _identity_region(stage, target),
    )
    try:
        values = resolve_principals(transform, stage.principals, stage.grant, context)
    except PrincipalError as exc:
        return {}, [Finding("error", "principal", _PRINCIPAL, problem) for problem in exc.problems or (str(exc),)]
    findings = [
        Finding("warning", "principal-twice", _PRINCIPAL, problem, "QuickSight may refuse a principal granted twice; map them apart")
        for problem in duplicate_targets(transform, values)
    ]
    if target.account_id is None:
        # Names resolved against the stand-in account say nothing about the source account.
        values = {name: value for name, value in values.items() if ":000000000000:" not in value}
    return values, findings


def _identity_region(stage: Stage, target: Target) -> str:
    values = stage.values if isinstance(stage.values, Mapping) else {}
    given = values.get("IdentityRegion")
    return str(given) if isinstance(given, str) and given else (target.region or "us-east-1")


def _left_to_defaults(
    template: DeployableTemplate, catalog: Sequence[CatalogEntry], values: Mapping[str, str]
) -> list[Finding]:
    entries = [entry.model_dump() for entry in catalog]
    return [
        Finding("warning", "principal-default", _PRINCIPAL, problem)
        for problem in principals_left_to_defaults(template.principals, entries, values)
    ]


def _sightings(
    catalog: Sequence[CatalogEntry],
    stage: Stage,
    target: Target,
    values: Mapping[str, str],
    principal_values: Mapping[str, str],
) -> list[Finding]:
    """Values that still point at the source (``core.values``), errors unless source values are allowed."""
    context = Context(
        source_account_id=None if "source_account_id" in stage.unreliable else stage.source_account_id,
        source_region=None if "source_region" in stage.unreliable else stage.source_region,
        target_region=target.region,
        target_account_id=target.account_id,
        stage_words=tuple(name for name in stage.other_stages if name != stage.name),
    )
    others = _other_values(catalog, stage)
    findings: list[Finding] = []
    for entry in catalog:
        value = values.get(entry.name)
        if value is None or entry.kind == GLOBAL:
            continue
        shown = HIDDEN if entry.sensitive() or stage.hide_values else repr(clean(value, 200))
        seen = sightings(
            entry.property,
            value,
            context,
            source_default=entry.default if entry.has_default else None,
            other_stages={name: by_name[entry.name] for name, by_name in others.items() if entry.name in by_name},
            shown=shown,
        )
        findings += [_finding(s, stage, entry.asset_key() or entry.name, s.advice, entry.property) for s in seen]
    # A principal target names no asset property, and the source region is the identity region's business.
    principal_context = Context(context.source_account_id, None, target.region, target.account_id)
    for name, value in principal_values.items():
        for s in sightings(None, value, principal_context, shown=repr(clean(value, 200))):
            findings.append(_finding(s, stage, _PRINCIPAL, "map it to a principal of the target account", name))
    return findings


def _finding(seen: Sighting, stage: Stage, subject: str, advice: str, prop: Optional[str]) -> Finding:
    severity: Severity = "error" if seen.error and not stage.allow_source_defaults else "warning"
    return Finding(severity, seen.rule, subject, seen.message, advice, prop)


def _other_values(catalog: Sequence[CatalogEntry], stage: Stage) -> dict[str, dict[str, str]]:
    """Another stage's name -> the plain values its file sets, by parameter name (unreadable ones skipped)."""
    found: dict[str, dict[str, str]] = {}
    for name, mapping in stage.other_stages.items():
        if name == stage.name or not isinstance(mapping, Mapping):
            continue
        try:
            given = given_parameters(catalog, mapping)
        except ParameterError:
            continue
        texts = {}
        for parameter, value in given.items():
            try:
                texts[parameter] = to_parameter_string(value)
            except (TypeError, ValueError):
                continue  # an encrypted value, a list: nothing to compare
        found[name] = texts
    return found


def _credentials_in_plain_text(catalog: Sequence[CatalogEntry], stage: Stage) -> list[Finding]:
    """Credentials the stage gives in plain text (named by parameter name or ``<kind>/<id>.<Property>``)."""
    return [
        Finding(
            "warning",
            "plain-credential",
            entry.asset_key() or entry.name,
            "is a credential given in plain text in the stage file: it is kept secret in state, but readable in the file",
            f"store it encrypted: pulumi config set --secret --path 'quicksight-promotion:parameters.{entry.key}' <value>",
            entry.property,
        )
        for entry in catalog
        # A SecretArn names a secret (an ARN is no secret): only the NoEcho credentials are worth the warning.
        if entry.credential
        and entry.property in NO_ECHO_PROPERTIES
        and (entry.name in stage.plain_credentials or entry.key in stage.plain_credentials)
    ]


def _literals(body: str) -> list[Finding]:
    return [
        Finding(
            "warning",
            "literal",
            literal.asset,
            f"= {clean(literal.value, 200)} is a literal, not a parameter: every stage uses this source value",
            "re-export with CloudFormationOverridePropertyConfiguration for it",
            literal.property,
        )
        for literal in literal_connection_values(json.loads(body))
    ]


def _refused_sources(body: str) -> list[Finding]:
    """Data sources of a type that cannot be promoted (``core.overrides.REFUSED_VARIANTS``): errors."""
    return [
        Finding("error", "data-source-type", asset, f"is a {variant} data source, which cannot be promoted: {why}",
                "replace the data source in QuickSight, or leave the data sets that read it out of the export", "DataSourceParameters")
        for asset, variant, why in refused_in_template(json.loads(body))
    ]  # fmt: skip


def _repairs(repairs: Optional[Sequence[Mapping[str, Any]]]) -> list[Finding]:
    """Each place CloudFormation's schemas reject, and what ``templateRepair`` did or would do: warnings.

    A place left in the template also fails cfn-lint (E3002, E3033), which the lint rule counts.
    """
    found = []
    for item in repairs or ():
        place = Repair.model_validate(item)
        found.append(Finding("warning", "repair", place.asset, clean(place.detail, 500), place.action(), place.path))
    return found


# cfn-lint's rules for what core.repair finds: a key the schema does not permit, a string too short.
_REPAIRABLE_RULES = frozenset({"E3002", "E3033"})


def _lint(lint_findings: Optional[Sequence[Mapping[str, Any]]], stage: Stage) -> list[Finding]:
    mode = stage.template_validation if "template_validation" not in stage.unreliable else "warning"
    if mode == "off" or not lint_findings:
        return []
    found = []
    for item in lint_findings:
        level = str(item.get("level", "error"))
        severity: Severity = "error" if level == "error" and mode == "error" else "warning"
        found.append(
            Finding(
                severity,
                "lint",
                str(item.get("resource", "template")),
                f"cfn-lint {item.get('rule', '?')}: {clean(item.get('message', ''), 500)}",
                _lint_advice(str(item.get("rule"))) if severity == "error" else "",
                str(item.get("path")) or None,
            )
        )
    return found


def _lint_advice(rule: str) -> str:
    """What to do about a cfn-lint error that stops the deploy."""
    advice = "fix the asset and re-export, or set templateValidation: warning to deploy anyway"
    if rule in _REPAIRABLE_RULES:
        return f"set templateRepair: repair to remove it (docs/template-repair.md), or {advice}"
    return advice
