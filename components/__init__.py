"""quicksight-promotion: promote Amazon QuickSight assets between AWS accounts through CloudFormation.

Public API. Importing this package has no side effects: no AWS client, no Pulumi resource.
Inside this project it is imported as ``components``; installed with pip (``pyproject.toml``)
it is the package ``quicksight_promotion``, so it cannot collide with a ``components`` folder
of the stack that uses it.
"""

from importlib import import_module
from typing import TYPE_CHECKING, Any

from .errors import (
    AwsAccessError,
    BundleFormatError,
    DownloadError,
    DownloadRefusedError,
    DownloadUrlExpiredError,
    ExportFormatError,
    ExportJobError,
    ExportJobFailedError,
    ExportJobNotFoundError,
    ExportTimeoutError,
    InputError,
    IntegrityError,
    MalformedAnswerError,
    ParameterError,
    PrincipalError,
    ProblemsError,
    QuickSightPromotionError,
    ReleaseConflictError,
    ReleaseError,
    ReleasePreflightError,
    ServiceUnavailableError,
    ThrottledError,
    TransientError,
)

if TYPE_CHECKING:
    from .core.bundle import BundleLimits, Template, parse_template, unpack_bundle
    from .core.catalog import CatalogEntry, build_catalog
    from .core.deployment import (
        AccountMismatchError,
        ChangeSetFailedError,
        DeploymentError,
        DeploymentInputs,
        DeploymentTimeoutError,
        DeploymentUnavailableError,
        MalformedStackAnswerError,
        StackOperationFailedError,
        StackStateError,
    )
    from .core.models import ExportInputs, ExportOutputs
    from .core.overrides import build_overrides, release_job_id
    from .core.literals import LiteralValue, literal_connection_values
    from .deployment import CloudFormationDeployment, CloudFormationDeploymentProvider
    from .core.polling import Backoff
    from .core.principals import SourcePrincipal, find_principals, principalize
    from .core.stage_values import Resolution, resolve_parameters, stage_config_skeleton
    from .provider import AssetBundleExport, AssetBundleExportProvider
    from .release import AssetBundleRelease, AssetBundleReleaseProvider
    from .stack import QuickSightBundleStack, QuickSightBundleStackArgs, TemplateTooLargeError
    from .validation import TemplateValidationError

# Everything but the errors is loaded on first use (PEP 562): `import components` stays as light
# as the errors module, and a program pays for pydantic, pulumi and pulumi_aws only when it uses
# the names that need them (bench/imports.py).
_LAZY = {
    "ArchivedTemplate": ".archive",
    "ReleaseArchive": ".archive",
    "read_archived_release": ".archive",
    "ArchiveConflictError": ".core.archive",
    "ArchiveError": ".core.archive",
    "ReleaseManifest": ".core.archive",
    "resource_digests": ".core.archive",
    "ReleasePinError": ".stack",
    "BundleLimits": ".core.bundle",
    "Template": ".core.bundle",
    "parse_template": ".core.bundle",
    "unpack_bundle": ".core.bundle",
    "CatalogEntry": ".core.catalog",
    "build_catalog": ".core.catalog",
    "AccountMismatchError": ".core.deployment",
    "ChangeSetFailedError": ".core.deployment",
    "DeploymentError": ".core.deployment",
    "DeploymentInputs": ".core.deployment",
    "DeploymentTimeoutError": ".core.deployment",
    "DeploymentUnavailableError": ".core.deployment",
    "MalformedStackAnswerError": ".core.deployment",
    "StackOperationFailedError": ".core.deployment",
    "StackStateError": ".core.deployment",
    "CloudFormationDeployment": ".deployment",
    "CloudFormationDeploymentProvider": ".deployment",
    "ExportInputs": ".core.models",
    "ExportOutputs": ".core.models",
    "build_overrides": ".core.overrides",
    "release_job_id": ".core.overrides",
    "Backoff": ".core.polling",
    "LiteralValue": ".core.literals",
    "literal_connection_values": ".core.literals",
    "SourcePrincipal": ".core.principals",
    "find_principals": ".core.principals",
    "principalize": ".core.principals",
    "Resolution": ".core.stage_values",
    "resolve_parameters": ".core.stage_values",
    "stage_config_skeleton": ".core.stage_values",
    "AssetBundleExport": ".provider",
    "AssetBundleExportProvider": ".provider",
    "AssetBundleRelease": ".release",
    "AssetBundleReleaseProvider": ".release",
    "QuickSightBundleStack": ".stack",
    "QuickSightBundleStackArgs": ".stack",
    "TemplateTooLargeError": ".stack",
    "TemplateValidationError": ".validation",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        return getattr(import_module(_LAZY[name], __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(__all__)


__all__ = [
    "AccountMismatchError",
    "ArchiveConflictError",
    "ArchiveError",
    "ArchivedTemplate",
    "AssetBundleExport",
    "AssetBundleExportProvider",
    "AssetBundleRelease",
    "AssetBundleReleaseProvider",
    "AwsAccessError",
    "Backoff",
    "BundleFormatError",
    "BundleLimits",
    "CatalogEntry",
    "ChangeSetFailedError",
    "CloudFormationDeployment",
    "CloudFormationDeploymentProvider",
    "DeploymentError",
    "DeploymentInputs",
    "DeploymentTimeoutError",
    "DeploymentUnavailableError",
    "DownloadError",
    "DownloadRefusedError",
    "DownloadUrlExpiredError",
    "ExportFormatError",
    "ExportInputs",
    "ExportJobError",
    "ExportJobFailedError",
    "ExportJobNotFoundError",
    "ExportOutputs",
    "ExportTimeoutError",
    "InputError",
    "IntegrityError",
    "LiteralValue",
    "MalformedAnswerError",
    "MalformedStackAnswerError",
    "ParameterError",
    "PrincipalError",
    "ProblemsError",
    "QuickSightBundleStack",
    "QuickSightBundleStackArgs",
    "QuickSightPromotionError",
    "ReleaseArchive",
    "ReleaseConflictError",
    "ReleaseError",
    "ReleaseManifest",
    "ReleasePinError",
    "ReleasePreflightError",
    "Resolution",
    "ServiceUnavailableError",
    "SourcePrincipal",
    "StackOperationFailedError",
    "StackStateError",
    "Template",
    "TemplateTooLargeError",
    "TemplateValidationError",
    "ThrottledError",
    "TransientError",
    "build_catalog",
    "build_overrides",
    "find_principals",
    "literal_connection_values",
    "parse_template",
    "principalize",
    "read_archived_release",
    "release_job_id",
    "resolve_parameters",
    "resource_digests",
    "stage_config_skeleton",
    "unpack_bundle",
]
