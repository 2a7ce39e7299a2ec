"""``preflight``: judge a stage file offline, exactly as ``pulumi up`` would judge it.

No Pulumi engine and no AWS: the project and stage files are read with the Pulumi CLI's own rules
(``stage_file``: the project found beside the stage file or above it, the stack named by
``Pulumi.<stack>.yaml``), the settings with the program's (``settings``), and everything else by
the one judge the component calls too (``core.judge``): this module has no rule of its own.

A source stage (``releaseName``) deploys nothing: only its settings are judged (the release's
assets are checked by its own pre-flight at ``up``). A target stage is judged against the bundle
it deploys: its values, principals, the pin, CloudFormation's limits, values still pointing at the
source, literal connection values, what CloudFormation's schemas reject (``templateRepair``: the
bundle is judged as the stage's export would record it, repaired or not) and cfn-lint.

Encrypted values (``secure:``) cannot be read without the stack's secrets provider: they count as
set, and their constraints are left to ``pulumi up``. ``pinFromStack`` needs the other stack's
outputs, so it is checked by ``up`` only. Nothing is quoted from a stage file but names.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, Any, Optional

from .bundle_file import load_bundle_file
from .core.catalog import CatalogEntry, build_catalog
from .core.fanout import Account, judge_accounts
from .core.judge import Finding, Judged, Stage, Target, judge
from .core.stage_values import given_parameters
from .errors import ParameterError, ProblemsError, QuickSightPromotionError, StageFileError, clean
from .settings import NAMESPACE, ProgramConfig, parse_config
from .stage_file import (
    Secure,
    find_project,
    load_project,
    load_stack_config,
    merge_config,
    program_config,
    stack_name,
)

# A stand-in for an encrypted value: accepted by any String parameter without constraints.
SECRET_STAND_IN = "encrypted-value"
# A stand-in account for a malformed sourceAccountId, so that the other settings are still judged.
_STAND_IN_ACCOUNT = "000000000000"
_SETTING = re.compile(rf"^{re.escape(NAMESPACE)}:(?P<key>[A-Za-z0-9]+)")


@dataclass(frozen=True)
class Report(Judged):
    """What ``preflight`` found.

    Attributes:
        stage: The stage (stack) name, when the file is named so.
        source_stage: Whether the stage cuts a release (and deploys nothing).
        findings: Every finding, errors first.
    """

    stage: Optional[str]
    source_stage: bool = False
    findings: tuple[Finding, ...] = field(default_factory=tuple)


@dataclass(frozen=True)
class _StageFile:
    """A stage file as the program would see it: settings (those that validate), values, encrypted names."""

    name: str
    settings: Optional[ProgramConfig]
    unreliable: frozenset[str]
    parameters: Any
    region: Optional[str]
    findings: tuple[Finding, ...]


def _file_finding(exc: QuickSightPromotionError, where: str) -> Finding:
    return Finding("error", "stage-file", where, clean(str(exc), 2000))


def _read_stage(stage: Path, project: Optional[Path]) -> _StageFile:
    """Read the stage file with the CLI's rules and its settings with the program's (never raises)."""
    try:
        name = stack_name(stage)
        project_file = project or find_project(stage.parent)
        declared = load_project(project_file)
        merged = merge_config(declared, name, load_stack_config(stage, declared["name"]))
    except (StageFileError, OSError) as exc:
        error = exc if isinstance(exc, QuickSightPromotionError) else StageFileError(f"cannot read {exc.filename}: {exc.strerror}")
        return _StageFile(stage.name, None, frozenset(), None, None, (_file_finding(error, stage.name),))
    prefix = f"{NAMESPACE}:"
    raw = {key[len(prefix) :]: value for key, value in merged.items() if key.startswith(prefix)}
    parameters = raw.pop("parameters", None)
    flat, _ = program_config({key: value for key, value in raw.items() if not isinstance(value, (dict, list))})
    settings_raw: dict[str, Any] = {**flat, **{k: v for k, v in raw.items() if isinstance(v, (dict, list))}}
    settings, unreliable, findings = _settings(settings_raw)
    region = merged.get("aws:region")
    return _StageFile(name, settings, unreliable, parameters, region if isinstance(region, str) else None, findings)


def _settings(raw: dict[str, Any]) -> tuple[Optional[ProgramConfig], frozenset[str], tuple[Finding, ...]]:
    """The settings as the program validates them; the bad ones named once and set aside.

    A setting that fails its own rule is reported once; the other settings are validated without it
    (a stand-in for a required one), so that no rule needing it reports its consequences again.
    """
    try:
        return parse_config(raw), frozenset(), ()
    except ProblemsError as exc:
        problems = exc.problems or (str(exc),)
    except QuickSightPromotionError as exc:
        return None, frozenset(), (Finding("error", "setting", "settings", clean(str(exc), 2000)),)
    findings = []
    bad: set[str] = set()
    for problem in problems:
        match = _SETTING.match(problem)
        key = match.group("key") if match else "settings"
        bad.add(key)
        findings.append(Finding("error", "setting", f"setting {key}", problem[match.end() :].lstrip(": ") if match else problem))
    kept = {key: value for key, value in raw.items() if key not in bad}
    if "sourceAccountId" in bad:
        kept["sourceAccountId"] = _STAND_IN_ACCOUNT
    try:
        settings: Optional[ProgramConfig] = parse_config(kept)
    except QuickSightPromotionError:
        settings = None
    fields = {info.alias or name: name for name, info in ProgramConfig.model_fields.items()}
    return settings, frozenset(fields.get(key, key) for key in bad), tuple(findings)


def _replace_secure(value: Any) -> Any:
    if isinstance(value, Secure):
        return SECRET_STAND_IN
    if isinstance(value, dict):
        return {k: _replace_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v) for v in value]
    return value


def _accounts(settings: Optional[ProgramConfig]) -> Optional[list[Account]]:
    """A stack-set stage's accounts (``stackSetAccounts``; none listed: the target's), else None."""
    if settings is None or not settings.stack_set_name:
        return None
    return [Account.from_setting(entry) for entry in settings.stack_set_accounts if isinstance(entry, dict)] or [Account("")]


def _encrypted(catalog: list[CatalogEntry], values: Any, accounts: Optional[list[Account]] = None) -> tuple[set[str], set[str]]:
    """(names given encrypted, credential names given in plain text), by the stage or any account's own values.

    Both are empty for values whose keys do not resolve (the judge reports those).
    """
    encrypted: set[str] = set()
    plain: set[str] = set()
    by_name = {entry.name: entry for entry in catalog}
    for given_values in [values, *(a.values for a in accounts or ())]:
        try:
            given = given_parameters(catalog, given_values if isinstance(given_values, dict) else None)
        except ParameterError:
            continue
        encrypted |= {name for name, value in given.items() if isinstance(value, Secure)}
        plain |= {name for name, value in given.items() if not isinstance(value, Secure) and by_name[name].credential}
    return encrypted, plain


def _relaxed(catalog: list[CatalogEntry], encrypted: set[str]) -> list[CatalogEntry]:
    """The catalog with no constraint on encrypted values (they cannot be read offline)."""
    relaxed = {"type": "String", "allowed_values": None, "allowed_pattern": None, "min_length": None, "max_length": None}
    return [entry.model_copy(update=relaxed) if entry.name in encrypted else entry for entry in catalog]


def _other_stages(stage: Path, name: str) -> dict[str, Any]:
    """The project's other stage files beside this one: their names and plain ``parameters`` (unreadable ones skipped)."""
    found: dict[str, Any] = {}
    for path in sorted(stage.parent.glob("Pulumi.*.y*ml")):
        try:
            other = stack_name(path)
        except StageFileError:
            continue
        if other == name:
            continue
        try:
            config = load_stack_config(path, NAMESPACE)
        except (StageFileError, OSError):
            found[other] = None
            continue
        values = config.get(f"{NAMESPACE}:parameters")
        found[other] = values if isinstance(values, dict) else None
    return found


