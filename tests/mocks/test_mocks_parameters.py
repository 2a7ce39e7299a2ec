"""Pulumi mocks: ``cfn_parameters``, computed in the program from the recorded catalog, and how the
stage's values (and their secrecy) reach the engine.

The mock answers an ``AssetBundleExport`` with the outputs the provider would record for a
generated bundle: the real ``build_catalog`` and ``summarize_resources`` run on it.

``set_mocks`` is process-global and test_mocks.py sets its own mocks when imported, so this
module installs its mocks around each of its tests and puts back whatever was installed before.
"""

from __future__ import annotations

import copy
import hashlib
import logging
from typing import Any, Awaitable, Callable, Iterator, Optional

import pulumi
import pytest
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockMonitor
from pulumi.runtime.settings import get_engine, get_monitor, get_organization, get_project, get_stack, is_dry_run

from components.core.bundle import compact_json
from components.core.catalog import build_catalog, summarize_resources
from tools.generator import generate_bundle

ACCOUNT = "111111111111"
RESOURCE_TYPE = "pulumi-python:dynamic/quicksight:AssetBundleExport"
PLAIN_PASSWORD = "plain-Pa55w0rd-visible"
PLAIN_USERNAME = "plain-user-visible"
PROJECT = "quicksight-promotion"


def _without_credential_pair(doc: dict[str, Any]) -> dict[str, Any]:
    """The bundle without its Redshift Username/Password (parameters and the CredentialPair using them)."""
    doc = copy.deepcopy(doc)
    for name in [n for n in doc["Parameters"] if n.endswith(("Username", "Password"))]:
        del doc["Parameters"][name]
    for resource in doc["Resources"].values():
        properties = resource.get("Properties", {})
        if "CredentialPair" in properties.get("Credentials", {}):
            del properties["Credentials"]
    return doc


def _with_prefix_pattern(doc: dict[str, Any]) -> dict[str, Any]:
    doc = copy.deepcopy(doc)
    doc["Parameters"]["ResourceIdPrefixForAllResources"]["AllowedPattern"] = "^[a-z0-9-]*$"
    return doc


DOC = generate_bundle()
TEMPLATES = {
    "release-1": DOC,
    "no-credential-pair": _without_credential_pair(DOC),
    "constrained-prefix": _with_prefix_pattern(_without_credential_pair(DOC)),
}
CATALOGS = {job: build_catalog(doc) for job, doc in TEMPLATES.items()}
CATALOG = CATALOGS["release-1"]
assert not any(e.credential and not e.has_default for e in CATALOGS["no-credential-pair"])


def _asset(prop: str, default: Optional[str] = None) -> str:
    (found,) = {
        e.asset_id
        for e in CATALOG
        if e.kind == "datasource" and e.property == prop and (default is None or e.default == default)
    }
    return str(found)


POSTGRES = _asset("Port", "5432")
REDSHIFT = _asset("Password")


def _name(asset: str, prop: str) -> str:
    (name,) = [e.name for e in CATALOG if e.asset_id == asset and e.property == prop]
    return name


class ParameterMocks(pulumi.runtime.Mocks):
    """Records every resource; answers an AssetBundleExport with the outputs of a generated bundle."""

    def __init__(self) -> None:
        self.resources: list[pulumi.runtime.MockResourceArgs] = []

    def new_resource(self, args: pulumi.runtime.MockResourceArgs) -> tuple[str, dict[str, Any]]:
        self.resources.append(args)
        outputs = dict(args.inputs)
        if args.typ == RESOURCE_TYPE:
            job = args.inputs["export_job_id"]
            doc = TEMPLATES[job]
            body = compact_json(doc)
            outputs.update(
                template_body=body,
                template_sha256=hashlib.sha256(body.encode()).hexdigest(),
                template_size=len(body.encode()),
                export_job_arn=f"arn:aws:quicksight:us-east-1:{ACCOUNT}:asset-bundle-export-job/{job}",
                resource_arns=[],
                created_time="2026-11-01T10:00:00+00:00",
                warnings=[],
                parameter_catalog=[e.model_dump(exclude_none=True) for e in CATALOGS[job]],
                assets=summarize_resources(doc),
            )
        return f"{args.name}-id", outputs

    def call(self, args: pulumi.runtime.MockCallArgs) -> dict[str, Any]:
        return {}


