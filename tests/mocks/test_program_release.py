"""The program's source-stage mode (releaseName) under Pulumi mocks, and its configuration checks."""

from __future__ import annotations

import json
import runpy
from pathlib import Path
from typing import Any

import pulumi
import pytest
import yaml

from mocks import RecordingMocks, install
from components.errors import InputError
from components.program import parse_config

SOURCE = {"sourceAccountId": "111122223333"}
ROOT = Path(__file__).resolve().parents[2]


@pulumi.runtime.test
def test_the_source_stage_cuts_a_release_of_the_configured_assets() -> pulumi.Output:
    mocks = install(RecordingMocks())
    pulumi.runtime.set_all_config(
        {
            "quicksight-promotion:sourceAccountId": "111122223333",
            "quicksight-promotion:sourceRegion": "eu-west-1",
            "quicksight-promotion:releaseName": "sales-42",
            "quicksight-promotion:releaseDashboards": json.dumps(["sales-dashboard"]),
            "quicksight-promotion:releaseAnalyses": json.dumps(["sales-analysis"]),
            "quicksight-promotion:releaseIncludePermissions": "true",
            "quicksight-promotion:releaseIdPrefix": "false",
            "quicksight-promotion:exportTimeoutSeconds": "900",
        },
        [],
    )
    from components.program import run

    release = run()

    def check(_: Any) -> None:
        (made,) = mocks.by_type("quicksight:AssetBundleRelease")
        assert made.inputs["source_account_id"] == "111122223333"
        assert made.inputs["release_name"] == "sales-42"
        assert made.inputs["dashboard_ids"] == ["sales-dashboard"]
        assert made.inputs["analysis_ids"] == ["sales-analysis"]
        assert made.inputs["source_region"] == "eu-west-1"
        assert made.inputs["include_permissions"] is True and made.inputs["id_prefix"] is False
        assert made.inputs["export_timeout_seconds"] == 900
        assert mocks.by_type("quicksight:AssetBundleExport") == []
        assert mocks.by_type("cloudformation/stack:Stack") == []

    return release.urn.apply(check)


@pytest.mark.parametrize(
    ("raw", "said"),
    [
        ({**SOURCE, "releaseName": "r", "exportJobId": "j", "releaseDashboards": ["d"]},
         "set either quicksight-promotion:releaseName (the source stage cuts a release) or quicksight-promotion:exportJobId"),
        ({**SOURCE, "releaseName": "r"},
         "quicksight-promotion:releaseName is set but neither quicksight-promotion:releaseDashboards nor "
         "quicksight-promotion:releaseAnalyses names an asset"),
        ({**SOURCE, "releaseName": ""},
         "quicksight-promotion:exportJobId is required (pulumi config set quicksight-promotion:exportJobId <value>), "
         "or quicksight-promotion:releaseName for the source stage"),
    ],
)  # fmt: skip
def test_the_modes_are_checked(raw: dict[str, Any], said: str) -> None:
    with pytest.raises(InputError) as info:
        parse_config(raw)
    assert said in str(info.value)


def test_a_release_needs_no_export_job_id() -> None:
    config = parse_config({**SOURCE, "releaseName": "r", "releaseAnalyses": ["a"]})
    assert config.release_name == "r" and config.export_job_id is None and config.release_strict_validation is True


@pulumi.runtime.test
def test_the_dev_stage_example_cuts_the_release_the_test_stage_deploys() -> pulumi.Output:
    mocks = install(RecordingMocks())
    config = yaml.safe_load((ROOT / "examples" / "Pulumi.dev.yaml").read_text(encoding="utf-8"))["config"]
    pulumi.runtime.set_all_config({k: v if isinstance(v, str) else json.dumps(v) for k, v in config.items()}, [])
    program = runpy.run_path(str(ROOT / "__main__.py"))
    test_stage = yaml.safe_load((ROOT / "examples" / "Pulumi.test.yaml").read_text(encoding="utf-8"))["config"]

    def check(_: Any) -> None:
        (made,) = mocks.by_type("quicksight:AssetBundleRelease")
        assert made.inputs["dashboard_ids"] == ["sales-dashboard"] and made.inputs["include_permissions"] is True
        # The release's job id is its name: the one the test stage deploys.
        from components.core.overrides import release_job_id

        assert release_job_id(made.inputs["release_name"]) == test_stage["quicksight-promotion:exportJobId"]

    return program["bundle"].urn.apply(check)
