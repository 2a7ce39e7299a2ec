"""Pure tests of promotion-safe templates: principals as parameters, grant slots, literal connection
values, connection parameters placed by use, and CloudFormation's limits; on generated bundles and on
the real exports of ../shared/real-exports (skipped where that folder is absent)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import yaml

from components.core.bundle import compact_json
from components.core.catalog import build_catalog
from tools.generator import generate_bundle
from components.core.literals import literal_connection_values
from components.core.principals import (
    GRANT_OWNER_PARAMETER,
    GRANT_VIEWER_PARAMETER,
    OWNER_ACTIONS,
    VIEWER_ACTIONS,
    PrincipalContext,
    PrincipalError,
    duplicate_targets,
    principal_parameter,
    principalize,
    principals_left_to_defaults,
    principals_skeleton,
    resolve_principals,
)
from components.core.transform import PARAMETER_LIMIT, RESOURCE_LIMIT, deployable
from components.errors import BundleFormatError
from conftest import needs_real, real, sample_template

CONTEXT = PrincipalContext("aws", "999999999999", "eu-west-1")
ADMIN = "arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:user/default/QuickSightAdmin"
ANALYST = "arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:user/default/sales-analyst"


def catalog_of(template: dict[str, Any]) -> list[dict[str, Any]]:
    return [entry.model_dump() for entry in build_catalog(template)]


def all_principals(node: Any) -> list[Any]:
    found: list[Any] = []
    if isinstance(node, dict):
        for key, value in node.items():
            found.extend([value] if key == "Principal" else all_principals(value))
    elif isinstance(node, list):
        for item in node:
            found.extend(all_principals(item))
    return found


# --- principals as parameters -------------------------------------------------------------------


def test_each_source_principal_becomes_one_parameter_and_keeps_its_actions() -> None:
    bundle = generate_bundle()
    transform = principalize(bundle)
    assert [p.text for p in transform.principals] == [ADMIN, ANALYST]
    admin, analyst = transform.principals
    assert admin.parameter == principal_parameter(ADMIN) and admin.parameter.startswith("Principal")
    assert len(admin.parameter) == len("Principal") + 10
    assert "dashboard/sales-dashboard" in admin.assets and admin.short == "user/default/QuickSightAdmin"
    document = transform.document
    spec = document["Parameters"][admin.parameter]
    assert spec["Type"] == "String" and ADMIN.replace("${", "{") in spec["Description"] and "Default" not in spec
    # Every principal is now a Ref to its parameter; the actions are those exported.
    assert {json.dumps(p) for p in all_principals(document["Resources"])} == {
        json.dumps({"Ref": admin.parameter}),
        json.dumps({"Ref": analyst.parameter}),
    }
    for logical_id, resource in bundle["Resources"].items():
        for before, after in zip(
            resource["Properties"].get("Permissions", []), document["Resources"][logical_id]["Properties"].get("Permissions", [])
        ):
            assert before["Actions"] == after["Actions"]
    assert bundle["Resources"] != document["Resources"], "the input is not changed"


def test_the_transform_is_a_function_of_the_template_only() -> None:
    bundle = generate_bundle()
    one = deployable(compact_json(bundle), catalog_of(bundle))
    two = deployable(compact_json(generate_bundle()), catalog_of(bundle))
    assert one.body == two.body and one.sha256 == two.sha256
    assert set(one.principal_transform().mapped()) == set(principalize(bundle).mapped())


def test_names_and_arns_resolve_to_target_arns() -> None:
    transform = principalize(generate_bundle())
    admin, analyst = transform.principals
    values = resolve_principals(
        transform,
        {ADMIN: "group/default/bi-admins", "user/default/sales-analyst": ["arn:aws:quicksight:us-east-1:999999999999:user/default/ana"]},
        None,
        CONTEXT,
    )
    assert values == {
        admin.parameter: "arn:aws:quicksight:eu-west-1:999999999999:group/default/bi-admins",
        analyst.parameter: "arn:aws:quicksight:us-east-1:999999999999:user/default/ana",
    }
    # The parameter name is accepted as a key too.
    by_name = resolve_principals(transform, {admin.parameter: "user/default/a", analyst.parameter: "user/default/b"}, None, CONTEXT)
    assert by_name[admin.parameter].endswith(":user/default/a")


def test_an_unmapped_principal_is_named_with_its_assets_and_every_problem_is_reported() -> None:
    transform = principalize(generate_bundle())
    with pytest.raises(PrincipalError) as info:
        resolve_principals(
            transform,
            {"user/default/QuickSightAdmin": ["group/default/a", "group/default/b"], "user/default/nobody": "group/default/x"},
            None,
            CONTEXT,
            "export job 'sales-release-42'",
        )
    message = str(info.value)
    assert len(info.value.problems) == 3
    assert "maps to 2 principals" in message and "create a QuickSight group holding them" in message
    assert "principals key 'user/default/nobody' is not a permission principal of export job 'sales-release-42'" in message
    assert f"source principal '{ANALYST}' (held by 12 asset(s): analysis/sales-analysis, dashboard/sales-dashboard" in message
    assert "has no target: add it under principals" in message


def test_malformed_targets_are_refused() -> None:
    transform = principalize(generate_bundle())
    with pytest.raises(PrincipalError) as info:
        resolve_principals(transform, {ADMIN: "Admin/jane", ANALYST: 5}, None, CONTEXT)
    assert "'Admin/jane' is not a target principal" in str(info.value)
    assert "must map to a principal (a string), got int" in str(info.value)
    # Without the target account, a name cannot become an ARN.
    with pytest.raises(PrincipalError) as info:
        resolve_principals(transform, {ADMIN: "group/default/a", ANALYST: "group/default/b"}, None, None)
    assert "give a full ARN" in str(info.value)


def test_two_sources_mapped_to_one_target_are_reported() -> None:
    transform = principalize(generate_bundle())
    values = resolve_principals(transform, {ADMIN: "group/default/all", ANALYST: "group/default/all"}, None, CONTEXT)
    problems = duplicate_targets(transform, values)
    assert len(problems) == 12, "each of the 12 assets holds both source principals"
    assert (
        "dashboard/sales-dashboard grants arn:aws:quicksight:eu-west-1:999999999999:group/default/all for 2 source "
        f"principals ({ADMIN}; {ANALYST})"
    ) in problems
    assert duplicate_targets(transform, resolve_principals(transform, {ADMIN: "group/default/a", ANALYST: "group/default/b"}, None, CONTEXT)) == []


def test_principals_that_name_template_parameters_are_kept() -> None:
    template = sample_template()
    template["Parameters"]["OwnerArn"] = {"Type": "String"}
    dashboard = template["Resources"]["salesdashboardAB12CD"]["Properties"]
    dashboard["Permissions"] = [{"Principal": {"Ref": "OwnerArn"}, "Actions": ["quicksight:DescribeDashboard"]}]
    transform = principalize(template)
    (kept,) = transform.principals
    assert kept.parameter is None and "OwnerArn" in (kept.kept_because or "")
    assert transform.document == template and transform.parameters == ()
    with pytest.raises(PrincipalError) as info:
        resolve_principals(transform, {"${OwnerArn}": "group/default/x"}, None, CONTEXT)
    assert "is kept as exported" in str(info.value)


def test_the_stage_skeleton_asks_for_each_target_and_its_placeholder_is_refused() -> None:
    transform = principalize(generate_bundle())
    text = principals_skeleton(transform)
    mapping = yaml.safe_load("config:\n" + text)["config"]["quicksight-promotion:principals"]
    assert list(mapping) == ["user/default/QuickSightAdmin", "user/default/sales-analyst"]
    assert "# held by 12 asset(s): analysis/sales-analysis, dashboard/sales-dashboard" in text
    with pytest.raises(PrincipalError) as info:
        resolve_principals(transform, mapping, None, CONTEXT)
    assert len(info.value.problems) == 2 and "still maps to the placeholder" in str(info.value)
    # Without permissions the skeleton shows a commented grant example instead.
    assert "# quicksight-promotion:grant:" in principals_skeleton(principalize(generate_bundle(include_permissions=False)))


def test_column_level_principals_and_link_sharing_namespaces() -> None:
    template = sample_template()
    dashboard = template["Resources"]["salesdashboardAB12CD"]["Properties"]
    namespace = {"Fn::Sub": "arn:${AWS::Partition}:quicksight:${IdentityRegion}:${AWS::AccountId}:namespace/default"}
    dashboard["LinkSharingConfiguration"] = {"Permissions": [{"Principal": namespace, "Actions": ["quicksight:QueryDashboard"]}]}
    template["Resources"]["ds"] = {
        "Type": "AWS::QuickSight::DataSet",
        "Properties": {
            "DataSetId": "orders",
            "ColumnLevelPermissionRules": [{"ColumnNames": ["margin"], "Principals": ["arn:aws:quicksight:us-east-1:111122223333:group/default/finance"]}],
        },
    }
    transform = principalize(template)
    kept, finance = sorted(transform.principals, key=lambda p: p.parameter is not None)
    assert kept.parameter is None and "same in every stage" in (kept.kept_because or "")
    assert finance.assets == ("dataset/orders",) and finance.short == "group/default/finance"
    rules = transform.document["Resources"]["ds"]["Properties"]["ColumnLevelPermissionRules"]
    assert rules[0]["Principals"] == [{"Ref": finance.parameter}]
    # A name may hold spaces (QuickSight user names allow them).
    values = resolve_principals(transform, {finance.short: "group/default/Finance Team"}, None, CONTEXT)
    assert values[finance.parameter] == "arn:aws:quicksight:eu-west-1:999999999999:group/default/Finance Team"


def test_a_template_that_already_uses_the_names_is_refused() -> None:
    bundle = generate_bundle()
    bundle["Parameters"][principal_parameter(ADMIN)] = {"Type": "String"}
    with pytest.raises(BundleFormatError) as info:
        principalize(bundle)
    assert f"already declares parameter(s) {principal_parameter(ADMIN)}" in str(info.value)
    bare = generate_bundle(include_permissions=False)
    bare["Conditions"] = {"QuickSightPromotionGrantOwner": {"Fn::Equals": ["a", "a"]}}
    with pytest.raises(BundleFormatError) as info:
        principalize(bare, grant=True)
    assert "Conditions clash with the grant slots" in str(info.value)


# --- grant slots ----------------------------------------------------------------------------------


def test_grant_slots_for_an_export_without_permissions() -> None:
    bundle = generate_bundle(include_permissions=False)
    assert principalize(bundle).parameters == (), "no grant, no change"
    transform = principalize(bundle, grant=True)
    assert transform.grant_slots and transform.parameters == (GRANT_OWNER_PARAMETER, GRANT_VIEWER_PARAMETER)
    document = transform.document
    for resource in document["Resources"].values():
        kind = resource["Type"].rsplit("::", 1)[1].lower()
        kind = {"vpcconnection": None, "refreshschedule": None}.get(kind, kind)
        if kind is None:
            assert "Permissions" not in resource["Properties"]
            continue
        condition, entries, otherwise = resource["Properties"]["Permissions"]["Fn::If"]
        assert otherwise == {"Ref": "AWS::NoValue"}
        owner, viewer = (e["Fn::If"][1] for e in entries)
        assert owner["Actions"] == list(OWNER_ACTIONS[kind]) and viewer["Actions"] == list(VIEWER_ACTIONS[kind])
    values = resolve_principals(transform, None, [{"principal": "group/default/bi-admins", "role": "owner"}], CONTEXT)
    assert values == {
        GRANT_OWNER_PARAMETER: "arn:aws:quicksight:eu-west-1:999999999999:group/default/bi-admins",
        GRANT_VIEWER_PARAMETER: "",
    }


def test_grant_misuse_is_refused() -> None:
    with pytest.raises(PrincipalError) as info:
        resolve_principals(
            principalize(generate_bundle(include_permissions=False), grant=True),
            None,
            [{"principal": "group/default/a"}, {"principal": "group/default/b", "role": "owner"}, {"role": "boss", "principal": "x"}, "x"],
            CONTEXT,
        )
    message = str(info.value)
    assert "grant[1]: a second owner" in message and "grant[2].role must be owner or viewer" in message
    assert "grant[3] must be {principal: <target principal>, role: owner|viewer}" in message
    with pytest.raises(PrincipalError) as info:
        transform = principalize(generate_bundle(), grant=True)
        resolve_principals(transform, {ADMIN: "group/default/a", ANALYST: "group/default/b"}, [{"principal": "group/default/a"}], CONTEXT)
    assert "grant is only for exports without permissions" in str(info.value)


# --- literal values, placement by use, limits ------------------------------------------------------


def test_literal_connection_values_of_the_generated_bundle() -> None:
    found = [(v.asset, v.property, v.value) for v in literal_connection_values(generate_bundle())]
    assert found == [
        ("vpc-connection/vpc-conn-orders-db", "SecurityGroupIds", "sg-0a1b2c3d4e5f60718"),
        ("vpc-connection/vpc-conn-orders-db", "SubnetIds", "subnet-0123456789abcdef0"),
        ("vpc-connection/vpc-conn-orders-db", "SubnetIds", "subnet-0fedcba9876543210"),
    ]


def test_limits_are_counted_after_the_transform() -> None:
    template = sample_template()
    for i in range(PARAMETER_LIMIT - 1):
        template["Parameters"][f"Extra{i}"] = {"Type": "String", "Default": ""}
    dashboard = template["Resources"]["salesdashboardAB12CD"]["Properties"]
    dashboard["Permissions"] = [{"Principal": "arn:aws:quicksight:us-east-1:111122223333:user/default/dev", "Actions": ["a"]}]
    for i in range(RESOURCE_LIMIT):
        template["Resources"][f"Copy{i}"] = {"Type": "AWS::SNS::Topic"}
    template["Outputs"] = {f"O{i}": {"Value": "x"} for i in range(201)}
    result = deployable(compact_json(template), catalog_of(template))
    assert result.parameters == PARAMETER_LIMIT + 1, "the principal parameter counts"
    assert not result.deployable
    # 501 resources are two nested stacks; the parent declares every parameter and output.
    assert result.nested and result.exceeded() == [
        "201 parameters (the principal parameters included), over the limit of 200 per template",
        "201 outputs, over the limit of 200 per template",
    ]


# --- the real exports -----------------------------------------------------------------------------


@needs_real
def test_real_export_principals() -> None:
    transform = principalize(real("autoops_export3.json"))
    assert [p.short for p in transform.mapped()] == ["user/default/Admin/whuaning-Isengard", "user/default/admin"]
    (admin,) = [p for p in transform.principals if p.short == "user/default/admin"]
    assert admin.assets == ("datasource/f4310071-afc6-4d43-9ba7-854a546616a5",)
    # Hand-edited exports whose principals already are parameters keep them.
    for name in ("cid_govcloud_analysis.json", "sugi_bedrock_postprocessed.json"):
        assert principalize(real(name)).mapped() == ()
    # An export without permissions: nothing to map.
    assert principalize(real("joshtam_vpc_excerpt.json")).principals == ()


@needs_real
def test_real_export_admin_user_left_to_its_placeholder_default_is_reported() -> None:
    export = real("cid_govcloud_co_dashboard.json")
    catalog = catalog_of(export)
    defaults = {e["name"]: e["default"] for e in catalog if e["has_default"]}
    (line,) = principals_left_to_defaults(principalize(export).principals, catalog, defaults)
    assert line.startswith("parameter AdminUser is left to its source default 'quicksight/username'")
    assert principals_left_to_defaults(principalize(export).principals, catalog, {**defaults, "AdminUser": "x"}) == []


@needs_real
def test_real_export_literals_and_placed_parameters() -> None:
    literals = {(v.property, v.value) for v in literal_connection_values(real("joshtam_vpc_excerpt.json"))}
    assert {("Database", "core"), ("Port", "5432")} <= literals and {p for p, _ in literals} == {"Database", "Host", "Port"}
    assert [(v.property, v.value) for v in literal_connection_values(real("autoops_cfn.json"))] == [("WorkGroup", "primary")]
    entries = {e.name: e for e in build_catalog(real("cid_govcloud_analysis.json"))}
    for name, prop in (("AthenaWorkgroup", "WorkGroup"), ("DataSourceRoleArn", "RoleArn")):
        assert (entries[name].kind, entries[name].key, entries[name].connection) == (
            "datasource",
            f"datasource/CIDAthena.{prop}",
            True,
        )
    assert entries["GlueDatabase"].kind == "unknown" and entries["AdminUser"].kind == "unknown"
    vpc = [e for e in build_catalog(real("joshtam_vpc_excerpt.json")) if e.kind == "vpc-connection"]
    assert vpc and all(e.connection for e in vpc)


def test_transformed_generated_templates_lint_clean() -> None:
    pytest.importorskip("cfnlint")
    from components.validation import lint_template

    for template, grant in ((generate_bundle(), False), (generate_bundle(include_permissions=False), True)):
        body = deployable(compact_json(template), catalog_of(template), grant=grant).body
        errors = [f for f in lint_template(body, "us-east-1") if f.level == "error"]
        assert errors == [], [f.describe() for f in errors]


@needs_real
def test_transformed_real_exports_lint_clean() -> None:
    pytest.importorskip("cfnlint")
    from components.validation import lint_template

    vpc = real("joshtam_vpc_excerpt.json")
    body = deployable(compact_json(vpc), catalog_of(vpc), grant=True).body
    assert [f.describe() for f in lint_template(body, "us-east-1") if f.level == "error"] == []
    # Against the export itself, the transform adds one warning: IdentityRegion is no longer used
    # once every principal is a parameter (a name is still resolved in the stage's IdentityRegion).
    export = real("autoops_export3.json")
    before = {(f.rule, f.path) for f in lint_template(compact_json(export), "us-east-1")}
    after = {(f.rule, f.path) for f in lint_template(deployable(compact_json(export), catalog_of(export)).body, "us-east-1")}
    assert after - before == {("W2001", "Parameters/IdentityRegion")}