def _partition(region: Optional[str]) -> Optional[str]:
    if not region:
        return None
    return "aws-cn" if region.startswith("cn-") else "aws-us-gov" if region.startswith("us-gov-") else "aws"


def _lint(body: str, settings: Optional[ProgramConfig], err: IO[str]) -> list[dict[str, Any]]:
    from .validation import lint_template  # noqa: PLC0415  (cfn-lint is slow to import)

    print("running cfn-lint on the template (about 10 s)...", file=err)
    region = settings.source_region if settings else None
    return [finding.model_dump() for finding in lint_template(body, region)]


def _repaired(loaded: Any, settings: Optional[ProgramConfig]) -> tuple[Any, str, Optional[list[dict[str, Any]]]]:
    """The bundle as the stage's ``templateRepair`` makes it (what its export would record), with the places found."""
    from .validation import repaired  # noqa: PLC0415  (cfn-lint is slow to import)

    mode = settings.template_repair if settings else "report"
    if settings and (settings.release or settings.release_sha256) and mode == "repair":
        # An archived release was repaired (or not) when it was archived: a stage deploys it as it is.
        mode = "report"
    return repaired(loaded.template, loaded.sha256, mode, settings.source_region if settings else None)


def check_stage(
    bundle: Optional[Path], stage: Path, project: Optional[Path] = None, *, lint: bool = True, err: IO[str] = sys.stderr
) -> Report:
    """Every finding ``pulumi up --stack <stage>`` would meet, found offline by the same judge."""
    read = _read_stage(stage, project)
    settings = read.settings
    if any(f.rule == "stage-file" for f in read.findings):
        return Report(None, False, read.findings)
    if settings is not None and settings.release_name:
        return Report(read.name, True, read.findings)
    if bundle is None:
        missing = Finding("error", "bundle", "bundle", "is not given", "name the export file this stage deploys")
        return Report(read.name, False, (*read.findings, missing))
    try:
        loaded = load_bundle_file(bundle)
    except QuickSightPromotionError as exc:
        return Report(read.name, False, (*read.findings, Finding("error", "bundle", bundle.name, clean(str(exc), 2000))))
    template, sha256, repairs = _repaired(loaded, settings)
    mode = settings.template_validation if settings else "error"
    findings = _lint(template.body, settings, err) if lint and mode != "off" else None
    keywords: dict[str, Any] = {"sha256": sha256, "lint_findings": findings, "repairs": repairs}
    judged = _judged(template.body, build_catalog(template.document), read, settings, _other_stages(stage, read.name), keywords)
    pin = []
    if settings and settings.pin_from_stack:
        pin = [Finding("warning", "pin", "setting pinFromStack", f"({settings.pin_from_stack}) is checked by pulumi up, not offline")]
    return Report(read.name, False, tuple(sorted((*read.findings, *judged, *pin), key=lambda f: f.severity != "error")))


