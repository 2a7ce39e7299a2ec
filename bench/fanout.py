"""Figure 8: one release to 50 accounts, a StackSet against a one-stack-per-account loop.

Both on a simulated clock, in one run:

- **StackSet**: the real ``StackSetDeployer`` (``components/aws/stacksets.py``) against the loopback
  CloudFormation (``tests/harness/stackset_emulator.py``, real HTTP and botocore): CreateStackSet,
  then CreateStackInstances for 50 accounts (one operation: they share region and values), waited
  for with ``OPERATION_BACKOFF``. Each instance takes C + S seconds (a change set evaluated in C,
  a stack created in S, as CloudFormation does it for the instance); the operation runs
  ``maxConcurrent`` of them at once.
- **Loop**: what a one-stack-per-account organisation runs today: 50 ``pulumi up``, one after
  another, each the real ``Deployer`` (``components/aws/cloudformation.py``, ``bench/deploy.py``'s
  scripted CloudFormation) with our change-set and stack schedules, plus its STS GetCallerIdentity.

Calls are every AWS request of the whole fan-out (STS included); lag is the time from the work
being done (the operation; each stack) to it being noticed, summed over the run; "until done" is
the simulated time until every account holds the release.

Run alone: ``python bench/fanout.py [--quick]``.
"""

from __future__ import annotations

import json
import random
import statistics
from typing import Any

import boto3

import _common
from _common import Row, table

from components.aws.cloudformation import Target
from components.aws.stacksets import StackSetDeployer
from components.core import stacksets as sets
from components.core.polling import Deadline
from components.core.stacks import Claim
from deploy import OURS, Clock, deploy_once
from stackset_emulator import StackSetEmulator

ACCOUNTS = 50
CHANGE_SET_SECONDS = 5.0
STACK_SECONDS = [60.0, 180.0, 600.0]
CONCURRENCY = ["1", "10", "100%"]
TEMPLATE = json.dumps({"Parameters": {"Host": {"Type": "String"}}, "Resources": {"d": {"Type": "AWS::QuickSight::DataSet"}}})


def stack_set_once(stack_seconds: float, concurrent: str) -> tuple[float, int, float]:
    """(lag s, AWS requests, simulated s until every account is done) of a StackSet to ``ACCOUNTS`` accounts."""
    clock = Clock()
    with StackSetEmulator(instance_seconds=CHANGE_SET_SECONDS + stack_seconds, clock=clock.clock) as cfn:
        client = boto3.session.Session().client(
            "cloudformation", region_name="eu-west-1", endpoint_url=cfn.endpoint,
            aws_access_key_id="AKIABENCH", aws_secret_access_key="bench",
        )  # fmt: skip
        deployer = StackSetDeployer(
            Target(client, lambda: None, _common.ACCOUNT, "eu-west-1"), "bench", Deadline.after(86400, clock.clock), sleep=clock.sleep
        )
        inputs = sets.StackSetInputs.model_validate(
            {
                "stack_set_name": "bench",
                "template_body": TEMPLATE,
                "parameters": {"Host": "db.example.com"},
                "stack_set_accounts": [{"accountId": f"{200000000000 + n}"} for n in range(ACCOUNTS)],
                "stack_set_regions": ["eu-west-1"],
                "target_account_id": _common.ACCOUNT,
                "max_concurrent": concurrent,
                "failure_tolerance": "0",
            }
        )
        deployer.deploy(inputs, Claim(identity="0" * 32), [], update_set=False)
        done = max(op.started + op.seconds for op in cfn.operations.values())
        # + 1: the account guard's STS GetCallerIdentity (the emulator serves CloudFormation only here).
        return clock.now - done, len(cfn.actions) + 1, clock.now


def loop_once(stack_seconds: float, rng: random.Random) -> tuple[float, int, float]:
    """(lag s, AWS requests, simulated s until done) of ``ACCOUNTS`` one-stack deployments, one after another."""
    lag, calls, elapsed = 0.0, 0, 0.0
    for _ in range(ACCOUNTS):
        one_lag, one_calls = deploy_once(OURS, CHANGE_SET_SECONDS, stack_seconds, rng)
        lag += one_lag
        calls += one_calls + 1  # + its STS GetCallerIdentity
        elapsed += CHANGE_SET_SECONDS + stack_seconds + one_lag
    return lag, calls, elapsed


