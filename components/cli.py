"""The command line: ``inspect`` a bundle, ``preflight`` a stage offline, ``diff`` two bundles.

Exit codes: 0 fine, 1 the bundle, the job or the stage has a problem (one ``error: ...`` line, or
one line per problem for ``preflight``), 2 a usage error (one line naming the flag).
Progress (waiting on a job, running cfn-lint) goes to stderr; results to stdout.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import re
import shutil
import sys
import unicodedata
from pathlib import Path
from typing import IO, Any, Callable, NoReturn, Optional, Sequence

from .bundle_file import load_bundle_file
from .core.bundle import Template
from .core.catalog import CatalogEntry, build_catalog, summarize_resources
from .core.literals import literal_connection_values
from .core.overrides import refused_in_template
from .core.principals import find_principals, principalize, principals_skeleton
from .core.stage_values import stage_config_skeleton
from .core.quotas import INLINE_TEMPLATE_LIMIT, OUTPUT_LIMIT, PARAMETER_LIMIT, RESOURCE_LIMIT, URL_TEMPLATE_LIMIT
from .core.repair import Repair
from .core.transform import DeployableTemplate, deployable
from . import __version__
from .errors import QuickSightPromotionError, clean, listing

# The flags that fetch a job, each named after the export resource's input it sets.
_FLAG_FOR_INPUT = {
    "source_account_id": "--source-account-id",
    "source_region": "--source-region",
    "source_role_arn": "--source-role-arn",
    "export_job_id": "--export-job-id",
    "export_timeout_seconds": "--export-timeout-seconds",
    "the resource's source_region input": "--source-region",
}
_INPUT_WORDS = re.compile(r"\b(" + "|".join(re.escape(word) for word in _FLAG_FOR_INPUT) + r")\b")
# Pulumi stack names: letters, digits, '-', '_' and '.' (the file is Pulumi.<name>.yaml).
_STACK_NAME = re.compile(r"^[A-Za-z0-9_.-]{1,100}$")


class _UsageError(Exception):
    """A usage error: ``run`` prints it on one line and returns 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, with a usage error as one line (and exit code 2) rather than a usage block."""

    def error(self, message: str) -> NoReturn:
        raise _UsageError(f"{self.prog}: error: {message} (see {self.prog} --help)")


def _usage(args: argparse.Namespace, message: str) -> _UsageError:
    """A usage error found after parsing, worded as argparse words its own."""
    prog = f"{args.prog} {args.command}"
    return _UsageError(f"{prog}: error: {message} (see {prog} --help)")


def _prog() -> str:
    """How the user ran us: ``quicksight-promotion`` (the console script) or ``python -m components``."""
    name = os.path.basename(sys.argv[0]) if sys.argv and sys.argv[0] else ""
    if not name or name in ("__main__.py", "-c") or name.endswith(".py"):
        return f"python -m {__package__ or 'components'}"
    return name


def _export_field(name: str, flag: str) -> Callable[[str], Any]:
    """An argparse type that checks a flag by the export resource's own rules for ``name``."""

    def convert(text: str) -> Any:
        from pydantic import ValidationError  # noqa: PLC0415

        from .core.models import ExportInputs, stand_ins  # noqa: PLC0415

        try:
            inputs = ExportInputs.model_validate({**stand_ins(ExportInputs), name: text})
        except ValidationError as exc:
            reason = exc.errors()[0]["msg"]
        else:
            return getattr(inputs, name)
        # Not chained: pydantic's text is not for the user (argparse prints this message alone).
        raise argparse.ArgumentTypeError(f"{reason} (got {clean(text, 80)!r})") from None

    convert.__name__ = flag
    return convert


def _stage_name(text: str) -> str:
    if not _STACK_NAME.match(text):
        raise argparse.ArgumentTypeError(
            f"a stack name is letters, digits, '-', '_' and '.' (got {clean(text, 80)!r})"
        )
    return text


def _directory(text: str) -> Path:
    """A directory to write into: created when the file is written (not here: a usage error writes nothing)."""
    path = Path(text)
    if path.exists() and not path.is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a directory")
    return path


