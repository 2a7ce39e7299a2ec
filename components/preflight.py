"""``preflight``: check a stage file against a bundle offline, as ``pulumi up`` would, before it runs.

No Pulumi engine and no AWS: the stage file is read with the Pulumi CLI's own rules
(``stage_file``), the settings with the program's (``settings``), the parameter values with the
export resource's (``core.stage_values``), the ``principals`` and ``grant`` settings
(``core.principals``), the template as deployed against CloudFormation's limits
(``core.transform``), and it with cfn-lint (``validation``). Every problem is listed,
one per line; the exit code is 1 when there is any.

Encrypted values (``secure:``) cannot be read without the stack's secrets provider: they count as
set, and their constraints are left to ``pulumi up``. ``pinFromStack`` needs the other stack's
outputs, so it is not checked here either.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import IO, Any, Optional

from .bundle_file import load_bundle_file
from .core.manifest import sha256_text
from .core.catalog import CatalogEntry, build_catalog
from .core.principals import PrincipalContext, resolve_principals
from .core.stage_values import given_parameters, resolve_parameters
from .core.transform import deployable
from .errors import ParameterError, PrincipalError, QuickSightPromotionError, clean, listing
from .settings import NAMESPACE, parse_config
from .stage_file import StageFileError, Secure, load_project, load_stack_config, merge_config, program_config

# A stand-in for an encrypted value: accepted by any String parameter without constraints.
_SECRET_STAND_IN = "encrypted-value"


def _parameter_problems(catalog: list[CatalogEntry], values: Any, allow_source_defaults: bool) -> list[str]:
    if values is not None and not isinstance(values, dict):
        return [f"{NAMESPACE}:parameters must be a mapping of asset -> property -> value"]
    try:
        given = given_parameters(catalog, values)
    except ParameterError as exc:
        return list(exc.problems)
    encrypted = {name for name, value in given.items() if isinstance(value, Secure)}
    # Constraints of encrypted values cannot be checked offline: drop them for those parameters.
    relaxed = [
        entry.model_copy(
            update={"type": "String", "allowed_values": None, "allowed_pattern": None, "min_length": None, "max_length": None}
        )
        if entry.name in encrypted
        else entry
        for entry in catalog
    ]
    plain = _replace_secure(values)
    try:
        resolve_parameters(relaxed, plain, allow_source_defaults=allow_source_defaults, hide_values=bool(encrypted))
    except ParameterError as exc:
        return list(exc.problems)
    return []


def _replace_secure(value: Any) -> Any:
    if isinstance(value, Secure):
        return _SECRET_STAND_IN
    if isinstance(value, dict):
        return {k: _replace_secure(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_secure(v) for v in value]
    return value


def check_stage(
    bundle: Path, stage: Path, project: Optional[Path] = None, *, lint: bool = True, err: IO[str] = sys.stderr
) -> tuple[list[str], list[str]]:
    """Every problem ``pulumi up --stack <stage>`` would meet with this bundle, found offline.

    Returns:
        (problems, warnings), each one line.
    """
    project_file = project or stage.parent / "Pulumi.yaml"
    stage_name = stage.name[len("Pulumi.") : -len(".yaml")] if stage.name.startswith("Pulumi.") else stage.stem
    problems: list[str] = []
    warnings: list[str] = []
    try:
        declared = load_project(project_file)
        merged = merge_config(declared, stage_name, load_stack_config(stage, declared["name"]))
    except (StageFileError, OSError) as exc:
        return [f"{project_file.name} / {stage.name}: {exc}"], warnings
    prefix = f"{NAMESPACE}:"
    raw = {key[len(prefix) :]: value for key, value in merged.items() if key.startswith(prefix)}
    parameters = raw.pop("parameters", None)
    flat, _ = program_config({key: value for key, value in raw.items() if not isinstance(value, (dict, list))})
    settings_raw: dict[str, Any] = {**flat, **{k: v for k, v in raw.items() if isinstance(v, (dict, list))}}
    settings = None
    try:
        settings = parse_config(settings_raw)
    except QuickSightPromotionError as exc:
        problems.append(str(exc))
    try:
        template, sha256, _ = load_bundle_file(bundle)
    except QuickSightPromotionError as exc:
        return [*problems, str(exc)], warnings
    catalog = build_catalog(template.document)
    allow = bool(settings.allow_source_defaults) if settings else False
    problems += _parameter_problems(catalog, parameters, allow)
    # An archived release (README, the release archive) is pinned by the sha256 of its archived,
    # compact template too: templates/<sha256>.json, downloaded, preflights like any bundle.
    archived_sha256 = sha256_text(template.body)
    if settings and settings.release_sha256 and settings.release_sha256.lower() != archived_sha256:
        problems.append(
            f"{NAMESPACE}:releaseSha256 is {settings.release_sha256} but the bundle's template is archived as "
            f"{archived_sha256}: preflight the archived template (templates/{settings.release_sha256.lower()}.json)"
        )
    pins = {sha256, archived_sha256} if settings and (settings.release or settings.release_sha256) else {sha256}
    if settings and settings.expected_sha256 and settings.expected_sha256.lower() not in pins:
        problems.append(
            f"{NAMESPACE}:expectedSha256 is {settings.expected_sha256} but the bundle hashes to {sha256}: "
            "pulumi up would refuse it; deploy the pinned bundle or update expectedSha256"
        )
    if settings and settings.pin_from_stack:
        warnings.append(f"{NAMESPACE}:pinFromStack ({settings.pin_from_stack}) is checked by pulumi up, not offline")
    grant = settings.grant if settings else []
    deployed = deployable(template.body, [entry.model_dump() for entry in catalog], grant=bool(grant))
    for exceeded in deployed.exceeded():
        problems.append(f"the template as deployed is {exceeded}: split the export into smaller bundles")
    # Targets given by name become ARNs of the deploying account, unknown offline: a stand-in
    # account and region are enough to find unmapped, unknown or malformed principals.
    stand_in = PrincipalContext("aws", "000000000000", "us-east-1")
    try:
        resolve_principals(deployed.principal_transform(), settings.principals if settings else {}, grant, stand_in)
    except PrincipalError as exc:
        problems.extend(exc.problems or (str(exc),))
    mode = settings.template_validation if settings else "error"
    if lint and mode != "off":
        from .validation import lint_template  # noqa: PLC0415

        print("running cfn-lint on the template (about 10 s)...", file=err)
        region = settings.source_region if settings else None
        for finding in lint_template(deployed.body, region):
            line = f"cfn-lint: {finding.describe()}"
            if finding.level == "error" and mode == "error":
                problems.append(line)
            else:
                warnings.append(line)
    return problems, warnings


def preflight(
    bundle: Path, stage: Path, project: Optional[Path], *, lint: bool, out: IO[str], err: IO[str]
) -> int:
    """The ``preflight`` command: print every problem and warning; 1 when there is a problem."""
    problems, warnings = check_stage(bundle, stage, project, lint=lint, err=err)
    for warning in warnings:
        print(f"warning: {clean(warning, 2000)}", file=err)
    if problems:
        noun = "problem" if len(problems) == 1 else "problems"
        print(f"{stage.name} with {bundle.name}: {len(problems)} {noun} that pulumi up would stop on:", file=out)
        for problem in problems[:50]:
            print(f"  - {clean(problem, 2000)}", file=out)
        if len(problems) > 50:
            print(f"  - {listing(problems[50:], limit=0)}", file=out)
        return 1
    print(f"{stage.name} with {bundle.name}: no problems found offline; pulumi up --stack {stage.name[7:-5]} may proceed", file=out)
    return 0
