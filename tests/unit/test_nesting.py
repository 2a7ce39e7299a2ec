"""core.nesting: a template over one stack's limits split into a parent and nested stacks, deterministically."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest

from components.core.bundle import compact_json
from components.core.catalog import build_catalog
from components.core.nesting import NESTED_URL_PLACEHOLDER, split_template
from components.core.transform import deployable
from components.errors import NestingError
from conftest import oversized_template, sample_template
from tools.generator import generate_bundle

STAGED = "https://staging.s3.eu-west-1.amazonaws.com/quicksight-promotion/{}.json?versionId=1"


def linked_template() -> dict[str, Any]:
    """A source, a data set that reads it three ways, a dashboard that waits for the data set."""
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Parameters": {
            "Password": {"Type": "String", "NoEcho": True},
            "Hosts": {"Type": "CommaDelimitedList", "Default": "a,b"},
            "Unused": {"Type": "String", "Default": ""},
        },
        "Resources": {
            "Src": {
                "Type": "AWS::QuickSight::DataSource",
                "Properties": {"DataSourceId": "src", "Credentials": {"CredentialPair": {"Password": {"Ref": "Password"}}}},
            },
            "Set": {
                "Type": "AWS::QuickSight::DataSet",
                "DependsOn": ["Src"],
                "Properties": {
                    "DataSetId": "set",
                    "Arn1": {"Fn::GetAtt": ["Src", "Arn"]},
                    "Arn2": {"Fn::Sub": "${Src.Arn}/x/${AWS::Region}/${!Literal}"},
                    "Id": {"Ref": "Src"},
                    "Hosts": {"Ref": "Hosts"},
                },
            },
            "Board": {"Type": "AWS::QuickSight::Dashboard", "DependsOn": "Set", "Properties": {"DashboardId": "board"}},
        },
        "Outputs": {"SetArn": {"Value": {"Fn::GetAtt": ["Set", "Arn"]}}, "Plain": {"Value": "text"}},
    }


def nested_documents(plan: Any) -> dict[str, dict[str, Any]]:
    return {n.name: json.loads(n.body) for n in plan.nested}


def test_references_across_nested_stacks_become_outputs_and_parameters() -> None:
    plan = split_template(linked_template())
    nested = nested_documents(plan)

    assert [n.name for n in plan.nested] == ["Sources", "DataSets", "Dashboards"]
    assert plan.owner_of() == {"Src": "Sources", "Set": "DataSets", "Board": "Dashboards"}
    # The holder outputs what the others read; a credential keeps its NoEcho where it is declared.
    assert nested["Sources"]["Outputs"] == {"SrcArn": {"Value": {"Fn::GetAtt": ["Src", "Arn"]}}, "SrcRef": {"Value": {"Ref": "Src"}}}
    assert nested["Sources"]["Parameters"] == {"Password": {"Type": "String", "NoEcho": True}}
    data_set = nested["DataSets"]["Resources"]["Set"]
    assert "DependsOn" not in data_set
    assert data_set["Properties"]["Arn1"] == {"Ref": "SrcArn"}
    assert data_set["Properties"]["Arn2"] == {"Fn::Sub": "${SrcArn}/x/${AWS::Region}/${!Literal}"}
    assert data_set["Properties"]["Id"] == {"Ref": "SrcRef"}
    assert nested["DataSets"]["Parameters"] == {
        "Hosts": {"Type": "CommaDelimitedList", "Default": "a,b"},
        "SrcArn": {"Type": "String"},
        "SrcRef": {"Type": "String"},
    }
    # The parent passes the stage's parameters down and each value from the stack that holds it.
    parent = plan.parent
    assert parent["Parameters"] == linked_template()["Parameters"]
    sets = parent["Resources"]["DataSets"]
    assert sets["Type"] == "AWS::CloudFormation::Stack"
    assert sets["Properties"]["TemplateURL"] == f"{NESTED_URL_PLACEHOLDER}DataSets"
    assert sets["Properties"]["Parameters"] == {
        "Hosts": {"Fn::Join": [",", {"Ref": "Hosts"}]},
        "SrcArn": {"Fn::GetAtt": ["Sources", "Outputs.SrcArn"]},
        "SrcRef": {"Fn::GetAtt": ["Sources", "Outputs.SrcRef"]},
    }
    assert sets["DependsOn"] == ["Sources"]
    assert parent["Resources"]["Dashboards"]["DependsOn"] == ["DataSets"]
    assert "Parameters" not in parent["Resources"]["Dashboards"]["Properties"]
    # The template's outputs read through the stack that holds the resource.
    assert parent["Outputs"] == {
        "SetArn": {"Value": {"Fn::GetAtt": ["DataSets", "Outputs.SetArn"]}},
        "Plain": {"Value": "text"},
    }
    assert nested["DataSets"]["Outputs"] == {"SetArn": {"Value": {"Fn::GetAtt": ["Set", "Arn"]}}}


def test_the_split_is_deterministic_and_every_resource_is_deployed_once() -> None:
    template = generate_bundle(scale=20)
    body = deployable(compact_json(template), [e.model_dump() for e in build_catalog(template)]).body
    first, again = split_template(json.loads(body)), split_template(json.loads(body))
    assert [(n.name, n.sha256) for n in first.nested] == [(n.name, n.sha256) for n in again.nested]
    assert first.with_urls({n.name: STAGED.format(n.sha256) for n in first.nested}) == again.with_urls(
        {n.name: STAGED.format(n.sha256) for n in again.nested}
    )
    held = [logical_id for n in first.nested for logical_id in n.resources]
    assert sorted(held) == sorted(template["Resources"]) and len(held) == len(set(held))
    assert all(n.size <= 1_000_000 for n in first.nested)
    for document in nested_documents(first).values():
        text = json.dumps(document)
        assert all(f'"Ref": "{other}"' not in text for other in template["Resources"] if other not in document["Resources"])


def test_a_group_over_the_limit_is_cut_into_parts_in_template_order() -> None:
    template = linked_template()
    for index in range(3):
        template["Resources"][f"Board{index}"] = {
            "Type": "AWS::QuickSight::Dashboard",
            "Properties": {"DashboardId": f"b{index}", "VersionDescription": "x" * 40_000},
        }
    plan = split_template(template, limit=150_000)
    assert [(n.name, n.resources) for n in plan.nested][-2:] == [
        ("Dashboards1", ("Board", "Board0", "Board1")),
        ("Dashboards2", ("Board2",)),
    ]


def test_with_urls_puts_each_staged_url_and_refuses_a_missing_one() -> None:
    plan = split_template(linked_template())
    urls = {n.name: STAGED.format(n.sha256) for n in plan.nested}
    parent = json.loads(plan.with_urls(urls))
    assert {k: r["Properties"]["TemplateURL"] for k, r in parent["Resources"].items()} == urls
    assert NESTED_URL_PLACEHOLDER in json.dumps(plan.parent)  # the plan itself is left as it was
    with pytest.raises(NestingError, match="nested stack 'Sources' has no staged template URL"):
        plan.with_urls({k: v for k, v in urls.items() if k != "Sources"})


def test_an_attribute_an_output_cannot_carry_is_refused_naming_the_reference() -> None:
    template = linked_template()
    template["Resources"]["Set"]["Properties"]["Columns"] = {"Fn::GetAtt": ["Src", "OutputColumns"]}
    with pytest.raises(NestingError) as info:
        split_template(template)
    assert str(info.value) == (
        "resource 'Set' reads attribute 'OutputColumns' of 'Src', which is not a string: a nested stack's output cannot "
        "carry it, so the template cannot be split there; export the two assets together"
    )
    assert info.value.asset == "Src"


def test_nested_stacks_that_would_wait_for_each_other_are_refused() -> None:
    template = linked_template()
    template["Resources"]["Src"]["Properties"]["Back"] = {"Fn::GetAtt": ["Board", "Arn"]}
    with pytest.raises(NestingError) as info:
        split_template(template)
    assert str(info.value) == (
        "the nested stacks would wait for each other (Sources -> Dashboards -> DataSets -> Sources): the assets "
        "reference each other across groups; export them as one smaller bundle"
    )


def test_one_resource_over_the_limit_is_refused_naming_it_and_its_size() -> None:
    with pytest.raises(NestingError) as info:
        split_template(oversized_template())
    message = str(info.value)
    assert message.startswith("resource 'salesdashboardAB12CD' (AWS::QuickSight::Dashboard) is 1,1")
    assert message.endswith("bytes on its own, over what one nested template can hold (950,000 of CloudFormation's "
                            "1,000,000): re-export it with fewer sheets or visuals")  # fmt: skip


def test_an_output_reading_a_resource_otherwise_is_refused() -> None:
    template = linked_template()
    template["Outputs"]["Joined"] = {"Value": {"Fn::Sub": "${Set.Arn}-x"}}
    with pytest.raises(NestingError, match="output 'Joined' reads a resource in a way the split cannot carry"):
        split_template(template)


def test_an_output_reading_a_resource_by_getatt_in_either_form_is_read_through_its_nested_stack() -> None:
    template = linked_template()
    template["Outputs"]["SetArnDotted"] = {"Value": {"Fn::GetAtt": "Set.Arn"}}
    plan = split_template(template)
    # Both forms are the same reference: one output of the nested stack carries it.
    assert plan.parent["Outputs"]["SetArnDotted"] == plan.parent["Outputs"]["SetArn"] == {
        "Value": {"Fn::GetAtt": ["DataSets", "Outputs.SetArn"]}
    }


def test_an_output_reading_an_attribute_no_nested_output_can_carry_is_refused() -> None:
    template = linked_template()
    template["Outputs"]["Columns"] = {"Value": {"Fn::GetAtt": ["Set", "OutputColumns"]}}
    with pytest.raises(NestingError) as info:
        split_template(template)
    assert str(info.value) == (
        "output 'Columns' reads attribute 'OutputColumns' of 'Set', which is not a string: a nested stack's output "
        "cannot carry it, so the template cannot be split there; export the two assets together"
    )


def test_an_output_with_a_getatt_of_another_shape_is_refused_not_crashed() -> None:
    template = linked_template()
    template["Outputs"]["Odd"] = {"Value": {"Fn::GetAtt": ["Set", "Arn", "Extra"]}}
    with pytest.raises(NestingError, match="output 'Odd' reads a resource in a way the split cannot carry: give it a plain"):
        split_template(template)


def test_a_nested_template_over_a_per_template_quota_is_refused_naming_it() -> None:
    template = linked_template()
    names = [f"P{i}" for i in range(201)]
    template["Parameters"].update({name: {"Type": "String"} for name in names})
    template["Resources"]["Board"]["Properties"]["Values"] = [{"Ref": name} for name in names]
    with pytest.raises(NestingError) as info:
        split_template(template)
    assert str(info.value) == (
        "nested template 'Dashboards' would have 201 parameters, over CloudFormation's 200: the assets reference each "
        "other too much to be split; export them as smaller bundles"
    )


def test_a_nested_template_over_the_limit_with_what_the_split_adds_is_refused_naming_it() -> None:
    template = linked_template()
    template["Parameters"]["Password"]["Description"] = "d" * 3_000
    with pytest.raises(NestingError) as info:
        split_template(template, limit=2_000)
    message = str(info.value)
    assert message.startswith("nested template 'Sources' is 3,")
    assert message.endswith(
        "bytes after the split, over 2,000: the parameters and outputs it carries are that large; export the assets "
        "as smaller bundles"
    )


def test_every_nested_template_and_the_parent_pass_cfn_lint() -> None:
    from components.validation import lint_template

    template = copy.deepcopy(sample_template())
    body = deployable(compact_json(template), [e.model_dump() for e in build_catalog(template)]).body
    whole = {(f.rule, f.path) for f in lint_template(body)}
    plan = split_template(json.loads(body))
    parent = plan.with_urls({n.name: STAGED.format(n.sha256) for n in plan.nested})
    assert lint_template(parent) == []
    split = {(f.rule, f.path) for n in plan.nested for f in lint_template(n.body)}
    # The split adds no finding the whole template did not have.
    assert split <= whole
