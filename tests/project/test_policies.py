"""The IAM policies in policies/: each role grants what the product makes as that role and nothing more.

What the product makes is recorded while the suite runs (tests/harness/operations.py) and kept in
tests/project/operations.json: a test that makes an operation the file does not list fails, and a
whole-suite run fails when the file lists one no test made. Here the file is held against the
policies, CloudFormation's service role against CloudFormation's own resource schemas, and every
document against the offline IAM linter parliament.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import sys
import types
from pathlib import Path
from typing import Any, Iterator

import botocore.session
import pytest
from botocore.stub import Stubber

from components.aws import calls as aws_calls
from components.core.template import KIND_BY_RESOURCE_TYPE
from operations import PIPELINE, RECORDER, ROOT, UNATTRIBUTED, actions, listed_pairs, read_listed

POLICIES = ROOT / "policies"
CLOUDFORMATION_ROLE = "cloudformation-service-role"
STACKSET_ADMINISTRATION = "stackset-administration"
STACKSET_EXECUTION = "stackset-execution"
DOCUMENTS = sorted(POLICIES.glob("*/*.json"))
PLACEHOLDER = re.compile(r"\$\{(\w+)\}")

# Findings of parliament that are right about the grammar it knows and wrong about these documents.
ALLOWED_FINDINGS = {
    # A role's trust policy is a resource policy: IAM's grammar for it has a Principal and no Resource.
    **{(f"{role}/trust.json", "MALFORMED"): "a trust policy has no Resource" for role in (
        "archive-reader", "archive-writer", CLOUDFORMATION_ROLE, PIPELINE, "release-cutter",
        "source-export-reader", "target-deployer", "stackset-administration", "stackset-execution",
    )},
    # CloudFormation's StackSet administration role exists to assume the execution role of each target account.
    ("stackset-administration/policy.json", "CREDENTIALS_EXPOSURE"): "sts:AssumeRole of the one execution role name",
    # parliament knows a fixed list of web identity providers; an IAM OIDC provider (GitHub's) is not on it.
    ("pipeline/trust.json", "UNKNOWN_FEDERATION_SOURCE"): "GitHub's OIDC provider, created in the account",
    # The pipeline exists to assume the stage roles, each named by ARN (a community auditor's warning).
    ("pipeline/policy.json", "CREDENTIALS_EXPOSURE"): "sts:AssumeRole of the five named roles only",
    # Passing the one CloudFormation service role, to CloudFormation only (a community auditor's warning).
    ("target-deployer/policy.json", "PERMISSIONS_MANAGEMENT_ACTIONS"): "iam:PassRole of one role, PassedToService",
    (f"{CLOUDFORMATION_ROLE}/policy.json", "PERMISSIONS_MANAGEMENT_ACTIONS"): "iam:PassRole of the VPC connection role, to QuickSight",
    ("stackset-execution/policy.json", "PERMISSIONS_MANAGEMENT_ACTIONS"): "the service role's: the VPC connection role, to QuickSight",
    # Actions newer than parliament's IAM data: test_unknown_actions_are_real shows each is real.
    ("release-cutter/policy.json", "UNKNOWN_ACTION"): "quicksight:Describe*Definition",
    (f"{CLOUDFORMATION_ROLE}/policy.json", "UNKNOWN_ACTION"): "quicksight:PassTopic",
    ("stackset-execution/policy.json", "UNKNOWN_ACTION"): "quicksight:PassTopic (the service role's permissions)",
    ("target-deployer/policy.json", "UNKNOWN_ACTION"): "cloudformation:DescribeEvents (2025)",
    # The Service Authorization Reference gives quicksight:ListIngestions the resource type dataset; parliament's
    # data predates it. Were it wrong, the ingestion is NOT_VERIFIED (a warning), never a failure.
    ("target-deployer/policy.json", "RESOURCE_MISMATCH"): "quicksight:ListIngestions on the account's data sets",
}

# Example values for the placeholders (parliament checks ARNs, so it reads documents filled in).
EXAMPLE_ROLE = "arn:aws:iam::111122223333:role/{}"
EXAMPLES = {
    "Partition": "aws",
    "AccountId": "111122223333",
    "Region": "eu-west-1",
    "GitHubRepository": "example/bi",
    "GitHubEnvironment": "prod",
    "StackName": "quicksight-promotion-prod-quicksight",
    "StackSetName": "quicksight-promotion-prod",
    "StackSetExecutionRoleName": "AWSCloudFormationStackSetExecutionRole",
    "StagingBucket": "example-staging",
    "StagingPrefix": "quicksight-promotion/",
    "ArchiveBucket": "example-releases",
    "SourceExternalId": "example-source-external-id",
    "TargetExternalId": "example-target-external-id",
    "ArchiveExternalId": "example-archive-external-id",
}


def example(name: str) -> str:
    return EXAMPLES.get(name) or EXAMPLE_ROLE.format(name)


def document(role: str, kind: str) -> dict[str, Any]:
    return json.loads((POLICIES / role / f"{kind}.json").read_text(encoding="utf-8"))


def statements(doc: dict[str, Any]) -> list[dict[str, Any]]:
    found = doc["Statement"]
    return found if isinstance(found, list) else [found]


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def granted(role: str) -> set[str]:
    """The actions a role's policy allows (every statement an Allow of named actions)."""
    allowed: set[str] = set()
    for statement in statements(document(role, "policy")):
        assert statement["Effect"] == "Allow" and "NotAction" not in statement and "NotResource" not in statement
        for name in as_list(statement["Action"]):
            assert "*" not in name, f"{role}: {name} is a wildcard; name each action"
            allowed.add(name)
    return allowed