def _input_file(text: str) -> Path:
    path = Path(text)
    if not path.is_file():
        raise argparse.ArgumentTypeError(f"{text!r} is not an existing file")
    return path


def _job_flags(inspect: argparse.ArgumentParser) -> None:
    """The flags that fetch an export job: each one named, and checked, as the export input it sets."""
    from .core.models import DEFAULT_EXPORT_TIMEOUT_SECONDS  # noqa: PLC0415

    helps = {
        "source_account_id": "the source account id (12 digits)",
        "export_job_id": "the export job id",
        "source_region": "the source region (else the AWS chain's)",
        "source_role_arn": "a role in the source account to assume",
        "export_timeout_seconds": f"seconds to wait for the job (default {DEFAULT_EXPORT_TIMEOUT_SECONDS})",
    }
    for name, help_text in helps.items():
        flag = _FLAG_FOR_INPUT[name]
        default = DEFAULT_EXPORT_TIMEOUT_SECONDS if name == "export_timeout_seconds" else None
        inspect.add_argument(flag, type=_export_field(name, flag), default=default, help=help_text)


def _parser(prog: str) -> _Parser:
    parser = _Parser(
        prog=prog, description="Inspect or pre-flight QuickSight CLOUDFORMATION_JSON asset bundles."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)
    inspect = commands.add_parser("inspect", help="show the resources, parameters and size of a bundle")
    inspect.add_argument("bundle", nargs="?", type=Path, help="a downloaded bundle (.json or .zip)")
    _job_flags(inspect)
    inspect.add_argument(
        "--stage-config", metavar="NAME", type=_stage_name, help="write a commented Pulumi.NAME.yaml for this bundle"
    )
    inspect.add_argument("--out-dir", type=_directory, default=Path("."), help="where to write it (default .; created if missing)")
    inspect.add_argument("--force", action="store_true", help="overwrite an existing Pulumi.NAME.yaml")
    inspect.add_argument("--json", action="store_true", help="print the whole report as JSON (full ids)")
    inspect.add_argument(
        "--show-overrides",
        action="store_true",
        help="with --source-account-id and --dashboards/--analyses: run a release's pre-flight and show the override "
        "configuration it would start the export with (nothing is started)",
    )
    inspect.add_argument("--dashboards", default="", help="comma-separated dashboard ids or ARNs (--show-overrides)")
    inspect.add_argument("--analyses", default="", help="comma-separated analysis ids or ARNs (--show-overrides)")
    inspect.add_argument("--release-name", default="preview", help="the release name, for its job id (--show-overrides)")
    inspect.add_argument("--no-id-prefix", action="store_true", help="a release without the id prefix (--show-overrides)")
    preflight = commands.add_parser(
        "preflight",
        help="judge a stage file offline, as pulumi up would (no AWS, no Pulumi); a source stage needs no bundle",
    )
    preflight.add_argument(
        "bundle", nargs="?", type=_input_file, help="the bundle the stage deploys (.json or .zip); not for a source stage"
    )
    preflight.add_argument("--stage", required=True, type=_input_file, help="the stage file, Pulumi.<stack>.yaml")
    preflight.add_argument(
        "--project", type=_input_file, help="the project file (default: Pulumi.yaml beside the stage file, or above it)"
    )
    preflight.add_argument("--no-lint", action="store_true", help="skip cfn-lint (it takes about 10 s)")
    preflight.add_argument("--json", action="store_true", help="print the findings as JSON (severity, subject, property, message, advice)")
    preflight.add_argument("--strict", action="store_true", help="exit 1 on a warning too")
    diff = commands.add_parser(
        "diff", help="compare two bundles (or archived release templates) asset by asset and property by property"
    )
    diff.add_argument("old", type=_input_file, help="the bundle (.json or .zip) or release template a stage runs now")
    diff.add_argument("new", type=_input_file, help="the one it would run next")
    diff.add_argument("--json", action="store_true", help="print the differences as JSON")
    diff.add_argument("--exit-code", action="store_true", help="exit 1 when they differ (as git diff --exit-code)")
    return parser


# --- inspect -----------------------------------------------------------------------------------------


