"""The loopback StackSet operations answer in botocore's shapes: every element of every answer is a member of its output shape.

botocore's parser drops elements it does not know, so a misspelt member would pass through a client
unseen; this walks the emulator's raw XML against ``get_service_model('cloudformation')`` instead.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from typing import Any, Iterator

import botocore.session
import pytest

from stackset_emulator import StackSetEmulator

MODEL = botocore.session.get_session().get_service_model("cloudformation")
TEMPLATE = json.dumps({"Parameters": {"Host": {"Type": "String"}}, "Resources": {}})


def _tag(element: ET.Element) -> str:
    return element.tag.rsplit("}", 1)[-1]


def walk(element: ET.Element, shape: Any, path: str) -> list[str]:
    """Elements not in ``shape`` (and required members missing), by path."""
    wrong: list[str] = []
    children = list(element)
    if shape.type_name == "structure":
        names = {_tag(child) for child in children}
        wrong += [f"{path}.{name} (required, missing)" for name in shape.required_members if name not in names]
        for child in children:
            member = shape.members.get(_tag(child))
            if member is None:
                wrong.append(f"{path}.{_tag(child)}")
            else:
                wrong += walk(child, member, f"{path}.{_tag(child)}")
    elif shape.type_name == "list":
        for index, child in enumerate(children):
            wrong += [f"{path}[{index}] is <{_tag(child)}>"] if _tag(child) != "member" else walk(child, shape.member, f"{path}[{index}]")
    elif shape.type_name != "map" and children:
        wrong.append(f"{path} is a {shape.type_name} with elements")
    return wrong


def answer(cfn: StackSetEmulator, action: str, **form: str) -> ET.Element:
    status, body = cfn.handle({"Action": action, **form})
    assert status == 200, body
    (result,) = [child for child in ET.fromstring(body) if _tag(child) == f"{action}Result"]
    assert not walk(result, MODEL.operation_model(action).output_shape, action), walk(result, MODEL.operation_model(action).output_shape, action)
    return result


@pytest.fixture
def cfn() -> Iterator[StackSetEmulator]:
    """An emulator whose handler is called directly (never served: nothing to shut down)."""
    emulator = StackSetEmulator()
    yield emulator
    emulator._server.server_close()


@pytest.mark.parametrize("fail", [False, True])
def test_every_stack_set_answer_is_of_botocores_shape(cfn: StackSetEmulator, fail: bool) -> None:
    if fail:
        cfn.fail_account("222222222222", "Role not assumable")
    answer(cfn, "CreateStackSet", StackSetName="s", TemplateBody=TEMPLATE, **{"Tags.member.1.Key": "k", "Tags.member.1.Value": "v"})
    answer(cfn, "DescribeStackSet", StackSetName="s")
    for action in ("CreateStackInstances", "UpdateStackInstances"):
        answer(
            cfn, action, StackSetName="s", OperationId=f"op-{action}", **{"Accounts.member.1": "222222222222", "Regions.member.1": "eu-west-1",
            "ParameterOverrides.member.1.ParameterKey": "Host", "ParameterOverrides.member.1.ParameterValue": "h"},
        )  # fmt: skip
    answer(cfn, "UpdateStackSet", StackSetName="s", TemplateBody=TEMPLATE, OperationId="op-update")
    answer(cfn, "DescribeStackSetOperation", StackSetName="s", OperationId="op-CreateStackInstances")
    answer(cfn, "ListStackSetOperationResults", StackSetName="s", OperationId="op-CreateStackInstances")
    answer(cfn, "ListStackInstances", StackSetName="s")
    cfn.heal()
    answer(cfn, "DeleteStackInstances", StackSetName="s", OperationId="op-delete", RetainStacks="false",
           **{"Accounts.member.1": "222222222222", "Regions.member.1": "eu-west-1"})  # fmt: skip
    answer(cfn, "DeleteStackSet", StackSetName="s")
    assert cfn.stack_sets["s"].status == "DELETED"


def test_the_emulator_refuses_as_cloudformation_does(cfn: StackSetEmulator) -> None:
    assert cfn.handle({"Action": "DescribeStackSet", "StackSetName": "nope"})[1].count("StackSetNotFoundException") == 1
    answer(cfn, "CreateStackSet", StackSetName="s", TemplateBody=TEMPLATE)
    answer(cfn, "CreateStackInstances", StackSetName="s", OperationId="op-1", **{"Accounts.member.1": "222222222222", "Regions.member.1": "eu-west-1"})
    again = cfn.handle({"Action": "CreateStackInstances", "StackSetName": "s", "OperationId": "op-1", "Accounts.member.1": "333333333333", "Regions.member.1": "eu-west-1"})
    assert again[0] == 400 and "OperationIdAlreadyExistsException" in again[1]
    assert "StackSetNotEmptyException" in cfn.handle({"Action": "DeleteStackSet", "StackSetName": "s"})[1]
