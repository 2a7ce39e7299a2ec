"""``inspect``: show what an export bundle holds, offline (or fetched through the export path)."""

from __future__ import annotations

import argparse
import hashlib
import sys
import unicodedata
from pathlib import Path
from typing import IO, Sequence

from .core.bundle import Template, unpack_bundle
from .core.catalog import CatalogEntry, build_catalog, summarize_resources
from .core.literals import literal_connection_values
from .core.principals import find_principals, principalize, principals_skeleton
from .core.stage_values import stage_config_skeleton
from .core.transform import (
    INLINE_TEMPLATE_LIMIT,
    OUTPUT_LIMIT,
    PARAMETER_LIMIT,
    RESOURCE_LIMIT,
    URL_TEMPLATE_LIMIT,
    deployable,
)
from .errors import QuickSightPromotionError



def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components",
        description="Inspect (or generate) QuickSight CLOUDFORMATION_JSON asset bundles.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="show the resources, parameters and size of a bundle")
    inspect.add_argument("bundle", nargs="?", type=Path, help="a downloaded bundle (.json or .zip)")
    inspect.add_argument("--account-id", help="fetch through the export path: the source account id")
    inspect.add_argument("--job-id", help="fetch through the export path: the export job id")
    inspect.add_argument("--region", help="the source region (else the AWS chain's)")
    inspect.add_argument("--role-arn", help="a role in the source account to assume")
    inspect.add_argument("--timeout", type=int, default=1800, help="seconds to wait for the job (default 1800)")
    inspect.add_argument(
        "--stage-config", metavar="NAME", help="write a commented Pulumi.NAME.yaml skeleton of every parameter"
    )
    inspect.add_argument("--out-dir", type=Path, default=Path("."), help="where to write the skeleton (default .)")
    inspect.add_argument("--force", action="store_true", help="overwrite an existing Pulumi.NAME.yaml")
    generate = commands.add_parser("generate", help="write a realistic generated CLOUDFORMATION_JSON bundle")
    generate.add_argument("--out", required=True, type=Path, help="file to write (a .json, or a .zip with --zip)")
    generate.add_argument("--scale", type=int, default=1, help="multiplies visuals and calculated fields (default 1)")
    generate.add_argument("--seed", type=int, default=0, help="seed of ids and hashes (default 0)")
    generate.add_argument("--zip", action="store_true", help="write a zip holding the JSON template")
    generate.add_argument("--compact", action="store_true", help="write compact JSON instead of pretty-printed")
    generate.add_argument("--no-id-prefix", action="store_true", help="export without ResourceIdPrefixForAllResources")
    generate.add_argument("--no-permissions", action="store_true", help="export without permissions and IdentityRegion")
    return parser


def _size_lines(template: Template, catalog: list[CatalogEntry], downloaded: int) -> list[str]:
    """Sizes against CloudFormation's limits, measured on what the component would deploy."""
    deployed = deployable(template.body, [entry.model_dump() for entry in catalog])
    inline = "fits" if deployed.inline else "too large: the template is staged in S3"
    url = "fits" if deployed.deployable else "TOO LARGE: split the export into smaller bundles"
    return [
        f"Template size: {template.size:,} bytes compact ({downloaded:,} bytes as downloaded)",
        f"  inline TemplateBody limit {INLINE_TEMPLATE_LIMIT:,} B: {inline} ({deployed.inline_size:,} B as sent)",
        f"  TemplateURL (S3) limit   {URL_TEMPLATE_LIMIT:,} B: {url}",
    ]


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


def _literal_lines(template: Template) -> list[str]:
    """Connection values written as literals: every stage would use the source's."""
    literals = literal_connection_values(template.document)
    if not literals:
        return ["Literal connection values: none"]
    lines = [
        f"Literal connection values ({len(literals)}; every stage would use these source values: "
        "re-export with CloudFormationOverridePropertyConfiguration for them):"
    ]
    rows = [["ASSET", "PROPERTY", "VALUE"], *([v.asset, v.property, v.value] for v in literals)]
    return [*lines, *_table(rows)]


