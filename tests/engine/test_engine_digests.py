"""The deployment's ``resource_digests`` input, driven through the engine harness: a diff without AWS.

The program derives one digest per QuickSight resource from the template it deploys
(``core.manifest.resource_digests``); the engine shows a change of that map in ``pulumi preview
--diff``. Diff must decide on it as it does on the template's sha256: a changed digest is an
update, an unchanged one is nothing, a state recorded before the input existed is no change by
itself, and none of it costs an AWS call (the offline harness reaches no endpoint).
"""

from __future__ import annotations

import json

from components.core.manifest import resource_digests
from engine import UNKNOWN, EngineHarness, ResourceState
from moto_server import MotoServer, moto, moto_server  # noqa: F401  (fixtures)
from test_engine_deployment import NOWHERE, engine, harness, inputs, template  # noqa: F401  (fixture)


def test_resource_digests_are_recorded_and_diffed_without_aws(moto: MotoServer, engine: EngineHarness) -> None:
    digests = resource_digests(json.loads(template()))
    assert digests == {"dashboard/sales": digests["dashboard/sales"]}
    first = engine.up(inputs(resource_digests=digests))
    assert first.action == "create"
    assert first.outputs["resource_digests"] == digests

    with harness(NOWHERE) as offline:
        # Unchanged: nothing to do.
        assert offline.preview(inputs(resource_digests=digests), first.state).action == "same"
        # One asset's digest changed: an update in place (what `pulumi preview --diff` lists).
        changed = offline.preview(inputs(resource_digests={"dashboard/sales": "cd" * 32}), first.state)
        assert changed.action == "update" and not changed.diff.replace
        # An asset added or removed is a change of the map too.
        added = offline.preview(inputs(resource_digests={**digests, "analysis/new": "ef" * 32}), first.state)
        assert added.action == "update"
        assert offline.preview(inputs(resource_digests={}), first.state).action == "update"
        # Not known yet (the template comes from an export job not read yet): a change.
        assert offline.preview(inputs(resource_digests=UNKNOWN), first.state).action == "update"
        # A state recorded before the input existed: only the template decides (no update on upgrade).
        older = ResourceState(
            first.state.id,
            {k: v for k, v in first.state.inputs.items() if k != "resource_digests"},
            {k: v for k, v in first.state.outputs.items() if k != "resource_digests"},
        )
        assert offline.preview(inputs(resource_digests=digests), older).action == "same"
        assert offline.preview(inputs(resource_digests=digests, template_body=template(True)), older).action == "update"

    # The real update records the new digests.
    grown = template(extra_output=True)
    updated = engine.up(inputs(template_body=grown, resource_digests=resource_digests(json.loads(grown))), first.state)
    assert updated.action == "update" and updated.outputs["resource_digests"] == digests
