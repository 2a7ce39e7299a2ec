"""Pulumi mocks: the resource graph as the program builds it.

Constructing a dynamic resource under mocks also serialises its provider (as ``pulumi up``
does), so these tests fail if the provider stops being picklable.
"""

from __future__ import annotations

import base64
import json
import runpy
from pathlib import Path
from typing import Any

import dill
import pulumi
import pytest

ROOT = Path(__file__).resolve().parent.parent


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource and answers with plausible export outputs."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ.endswith("quicksight:AssetBundleExport"):
            outputs.update(
                template_body='{"Resources":{}}',
                template_sha256="ab" * 32,
                template_size=16,
                export_job_arn=f"arn:aws:quicksight:us-east-1:{args.inputs['aws_account_id']}:asset-bundle-export-job/x",
                resource_arns=[],
                created_time="2026-11-01T10:00:00+00:00",
                warnings=[],
            )
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


mocks = RecordingMocks()
pulumi.runtime.set_mocks(mocks, project="quicksight-promotion", stack="test", preview=False)

from components import AssetBundleExport, AssetBundleExportProvider  # noqa: E402  (after set_mocks)


def _by_name(name: str) -> pulumi.runtime.MockResourceArgs:
    return next(r for r in mocks.resources if r.name == name)


@pulumi.runtime.test
def test_export_resource_registers_with_the_dynamic_type_token_and_inputs() -> pulumi.Output:
    bundle = AssetBundleExport(
        "sales", aws_account_id="111111111111", export_job_id="release-42", region="us-east-1", timeout_seconds=60
    )

    def check(values: list[Any]) -> None:
        sha, size = values
        registered = _by_name("sales")
        assert registered.typ == "pulumi-python:dynamic/quicksight:AssetBundleExport"
        assert registered.inputs["aws_account_id"] == "111111111111"
        assert registered.inputs["export_job_id"] == "release-42"
        assert registered.inputs["region"] == "us-east-1"
        assert registered.inputs["timeout_seconds"] == 60
        assert sha == "ab" * 32 and size == 16

    return pulumi.Output.all(bundle.template_sha256, bundle.template_size).apply(check)


@pulumi.runtime.test
def test_serialised_provider_is_a_small_stateless_reference_to_the_class() -> pulumi.Output:
    bundle = AssetBundleExport("pickled", aws_account_id="111111111111", export_job_id="job-1")

    def check(_: Any) -> None:
        serialised = _by_name("pickled").inputs["__provider"]
        # Not a secret: the provider captures nothing secret (serialize_as_secret_always=False).
        assert isinstance(serialised, str)
        provider = dill.loads(base64.b64decode(serialised))
        assert type(provider) is AssetBundleExportProvider
        assert type(provider).__module__ == "components.provider"
        assert vars(provider) == {}
        # dill pickles an importable class by reference: a few bytes, no code.
        assert len(base64.b64decode(serialised)) < 200

    return bundle.export_job_arn.apply(check)


@pulumi.runtime.test
def test_the_program_builds_the_export_from_stack_config() -> pulumi.Output:
    pulumi.runtime.set_config(
        "quicksight-promotion:source",
        json.dumps({"aws_account_id": "222222222222", "export_job_id": "release-7", "region": "eu-west-1"}),
    )
    program = runpy.run_path(str(ROOT / "__main__.py"))

    def check(_: Any) -> None:
        registered = _by_name("bundle")
        assert registered.inputs["aws_account_id"] == "222222222222"
        assert registered.inputs["export_job_id"] == "release-7"
        assert registered.inputs["region"] == "eu-west-1"

    return program["bundle"].export_job_arn.apply(check)
