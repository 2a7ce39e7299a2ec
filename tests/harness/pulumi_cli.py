"""The Pulumi CLI's reading of project and stack files (product code: components/stage_file.py), for tests."""

from pathlib import Path

from components.stage_file import StageFileError, Secure, load_project, load_stack_config, merge_config, program_config, strict_yaml

# Pulumi's project schema, shipped beside the project (absent on machines without ../shared).
SCHEMA = Path(__file__).resolve().parents[2].parent / "shared" / "pulumi" / "project.schema.json"

__all__ = ["SCHEMA", "StageFileError", "Secure", "load_project", "load_stack_config", "merge_config", "program_config", "strict_yaml"]
