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


@dataclass(frozen=True)
class Context:
    """What is known of the source and the target, for every value of one stage.

    Attributes:
        source_account_id: The account that exported (None: not known, or its setting is wrong).
        source_region: The region the export was made in.
        target_region: The region the stage deploys to (None: unknown, e.g. offline).
        target_account_id: The account the stage deploys to (None: unknown). A stage deploying into
            the source account itself may name it.
        stage_words: Names of the project's other stages (``dev``, ``test``...).
    """

    source_account_id: Optional[str] = None
    source_region: Optional[str] = None
    target_region: Optional[str] = None
    target_account_id: Optional[str] = None
    stage_words: tuple[str, ...] = ()

    @property
    def same_account(self) -> bool:
        """Whether the stage deploys into the source account itself."""
        return self.source_account_id is not None and self.source_account_id == self.target_account_id


def sightings(
    prop: Optional[str],
    value: str,
    context: Context,
    *,
    source_default: Optional[str] = None,
    other_stages: Optional[Mapping[str, str]] = None,
    shown: str,
) -> list[Sighting]:
    """Every way one deployed value points at the source or at another stage (see the module docstring).

    Args:
        prop: The asset property the value sets (``Host``, ``RoleArn``...); None for a principal
            target or a parameter of no known property.
        value: The value as CloudFormation receives it.
        context: What is known of the source and the target.
        source_default: The export's value for it (the parameter's Default), if any.
        other_stages: Stage name -> the same parameter's value in that stage's file.
        shown: How messages show the value (``<hidden>`` for credentials and secret values).
    """
    found = _source_value(prop, value, context, source_default, shown)
    found += _source_account(value, context, shown)
    if not any(s.rule == "source-value" for s in found):
        found += _source_region(value, context, shown)
    found += _shared(prop, value, other_stages or {}, shown)
    found += _stage_word(prop, value, context, shown)
    return found


def _source_value(prop: Optional[str], value: str, context: Context, default: Optional[str], shown: str) -> list[Sighting]:
    if not prop or default is None or default == "" or value != default:
        return []
    if names_global_resource(prop):
        return [
            Sighting(
                "source-value",
                True,
                f"is {shown}, the source's own {prop} (the export's value): this stage would use the source's resource",
                f"set this stage's own {prop}",
            )
        ]
    if names_account_resource(prop) and not context.same_account:
        return [
            Sighting(
                "source-name",
                False,
                f"is {shown}, the same {prop} as the source's: right only if this account has its own by that name",
                f"check that this account's {prop} is meant, or set this stage's own",
            )
        ]
    return []


def _source_account(value: str, context: Context, shown: str) -> list[Sighting]:
    account = context.source_account_id
    if not account or context.same_account or not source_accounts_in(value, account):
        return []
    return [
        Sighting(
            "source-account",
            True,
            f"is {shown}, which names the source account {account}: this stage would act in or read from it",
            "name a resource of the target account",
        )
    ]


def _source_region(value: str, context: Context, shown: str) -> list[Sighting]:
    source, target = context.source_region, context.target_region
    if not source or not target or source == target or source not in regions_in(value):
        return []
    return [
        Sighting(
            "source-region",
            True,
            f"is {shown}, which names the source region {source} while this stage deploys to {target}",
            f"name the {target} resource this stage should use",
        )
    ]


def _shared(prop: Optional[str], value: str, other_stages: Mapping[str, str], shown: str) -> list[Sighting]:
    if prop not in NAMING_PROPERTIES:
        return []
    return [
        Sighting(
            "shared-value",
            False,
            f"is {shown}, the value stage {stage!r} uses too: two stages would share it",
            f"give each stage its own {prop}",
        )
        for stage, other in sorted(other_stages.items())
        if other == value
    ]


def _stage_word(prop: Optional[str], value: str, context: Context, shown: str) -> list[Sighting]:
    words = stage_words_in(value, context.stage_words) if prop == "Host" else []
    if not words:
        return []
    return [
        Sighting(
            "stage-word",
            False,
            f"is {shown}, which carries the word {words[0]!r} of another stage",
            "check that this host belongs to this stage",
        )
    ]
