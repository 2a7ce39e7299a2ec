"""The AWS boundary: the only package that creates boto3 clients or talks to AWS endpoints.

- ``calls``: the one call layer: every AWS call made for a named subject within a deadline, fitted
  to the time left, bounded in wall time, its transient faults retried until the deadline, every
  failure read through one table per service (QuickSight, CloudFormation, S3, STS) into our errors;
- ``session``: client settings (timeouts and attempts fitted to a deadline) and sessions from the
  standard SDK chain (optionally an assumed role);
- ``download``: the pre-signed download of an exported file;
- ``quicksight``: describe, wait on, download and unpack an asset-bundle export job;
- ``cloudformation``: deploy a template through change sets, delete a stack (imported by the
  deployment provider only when it works).
- ``release_cut``: cut a release: pre-flight of its assets, StartAssetBundleExportJob with
  generated overrides (imported by the release provider only when it works);
- ``archive_writer``: write a release to the release archive, once (imported by the export and
  release providers only when ``archive_bucket`` is set).

Clients are created lazily, inside calls, never at import.
"""

from .calls import Calls, is_transient
from .download import DEFAULT_DOWNLOAD_LIMITS, DownloadLimits, check_download_url, download_to
from .quicksight import (
    FetchedExport,
    JobRef,
    check_pin,
    describe_export_job,
    download_export,
    fetch_export,
    quicksight_client,
    quicksight_clients,
    wait_for_export_job,
)
from .session import (
    CLIENT_CONFIG,
    DEFAULT_CALL_BUDGET,
    USER_AGENT,
    BudgetedClients,
    CallBudget,
    CallTimeout,
    call_within,
    harden,
)

__all__ = [
    "CLIENT_CONFIG",
    "DEFAULT_CALL_BUDGET",
    "DEFAULT_DOWNLOAD_LIMITS",
    "USER_AGENT",
    "BudgetedClients",
    "CallBudget",
    "CallTimeout",
    "Calls",
    "DownloadLimits",
    "FetchedExport",
    "JobRef",
    "call_within",
    "check_pin",
    "check_download_url",
    "describe_export_job",
    "download_export",
    "download_to",
    "fetch_export",
    "harden",
    "is_transient",
    "quicksight_client",
    "quicksight_clients",
    "wait_for_export_job",
]
