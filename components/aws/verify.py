"""After a deploy: describe each dashboard and analysis of the bundle in the target account.

CloudFormation reports a QuickSight dashboard or analysis created (``CREATE_COMPLETE``) even when
its version failed or its definition carries errors; a viewer finds out when the dashboard opens.
So once the stack completes, each one is described (QuickSight DescribeDashboard /
DescribeAnalysis) with the deployment's own credentials (the target deployer's, ``connect``), in
the stack's account and region, through the call layer (purpose ``DEPLOYMENT``, QuickSight's
table), within what is left of the deployment's deadline. What each answer means is decided in
``core.review`` (``asset_status``, ``failed_assets``).

When the stage asks (``waitForIngestion``), each SPICE data set's first ingestion is waited for
(QuickSight ListIngestions, polled within the same deadline) and reported the same way
(``core.review.ingestion_status``).
"""

from __future__ import annotations

import time
from typing import Any, Callable, Mapping, Sequence

from ..core import review
from ..core.polling import Deadline, poll_until
from ..errors import QuickSightPromotionError, clean
from .calls import DEPLOYMENT, NOT_FOUND, QUICKSIGHT, Calls, Expected
from .cloudformation import RETRY_BACKOFF, Target

# What each verified kind is described with, and the answer's id parameter.
OPERATIONS = {"dashboard": ("DescribeDashboard", "DashboardId"), "analysis": ("DescribeAnalysis", "AnalysisId")}


def _calls(target: Target, stack_name: str, deadline: Deadline, sleep: Callable[[float], None]) -> Calls:
    return Calls(
        DEPLOYMENT,
        f"CloudFormation stack {stack_name!r}",
        {"stack": stack_name, "account": target.account_id, "region": target.region},
        deadline,
        RETRY_BACKOFF,
        sleep,
    )


def _not_verified(asset: Mapping[str, str], reason: str) -> dict[str, Any]:
    """An asset that could not be checked: never a failure, never a success."""
    return {**asset, "status": review.NOT_VERIFIED, "errors": [], "reason": reason}


def _not_found(asset: Mapping[str, str]) -> dict[str, Any]:
    """An asset the stack holds but QuickSight does not know: a failure."""
    return {**asset, "status": "NOT_FOUND", "errors": ["QuickSight does not know it in the target account"]}


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
    calls = _calls(target, stack_name, deadline, sleep)
    statuses: list[dict[str, Any]] = []
    if target.quicksight is None:
        return [_not_verified(asset, "no QuickSight client") for asset in targets]
    for asset in targets:
        operation, key = OPERATIONS[asset["kind"]]
        try:
            quicksight = target.quicksight()
            answer = calls.call(
                quicksight, QUICKSIGHT, operation, on=f"{asset['kind']} {asset['id']!r}", expect=(NOT_FOUND,),
                after="; the stack is deployed", AwsAccountId=target.account_id, **{key: asset["id"]},
            )  # fmt: skip
        except QuickSightPromotionError as exc:
            statuses.append(_not_verified(asset, clean(exc, 600)))
            continue
        if isinstance(answer, Expected):
            found = _not_found(asset)
        else:
            found = review.asset_status(asset["kind"], answer)
        statuses.append({**asset, **found})
    return statuses


def wait_for_ingestions(
    target: Target,
    stack_name: str,
    targets: Sequence[Mapping[str, str]],
    deadline: Deadline,
    *,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> list[dict[str, Any]]:
    """Each SPICE data set's first ingestion, waited for until it ends or the deadline (``core.review.ingestion_status``).

    A data set QuickSight does not know is ``NOT_FOUND`` (a failure); one with no ingestion, one
    still ingesting at the deadline or one that could not be listed (no permission) is
    ``review.NOT_VERIFIED`` with the ``reason``. Nothing here raises.

    Args:
        target, stack_name, deadline, sleep: As ``verify_assets``'s.
        targets: ``review.ingestion_targets``.
        clock: Injectable for tests.
    """
    if target.quicksight is None:
        return [_not_verified(asset, "no QuickSight client") for asset in targets]
    calls = _calls(target, stack_name, deadline, sleep)
    return [_first_ingestion(target, calls, asset, deadline, sleep, clock) for asset in targets]


def _first_ingestion(
    target: Target, calls: Calls, asset: Mapping[str, str], deadline: Deadline, sleep: Callable[[float], None], clock: Callable[[], float]
) -> dict[str, Any]:
    """One data set's first ingestion as ``wait_for_ingestions`` reports it."""
    on = f"data set {asset['id']!r}"

    def poll() -> Any:
        ingestions: list[Any] = []
        token = None
        for _ in range(review.MAX_INGESTION_PAGES):
            page = calls.call(
                target.quicksight(), QUICKSIGHT, "ListIngestions", on=on, expect=(NOT_FOUND,), retry=False,
                AwsAccountId=target.account_id, DataSetId=asset["id"], MaxResults=100, **({"NextToken": token} if token else {}),
            )  # fmt: skip
            if isinstance(page, Expected):
                return page
            listed = page.get("Ingestions")
            ingestions.extend(listed if isinstance(listed, list) else [])
            token = page.get("NextToken") if isinstance(page.get("NextToken"), str) else None
            if not token:
                break
        return review.first_ingestion(ingestions)

    try:
        outcome = poll_until(
            poll,
            # None: no ingestion listed (QuickSight starts one when it creates a SPICE data set): nothing to wait for.
            lambda found: found is None or isinstance(found, Expected) or found.get("IngestionStatus") in review.INGESTION_DONE,
            timeout=max(0.0, deadline.remaining()),
            backoff=review.INGESTION_BACKOFF,
            sleep=sleep,
            clock=clock,
        )
    except QuickSightPromotionError as exc:
        return _not_verified(asset, clean(exc, 600))
    found = outcome.value
    if isinstance(found, Expected):
        return _not_found(asset)
    if found is None:
        reason = "QuickSight lists no ingestion of it" if outcome.last_error is None else clean(outcome.last_error, 600)
        return _not_verified(asset, reason)
    status = review.ingestion_status(found)
    if not outcome.done:
        return {**asset, **status, "status": review.NOT_VERIFIED, "reason": f"the first ingestion is still {status['status']} at the deadline"}
    return {**asset, **status}
