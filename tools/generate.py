"""``python -m tools.generate``: write a realistic generated CLOUDFORMATION_JSON bundle (tooling).

Exit codes: 0 written, 2 a usage error (one line naming the flag).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import IO, Optional, Sequence

from components.errors import QuickSightPromotionError
from tools.generator import dump_bundle, generate_bundle, zip_bundle


def _output_file(text: str) -> Path:
    path = Path(text)
    if path.is_dir() or not (path.parent if str(path.parent) else Path(".")).is_dir():
        raise argparse.ArgumentTypeError(f"{text!r} is not a file in an existing directory")
    return path


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m tools.generate", description="Write a realistic generated CLOUDFORMATION_JSON bundle."
    )
    parser.add_argument("--out", required=True, type=_output_file, help="file to write (a .json, or a .zip with --zip)")
    parser.add_argument("--scale", type=int, default=1, help="multiplies visuals and calculated fields (default 1)")
    parser.add_argument("--seed", type=int, default=0, help="seed of ids and hashes (default 0)")
    parser.add_argument("--zip", action="store_true", help="write a zip holding the JSON template")
    parser.add_argument("--compact", action="store_true", help="write compact JSON instead of pretty-printed")
    parser.add_argument("--no-id-prefix", action="store_true", help="export without ResourceIdPrefixForAllResources")
    parser.add_argument("--no-permissions", action="store_true", help="export without permissions and IdentityRegion")
    return parser


def main(argv: Optional[Sequence[str]] = None, out: Optional[IO[str]] = None) -> int:
    """Write the bundle; returns the exit code."""
    out = out or sys.stdout
    parser = _parser()
    args = parser.parse_args(argv)
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


if __name__ == "__main__":
    sys.exit(main())
