"""Tooling beside the product: sample bundle generation (not installed with the library)."""
