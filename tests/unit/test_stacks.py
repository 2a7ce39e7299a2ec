"""Pure decisions of a deployment: statuses, root causes, change summaries, digests, replacements."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from pydantic import ValidationError

from components.core import stacks as core
from components.core.models import DeploymentInputs
from components.core.catalog import to_parameter_string
from tools.generator import generate_bundle

T0 = dt.datetime(2026, 12, 1, 10, 0, tzinfo=dt.timezone.utc)


@pytest.mark.parametrize(
    ("status", "phase"),
    [
        (None, core.Phase.ABSENT),
        ("DELETE_COMPLETE", core.Phase.ABSENT),
        ("REVIEW_IN_PROGRESS", core.Phase.REVIEW),
        ("CREATE_IN_PROGRESS", core.Phase.BUSY),
        ("UPDATE_COMPLETE_CLEANUP_IN_PROGRESS", core.Phase.BUSY),
        ("UPDATE_ROLLBACK_IN_PROGRESS", core.Phase.BUSY),
        ("CREATE_COMPLETE", core.Phase.STABLE),
        ("UPDATE_ROLLBACK_COMPLETE", core.Phase.STABLE),
        ("ROLLBACK_COMPLETE", core.Phase.FAILED_CREATE),
        ("ROLLBACK_FAILED", core.Phase.FAILED_CREATE),
        ("UPDATE_ROLLBACK_FAILED", core.Phase.UPDATE_ROLLBACK_FAILED),
        ("DELETE_FAILED", core.Phase.BROKEN),
    ],
)
def test_stack_statuses_are_classified(status: str, phase: core.Phase) -> None:
    assert core.phase(status) is phase


D = core.Decision
O = core.Ownership


@pytest.mark.parametrize(
    ("phase", "ours", "theirs", "adopted", "namesake"),
    [
        # phase                               owned        not owned         not owned, adopted  another identity, our owner
        (core.Phase.ABSENT, D.CREATE, D.CREATE, D.CREATE, D.CREATE),
        (core.Phase.REVIEW, D.CREATE, D.CREATE, D.CREATE, D.CREATE),
        (core.Phase.STABLE, D.UPDATE, D.NOT_OURS, D.UPDATE, D.NOT_OURS),
        (core.Phase.FAILED_CREATE, D.RECREATE, D.NOT_OURS, D.RECREATE, D.RECREATE),
        (core.Phase.BUSY, D.WAIT, D.WAIT, D.WAIT, D.WAIT),
        (core.Phase.UPDATE_ROLLBACK_FAILED, D.CONTINUE_ROLLBACK, D.CONTINUE_ROLLBACK, D.CONTINUE_ROLLBACK, D.CONTINUE_ROLLBACK),
        (core.Phase.BROKEN, D.REFUSE, D.REFUSE, D.REFUSE, D.REFUSE),
    ],
)
def test_the_change_set_decision_follows_phase_ownership_and_adoption(
    phase: core.Phase, ours: core.Decision, theirs: core.Decision, adopted: core.Decision, namesake: core.Decision
) -> None:
    for mine in (O.OURS, O.OURS_LEGACY):
        assert core.decide(phase, mine, adopt=False) is ours
        assert core.decide(phase, mine, adopt=True) is ours, "adopt_stack changes nothing for our own stack"
    for other in (O.THEIRS, O.UNTAGGED):
        assert core.decide(phase, other, adopt=False) is theirs
        assert core.decide(phase, other, adopt=True) is adopted
    assert core.decide(phase, O.NAMESAKE, adopt=False) is namesake


def test_every_phase_has_a_decision() -> None:
    assert {core.decide(phase, whose, adopt) for phase in core.Phase for whose in O for adopt in (True, False)} == set(core.Decision)


ME = core.Claim(identity="mine", owner="sales/prod", recorded_stack_id="arn:stack/1")


@pytest.mark.parametrize(
    ("tags", "stack_id", "whose"),
    [
        ({core.OWNERSHIP_TAG: "mine"}, "arn:stack/9", O.OURS),
        ({}, "arn:stack/1", O.UNTAGGED),
        ({"team": "bi"}, "arn:stack/1", O.UNTAGGED),
        ({core.OWNERSHIP_TAG: "theirs", core.OWNER_TAG: "team-a/prod"}, "arn:stack/1", O.THEIRS),
        ({core.OWNERSHIP_TAG: "theirs"}, "arn:stack/1", O.THEIRS),
        # Another identity with our readable owner: a failed create's retry, or a fork of the program.
        ({core.OWNERSHIP_TAG: "theirs", core.OWNER_TAG: "sales/prod"}, "arn:stack/1", O.NAMESAKE),
        # 0.1.0's fixed value: ours only on the stack our state records.
        ({core.OWNERSHIP_TAG: core.LEGACY_OWNERSHIP_VALUE}, "arn:stack/1", O.OURS_LEGACY),
        ({core.OWNERSHIP_TAG: core.LEGACY_OWNERSHIP_VALUE}, "arn:stack/2", O.THEIRS),
    ],
)
def test_ownership_is_by_identity(tags: dict[str, str], stack_id: str, whose: core.Ownership) -> None:
    assert core.ownership(tags, stack_id, ME) is whose


def test_a_fresh_resource_meeting_a_0_1_0_stack_treats_it_as_anothers() -> None:
    fresh = core.Claim(identity="mine", owner="sales/prod")
    assert core.ownership({core.OWNERSHIP_TAG: core.LEGACY_OWNERSHIP_VALUE}, "arn:stack/1", fresh) is O.THEIRS


def test_adoption_takes_an_untagged_stack_or_only_the_named_identity() -> None:
    theirs = {core.OWNERSHIP_TAG: "theirs"}
    adopt = core.Claim(identity="mine", adopt_stack=True)
    assert core.may_adopt(O.UNTAGGED, {}, adopt) is True
    assert core.may_adopt(O.UNTAGGED, {}, ME) is False, "adopt_stack off"
    assert core.may_adopt(O.THEIRS, theirs, adopt) is False, "another identity needs naming"
    assert core.may_adopt(O.THEIRS, theirs, core.Claim(identity="mine", adopt_stack=True, adopt_identity="other")) is False
    assert core.may_adopt(O.THEIRS, theirs, core.Claim(identity="mine", adopt_stack=True, adopt_identity="theirs")) is True
    assert core.may_adopt(O.THEIRS, theirs, core.Claim(identity="mine", adopt_identity="theirs")) is False, "named, not adopted"


def test_stack_tags_read_a_describe_stacks_list() -> None:
    assert core.stack_tags([{"Key": "a", "Value": "1"}, {"Key": "b"}, "junk", {"Value": "x"}]) == {"a": "1", "b": ""}


def test_an_adoption_removes_only_what_its_review_showed() -> None:
    summary = [
        {"logical_id": "a", "action": "Add", "replacement": None},
        {"logical_id": "b", "action": "Remove", "replacement": None},
        {"logical_id": "c", "action": "Modify", "replacement": "True"},
        {"logical_id": "d", "action": "Modify", "replacement": "Conditional"},
        {"logical_id": "e", "action": "Modify", "replacement": "False"},
    ]
    assert core.removals(summary) == ["b", "c", "d"]
    assert core.unreviewed_removals(summary, []) == ["b", "c", "d"]
    assert core.unreviewed_removals(summary, summary[:3]) == ["d"]
    assert core.unreviewed_removals(summary, summary) == []


def test_termination_protection_is_lowered_only_on_a_stack_we_created() -> None:
    assert core.lowers_protection(protected=True, wanted=False, created=False) is True
    assert core.lowers_protection(protected=True, wanted=False, created=True) is False
    assert core.lowers_protection(protected=True, wanted=True, created=False) is False
    assert core.lowers_protection(protected=False, wanted=False, created=False) is False


def test_empty_change_set_reasons() -> None:
    assert core.is_empty_change_set(
        "The submitted information didn't contain changes. Submit different information to create a change set."
    )
    assert core.is_empty_change_set("No updates are to be performed.")
    assert not core.is_empty_change_set("Template format error: unsupported structure")
    assert not core.is_empty_change_set(None)


def ev(logical_id: str, status: str, minute: int, reason: str = "", token: str | None = None) -> dict:
    out = {
        "LogicalResourceId": logical_id,
        "ResourceType": "AWS::CloudFormation::Stack" if logical_id == "s" else "AWS::QuickSight::DataSet",
        "ResourceStatus": status,
        "ResourceStatusReason": reason,
        "Timestamp": T0 + dt.timedelta(minutes=minute),
    }
    if token:
        out["ClientRequestToken"] = token
    return out


def test_root_cause_skips_the_stack_and_the_cancellations() -> None:
    oldest_first = [
        ev("s", "UPDATE_IN_PROGRESS", 0, "User Initiated"),
        ev("b", "UPDATE_FAILED", 1, "Resource update cancelled"),
        ev("s", "UPDATE_FAILED", 1, "The following resource(s) failed to update: [a]"),
        ev("a", "UPDATE_FAILED", 2, "Column Region not found"),
    ]
    assert core.root_cause(oldest_first, "s")["LogicalResourceId"] == "a"
    # Only cancellations: the first of them, rather than nothing.
    assert core.root_cause(oldest_first[:2], "s")["LogicalResourceId"] == "b"
    assert core.root_cause([ev("s", "UPDATE_IN_PROGRESS", 0)], "s") is None


def test_operation_events_by_token_or_by_time() -> None:
    newest_first = [ev("a", "UPDATE_FAILED", 5, "mine", "t1"), ev("b", "UPDATE_FAILED", 1, "old", "t0")]
    assert [e["ResourceStatusReason"] for e in core.operation_events(newest_first, "s", "t1", None)] == ["mine"]
    untokened = [ev("a", "UPDATE_FAILED", 5, "mine"), ev("b", "UPDATE_FAILED", 1, "old")]
    since = T0 + dt.timedelta(minutes=3)
    assert [e["ResourceStatusReason"] for e in core.operation_events(untokened, "s", "t1", since)] == ["mine"]


def test_change_summary_names_the_assets() -> None:
    template = generate_bundle()
    assets = core.resource_assets(template)
    dashboard = next(k for k, v in assets.items() if v["kind"] == "dashboard")
    assert assets[dashboard] == {"kind": "dashboard", "id": "sales-dashboard"}
    refresh = [v for v in assets.values() if v["kind"] == "refresh-schedule"]
    assert refresh and all("/" in v["id"] for v in refresh)
    summary = core.summarize_changes(
        [
            {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": dashboard, "ResourceType": "AWS::QuickSight::Dashboard", "Replacement": "True"}},
            {"Type": "Resource", "ResourceChange": {"Action": "Remove", "LogicalResourceId": "Gone", "ResourceType": "AWS::SNS::Topic"}},
        ],
        assets,
    )
    assert summary == [
        {"logical_id": "Gone", "type": "AWS::SNS::Topic", "action": "Remove", "replacement": None, "asset_kind": None, "asset_id": None},
        {"logical_id": dashboard, "type": "AWS::QuickSight::Dashboard", "action": "Modify", "replacement": "True", "asset_kind": "dashboard", "asset_id": "sales-dashboard"},
    ]
    assert core.describe_summary(summary) == "0 to add, 1 to modify, 1 to remove (1 replaced)"


def test_digests_are_keyed_per_stack_and_salt_and_never_the_value() -> None:
    key = core.digest_key("stack-a", "00" * 16)
    digests = core.parameter_digests({"Pw": "hunter2"}, key)
    assert "hunter2" not in json.dumps(digests) and len(digests["Pw"]) == 64
    assert digests == core.parameter_digests({"Pw": "hunter2"}, core.digest_key("stack-a", "00" * 16))
    assert digests != core.parameter_digests({"Pw": "hunter2"}, core.digest_key("stack-b", "00" * 16))
    assert digests != core.parameter_digests({"Pw": "hunter2"}, core.digest_key("stack-a", "01" * 16))
    assert digests != core.parameter_digests({"Pw": "hunter3"}, key)


def test_no_echo_parameters_of_a_template() -> None:
    template = {"Parameters": {"A": {"Type": "String", "NoEcho": True}, "B": {"Type": "String", "NoEcho": "true"}, "C": {}}}
    assert core.no_echo_parameters(template) == {"A", "B"}


def test_replacement_problems_compare_known_values_only() -> None:
    olds = {"stack_name": "s", "target_region": "eu-west-1", "account_id": "111111111111"}
    assert core.replacement_problems(olds, {"stack_name": "s"}) == []
    news = {"stack_name": "t", "target_region": "us-east-1", "target_account_id": "222222222222"}
    assert core.replacement_problems(olds, news) == [
        "stack_name 's' -> 't'",
        "region eu-west-1 -> us-east-1",
        "account 111111111111 -> 222222222222",
    ]


def test_template_url_is_virtual_hosted_and_quoted() -> None:
    assert core.template_url("b", "eu-west-1", "p x/abc.json") == "https://b.s3.eu-west-1.amazonaws.com/p%20x/abc.json"
    assert core.staged_key("quicksight-promotion/", "ab") == "quicksight-promotion/ab.json"
    # A version id is one query value: every reserved character encoded, "/" too.
    assert core.template_url("b", "eu-west-1", "k.json", "a/b+c=") == "https://b.s3.eu-west-1.amazonaws.com/k.json?versionId=a%2Fb%2Bc%3D"
    assert core.template_url("b", "eu-west-1", "k.json", None) == "https://b.s3.eu-west-1.amazonaws.com/k.json"


def test_the_staged_checksum_is_s3s_base64_sha256() -> None:
    # S3's documented example: ChecksumSHA256 of the empty object.
    assert core.checksum_sha256(b"") == "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU="


# The deployment's parameter values and the catalog's Defaults are written by one function
# (catalog.to_parameter_string). Before, core/deployment.py had its own copy that wrote an integral
# float beyond 2**63 in full where the catalog wrote "1e+20", and passed "nan"/"inf" on to CloudFormation.
@pytest.mark.parametrize("value", ["abc", True, False, 5432, 5432.0, -3.0, 0.25, 1e20, 2.0**63, -0.0])
def test_parameter_values_are_written_as_the_catalog_writes_them(value: object) -> None:
    assert core.parameter_string(value) == to_parameter_string(value)
    parsed = DeploymentInputs(stack_name="s", target_account_id="123456789012", template_body='{"Resources":{}}', parameters={"P": value})
    assert parsed.parameters == {"P": to_parameter_string(value)}


def test_an_integral_float_past_2_63_is_sent_as_its_integer() -> None:
    parsed = DeploymentInputs(stack_name="s", target_account_id="123456789012", template_body='{"Resources":{}}', parameters={"Big": 1e20})
    assert parsed.parameters == {"Big": "100000000000000000000"}


@pytest.mark.parametrize("value", [float("nan"), float("inf"), float("-inf")])
def test_a_non_finite_parameter_value_is_refused(value: float) -> None:
    with pytest.raises(ValidationError) as info:
        DeploymentInputs(stack_name="s", target_account_id="123456789012", template_body='{"Resources":{}}', parameters={"P": value})
    (error,) = info.value.errors()
    assert error["loc"] == ("parameters",)
    assert error["msg"] == f"Value error, {value!r} is not a finite number"


def test_a_parameter_value_that_is_no_scalar_is_left_to_the_input_model_to_refuse() -> None:
    assert core.parameter_string({"v": "x"}) == {"v": "x"}
    with pytest.raises(ValidationError) as info:
        DeploymentInputs(stack_name="s", target_account_id="123456789012", template_body='{"Resources":{}}', parameters={"P": {"v": "x"}})
    assert [(e["loc"], e["msg"]) for e in info.value.errors()] == [(("parameters", "P"), "Input should be a valid string")]


def test_resource_assets_and_no_echo_read_a_malformed_template_as_empty() -> None:
    assert core.resource_assets({"Resources": []}) == {}
    assert core.resource_assets("not a template") == {}  # type: ignore[arg-type]
    assert core.no_echo_parameters({"Parameters": []}) == frozenset()


def test_the_stack_wait_polls_around_the_previous_duration_when_there_is_one() -> None:
    assert core.stack_schedule(None) is core.STACK_BACKOFF
    assert core.stack_schedule(5.0) is core.STACK_BACKOFF, "a previous no-op predicts nothing"
    predicted = core.stack_schedule(600.0)
    assert predicted.expected == 600.0 and predicted.fallback is core.STACK_BACKOFF  # type: ignore[union-attr]


# --- progress of a stack wait ---------------------------------------------------------------------


def test_progress_reads_events_before_a_quiet_minute_or_every_two_minutes_outside_the_dense_end() -> None:
    assert core.progress_due(60.0, since_read=10.0)  # a sparse phase: the user learns where it stands
    assert not core.progress_due(51.0, since_read=75.0)
    assert core.progress_due(30.0, since_read=None) and core.progress_due(30.0, since_read=120.0)
    assert not core.progress_due(8.0, since_read=None)  # near the predicted end: the end will tell
    assert core.progress_due(2.0, since_read=0.0, loopback=True)


def test_resources_done_counts_each_completed_resource_once_and_never_the_stack() -> None:
    events = [
        {"LogicalResourceId": "salesds", "ResourceStatus": "UPDATE_IN_PROGRESS"},
        {"LogicalResourceId": "salesds", "ResourceStatus": "UPDATE_COMPLETE"},
        {"LogicalResourceId": "salesdash", "ResourceStatus": "CREATE_COMPLETE"},
        {"LogicalResourceId": "salesdash", "ResourceStatus": "UPDATE_COMPLETE"},
        {"LogicalResourceId": "old", "ResourceStatus": "DELETE_FAILED"},
        {"LogicalResourceId": "sales-prod", "ResourceStatus": "UPDATE_COMPLETE"},
    ]
    assert core.resources_done(events, "sales-prod") == 2


def test_a_progress_line_is_one_escaped_bounded_line() -> None:
    assert core.progress_line("sales-prod", "UPDATE_IN_PROGRESS", 3, 12, 65.2, 120.0) == (
        "quicksight-promotion: CloudFormation stack 'sales-prod' UPDATE_IN_PROGRESS: 3 of 12 resources done, "
        "1m05s elapsed, about 2m00s expected"
    )
    assert core.progress_line("s", None, None, 0, 4.0, None) == (
        "quicksight-promotion: CloudFormation stack 's' status unknown: ? resources done, 4s elapsed"
    )
    line = core.progress_line("s", "UPDATE_IN_PROGRESS\x1b[2J\n" + "x" * 1000, 30, 12, 1.0, None)
    assert "\x1b" not in line and "\n" not in line and "\\x1b" in line and len(line) <= 300
    assert "12 of 12 resources" in core.progress_line("s", "UPDATE_IN_PROGRESS", 30, 12, 1.0, None)


def test_the_completed_resources_project_the_end_from_a_quarter_of_them_on() -> None:
    assert core.projected_seconds(2, 8, 100.0) == 400.0
    assert core.projected_seconds(1, 8, 100.0) is None  # the first completions come early
    assert core.projected_seconds(8, 8, 100.0) is None and core.projected_seconds(None, 8, 1.0) is None
    assert core.projected_seconds(3, 0, 100.0) is None  # no total known
    assert core.projected_seconds(1, 2, 4.0) is None  # 8 s: too soon to predict anything
    schedule = core.stack_schedule(None, projected=lambda: 400.0)
    assert schedule.delay(100.0, 0.0) == 100.0  # Predicted around 400 s: a quarter of it
    assert core.stack_schedule(None) is core.STACK_BACKOFF and core.stack_schedule(300.0, projected=lambda: 5.0).expected == 300.0