def _size_lines(template: Template, deployed: DeployableTemplate, downloaded: int) -> list[str]:
    """Sizes against CloudFormation's limits, measured on what the component would deploy."""
    inline = "fits" if deployed.inline else "too large: the template is staged in S3"
    url = _url_placement(deployed)
    return [
        f"Template size: {template.size:,} bytes compact ({downloaded:,} bytes as downloaded)",
        f"  inline TemplateBody limit {INLINE_TEMPLATE_LIMIT:,} B: {inline} ({deployed.inline_size:,} B as sent)",
        f"  TemplateURL (S3) limit   {URL_TEMPLATE_LIMIT:,} B: {url}",
    ]


def _url_placement(deployed: DeployableTemplate) -> str:
    """How the template fits TemplateURL: as it is, as nested stacks, or not at all."""
    plan, unsplittable = deployed.nesting
    if plan is not None:
        return f"over one stack's limits: deployed as {len(plan.nested)} nested stacks ({_nested_names(plan)})"
    if unsplittable or not deployed.deployable:
        return "TOO LARGE: split the export into smaller bundles"
    return "fits"


def _nested_names(plan: Any) -> str:
    return ", ".join(f"{n.name} {n.size:,} B" for n in plan.nested)


def _principal_lines(template: Template) -> list[str]:
    """The source principals (map each under ``principals``) and the assets each holds."""
    principals = find_principals(template.document)
    if not principals:
        return ["Permission principals: none (the export carries no permissions: set grant, else nobody sees the assets)"]
    lines = [f"Permission principals ({len(principals)}; map each under principals to a target user or group):"]
    for principal in principals:
        how = f"parameter {principal.parameter}" if principal.parameter else f"kept: {principal.kept_because}"
        lines.append(f"  {principal.text}  ({how})")
        lines.append(f"    held by ({len(principal.assets)}): {', '.join(principal.assets)}")
    return lines


def _literal_lines(template: Template, columns: Optional[int] = None) -> list[str]:
    """Connection values written as literals: every stage would use the source's."""
    literals = literal_connection_values(template.document)
    if not literals:
        return ["Literal connection values: none"]
    lines = [
        f"Literal connection values ({len(literals)}; every stage would use these source values: "
        "re-export with CloudFormationOverridePropertyConfiguration for them):"
    ]
    rows = [["ASSET", "PROPERTY", "VALUE"], *([v.asset, v.property, v.value] for v in literals)]
    return [*lines, *_table(rows, columns)]


def _refused_lines(template: Template) -> list[str]:
    """Data sources of a type that cannot be promoted, and why (``core.overrides.REFUSED_VARIANTS``)."""
    refused = refused_in_template(template.document)
    if not refused:
        return []
    lines = [f"Data sources that cannot be promoted ({len(refused)}; pulumi up and preflight stop on them):"]
    return [*lines, *(f"  {asset} ({variant}): {why}" for asset, variant, why in refused)]


def _repairs(template: Template, region: Optional[str]) -> Optional[list[dict[str, Any]]]:
    """What CloudFormation's resource schemas reject in the template (None: cfn-lint is not installed)."""
    from .validation import repaired  # noqa: PLC0415  (cfn-lint is slow to import)

    return repaired(template, "", "report", region)[2]


def _repair_lines(found: Optional[list[dict[str, Any]]]) -> list[str]:
    """What CloudFormation's resource schemas reject in the template, and what ``templateRepair: repair`` would do."""
    if found is None:
        return ["Schema repairs: not looked at (cfn-lint is not installed)"]
    if not found:
        return ["Schema repairs: none (CloudFormation's resource schemas accept every property)"]
    lines = [f"Schema repairs ({len(found)}; CloudFormation would refuse these; see docs/template-repair.md):"]
    return [*lines, *(f"  {Repair.model_validate(place).describe()}" for place in found)]


