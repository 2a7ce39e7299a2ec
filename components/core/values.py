"""Does a stage's value still point at the source's own resources? (Prod never reads dev.)

Pure core: no I/O, no Pulumi. The judge (``core.judge``) asks these functions about every value a
stage deploys: its parameter values (explicit or left to their Default) and its principal targets.

A value can point at the source in four ways, told apart because their fixes differ:

- **the source's own resource**: equal to the export's source value (the parameter's Default) for a
  property that names a resource globally: a host name, a manifest's S3 bucket, a VPC subnet
  or security group. Another account cannot own the same host or bucket, so prod would read dev;
- **the source account**: an ARN (a role, a secret, a principal...) or an id that carries the source
  account id: prod would act as, or read from, dev's account;
- **the source region**: an endpoint or ARN naming the source region while the stage deploys to
  another one (a copied dev host ``...us-east-1.rds.amazonaws.com`` in an eu-west-1 stage);
- **a name per account** equal to the source's (a cluster id, instance id, database, workgroup or
  catalog): the same word may be right in every stage, so it is only worth a warning.

Two more warnings compare stages: a connection value that another stage file of the same project
uses too (prod sharing test's database host), and a host that carries another stage's word
(``orders-dev.`` in prod).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Optional

# Properties whose value names a resource that exists once, whatever the account: a second stage
# with the same value uses the very same resource. (A manifest's Key is a name inside its bucket:
# the same key in another bucket is another object, so the Bucket alone decides.)
GLOBAL_NAME_PROPERTIES = frozenset({"Host", "ManifestFileLocation.Bucket"})
_GLOBAL_NAME_PATTERN = re.compile(r"^(SubnetId\d*|SecurityGroupId\d*|SubnetIds|SecurityGroupIds)$")
# Properties whose value is a name inside one account: the same word in two accounts names two resources.
ACCOUNT_NAME_PROPERTIES = frozenset({"ClusterId", "InstanceId", "Database", "WorkGroup", "Catalog", "Warehouse", "Domain"})
# Connection properties whose values are names worth comparing across stages (not ports, flags or credentials).
NAMING_PROPERTIES = GLOBAL_NAME_PROPERTIES | ACCOUNT_NAME_PROPERTIES | frozenset({"RoleArn", "SecretArn"})

# The account field of an ARN: arn:<partition>:<service>:<region>:<account>:...
_ARN_ACCOUNT = re.compile(r"arn:[a-z0-9-]+:[a-z0-9-]+:[a-z0-9-]*:([0-9]{12}):")
_REGION = re.compile(r"(?<![a-z0-9])([a-z]{2}(?:-[a-z]+)+-[0-9]+)(?![0-9])")
_WORD = re.compile(r"[a-z0-9]+")


def names_global_resource(prop: str) -> bool:
    """Whether a property's value names a resource that exists once across accounts."""
    return prop in GLOBAL_NAME_PROPERTIES or bool(_GLOBAL_NAME_PATTERN.match(prop))


def names_account_resource(prop: str) -> bool:
    """Whether a property's value is a name inside one account (the same word may be right in every stage)."""
    return prop in ACCOUNT_NAME_PROPERTIES


def source_accounts_in(value: str, source_account_id: str) -> bool:
    """Whether ``value`` is, or holds an ARN of, the source account."""
    if value.strip() == source_account_id:
        return True
    return any(match.group(1) == source_account_id for match in _ARN_ACCOUNT.finditer(value))


def regions_in(value: str) -> set[str]:
    """The region names written in ``value`` (an endpoint host or an ARN)."""
    return {match.group(1) for match in _REGION.finditer(value.lower())}


def stage_words_in(value: str, words: Iterable[str]) -> list[str]:
    """The stage names among ``words`` that stand as whole words in ``value`` (``orders-dev.x`` has ``dev``)."""
    found = set(_WORD.findall(value.lower()))
    return sorted({word for word in words if word.lower() in found})


@dataclass(frozen=True)
class Sighting:
    """A value that points at the source (or at another stage).

    Attributes:
        rule: ``source-value``, ``source-account``, ``source-region``, ``source-name``,
            ``shared-value`` or ``stage-word``.
        error: Whether it stops ``up`` (else a warning).
        message: What was seen (never the value of a credential).
        advice: What to do.
    """

    rule: str
    error: bool
    message: str
    advice: str


def sightings(
    prop: Optional[str],
    value: str,
    *,
    source_default: Optional[str],
    source_account_id: Optional[str],
    source_region: Optional[str],
    target_region: Optional[str],
    target_account_id: Optional[str] = None,
    other_stages: Optional[Mapping[str, str]] = None,
    stage_words: Iterable[str] = (),
    shown: str,
) -> list[Sighting]:
    """Every way one deployed value points at the source (see the module docstring).

    Args:
        prop: The asset property the value sets (``Host``, ``RoleArn``...); None for a principal
            target or a parameter of no known property.
        value: The value as CloudFormation receives it.
        source_default: The export's value for it (the parameter's Default), if any.
        source_account_id: The account that exported.
        source_region: The region the export was made in.
        target_region: The region the stage deploys to (None: unknown, e.g. offline).
        target_account_id: The account the stage deploys to (None: unknown). A stage deploying into
            the source account itself may name it.
        other_stages: Stage name -> the same parameter's value in that stage's file.
        stage_words: Names of the project's other stages (``dev``, ``test``...).
        shown: How messages show the value (``'<hidden>'`` for credentials).
    """
    found: list[Sighting] = []
    same_account = source_account_id is not None and source_account_id == target_account_id
    if prop and source_default is not None and value == source_default and source_default != "":
        if names_global_resource(prop):
            found.append(
                Sighting(
                    "source-value",
                    True,
                    f"is {shown}, the source's own {prop} (the export's value): this stage would use the source's resource",
                    f"set this stage's own {prop}",
                )
            )
        elif names_account_resource(prop) and not same_account:
            found.append(
                Sighting(
                    "source-name",
                    False,
                    f"is {shown}, the same {prop} as the source's: right only if this account has its own by that name",
                    f"check that this account's {prop} is meant, or set this stage's own",
                )
            )
    if source_account_id and not same_account and source_accounts_in(value, source_account_id):
        found.append(
            Sighting(
                "source-account",
                True,
                f"is {shown}, which names the source account {source_account_id}: this stage would act in or read from it",
                "name a resource of the target account",
            )
        )
    if (
        source_region
        and target_region
        and source_region != target_region
        and source_region in regions_in(value)
        and not any(s.rule == "source-value" for s in found)
    ):
        found.append(
            Sighting(
                "source-region",
                True,
                f"is {shown}, which names the source region {source_region} while this stage deploys to {target_region}",
                f"name the {target_region} resource this stage should use",
            )
        )
    if prop in NAMING_PROPERTIES:
        for stage, other in sorted((other_stages or {}).items()):
            if other == value:
                found.append(
                    Sighting(
                        "shared-value",
                        False,
                        f"is {shown}, the value stage {stage!r} uses too: two stages would share it",
                        f"give each stage its own {prop}",
                    )
                )
    if prop == "Host":
        words = stage_words_in(value, stage_words)
        if words:
            found.append(
                Sighting(
                    "stage-word",
                    False,
                    f"is {shown}, which carries the word {words[0]!r} of another stage",
                    "check that this host belongs to this stage",
                )
            )
    return found
