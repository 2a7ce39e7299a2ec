"""Each stack instance of a StackSet judged as a stage: the merge of values and the judge per (account, region).

Pure core: no I/O, no Pulumi. ``QuickSightBundleStackSet`` (``components/fanout.py``) calls
``judge_accounts`` at preview and up, and the offline ``preflight`` command calls it with what a
stack-set stage file says: one function, so both see the same findings.

An account's values are the stage's ``parameters`` with its own laid over them (``merged``). The
judge sees the region (a value naming the source region, principal names resolved in the region
when the stage sets no ``IdentityRegion``), so every distinct (account, region) is judged once.
A stack set gives an account one value per parameter in all its regions (``ParameterOverrides``
are per account): an account whose values resolve differently in two of its regions is an error.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Optional

from .catalog import CatalogEntry
from .judge import Finding, Judged, Stage, Target, judge


@dataclass(frozen=True)
class Account:
    """One target account of a stack set, as the judge needs it.

    Attributes:
        account_id: The account (12 digits).
        regions: Its own regions (empty: the stack set's).
        values: Its own stage values (the form of ``parameters``), laid over the stage's.
    """

    account_id: str
    regions: Sequence[str] = ()
    values: Optional[Mapping[str, Any]] = None

    @classmethod
    def from_setting(cls, entry: Mapping[str, Any]) -> "Account":
        """An entry of the ``stackSetAccounts`` setting (``{accountId, regions?, parameters?}``)."""
        return cls(str(entry.get("accountId") or ""), tuple(entry.get("regions") or ()), dict(entry.get("parameters") or {}))


@dataclass(frozen=True)
class FanoutVerdict(Judged):
    """The judge's answer for every stack instance.

    Attributes:
        findings: Every finding of every (account, region), each carrying its account and region.
        values: Account -> its CloudFormation parameter values, for accounts without an error.
    """

    findings: tuple[Finding, ...]
    values: Mapping[str, Mapping[str, str]] = field(default_factory=dict)


def merged(shared: Any, own: Any) -> Any:
    """An account's stage values: its own laid over the shared ones, mapping by mapping."""
    if isinstance(shared, Mapping) and isinstance(own, Mapping):
        return {**shared, **{key: merged(shared.get(key), value) for key, value in own.items()}}
    return own if own is not None else shared


def instance_regions(account: Account, regions: Sequence[str], default: Optional[str]) -> list[Optional[str]]:
    """The distinct regions ``account`` deploys to, in the order given: its own, else ``regions``, else ``default``."""
    return list(dict.fromkeys(account.regions or regions or (default,)))


def judge_accounts(
    body: str,
    catalog: Sequence[CatalogEntry],
    stage: Stage,
    target: Target,
    accounts: Sequence[Account],
    regions: Sequence[str] = (),
    *,
    sha256: Optional[str] = None,
    lint_findings: Optional[Sequence[Mapping[str, Any]]] = None,
    repairs: Optional[Sequence[Mapping[str, Any]]] = None,
) -> FanoutVerdict:
    """Every finding of each (account, region) of a stack set, each judged as a stage (``core.judge.judge``).

    Args:
        body, catalog, sha256, lint_findings, repairs: As ``judge`` takes them.
        stage: The stage, with the shared values (each account's are laid over them).
        target: The administrator's target: its partition and region (the region of an account that has none).
        accounts: The target accounts (an account listed twice is judged once; ``""``: the target's, e.g.
            a service-managed stack set's shared values, or offline).
        regions: The stack set's regions (of every account that names none).

    Returns:
        The findings, errors first, and each account's values when it has no error.
    """
    findings: list[Finding] = []
    values: dict[str, Mapping[str, str]] = {}
    judged: set[str] = set()
    instances: set[tuple[str, str]] = set()
    for account in accounts:
        if account.account_id in judged:
            continue  # listed twice: judged once
        judged.add(account.account_id)
        # Values that are no mapping are left as they are, for the judge to name.
        shared = stage.values
        stage_of = replace(stage, values=merged(shared, account.values) if shared is None or isinstance(shared, Mapping) else shared)
        seen: dict[str, Mapping[str, str]] = {}
        failed = False
        for region in instance_regions(account, regions, target.region):
            where = replace(target, account_id=account.account_id or target.account_id, region=region)
            verdict = judge(
                body, catalog, stage_of, where,
                sha256=sha256, lint_findings=lint_findings, repairs=repairs,
            )  # fmt: skip
            instances.add((account.account_id or "", region or ""))
            findings += [replace(f, account=account.account_id, region=region) for f in verdict.findings]
            failed = failed or bool(verdict.errors)
            if not verdict.errors:
                seen[region or ""] = verdict.values
        differing = _differing(account.account_id, seen)
        findings += differing
        if seen and not failed and not differing:
            values[account.account_id] = next(iter(seen.values()))
    shared = _shared_once(findings, instances)
    return FanoutVerdict(tuple(sorted(shared, key=lambda f: f.severity != "error")), values)


def _shared_once(findings: Sequence[Finding], instances: set[tuple[str, str]]) -> list[Finding]:
    """A finding every (account, region) has, said once without a prefix; the others as they are, in order."""
    if len(instances) < 2:
        return list(findings)
    where: dict[Finding, set[tuple[str, str]]] = {}
    for finding in findings:
        where.setdefault(replace(finding, account=None, region=None), set()).add((finding.account or "", finding.region or ""))
    once = {bare for bare, seen in where.items() if seen == instances}
    kept: list[Finding] = []
    for finding in findings:
        bare = replace(finding, account=None, region=None)
        if bare not in once:
            kept.append(finding)
        elif bare not in kept:
            kept.append(bare)
    return kept


def _differing(account_id: str, by_region: Mapping[str, Mapping[str, str]]) -> list[Finding]:
    """An error for each region whose values are not those of the account's first region (names only)."""
    if not by_region:
        return []
    first, *rest = by_region.items()
    found = []
    for region, values in rest:
        names = sorted(k for k in {*first[1], *values} if first[1].get(k) != values.get(k))
        if names:
            found.append(
                Finding(
                    "error",
                    "stack-set-region",
                    "parameters",
                    f"{', '.join(names)} resolve otherwise than in {first[0]}, and a stack set gives an account "
                    "one value per parameter in all its regions",
                    "set IdentityRegion (the account's QuickSight identity region) so that principal names resolve "
                    "alike, or deploy the regions as separate stack sets",
                    account=account_id,
                    region=region,
                )
            )
    return found