def _limit_lines(deployed: DeployableTemplate) -> list[str]:
    """CloudFormation's per-template limits, counted on the template as deployed."""
    exceeded = deployed.exceeded()
    counts = (
        f"{deployed.resources:,}/{RESOURCE_LIMIT} resources, {deployed.parameters:,}/{PARAMETER_LIMIT} parameters, "
        f"{deployed.outputs:,}/{OUTPUT_LIMIT} outputs"
    )
    if not exceeded:
        return [f"CloudFormation limits: fits ({counts})"]
    return [
        f"CloudFormation limits: EXCEEDED ({counts}): split the ResourceArns across smaller export jobs",
        *(f"  {problem}" for problem in exceeded),
    ]


def _resource_lines(template: Template) -> list[str]:
    assets = summarize_resources(template.document)
    lines = [f"Resources ({sum(len(ids) for ids in assets.values())}):"]
    for kind, ids in assets.items():
        lines.append(f"  {kind} ({len(ids)}): {', '.join(ids)}")
    return lines


def _width(text: str) -> int:
    """Terminal columns of a text: East Asian wide characters take two."""
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


# The longest line or JSON string printed: a bundle's text is cleaned (control characters escaped) and bounded.
_MAX_SHOWN_CHARS = 100_000


def _shown(text: object) -> str:
    """Text from a bundle or an AWS answer as printed: one line, control characters escaped (``\\x1b``).

    A bundle is outside input: an ESC sequence in an asset name or a parameter default would
    otherwise drive the terminal that runs ``inspect``.
    """
    return clean(text, _MAX_SHOWN_CHARS)


