"""Child of bench/overhead.py: the raw steps by hand, in a minimal interpreter, on command.

Reads commands from stdin, one a line, and answers each with the seconds it took (wall clock,
then CPU time of this process):
``new`` (a new boto3 session and client, one Describe, one GET of the URL, ``json.loads``),
``reused`` (the same with one client made once), ``quit``. The job id is argv[1]; AWS_* come
from the environment (the emulator's).
"""

from __future__ import annotations

import json
import sys
import time
import urllib.request

import boto3

ACCOUNT = "111111111111"


def steps(client: object, job: str) -> None:
    described = client.describe_asset_bundle_export_job(  # type: ignore[attr-defined]
        AwsAccountId=ACCOUNT, AssetBundleExportJobId=job
    )
    with urllib.request.urlopen(described["DownloadUrl"], timeout=30) as response:  # noqa: S310 (loopback)
        json.loads(response.read())


def main() -> None:
    job = sys.argv[1]
    reused = boto3.session.Session().client("quicksight")
    steps(boto3.session.Session().client("quicksight"), job)  # warm-up: imports, first model load
    for line in sys.stdin:
        command = line.strip()
        if command == "quit":
            break
        start, cpu = time.perf_counter(), time.process_time()
        if command == "new":
            steps(boto3.session.Session().client("quicksight"), job)
        elif command == "reused":
            steps(reused, job)
        else:
            raise SystemExit(f"unknown command {command!r}")
        print(time.perf_counter() - start, time.process_time() - cpu, flush=True)


if __name__ == "__main__":
    main()