def roles() -> list[str]:
    return sorted(path.name for path in POLICIES.iterdir() if path.is_dir())


def made_by_cloudformation() -> set[str]:
    """What CloudFormation's resource handlers need for each asset type the product deploys (cfn-lint's schemas)."""
    from cfnlint.schema import PROVIDER_SCHEMA_MANAGER

    needed: set[str] = set()
    for resource_type in KIND_BY_RESOURCE_TYPE:
        handlers = PROVIDER_SCHEMA_MANAGER.get_resource_schema("us-east-1", resource_type).schema["handlers"]
        for handler in ("create", "read", "update", "delete"):
            needed.update(handlers[handler]["permissions"])
    return needed


# --- every role, its documents --------------------------------------------------------------------


def test_every_role_has_a_policy_and_a_trust_policy() -> None:
    listed = set(read_listed())
    assert listed <= set(roles()), f"roles the product acts as without a policy: {sorted(listed - set(roles()))}"
    for role in roles():
        assert {path.name for path in (POLICIES / role).iterdir()} == {"policy.json", "trust.json"}, role
        for kind in ("policy", "trust"):
            assert document(role, kind)["Version"] == "2012-10-17"


@pytest.mark.parametrize("role", sorted(set(read_listed()) - {UNATTRIBUTED}))
def test_a_role_grants_exactly_what_it_makes(role: str) -> None:
    made = set(read_listed()[role])
    allowed = granted(role)
    assert not made - allowed, f"{role} makes operations its policy does not grant: {sorted(made - allowed)}"
    assert not allowed - made, f"{role}'s policy grants actions nothing makes: {sorted(allowed - made)}"


def test_every_operation_the_boundary_names_was_recorded() -> None:
    """A cross-check of the record from the source: an operation made only in a provider's own process
    (which the recorder does not see) would be missing from the record, and so from the policies."""
    models = botocore.session.get_session()
    operations = {
        (prefix, name)
        for prefix in ("quicksight", "cloudformation", "s3", "sts")
        for name in models.get_service_model(prefix).operation_names
    }
    source = "".join(path.read_text(encoding="utf-8") for path in (ROOT / "components" / "aws").glob("*.py"))
    named = {(prefix, name) for prefix, name in operations if f'"{name}"' in source}
    recorded = {act for _, act in listed_pairs(read_listed())}
    assert len(named) > 15, named
    missing = sorted(f"{prefix}:{name}" for prefix, name in named if actions(prefix, name)[0] not in recorded)
    assert not missing, f"named in components/aws but never recorded: {missing}"


def test_no_call_is_made_outside_the_call_layer() -> None:
    assert UNATTRIBUTED not in read_listed(), "boto3 calls of the product outside calls.Calls: route them through it"


def test_the_cloudformation_role_grants_what_cloudformation_needs() -> None:
    allowed = granted(CLOUDFORMATION_ROLE)
    needed = made_by_cloudformation()
    assert not needed - allowed, f"CloudFormation needs, the service role lacks: {sorted(needed - allowed)}"
    assert not allowed - needed, f"the service role grants what no handler needs: {sorted(allowed - needed)}"


def test_the_pipeline_assumes_each_role_that_trusts_it_and_no_other() -> None:
    trusting = [role for role in roles() if "${PipelineRoleArn}" in json.dumps(document(role, "trust"))]
    (assume,) = [s for s in statements(document(PIPELINE, "policy")) if "sts:AssumeRole" in as_list(s["Action"])]
    expected = {"${" + "".join(part.title() for part in role.split("-")) + "RoleArn}" for role in trusting}
    expected = {name.replace("Cloudformation", "CloudFormation") for name in expected}
    assert set(as_list(assume["Resource"])) == expected


