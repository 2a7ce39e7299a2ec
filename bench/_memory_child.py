"""Child of bench/memory.py: one ``fetch_export`` in a fresh interpreter, measuring its peak memory.

Usage: ``python bench/_memory_child.py JOB_ID {cached|fresh} [--trace] [--bundle-from=REV]`` with
the emulator's AWS_* environment. Prints one JSON line. ``--bundle-from`` unpacks with
``components/core/bundle.py`` as committed at git revision REV, for a before/after in the same run.

The baseline is taken after the imports and one warm-up fetch of a tiny job (so botocore's
loaders, urllib and the JSON machinery are loaded), after a ``gc.collect()``. The peak is the
kernel's high-water mark of resident memory (VmHWM), reset to the current RSS just before the
measured fetch by writing 5 to /proc/self/clear_refs; where that is not possible, the
``ru_maxrss`` high-water mark is used (it cannot be reset, so it may under-report).

``cached`` reuses the warm-up's QuickSight client (what the template costs); ``fresh`` creates a
client per fetch, as the provider does on every create (on the process's shared botocore data
loader, so the service model parsed by the warm-up is not parsed again).
"""

from __future__ import annotations

import gc
import json
import re
import resource
import sys
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from components.aws import quicksight as aws  # noqa: E402
from components.core.models import ExportInputs  # noqa: E402

SPOOLS: list[dict[str, object]] = []


class WatchedSpool(aws._Spool):  # noqa: SLF001
    """Records whether the download spool rolled over to disk, and at what threshold."""

    def _note(self) -> None:
        if not getattr(self, "_noted", False):
            self._noted = True
            SPOOLS.append({"rolled": bool(self._rolled), "max_size": self._max_size})

    def close(self) -> None:
        self._note()
        super().close()

    def __exit__(self, *exc: object) -> None:
        self._note()
        super().__exit__(*exc)


aws._Spool = WatchedSpool  # type: ignore[misc]  # noqa: SLF001


def _status(key: str) -> int:
    with open("/proc/self/status", encoding="ascii") as fh:
        match = re.search(key + r":\s+(\d+) kB", fh.read())
    return int(match.group(1)) * 1024 if match else 0


def _reset_peak() -> bool:
    try:
        with open("/proc/self/clear_refs", "w", encoding="ascii") as fh:
            fh.write("5")
        return True
    except OSError:
        return False


def _peak(resettable: bool) -> int:
    if resettable:
        return _status("VmHWM")
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def fetch(job: str):  # type: ignore[no-untyped-def]
    return aws.fetch_export(ExportInputs.model_validate({"source_account_id": "111111111111", "export_job_id": job}))


def use_bundle_from_git(revision: str) -> None:
    """Unpack with ``components/core/bundle.py`` as of ``revision`` (a side-by-side "before")."""
    import importlib.util
    import subprocess

    repo = Path(__file__).resolve().parent.parent
    source = subprocess.run(
        ["git", "show", f"{revision}:components/core/bundle.py"], cwd=repo, capture_output=True, check=True
    ).stdout
    spec = importlib.util.spec_from_loader("components.core._bundle_before", loader=None)
    assert spec is not None
    module = importlib.util.module_from_spec(spec)
    module.__package__ = "components.core"
    sys.modules[spec.name] = module
    exec(compile(source, f"{revision}:components/core/bundle.py", "exec"), module.__dict__)  # noqa: S102
    aws.unpack_bundle = module.unpack_bundle  # type: ignore[attr-defined]


def main() -> None:
    job, mode = sys.argv[1], sys.argv[2]
    trace = "--trace" in sys.argv
    for arg in sys.argv:
        if arg.startswith("--bundle-from="):
            use_bundle_from_git(arg.split("=", 1)[1])
    if mode == "cached":
        real = aws.quicksight_client
        clients: dict[str, object] = {}

        def cached(ref, role_arn):  # type: ignore[no-untyped-def]
            if "client" not in clients:
                clients["client"] = real(ref, role_arn)
            return clients["client"]

        aws.quicksight_client = cached  # type: ignore[assignment]
    warm = fetch("tiny")
    del warm
    SPOOLS.clear()
    gc.collect()
    if trace:
        tracemalloc.start()
    resettable = _reset_peak()
    base = _peak(resettable) if resettable else _status("VmRSS")
    fetched = fetch(job)
    peak = _peak(resettable)
    result = {
        "peak_over_base": peak - base,
        "rss_after_over_base": _status("VmRSS") - base,
        "resettable": resettable,
        "downloaded": fetched.downloaded_bytes,
        "template_size": fetched.template.size,
        "spools": SPOOLS,
    }
    if trace:
        result["traced_peak"] = tracemalloc.get_traced_memory()[1]
    print(json.dumps(result))


if __name__ == "__main__":
    main()