def unchanged_up_calls() -> int:
    """AWS requests of an unchanged `pulumi up` of the StackSet resource: its Diff, with the emulator listening."""
    from components.core.stacks import digest_key, parameter_digests, template_sha256
    from components.stackset import CloudFormationStackSetProvider

    with StackSetEmulator() as cfn:
        salt = "ab" * 16
        news: dict[str, Any] = {
            "stack_set_name": "bench",
            "template_body": TEMPLATE,
            "parameters": {"Host": "db.example.com"},
            "stack_set_accounts": [{"accountId": "222222222222"}],
            "stack_set_regions": ["eu-west-1"],
            "target_account_id": _common.ACCOUNT,
        }
        olds = {
            **{k: v for k, v in news.items() if k not in ("template_body", "parameters", "stack_set_accounts")},
            "template_sha256": template_sha256(TEMPLATE),
            "digest_salt": salt,
            "parameter_digests": parameter_digests(news["parameters"], digest_key("bench", salt)),
            "override_digests": {},
            "instance_plan": {"222222222222": ["eu-west-1"]},
        }
        assert CloudFormationStackSetProvider().diff("id", olds, news).changes is False
        return len(cfn.actions)


def run(quick: bool = False) -> list[Row]:
    rng = random.Random(2026)
    print(
        f"Figure 8: one release to {ACCOUNTS} accounts (one region), simulated clock; change set {CHANGE_SET_SECONDS:g} s, "
        "stack S; cells: until done s / AWS requests / summed lag s\n"
        "StackSet = StackSetDeployer against the loopback CloudFormation; loop = one Deployer per account, one after another"
    )
    lines, call_ratios, lag_ratios, time_ratios = [], [], [], []
    for stack_seconds in STACK_SECONDS[:2] if quick else STACK_SECONDS:
        loop = [loop_once(stack_seconds, rng) for _ in range(2 if quick else 5)]
        loop_lag, loop_calls, loop_time = (statistics.mean(x[i] for x in loop) for i in range(3))
        for concurrent in CONCURRENCY:
            lag, calls, until = stack_set_once(stack_seconds, concurrent)
            call_ratios.append(calls / loop_calls)
            lag_ratios.append(lag / loop_lag)
            time_ratios.append((concurrent, until / loop_time))
            lines.append(
                [f"{stack_seconds:g} s", concurrent, f"{until:,.0f} / {calls} / {lag:.1f}",
                 f"{loop_time:,.0f} / {loop_calls:.0f} / {loop_lag:.1f}", f"{calls / loop_calls:.3f}",
                 f"{lag / loop_lag:.3f}", f"{until / loop_time:.3f}"]
            )  # fmt: skip
    print(table(["stack S", "maxConcurrent", "StackSet", "loop", "requests set/loop", "lag set/loop", "time set/loop"], lines))
    calls = unchanged_up_calls()
    print(f"unchanged `pulumi up` of the StackSet resource: {calls} AWS requests (Diff decides from digests)")
    parallel = max(ratio for concurrent, ratio in time_ratios if concurrent == "100%")
    return [
        Row("8 fanout", f"AWS requests, StackSet / loop ({ACCOUNTS} accounts, worst)", f"{max(call_ratios):.3f}", "<= 0.5", max(call_ratios) <= 0.5),
        Row("8 fanout", "summed detection lag, StackSet / loop (worst)", f"{max(lag_ratios):.3f}", "<= 0.2", max(lag_ratios) <= 0.2),
        Row("8 fanout", "time until every account is done, maxConcurrent 100% (worst)", f"{parallel:.3f}", "info"),
        Row("8 fanout", "AWS requests of an unchanged up", str(calls), "0", calls == 0),
    ]


if __name__ == "__main__":
    raise SystemExit(_common.main_for(run))
