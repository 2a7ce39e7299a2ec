"""One name per setting, from Pulumi.yaml down to the provider input (docs/settings.md is the one reference).

This reads the settings reference table (docs/settings.md), ``Pulumi.yaml``, the settings model
(``components/settings.py``), the component's arguments (``QuickSightBundleStackArgs``) and the
signatures of the three resources and their providers' input models, and fails when a name, a
type or a default disagrees anywhere outside the one documented mapping (the release settings).
"""

from __future__ import annotations

import dataclasses
import inspect
import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.deployment import CloudFormationDeployment, CloudFormationDeploymentProvider
from components.fanout import QuickSightBundleStackSetArgs
from components.provider import AssetBundleExport, AssetBundleExportProvider
from components.release import AssetBundleRelease, AssetBundleReleaseProvider
from components.stackset import CloudFormationStackSetDeployment, CloudFormationStackSetProvider
from components.settings import KNOWN_KEYS, NAMESPACE, RENAMED_SETTINGS, ProgramConfig
from components.stack import QuickSightBundleStackArgs
from pulumi_cli import load_project

ROOT = Path(__file__).resolve().parents[2]
REFERENCE = ROOT / "docs" / "settings.md"
RESOURCES = {
    "AssetBundleExport": (AssetBundleExport, AssetBundleExportProvider),
    "AssetBundleRelease": (AssetBundleRelease, AssetBundleReleaseProvider),
    "CloudFormationDeployment": (CloudFormationDeployment, CloudFormationDeploymentProvider),
    "CloudFormationStackSetDeployment": (CloudFormationStackSetDeployment, CloudFormationStackSetProvider),
}
# The one documented mapping (docs/settings.md): the release settings drop their prefix.
RELEASE_MAPPING = {
    "releaseName": "release_name",
    "releaseDashboards": "dashboard_ids",
    "releaseAnalyses": "analysis_ids",
    "releaseIncludePermissions": "include_permissions",
    "releaseIncludeTags": "include_tags",
    "releaseStrictValidation": "strict_validation",
    "releaseIdPrefix": "id_prefix",
}
# Inputs the component derives rather than takes from a setting of the same name (docs/settings.md).
DERIVED_INPUTS = {
    "AssetBundleExport": {"validate_template"},
    "AssetBundleRelease": set(),
    "CloudFormationDeployment": {
        "target_account_id",
        "template_body",
        "parameters",
        "resource_digests",
        "owner",
        "termination_protection",
        "capabilities",
    },
    "CloudFormationStackSetDeployment": {"target_account_id", "template_body", "parameters", "owner", "capabilities"},
}
DERIVED_ARGUMENTS = {"archived", "termination_protection"}
EMPTY = ("", None, {}, [], ())