def test_the_pipeline_is_assumed_by_one_repository_and_environment_through_github_oidc() -> None:
    (statement,) = statements(document(PIPELINE, "trust"))
    assert statement["Principal"] == {
        "Federated": "arn:${Partition}:iam::${AccountId}:oidc-provider/token.actions.githubusercontent.com"
    }
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert statement["Condition"] == {
        "StringEquals": {
            "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
            "token.actions.githubusercontent.com:sub": "repo:${GitHubRepository}:environment:${GitHubEnvironment}",
        }
    }


def test_cross_account_roles_trust_the_pipeline_and_cloudformation_its_own_account_only() -> None:
    for role in roles():
        (statement,) = statements(document(role, "trust"))
        if role == PIPELINE:
            continue
        assert statement["Action"] == "sts:AssumeRole", role
        if role == STACKSET_EXECUTION:
            continue  # trusts the administration role (test_the_stackset_roles_chain_...)
        if role in (CLOUDFORMATION_ROLE, STACKSET_ADMINISTRATION):
            assert statement["Principal"] == {"Service": "cloudformation.amazonaws.com"}
            assert statement["Condition"] == {"StringEquals": {"aws:SourceAccount": "${AccountId}"}}
        else:
            assert statement["Principal"] == {"AWS": "${PipelineRoleArn}"}, role


def test_passrole_passes_one_role_to_one_service() -> None:
    # The target deployer passes the CloudFormation service role and the StackSet administration role.
    for role, service, count in (
        ("target-deployer", "cloudformation", 2),
        (CLOUDFORMATION_ROLE, "quicksight", 1),
        (STACKSET_EXECUTION, "quicksight", 1),
    ):
        passing = [s for s in statements(document(role, "policy")) if "iam:PassRole" in as_list(s["Action"])]
        assert [as_list(s["Action"]) for s in passing] == [["iam:PassRole"]] * count, role
        for statement in passing:
            assert statement["Condition"] == {"StringEquals": {"iam:PassedToService": f"{service}.amazonaws.com"}}
            assert PLACEHOLDER.fullmatch(statement["Resource"]), role


def test_the_stackset_roles_chain_from_cloudformation_to_what_cloudformation_needs() -> None:
    """Self-managed StackSets: CloudFormation assumes the administration role, which assumes the execution role in
    each target account, which creates the assets (what the service role grants, in every region of the stack set)."""
    (admin,) = statements(document(STACKSET_ADMINISTRATION, "policy"))
    assert (admin["Action"], admin["Resource"]) == (["sts:AssumeRole"], "arn:${Partition}:iam::*:role/${StackSetExecutionRoleName}")
    (trusted,) = statements(document(STACKSET_EXECUTION, "trust"))
    assert trusted["Principal"] == {"AWS": "${StackSetAdministrationRoleArn}"}
    needed = made_by_cloudformation()
    assert not needed - granted(STACKSET_EXECUTION), sorted(needed - granted(STACKSET_EXECUTION))


def test_every_placeholder_is_documented() -> None:
    readme = (POLICIES / "README.md").read_text(encoding="utf-8")
    documented = set(re.findall(r"^\| `\$\{(\w+)\}` \|", readme, flags=re.MULTILINE))
    used = {name for path in DOCUMENTS for name in PLACEHOLDER.findall(path.read_text(encoding="utf-8"))}
    assert used == documented
    assert set(EXAMPLES) | {name for name in used if name.endswith("RoleArn")} == used


def test_the_readme_links_the_policies() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "(policies/README.md)" in readme
    for role in roles():
        assert f"(policies/{role}/)" in readme, role


# --- the linter ------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def parliament() -> Iterator[Any]:
    """parliament, imported (it reads its data with pkg_resources, which setuptools 81 dropped: a stand-in serves)."""
    shim = None
    if importlib.util.find_spec("pkg_resources") is None:
        shim = types.ModuleType("pkg_resources")
        shim.resource_filename = lambda package, name: os.path.join(  # type: ignore[attr-defined]
            os.path.dirname(importlib.util.find_spec(package).origin or ""), name
        )
        sys.modules["pkg_resources"] = shim
    try:
        import parliament as linter
    finally:
        if shim is not None:
            sys.modules.pop("pkg_resources", None)
    yield linter


