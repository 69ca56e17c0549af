"""The notebook-style examples (issue 48) run as a user runs them, at a tiny budget (`--epochs 1`)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("script, words", [
    ("table_resample.py", "real + GAN rows: balanced accuracy"),
    ("images_sample.py", "drew (100, 8, 8) uint8 labels [3]"),
    ("signals_sample.py", "resampled (120, 128) float32 per class [60 60]"),
])
def test_an_example_runs(script, words, tmp_path):
    out = subprocess.run([sys.executable, str(ROOT / "examples" / script), "--epochs", "1"], capture_output=True,
                         text=True, cwd=tmp_path, timeout=300)
    assert out.returncode == 0, out.stderr[-2000:]
    assert words in out.stdout, out.stdout