def _shown_json(value: Any) -> Any:
    """``value`` with every string (keys included) passed through ``_shown``."""
    if isinstance(value, str):
        return _shown(value)
    if isinstance(value, dict):
        return {_shown(key): _shown_json(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_shown_json(item) for item in value]
    return value


def _print_lines(lines: list[str], out: IO[str], columns: Optional[int] = None) -> None:
    """Print ``lines``, each one cleaned line (whatever part of it came from the bundle).

    With ``columns``, each line is fitted to that many terminal columns (``_fit``).
    """
    shown = [_shown(line) for line in lines]
    if columns is not None:
        shown = [part for line in shown for part in _fit(line, columns)]
    print("\n".join(shown), file=out)


# The narrowest report: below it, ids would be shortened past recognition.
_MIN_COLUMNS = 40


def _columns(out: IO[str]) -> Optional[int]:
    """The width to fit the report to: ``COLUMNS`` if set, else the terminal's; None (whole lines) into a pipe or file."""
    if not os.environ.get("COLUMNS", "").strip().isdigit() and not (hasattr(out, "isatty") and out.isatty()):
        return None
    # shutil reads COLUMNS first, then the terminal of sys.__stdout__.
    return max(_MIN_COLUMNS, shutil.get_terminal_size(fallback=(100, 24)).columns)


def _middle(text: str, columns: int) -> str:
    """``text`` in at most ``columns`` terminal columns, shortened in the middle with an ellipsis (the ends of an id tell it apart)."""
    if _width(text) <= columns:
        return text
    budget = max(columns - 1, 2)
    return f"{_leading(text, (budget + 1) // 2)}\u2026{_leading(text[::-1], budget // 2)[::-1]}"


def _leading(text: str, columns: int) -> str:
    """The longest start of ``text`` that fits in ``columns`` terminal columns."""
    used = 0
    for index, ch in enumerate(text):
        used += _width(ch)
        if used > columns:
            return text[:index]
    return text


def _fit(line: str, columns: int) -> list[str]:
    """A report line in ``columns``: wrapped at spaces under its own indent, a word too long for a line shortened in the middle."""
    if _width(line) <= columns:
        return [line]
    first = line[: len(line) - len(line.lstrip(" "))]
    indent = first + "    "
    lines: list[str] = []
    current = first
    for word in line.split():
        if not current.strip():  # a fresh line: the word goes on it, shortened if it must be
            current += _middle(word, columns - _width(current))
        elif _width(f"{current} {word}") <= columns:
            current = f"{current} {word}"
        else:
            lines.append(current)
            current = indent + _middle(word, columns - _width(indent))
    lines.append(current)
    return lines


def _table(rows: list[list[str]], columns: Optional[int] = None) -> list[str]:
    """Rows as aligned columns; with ``columns``, the widest columns narrowed (cells shortened in the middle) to fit."""
    rows = [[_shown(cell) for cell in row] for row in rows]  # cleaned first: the widths are of what is shown
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
    if columns is not None:
        # Two spaces before the table and between columns; no column narrower than its header or 8.
        floors = [max(8, _width(header)) for header in rows[0]]
        while 2 * len(widths) + sum(widths) > columns:
            widest = max(range(len(widths)), key=lambda i: widths[i])
            if widths[widest] <= floors[widest]:
                break
            widths[widest] -= 1
        rows = [[_middle(cell, w) for cell, w in zip(row, widths)] for row in rows]
    return [
        "  " + "  ".join(cell + " " * (w - _width(cell)) for cell, w in zip(row, widths)).rstrip() for row in rows
    ]


def _shown_default(entry: CatalogEntry) -> str:
    if not entry.has_default:
        return "(none)"
    if entry.sensitive():
        return "<hidden>"
    text = entry.default if entry.default != "" else '""'
    return text if len(text) <= 40 else text[:37] + "..."


def _parameter_lines(catalog: list[CatalogEntry], columns: Optional[int] = None) -> list[str]:
    """The catalog as a table; the friendly key of a row is ASSET.PROPERTY (or the name alone)."""
    if not catalog:
        return ["Parameters: none (the export asked for no overrides)"]
    rows = [["ASSET", "PROPERTY", "DEFAULT", "REQUIRED", "CREDENTIAL"]]
    previous = None
    for entry in catalog:
        asset = entry.asset_key() or ("(global)" if entry.kind == "global" else "(unknown)")
        required = "yes" if not entry.has_default else ("yes (connection)" if entry.connection else "no")
        rows.append(
            [
                asset if asset != previous else "",
                entry.property or entry.name,
                _shown_default(entry),
                required,
                "yes" if entry.credential else "no",
            ]
        )
        previous = asset
    heading = f"Parameters ({len(catalog)}; set each as ASSET.PROPERTY, or by its global name):"
    table = _table(rows)
    if columns is None or max(_width(line) for line in table) <= columns:
        return [heading, *table]
    # Too wide for the terminal: each asset on a line of its own, its properties indented below it.
    fitted = _table([row[1:] for row in rows], columns - 2)
    lines = [heading, f"  {fitted[0]}"]
    for row, line in zip(rows[1:], fitted[1:]):
        lines += [f"  {row[0]}"] if row[0] else []
        lines.append(f"  {line}")
    return lines


def _nested_json(deployed: DeployableTemplate) -> Optional[dict[str, Any]]:
    """How a template over one stack's limits is deployed (None when it fits one stack)."""
    if not deployed.nested:
        return None
    plan, unsplittable = deployed.nesting
    stacks = [{"name": n.name, "size": n.size, "resources": list(n.resources)} for n in plan.nested] if plan else []
    return {"stacks": stacks, "cannot_split": unsplittable}


def _json_report(
    source: str,
    template: Template,
    sha256: str,
    downloaded: int,
    deployed: DeployableTemplate,
    catalog: list[CatalogEntry],
    repairs: Optional[list[dict[str, Any]]],
) -> str:
    def shown(entry: CatalogEntry) -> dict[str, Any]:
        data = entry.model_dump(exclude_none=True)
        if entry.sensitive() and "default" in data:
            data["default"] = "<hidden>"
        return data

    report = {
        "bundle": source,
        "source": template.source,
        "sha256": sha256,
        "size": {
            "compact": template.size,
            "downloaded": downloaded,
            "inline_as_sent": deployed.inline_size,
            "inline_limit": INLINE_TEMPLATE_LIMIT,
            "inline": deployed.inline,
            "url_limit": URL_TEMPLATE_LIMIT,
            "deployable": deployed.deployable,
            "nested": _nested_json(deployed),
        },
        "resources": summarize_resources(template.document),
        "parameters": [shown(entry) for entry in catalog],
        # Everything the text shows: the principals to map, the literal values, the limits.
        "principals": [
            {"text": p.text, "parameter": p.parameter, "kept_because": p.kept_because, "assets": list(p.assets)}
            for p in find_principals(template.document)
        ],
        "literal_values": [dataclasses.asdict(value) for value in literal_connection_values(template.document)],
        "limits": {
            "resources": {"count": deployed.resources, "limit": RESOURCE_LIMIT},
            "parameters": {"count": deployed.parameters, "limit": PARAMETER_LIMIT},
            "outputs": {"count": deployed.outputs, "limit": OUTPUT_LIMIT},
            "exceeded": list(deployed.exceeded()),
        },
        "refused_data_sources": [
            {"asset": asset, "variant": variant, "reason": why} for asset, variant, why in refused_in_template(template.document)
        ],
        # None when cfn-lint is not installed (the text says "not looked at").
        "repairs": repairs,
    }
    return json.dumps(_shown_json(report), ensure_ascii=False, indent=2)


def _load_job(args: argparse.Namespace, err: IO[str]) -> tuple[Template, str, int]:
    from .aws import fetch_export  # noqa: PLC0415
    from .core.models import ExportInputs  # noqa: PLC0415

    inputs = ExportInputs(
        source_account_id=args.source_account_id,
        export_job_id=args.export_job_id,
        source_region=args.source_region,
        source_role_arn=args.source_role_arn,
        export_timeout_seconds=args.export_timeout_seconds,
    )
    print(
        f"waiting for export job {args.export_job_id} in account {args.source_account_id} "
        f"(up to {args.export_timeout_seconds} s)...",
        file=err,
    )
    try:
        fetched = fetch_export(inputs, progress=lambda status: print(f"  job status {_shown(status)}", file=err))
    except QuickSightPromotionError as exc:
        raise QuickSightPromotionError(_INPUT_WORDS.sub(lambda m: _FLAG_FOR_INPUT[m.group()], str(exc))) from exc
    print(f"downloaded {fetched.downloaded_bytes:,} bytes", file=err)
    return fetched.template, fetched.sha256, fetched.downloaded_bytes


def _show_overrides(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """``inspect --show-overrides``: a release's pre-flight and the override configuration it would use."""
    from .aws.release_cut import ReleaseRequest, preview_release  # noqa: PLC0415
    from .core.overrides import describe_overrides  # noqa: PLC0415

    dashboards = tuple(v.strip() for v in args.dashboards.split(",") if v.strip())
    analyses = tuple(v.strip() for v in args.analyses.split(",") if v.strip())
    if not args.source_account_id or not (dashboards or analyses):
        raise _usage(args, "--show-overrides needs --source-account-id and --dashboards and/or --analyses")
    request = ReleaseRequest(
        source_account_id=args.source_account_id,
        release_name=args.release_name,
        dashboard_ids=dashboards,
        analysis_ids=analyses,
        source_region=args.source_region,
        source_role_arn=args.source_role_arn,
        id_prefix=not args.no_id_prefix,
    )
    try:
        prepared = preview_release(request)
    except QuickSightPromotionError as exc:
        print(f"error: {exc}", file=err)
        return 1
    contents = prepared.contents
    lines = [
        f"Release {args.release_name!r}: job id {prepared.ref.job_id} in account {prepared.ref.account} "
        f"({prepared.ref.region}); pre-flight passed, nothing was started",
        f"ResourceArns ({len(prepared.resource_arns)}): {', '.join(prepared.resource_arns)}",
        f"Bundle: {len(contents.data_sets)} data set(s), {len(contents.data_sources)} data source(s), "
        f"{len(contents.themes)} theme(s), {len(contents.vpc_connections)} VPC connection(s), "
        f"{len(contents.refresh_schedules)} refresh schedule(s)",
        "Overrides (CloudFormationOverridePropertyConfiguration):",
        *(f"  {line}" for line in describe_overrides(prepared.overrides)),
        *(f"Note: {note}" for note in contents.notes),
        *json.dumps(_shown_json(prepared.overrides), indent=2).splitlines(),
    ]
    _print_lines(lines, out)
    return 0


def _inspect(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    if args.show_overrides:
        return _show_overrides(args, out, err)
    if (args.bundle is None) == (args.export_job_id is None):
        raise _usage(args, "give either a bundle file or --source-account-id and --export-job-id")
    if args.export_job_id and not args.source_account_id:
        raise _usage(args, "--export-job-id needs --source-account-id")
    try:
        template, sha256, downloaded = _load_job(args, err) if args.export_job_id else load_bundle_file(args.bundle)
        catalog = build_catalog(template.document)
    except QuickSightPromotionError as exc:
        print(f"error: {exc}", file=err)
        return 1
    deployed = deployable(template.body, [entry.model_dump() for entry in catalog])
    source = str(args.bundle) if args.bundle else f"export job {args.export_job_id} in account {args.source_account_id}"
    target = args.out_dir / f"Pulumi.{args.stage_config}.yaml" if args.stage_config else None
    if target is not None and target.exists() and not args.force:
        # Before the report: an error at its end would scroll out of sight.
        print(f"error: {target} exists: pass --force to overwrite it", file=err)
        return 1
    if args.json:
        print(_json_report(source, template, sha256, downloaded, deployed, catalog, _repairs(template, args.source_region)), file=out)
    else:
        columns = _columns(out)
        lines = [f"Bundle: {source} ({template.source}), sha256 {sha256}"]
        lines += _size_lines(template, deployed, downloaded)
        lines += _resource_lines(template)
        lines += _parameter_lines(catalog, columns)
        lines += _principal_lines(template)
        lines += _literal_lines(template, columns)
        lines += _refused_lines(template)
        lines += _repair_lines(_repairs(template, args.source_region))
        lines += _limit_lines(deployed)
        _print_lines(lines, out, columns)
    if target is not None:
        settings = {
            "sourceAccountId": args.source_account_id,
            "exportJobId": args.export_job_id,
            "sourceRegion": args.source_region,
            "sourceRoleArn": args.source_role_arn,
        }
        skeleton = stage_config_skeleton(catalog, args.stage_config, settings={k: v for k, v in settings.items() if v})
        skeleton += principals_skeleton(principalize(template.document))
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(skeleton, encoding="utf-8")
        print(f"Wrote {target}: fill in the <required: ...> values, then run pulumi up --stack {args.stage_config}", file=out)
    if not deployed.deployable:
        print(
            f"error: the template as deployed is {listing(deployed.exceeded())}: it cannot be deployed; split the "
            "export into smaller bundles",
            file=err,
        )
        return 1
    return 0


# --- diff ------------------------------------------------------------------------------------------------


def _diff(args: argparse.Namespace, out: IO[str], err: IO[str]) -> int:
    """``diff OLD NEW``: what a release changes, offline (``core.diff``)."""
    from .core.diff import describe_diff, diff_templates  # noqa: PLC0415

    try:
        old, new = load_bundle_file(args.old), load_bundle_file(args.new)
    except QuickSightPromotionError as exc:
        print(f"error: {exc}", file=err)
        return 1
    found = diff_templates(old.template.document, new.template.document)
    if args.json:
        print(json.dumps(found, indent=2), file=out)
    else:
        _print_lines([f"{args.old} (sha256 {old.sha256[:12]}) -> {args.new} (sha256 {new.sha256[:12]})", *describe_diff(found)], out)
    differ = bool(found["assets"] or found["parameters"]["added"] or found["parameters"]["removed"])
    return 1 if differ and args.exit_code else 0


# --- run -------------------------------------------------------------------------------------------------


def run(argv: Sequence[str], out: Optional[IO[str]] = None, err: Optional[IO[str]] = None, prog: Optional[str] = None) -> int:
    """Run the command line; returns the exit code (0 fine, 1 a problem found, 2 usage)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser(prog or _prog())
    try:
        try:
            args = parser.parse_args(argv)
        except SystemExit as exc:  # --help and --version
            return int(exc.code or 0)
        args.prog = parser.prog
        if args.command == "preflight":
            from .preflight import preflight  # noqa: PLC0415

            return preflight(
                args.bundle,
                args.stage,
                args.project,
                lint=not args.no_lint,
                out=out,
                err=err,
                as_json=args.json,
                strict=args.strict,
            )
        if args.command == "diff":
            return _diff(args, out, err)
        return _inspect(args, out, err)
    except _UsageError as exc:
        print(clean(str(exc), 1000), file=err)
        return 2
