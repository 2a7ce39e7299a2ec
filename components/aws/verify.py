"""After a deploy: describe each dashboard and analysis of the bundle in the target account.

CloudFormation reports a QuickSight dashboard or analysis created (``CREATE_COMPLETE``) even when
its version failed or its definition carries errors; a viewer finds out when the dashboard opens.
So once the stack completes, each one is described (QuickSight DescribeDashboard /
DescribeAnalysis) with the deployment's own credentials (the target deployer's, ``connect``), in
the stack's account and region, through the call layer (purpose ``DEPLOYMENT``, QuickSight's
table), within what is left of the deployment's deadline. What each answer means is decided in
``core.review`` (``asset_status``, ``failed_assets``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

from ..core import review
from ..core.polling import Deadline
from ..errors import QuickSightPromotionError, clean
from .calls import DEPLOYMENT, NOT_FOUND, QUICKSIGHT, Calls, Expected
from .cloudformation import RETRY_BACKOFF, Target

# What each verified kind is described with, and the answer's id parameter.
OPERATIONS = {"dashboard": ("DescribeDashboard", "DashboardId"), "analysis": ("DescribeAnalysis", "AnalysisId")}


def verify_assets(
    target: Target,
    stack_name: str,
    targets: Sequence[Mapping[str, str]],
    deadline: Deadline,
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict[str, Any]]:
    """Each target's ``status`` and ``errors`` (``core.review.asset_status``), in order.

    An asset QuickSight does not know is ``NOT_FOUND`` (a failure: the stack says it exists); one
    that could not be described (no permission, the deadline) is ``review.NOT_VERIFIED`` with the
    ``reason``, never a failure nor a success. Nothing here raises.

    Args:
        target: The deployment's clients (``connect``); its ``quicksight`` makes the QuickSight client.
        stack_name: The stack, for messages.
        targets: ``review.verification_targets``.
        deadline: What is left of the deployment's deadline.
        sleep: Injectable for tests.
    """
    calls = Calls(
        DEPLOYMENT,
        f"CloudFormation stack {stack_name!r}",
        {"stack": stack_name, "account": target.account_id, "region": target.region},
        deadline,
        RETRY_BACKOFF,
        sleep,
    )
    statuses: list[dict[str, Any]] = []
    if target.quicksight is None:
        return [{**asset, "status": review.NOT_VERIFIED, "errors": [], "reason": "no QuickSight client"} for asset in targets]
    for asset in targets:
        operation, key = OPERATIONS[asset["kind"]]
        try:
            quicksight = target.quicksight()
            answer = calls.call(
                quicksight, QUICKSIGHT, operation, on=f"{asset['kind']} {asset['id']!r}", expect=(NOT_FOUND,),
                after="; the stack is deployed", AwsAccountId=target.account_id, **{key: asset["id"]},
            )  # fmt: skip
        except QuickSightPromotionError as exc:
            statuses.append({**asset, "status": review.NOT_VERIFIED, "errors": [], "reason": clean(exc, 600)})
            continue
        if isinstance(answer, Expected):
            found = {"status": "NOT_FOUND", "errors": ["QuickSight does not know it in the target account"]}
        else:
            found = review.asset_status(asset["kind"], answer)
        statuses.append({**asset, **found})
    return statuses
