"""What a release changes: two templates compared asset by asset and property by property."""

from __future__ import annotations

import copy

from components.core import diff
from components.core.review import MAX_PROPERTIES
from conftest import sample_template

DASHBOARD = "dashboard/sales-dashboard"


def test_assets_are_matched_by_kind_and_id_and_changed_properties_listed_at_their_leaves() -> None:
    old = sample_template()
    new = copy.deepcopy(old)
    # Another export of the same dashboard may name it with another logical id.
    new["Resources"]["salesdashboardZZ99"] = new["Resources"].pop("salesdashboardAB12CD")
    new["Resources"]["salesdashboardZZ99"]["Properties"]["Definition"]["CalculatedFields"][0]["Name"] = "adjusted2"
    new["Resources"]["salesdashboardZZ99"]["Properties"]["ValidationStrategy"] = {"Mode": "STRICT"}
    new["Resources"]["theme"] = {"Type": "AWS::QuickSight::Theme", "Properties": {"ThemeId": "corp"}}
    new["Parameters"]["ResourceIdPrefixForAllResources"] = {"Type": "String"}

    found = diff.diff_templates(old, new)

    assert found == {
        "assets": [
            {"key": DASHBOARD, "type": "AWS::QuickSight::Dashboard", "action": "Modify", "properties": [
                {"path": "Properties/Definition/CalculatedFields/0/Name", "before": "adjusted", "after": "adjusted2"},
                {"path": "Properties/ValidationStrategy/Mode", "before": "LENIENT", "after": "STRICT"},
            ]},
            {"key": "theme/corp", "type": "AWS::QuickSight::Theme", "action": "Add"},
        ],
        "parameters": {"added": ["ResourceIdPrefixForAllResources"], "removed": []},
    }  # fmt: skip
    assert diff.describe_diff(found) == [
        "1 to add, 1 to modify, 0 to remove",
        f"Modify {DASHBOARD} (AWS::QuickSight::Dashboard)",
        "         Properties/Definition/CalculatedFields/0/Name: 'adjusted' -> 'adjusted2'",
        "         Properties/ValidationStrategy/Mode: 'LENIENT' -> 'STRICT'",
        "Add    theme/corp (AWS::QuickSight::Theme)",
        "Parameters added: ResourceIdPrefixForAllResources",
    ]


def test_credentials_are_never_shown_and_long_values_are_shortened() -> None:
    old = {"Resources": {"ds": {"Type": "AWS::QuickSight::DataSource", "Properties": {
        "DataSourceId": "pg", "Credentials": {"CredentialPair": {"Password": "old-secret"}}, "Sql": "x" * 10}}}}  # fmt: skip
    new = copy.deepcopy(old)
    new["Resources"]["ds"]["Properties"]["Credentials"]["CredentialPair"]["Password"] = "new-secret"
    new["Resources"]["ds"]["Properties"]["Sql"] = ["SELECT"] * 100

    (asset,) = diff.diff_templates(old, new)["assets"]

    password, sql = asset["properties"]
    assert password == {"path": "Properties/Credentials/CredentialPair/Password", "before": "<redacted>", "after": "<redacted>"}
    assert sql["before"] == "x" * 10 and "chars, sha256 " in sql["after"] and len(sql["after"]) < 200


def test_a_removed_asset_and_a_bounded_property_list() -> None:
    old = {"Resources": {"a": {"Type": "AWS::QuickSight::Analysis", "Properties": {"AnalysisId": "a1", **{f"P{i}": i for i in range(60)}}},
                         "d": {"Type": "AWS::QuickSight::DataSet", "Properties": {"DataSetId": "ds"}}}}  # fmt: skip
    new = {"Resources": {"a": {"Type": "AWS::QuickSight::Analysis", "Properties": {"AnalysisId": "a1", **{f"P{i}": -i - 1 for i in range(60)}}}}}

    found = diff.diff_templates(old, new)

    modified, removed = found["assets"]
    assert len(modified["properties"]) == MAX_PROPERTIES and modified["properties_left_off"] == 60 - MAX_PROPERTIES
    assert removed == {"key": "dataset/ds", "type": "AWS::QuickSight::DataSet", "action": "Remove"}
    assert diff.diff_templates(old, old) == {"assets": [], "parameters": {"added": [], "removed": []}}
