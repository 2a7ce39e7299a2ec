"""One base for this library's dynamic providers (thin Pulumi shell).

Each provider (``provider.AssetBundleExportProvider``, ``release.AssetBundleReleaseProvider``,
``deployment.CloudFormationDeploymentProvider``) is a ``DynamicProvider`` that declares, once:
its inputs and outputs (pydantic models of ``core.models``), the inputs it may quote back in a
message, the inputs whose change replaces it and those whose change updates it in place, and the
names its inputs had before they were renamed. The base does the rest the same way for all three.

What the engine hands a provider (the SDK's servicer, ``pulumi/dynamic/__main__.py``):

- a value not known yet (preview) as a sentinel string, which the SDK hands to Check and Diff as
  ``pulumi.output.Unknown``;
- every number as a double;
- secrets unwrapped, so a provider cannot tell which inputs were secret and must quote back
  only inputs it knows to be identifiers or numbers;
- ``__provider`` (the dill-serialised provider) among the inputs: never compared, so upgrading
  this library does not touch users' resources;
- the recorded state as the version of this library that wrote it named it: inputs renamed since
  (``LEGACY_NAMES``) are read under today's names before anything compares or reads them, so an
  upgrade with unchanged values is no diff and no AWS call.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, ClassVar, Optional

import pulumi
from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    CreateResult,
    DiffResult,
    ReadResult,
    ResourceProvider,
    UpdateResult,
)
from pydantic import BaseModel, ValidationError

from .core.catalog import CatalogEntry, summarize_resources
from .core.models import stand_ins
from .errors import InputError, clean

# The engine's marker of a value not known yet (preview), as the SDK may still pass it.
UNKNOWN = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


def is_unknown(value: Any) -> bool:
    """Whether a value is not known yet (preview)."""
    return isinstance(value, pulumi.output.Unknown) or (isinstance(value, str) and value == UNKNOWN)


def has_unknown(value: Any) -> bool:
    """Whether a value, or anything inside a list or mapping of it, is not known yet."""
    if isinstance(value, Mapping):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, (list, tuple)):
        return any(has_unknown(item) for item in value)
    return is_unknown(value)


def known_inputs(props: Mapping[str, Any], names: Iterable[str]) -> dict[str, Any]:
    """The inputs among ``names`` whose values in ``props`` are known (not None, not unknown)."""
    return {k: props[k] for k in names if props.get(k) is not None and not is_unknown(props[k])}


def same(old: Any, new: Any) -> bool:
    """Whether two input values are the same, an empty value being the same as none."""
    return (old or None) == (new or None)


def problems(error: ValidationError) -> list[tuple[str, str]]:
    """(input name, reason) for each validation error.

    The given value is never quoted: an input is a configuration value, and a secret pasted into
    the wrong setting must not reach a message, the engine's log or the state.
    """
    found = []
    for item in error.errors():
        name = clean(".".join(str(part) for part in item["loc"]), 200) if item["loc"] else "inputs"
        found.append((name, clean(item["msg"], 300)))
    return found


class DynamicProvider(ResourceProvider):
    """The base of every dynamic provider of this library: check, diff, parsing, state compatibility.

    Built with no arguments and stateless (a subclass may keep what ``configure()`` hands over):
    safe to pickle into Pulumi state, where dill records the subclass's module and class path.

    A subclass declares (class attributes, checked when the class is defined):

    Attributes:
        LABEL: The resource type, as messages name it (``AssetBundleExport``).
        INPUTS: The pydantic model of its inputs. A required input declares an example
            (``Field(examples=[...])``): it stands in for a value not known yet at preview.
        OUTPUTS: The pydantic model of its outputs (those also inputs echo the input's value).
        ID_OUTPUT: The output that is the resource's id.
        QUOTABLE: Inputs an error may carry as evidence (identifiers and numbers, never anything
            that may be a secret or is large); no message quotes an input's value.
        REPLACE_ON: Inputs whose change makes it another resource (a replacement).
        UPDATE_ON: Inputs whose change updates it in place. Any other input (a timeout, a role
            used only while working) never causes a diff on its own.
        LEGACY_NAMES: Old input name -> today's, for every input renamed since a state was written.
        REQUIRED_BECAUSE: Required input -> why it is required (said when it is missing).
        EVIDENCE: The evidence a parse error carries (``errors.EVIDENCE`` name -> a quotable input).

    A subclass implements ``_create`` and ``_update``, and may override ``_read``/``_delete`` (by
    default: keep the recorded state, do nothing remote), ``_changes`` (more than the declared
    keys), ``_check_more``/``_checked`` (rules across inputs, normalised inputs), ``_validate``
    (rules across parsed inputs) and ``_subject`` (what a parse error names).
    """

    # The provider captures no secret, so its serialised form need not be a secret in state.
    serialize_as_secret_always = False

    LABEL: ClassVar[str]
    INPUTS: ClassVar[type[BaseModel]]
    OUTPUTS: ClassVar[type[BaseModel]]
    ID_OUTPUT: ClassVar[str]
    QUOTABLE: ClassVar[frozenset[str]] = frozenset()
    REPLACE_ON: ClassVar[tuple[str, ...]] = ()
    UPDATE_ON: ClassVar[tuple[str, ...]] = ()
    LEGACY_NAMES: ClassVar[Mapping[str, str]] = {}
    REQUIRED_BECAUSE: ClassVar[Mapping[str, str]] = {}
    EVIDENCE: ClassVar[Mapping[str, str]] = {}

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        fields = cls.INPUTS.model_fields
        declared = {*cls.QUOTABLE, *cls.REPLACE_ON, *cls.UPDATE_ON, *cls.LEGACY_NAMES.values()}
        wrong = sorted((declared - set(fields)) | (set(cls.EVIDENCE.values()) - cls.QUOTABLE))
        clashing = sorted(set(cls.LEGACY_NAMES) & (set(fields) | set(cls.OUTPUTS.model_fields)))
        no_example = sorted(name for name, field in fields.items() if field.is_required() and not field.examples)
        if wrong or clashing or no_example or cls.ID_OUTPUT not in cls.OUTPUTS.model_fields:
            raise TypeError(
                f"{cls.__name__}: declared names that are not inputs {wrong}, legacy names still in use {clashing}, "
                f"required inputs without an example {no_example}, id output {cls.ID_OUTPUT!r}"
            )

    # --- declarations, read -------------------------------------------------------------------
    @classmethod
    def input_names(cls) -> tuple[str, ...]:
        """Every input, as the model names it."""
        return tuple(cls.INPUTS.model_fields)

    @classmethod
    def output_only_names(cls) -> tuple[str, ...]:
        """The outputs that are not inputs."""
        return tuple(name for name in cls.OUTPUTS.model_fields if name not in cls.INPUTS.model_fields)

    @classmethod
    def resource_props(cls, inputs: Mapping[str, Any]) -> dict[str, Any]:
        """The props of the resource: its inputs, and each output-only property as None (so it becomes an attribute).

        Raises:
            TypeError: an input that the provider's model does not declare (a name out of step).
        """
        wrong = sorted(set(inputs) - set(cls.INPUTS.model_fields))
        if wrong:
            raise TypeError(f"{cls.LABEL} has no input {', '.join(wrong)}")
        return {**inputs, **dict.fromkeys(cls.output_only_names())}

    @classmethod
    def current(cls, props: Mapping[str, Any]) -> dict[str, Any]:
        """Recorded properties under today's names: a state written before a rename holds the old ones."""
        renamed = dict(props)
        for old, new in cls.LEGACY_NAMES.items():
            if old in renamed:
                value = renamed.pop(old)
                renamed.setdefault(new, value)
        return renamed

    @classmethod
    def value(cls, props: Mapping[str, Any], name: str) -> Any:
        """An input as diff compares it: absent is its default, an integral double an int, a tuple a list."""
        value = props.get(name)
        if value is None:
            field = cls.INPUTS.model_fields[name]
            value = None if field.is_required() else field.get_default(call_default_factory=True)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, tuple):
            value = list(value)
        return value

    @classmethod
    def changed(cls, olds: Mapping[str, Any], news: Mapping[str, Any], name: str) -> bool:
        """Whether an input changed (or is not known yet), an empty value being the same as none."""
        return has_unknown(news.get(name)) or not same(cls.value(olds, name), cls.value(news, name))

    # --- the engine's calls ------------------------------------------------------------------------
    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate the known inputs, every problem at once; unknown ones (preview) are judged in create/update."""
        failures = [
            CheckFailure(name, self._missing(name))
            for name, field in self.INPUTS.model_fields.items()
            if field.is_required() and news.get(name) is None
        ]
        try:
            self.INPUTS.model_validate({**stand_ins(self.INPUTS), **known_inputs(news, self.input_names())})
        except ValidationError as exc:
            failures.extend(CheckFailure(name, reason) for name, reason in problems(exc))
        failures.extend(self._check_more(news))
        return CheckResult(self._checked(news), failures)

    def _missing(self, name: str) -> str:
        """What a check or parse error says of a required input that is missing: that, and why."""
        because = self.REQUIRED_BECAUSE.get(name)
        return f"{name} is required: {because}" if because else f"{name} is required"

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compare the declared inputs with the recorded ones; no AWS call."""
        replaces, updates = self._changes(self.current(olds), news)
        return DiffResult(
            changes=bool(replaces or updates), replaces=replaces, stables=[], delete_before_replace=False
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Parse the inputs and create; the id is the ``ID_OUTPUT`` output."""
        outs = self._create(self.parse(props))
        return CreateResult(str(outs[self.ID_OUTPUT]), outs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Parse the new inputs and update, the recorded state read under today's names."""
        inputs = self.parse(news)
        return UpdateResult(self._update(self.current(olds), news, inputs))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Refresh, the recorded state read under today's names."""
        return self._read(id_, self.current(props))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """Delete, the recorded state read under today's names."""
        self._delete(id_, self.current(props))

    # --- parsing -------------------------------------------------------------------------------
    def parse(self, props: Mapping[str, Any]) -> Any:
        """Validate the inputs for create/update, reporting every problem in one message.

        Raises:
            InputError: naming each bad input, quoting no value. Not chained, and
                raised outside the ``except``: pydantic's own text quotes every input value,
                secrets included, and would show in the traceback the engine prints.
        """
        try:
            inputs = self.INPUTS.model_validate(known_inputs(props, self.input_names()))
        except ValidationError as exc:
            found = [(name, self._missing(name) if reason == "Field required" else reason) for name, reason in problems(exc)]
        else:
            self._validate(inputs)
            return inputs
        listed = "; ".join(f"{name}: {reason}" for name, reason in found)
        # Identifiers only (EVIDENCE names quotable inputs); the error cleans and bounds them.
        evidence = {key: props[name] for key, name in self.EVIDENCE.items() if isinstance(props.get(name), str)}
        raise InputError(
            f"invalid {self.LABEL} inputs{self._subject(props)}: {listed}; fix them in the Pulumi program", **evidence
        ) from None

    # --- what a subclass adds ----------------------------------------------------------------------
    def _check_more(self, _news: Mapping[str, Any]) -> list[CheckFailure]:
        """Problems across inputs that the model alone cannot see (none by default)."""
        return []

    def _checked(self, news: dict[str, Any]) -> dict[str, Any]:
        """The inputs as recorded after Check (unchanged by default)."""
        return news

    def _validate(self, inputs: Any) -> None:
        """Rules across parsed inputs (none by default); raises InputError."""

    def _subject(self, _props: Mapping[str, Any]) -> str:
        """What a parse error names after the resource type (nothing by default)."""
        return ""

    def _changes(self, olds: Mapping[str, Any], news: Mapping[str, Any]) -> tuple[list[str], list[str]]:
        """(replacing, updating) inputs that changed; ``olds`` under today's names."""
        replaces = [name for name in self.REPLACE_ON if self.changed(olds, news, name)]
        updates = [name for name in self.UPDATE_ON if self.changed(olds, news, name)]
        return replaces, updates

    def _create(self, inputs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _update(self, olds: Mapping[str, Any], news: Mapping[str, Any], inputs: Any) -> dict[str, Any]:
        raise NotImplementedError

    def _read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """Keep the recorded state (no AWS call), under today's names."""
        return ReadResult(id_, props)

    def _delete(self, _id: str, _props: dict[str, Any]) -> None:
        """Do nothing remote."""


# --- what the export and the release providers share --------------------------------------------

# The inputs of core.models.SourceJobInputs a message may quote: identifiers and numbers.
SOURCE_JOB_QUOTABLE = frozenset(
    {
        "source_account_id",
        "source_region",
        "source_role_arn",
        "export_timeout_seconds",
        "archive_bucket",
        "archive_region",
        "archive_role_arn",
    }
)
# Where a fetched job is archived: a change archives the recorded template (no QuickSight call, so
# a release can be archived after its job expired).
ARCHIVE_INPUTS = ("archive_bucket", "archive_region", "archive_role_arn")
# Their names before 0.2.0 (CHANGELOG.md), as states written then hold them.
SOURCE_JOB_LEGACY_NAMES = {
    "aws_account_id": "source_account_id",
    "region": "source_region",
    "role_arn": "source_role_arn",
    "timeout_seconds": "export_timeout_seconds",
}

# Inputs never echoed in outputs (state's outputs, `pulumi stack output`): an STS ExternalId is a
# shared secret between the role's owner and its caller.
NEVER_OUTPUT = frozenset({"source_external_id", "archive_external_id", "target_external_id"})


def secret_input(value: Optional[pulumi.Input[str]]) -> Optional[pulumi.Output[str]]:
    """An ExternalId input as the engine should keep it: a secret (None stays unset)."""
    return pulumi.Output.secret(value) if value is not None else None


def echoed_inputs(inputs: BaseModel, *also: str) -> dict[str, Any]:
    """The inputs a provider echoes in its outputs (diff compares them): all but ``NEVER_OUTPUT`` and ``also``."""
    return inputs.model_dump(exclude={*NEVER_OUTPUT, *also})


# Warnings kept in outputs (state, `pulumi stack output`): lenient exports of big bundles can carry
# many, and each is outside text that a terminal would interpret.
MAX_WARNINGS = 100


def job_warnings(entries: list[Any]) -> list[str]:
    """A job's warnings as outputs: each one clean line, the first ``MAX_WARNINGS`` and a count of the rest."""
    shown = [clean(entry.describe()) for entry in entries[:MAX_WARNINGS]]
    if len(entries) > MAX_WARNINGS:
        shown.append(f"... and {len(entries) - MAX_WARNINGS:,} more warnings")
    return shown


def job_outputs(fetched: Any, catalog: list[CatalogEntry], job_arn: str) -> dict[str, Any]:
    """What the export and the release record of a fetched job (never the download URL).

    Args:
        fetched: The boundary's ``FetchedExport``.
        catalog: The template's parameter catalog.
        job_arn: The job's ARN when its description names none.
    """
    description = fetched.description
    created = description.created_time
    return {
        "template_body": fetched.template.body,
        "template_sha256": fetched.sha256,
        "template_size": fetched.template.size,
        "export_job_arn": description.arn or job_arn,
        "created_time": created.astimezone(dt.timezone.utc).isoformat() if created else None,
        "warnings": job_warnings(description.warnings),
        "parameter_catalog": [entry.model_dump(exclude_none=True) for entry in catalog],
        "assets": summarize_resources(fetched.template.document),
    }


def repaired_job(fetched: Any, mode: str, region: Optional[str]) -> tuple[Any, Optional[list[dict[str, Any]]]]:
    """A fetched job with its template as ``templateRepair`` makes it, and the places found.

    The one place the export and the release apply repair (``validation.repaired``): what it
    returns is what the catalog, ``template_sha256``, the pin, the archive and every later stage see.

    Args:
        fetched: The boundary's ``FetchedExport``.
        mode: ``report``, ``repair`` or ``off``.
        region: The region whose resource schemas apply (the source region; else us-east-1's).

    Returns:
        (the job to record, each place found as a dict; None when not looked at).
    """
    from .validation import repaired  # noqa: PLC0415  (cfn-lint is slow to import)

    template, sha256, found = repaired(fetched.template, fetched.sha256, mode, region)
    return replace(fetched, template=template, sha256=sha256), found


def archive_job(inputs: Any, name: str, outputs: dict[str, Any], archived_by: str) -> dict[str, Any]:
    """Archive a fetched (or recorded) job when ``archive_bucket`` is set (once; see aws/archive_writer.py).

    Args:
        inputs: The export's or release's parsed inputs (``archive_*`` and ``source_*``).
        name: The release's name in the archive (``releases/<name>.json``).
        outputs: What the resource recorded (its template and job).
        archived_by: The resource type, recorded in the manifest.

    Returns:
        ``archive_manifest_key``, ``archive_sha256`` and ``archive_manifest_version_id`` (None
        without ``archive_bucket``).
    """
    if not inputs.archive_bucket:
        return {"archive_manifest_key": None, "archive_sha256": None, "archive_manifest_version_id": None}
    from .aws.archive_writer import archive_outputs  # noqa: PLC0415  (boto3 only in the provider process)

    return archive_outputs(
        bucket=inputs.archive_bucket,
        region=inputs.archive_region,
        role_arn=inputs.archive_role_arn,
        external_id=inputs.archive_external_id,
        name=name,
        outputs=outputs,
        source_account_id=inputs.source_account_id,
        source_region=inputs.source_region,
        archived_by=archived_by,
    )

