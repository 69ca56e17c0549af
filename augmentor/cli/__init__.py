"""The `augmentor` command line: parse, call the Python API, print. Nothing else.

This package is above the registry (registry.py): a command starts from files, and the registry's
entry points find each file's modality.
"""

from __future__ import annotations

from . import data, model, runs  # noqa: F401  (registers the commands on the group)
from .group import cli

__all__ = ["cli", "main"]


def main() -> None:
    cli(prog_name="augmentor")
