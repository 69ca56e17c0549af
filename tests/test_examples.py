"""The notebook-style examples (issue 48) run as a user runs them, at a tiny budget (`--epochs 1`): each script is
executed as `__main__` with its command line (in this worker, so torch is imported and the exporter warmed once for
all three, not once a script)."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, words", [
    ("table_resample.py", "real + GAN rows: balanced accuracy"),
    ("images_sample.py", "drew (100, 8, 8) uint8 labels [3]"),
    ("signals_sample.py", "resampled (120, 128) float32 per class [60 60]"),
])
def test_an_example_runs(script, words, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "argv", [str(ROOT / "examples" / script), "--epochs", "1"])
    runpy.run_path(str(ROOT / "examples" / script), run_name="__main__")
    assert words in capsys.readouterr().out