def findings(parliament: Any) -> dict[tuple[str, str], list[str]]:
    """(role/file, issue) -> the findings' details, for every document filled in with the examples.

    Each statement is analysed on its own: parliament skips its other auditors for a whole document
    once one statement names an action it does not know.
    """
    found: dict[tuple[str, str], list[str]] = {}
    for path in DOCUMENTS:
        doc = json.loads(PLACEHOLDER.sub(lambda match: example(match.group(1)), path.read_text(encoding="utf-8")))
        for statement in statements(doc):
            text = json.dumps({**doc, "Statement": [statement]})
            policy = parliament.analyze_policy_string(text, include_community_auditors=True)
            for finding in policy.findings:
                found.setdefault((f"{path.parent.name}/{path.name}", finding.issue), []).append(str(finding.detail))
    return found


def test_parliament_finds_nothing_but_what_is_justified(parliament: Any) -> None:
    found = findings(parliament)
    unjustified = {key: details for key, details in found.items() if key not in ALLOWED_FINDINGS}
    assert not unjustified, f"parliament: {unjustified}"
    stale = sorted(set(ALLOWED_FINDINGS) - set(found))
    assert not stale, f"allowed findings parliament no longer makes (remove them): {stale}"


def test_unknown_actions_are_real(parliament: Any) -> None:
    """Each action parliament does not know is an API operation of botocore's model, or one CloudFormation's schemas name."""
    unknown = [
        detail.removeprefix("Unknown action ")
        for (_, issue), details in findings(parliament).items()
        if issue == "UNKNOWN_ACTION"
        for detail in details
    ]
    assert unknown, "parliament knows every action now: drop the UNKNOWN_ACTION allowances"
    models = botocore.session.get_session()
    for name in unknown:
        prefix, operation = name.split(":")
        in_model = operation in models.get_service_model(prefix).operation_names
        assert in_model or name in made_by_cloudformation(), name


def test_parliament_reports_an_ungranted_resource(parliament: Any) -> None:
    """The linter is live: an action on a resource type it cannot apply to is a finding."""
    text = json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": "s3:GetObject", "Resource": "arn:aws:s3:::bucket"}],
        }
    )
    assert [f.issue for f in parliament.analyze_policy_string(text).findings] == ["RESOURCE_MISMATCH"]


# --- the recorder ------------------------------------------------------------------------------------------


def test_an_operation_maps_to_its_iam_actions() -> None:
    assert actions("s3", "HeadObject", {"Bucket": "b", "Key": "k"}) == ["s3:GetObject"]
    assert actions("s3", "GetObject", {"VersionId": "v1"}) == ["s3:GetObject", "s3:GetObjectVersion"]
    assert actions("cloudformation", "CreateChangeSet", {"RoleARN": "arn"}) == [
        "cloudformation:CreateChangeSet",
        "iam:PassRole",
    ]
    assert actions("cloudformation", "CreateChangeSet", {"StackName": "s"}) == ["cloudformation:CreateChangeSet"]
    staged = "https://b.s3.eu-west-1.amazonaws.com/quicksight-promotion/x.json"
    assert actions("cloudformation", "CreateChangeSet", {"TemplateURL": staged}) == [
        "cloudformation:CreateChangeSet",
        "s3:GetObject",
    ]
    assert actions("cloudformation", "CreateChangeSet", {"TemplateURL": staged + "?versionId=v1"}) == [
        "cloudformation:CreateChangeSet",
        "s3:GetObjectVersion",
    ]


def test_a_call_made_by_a_test_through_the_call_layer_is_recorded_for_nobody() -> None:
    client = botocore.session.get_session().create_client(
        "sts", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b"
    )
    before = set(RECORDER.pairs())
    with Stubber(client) as stub:
        stub.add_response("get_caller_identity", {"Account": "111122223333", "Arn": "arn:aws:iam::111122223333:user/u"})
        aws_calls.Calls(aws_calls.DEPLOYMENT, "a test").call(client, aws_calls.STS, "GetCallerIdentity")
    assert set(RECORDER.pairs()) == before


def test_the_record_lists_what_the_policies_grant() -> None:
    listed = listed_pairs(read_listed())
    assert ("target-deployer", "cloudformation:CreateChangeSet") in listed
    assert (PIPELINE, "sts:AssumeRole") in listed
    assert ("archive-reader", "s3:GetObject") in listed


def test_every_role_the_pipeline_assumes_asks_for_an_external_id() -> None:
    trusting = [role for role in roles() if "${PipelineRoleArn}" in json.dumps(document(role, "trust"))]
    assert trusting
    for role in trusting:
        (statement,) = statements(document(role, "trust"))
        (external_id,) = statement["Condition"]["StringEquals"].values()
        assert list(statement["Condition"]["StringEquals"]) == ["sts:ExternalId"], role
        assert re.fullmatch(r"\$\{(Source|Target|Archive)ExternalId\}", external_id), role
