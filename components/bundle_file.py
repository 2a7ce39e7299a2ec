"""Reading an export file from disk for the command line's ``inspect`` and ``preflight`` (shell).

The bytes are hashed and parsed by the pure core (``core.bundle.read_local_bundle``); this module
only opens the file and names it in messages.
"""

from __future__ import annotations

from pathlib import Path

from .core.bundle import LocalBundle, read_local_bundle
from .errors import QuickSightPromotionError


def load_bundle_file(path: Path) -> LocalBundle:
    """Read, hash and parse the export file at ``path``.

    Args:
        path: A CLOUDFORMATION_JSON export: the JSON template, or a zip holding it.

    Returns:
        The template, the file's sha256 and its size.

    Raises:
        QuickSightPromotionError: the file cannot be read (``cannot read bundle file '<path>': ...``)
            or is no export (``bundle file '<path>': <why>``).
    """
    try:
        with path.open("rb") as fh:
            return read_local_bundle(fh)
    except OSError as exc:
        raise QuickSightPromotionError(f"cannot read bundle file {str(path)!r}: {exc.strerror or exc}") from exc
    except QuickSightPromotionError as exc:
        raise QuickSightPromotionError(f"bundle file {str(path)!r}: {exc}") from exc
