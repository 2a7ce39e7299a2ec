"""The parameter catalog: mapping export template parameters to the asset properties they override."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from components.core.catalog import (
    CatalogEntry,
    build_catalog,
    iter_assets,
    summarize_resources,
    to_parameter_string,
)
from tools.generator import generate_bundle
from components.errors import BundleFormatError

DS_ID = "826ec139-04c9-4a4f-a09d-979551d5dc38"
DS_LID = "826ec13904c94a4fa09dCB5442"
PREFIXED = {"Fn::Sub": "${ResourceIdPrefixForAllResources}" + DS_ID}
ACCOUNT = {"Fn::Sub": "${AWS::AccountId}"}


def sub(name: str) -> dict[str, str]:
    return {"Fn::Sub": "${" + name + "}"}


def param(description: str | None = None, default: Any = "x", **extra: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"Type": "String", **extra}
    if default is not None:
        spec["Default"] = default
    if description is not None:
        spec["Description"] = description
    return spec


def data_source(**properties: Any) -> dict[str, Any]:
    return {
        "Type": "AWS::QuickSight::DataSource",
        "Properties": {"AwsAccountId": ACCOUNT, "DataSourceId": PREFIXED, "Type": "POSTGRESQL", **properties},
    }


def template(parameters: dict[str, Any], resources: dict[str, Any]) -> dict[str, Any]:
    return {"AWSTemplateFormatVersion": "2010-09-09", "Parameters": parameters, "Resources": resources}


def by_name(catalog: list[CatalogEntry]) -> dict[str, CatalogEntry]:
    return {entry.name: entry for entry in catalog}


@pytest.fixture(scope="module")
def bundle() -> dict[str, Any]:
    return generate_bundle(seed=7)


@pytest.fixture(scope="module")
def catalog(bundle: dict[str, Any]) -> list[CatalogEntry]:
    return build_catalog(bundle)


# --- the generated bundle ----------------------------------------------------------------------


def test_every_generated_parameter_is_mapped(bundle: dict[str, Any], catalog: list[CatalogEntry]) -> None:
    assert [e.name for e in catalog if e.kind == "unknown"] == []
    assert sorted(e.name for e in catalog) == sorted(bundle["Parameters"])
    for entry in catalog:
        if entry.kind != "global":
            assert entry.logical_id in bundle["Resources"]
            assert entry.key == f"{entry.kind}/{entry.asset_id}.{entry.property}"


def test_globals_come_first_then_kinds_in_order(catalog: list[CatalogEntry]) -> None:
    assert [e.name for e in catalog[:2]] == ["ResourceIdPrefixForAllResources", "IdentityRegion"]
    assert catalog[0].kind == "global" and catalog[0].property == catalog[0].key == "ResourceIdPrefixForAllResources"
    kinds = [e.kind for e in catalog[2:]]
    order = ["datasource", "dataset", "analysis", "dashboard", "theme", "folder", "vpc-connection", "refresh-schedule"]
    assert kinds == sorted(kinds, key=order.index)
    assert set(kinds) == set(order)
    rest = [(e.kind, e.asset_id, e.property) for e in catalog[2:]]
    assert rest == sorted(rest, key=lambda t: (order.index(t[0]), t[1], t[2]))


def test_manifest_file_location_pair_maps_to_dotted_properties(catalog: list[CatalogEntry]) -> None:
    manifest = [e for e in catalog if (e.property or "").startswith("ManifestFileLocation")]
    assert [e.property for e in manifest] == ["ManifestFileLocation.Bucket", "ManifestFileLocation.Key"]
    bucket, key = manifest
    assert bucket.name == bucket.logical_id + "ManifestFileLocationBucket"
    assert key.name == key.logical_id + "ManifestFileLocationKey"
    assert bucket.key.endswith(".ManifestFileLocation.Bucket")
    assert bucket.connection and key.connection and not bucket.credential


def test_credentials_and_connections_are_flagged(catalog: list[CatalogEntry]) -> None:
    sources = [e for e in catalog if e.kind == "datasource"]
    assert {e.property for e in sources if e.credential} == {"Username", "Password", "SecretArn"}
    assert {e.property for e in sources if not e.connection} == {"Name"}
    password = next(e for e in sources if e.property == "Password")
    assert password.default is None and not password.has_default
    # Only a VPC connection's RoleArn/subnets/security groups are connection properties of other kinds.
    assert not any(e.credential for e in catalog if e.kind != "datasource")
    assert {(e.kind, e.property) for e in catalog if e.connection and e.kind != "datasource"} == {
        ("vpc-connection", "RoleArn")
    }


def test_kind_tokens_and_refresh_schedule_ids(bundle: dict[str, Any], catalog: list[CatalogEntry]) -> None:
    vpc = [e for e in catalog if e.kind == "vpc-connection"]
    assert {e.property for e in vpc} == {"Name", "RoleArn"}
    assert "for vpcConnection:" in (vpc[0].description or "")
    (schedule,) = [e for e in catalog if e.kind == "refresh-schedule"]
    resource = bundle["Resources"][schedule.logical_id]["Properties"]
    data_set_id = resource["DataSetId"]["Fn::Sub"].removeprefix("${ResourceIdPrefixForAllResources}")
    assert schedule.asset_id == f"{data_set_id}/{resource['Schedule']['ScheduleId']}"
    assert schedule.property == "StartAfterDateTime"


def test_ids_without_prefix_are_read_too() -> None:
    plain = build_catalog(generate_bundle(seed=7, id_prefix=False, include_permissions=False))
    prefixed = build_catalog(generate_bundle(seed=7))
    assert [e.key for e in plain] == [e.key for e in prefixed if e.kind != "global"]


def test_constraints_are_read_as_cloudformation_strings() -> None:
    doc = template(
        {
            f"{DS_LID}Port": param(
                f"Port for datasource:{DS_ID}",
                default=5432,
                Type="Number",
                MinValue="1",
                MaxValue=65535,
                AllowedValues=[5432, "5433"],
                ConstraintDescription="a TCP port",
            ),
            f"{DS_LID}Password": param(
                f"Password for datasource:{DS_ID}",
                default=None,
                NoEcho="true",
                MinLength=8,
                MaxLength="64",
                AllowedPattern="[^ ]+",
            ),
        },
        {
            DS_LID: data_source(
                Port=sub(f"{DS_LID}Port"), Credentials={"CredentialPair": {"Password": sub(f"{DS_LID}Password")}}
            )
        },
    )
    entries = by_name(build_catalog(doc))
    port, password = entries[f"{DS_LID}Port"], entries[f"{DS_LID}Password"]
    assert (port.type, port.default, port.has_default) == ("Number", "5432", True)
    assert (port.min_value, port.max_value, port.allowed_values) == (1.0, 65535.0, ["5432", "5433"])
    assert port.constraint_description == "a TCP port"
    assert (password.min_length, password.max_length, password.allowed_pattern) == (8, 64, "[^ ]+")
    assert password.no_echo and password.credential and password.sensitive()
    assert password.default is None and not password.has_default


def test_empty_default_counts_as_a_default() -> None:
    doc = template({"ResourceIdPrefixForAllResources": {"Type": "String", "Default": ""}}, {DS_LID: data_source()})
    (entry,) = build_catalog(doc)
    assert entry.has_default and entry.default == ""


# --- mapping rules on hand-written templates ---------------------------------------------------


@pytest.mark.parametrize(
    "use",
    [
        pytest.param(lambda n: {"Fn::Sub": "${" + n + "}"}, id="sub"),
        pytest.param(lambda n: {"Ref": n}, id="ref"),
        pytest.param(lambda n: {"Fn::Sub": "jdbc://${" + n + "}:5432/${AWS::Region}"}, id="sub-in-text"),
        pytest.param(lambda n: {"Fn::Sub": ["${" + n + "}.${Zone}", {"Zone": "example.com"}]}, id="sub-list"),
    ],
)
def test_a_parameter_is_used_through_ref_or_sub(use: Any) -> None:
    name = f"{DS_LID}Host"
    doc = template(
        {name: param(f"Host for datasource:{DS_ID}")},
        {DS_LID: data_source(DataSourceParameters={"PostgreSqlParameters": {"Host": use(name)}})},
    )
    (entry,) = build_catalog(doc)
    assert (entry.kind, entry.asset_id, entry.logical_id, entry.property) == ("datasource", DS_ID, DS_LID, "Host")
    assert entry.key == f"datasource/{DS_ID}.Host"
    assert entry.connection and not entry.credential


def test_sub_variables_of_the_list_form_are_not_parameters() -> None:
    name = f"{DS_LID}Host"
    doc = template(
        {name: param(f"Host for datasource:{DS_ID}")},
        {
            DS_LID: data_source(
                DataSourceParameters={"PostgreSqlParameters": {"Host": {"Fn::Sub": ["${" + name + "}", {name: "db"}]}}}
            )
        },
    )
    (entry,) = build_catalog(doc)
    assert entry.kind == "unknown"
    assert entry.note == f"its description names datasource:{DS_ID} but no resource uses it"


def test_literal_dollar_brace_text_is_not_a_use() -> None:
    # QuickSight calculated fields hold ${Name} in plain strings: not CloudFormation substitutions.
    name = f"{DS_LID}Name"
    doc = template(
        {name: param(f"Name for datasource:{DS_ID}")},
        {DS_LID: data_source(Name="${" + name + "}", Note={"Expression": "sum({x}) - ${" + name + "}"})},
    )
    (entry,) = build_catalog(doc)
    assert (entry.kind, entry.asset_id, entry.property, entry.key) == ("unknown", None, None, name)


def test_escaped_sub_literal_is_not_a_use() -> None:
    name = f"{DS_LID}Name"
    doc = template({name: param(None)}, {DS_LID: data_source(Name={"Fn::Sub": "${!" + name + "}"})})
    (entry,) = build_catalog(doc)
    assert entry.kind == "unknown"
    assert entry.note == "no generated description and no resource uses it"


def test_description_and_resources_disagree() -> None:
    name = f"{DS_LID}Host"
    doc = template(
        {name: param("Host for datasource:someone-else")},
        {DS_LID: data_source(DataSourceParameters={"PostgreSqlParameters": {"Host": sub(name)}})},
    )
    (entry,) = build_catalog(doc)
    assert entry.kind == "unknown" and entry.key == name and entry.asset_id is None and entry.property is None
    assert entry.note == (
        f"its description names datasource:someone-else but the resources using it say datasource:{DS_ID} ({DS_LID}, Host)"
    )


@pytest.mark.parametrize(
    "description",
    ["Name for datasource:{id}", "Host for dashboard:{id}", "Port for datasource:{id}"],
)
def test_description_must_agree_on_property_and_kind(description: str) -> None:
    name = f"{DS_LID}Host"
    doc = template(
        {name: param(description.format(id=DS_ID))},
        {DS_LID: data_source(DataSourceParameters={"PostgreSqlParameters": {"Host": sub(name)}})},
    )
    (entry,) = build_catalog(doc)
    assert entry.kind == "unknown"
    assert "but the resources using it say" in (entry.note or "")


def test_resources_alone_explain_a_parameter_without_description() -> None:
    name = f"{DS_LID}WorkGroup"
    doc = template(
        {name: param("written by hand")},
        {DS_LID: data_source(DataSourceParameters={"AthenaParameters": {"WorkGroup": sub(name)}})},
    )
    (entry,) = build_catalog(doc)
    assert (entry.kind, entry.property, entry.key) == ("datasource", "WorkGroup", f"datasource/{DS_ID}.WorkGroup")


def test_name_must_start_with_the_logical_id_read_from_resources() -> None:
    # The logical id is read, never computed: a parameter named after another prefix is unknown.
    name = "826ec13904c94a4fa09dXXXXXXHost"
    doc = template(
        {name: param(f"Host for datasource:{DS_ID}")},
        {DS_LID: data_source(DataSourceParameters={"PostgreSqlParameters": {"Host": sub(name)}})},
    )
    (entry,) = build_catalog(doc)
    assert entry.kind == "unknown"
    assert "no resource using it has a readable id matching its name" in (entry.note or "")


def test_unreadable_asset_id_leaves_the_parameter_unknown() -> None:
    name = f"{DS_LID}Name"
    resource = data_source(Name=sub(name))
    resource["Properties"]["DataSourceId"] = {"Fn::Sub": "${Stage}-" + DS_ID}
    (entry,) = build_catalog(template({name: param(None)}, {DS_LID: resource}))
    assert entry.kind == "unknown"
    assert entry.note == "no generated description, and the resources using it do not identify one asset property"


def test_unused_parameter_is_kept_unknown() -> None:
    doc = template({"Extra": param("Something we added", default="1")}, {DS_LID: data_source()})
    (entry,) = build_catalog(doc)
    assert (entry.name, entry.kind, entry.key, entry.default) == ("Extra", "unknown", "Extra", "1")


def test_unknown_parameters_sort_last_by_name() -> None:
    name = f"{DS_LID}Name"
    doc = template(
        {
            "Zeta": param(None),
            name: param(f"Name for datasource:{DS_ID}"),
            "Alpha": param(None),
            "IdentityRegion": param(None, "eu-west-1"),
        },
        {DS_LID: data_source(Name=sub(name))},
    )
    assert [e.name for e in build_catalog(doc)] == ["IdentityRegion", name, "Alpha", "Zeta"]


def test_manifest_description_may_name_the_whole_property() -> None:
    bucket, key = f"{DS_LID}ManifestFileLocationBucket", f"{DS_LID}ManifestFileLocationKey"
    doc = template(
        {
            bucket: param(f"ManifestFileLocation for datasource:{DS_ID}"),
            key: param(f"ManifestFileLocationKey for datasource:{DS_ID}"),
        },
        {
            DS_LID: data_source(
                DataSourceParameters={
                    "S3Parameters": {"ManifestFileLocation": {"Bucket": sub(bucket), "Key": sub(key)}}
                }
            )
        },
    )
    assert [(e.property, e.connection) for e in build_catalog(doc)] == [
        ("ManifestFileLocation.Bucket", True),
        ("ManifestFileLocation.Key", True),
    ]


def test_refresh_schedule_description_may_name_the_data_set_or_schedule() -> None:
    lid = "salesdataset1234AB12CD"
    name = lid + "StartAfterDateTime"
    resource = {
        "Type": "AWS::QuickSight::RefreshSchedule",
        "DependsOn": "salesDs",
        "Properties": {
            "AwsAccountId": ACCOUNT,
            "DataSetId": {"Fn::Sub": "${ResourceIdPrefixForAllResources}sales-dataset"},
            "Schedule": {"ScheduleId": "daily", "StartAfterDateTime": sub(name)},
        },
    }
    for said in ("daily", "sales-dataset", "sales-dataset/daily"):
        (entry,) = build_catalog(
            template({name: param(f"StartAfterDateTime for refresh-schedule:{said}")}, {lid: resource})
        )
        assert (entry.kind, entry.asset_id, entry.key) == (
            "refresh-schedule",
            "sales-dataset/daily",
            "refresh-schedule/sales-dataset/daily.StartAfterDateTime",
        )


def test_malformed_sections_are_refused() -> None:
    with pytest.raises(BundleFormatError, match=r"template's 'Parameters' is a JSON list, not an object"):
        build_catalog({"Parameters": [], "Resources": {}})
    with pytest.raises(BundleFormatError, match=r"template parameter 'P' is a JSON str, not an object"):
        build_catalog({"Parameters": {"P": "x"}, "Resources": {}})
    with pytest.raises(BundleFormatError, match=r"template parameter 'P' has a malformed declaration"):
        build_catalog({"Parameters": {"P": {"Type": "Number", "MinValue": "low"}}, "Resources": {}})


def test_entries_are_frozen(catalog: list[CatalogEntry]) -> None:
    with pytest.raises(ValidationError):
        catalog[0].kind = "dataset"  # type: ignore[misc]


def test_iter_assets_groups_by_asset(catalog: list[CatalogEntry]) -> None:
    groups = dict(iter_assets(catalog))
    assert all(re.match(r"^[a-z-]+/", key) for key in groups)
    assert sum(len(v) for v in groups.values()) == len(catalog) - 2


def test_summarize_resources(bundle: dict[str, Any]) -> None:
    summary = summarize_resources(
        {**bundle, "Resources": {**bundle["Resources"], "Bucket": {"Type": "AWS::S3::Bucket"}}}
    )
    assert list(summary) == [
        "datasource",
        "dataset",
        "analysis",
        "dashboard",
        "theme",
        "folder",
        "vpc-connection",
        "refresh-schedule",
        "other",
    ]
    assert len(summary["datasource"]) == 4 and len(summary["dataset"]) == 4
    assert summary["dashboard"] == ["sales-dashboard"]
    assert summary["other"] == ["Bucket"]
    assert "/" in summary["refresh-schedule"][0]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("abc", "abc"),
        (True, "true"),
        (False, "false"),
        (5432, "5432"),
        (5432.0, "5432"),
        (0.25, "0.25"),
        (-3.0, "-3"),
        # The engine sends 100000000000000000000 as a double: CloudFormation gets the integer, not "1e+20".
        (1e20, "100000000000000000000"),
        (1.5e-7, "1.5e-07"),
    ],
)
def test_to_parameter_string(value: Any, expected: str) -> None:
    assert to_parameter_string(value) == expected


def test_to_parameter_string_refuses_other_types() -> None:
    with pytest.raises(TypeError, match="expected a string, number or boolean, got dict"):
        to_parameter_string({})
    with pytest.raises(ValueError, match="not a finite number"):
        to_parameter_string(float("nan"))
    with pytest.raises(ValueError, match="inf is not a finite number"):
        to_parameter_string(float("inf"))


def _param(description: str, default: str) -> dict[str, Any]:
    return {"Type": "String", "Default": default, "Description": description}


def test_folders_topics_and_a_data_sets_alert_status_are_known_and_the_parent_folder_is_per_stage() -> None:
    from components.core.stage_values import resolve_parameters, stage_config_skeleton
    from components.errors import ParameterError

    parent = "arn:aws:quicksight:us-east-1:111111111111:folder/dev-root"
    template = {
        "Parameters": {
            "teamABCDEFName": _param("Name for folder:team", "Team"),
            "teamABCDEFParentFolderArn": _param("ParentFolderArn for folder:team", parent),
            "salesqABCDEFName": _param("Name for topic:sales-q", "Sales Q"),
            "salesqABCDEFDescription": _param("Description for topic:sales-q", "Ask about sales"),
            "ordersABCDEFRefreshFailureEmailAlertStatus": _param("RefreshFailureEmailAlertStatus for dataset:orders", "DISABLED"),
        },
        "Resources": {
            "teamABCDEF": {"Type": "AWS::QuickSight::Folder", "Properties": {
                "FolderId": "team", "Name": {"Ref": "teamABCDEFName"}, "ParentFolderArn": {"Ref": "teamABCDEFParentFolderArn"}}},
            "salesqABCDEF": {"Type": "AWS::QuickSight::TopicV2", "Properties": {
                "TopicId": "sales-q", "Name": {"Ref": "salesqABCDEFName"}, "Description": {"Ref": "salesqABCDEFDescription"}}},
            "ordersABCDEF": {"Type": "AWS::QuickSight::DataSet", "Properties": {
                "DataSetId": "orders", "RefreshFailureEmailAlertStatus": {"Ref": "ordersABCDEFRefreshFailureEmailAlertStatus"}}},
        },
    }  # fmt: skip
    catalog = build_catalog(template)
    assert [(e.key, e.connection) for e in catalog] == [
        ("dataset/orders.RefreshFailureEmailAlertStatus", False),
        ("folder/team.Name", False),
        ("folder/team.ParentFolderArn", True),
        ("topic/sales-q.Description", False),
        ("topic/sales-q.Name", False),
    ]
    with pytest.raises(ParameterError) as info:
        resolve_parameters(catalog, {"dataset/orders": {"RefreshFailureEmailAlertStatus": "ENABLED"}})
    assert info.value.problems == (
        f"folder/team.ParentFolderArn is not set and would reuse the source's value \"{parent}\": it is a folder's parent "
        "folder, a folder of the source account, so the stage would silently file it there; set it explicitly, or pass "
        "allow_source_defaults=True (config 'quicksight-promotion:allowSourceDefaults: true') to reuse it",
    )
    skeleton = stage_config_skeleton(catalog, "prod")
    assert '      ParentFolderArn: "<required: ParentFolderArn for folder/team>"' in skeleton
    assert '      # Description: "Ask about sales"   # source default' in skeleton
