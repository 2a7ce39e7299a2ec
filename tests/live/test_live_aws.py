"""Opt-in checks against real AWS: skipped unless QSP_LIVE_AWS=1.

Needs credentials for the source account and an existing CLOUDFORMATION_JSON export job:
    QSP_LIVE_AWS=1 QSP_ACCOUNT_ID=111122223333 QSP_JOB_ID=sales-release-42 QSP_REGION=us-east-1 \\
        .venv/bin/python -m pytest tests/test_live_aws.py
"""

from __future__ import annotations

import json
import os

import pytest

from components.aws import fetch_export
from components.core.catalog import build_catalog
from components.core.models import ExportInputs

pytestmark = [
    pytest.mark.live_aws,
    pytest.mark.skipif(os.environ.get("QSP_LIVE_AWS") != "1", reason="live AWS tests run only with QSP_LIVE_AWS=1"),
]


def test_fetch_a_real_export_and_map_its_parameters() -> None:
    inputs = ExportInputs(
        source_account_id=os.environ["QSP_ACCOUNT_ID"],
        export_job_id=os.environ["QSP_JOB_ID"],
        source_region=os.environ.get("QSP_REGION"),
        source_role_arn=os.environ.get("QSP_ROLE_ARN"),
    )
    fetched = fetch_export(inputs)
    assert json.loads(fetched.template.body)["Resources"]
    assert len(fetched.sha256) == 64
    for entry in build_catalog(fetched.template.document):
        assert entry.kind != "unknown", f"unmapped parameter {entry.name}: {entry.note}"
