"""The report's PNG plots: balanced accuracy per arm, and a grid of synthetic samples (images)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
from PIL import Image

from ..evaluation.results import ArmResult, Results


def plots(root: Path, results: Results, samples: object | None) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    learners = results.learners
    names = list(next(iter(learners.values())).arms)
    fig, ax = plt.subplots(figsize=(max(7, 0.55 * len(names)), 4))
    width = 0.8 / len(learners)
    xs = np.arange(len(names))
    lows = []
    for i, (clf, r) in enumerate(learners.items()):
        arms: dict[str, ArmResult] = r.arms
        means = [arms[n].summary.balanced_accuracy.mean if n in arms else 0 for n in names]
        stds = [arms[n].summary.balanced_accuracy.std if n in arms else 0 for n in names]
        lows.append(min(m for m in means if m) if any(means) else 0)
        ax.bar(xs + i * width - 0.4 + width / 2, means, width, yerr=stds, capsize=3, label=clf)
    ax.set_xticks(xs, names)
    ax.set_ylabel("balanced accuracy (test)")
    ax.set_ylim(max(0.0, min(lows) - 0.1), 1.0)
    ax.set_title("Balanced accuracy per arm (mean ± std over seeds)")
    ax.legend(fontsize=8)
    fig.autofmt_xdate(rotation=30)
    fig.tight_layout()
    fig.savefig(root / "balanced_accuracy.png", dpi=110, metadata={"Software": None})
    plt.close(fig)
    plots = ["balanced_accuracy.png"]
    if samples is not None:
        (root / "samples.png").write_bytes(sample_grid_png(samples))
        plots.append("samples.png")
    return plots


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
