"""A dynamic provider whose every create fails with a long message: the harness's metadata limit test.

Tooling only (imported by the provider process through PYTHONPATH=tests/).
"""

from __future__ import annotations

from typing import Any

from pulumi.dynamic import CreateResult, ResourceProvider

# Longer than grpcio's default metadata limits (8 KiB soft, 16 KiB hard), far below the engine's 16 MiB.
LOUD_CHARS = 200_000


class LoudProvider(ResourceProvider):
    """Fails every create with ``LOUD_CHARS`` characters of message, ending in a marker."""

    serialize_as_secret_always = False

    def create(self, props: dict[str, Any]) -> CreateResult:
        raise RuntimeError("x" * LOUD_CHARS + " END-OF-MESSAGE")
