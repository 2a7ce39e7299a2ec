"""``inspect``: show what an export bundle holds, offline (or fetched through the export path)."""

from __future__ import annotations

import argparse
import hashlib
import sys
from pathlib import Path
from typing import IO, Sequence

from .core.bundle import Template, unpack_bundle
from .errors import QuickSightPromotionError

INLINE_LIMIT = 51_200
URL_LIMIT = 1_048_576


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m components",
        description="Inspect a QuickSight CLOUDFORMATION_JSON asset bundle.",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    inspect = commands.add_parser("inspect", help="show the resources, parameters and size of a bundle")
    inspect.add_argument("bundle", nargs="?", type=Path, help="a downloaded bundle (.json or .zip)")
    inspect.add_argument("--account-id", help="fetch through the export path: the source account id")
    inspect.add_argument("--job-id", help="fetch through the export path: the export job id")
    inspect.add_argument("--region", help="the source region (else the AWS chain's)")
    inspect.add_argument("--role-arn", help="a role in the source account to assume")
    inspect.add_argument("--timeout", type=int, default=1800, help="seconds to wait for the job (default 1800)")
    return parser


def _size_lines(template: Template, downloaded: int) -> list[str]:
    inline = "fits" if template.size <= INLINE_LIMIT else "too large: the template is staged in S3"
    url = "fits" if template.size <= URL_LIMIT else "TOO LARGE: split the export into smaller bundles"
    return [
        f"Template size: {template.size:,} bytes compact ({downloaded:,} bytes as downloaded)",
        f"  inline TemplateBody limit {INLINE_LIMIT:,} B: {inline}",
        f"  TemplateURL (S3) limit   {URL_LIMIT:,} B: {url}",
    ]


def _resource_lines(template: Template) -> list[str]:
    by_type: dict[str, list[str]] = {}
    for logical_id, resource in template.document["Resources"].items():
        kind = str(resource.get("Type", "?")) if isinstance(resource, dict) else "?"
        by_type.setdefault(kind, []).append(logical_id)
    lines = [f"Resources ({sum(len(v) for v in by_type.values())}):"]
    for kind in sorted(by_type):
        lines.append(f"  {kind} ({len(by_type[kind])}): {', '.join(by_type[kind])}")
    return lines


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


def run(argv: Sequence[str], out: IO[str] | None = None, err: IO[str] | None = None) -> int:
    """Run the CLI; returns the exit code (0 fine, 2 usage, 1 a bad bundle or job)."""
    out = out or sys.stdout
    err = err or sys.stderr
    parser = _parser()
    args = parser.parse_args(argv)
    if (args.bundle is None) == (args.job_id is None):
        parser.error("give either a bundle file or --account-id and --job-id")
    if args.job_id and not args.account_id:
        parser.error("--job-id needs --account-id")
    try:
        template, sha256, downloaded = _load_job(args) if args.job_id else _load_file(args.bundle)
    except QuickSightPromotionError as exc:
        print(f"error: {exc}", file=err)
        return 1
    source = args.bundle or f"export job {args.job_id} in account {args.account_id}"
    lines = [f"Bundle: {source} ({template.source}), sha256 {sha256}"]
    lines += _size_lines(template, downloaded)
    lines += _resource_lines(template)
    print("\n".join(lines), file=out)
    return 0
