"""The release's override configuration (core.overrides): per data source type, shapes, names, ids."""

from __future__ import annotations

import re

import botocore.session
import pytest

from components.core.overrides import (
    CONNECTION_BY_VARIANT,
    CREDENTIAL_VARIANTS,
    DATA_SOURCE_OVERRIDE_PROPERTIES,
    NOT_OVERRIDDEN,
    OVERRIDE_PROPERTIES,
    REFUSED_VARIANTS,
    SPICE_DATA_SET_PROPERTIES,
    MAX_OVERRIDE_ENTRIES,
    AssetSummary,
    BundleContents,
    DataSourceInfo,
    DefinitionProblem,
    asset_arn,
    build_overrides,
    connection_gaps,
    data_source_properties,
    describe_overrides,
    normalize_overrides,
    refusal,
    refused_in_template,
    release_job_id,
)
from components.errors import InputError

ACCOUNT = "111111111111"
MODEL = botocore.session.get_session().get_service_model("quicksight")


def source(variant: str, params: dict, type_: str = "X", **extra: object) -> DataSourceInfo:
    return DataSourceInfo.model_validate(
        {"Arn": f"arn:aws:quicksight:us-east-1:{ACCOUNT}:datasource/{variant}", "Type": type_,
         "DataSourceParameters": {variant: params}, **extra}
    )  # fmt: skip


