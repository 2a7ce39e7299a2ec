"""``components.testing``: the mocks a consumer's own unit tests use (no harness of ours)."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest

from components.archive import read_archived_release
from components.errors import InputError
from components.stack import QuickSightBundleStack, QuickSightBundleStackArgs
from components.testing import QuickSightMocks, SAMPLE_TEMPLATE, set_mocks
from conftest import sample_template
from mocks import run_failing_program


class EchoMocks(pulumi.runtime.Mocks):
    """What a consumer writes without this module: every resource echoes its inputs."""

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        return f"{args.name}-id", dict(args.inputs)

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


def _stack(name: str = "sales", **overrides: Any) -> QuickSightBundleStack:
    base: dict[str, Any] = {"source_account_id": "111122223333", "export_job_id": "job-1"}
    return QuickSightBundleStack(name, QuickSightBundleStackArgs(**(base | overrides)))


def test_plain_mocks_fail_inside_the_component() -> None:
    """Why the module exists: the export's echoed inputs carry no template."""
    pulumi.runtime.set_mocks(EchoMocks(), project="project", stack="test", preview=False)
    failure = run_failing_program(lambda: _stack().stack_name)
    assert TypeError in failure.types and "the JSON object must be str" in failure.message


def test_the_sample_template_deploys_under_the_mocks() -> None:
    mocks = set_mocks(account_id="444455556666", region="eu-west-1")

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        stack = _stack()

        def check(values: list[Any]) -> None:
            urls, stack_id, sha, digests = values
            assert urls == ["https://eu-west-1.quicksight.aws.amazon.com/sn/dashboards/sales-dashboard"]
            assert stack_id.startswith("arn:aws:cloudformation:eu-west-1:444455556666:stack/project-test-sales/")
            assert len(sha) == 64 and list(digests) == ["dashboard/sales-dashboard"]
            (deployment,) = mocks.by_type("quicksight:CloudFormationDeployment")
            assert deployment.inputs["target_account_id"] == "444455556666"

        return pulumi.Output.all(stack.dashboard_urls, stack.stack_id, stack.template_sha256, stack.resource_digests).apply(check)

    program()


def test_an_archived_release_reads_the_same_template() -> None:
    set_mocks(sample_template())

    @pulumi.runtime.test
    def program() -> pulumi.Output:
        archived = read_archived_release("releases-bucket", release="sales-42")
        stack = QuickSightBundleStack("prod", QuickSightBundleStackArgs(source_account_id="111122223333", archived=archived))

        def check(values: list[Any]) -> None:
            name, assets = values
            assert name == "sales-42" and assets == {"dashboard": ["sales-dashboard"]}

        return pulumi.Output.all(stack.release_name, stack.asset_ids).apply(check)

    program()


def test_a_given_template_is_served_compact_and_the_sample_is_left_alone() -> None:
    mocks = QuickSightMocks({"Resources": {}})
    assert mocks.template_body == '{"Resources":{}}'
    assert json.loads(QuickSightMocks().template_body) == SAMPLE_TEMPLATE


def test_an_archive_read_of_another_prefix_fails_as_the_provider_does() -> None:
    with pytest.raises(Exception, match=r"reading S3 Object \(s3://b/other/key\): couldn't find resource \(NoSuchKey\)"):
        QuickSightMocks()._archived_object("b", "other/key")


@pytest.mark.parametrize(
    ("overrides", "message", "parameter"),
    [
        ({"export_job_id": None}, "needs export_job_id (the export job to deploy) or archived", "export_job_id"),
        ({"export_job_id": ""}, "needs export_job_id (the export job to deploy) or archived", "export_job_id"),
        (
            {"archived": "release", "archive_bucket": "b"},
            "export_job_id, archive_bucket given with archived: an archived release is deployed as archived",
            "export_job_id",
        ),
        ({"archived": "release", "export_job_id": None, "archive_role_arn": "arn"}, "archive_role_arn given with archived", "archive_role_arn"),
    ],
)
def test_args_ask_for_one_template_source(overrides: dict[str, Any], message: str, parameter: str) -> None:
    base: dict[str, Any] = {"source_account_id": "111122223333", "export_job_id": "job-1"}
    with pytest.raises(InputError) as info:
        QuickSightBundleStackArgs(**(base | overrides))
    assert message in str(info.value) and info.value.parameter == parameter
