"""Pulumi mocks: the resource graph as the program builds it.

Constructing a dynamic resource under mocks also serialises its provider (as ``pulumi up``
does), so these tests fail if the provider stops being picklable.
"""

from __future__ import annotations

import base64
from typing import Any

import dill
import pulumi
import pytest

from components import AssetBundleExport, AssetBundleExportProvider
from conftest import sample_template
from mocks import RecordingMocks, install



@pytest.fixture(autouse=True)
def mocks() -> RecordingMocks:
    return install(RecordingMocks(template=sample_template()))


def _by_name(mocks: RecordingMocks, name: str) -> pulumi.runtime.MockResourceArgs:
    return next(r for r in mocks.resources if r.name == name)


@pulumi.runtime.test
def test_export_resource_registers_with_the_dynamic_type_token_and_inputs(mocks: RecordingMocks) -> pulumi.Output:
    bundle = AssetBundleExport(
        "sales",
        source_account_id="111111111111",
        export_job_id="release-42",
        source_region="us-east-1",
        export_timeout_seconds=60,
    )

    def check(values: list[Any]) -> None:
        sha, size = values
        registered = _by_name(mocks, "sales")
        assert registered.typ == "pulumi-python:dynamic/quicksight:AssetBundleExport"
        assert registered.inputs["source_account_id"] == "111111111111"
        assert registered.inputs["export_job_id"] == "release-42"
        assert registered.inputs["source_region"] == "us-east-1"
        assert registered.inputs["export_timeout_seconds"] == 60
        assert len(sha) == 64 and size > 0

    return pulumi.Output.all(bundle.template_sha256, bundle.template_size).apply(check)


@pulumi.runtime.test
def test_serialised_provider_is_a_small_stateless_reference_to_the_class(mocks: RecordingMocks) -> pulumi.Output:
    bundle = AssetBundleExport("pickled", source_account_id="111111111111", export_job_id="job-1")

    def check(_: Any) -> None:
        serialised = _by_name(mocks, "pickled").inputs["__provider"]
        # Not a secret: the provider captures nothing secret (serialize_as_secret_always=False).
        assert isinstance(serialised, str)
        provider = dill.loads(base64.b64decode(serialised))
        assert type(provider) is AssetBundleExportProvider
        assert type(provider).__module__ == "components.provider"
        assert vars(provider) == {}
        # dill pickles an importable class by reference: a few bytes, no code.
        assert len(base64.b64decode(serialised)) < 200

    return bundle.export_job_arn.apply(check)


