"""The shared constrained types (components/core/types.py): STS names and ids."""

from __future__ import annotations

import re

import pytest
from pydantic import TypeAdapter, ValidationError

from components.core.types import OptionalExternalId, role_session_name, version_or_none

# STS AssumeRole's RoleSessionName: [\w+=,.@-]{2,64} (ASCII word characters).
STS_SESSION_NAME = re.compile(r"^[A-Za-z0-9_+=,.@-]{2,64}$")


@pytest.mark.parametrize(
    ("parts", "expected"),
    [
        (("qsp-deploy", "quicksight-sales-prod"), "qsp-deploy-quicksight-sales-prod"),
        (("qsp-export", "job_42"), "qsp-export-job_42"),
        (("qsp-archive-read", "my project", "prod/eu"), "qsp-archive-read-my-project-prod-eu"),
        (("qsp-archive", "ventes-売上"), "qsp-archive-ventes---"),
        (("x",), "x-"),
        (("qsp-deploy", "s" * 200), ("qsp-deploy-" + "s" * 200)[:64]),
    ],
)
def test_a_role_session_name_names_its_subject_within_sts_rules(parts: tuple[str, ...], expected: str) -> None:
    name = role_session_name(*parts)
    assert name == expected
    assert STS_SESSION_NAME.match(name), name


@pytest.mark.parametrize("value", ["Q", "has space", "new\nline", "x" * 1225, "ünï"])
def test_an_external_id_outside_sts_rules_is_refused_without_quoting_it(value: str) -> None:
    with pytest.raises(ValidationError) as caught:
        TypeAdapter(OptionalExternalId).validate_python(value)
    assert all(value not in error["msg"] for error in caught.value.errors())


def test_an_empty_external_id_is_unset_and_a_good_one_kept() -> None:
    adapter = TypeAdapter(OptionalExternalId)
    assert adapter.validate_python("") is None
    assert adapter.validate_python("arn:aws:iam::1234/Team+=,.@_-") == "arn:aws:iam::1234/Team+=,.@_-"


def test_an_s3_version_id_is_kept_and_none_or_the_null_version_read_as_no_version() -> None:
    # "null" is the version of an object written while the bucket was not versioned: no version to pin.
    assert version_or_none("3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY") == "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY"
    assert [version_or_none(v) for v in (None, "", "null", 7)] == [None, None, None, None]