def snake(setting: str) -> str:
    """``cloudFormationRoleArn`` -> ``cloudformation_role_arn``: CloudFormation is one word."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", setting.replace("loudFormation", "loudformation")).lower()


def cell(text: str) -> list[str]:
    """The backticked names of a table cell (``—`` is none)."""
    return re.findall(r"`([^`]*)`", text)


def reference() -> dict[str, dict[str, Any]]:
    """The settings reference table: setting -> its row."""
    rows: dict[str, dict[str, Any]] = {}
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        if not line.startswith("| `"):
            continue
        setting, type_name, default, argument, inputs, meaning = (c.strip() for c in line.strip("|").split(" | "))
        (name,) = cell(setting)
        assert name not in rows, f"{name} is listed twice"
        rows[name] = {
            "type": type_name,
            "default": default,
            "argument": (cell(argument) or [None])[0],
            "inputs": [tuple(item.split(".")) for item in cell(inputs)],
            "meaning": meaning,
        }
    return rows


ROWS = reference()
PROJECT = load_project(ROOT / "Pulumi.yaml")["config"]
SETTINGS = {row: ROWS[row] for row in ROWS if ":" not in row}
# The StackSet component's arguments are the stack's and the stackSet* settings' (components/fanout.py).
ARGUMENTS = {f.name: f for f in dataclasses.fields(QuickSightBundleStackSetArgs)}
assert set(ARGUMENTS) >= {f.name for f in dataclasses.fields(QuickSightBundleStackArgs)}


def parameters(resource: type) -> dict[str, inspect.Parameter]:
    signature = inspect.signature(resource.__init__)
    return {name: p for name, p in signature.parameters.items() if name not in ("self", "resource_name", "opts")}


def test_the_reference_lists_every_setting_of_pulumi_yaml_and_the_program() -> None:
    assert set(SETTINGS) == set(PROJECT) == set(KNOWN_KEYS)


@pytest.mark.parametrize("setting", sorted(SETTINGS))
def test_a_setting_keeps_its_name_its_type_and_its_default_down_to_the_provider(setting: str) -> None:
    row, declared = SETTINGS[setting], PROJECT[setting]
    name = snake(setting)
    # Pulumi.yaml: the type and the default the reference states.
    assert row["type"] == declared["type"], setting
    if row["default"] == "(required)":
        assert "default" not in declared, setting
    else:
        assert yaml.safe_load(cell(row["default"])[0]) == declared["default"], setting
    # The settings model: the setting's alias, the snake_case name.
    if setting != "parameters":  # read on its own, as a secret when any value is
        field = ProgramConfig.model_fields[name]
        assert (field.alias or name) == setting, setting
    # The component argument: the same name, the same default (None: the provider's own).
    argument = row["argument"]
    if argument is not None:
        assert argument == name and argument in ARGUMENTS, f"{setting} -> {argument}"
    # The provider inputs: the same name (or the documented release mapping), in the resource's
    # signature and its provider's model.
    for resource_name, input_name in row["inputs"]:
        resource, provider = RESOURCES[resource_name]
        assert input_name == RELEASE_MAPPING.get(setting, name), f"{setting} -> {resource_name}.{input_name}"
        assert input_name in parameters(resource) and input_name in provider.INPUTS.model_fields, input_name
    below, above = _default_of(setting), declared.get("default")
    assert below == above or (below in EMPTY and above in EMPTY), f"{setting}: {above!r} in Pulumi.yaml, {below!r} below"


def _default_of(setting: str) -> Any:
    """The default below the settings: the component argument's, else (None there) the provider model's."""
    row = SETTINGS[setting]
    if row["argument"] is not None:
        field = ARGUMENTS[row["argument"]]
        if field.default is not dataclasses.MISSING and field.default is not None:
            return field.default
        if field.default_factory is not dataclasses.MISSING:
            return field.default_factory()
    for resource_name, input_name in row["inputs"]:
        model_field = RESOURCES[resource_name][1].INPUTS.model_fields[input_name]
        if not model_field.is_required():
            return model_field.get_default(call_default_factory=True)
    return PROJECT[setting].get("default")


def test_only_the_release_settings_change_name_on_the_way_down() -> None:
    renamed = {
        setting
        for setting, row in SETTINGS.items()
        for _, input_name in row["inputs"]
        if input_name != snake(setting)
    }
    assert renamed == set(RELEASE_MAPPING) - {"releaseName"}
    assert all(setting.startswith("release") for setting in RELEASE_MAPPING)


@pytest.mark.parametrize("resource_name", sorted(RESOURCES))
def test_every_resource_input_is_a_setting_or_derived_and_the_signature_is_the_model(resource_name: str) -> None:
    resource, provider = RESOURCES[resource_name]
    signature = set(parameters(resource))
    # The resource's keyword arguments are its provider's inputs (parameters_secret is the
    # resource's own record of whether `parameters` was a secret).
    assert signature == set(provider.INPUTS.model_fields) - {"parameters_secret"}
    named = {i for row in ROWS.values() for r, i in row["inputs"] if r == resource_name}
    assert signature - named == DERIVED_INPUTS[resource_name]


def test_every_component_argument_is_a_setting_or_derived() -> None:
    named = {row["argument"] for row in SETTINGS.values() if row["argument"]}
    assert set(ARGUMENTS) - named == DERIVED_ARGUMENTS


@pytest.mark.parametrize("resource_name", sorted(RESOURCES))
def test_inputs_say_whose_region_role_or_account_they_are(resource_name: str) -> None:
    for name in parameters(RESOURCES[resource_name][0]):
        if re.search(r"(^|_)(region|role_arn|account_id)$", name):
            # administration_: the StackSet administration role, in the administrator (target) account.
            assert name.startswith(("source_", "target_", "archive_", "cloudformation_", "administration_")), f"{resource_name}.{name}"


def test_renamed_settings_are_gone_and_named_by_their_new_names() -> None:
    for old, (new, _) in RENAMED_SETTINGS.items():
        assert old not in PROJECT and old not in ProgramConfig.model_fields
        assert new in PROJECT and new in SETTINGS


def test_the_reference_table_is_where_the_readme_points() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert "docs/settings.md" in readme
    assert f"`{NAMESPACE}:<setting>`" in REFERENCE.read_text(encoding="utf-8")
