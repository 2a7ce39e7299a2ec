"""Per-stage parameter values: accepted forms, validation messages and the stage config skeleton."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from pydantic import ValidationError

from components.core.catalog import CatalogEntry, build_catalog
from tools.generator import generate_bundle
from components.core.stage_values import Resolution, given_parameters, resolve_parameters, stage_config_skeleton
from components.errors import InputError, ParameterError

SECRET = "s3cr3t-Pa55word"
ARN_PREFIX = "arn:aws:quicksight:us-east-1:111122223333:"


@pytest.fixture(scope="module")
def catalog() -> list[CatalogEntry]:
    return build_catalog(generate_bundle(seed=3))


def source_with(catalog: list[CatalogEntry], prop: str) -> str:
    """The asset key of the only data source that has ``prop``."""
    (key,) = {e.asset_key() for e in catalog if e.kind == "datasource" and e.property == prop}
    assert key is not None
    return key


def named(catalog: list[CatalogEntry], asset: str, prop: str) -> str:
    (name,) = [e.name for e in catalog if e.asset_key() == asset and e.property == prop]
    return name


def complete(catalog: list[CatalogEntry]) -> dict[str, Any]:
    """Nested values for every data source connection property and every parameter without a Default."""
    values: dict[str, Any] = {}
    for e in catalog:
        if e.kind in ("datasource", "vpc-connection") and (e.connection or not e.has_default):
            value: Any = (
                5439 if e.property == "Port" else (SECRET if e.property == "Password" else f"prod-{e.property}")
            )
            values.setdefault(e.asset_key(), {})[e.property] = value
    return values


def problems_of(catalog: list[CatalogEntry], values: dict[str, Any], **kwargs: Any) -> str:
    with pytest.raises(ParameterError) as info:
        resolve_parameters(catalog, values, **kwargs)
    message = str(info.value)
    assert "\n" not in message
    assert message.count("; ") + 1 >= len(info.value.problems)
    return message


def entry(name: str, **fields: Any) -> CatalogEntry:
    return CatalogEntry(name=name, kind="unknown", key=name, **fields)


def source_entry(prop: str, **fields: Any) -> CatalogEntry:
    asset_id = "826ec139-04c9-4a4f-a09d-979551d5dc38"
    return CatalogEntry(
        name=f"826ec13904c94a4fa09dCB5442{prop.replace('.', '')}",
        kind="datasource",
        asset_id=asset_id,
        logical_id="826ec13904c94a4fa09dCB5442",
        property=prop,
        key=f"datasource/{asset_id}.{prop}",
        **fields,
    )


# --- the happy path and the accepted forms -----------------------------------------------------


def test_complete_nested_values_resolve(catalog: list[CatalogEntry]) -> None:
    result = resolve_parameters(catalog, complete(catalog))
    redshift = source_with(catalog, "Password")
    assert result.values[named(catalog, redshift, "Port")] == "5439"
    assert result.values[named(catalog, redshift, "Password")] == SECRET
    assert result.credentials == {
        named(catalog, redshift, "Password"),
        named(catalog, redshift, "Username"),
        named(catalog, source_with(catalog, "SecretArn"), "SecretArn"),
    }
    assert result.sensitive == result.credentials
    # Names, globals and other non-connection properties fall back to their source Default.
    defaulted = {e.name for e in catalog if e.name not in result.values}
    assert set(result.from_defaults) == defaulted
    assert "ResourceIdPrefixForAllResources" in defaulted and "IdentityRegion" in defaulted
    assert result.defaults["IdentityRegion"] == "us-east-1"
    assert result.reused_connections == []
    assert result.all_values() == {**result.defaults, **result.values}
    assert len(result.all_values()) == len(catalog)


def test_resolution_repr_hides_credentials(catalog: list[CatalogEntry]) -> None:
    result = resolve_parameters(catalog, complete(catalog))
    assert SECRET not in repr(result) and SECRET not in str(result)
    assert "<hidden>" in repr(result)
    assert "prod-Host" in repr(result)


def test_globals_and_names_can_be_set(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    values.update({"ResourceIdPrefixForAllResources": "prod-", "IdentityRegion": "eu-west-1"})
    values["dashboard/sales-dashboard"] = {"Name": "売上ダッシュボード（本番）"}
    result = resolve_parameters(catalog, values)
    assert result.values["ResourceIdPrefixForAllResources"] == "prod-"
    assert result.values["IdentityRegion"] == "eu-west-1"
    assert result.values[named(catalog, "dashboard/sales-dashboard", "Name")] == "売上ダッシュボード（本番）"
    assert result.given_as["IdentityRegion"] == "as parameter name 'IdentityRegion'"


def test_raw_flat_and_arn_forms(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    postgres = source_with(catalog, "SecretArn")
    source_id = postgres.split("/", 1)[1]
    host, port, database = (named(catalog, postgres, p) for p in ("Host", "Port", "Database"))
    del values[postgres]["Host"], values[postgres]["Port"], values[postgres]["Database"]
    values[ARN_PREFIX + f"datasource/{source_id}"] = values.pop(postgres)  # ARN as an asset key
    values[host] = "db.prod.internal"  # the raw parameter name
    values[f"{postgres}.Port"] = 6543.0  # a flat friendly key; YAML/engine floats lose ".0"
    values[f"{ARN_PREFIX}datasource/{source_id}.Database"] = "sales"  # a flat ARN key
    del values["vpc-connection/vpc-conn-orders-db"]
    values["vpcConnection/vpc-conn-orders-db"] = {"RoleArn": "arn:aws:iam::444455556666:role/qs-vpc"}
    result = resolve_parameters(catalog, values)
    assert (result.values[host], result.values[port], result.values[database]) == ("db.prod.internal", "6543", "sales")
    assert result.values[named(catalog, "vpc-connection/vpc-conn-orders-db", "RoleArn")].endswith("qs-vpc")
    assert result.given_as[port] == f"as '{postgres}.Port'"
    assert result.given_as[named(catalog, postgres, "SecretArn")] == f"under '{ARN_PREFIX}datasource/{source_id}'"


@pytest.mark.parametrize(
    "form",
    [
        pytest.param(lambda b, k: {"ManifestFileLocation": {"Bucket": b, "Key": k}}, id="nested"),
        pytest.param(
            lambda b, k: {"ManifestFileLocationBucket": b, "ManifestFileLocationKey": k}, id="parameter-suffix"
        ),
        pytest.param(lambda b, k: {"ManifestFileLocation.Bucket": b, "ManifestFileLocation.Key": k}, id="dotted"),
        pytest.param(lambda b, k: {"ManifestFileLocation": {"Bucket": b}, "ManifestFileLocationKey": k}, id="mixed"),
    ],
)
def test_manifest_file_location_forms(catalog: list[CatalogEntry], form: Any) -> None:
    values = complete(catalog)
    s3 = source_with(catalog, "ManifestFileLocation.Bucket")
    values[s3] = form("prod-bucket", "manifests/prod.json")
    result = resolve_parameters(catalog, values)
    assert result.values[named(catalog, s3, "ManifestFileLocation.Bucket")] == "prod-bucket"
    assert result.values[named(catalog, s3, "ManifestFileLocation.Key")] == "manifests/prod.json"


def test_refresh_schedule_by_key_and_by_arn(catalog: list[CatalogEntry]) -> None:
    (schedule,) = [e for e in catalog if e.kind == "refresh-schedule"]
    data_set_id, schedule_id = (schedule.asset_id or "").split("/")
    for key in (
        f"refresh-schedule/{data_set_id}/{schedule_id}",
        f"{ARN_PREFIX}dataset/{data_set_id}/refresh-schedule/{schedule_id}",
    ):
        values = {**complete(catalog), key: {"StartAfterDateTime": "2030-01-01T00:00:00Z"}}
        assert resolve_parameters(catalog, values).values[schedule.name] == "2030-01-01T00:00:00Z"


def test_asset_with_every_line_commented_out_is_null(catalog: list[CatalogEntry]) -> None:
    values = {**complete(catalog), "dashboard/sales-dashboard": None}
    assert named(catalog, "dashboard/sales-dashboard", "Name") in resolve_parameters(catalog, values).from_defaults
    values[source_with(catalog, "ManifestFileLocation.Bucket")] = {"ManifestFileLocation": None}
    message = problems_of(catalog, values)
    assert "ManifestFileLocation.Bucket is not set and would reuse" in message


def test_stringification() -> None:
    catalog = [
        entry("Flag"),
        entry("Ratio", type="Number"),
        entry("Count", type="Number"),
        entry("Tags", type="CommaDelimitedList"),
        entry("Ports", type="List<Number>"),
        entry("Text"),
    ]
    result = resolve_parameters(
        catalog, {"Flag": True, "Ratio": 0.5, "Count": 12.0, "Tags": ["a", "b", 3], "Ports": [80, 443.0], "Text": False}
    )
    assert result.values == {
        "Flag": "true",
        "Ratio": "0.5",
        "Count": "12",
        "Tags": "a,b,3",
        "Ports": "80,443",
        "Text": "false",
    }
    assert result.from_defaults == [] and result.credentials == set()


def test_empty_or_missing_values_mapping() -> None:
    catalog = [entry("Optional", default="d", has_default=True)]
    assert resolve_parameters(catalog, None).from_defaults == ["Optional"]
    assert resolve_parameters(catalog, {}).defaults == {"Optional": "d"}


# --- validation messages -----------------------------------------------------------------------


def test_parameter_error_is_an_input_error() -> None:
    assert issubclass(ParameterError, InputError)
    with pytest.raises(ValueError):
        resolve_parameters([entry("Required")], {})


def test_unknown_property_suggests_the_assets_properties(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    postgres = source_with(catalog, "SecretArn")
    values[postgres]["Hots"] = "x"
    message = problems_of(catalog, values)
    assert f"unknown property 'Hots' for {postgres}: did you mean 'Host'?" in message
    assert "(its parameters: Database, Host, Name, Port, SecretArn)" in message


def test_unknown_property_in_a_flat_key_is_case_hinted(catalog: list[CatalogEntry]) -> None:
    athena = source_with(catalog, "WorkGroup")
    message = problems_of(catalog, {**complete(catalog), f"{athena}.workgroup": "primary"})
    assert f"unknown property 'workgroup' for {athena}: did you mean 'WorkGroup'?" in message


def test_unknown_asset_suggests_close_assets(catalog: list[CatalogEntry]) -> None:
    message = problems_of(catalog, {**complete(catalog), "dashbaord/sales-dashboard": {"Name": "x"}})
    assert "unknown asset 'dashbaord/sales-dashboard': did you mean 'dashboard/sales-dashboard'?" in message
    message = problems_of(catalog, {**complete(catalog), "analysis/sales-dashboard": {"Name": "x"}})
    assert "unknown asset 'analysis/sales-dashboard': did you mean 'dashboard/sales-dashboard'?" in message
    message = problems_of(catalog, {**complete(catalog), f"{ARN_PREFIX}dashboard/sales-dashbord": {"Name": "x"}})
    assert "did you mean 'dashboard/sales-dashboard'?" in message
    assert "use <kind>/<asset id> or the asset's ARN" in message


def test_unknown_top_level_key_suggests_parameters(catalog: list[CatalogEntry]) -> None:
    message = problems_of(catalog, {**complete(catalog), "ResourceIdPrefixForAllResource": "p-"})
    assert "unknown key 'ResourceIdPrefixForAllResource': did you mean 'ResourceIdPrefixForAllResources'?" in message
    message = problems_of(catalog, {**complete(catalog), "arn:aws:s3:::bucket": "x"})
    assert "unknown key 'arn:aws:s3:::bucket'" in message


def test_every_problem_is_reported_at_once(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    redshift = source_with(catalog, "Password")
    del values[redshift]["Password"]
    values[redshift]["Hots"] = "x"
    values["dashbaord/sales-dashboard"] = {"Name": "x"}
    values["IdentityRegion"] = None
    with pytest.raises(ParameterError) as info:
        resolve_parameters(catalog, values)
    assert len(info.value.problems) == 4
    assert str(info.value).startswith("4 problems with the stage's CloudFormation parameter values: ")
    assert str(info.value).endswith("; ".join(info.value.problems))


def test_missing_required_credential_names_it_and_says_how_to_set_it(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    redshift = source_with(catalog, "Password")
    del values[redshift]["Password"]
    message = problems_of(catalog, values)
    assert message == (
        f"1 problem with the stage's CloudFormation parameter values: {redshift}.Password has no source default "
        "and no value: QuickSight never exports credentials; set it as a secret with pulumi config set --secret "
        f"--path 'quicksight-promotion:parameters.{redshift}.Password' <value>"
    )


def test_missing_required_plain_value() -> None:
    message = problems_of([entry("8abcToken")], {})
    assert "8abcToken has no source default and no value: set it in the stage's parameters" in message


def test_connection_properties_need_explicit_values(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    athena = source_with(catalog, "WorkGroup")
    postgres = source_with(catalog, "SecretArn")
    del values[athena]
    del values[postgres]["SecretArn"]
    message = problems_of(catalog, values)
    assert (
        f'{athena}.WorkGroup is not set and would reuse the source\'s value "analytics-dev": it is a data source '
        "connection property, so the stage would silently use the source's data; set it explicitly, or pass "
        "allow_source_defaults=True (config 'quicksight-promotion:allowSourceDefaults: true') to reuse it"
    ) in message
    # A SecretArn's source default is not shown; it names a secret and is none: set it as any value.
    assert (
        f"{postgres}.SecretArn is not set and would reuse the source's value <hidden>: it is a data source connection "
        "property, so the stage would silently use the source's data; set it explicitly,"
    ) in message
    assert "secretsmanager" not in message and f"{postgres}.SecretArn'" not in message
    # Names may fall back to their source default: they are not mentioned.
    assert ".Name " not in message

    result = resolve_parameters(catalog, values, allow_source_defaults=True)
    assert set(result.reused_connections) == {
        named(catalog, athena, "WorkGroup"),
        named(catalog, postgres, "SecretArn"),
    }
    assert named(catalog, athena, "WorkGroup") in result.from_defaults


def test_the_same_parameter_given_twice(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    athena = source_with(catalog, "WorkGroup")
    raw = named(catalog, athena, "WorkGroup")
    values[raw] = "other"
    message = problems_of(catalog, values)
    assert (
        f"{athena}.WorkGroup is given twice (under '{athena}' and as parameter name '{raw}'): keep only one of them"
        in message
    )
    s3 = source_with(catalog, "ManifestFileLocation.Bucket")
    values = complete(catalog)
    values[s3]["ManifestFileLocation"] = {"Bucket": "b"}
    message = problems_of(catalog, values)
    assert f"{s3}.ManifestFileLocation.Bucket is given twice (under '{s3}' and under '{s3}')" in message


def test_number_and_range_checks() -> None:
    catalog = [entry("Port", type="Number", min_value=1, max_value=65535, constraint_description="a TCP port")]
    assert 'Port is a Number parameter but got "http": give a number such as 5432' in problems_of(
        catalog, {"Port": "http"}
    )
    assert 'Port got "0", below its MinValue 1 (a TCP port)' in problems_of(catalog, {"Port": 0})
    assert 'Port got "70000", above its MaxValue 65535 (a TCP port)' in problems_of(catalog, {"Port": 70000})
    assert resolve_parameters(catalog, {"Port": "1e3"}).values == {"Port": "1e3"}


def test_allowed_values_pattern_and_length() -> None:
    catalog = [
        entry("Mode", allowed_values=["FULL", "INCREMENTAL"]),
        entry("Bucket", allowed_pattern="[a-z0-9.-]+"),
        entry("Code", min_length=3, max_length=4),
    ]
    message = problems_of(catalog, {"Mode": "full", "Bucket": "Prod_Bucket", "Code": "ab"})
    assert 'Mode got "full", not one of its AllowedValues: "FULL", "INCREMENTAL"' in message
    assert "Bucket got \"Prod_Bucket\", which does not match its AllowedPattern '[a-z0-9.-]+'" in message
    assert 'Code got "ab" (2 characters), shorter than its MinLength 3' in message
    # CloudFormation matches the whole value: a matching substring is not enough.
    assert "does not match" in problems_of(catalog, {"Mode": "FULL", "Bucket": "ok-bucket!", "Code": "abc"})
    assert "longer than its MaxLength 4" in problems_of(catalog, {"Mode": "FULL", "Bucket": "b", "Code": "abcde"})
    assert (
        resolve_parameters(catalog, {"Mode": "FULL", "Bucket": "prod.bucket", "Code": "abcd"}).values["Code"] == "abcd"
    )


def test_credential_values_never_appear_in_messages() -> None:
    catalog = [
        source_entry("Password", credential=True, connection=True, allowed_pattern="[A-Z]+", min_length=40),
        source_entry("Username", credential=True, connection=True, type="Number"),
        entry("Token", no_echo=True, allowed_values=["a"]),
    ]
    message = problems_of(catalog, {catalog[0].key: SECRET, catalog[1].key: "admin-user", "Token": "tok-123"})
    assert SECRET not in message and "admin-user" not in message and "tok-123" not in message
    assert f"{catalog[0].key} got <hidden>, which does not match its AllowedPattern '[A-Z]+'" in message
    assert f"{catalog[0].key} got <hidden> (15 characters), shorter than its MinLength 40" in message
    assert f"{catalog[1].key} is a Number parameter but got <hidden>" in message
    assert 'Token got <hidden>, not one of its AllowedValues: "a"' in message
    # A misspelt credential key does not echo its value either.
    message = problems_of(catalog, {"datasource/826ec139-04c9-4a4f-a09d-979551d5dc38": {"Pasword": SECRET}})
    assert SECRET not in message and "did you mean 'Password'?" in message


def test_wrong_shapes_are_refused(catalog: list[CatalogEntry]) -> None:
    values = complete(catalog)
    athena = source_with(catalog, "WorkGroup")
    values[athena]["WorkGroup"] = {"name": "primary"}
    values["dashboard/sales-dashboard"] = "Sales"
    values["IdentityRegion"] = ["us-east-1"]
    values["ResourceIdPrefixForAllResources"] = float("inf")
    values[source_with(catalog, "SecretArn")]["Host"] = None
    message = problems_of(catalog, values)
    assert f"{athena}.WorkGroup got a mapping: give a string, number or boolean" in message
    assert (
        "'dashboard/sales-dashboard' holds a str: an asset takes a mapping of property -> value "
        "(e.g. 'dashboard/sales-dashboard': {Name: ...})"
    ) in message
    assert "IdentityRegion got a list but its parameter type is String: give a single value" in message
    assert "ResourceIdPrefixForAllResources got a non-finite number: give a finite number" in message
    assert ".Host is null: give a value, or remove the key to use the source default" in message


def test_list_items_cannot_hold_commas() -> None:
    message = problems_of([entry("Tags", type="CommaDelimitedList")], {"Tags": ["a,b", "c"]})
    assert "Tags got a list item containing ','" in message


def test_non_string_keys_are_refused() -> None:
    message = problems_of([entry("A", has_default=True, default="")], {5: "x"})  # type: ignore[dict-item]
    assert "key 5 of the parameters mapping is a int: keys must be strings" in message


# --- the skeleton ------------------------------------------------------------------------------


def load_yaml(text: str) -> Any:
    yaml = pytest.importorskip("yaml")
    return yaml.safe_load(text)


def test_skeleton_is_valid_yaml_listing_every_parameter(catalog: list[CatalogEntry]) -> None:
    text = stage_config_skeleton(catalog, "prod")
    assert text.startswith("## Pulumi.prod.yaml")
    parameters = load_yaml(text)["config"]["quicksight-promotion:parameters"]
    for e in catalog:
        asset = e.asset_key()
        assert (f'"{asset}":' in text) if asset else (f"{e.name}:" in text), e.key
        leaf = (e.property or e.name).split(".")[-1]
        assert f"{leaf}:" in text
    redshift = source_with(catalog, "Password")
    assert parameters[redshift]["Host"] == f"<required: Host for {redshift}>"
    s3 = source_with(catalog, "ManifestFileLocation.Bucket")
    assert parameters[s3]["ManifestFileLocation"]["Key"] == f"<required: ManifestFileLocation.Key for {s3}>"
    # Source defaults of optional parameters are shown in comments, not set.
    assert parameters["dashboard/sales-dashboard"] is None
    assert '# Name: "売上ダッシュボード"   # source default' in text
    assert '# IdentityRegion: "us-east-1"   # source default' in text


def test_skeleton_credentials_are_comments_with_the_secret_hint(catalog: list[CatalogEntry]) -> None:
    text = stage_config_skeleton(catalog, "prod")
    parameters = load_yaml(text)["config"]["quicksight-promotion:parameters"]
    redshift = source_with(catalog, "Password")
    assert "Password" not in parameters[redshift] and "Username" not in parameters[redshift]
    assert f"pulumi config set --secret --path 'quicksight-promotion:parameters.{redshift}.Password' <value>" in text
    # A SecretArn names a secret and is none: a placeholder to fill in, its source value not shown.
    postgres = source_with(catalog, "SecretArn")
    assert parameters[postgres]["SecretArn"] == f"<required: SecretArn for {postgres}>"
    assert "secretsmanager" not in text
    assert f"--path 'quicksight-promotion:parameters.{postgres}.SecretArn'" not in text


def test_skeleton_placeholders_are_refused_until_replaced(catalog: list[CatalogEntry]) -> None:
    parameters = load_yaml(stage_config_skeleton(catalog, "prod"))["config"]["quicksight-promotion:parameters"]
    redshift = source_with(catalog, "Password")
    message = problems_of(catalog, parameters)
    assert f"{redshift}.Host still holds the skeleton placeholder: replace it with the stage's value" in message

    filled = copy.deepcopy(parameters)

    def fill(node: dict[str, Any]) -> None:
        for key, value in node.items():
            if isinstance(value, dict):
                fill(value)
            elif value is not None:
                node[key] = 5439 if key == "Port" else f"prod-{key}"

    fill(filled)
    # What `pulumi config set --secret --path` adds next to the skeleton's values.
    filled[redshift].update({"Username": "qs_reader", "Password": SECRET})
    filled[source_with(catalog, "SecretArn")]["SecretArn"] = "arn:aws:secretsmanager:us-east-1:444455556666:secret:x"
    result = resolve_parameters(catalog, filled)
    assert result.values[named(catalog, redshift, "Port")] == "5439"
    assert len(result.credentials) == 3


def test_skeleton_quotes_keys_and_keeps_unknown_parameters() -> None:
    catalog = [
        entry("826Weird", note="no generated description and no resource uses it"),
        entry("Optional", default="line1\nline2 \u2028 # not a comment", has_default=True, allowed_values=["x", "y"]),
        entry("true", default="yes", has_default=True),
        source_entry("Port", type="Number", default="5432", has_default=True, connection=True),
    ]
    text = stage_config_skeleton(catalog, "dev", project="my-proj")
    document = load_yaml(text)
    parameters = document["config"]["my-proj:parameters"]
    assert parameters["826Weird"] == "<required: 826Weird>"
    assert parameters[catalog[3].asset_key()] == {"Port": f"<required: Port for {catalog[3].asset_key()}>"}
    assert "# 826Weird: no generated description and no resource uses it" in text
    assert "allowed: x, y" in text and "type Number" in text
    assert '# "true": "yes"' in text
    assert "my-proj:allowSourceDefaults" in text


def test_skeleton_with_nothing_to_set_stays_a_mapping() -> None:
    # A null `parameters` is not the object Pulumi.yaml declares: the first default is written out.
    catalog = [entry("Optional", default="d", has_default=True), entry("Other", default="e", has_default=True)]
    text = stage_config_skeleton(catalog, "prod")
    parameters = load_yaml(text)["config"]["quicksight-promotion:parameters"]
    assert parameters == {"Optional": "d"}
    assert '    # Other: "e"   # source default' in text
    assert resolve_parameters(catalog, parameters).all_values() == {"Optional": "d", "Other": "e"}


def test_skeleton_of_a_template_without_parameters_is_an_empty_mapping() -> None:
    parameters = load_yaml(stage_config_skeleton([], "prod"))["config"]["quicksight-promotion:parameters"]
    assert parameters == {}


def test_resolution_is_frozen(catalog: list[CatalogEntry]) -> None:
    result = resolve_parameters(catalog, complete(catalog))
    assert isinstance(result, Resolution)
    with pytest.raises(ValidationError):
        result.values = {}  # type: ignore[misc]


def _commented_lines(text: str) -> list[int]:
    return [i for i, line in enumerate(text.splitlines()) if line.lstrip().startswith("#")]


def _uncommented(text: str, number: int) -> str:
    lines = text.splitlines()
    line = lines[number]
    indent = len(line) - len(line.lstrip())
    body = line[indent:]
    lines[number] = line[:indent] + (body[2:] if body.startswith("# ") else body[1:])
    return "\n".join(lines) + "\n"


@pytest.mark.parametrize("with_unknown", [False, True])
def test_skeleton_stays_valid_whichever_commented_line_is_uncommented(
    catalog: list[CatalogEntry], with_unknown: bool
) -> None:
    from pulumi_cli import strict_yaml

    if with_unknown:
        catalog = [*catalog, entry("826Weird", default="w", has_default=True, note="no resource uses it")]
    text = stage_config_skeleton(catalog, "prod", settings={"sourceAccountId": "111122223333", "exportJobId": "j"})

    def given(document_text: str) -> dict[str, Any]:
        parameters = strict_yaml(document_text, "Pulumi.prod.yaml")["config"]["quicksight-promotion:parameters"]
        return given_parameters(catalog, parameters)

    baseline = given(text)
    by_name = {e.name: e for e in catalog}
    parameter_lines = 0
    for number in _commented_lines(text):
        line = text.splitlines()[number]
        now = given(_uncommented(text, number))  # parses as go-yaml would, and every key is known
        added = {name: value for name, value in now.items() if name not in baseline}
        assert {k: v for k, v in now.items() if k in baseline} == baseline, line
        if line.lstrip().startswith("##"):
            assert added == {}, line  # prose stays a comment
            continue
        parameter_lines += 1
        # Exactly the parameter of that line, under its own asset, set to its source default.
        assert len(added) == 1, line
        ((name, value),) = added.items()
        entry_ = by_name[name]
        key = (entry_.property or entry_.name).split(".")[-1]
        assert line.lstrip().startswith(f"# {key}:") or line.lstrip().startswith(f'# "{key}":'), line
        assert str(value) == entry_.default, line
    assert parameter_lines == sum(1 for e in catalog if e.has_default and not e.connection and not e.sensitive())


def test_skeleton_writes_the_settings_it_was_given_and_placeholders_for_the_rest(catalog: list[CatalogEntry]) -> None:
    config = load_yaml(stage_config_skeleton(catalog, "prod", settings={"exportJobId": "sales-42", "sourceRegion": "us-east-1"}))[
        "config"
    ]
    assert config["quicksight-promotion:exportJobId"] == "sales-42"
    assert config["quicksight-promotion:sourceRegion"] == "us-east-1"
    assert config["quicksight-promotion:sourceAccountId"] == "<required: the account (12 digits) that ran the export>"
    assert "quicksight-promotion:sourceRoleArn" not in config