class Recorder(logging.Handler):
    """Keeps what the mock engine was asked to log (pulumi.log.* goes to the engine's logger)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def warnings(self) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == logging.WARNING]


ENGINE_LOG = logging.getLogger("test_mocks_parameters.engine")
ENGINE_LOG.propagate = False
ENGINE_LOG.setLevel(logging.DEBUG)
RECORDER = Recorder()
ENGINE_LOG.addHandler(RECORDER)

mocks = ParameterMocks()


def _install_ours() -> Callable[[], None]:
    """Install this module's mocks; return a function putting back the mocks installed before, if any."""
    monitor, engine = get_monitor(), get_engine()
    before = (get_project(), get_stack(), is_dry_run(), get_organization())
    pulumi.runtime.set_mocks(mocks, project=PROJECT, stack="test", preview=False, logger=ENGINE_LOG)

    def restore() -> None:
        if isinstance(monitor, MockMonitor):
            project, stack, preview, organization = before
            pulumi.runtime.set_mocks(
                monitor.mocks,
                project=project,
                stack=stack,
                preview=preview,
                logger=getattr(engine, "logger", None),
                monitor=monitor,
                organization=organization,
            )

    return restore


# Installed at import, as test_mocks.py does, then handed back to whoever installed mocks first
# (each test below installs them again).
_restore_at_import = _install_ours()

from components.errors import ParameterError  # noqa: E402  (after set_mocks)
from components.provider import AssetBundleExport  # noqa: E402

_restore_at_import()


@pytest.fixture(autouse=True)
def _parameter_mocks() -> Iterator[None]:
    restore = _install_ours()
    RECORDER.records.clear()
    try:
        yield
    finally:
        restore()


def _registered(name: str) -> pulumi.runtime.MockResourceArgs:
    found = [r for r in mocks.resources if r.name == name and r.typ == RESOURCE_TYPE]
    assert found, f"no AssetBundleExport {name!r} was registered"
    return found[-1]


def _export(name: str, job: str = "release-1", **kwargs: Any) -> AssetBundleExport:
    return AssetBundleExport(name, source_account_id=ACCOUNT, export_job_id=job, **kwargs)


def _secret_credentials() -> dict[str, Any]:
    return {"Username": pulumi.Output.secret("quicksight"), "Password": pulumi.Output.secret("Pa55-secret")}


# --- resolution -------------------------------------------------------------------------------------


@pulumi.runtime.test
def test_cfn_parameters_resolve_friendly_values_to_names_with_defaults_and_strings() -> Awaitable[None]:
    values = {
        "ResourceIdPrefixForAllResources": "prod-",
        f"datasource/{POSTGRES}": {"Host": "orders-prod.example.com", "Port": 5432, "Database": "orders"},
        f"datasource/{REDSHIFT}": {"Port": 5440.0, **_secret_credentials()},
        f"datasource/{REDSHIFT}.Database": "finance_prod",
        "dashboard/sales-dashboard": {"Name": "売上 (本番)"},
    }
    bundle = _export("resolved", parameters=values, allow_source_defaults=True)

    async def check() -> None:
        resolved = await bundle.cfn_parameters.future()
        expected = {e.name: e.default for e in CATALOG if e.has_default}
        expected.update(
            {
                "ResourceIdPrefixForAllResources": "prod-",
                _name(POSTGRES, "Host"): "orders-prod.example.com",
                _name(POSTGRES, "Port"): "5432",
                _name(POSTGRES, "Database"): "orders",
                _name(REDSHIFT, "Port"): "5440",
                _name(REDSHIFT, "Database"): "finance_prod",
                _name(REDSHIFT, "Username"): "quicksight",
                _name(REDSHIFT, "Password"): "Pa55-secret",
                _name("sales-dashboard", "Name"): "売上 (本番)",
            }
        )
        assert resolved == expected
        assert set(resolved) == {e.name for e in CATALOG}, "every parameter, defaults included"
        assert all(isinstance(v, str) for v in resolved.values())
        # A source default not overridden is passed explicitly (non-ASCII kept).
        assert resolved[_name("sales-analysis", "Name")] == "Sales analysis"
        assert resolved[_name(_asset("Name", "受注データベース (dev)"), "Name")] == "受注データベース (dev)"

    return check()


