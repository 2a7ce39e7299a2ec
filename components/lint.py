"""``TemplateLint``: cfn-lint's findings of one template, computed once per sha256 and kept in state.

A stage that deploys an archived release does not take the findings the archive recorded (whoever
can write the archive could write "no findings"); neither does it run cfn-lint in every preview
(seconds per template). This resource lints in the provider's **Check**, which is what makes its
findings known at preview as well as in up: the engine hands a provider's checked inputs back as
a resource's outputs during a preview when the provider does not implement previews itself (the
Python dynamic provider does not), and records them as the resource's inputs in up.

Check receives the inputs recorded last time (``olds``): when they hold findings of the same
template sha256, region and cfn-lint version, it keeps them and runs nothing. So cfn-lint runs
when a stage first meets a template (once in its preview, once in its up) and never again until
the template, the region or cfn-lint changes. The template itself is read by Check and not kept:
the state holds its sha256 and the findings, never a second copy of up to 1 MB.

The resource makes no AWS call: create, update, read and delete keep or drop the recorded findings.
"""

from __future__ import annotations

from importlib import metadata
from typing import Any, Mapping, Optional

import pulumi
from pulumi.dynamic import CheckFailure, CheckResult

from .core.manifest import sha256_text
from .core.models import LintInputs, LintOutputs
from .dynamic import DynamicProvider, has_unknown
from .errors import InputError, QuickSightPromotionError

__all__ = ["TemplateLint", "TemplateLintProvider", "cfn_lint_version"]


def cfn_lint_version() -> str:
    """The installed cfn-lint's version (its rules and schemas decide the findings); ``none`` without it."""
    try:
        return metadata.version("cfn-lint")
    except metadata.PackageNotFoundError:
        return "none"


class TemplateLintProvider(DynamicProvider):
    """The dynamic provider of ``TemplateLint`` (module path written into state: public API)."""

    LABEL = "TemplateLint"
    INPUTS = LintInputs
    OUTPUTS = LintOutputs
    ID_OUTPUT = "template_sha256"
    QUOTABLE = frozenset({"template_sha256", "source_region"})
    UPDATE_ON = ("template_sha256", "source_region", "cfn_lint_version")
    EVIDENCE = {"parameter": "template_sha256"}

    def check(self, olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        """Validate, then lint the template unless the recorded inputs hold its findings already."""
        result = super().check(olds, news)
        inputs = {k: v for k, v in dict(result.inputs).items() if k != "template_body"}
        body = news.get("template_body")
        waiting = any(has_unknown(news.get(k)) for k in ("template_body", "template_sha256", "source_region"))
        if result.failures or body is None or waiting:
            # Not known yet (preview of a template still to come): linted in the up's Check.
            return CheckResult(inputs, result.failures)
        try:
            computed = self._findings(self.current(olds or {}), inputs, str(body))
        except QuickSightPromotionError as exc:
            return CheckResult(inputs, [CheckFailure("template_body", str(exc))])
        return CheckResult({**inputs, **computed}, [])

    @staticmethod
    def _findings(olds: Mapping[str, Any], news: Mapping[str, Any], body: str) -> dict[str, Any]:
        """``findings`` and ``cfn_lint_version``: the recorded ones when nothing they depend on changed.

        Raises:
            InputError: the body is not the template ``template_sha256`` names.
        """
        sha256 = str(news.get("template_sha256") or "").lower()
        if sha256_text(body) != sha256:
            raise InputError(
                f"template_body is not the template of template_sha256 {sha256}: hand TemplateLint the bytes the "
                "stage deploys and their sha256"
            )
        version = cfn_lint_version()
        kept = olds.get("findings")
        same = (
            str(olds.get("template_sha256") or "").lower() == sha256
            and (olds.get("source_region") or None) == (news.get("source_region") or None)
            and olds.get("cfn_lint_version") == version
        )
        if same and isinstance(kept, list):
            return {"findings": kept, "cfn_lint_version": version}
        from .validation import lint_template  # noqa: PLC0415  (cfn-lint is slow to import)

        found = lint_template(body, news.get("source_region"))
        return {"findings": [finding.model_dump() for finding in found], "cfn_lint_version": version}

    def _outputs(self, inputs: LintInputs) -> dict[str, Any]:
        if inputs.findings is None or not inputs.cfn_lint_version:
            raise InputError(
                f"TemplateLint of template sha256 {inputs.template_sha256} has no findings: its Check did not see "
                "template_body; hand it the template's bytes",
                parameter=inputs.template_sha256,
            )
        return LintOutputs(
            template_sha256=inputs.template_sha256,
            source_region=inputs.source_region,
            findings=inputs.findings,
            cfn_lint_version=inputs.cfn_lint_version,
        ).model_dump()

    def _create(self, inputs: LintInputs) -> dict[str, Any]:
        return self._outputs(inputs)

    def _update(self, _olds: Mapping[str, Any], _news: Mapping[str, Any], inputs: LintInputs) -> dict[str, Any]:
        return self._outputs(inputs)


class TemplateLint(pulumi.dynamic.Resource, module="quicksight", name="TemplateLint"):
    """cfn-lint's findings of a template, known at preview and kept in state (see the module docstring).

    Args:
        resource_name: The Pulumi resource name.
        template_body: The template (read by Check, not kept in state).
        template_sha256: Its sha256 (what the findings are kept by).
        source_region: The region whose resource schemas apply (default us-east-1).
        opts: Resource options.

    Outputs: ``findings`` (dicts with ``resource``, ``path``, ``rule``, ``level``, ``message``),
    ``template_sha256``, ``source_region``, ``cfn_lint_version``.
    """

    template_sha256: pulumi.Output[str]
    source_region: pulumi.Output[Optional[str]]
    findings: pulumi.Output[list[dict[str, Any]]]
    cfn_lint_version: pulumi.Output[str]

    def __init__(
        self,
        resource_name: str,
        *,
        template_body: pulumi.Input[str],
        template_sha256: pulumi.Input[str],
        source_region: Optional[pulumi.Input[str]] = None,
        opts: Optional[pulumi.ResourceOptions] = None,
    ) -> None:
        props: dict[str, Any] = {
            "template_body": template_body,
            "template_sha256": template_sha256,
            "source_region": source_region,
            # Computed by Check (declared so that they are the resource's attributes).
            "findings": None,
            "cfn_lint_version": None,
        }
        super().__init__(TemplateLintProvider(), resource_name, TemplateLintProvider.resource_props(props), opts)
