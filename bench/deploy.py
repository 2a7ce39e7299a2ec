"""Figure 7: a change-set deployment's AWS calls and detection lag, ours against aws-cli's schedule.

The real ``Deployer`` (``components/aws/cloudformation.py``) runs an UPDATE against a scripted
CloudFormation on a simulated clock: the change set is evaluated C seconds after CreateChangeSet,
the stack settles S seconds after ExecuteChangeSet, its 8 resources completing evenly spread over
those S seconds (their events what DescribeStackEvents answers: a model, real stacks complete
data sources first and dashboards last). Two schedules run side by side:

- ours: ``CHANGE_SET_BACKOFF`` (first poll after 2.5 s, then ~5 s, then every 5 s) and the stack
  wait ``Predicted`` around the stack's previous duration (the deployment records it in state:
  here the cell's nominal S, while each run takes S +-10 %), with jitter (seeded); and, for
  information, the first deploy of a stack (no previous duration: ``STACK_BACKOFF``, 2 s then 21 %
  of the time waited, capped at 30 s, until the resources completed so far project the end:
  ``Informed``, then ``Predicted`` around that projection);
- aws-cli's ``cloudformation deploy``: its waiters poll the change set every 5 s and the stack
  every 30 s (fixed), from the start.

Lag is the time from CloudFormation being done (C + S after the start) to the deploy returning;
calls are every CloudFormation call of the deployment (DescribeStacks, CreateChangeSet,
DescribeChangeSet..., ExecuteChangeSet, and ours' DescribeStackEvents for the progress it tells
on stderr: ``core.stacks.progress_due``). A last figure: an unchanged ``pulumi up`` (Diff only)
against a loopback endpoint that counts requests: 0.

Run alone: ``python bench/deploy.py [--quick]``.
"""

from __future__ import annotations

import datetime as dt
import http.server
import random
import statistics
import threading
from collections import Counter
from typing import Any

import _common
from _common import Row, table

from components.aws.cloudformation import Deployer, DeployRequest, Target
from components.core.stacks import CHANGE_SET_BACKOFF, OWNERSHIP_TAG, STACK_BACKOFF, Claim
from components.core.polling import Backoff

AWS_CLI = (Backoff(first=5.0, proportion=0.0, cap=5.0, jitter=0.0), Backoff(first=30.0, proportion=0.0, cap=30.0, jitter=0.0))
OURS = (CHANGE_SET_BACKOFF, STACK_BACKOFF)  # with the previous duration known, the stack wait is Predicted
CHANGE_SET_SECONDS = [2, 5, 15, 40]
STACK_SECONDS = [20, 60, 180, 600, 1800]
TEMPLATE = '{"Resources":{"d":{"Type":"AWS::QuickSight::Dashboard","Properties":{"DashboardId":"x"}}}}'
STACK_ID = "arn:aws:cloudformation:eu-west-1:111111111111:stack/bench/1"
START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)
# Resources the change set modifies; their completion events are spread evenly over the operation.
RESOURCES = 8


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