# --- secrecy ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "path"),
    [
        ("nested", f"datasource/{REDSHIFT}.Password"),
        ("flat", f"datasource/{REDSHIFT}.Password"),
        ("raw", _name(REDSHIFT, "Password")),
    ],
)
@pulumi.runtime.test
def test_plain_text_credential_is_made_secret_and_warned_about(form: str, path: str) -> Awaitable[None]:
    # Nothing here is secret as given: the credentials alone must make the values secret.
    username = {f"datasource/{REDSHIFT}": {"Username": PLAIN_USERNAME}}
    if form == "nested":
        values = {f"datasource/{REDSHIFT}": {"Username": PLAIN_USERNAME, "Password": PLAIN_PASSWORD}}
    elif form == "flat":
        values = {**username, f"datasource/{REDSHIFT}.Password": PLAIN_PASSWORD}
    else:
        values = {**username, _name(REDSHIFT, "Password"): PLAIN_PASSWORD}
    values["ResourceIdPrefixForAllResources"] = "prod-"
    bundle = _export(f"plain-{form}", parameters=values, allow_source_defaults=True)

    async def check() -> None:
        resolved = await bundle.cfn_parameters.future()
        assert resolved[_name(REDSHIFT, "Password")] == PLAIN_PASSWORD
        assert resolved[_name(REDSHIFT, "Username")] == PLAIN_USERNAME
        assert await bundle.cfn_parameters.is_secret()
        assert await bundle.parameters.is_secret(), "the echoed parameters output must be secret too"

        # The engine received the whole `parameters` input as one secret (the RPC secret sentinel).
        registered = _registered(f"plain-{form}").inputs["parameters"]
        assert rpc.is_rpc_secret(registered), registered
        assert rpc.unwrap_rpc_secret(registered) == values

        # The resource does not warn: the component's judge does (tests/mocks/test_stack_mocks.py).
        assert RECORDER.warnings() == []

    return check()


@pulumi.runtime.test
def test_credentials_given_as_secrets_are_not_warned_about() -> Awaitable[None]:
    values = {f"datasource/{REDSHIFT}": _secret_credentials()}
    bundle = _export("secret-creds", parameters=values, allow_source_defaults=True)

    async def check() -> None:
        assert await bundle.cfn_parameters.is_secret()
        assert rpc.is_rpc_secret(_registered("secret-creds").inputs["parameters"])
        assert RECORDER.warnings() == []

    return check()


@pulumi.runtime.test
def test_without_credentials_or_secret_values_cfn_parameters_is_not_secret() -> Awaitable[None]:
    values = {"ResourceIdPrefixForAllResources": "prod-", f"datasource/{POSTGRES}": {"Port": 6543}}
    given = _export("plain", job="no-credential-pair", parameters=values, allow_source_defaults=True)
    defaults_only = _export("defaults-only", job="no-credential-pair", allow_source_defaults=True)

    async def check() -> None:
        resolved = await given.cfn_parameters.future()
        assert resolved["ResourceIdPrefixForAllResources"] == "prod-"
        assert resolved[_name(POSTGRES, "Port")] == "6543"
        assert not await given.cfn_parameters.is_secret()
        registered = _registered("plain").inputs["parameters"]
        assert not rpc.is_rpc_secret(registered)
        assert registered == {"ResourceIdPrefixForAllResources": "prod-", f"datasource/{POSTGRES}": {"Port": 6543}}

        everything = await defaults_only.cfn_parameters.future()
        assert everything == {e.name: e.default for e in CATALOGS["no-credential-pair"]}
        assert not await defaults_only.cfn_parameters.is_secret()
        assert "parameters" not in _registered("defaults-only").inputs
        assert RECORDER.warnings() == []

    return check()


