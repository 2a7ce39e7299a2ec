"""Pulumi mocks shared by the mocks tests: records resources and answers like the real providers.

``pulumi.runtime.set_mocks`` is process-global, so every test installs a fresh ``RecordingMocks``
(through a fixture) instead of relying on module import order.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
import json
from typing import Any, Optional

import pulumi

from components.core.catalog import build_catalog, summarize_resources
from components.testing import QuickSightMocks
from operations import record_invoke
from tools.generator import generate_bundle

TARGET_REGION = "eu-west-1"
TARGET_ACCOUNT = "999999999999"


def export_outputs(template: dict[str, Any], lint_findings: Optional[list[dict[str, Any]]] = None) -> dict[str, Any]:
    """The outputs the export provider would record for a template."""
    body = json.dumps(template, ensure_ascii=False, separators=(",", ":"))
    return {
        "template_body": body,
        "template_sha256": hashlib.sha256(body.encode()).hexdigest(),
        "template_size": len(body.encode()),
        "resource_arns": [],
        "created_time": "2026-11-01T10:00:00+00:00",
        "warnings": [],
        "parameter_catalog": [e.model_dump(exclude_none=True) for e in build_catalog(template)],
        "assets": summarize_resources(template),
        "lint_findings": lint_findings if lint_findings is not None else [],
    }


class RecordingMocks(pulumi.runtime.Mocks):
    """Records every resource and invoke; answers with plausible outputs."""

    def __init__(
        self,
        template: Optional[dict[str, Any]] = None,
        archive: Optional[dict[tuple[str, str], Any]] = None,
        **export_overrides: Any,
    ) -> None:
        self.template = template if template is not None else generate_bundle()
        # A fake release archive: (bucket, key) -> object body, served by the aws.s3.getObject invoke.
        self.archive: dict[tuple[str, str], Any] = archive if archive is not None else {}
        self.export_overrides = export_overrides
        self.resources: list[pulumi.runtime.MockResourceArgs] = []
        # What a TemplateLint recorded, by name: the olds its Check sees on the next run.
        self.lint_state: dict[str, dict[str, Any]] = {}
        self.invokes: list[pulumi.runtime.MockCallArgs] = []
        self.target = QuickSightMocks(account_id=TARGET_ACCOUNT, region=TARGET_REGION)

    def recorded_inputs(self, typ: str, name: str) -> dict[str, Any]:
        """The inputs a resource recorded in an earlier run of these mocks (its Check's olds)."""
        return dict(self.lint_state.get(name, {})) if typ.endswith("quicksight:TemplateLint") else {}

    def by_type(self, suffix: str) -> list[pulumi.runtime.MockResourceArgs]:
        return [r for r in self.resources if r.typ.endswith(suffix)]

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        resource_id = f"{args.name}-id"
        if args.typ.endswith("quicksight:AssetBundleExport"):
            outputs.update(export_outputs(self.template))
            if args.inputs.get("expected_sha256"):
                # The provider refuses other bytes than the pinned ones: a recorded export is the pinned one.
                outputs["template_sha256"] = str(args.inputs["expected_sha256"]).lower()
            outputs.update(self.export_overrides)
            outputs["export_job_arn"] = (
                f"arn:aws:quicksight:us-east-1:{args.inputs['source_account_id']}:asset-bundle-export-job/"
                f"{args.inputs['export_job_id']}"
            )
            resource_id = outputs["export_job_arn"]
        elif args.typ == "aws:s3/bucket:Bucket":
            outputs["bucket"] = f"{args.name}-1a2b3c"
            outputs["bucketRegion"] = TARGET_REGION
            outputs["arn"] = f"arn:aws:s3:::{outputs['bucket']}"
            resource_id = outputs["bucket"]
        elif args.typ.endswith("quicksight:CloudFormationDeployment"):
            name = args.inputs.get("stack_name") or f"{args.name}-4d5e6f"
            resource_id = f"arn:aws:cloudformation:{TARGET_REGION}:{TARGET_ACCOUNT}:stack/{name}/0001"
            outputs.update(
                stack_id=resource_id,
                stack_status="CREATE_COMPLETE",
                outputs={},
                change_summary=[],
                parameter_digests={},
                account_id=TARGET_ACCOUNT,
            )
        elif args.typ.endswith("quicksight:TemplateLint"):
            # The engine's preview of a provider that does not implement previews: the outputs are
            # the inputs its Check returned (which is where TemplateLint lints).
            from components.lint import TemplateLintProvider  # noqa: PLC0415

            checked = TemplateLintProvider().check(self.recorded_inputs(args.typ, args.name), dict(args.inputs))
            if checked.failures:
                raise Exception("; ".join(f"{f.property}: {f.reason}" for f in checked.failures))
            outputs = dict(checked.inputs)
            self.lint_state[args.name] = outputs
            resource_id = outputs["template_sha256"]
        elif args.typ == "aws:cloudformation/stack:Stack":
            outputs.setdefault("name", f"{args.name}-4d5e6f")
            outputs["outputs"] = {}
            resource_id = f"arn:aws:cloudformation:{TARGET_REGION}:{TARGET_ACCOUNT}:stack/{outputs['name']}/0001"
        return resource_id, outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        self.invokes.append(args)
        record_invoke(args.token, args.args)
        if args.token == "aws:s3/getObject:getObject":
            return self.get_object(args.args)
        # The target's identity, region and partition: as the library's own mocks answer them.
        return self.target.call(args)


    def get_object(self, args: dict[str, Any]) -> dict[str, Any]:
        """As the pulumi-aws data source answers (camelCase on the wire), from a versioned bucket.

        An archive value is one object version (version id "1"), a list of versions ("1", "2"...,
        the latest last) or a dict of version id -> body (the latest last). A missing key or
        version fails the invoke, as the provider's does.
        """
        bucket, key = str(args.get("bucket")), str(args.get("key"))
        if (bucket, key) not in self.archive:
            raise Exception(f"reading S3 Object (s3://{bucket}/{key}): couldn't find resource (NoSuchKey)")
        stored = self.archive[(bucket, key)]
        if isinstance(stored, str):
            stored = [stored]
        versions = stored if isinstance(stored, dict) else {str(n): body for n, body in enumerate(stored, 1)}
        asked = args.get("versionId") or list(versions)[-1]
        if asked not in versions:
            raise Exception(f"reading S3 Object (s3://{bucket}/{key}) version {asked}: couldn't find resource (NoSuchVersion)")
        return {
            "bucket": bucket,
            "key": key,
            "body": versions[asked],
            "contentType": "application/json",
            "versionId": asked,
            "id": f"{bucket}/{key}",
        }


def install(mocks: RecordingMocks) -> RecordingMocks:
    pulumi.runtime.set_mocks(mocks, project="quicksight-promotion", stack="test", preview=False)
    return mocks


@dataclass(frozen=True)
class Failure:
    """What a failed mocks program raised: its message and the exception types along its cause chain."""

    message: str
    types: tuple[type, ...]

    def __str__(self) -> str:
        return self.message


def run_failing_program(program: Any) -> Failure:
    """Run a program under the installed mocks that must fail; return what it raised, as plain data.

    The exception is not kept: its traceback holds the program's failed futures. Left to a later garbage
    collection (the SDK drops its own references only when the next ``pulumi.runtime.test`` starts) each
    logs "Future exception was never retrieved" from wherever it runs, and on CPython 3.11.7 a finaliser
    running inside pytest's own ``ast.parse`` is an INTERNALERROR ("AST constructor recursion depth
    mismatch"). So they are cleared and collected here, inside the test.
    """
    import gc  # noqa: PLC0415

    import pulumi  # noqa: PLC0415
    from pulumi.runtime.settings import SETTINGS  # noqa: PLC0415

    try:
        pulumi.runtime.test(program)()
    except Exception as exc:  # noqa: BLE001  (any failure is the expected outcome)
        chain: list[BaseException] = []
        error: Optional[BaseException] = exc
        while error is not None and error not in chain:
            chain.append(error)
            error = error.__cause__ or error.__context__
        failure = Failure(str(exc), tuple(type(e) for e in chain))
        del chain, error  # (``exc`` itself is unbound when the except block ends)
    else:
        raise AssertionError("the program was expected to fail, and did not")
    SETTINGS.rpc_manager.clear()
    SETTINGS.outputs.clear()
    # Outputs that failed with the same error, or waited on it, are futures nobody awaits any more
    # (a program whose template is known at preview fails in many applies at once): their error is
    # read here, so that no finaliser logs it later, inside another test.
    import asyncio  # noqa: PLC0415

    for obj in gc.get_objects():
        if isinstance(obj, asyncio.Future) and obj.done() and not obj.cancelled():
            obj.exception()
    gc.collect()
    return failure


def archive_release(
    archive: dict[tuple[str, str], str], bucket: str, name: str, template: dict[str, Any], **manifest_fields: Any
) -> Any:
    """Put a release into a fake archive as the archive writer would; returns its manifest."""
    from components.core.manifest import build_manifest  # noqa: PLC0415

    body = json.dumps(template, ensure_ascii=False, separators=(",", ":"))
    fields: dict[str, Any] = {
        "name": name,
        "template_body": body,
        "export_sha256": None,
        "job_arn": f"arn:aws:quicksight:us-east-1:111122223333:asset-bundle-export-job/{name}",
        "source_account_id": "111122223333",
        "source_region": "us-east-1",
        "created_time": "2026-11-01T10:00:00+00:00",
        "resource_arns": [],
        "catalog": [e.model_dump(exclude_none=True) for e in build_catalog(template)],
        "assets": summarize_resources(template),
        "archived_by": "AssetBundleRelease",
    }
    fields.update(manifest_fields)
    # As the writer records it: the template's version that holds these bytes (the first).
    manifest = build_manifest(**fields).model_copy(update={"template_version_id": "1"})
    archive[(bucket, manifest.template_key)] = body
    archive[(bucket, f"releases/{name}.json")] = manifest.text()
    return manifest


def tls_only_statement(bucket: str) -> dict[str, Any]:
    """The statement every bucket the program creates must have: no request without TLS (as AWS documents it)."""
    arn = f"arn:aws:s3:::{bucket}"
    return {
        "Sid": "DenyInsecureTransport",
        "Effect": "Deny",
        "Principal": "*",
        "Action": "s3:*",
        "Resource": [arn, f"{arn}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}},
    }