class ScriptedCloudFormation:
    """Just enough of a CloudFormation client for an UPDATE, timed by the simulated clock."""

    def __init__(self, clock: Clock, change_set_seconds: float, stack_seconds: float) -> None:
        self.clock = clock
        self.c = change_set_seconds
        self.s = stack_seconds
        self.calls: Counter[str] = Counter()
        self.created_at = 0.0
        self.executed_at: float | None = None

    def _stack(self, status: str) -> dict[str, Any]:
        return {
            "StackId": STACK_ID,
            "StackName": "bench",
            "StackStatus": status,
            "Tags": [{"Key": OWNERSHIP_TAG, "Value": "CloudFormationDeployment"}],
            "Parameters": [],
        }

    def describe_stacks(self, **_: Any) -> dict[str, Any]:
        self.calls["DescribeStacks"] += 1
        if self.executed_at is None:
            return {"Stacks": [self._stack("UPDATE_COMPLETE")]}
        done = self.clock.now >= self.executed_at + self.s
        return {"Stacks": [self._stack("UPDATE_COMPLETE" if done else "UPDATE_IN_PROGRESS")]}

    def create_change_set(self, **_: Any) -> dict[str, Any]:
        self.calls["CreateChangeSet"] += 1
        self.created_at = self.clock.now
        return {"Id": "cs", "StackId": self._stack("")["StackId"]}

    def describe_change_set(self, **_: Any) -> dict[str, Any]:
        self.calls["DescribeChangeSet"] += 1
        done = self.clock.now >= self.created_at + self.c
        return {
            "Status": "CREATE_COMPLETE" if done else "CREATE_IN_PROGRESS",
            "CreationTime": START,
            "Changes": [
                {"Type": "Resource", "ResourceChange": {"Action": "Modify", "LogicalResourceId": f"r{i}", "ResourceType": "AWS::QuickSight::Dashboard"}}
                for i in range(RESOURCES)
            ],
        }

    def describe_stack_events(self, **_: Any) -> dict[str, Any]:
        """The resources completed so far (newest first): RESOURCES of them, spread evenly over the operation."""
        self.calls["DescribeStackEvents"] += 1
        if self.executed_at is None:
            return {"StackEvents": []}
        events = []
        for i in range(RESOURCES):
            at = self.s * (i + 1) / (RESOURCES + 1)
            if self.clock.now >= self.executed_at + at:
                events.append(
                    {"StackId": STACK_ID, "StackName": "bench", "EventId": f"r{i}", "LogicalResourceId": f"r{i}",
                     "ResourceType": "AWS::QuickSight::Dashboard", "ResourceStatus": "UPDATE_COMPLETE",
                     "Timestamp": START + dt.timedelta(seconds=self.executed_at + at)}
                )  # fmt: skip
        return {"StackEvents": list(reversed(events))}

    def execute_change_set(self, **_: Any) -> dict[str, Any]:
        self.calls["ExecuteChangeSet"] += 1
        self.executed_at = self.clock.now
        return {}


def deploy_once(
    schedule: tuple[Backoff, Backoff], c: float, s: float, rng: random.Random, previous: float | None = None
) -> tuple[float, int]:
    """(lag seconds, CloudFormation calls) of one UPDATE (``previous``: the stack's previous duration, if known)."""
    clock = Clock()
    cfn = ScriptedCloudFormation(clock, c, s)
    target = Target(cfn, lambda: None, "111111111111", "eu-west-1")
    deployer = Deployer(
        target,
        sleep=clock.sleep,
        clock=clock.clock,
        draw=rng.random,
        change_set_backoff=schedule[0],
        stack_backoff=schedule[1],
        progress=(lambda _line: None) if schedule is OURS else None,  # ours tells progress (its event reads count)
    )
    deployer.deploy(
        DeployRequest(
            stack_name="bench",
            template_body=TEMPLATE,
            parameters={},
            timeout_seconds=7200,
            expected_seconds=previous,
            # The stack carries 0.1.0's tag; this resource's state records it (ours).
            claim=Claim(identity="bench", recorded_stack_id=STACK_ID),
        )
    )
    assert cfn.executed_at is not None
    # Lag of both waits: how long after each was done it was noticed.
    lag = (cfn.executed_at - (cfn.created_at + c)) + (clock.now - (cfn.executed_at + s))
    return lag, sum(cfn.calls.values())


class _Counting(http.server.BaseHTTPRequestHandler):
    requests = 0

    def do_POST(self) -> None:  # noqa: N802
        type(self).requests += 1
        self.send_response(500)
        self.end_headers()

    do_GET = do_POST  # noqa: N815

    def log_message(self, *_: Any) -> None:
        pass


