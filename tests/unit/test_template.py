"""The one walker of template resources (core/template.py), and that every reader of a template uses it.

The catalog, the deployment's asset names (``stacks.resource_assets``), the release manifest's
digests, the literal connection values and the permission principals must name the same asset for
the same resource: checked on the generated bundle and on the real exports of ../shared/real-exports
(skipped where that folder is absent).
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from components.core import stacks
from components.core.catalog import build_catalog, summarize_resources
from components.core.literals import literal_connection_values
from components.core.manifest import resource_digests
from components.core.principals import find_principals
from components.core.template import (
    ASSET_KINDS,
    ID_PROPERTY,
    KIND_BY_RESOURCE_TYPE,
    TemplateResource,
    asset_id,
    id_literal,
    parameter_uses,
    quicksight_resources,
    referenced_parameters,
    section,
    sub_text,
)
from conftest import REAL_EXPORTS, needs_real, real
from tools.generator import generate_bundle

REAL_NAMES = sorted(p.name for p in REAL_EXPORTS.glob("*.json")) if REAL_EXPORTS.is_dir() else []

PREFIX = "${ResourceIdPrefixForAllResources}"


def test_every_kind_has_an_id_property_but_the_refresh_schedule() -> None:
    assert ASSET_KINDS == tuple(dict.fromkeys(KIND_BY_RESOURCE_TYPE.values()))
    assert set(ID_PROPERTY) == set(ASSET_KINDS) - {"refresh-schedule"}


def template_of(**resources: Any) -> dict[str, Any]:
    return {"Resources": resources}


def test_the_walker_lists_quicksight_resources_with_kind_id_and_their_own_properties() -> None:
    source = {"DataSourceId": {"Fn::Sub": PREFIX + "athena-1"}, "Name": "Athena"}
    template = template_of(
        Src={"Type": "AWS::QuickSight::DataSource", "Properties": source},
        Bucket={"Type": "AWS::S3::Bucket", "Properties": {"BucketName": "b"}},
        Refresh={
            "Type": "AWS::QuickSight::RefreshSchedule",
            "Properties": {"DataSetId": {"Fn::Sub": PREFIX + "sales"}, "Schedule": {"ScheduleId": "daily"}},
        },
        Bare={"Type": "AWS::QuickSight::Dashboard"},
        Broken="not an object",
        Untyped={"Properties": {}},
    )
    found = quicksight_resources(section(template, "Resources"))
    assert [(r.logical_id, r.kind, r.asset_id) for r in found] == [
        ("Src", "datasource", "athena-1"),
        ("Refresh", "refresh-schedule", "sales/daily"),
        ("Bare", "dashboard", None),
    ]
    assert found[0].properties is source, "the template's own object, so that a transform can change it"
    assert found[2].properties is None
    assert [r.label for r in found] == ["datasource/athena-1", "refresh-schedule/sales/daily", "Bare"]


def test_section_reads_a_missing_or_malformed_section_as_empty() -> None:
    assert section({"Resources": {"A": {}}}, "Resources") == {"A": {}}
    assert section({"Resources": []}, "Resources") == {}
    assert section({}, "Parameters") == {}
    assert section("not a template", "Resources") == {}


# Every form below was read differently by the catalog and by core/deployment.py's copy (which took
# the first item of any Fn::Sub list, ignored its variables, and removed the prefix wherever it
# stood). QuickSight writes an id as a plain string or as {"Fn::Sub": "${ResourceIdPrefixForAllResources}<id>"}
# (docs/quicksight-cfn-bundle.md: "used as ${ResourceIdPrefixForAllResources}<id> in every asset id";
# the real exports hold only these two forms, see test_real_exports_write_ids_in_the_two_forms_read):
# any other form names an id that cannot be read from the template alone, and is read as none.
@pytest.mark.parametrize(
    ("value", "why"),
    [
        ({"Fn::Sub": [PREFIX + "abc", {"Other": "x"}]}, "an Fn::Sub with variables of its own"),
        ({"Fn::Sub": [PREFIX + "abc", {"ResourceIdPrefixForAllResources": "dev-"}]}, "its variables redefine the prefix"),
        ({"Fn::Sub": [PREFIX + "abc"]}, "a one-item list is no valid Fn::Sub"),
        ({"Fn::Sub": [PREFIX + "abc", {}, "extra"]}, "a three-item list is no valid Fn::Sub"),
        ({"Fn::Sub": [PREFIX + "abc", None]}, "the variables are not an object"),
        ({"Fn::Sub": "abc" + PREFIX}, "the prefix is not in front"),
        ({"Fn::Sub": PREFIX + "a" + PREFIX}, "the prefix twice"),
    ],
)
def test_ids_in_forms_quicksight_does_not_write_are_unreadable(value: Any, why: str) -> None:
    assert id_literal(value) is None, why
    template = template_of(D={"Type": "AWS::QuickSight::Dashboard", "Properties": {"DashboardId": value}})
    assert stacks.resource_assets(template) == {"D": {"kind": "dashboard", "id": None}}, why
    assert summarize_resources(template) == {"dashboard": ["D"]}, why
    assert list(resource_digests(template)) == ["D"], why


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("sales", "sales"),
        ({"Fn::Sub": PREFIX + "sales"}, "sales"),
        ({"Fn::Sub": [PREFIX + "sales", {}]}, "sales"),
        ({"Fn::Sub": "sales"}, "sales"),
        ("", None),
        ({"Fn::Sub": PREFIX}, None),
        ({"Fn::Sub": PREFIX + "a${AWS::Region}"}, None),
        ({"Fn::Sub": "a${!b}"}, None),
        ({"Ref": "DashboardId"}, None),
        ({"Fn::Sub": PREFIX + "a", "Extra": 1}, None),
        (5, None),
        (None, None),
    ],
)
def test_id_literal(value: Any, expected: str | None) -> None:
    assert id_literal(value) == expected


def test_a_refresh_schedule_is_named_by_its_data_set_and_schedule() -> None:
    properties = {"DataSetId": {"Fn::Sub": PREFIX + "sales"}, "Schedule": {"ScheduleId": "daily"}}
    assert asset_id("refresh-schedule", properties) == "sales/daily"
    assert asset_id("refresh-schedule", {"DataSetId": "sales", "Schedule": {}}) is None
    assert asset_id("refresh-schedule", {"DataSetId": "sales", "Schedule": "daily"}) is None
    assert asset_id("dataset", {"DataSetId": "sales"}) == "sales"
    assert asset_id("dataset", {"DataSourceId": "sales"}) is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"Fn::Sub": "text"}, "text"),
        ({"Fn::Sub": ["text", {}]}, "text"),
        ({"Fn::Sub": ["text", {"A": "b"}]}, None),
        ({"Fn::Sub": [{"Ref": "A"}, {}]}, None),
        ({"Ref": "A"}, None),
        ("text", None),
    ],
)
def test_sub_text(value: Any, expected: str | None) -> None:
    assert sub_text(value) == expected


def test_parameter_uses_count_ref_and_sub_and_nothing_else() -> None:
    node = {
        "A": {"Ref": "Host"},
        "B": [{"Fn::Sub": "${Host}:${Port}/${AWS::Region}/${Other.Arn}/${!Escaped}"}],
        # The list form's own variables are not parameters; their values are walked.
        "C": {"Fn::Sub": ["${Local}-${Db}", {"Local": {"Ref": "Schema"}}]},
        # A calculated field's literal ${...} text is no substitution.
        "D": {"Expression": "ifelse(${Threshold} > 1, 1, 0)"},
        "E": {"Ref": "AWS::AccountId"},
    }
    assert parameter_uses(node) == {"Host": 2, "Port": 1, "Db": 1, "Schema": 1, "AWS::AccountId": 1}
    assert referenced_parameters(node) == {"Host", "Port", "Db", "Schema", "AWS::AccountId"}
    assert parameter_uses("${Host}") == {}


def test_the_readers_of_the_generated_bundle_name_the_same_assets() -> None:
    template = generate_bundle()
    walked = quicksight_resources(section(template, "Resources"))
    assert walked and all(isinstance(r, TemplateResource) for r in walked)
    assert_readers_agree(template, walked)


@needs_real
@pytest.mark.parametrize("name", REAL_NAMES)
def test_the_readers_of_the_real_exports_name_the_same_assets(name: str) -> None:
    template = real(name)
    walked = quicksight_resources(section(template, "Resources"))
    assert walked and all(r.asset_id for r in walked), "every real export's ids are readable"
    assert_readers_agree(template, walked)


@needs_real
def test_real_exports_write_ids_in_the_two_forms_read() -> None:
    forms = set()
    for name in REAL_NAMES:
        template = real(name)
        for resource in quicksight_resources(section(template, "Resources")):
            properties = resource.properties or {}
            if resource.kind == "refresh-schedule":
                values = [properties["DataSetId"], properties["Schedule"]["ScheduleId"]]
            else:
                values = [properties[ID_PROPERTY[resource.kind]]]
            for value in values:
                forms.add("string" if isinstance(value, str) else "prefixed" if _prefixed(value) else json.dumps(value))
    assert forms == {"string", "prefixed"}
    autoops = real("autoops_cfn.json")
    ids = {r.asset_id for r in quicksight_resources(section(autoops, "Resources"))}
    assert "826ec139-04c9-4a4f-a09d-979551d5dc38" in ids, "the prefix is removed"


def _prefixed(value: Any) -> bool:
    """``{"Fn::Sub": "${ResourceIdPrefixForAllResources}<id>"}`` and nothing else."""
    text = value.get("Fn::Sub") if isinstance(value, dict) and len(value) == 1 else None
    return isinstance(text, str) and text.startswith(PREFIX) and "${" not in text[len(PREFIX) :]


def assert_readers_agree(template: dict[str, Any], walked: list[TemplateResource]) -> None:
    labels = {r.logical_id: r.label for r in walked}
    assert stacks.resource_assets(template) == {r.logical_id: {"kind": r.kind, "id": r.asset_id} for r in walked}
    summary = summarize_resources(template)
    assert {kind: ids for kind, ids in summary.items() if kind != "other"} == {
        kind: sorted(r.asset_id or r.logical_id for r in walked if r.kind == kind)
        for kind in ASSET_KINDS
        if any(r.kind == kind for r in walked)
    }
    assert set(resource_digests(template)) == set(labels.values())
    catalog = build_catalog(template)
    for entry in catalog:
        if entry.logical_id is not None:
            assert f"{entry.kind}/{entry.asset_id}" == labels[entry.logical_id]
    assert {v.asset for v in literal_connection_values(template)} <= set(labels.values())
    assert {a for p in find_principals(template) for a in p.assets} <= set(labels.values())
