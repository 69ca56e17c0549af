"""The `augmentor` command group (its commands live in data.py and model.py)."""

from __future__ import annotations

import click

from .options import AugmentorGroup


@click.group(cls=AugmentorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="augmentor")
def cli() -> None:
    """augmentor: fill the class gaps of a labelled dataset with a class-conditional GAN,
    and report whether a classifier got better.

    \b
    Quick start (runs on scikit-learn's digits, nothing to download):
      augmentor run recipes/digits.toml
    """
