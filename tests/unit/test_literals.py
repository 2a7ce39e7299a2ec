"""Connection values written as literals (core/literals.py); the real exports are read in test_principals.py."""

from __future__ import annotations

from typing import Any

import pytest

from components.core.literals import literal_connection_values

PREFIX = "${ResourceIdPrefixForAllResources}"


def athena(work_group: Any, **more: Any) -> dict[str, Any]:
    return {
        "Resources": {
            "Src": {
                "Type": "AWS::QuickSight::DataSource",
                "Properties": {
                    "DataSourceId": {"Fn::Sub": PREFIX + "athena"},
                    "DataSourceParameters": {"AthenaParameters": {"WorkGroup": work_group}},
                    **more,
                },
            }
        }
    }


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        ("primary", "primary"),
        ({"Fn::Sub": "primary"}, "primary"),
        # The list form without variables is the same Fn::Sub to CloudFormation (core.template.sub_text):
        # it was not reported before, so a stage silently deployed the source's work group.
        ({"Fn::Sub": ["primary", {}]}, "primary"),
        ({"Fn::Sub": "team-${!literal}"}, "team-${literal}"),
        (7, "7"),
        (7.0, "7"),
    ],
)
def test_literal_values_are_reported_with_the_asset_they_belong_to(value: Any, shown: str) -> None:
    found = literal_connection_values(athena(value))
    assert [(v.asset, v.property, v.value) for v in found] == [("datasource/athena", "WorkGroup", shown)]
    assert found[0].describe() == f"datasource/athena WorkGroup = {shown}"


@pytest.mark.parametrize(
    "value",
    [
        {"Ref": "WorkGroup"},
        {"Fn::Sub": "${WorkGroup}"},
        {"Fn::Sub": "wg-${AWS::Region}"},
        {"Fn::Sub": ["${A}", {"A": "x"}]},
        {"Fn::GetAtt": ["Other", "Arn"]},
        float("nan"),
        None,
    ],
)
def test_values_following_a_parameter_the_stage_or_the_stack_are_not_literals(value: Any) -> None:
    assert literal_connection_values(athena(value)) == []


def test_ssl_off_is_reported_and_ssl_on_is_not() -> None:
    assert [(v.property, v.value) for v in literal_connection_values(athena({"Ref": "W"}, SslProperties={"DisableSsl": True}))] == [
        ("DisableSsl", "true")
    ]
    assert literal_connection_values(athena({"Ref": "W"}, SslProperties={"DisableSsl": False})) == []


def test_a_resource_whose_id_cannot_be_read_is_named_by_its_logical_id() -> None:
    template = athena("primary")
    template["Resources"]["Src"]["Properties"]["DataSourceId"] = {"Fn::Sub": [PREFIX + "athena", {"X": "y"}]}
    assert [v.asset for v in literal_connection_values(template)] == ["Src"]
    assert literal_connection_values({"Resources": {"Src": {"Type": "AWS::QuickSight::DataSource"}}}) == []
    assert literal_connection_values({"Resources": []}) == []
