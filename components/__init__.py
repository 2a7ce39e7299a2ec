"""quicksight-promotion: promote Amazon QuickSight assets between AWS accounts through CloudFormation.

Public API. Importing this package has no side effects: no AWS client, no Pulumi resource.
Inside this project it is imported as ``components``; installed with pip (``pyproject.toml``)
it is the package ``quicksight_promotion``, so it cannot collide with a ``components`` folder
of the stack that uses it.
"""

from .core.bundle import BundleLimits, Template, parse_template, unpack_bundle
from .core.models import ExportInputs, ExportOutputs
from .core.polling import Backoff
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
    QuickSightPromotionError,
    ThrottledError,
)
from .provider import AssetBundleExport, AssetBundleExportProvider

__all__ = [
    "AssetBundleExport",
    "AssetBundleExportProvider",
    "AwsAccessError",
    "Backoff",
    "BundleFormatError",
    "BundleLimits",
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
    "QuickSightPromotionError",
    "Template",
    "ThrottledError",
    "parse_template",
    "unpack_bundle",
]
