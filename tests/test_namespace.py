"""The public namespace keeps its word (issue 48): every name in `augmentor.__all__` is the documented object,
whatever was imported before it. A submodule import sets an attribute on its package, so a module named like a
public function would shadow it; the worst case is every submodule imported first."""

from __future__ import annotations

import subprocess
import sys

CHECK = r"""
import importlib, pkgutil, sys, types
import augmentor
order = sys.argv[1]
names = sorted(augmentor.__all__)
if order == "reverse":
    names = names[::-1]
if order == "modules-first":  # every submodule imported before any public name
    for m in pkgutil.walk_packages(augmentor.__path__, "augmentor."):
        if not m.name.endswith("__main__"):
            importlib.import_module(m.name)
bad = []
for name in names:
    space = {}
    exec(f"from augmentor import {name} as obj", space)
    want = getattr(importlib.import_module("augmentor." + augmentor._WHERE[name]), name)
    if isinstance(space["obj"], types.ModuleType) or space["obj"] is not want:
        bad.append(name)
    if not (getattr(want, "__doc__", None) or "").strip():
        bad.append(name + " (no docstring)")
print("BAD", bad)
"""


def _run(order: str) -> str:
    out = subprocess.run([sys.executable, "-c", CHECK, order], capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    return out.stdout.strip().splitlines()[-1]


def test_every_public_name_is_the_documented_object_in_any_import_order():
    """Sorted order imports `train` right after `run_recipe`, reverse order `evaluate` after it: the pairs whose
    module names once shadowed the functions."""
    for order in ("sorted", "reverse", "modules-first"):
        assert _run(order) == "BAD []", order
