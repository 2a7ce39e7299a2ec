"""Archived templates (core/manifest.py) are read as strictly as exports."""

from __future__ import annotations

import pytest

from components.core.manifest import check_template, sha256_text
from components.errors import ArchiveError

WHERE = "s3://archive/templates/x.json"


@pytest.mark.parametrize(
    "body",
    [
        '{"Resources": {"A": {"Type": "AWS::QuickSight::Theme"}, "A": {"Type": "AWS::IAM::Role"}}}',
        '{"Resources": {"A": {"Type": "AWS::QuickSight::Theme", "Properties": {"X": NaN}}}}',
        '{"Resources": ' + "[" * 300 + "]" * 300 + "}",
    ],
)
def test_an_archived_template_is_parsed_as_strictly_as_an_export(body: str) -> None:
    # The sha256 matches (whoever wrote the object also wrote the manifest): the bytes are still refused.
    with pytest.raises(ArchiveError) as caught:
        check_template(body, sha256_text(body), WHERE)
    assert str(caught.value).startswith(f"the archived template {WHERE} is not a template an export gives: ")
    assert caught.value.__cause__ is None


def test_a_well_formed_archived_template_is_returned_as_archived() -> None:
    body = '{"Resources":{"A":{"Type":"AWS::QuickSight::Theme"}}}'
    assert check_template(body, sha256_text(body), WHERE) == body
