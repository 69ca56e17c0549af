"""The grid of synthetic samples (images) beside a report; the other figures are figures.py's."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..evaluation.results import Results


def plots(root: Path, results: Results, samples: object | None) -> list[str]:
    """The sample grid (images): synthetic samples, one row per class; the figures are figures.py's."""
    if samples is None:
        return []
    (root / "samples.png").write_bytes(sample_grid_png(samples))
    return ["samples.png"]


def sample_grid_png(data, per_class: int = 10, scale: int = 4) -> bytes:
    """One row per class of its first `per_class` samples, upscaled for viewing."""
    c, h, w = data.shape
    grid = np.ones((c, len(data.classes) * (h + 1), per_class * (w + 1)), np.float32)
    for label in range(len(data.classes)):
        idx = np.flatnonzero(data.y == label)[:per_class]
        for j, i in enumerate(idx):
            grid[:, label * (h + 1):label * (h + 1) + h, j * (w + 1):j * (w + 1) + w] = data.x[i]
    arr = np.rint(grid * 255).astype(np.uint8)
    arr = arr[0] if c == 1 else arr.transpose(1, 2, 0)
    im = Image.fromarray(arr)
    im = im.resize((im.width * scale, im.height * scale), Image.Resampling.NEAREST)
    buf = io.BytesIO()
    im.save(buf, format="PNG")
    return buf.getvalue()