@pulumi.runtime.test
def test_a_secret_non_credential_value_makes_cfn_parameters_secret() -> Awaitable[None]:
    values = {"ResourceIdPrefixForAllResources": pulumi.Output.secret("prod-")}
    bundle = _export("secret-prefix", job="no-credential-pair", parameters=values, allow_source_defaults=True)

    async def check() -> None:
        resolved = await bundle.cfn_parameters.future()
        assert resolved["ResourceIdPrefixForAllResources"] == "prod-"
        assert await bundle.cfn_parameters.is_secret()
        registered = _registered("secret-prefix").inputs["parameters"]
        assert rpc.is_rpc_secret(registered)
        assert rpc.unwrap_rpc_secret(registered) == {"ResourceIdPrefixForAllResources": "prod-"}
        assert RECORDER.warnings() == [], "only credentials given in plain text are warned about"

    return check()


# --- errors ----------------------------------------------------------------------------------------


def test_unknown_key_makes_cfn_parameters_raise_a_parameter_error_with_a_suggestion() -> None:
    """An exception inside the apply is re-raised by the runtime when the program ends."""
    seen: list[BaseException] = []

    @pulumi.runtime.test
    def program() -> Awaitable[None]:
        values = {
            "IdentityRegoin": "eu-west-1",
            f"datasource/{POSTGRES}": {"Hots": "orders-prod.example.com"},
            f"datasource/{REDSHIFT}": {"Username": "quicksight", "Password": PLAIN_PASSWORD},
        }
        bundle = _export("typo", parameters=values, allow_source_defaults=True)

        async def check() -> None:
            try:
                await bundle.cfn_parameters.future()
            except ParameterError as exc:
                seen.append(exc)
                raise

        return check()

    with pytest.raises(ParameterError) as caught:
        program()

    assert len(seen) == 1 and caught.value is seen[0], "the error is the apply's own ParameterError"
    message = str(caught.value)
    assert message.startswith("2 problems with the stage's CloudFormation parameter values: "), message
    assert "unknown key 'IdentityRegoin': did you mean 'IdentityRegion'?" in message
    assert f"unknown property 'Hots' for datasource/{POSTGRES}: did you mean 'Host'?" in message
    assert caught.value.problems and len(caught.value.problems) == 2
    assert PLAIN_PASSWORD not in message


# --- known defects (see the report) ----------------------------------------------------------------


@pulumi.runtime.test
def test_credential_inside_an_output_mapping_is_made_secret() -> Awaitable[None]:
    values = pulumi.Output.from_input(
        {f"datasource/{REDSHIFT}": {"Username": "quicksight", "Password": PLAIN_PASSWORD}}
    )
    bundle = _export("output-mapping", parameters=values, allow_source_defaults=True)

    async def check() -> None:
        assert (await bundle.cfn_parameters.future())[_name(REDSHIFT, "Password")] == PLAIN_PASSWORD
        assert rpc.is_rpc_secret(_registered("output-mapping").inputs["parameters"])
        assert await bundle.cfn_parameters.is_secret()
        assert RECORDER.warnings() == []  # the component's judge warns, not the resource

    return check()


def test_a_secret_value_never_appears_in_a_parameter_error() -> None:
    @pulumi.runtime.test
    def program() -> pulumi.Output[Any]:
        values = {"ResourceIdPrefixForAllResources": pulumi.Output.secret("PROD_TOP_SECRET_")}
        bundle = _export("secret-bad", job="constrained-prefix", parameters=values, allow_source_defaults=True)
        return bundle.cfn_parameters

    with pytest.raises(ParameterError) as caught:
        program()
    message = str(caught.value)
    assert message.startswith("1 problem "), message
    assert "ResourceIdPrefixForAllResources got " in message and "AllowedPattern" in message
    assert "PROD_TOP_SECRET_" not in message