def _principal_skeleton(template: Template) -> str:
    """The stage file's ``principals`` section (or a commented ``grant`` example), appended to the skeleton."""
    return principals_skeleton(principalize(template.document))


def _limit_lines(template: Template, catalog: list[CatalogEntry]) -> list[str]:
    """CloudFormation's per-template limits, counted on the template as deployed."""
    deployed = deployable(template.body, [entry.model_dump() for entry in catalog])
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


def _table(rows: list[list[str]]) -> list[str]:
    widths = [max(_width(row[i]) for row in rows) for i in range(len(rows[0]))]
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


def _parameter_lines(catalog: list[CatalogEntry]) -> list[str]:
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
    return [f"Parameters ({len(catalog)}; set each as ASSET.PROPERTY, or by its global name):", *_table(rows)]


def _load_file(path: Path) -> tuple[Template, str, int]:
    try:
        with path.open("rb") as fh:
            digest = hashlib.file_digest(fh, "sha256").hexdigest()
            size = fh.tell()
            return unpack_bundle(fh), digest, size
    except OSError as exc:
        raise QuickSightPromotionError(f"cannot read bundle file {str(path)!r}: {exc.strerror or exc}") from exc


def _load_job(args: argparse.Namespace) -> tuple[Template, str, int]:
    from .aws import fetch_export
    from .core.models import ExportInputs

    inputs = ExportInputs(
        aws_account_id=args.account_id,
        export_job_id=args.job_id,
        region=args.region,
        role_arn=args.role_arn,
        timeout_seconds=args.timeout,
    )
    fetched = fetch_export(inputs)
    return fetched.template, fetched.sha256, fetched.downloaded_bytes


def _generate(args: argparse.Namespace, parser: argparse.ArgumentParser, out: IO[str]) -> int:
    from .core.generator import dump_bundle, generate_bundle, zip_bundle  # noqa: PLC0415

    try:
        doc = generate_bundle(
            seed=args.seed, scale=args.scale, id_prefix=not args.no_id_prefix, include_permissions=not args.no_permissions
        )
    except QuickSightPromotionError as exc:
        parser.error(str(exc))
    data = dump_bundle(doc, pretty=not args.compact).encode("utf-8")
    if args.zip:
        data = zip_bundle(data, f"assetbundle-seed{args.seed}-scale{args.scale}.json")
    args.out.write_bytes(data)
    print(
        f"wrote {args.out}: {len(data):,} bytes, {len(doc['Resources'])} resources, {len(doc['Parameters'])} parameters",
        file=out,
    )
    return 0


def run(argv: Sequence[str], out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 fine, 2 usage, 1 a bad bundle or job)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    if args.command == "generate":
        return _generate(args, parser, out)
    if (args.bundle is None) == (args.job_id is None):
        parser.error("give either a bundle file or --account-id and --job-id")
    if args.job_id and not args.account_id:
        parser.error("--job-id needs --account-id")
    try:
        template, sha256, downloaded = _load_job(args) if args.job_id else _load_file(args.bundle)
        catalog = build_catalog(template.document)
    except QuickSightPromotionError as exc:
        print(f"error: {exc}", file=err)
        return 1
    source = args.bundle or f"export job {args.job_id} in account {args.account_id}"
    lines = [f"Bundle: {source} ({template.source}), sha256 {sha256}"]
    lines += _size_lines(template, catalog, downloaded)
    lines += _resource_lines(template)
    lines += _parameter_lines(catalog)
    lines += _principal_lines(template)
    lines += _literal_lines(template)
    lines += _limit_lines(template, catalog)
    if args.stage_config:
        target = args.out_dir / f"Pulumi.{args.stage_config}.yaml"
        if target.exists() and not args.force:
            print("\n".join(lines), file=out)
            print(f"error: {target} exists: pass --force to overwrite it", file=err)
            return 1
        target.write_text(
            stage_config_skeleton(catalog, args.stage_config) + _principal_skeleton(template), encoding="utf-8"
        )
        lines.append(f"Wrote {target}: fill in the <required: ...> values, then run pulumi up --stack {args.stage_config}")
    print("\n".join(lines), file=out)
    return 0
