"""The program's settings (components/settings.py): renamed settings, and errors chained to nothing."""

from __future__ import annotations

import pulumi
import pytest

from components.errors import InputError
from components.program import read_config
from components.settings import NAMESPACE, parse_config

BASE = {"sourceAccountId": "111122223333", "exportJobId": "sales-release-42"}


@pytest.mark.parametrize(
    ("old", "said"),
    [
        (
            "stackTimeoutMinutes",
            "quicksight-promotion:stackTimeoutMinutes was renamed quicksight-promotion:stackTimeoutSeconds in 0.2.0 "
            "(in seconds: 60 minutes is 3600): pulumi config rm quicksight-promotion:stackTimeoutMinutes, then "
            "pulumi config set quicksight-promotion:stackTimeoutSeconds <value>",
        ),
        (
            "deployRoleArn",
            "quicksight-promotion:deployRoleArn was renamed quicksight-promotion:targetRoleArn in 0.2.0 (the same "
            "role ARN): pulumi config rm quicksight-promotion:deployRoleArn, then pulumi config set "
            "quicksight-promotion:targetRoleArn <value>",
        ),
    ],
)
def test_a_stage_file_with_a_setting_renamed_in_0_2_0_is_told_the_new_name(old: str, said: str) -> None:
    # Pulumi ignores undeclared keys: the program reads its whole namespace and names the new setting.
    pulumi.runtime.set_all_config({f"{NAMESPACE}:{k}": v for k, v in {**BASE, old: "60"}.items()}, [])
    with pytest.raises(InputError) as info:
        read_config(pulumi.Config(NAMESPACE))
    assert str(info.value) == f"invalid stack configuration: {said}"


def test_the_new_names_are_read() -> None:
    config = parse_config({**BASE, "stackTimeoutSeconds": "900", "targetRoleArn": "arn:aws:iam::999999999999:role/d"})
    assert config.stack_timeout_seconds == 900 and config.target_role_arn == "arn:aws:iam::999999999999:role/d"
    assert parse_config(BASE).stack_timeout_seconds == 3600


def test_a_settings_error_is_chained_to_nothing() -> None:
    # pydantic's own text (what a chained error prints under the message) is not for the user.
    with pytest.raises(InputError) as info:
        parse_config({**BASE, "stackTimeoutSeconds": "soon", "protect": "maybe"})
    error = info.value
    assert error.__cause__ is None and error.__context__ is None
    assert str(error).startswith("invalid stack configuration: quicksight-promotion:stackTimeoutSeconds: ")
    with pytest.raises(InputError) as missing:
        parse_config({"sourceAccountId": "111122223333"})
    assert missing.value.__cause__ is None and missing.value.__context__ is None


def test_template_repair_is_report_unless_set() -> None:
    assert parse_config(BASE).template_repair == "report"
    assert parse_config({**BASE, "templateRepair": "repair"}).template_repair == "repair"


def test_adopt_identity_is_an_identity_or_unset() -> None:
    assert parse_config({**BASE, "adoptIdentity": ""}).adopt_identity is None
    assert parse_config({**BASE, "adoptIdentity": "CloudFormationDeployment"}).adopt_identity == "CloudFormationDeployment"
    with pytest.raises(InputError) as info:
        parse_config({**BASE, "adoptIdentity": "team-a/prod"})
    assert str(info.value).startswith("invalid stack configuration: quicksight-promotion:adoptIdentity: ")
    assert "team-a/prod" not in str(info.value), "a configuration value is never echoed"


MARKER = "Marker-Pa55-5e771ng"


@pytest.mark.parametrize(
    "bad",
    [
        {"stackTimeoutSeconds": MARKER},
        {"sourceRoleArn": MARKER},
        {"targetAccountId": MARKER},
        {"stackTags": [{"apiKey": MARKER}]},
        {"principals": MARKER},
        {"exportJobId": "<required: the export job id>"},
        {"templateRepair": MARKER},
    ],
)
def test_a_bad_setting_is_named_never_echoed_nor_chained(bad: dict[str, object]) -> None:
    with pytest.raises(InputError) as info:
        parse_config({**BASE, **bad})
    error = info.value
    key = next(iter(bad))
    assert f"quicksight-promotion:{key}" in str(error), str(error)
    assert MARKER not in str(error) and "<required: the export job id>" not in str(error)
    assert error.__cause__ is None and error.__context__ is None
