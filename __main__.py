"""The quicksight-promotion Pulumi program.

Reads the source export job from the stack configuration and exposes its template.
The full promotion (parameters and the CloudFormation stack) builds on this.
"""

import pulumi

from components import AssetBundleExport

config = pulumi.Config("quicksight-promotion")
source = config.require_object("source")

bundle = AssetBundleExport(
    "bundle",
    aws_account_id=source["aws_account_id"],
    export_job_id=source["export_job_id"],
    region=source.get("region"),
    role_arn=source.get("role_arn"),
    timeout_seconds=source.get("timeout_seconds"),
    expected_sha256=source.get("expected_sha256"),
)

pulumi.export("template_sha256", bundle.template_sha256)
pulumi.export("template_size", bundle.template_size)
pulumi.export("export_job_arn", bundle.export_job_arn)
pulumi.export("resource_arns", bundle.resource_arns)
pulumi.export("warnings", bundle.warnings)
