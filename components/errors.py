"""Errors raised by quicksight-promotion.

Every error is one line that names the job, parameter or asset involved, the state that was
seen and what to do next. In a dynamic provider the exception message is the only thing a
``pulumi up`` user sees, so messages must be complete on their own. No message ever contains
the pre-signed download URL or any secret value.
"""

from __future__ import annotations


class QuickSightPromotionError(Exception):
    """Base class of every error this library raises on purpose."""


class InputError(QuickSightPromotionError, ValueError):
    """An input of a resource or component is missing or malformed."""


class ExportJobError(QuickSightPromotionError):
    """The export job cannot be used (not found, failed, wrong format, ...)."""


class ExportJobNotFoundError(ExportJobError):
    """DescribeAssetBundleExportJob answered ResourceNotFoundException."""


class ExportJobFailedError(ExportJobError):
    """The export job ended in the FAILED state."""


class ExportFormatError(ExportJobError):
    """The export job was not started with ExportFormat=CLOUDFORMATION_JSON."""


class ExportTimeoutError(ExportJobError):
    """The export job did not finish before the deadline."""


class AwsAccessError(QuickSightPromotionError):
    """AWS refused the call: credentials, permissions, edition or endpoint problems."""


class ThrottledError(QuickSightPromotionError):
    """QuickSight kept throttling after botocore's own retries were spent."""


class DownloadError(QuickSightPromotionError):
    """The exported file could not be downloaded."""


class DownloadUrlExpiredError(DownloadError):
    """The pre-signed URL was refused (expired or forbidden); describe the job again for a fresh one."""


class DownloadRefusedError(DownloadError):
    """We refuse this download (scheme, size or time limit): fetching it again would not help."""


class IntegrityError(QuickSightPromotionError):
    """The downloaded bytes do not hash to the expected sha256."""


class BundleFormatError(QuickSightPromotionError, ValueError):
    """The downloaded file is not a usable CloudFormation template (or zip holding one)."""


class ParameterError(InputError):
    """The stage's CloudFormation parameter values do not fit the export template's parameters.

    The message lists every problem found, separated by ``"; "``; ``problems`` holds them one by one.
    """

    def __init__(self, message: str, problems: tuple[str, ...] = ()) -> None:
        super().__init__(message)
        self.problems: tuple[str, ...] = tuple(problems)