def unchanged_up_calls() -> int:
    """AWS requests of an unchanged `pulumi up` with credentials: the provider's Diff, against a counting endpoint."""
    import os

    from components.deployment import CloudFormationDeploymentProvider

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Counting)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    saved = {k: os.environ.get(k) for k in ("AWS_ENDPOINT_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_DEFAULT_REGION")}
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://127.0.0.1:{server.server_address[1]}",
        AWS_ACCESS_KEY_ID="AKIABENCH",
        AWS_SECRET_ACCESS_KEY="bench",
        AWS_DEFAULT_REGION="eu-west-1",
    )
    try:
        provider = CloudFormationDeploymentProvider()
        news = {"stack_name": "bench", "template_body": TEMPLATE, "parameters": {"Password": "pw", "Username": "u"}}
        from components.core.stacks import digest_key, parameter_digests, template_sha256

        salt = "ab" * 16
        olds = {
            **news,
            "template_sha256": template_sha256(TEMPLATE),
            "digest_salt": salt,
            "parameter_digests": parameter_digests(news["parameters"], digest_key("bench", salt)),
        }
        del olds["parameters"], olds["template_body"]
        assert provider.diff("id", olds, news).changes is False
    finally:
        server.shutdown()
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return _Counting.requests


def run(quick: bool = False) -> list[Row]:
    trials = 50 if quick else 300
    rng = random.Random(2026)
    print(
        "Figure 7: change-set deployment (UPDATE), simulated clock; cells: mean lag s / mean CloudFormation calls\n"
        f"ours = change sets {CHANGE_SET_BACKOFF}, stacks Predicted around the previous duration (S; each run S +-10 %);\n"
        f"first = ours on a first deploy (stacks {STACK_BACKOFF}); aws-cli = fixed 5 s and 30 s polls"
    )
    lines = []
    ratios: dict[str, list[float]] = {"lag": [], "calls": [], "first lag": [], "first calls": []}
    for c in CHANGE_SET_SECONDS:
        for s in STACK_SECONDS:
            # Completion times spread over +-10 % so that a fixed poll is not lucky.
            ours, first, cli = [], [], []
            for i in range(trials):
                spread = 0.9 + 0.2 * (i + 0.5) / trials
                ours.append(deploy_once(OURS, c * spread, s * spread, rng, previous=s))
                first.append(deploy_once(OURS, c * spread, s * spread, rng))
                cli.append(deploy_once(AWS_CLI, c * spread, s * spread, rng))
            (ol, oc), (fl, fc), (cl, cc) = (
                (statistics.mean(x[0] for x in runs), statistics.mean(x[1] for x in runs)) for runs in (ours, first, cli)
            )
            for key, value in (("lag", ol / cl), ("calls", oc / cc), ("first lag", fl / cl), ("first calls", fc / cc)):
                ratios[key].append(value)
            lines.append(
                [f"{c} s", f"{s} s", f"{ol:.1f} / {oc:.1f}", f"{cl:.1f} / {cc:.1f}", f"{ol / cl:.2f}", f"{oc / cc:.2f}",
                 f"{fl / cl:.2f} / {fc / cc:.2f}"]
            )  # fmt: skip
    print(table(["change set C", "stack S", "ours", "aws-cli", "lag ours/cli", "calls ours/cli", "first: lag / calls"], lines))
    calls = unchanged_up_calls()
    print(f"unchanged `pulumi up` with credentials: {calls} AWS requests (Diff decides from digests)")
    worst = {key: max(values) for key, values in ratios.items()}
    return [
        Row("7 deploy", "mean lag, ours / aws-cli (worst cell)", f"{worst['lag']:.2f}", "<= 0.5", worst["lag"] <= 0.5),
        Row("7 deploy", "mean calls, ours / aws-cli (worst cell)", f"{worst['calls']:.2f}", "<= 1.0", worst["calls"] <= 1.0),
        Row("7 deploy", "first deploy (no previous duration): lag / calls (worst cells)",
            f"{worst['first lag']:.2f} / {worst['first calls']:.2f}", "info"),
        Row("7 deploy", "AWS requests of an unchanged up", str(calls), "0", calls == 0),
    ]  # fmt: skip


if __name__ == "__main__":
    raise SystemExit(_common.main_for(run))
