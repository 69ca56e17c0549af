"""Is the narrower default generator (64/32) as good as the old one (128/64)? A check on digits.

Trains the GAN of recipes/digits.toml (same data split, epochs and seed) at both widths, then
measures on the *validation* split: Classification Accuracy Score (a SmallCNN trained only on
class-balanced synthetic samples, balanced accuracy on real validation images; 3 classifier seeds)
and the wall time of training. Digits (8x8) rather than MNIST-LT: training the 128/64 model to the
MNIST recipe's step count takes about an hour on 2 cores. Writes reports/width-quality.json and .md.

    python benchmarks/width_quality.py
"""

from __future__ import annotations

import dataclasses
import json
import time
from pathlib import Path

import numpy as np
import torch

from augmentor.config.recipe import load_recipe
from augmentor.evaluation.classifiers import predict_proba
from augmentor.evaluation.engine import score
from augmentor.gan.train import train
from augmentor.image.learners import fit_cnn
from augmentor.pipeline import prepare_splits

ROOT = Path(__file__).resolve().parent.parent


@torch.no_grad()
def balanced_samples(g, n_classes: int, per_class: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(n_classes).repeat_interleave(per_class)
    z = torch.randn(len(y), g.z_dim, generator=gen)
    x = ((g(z, y) + 1) / 2).clamp(0, 1)
    return (torch.round(x * 255) / 255).numpy().astype(np.float32), y.numpy()


def main() -> None:
    recipe = load_recipe(ROOT / "recipes" / "digits.toml")
    train_data, validation, _ = prepare_splits(recipe)  # the test split is not touched
    k = len(train_data.classes)
    per_class = max(train_data.counts().values())
    rows = []
    for g_ch, d_ch in ((128, 64), (64, 32)):
        r = dataclasses.replace(recipe, model=dataclasses.replace(recipe.model, g_channels=g_ch, d_channels=d_ch))
        t0 = time.perf_counter()
        res = train(train_data, None, r, progress=False)
        seconds = time.perf_counter() - t0
        x, y = balanced_samples(res.generator, k, per_class, seed=1)
        cas = []
        for seed in range(3):
            model = fit_cnn(x, y, k, steps=12 * -(-len(y) // 64), seed=seed)
            cas.append(score(validation.y, predict_proba(model, validation.x).argmax(1), k)["balanced_accuracy"])
        rows.append({"g_channels": g_ch, "d_channels": d_ch, "train_seconds": seconds, "steps": res.state["step"],
                     "cas_validation": cas, "cas_mean": float(np.mean(cas)), "cas_sd": float(np.std(cas, ddof=1))})
        print(rows[-1])
    (ROOT / "reports" / "width-quality.json").write_text(json.dumps({"recipe": "recipes/digits.toml", "rows": rows},
                                                                   indent=2) + "\n")
    md = ["# Generator width: 128/64 (old default) against 64/32 (new default) on digits", "",
          "Made by `python benchmarks/width_quality.py`: the GAN of recipes/digits.toml trained at each width "
          f"({rows[0]['steps']} steps, same seed and split), then Classification Accuracy Score on the **validation** "
          f"split: a SmallCNN trained only on {per_class} synthetic samples per class, balanced accuracy on real "
          "validation images, 3 classifier seeds (one GAN per width: GAN-training variance is not covered).", "",
          "| G / D width | training time | CAS on validation (mean ± sd) |", "|---|---:|---:|"]
    md += [f"| {r['g_channels']} / {r['d_channels']} | {r['train_seconds']:.0f} s | "
           f"{r['cas_mean'] * 100:.1f} ± {r['cas_sd'] * 100:.1f} |" for r in rows]
    (ROOT / "reports" / "width-quality.md").write_text("\n".join(md) + "\n")
    print("\n".join(md))


if __name__ == "__main__":
    main()