def _judged(
    body: str, catalog: list[CatalogEntry], read: _StageFile, settings: Optional[ProgramConfig], others: dict[str, Any], keywords: dict[str, Any]
) -> tuple[Finding, ...]:
    """The judge's findings: of the stage, or of each (account, region) of a stack-set stage (``core.fanout``)."""
    accounts = _accounts(settings)
    encrypted, plain = _encrypted(catalog, read.parameters, accounts)
    stage = _stage(read, settings, encrypted, plain, others)
    target = Target(region=read.region, partition=_partition(read.region))
    if accounts is None:
        return judge(body, _relaxed(catalog, encrypted), stage, target, **keywords).findings
    regions = tuple(settings.stack_set_regions) if settings else ()
    # Encrypted values are stand-ins, as the stage's are.
    stand_ins = [replace(a, values=_replace_secure(a.values)) for a in accounts]
    return judge_accounts(body, _relaxed(catalog, encrypted), stage, target, stand_ins, regions, **keywords).findings


def _stage(read: _StageFile, settings: Optional[ProgramConfig], encrypted: set[str], plain: set[str], others: dict[str, Any]) -> Stage:
    return Stage(
        name=read.name,
        source_account_id=settings.source_account_id if settings else None,
        source_region=settings.source_region if settings else None,
        values=_replace_secure(read.parameters),
        allow_source_defaults=bool(settings.allow_source_defaults) if settings else False,
        principals=settings.principals if settings else None,
        grant=settings.grant if settings else None,
        template_validation=settings.template_validation if settings else "error",
        expected_sha256=(settings.expected_sha256 or settings.release_sha256) if settings else None,
        archived=bool(settings and (settings.release or settings.release_sha256)),
        plain_credentials=frozenset(plain),
        unreliable=read.unreliable if settings else frozenset({"source_account_id", "principals", "grant"}),
        other_stages=others,
        hide_values=False,  # encrypted values are stand-ins here, and credentials are never shown
    )


def preflight(
    bundle: Optional[Path],
    stage: Path,
    project: Optional[Path],
    *,
    lint: bool,
    out: IO[str],
    err: IO[str],
    as_json: bool = False,
    strict: bool = False,
) -> int:
    """The ``preflight`` command: print every finding; 1 on an error (``strict``: on a warning too)."""
    report = check_stage(bundle, stage, project, lint=lint, err=err)
    failed = bool(report.errors or (strict and report.warnings))
    if as_json:
        document = {
            "stage": report.stage,
            "source_stage": report.source_stage,
            "bundle": bundle.name if bundle else None,
            "passed": not failed,
            "errors": len(report.errors),
            "warnings": len(report.warnings),
            "findings": [f.as_dict() for f in report.findings],
        }
        print(json.dumps(document, indent=2, ensure_ascii=False), file=out)
        return 1 if failed else 0
    _print(report, stage, bundle, out, failed)
    return 1 if failed else 0


def _print(report: Report, stage: Path, bundle: Optional[Path], out: IO[str], failed: bool) -> None:
    what = f"{stage.name} (the source stage: its settings)" if report.source_stage else (
        f"{stage.name} with {bundle.name}" if bundle else stage.name
    )
    for finding in report.findings:
        print(f"  {finding.severity}: {clean(finding.describe(), 2000)}", file=out)
    errors, warnings = len(report.errors), len(report.warnings)
    counts = f"{errors} error{'s' if errors != 1 else ''}, {warnings} warning{'s' if warnings != 1 else ''}"
    if report.errors:
        print(f"{what}: {counts}: pulumi up would stop", file=out)
    elif failed:
        print(f"{what}: {counts}: --strict counts warnings as errors", file=out)
    else:
        print(f"{what}: {counts}: pulumi up --stack {report.stage} may proceed", file=out)