@pytest.mark.parametrize(
    ("variant", "params", "expected"),
    [
        ("AuroraParameters", {"Host": "h", "Port": 3306, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("AuroraPostgreSqlParameters", {"Host": "h", "Port": 5432, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("MySqlParameters", {"Host": "h", "Port": 3306, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("MariaDbParameters", {"Host": "h", "Port": 3306, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("OracleParameters", {"Host": "h", "Port": 1521, "Database": "d", "UseServiceName": True}, ("Host", "Port", "Database", "Username", "Password")),
        ("PostgreSqlParameters", {"Host": "h", "Port": 5432, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("SqlServerParameters", {"Host": "h", "Port": 1433, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("TeradataParameters", {"Host": "h", "Port": 1025, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("RdsParameters", {"InstanceId": "db-1", "Database": "d"}, ("InstanceId", "Database", "Username", "Password")),
        ("RedshiftParameters", {"Host": "h", "Port": 5439, "Database": "d"}, ("Host", "Port", "Database", "Username", "Password")),
        ("RedshiftParameters", {"ClusterId": "c", "Database": "d"}, ("Database", "ClusterId", "Username", "Password")),
        ("RedshiftParameters", {"ClusterId": "c", "Database": "d", "IAMParameters": {"RoleArn": "r", "DatabaseUser": "u"}}, ("Database", "ClusterId")),
        ("AthenaParameters", {"WorkGroup": "primary"}, ("WorkGroup",)),
        ("AthenaParameters", {"WorkGroup": "dev", "RoleArn": "arn:aws:iam::111111111111:role/a"}, ("WorkGroup", "RoleArn")),
        ("AthenaParameters", {}, ()),
        ("S3Parameters", {"ManifestFileLocation": {"Bucket": "b", "Key": "k"}}, ("ManifestFileLocation",)),
        ("S3Parameters", {"ManifestFileLocation": {"Bucket": "b", "Key": "k"}, "RoleArn": "r"}, ("ManifestFileLocation", "RoleArn")),
        ("SnowflakeParameters", {"Host": "h", "Database": "d", "Warehouse": "w"}, ("Host", "Database", "Warehouse", "Username", "Password")),
        ("SnowflakeParameters", {"Host": "h", "Database": "d", "Warehouse": "w", "AuthenticationType": "TOKEN", "OAuthParameters": {"TokenProviderUrl": "u"}}, ("Host", "Database", "Warehouse")),
        ("SparkParameters", {"Host": "h", "Port": 443}, ("Host", "Port", "Username", "Password")),
        ("PrestoParameters", {"Host": "h", "Port": 8080, "Catalog": "c"}, ("Host", "Port", "Catalog", "Username", "Password")),
        ("TrinoParameters", {"Host": "h", "Port": 8080, "Catalog": "c"}, ("Host", "Port", "Catalog", "Username", "Password")),
        ("StarburstParameters", {"Host": "h", "Port": 443, "Catalog": "c", "ProductType": "GALAXY"}, ("Host", "Port", "Catalog", "Username", "Password")),
        ("DatabricksParameters", {"Host": "h", "Port": 443, "SqlEndpointPath": "/sql"}, ("Host", "Port", "Username", "Password")),
        ("AmazonOpenSearchParameters", {"Domain": "search-dev"}, ("Domain",)),
        ("AmazonElasticsearchParameters", {"Domain": "es-dev"}, ("Domain",)),
    ],
)
def test_each_data_source_type_asks_for_the_properties_it_has(variant: str, params: dict, expected: tuple) -> None:
    assert data_source_properties(source(variant, params)) == ("Name", *expected)


def test_a_secret_replaces_the_user_and_password() -> None:
    props = data_source_properties(
        source("PostgreSqlParameters", {"Host": "h", "Port": 1, "Database": "d"}, SecretArn="arn:aws:secretsmanager:x")
    )
    assert props == ("Name", "Host", "Port", "Database", "SecretArn")


def test_a_type_with_no_known_connection_gets_its_name_only_and_a_note() -> None:
    bigquery = source("BigQueryParameters", {"ProjectId": "p"}, "BIGQUERY")
    assert data_source_properties(bigquery) == ("Name",)
    note = connection_gaps(bigquery)
    assert note is not None and "BIGQUERY" in note and "every stage connects where dev does" in note
    assert connection_gaps(source("AthenaParameters", {"WorkGroup": "w"})) is None


def test_the_tables_agree_with_botocore_s_model() -> None:
    """Every property asked for is in the API's enum and is a member of that variant's shape."""
    enum = MODEL.shape_for("AssetBundleExportJobDataSourcePropertyToOverride").enum
    assert set(enum) == DATA_SOURCE_OVERRIDE_PROPERTIES
    variants = MODEL.shape_for("DataSourceParameters").members
    for variant, props in CONNECTION_BY_VARIANT.items():
        assert variant in variants, variant
        assert set(props) <= DATA_SOURCE_OVERRIDE_PROPERTIES
        assert set(props) <= set(variants[variant].members), (variant, props)
    for name, items in (("VPCConnection", ("Name", "RoleArn")), ("RefreshSchedule", ("StartAfterDateTime",)),
                        ("DataSet", ("Name",)), ("Theme", ("Name",)), ("Analysis", ("Name",)), ("Dashboard", ("Name",))):  # fmt: skip
        assert set(items) <= set(MODEL.shape_for(f"AssetBundleExportJob{name}PropertyToOverride").enum)


def test_every_data_source_variant_of_the_model_is_mapped_or_refused_never_both() -> None:
    """The next DataSourceParameters member botocore's model gains fails here until it is classified."""
    variants = set(MODEL.shape_for("DataSourceParameters").members)
    unclassified = variants - set(CONNECTION_BY_VARIANT) - set(REFUSED_VARIANTS)
    assert unclassified == set(), f"classify in core/overrides.py (CONNECTION_BY_VARIANT or REFUSED_VARIANTS): {sorted(unclassified)}"
    assert set(CONNECTION_BY_VARIANT) & set(REFUSED_VARIANTS) == set()
    assert (set(CONNECTION_BY_VARIANT) | set(REFUSED_VARIANTS)) <= variants, "a variant the model no longer has"
    assert CREDENTIAL_VARIANTS <= set(CONNECTION_BY_VARIANT)


def test_every_mapped_variant_is_one_cloudformation_can_express() -> None:
    from components.validation import resource_schemas

    schema = resource_schemas(["AWS::QuickSight::DataSource"])["AWS::QuickSight::DataSource"]
    expressible = set(schema["definitions"]["DataSourceParameters"]["properties"])
    assert set(CONNECTION_BY_VARIANT) <= expressible, sorted(set(CONNECTION_BY_VARIANT) - expressible)
    assert "BigQueryParameters" not in expressible  # cloudformation-coverage-roadmap#2366, refused with that reason


def test_refusals_say_why_by_variant_or_by_type() -> None:
    assert "cloudformation-coverage-roadmap#2366" in str(refusal("BigQueryParameters", "BIGQUERY"))
    assert refusal(None, "SALESFORCE") == "asset bundle exports do not support it"
    assert "Quick Suite knowledge source" in str(refusal("ConfluenceParameters"))
    assert "table bucket" in str(refusal("S3TablesParameters"))
    assert refusal("AthenaParameters", "ATHENA") is None


def test_a_template_holding_a_refused_data_source_names_it() -> None:
    template = {
        "Resources": {
            "bq": {"Type": "AWS::QuickSight::DataSource",
                   "Properties": {"DataSourceId": "bq", "DataSourceParameters": {"BigQueryParameters": {"ProjectId": "p"}}}},
            "pg": {"Type": "AWS::QuickSight::DataSource",
                   "Properties": {"DataSourceId": "pg", "DataSourceParameters": {"PostgreSqlParameters": {"Host": "h"}}}},
        }
    }  # fmt: skip
    assert refused_in_template(template) == [("datasource/bq", "BigQueryParameters", REFUSED_VARIANTS["BigQueryParameters"])]


def test_every_override_kind_and_property_of_the_model_is_asked_for_or_deliberately_not() -> None:
    """The next override kind or property botocore's model gains fails here until it is classified."""
    configuration = MODEL.shape_for("AssetBundleCloudFormationOverridePropertyConfiguration")
    asked = {kind: set(props) for kind, props in OVERRIDE_PROPERTIES.items()}
    asked["DataSets"] |= set(SPICE_DATA_SET_PROPERTIES)
    # A data source's properties depend on its variant (CONNECTION_BY_VARIANT, the credentials).
    asked["DataSources"] = {"Name", "SecretArn", "Username", "Password"} | {p for ps in CONNECTION_BY_VARIANT.values() for p in ps}
    unclassified = []
    for kind, member in configuration.members.items():
        if kind == "ResourceIdOverrideConfiguration":
            continue  # the id prefix: build_overrides' id_prefix
        enum = set(member.member.members["Properties"].member.enum)
        skipped = set(NOT_OVERRIDDEN.get(kind, {}))
        assert not (asked.get(kind, set()) & skipped), kind
        unclassified += [f"{kind}.{p}" for p in sorted(enum - asked.get(kind, set()) - skipped)]
        assert asked.get(kind, set()) <= enum, (kind, asked.get(kind, set()) - enum)
    assert unclassified == [], f"classify in core/overrides.py (OVERRIDE_PROPERTIES or NOT_OVERRIDDEN): {unclassified}"
    assert set(OVERRIDE_PROPERTIES) | {"DataSources"} == set(configuration.members) - {"ResourceIdOverrideConfiguration"}


def test_folders_topics_and_spice_data_sets_get_their_properties() -> None:
    contents = BundleContents(
        data_sets=(arn("dataset", "direct"), arn("dataset", "spice")),
        spice_data_sets=(arn("dataset", "spice"),),
        folders=(arn("folder", "team"),),
        topics=(arn("topic", "sales-q"),),
    )
    config = build_overrides(contents, id_prefix=False)
    assert config == {
        "DataSets": [
            {"Arn": arn("dataset", "direct"), "Properties": ["Name"]},
            {"Arn": arn("dataset", "spice"), "Properties": ["Name", "RefreshFailureEmailAlertStatus"]},
        ],
        "Folders": [{"Arn": arn("folder", "team"), "Properties": ["Name", "ParentFolderArn"]}],
        "TopicsV2": [{"Arn": arn("topic", "sales-q"), "Properties": ["Name", "Description"]}],
    }


def arn(kind: str, id_: str) -> str:
    return f"arn:aws:quicksight:us-east-1:{ACCOUNT}:{kind}/{id_}"


def test_build_overrides_names_every_asset_in_the_api_shape() -> None:
    contents = BundleContents(
        dashboards=(arn("dashboard", "d"),),
        analyses=(arn("analysis", "a"),),
        data_sets=(arn("dataset", "s2"), arn("dataset", "s1")),
        data_sources=(source("AthenaParameters", {"WorkGroup": "w"}),),
        themes=(arn("theme", "t"),),
        vpc_connections=(arn("vpcConnection", "v"),),
        refresh_schedules=(arn("dataset", "s1") + "/refresh-schedule/daily",),
    )
    config = build_overrides(contents)
    assert config == {
        "ResourceIdOverrideConfiguration": {"PrefixForAllResources": True},
        "VPCConnections": [{"Arn": arn("vpcConnection", "v"), "Properties": ["Name", "RoleArn"]}],
        "RefreshSchedules": [{"Arn": arn("dataset", "s1") + "/refresh-schedule/daily", "Properties": ["StartAfterDateTime"]}],
        "DataSources": [{"Arn": arn("datasource", "AthenaParameters"), "Properties": ["Name", "WorkGroup"]}],
        "DataSets": [{"Arn": arn("dataset", "s1"), "Properties": ["Name"]}, {"Arn": arn("dataset", "s2"), "Properties": ["Name"]}],
        "Themes": [{"Arn": arn("theme", "t"), "Properties": ["Name"]}],
        "Analyses": [{"Arn": arn("analysis", "a"), "Properties": ["Name"]}],
        "Dashboards": [{"Arn": arn("dashboard", "d"), "Properties": ["Name"]}],
    }
    # The configuration validates against botocore's input shape (the client would refuse it otherwise).
    from botocore.validate import ParamValidator

    shape = MODEL.operation_model("StartAssetBundleExportJob").input_shape.members["CloudFormationOverridePropertyConfiguration"]
    report = ParamValidator().validate(config, shape)
    assert not report.has_errors(), report.generate_report()
    lines = describe_overrides(config)
    assert lines[0].endswith("true") and any("WorkGroup" in line for line in lines)


def test_without_id_prefix_and_with_nothing_else_the_lists_are_omitted() -> None:
    assert build_overrides(BundleContents(dashboards=(arn("dashboard", "d"),)), id_prefix=False) == {
        "Dashboards": [{"Arn": arn("dashboard", "d"), "Properties": ["Name"]}]
    }


def test_more_than_50_entries_of_a_kind_is_refused_with_the_count() -> None:
    sets = tuple(arn("dataset", f"s{i}") for i in range(MAX_OVERRIDE_ENTRIES + 1))
    with pytest.raises(InputError) as caught:
        build_overrides(BundleContents(data_sets=sets))
    assert "DataSets (51)" in str(caught.value) and "split" in str(caught.value)


def test_normalize_ignores_order_and_a_false_prefix() -> None:
    one = {"DataSets": [{"Arn": "b", "Properties": ["Name"]}, {"Arn": "a", "Properties": ["Name"]}],
           "DataSources": [{"Arn": "s", "Properties": ["Host", "Name"]}]}  # fmt: skip
    two = {"ResourceIdOverrideConfiguration": {"PrefixForAllResources": False}, "Themes": [],
           "DataSources": [{"Arn": "s", "Properties": ["Name", "Host"]}],
           "DataSets": [{"Arn": "a", "Properties": ["Name"]}, {"Arn": "b", "Properties": ["Name"]}]}  # fmt: skip
    assert normalize_overrides(one) == normalize_overrides(two)
    assert normalize_overrides(one) != normalize_overrides({**one, "ResourceIdOverrideConfiguration": {"PrefixForAllResources": True}})


JOB_ID = re.compile(r"^[A-Za-z0-9_\-]{1,512}$")


def test_job_ids_derive_from_release_names() -> None:
    assert release_job_id("sales-2026_12") == "sales-2026_12"
    assert release_job_id("sales-2026_12") == release_job_id("sales-2026_12")
    odd = release_job_id("sales 2026/12 売上")
    assert JOB_ID.match(odd) and odd.startswith("sales-2026-12-")
    assert release_job_id("a b") != release_job_id("a/b") != release_job_id("a-b")
    long = release_job_id("x" * 600)
    assert JOB_ID.match(long) and len(long) == 512
    assert release_job_id("x" * 600) != release_job_id("x" * 601)
    with pytest.raises(InputError, match="release_name is empty"):
        release_job_id(" ")


def test_asset_arn_accepts_ids_and_arns_of_the_account() -> None:
    assert asset_arn("dashboard", "sales", account=ACCOUNT, region="us-east-1") == arn("dashboard", "sales")
    assert asset_arn("dashboard", arn("dashboard", "x"), account=ACCOUNT, region="us-east-1") == arn("dashboard", "x")
    assert asset_arn("analysis", "a", account=ACCOUNT, region="cn-north-1").startswith("arn:aws-cn:")
    with pytest.raises(InputError) as caught:
        asset_arn("dashboard", "arn:aws:quicksight:us-east-1:222222222222:dashboard/x", account=ACCOUNT, region="us-east-1")
    assert "account 222222222222" in str(caught.value) and ACCOUNT in str(caught.value)
    with pytest.raises(InputError, match="not a QuickSight dashboard ARN"):
        asset_arn("dashboard", arn("analysis", "x"), account=ACCOUNT, region="us-east-1")
    with pytest.raises(InputError, match="neither an id .* nor an ARN of a analysis"):
        asset_arn("analysis", "bad id!", account=ACCOUNT, region="us-east-1")


def test_a_definition_problem_is_an_answer_entry_not_an_error() -> None:
    assert not issubclass(DefinitionProblem, Exception)
    summary = AssetSummary.model_validate(
        {
            "Status": "CREATION_FAILED",
            "Errors": [
                {"Type": "COLUMN_NOT_FOUND", "Message": "Column Region", "ViolatedEntities": [{"Path": "a"}, {"Path": "b"}]},
                {},
            ],
        }
    )
    assert [type(e) for e in summary.errors] == [DefinitionProblem, DefinitionProblem]
    assert [e.describe() for e in summary.errors] == ["COLUMN_NOT_FOUND: Column Region (at a, b)", "ERROR: (no message)"]
