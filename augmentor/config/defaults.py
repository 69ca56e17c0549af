"""From a data set to a recipe: `augmentor run DATA` and `augmentor init DATA` without a recipe file.

The defaults suit the data's modality and size: each modality's evaluation gives its settings for a
data set (`recipe_defaults(train)`: the GAN's width and step budget, the non-GAN grid); the held-out
test split is a stratified 30 % of the data, the validation split 20 % of the rest; three GANs are trained
(`evaluate.gan_seeds`), so a GAN arm's verdict covers GAN training (stats.verdict: fewer give none). The
recipe is written as TOML (`recipe_toml`) so the user can read it, edit it and run it again with the same
results.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from .recipe import Recipe, recipe_to_dict, with_overrides


def recipe_name(spec: str) -> str:
    """A safe run name from a data spec (a name, never a path): its stem, word characters only."""
    stem = Path(spec.rstrip("/")).name.split(":")[-1]
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return re.sub(r"[^A-Za-z0-9_-]+", "-", stem).strip("-")[:60] or "data"


def default_recipe(spec: str, train, *, label: str = "label") -> Recipe:
    """The recipe `augmentor run DATA` uses for `spec` (loaded as `train`)."""
    name = recipe_name(spec)
    base = with_overrides(Recipe(), {"name": name, "data.train": spec, "data.label": label,
                                     "data.test_fraction": 0.3, "data.validation_fraction": 0.2,
                                     "evaluate.gan_seeds": 3})
    return with_overrides(base, train.MODALITY.evaluation.recipe_defaults(train))


def recipe_toml(recipe: Recipe, comment: str = "") -> str:
    """The recipe as a TOML file `load_recipe` reads back to the same Recipe."""
    d = recipe_to_dict(recipe)
    lines = [f"# {line}" for line in comment.splitlines()] + ([""] if comment else [])
    lines += [f"{k} = {_value(v)}" for k, v in d.items() if not isinstance(v, dict)]
    for section, table in d.items():
        if isinstance(table, dict):
            lines += ["", f"[{section}]"] + [f"{k} = {_value(v)}" for k, v in table.items() if not isinstance(v, dict)]
            for sub, inner in table.items():
                if isinstance(inner, dict):
                    lines += ["", f"[{section}.{sub}]"] + [f"{k} = {_value(v)}" for k, v in inner.items()]
    return "\n".join(lines) + "\n"


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, (int, float)):
        return repr(v)
    if isinstance(v, str):
        return '"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"'
    if isinstance(v, list):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    raise TypeError(f"cannot write {type(v).__name__} to TOML")
