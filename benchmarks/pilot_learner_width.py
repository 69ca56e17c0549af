"""Pilot for the image learner's cost on 28x28 images, read on validation only (`make data` first).

The evaluation of `recipes/mnist-longtail.toml` fits about 35 SmallCNNs; at widths (32, 64, 128)
and 780 steps each costs about 45 s on 2 CPU cores, which alone spends the recipe's 30-minute
end-to-end budget. This pilot fits four arms of long-tailed MNIST (batch 64, lr 0.003) at three
seeds for each declared configuration — widths, whether the first block pools before its batch
norm and ReLU, steps — and writes validation balanced accuracy (mean, sd over seeds) and the fit
time to reports/learner-width-pilot.{json,md}. Configurations already in the JSON are not refitted.
The test split is not read. Fit times are wall-clock on a shared 2-core machine: compare them
only within a run with nothing else going on.

    python benchmarks/pilot_learner_width.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import torch

import augmentor.image.learners as C
from augmentor.arms import oversample
from augmentor.modalities import load_dataset

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "mnist-longtail"
LR, SEEDS = 3e-3, (0, 1, 2)
# (widths, pool first, steps); the first is the learner as it was
CONFIGS = (((32, 64, 128), False, 780), ((16, 32, 64), False, 780), ((24, 48, 96), True, 780),
           ((32, 64, 128), True, 390))


def balanced_accuracy(model, data) -> float:
    pred = C.predict_proba(model, data.x).argmax(1)
    return float(np.mean([(pred[data.y == c] == c).mean() for c in np.unique(data.y)]))


def main() -> None:
    torch.set_num_threads(2)
    train, validation = load_dataset(str(DATA / "train.npz")), load_dataset(str(DATA / "validation.npz"))
    xo, yo = oversample(train, np.full(len(train.classes), np.bincount(train.y).max()), 0)
    arms = {"real": dict(x=train.x, y=train.y),
            "real+logit-adjusted+mixup 0.2": dict(x=train.x, y=train.y, loss="logit-adjust", mixup=0.2),
            "real+DRW": dict(x=train.x, y=train.y, loss="drw"),
            "real+classic+oversampled (affine)": dict(x=xo, y=yo, augment=C.classic_augmentation("affine"))}
    out = ROOT / "reports" / "learner-width-pilot.json"
    rows = json.loads(out.read_text()) if out.is_file() else []
    for row in rows:
        row.setdefault("pool_first", False)
        row.setdefault("steps", 780)
    for widths, pool_first, steps in CONFIGS:
        def network(shape, n_classes, widths=widths, pool_first=pool_first):
            return C.SmallCNN(shape[0], n_classes, min(shape[1:]), widths=widths, pool_first=pool_first)
        for arm, kw in arms.items():
            if any(r["widths"] == list(widths) and r["pool_first"] == pool_first and r["steps"] == steps
                   and r["arm"] == arm for r in rows):
                continue
            scores, seconds = [], []
            for seed in SEEDS:
                t = time.perf_counter()
                model = C.fit_cnn(kw["x"], kw["y"], len(train.classes), steps=steps, lr=LR, seed=seed,
                                  augment=kw.get("augment"), loss=kw.get("loss", "ce"), mixup=kw.get("mixup", 0.0),
                                  network=network)
                seconds.append(time.perf_counter() - t)
                scores.append(balanced_accuracy(model, validation))
            rows.append({"widths": list(widths), "pool_first": pool_first, "steps": steps, "arm": arm,
                         "seeds": list(SEEDS), "validation_balanced_accuracy": scores, "mean": float(np.mean(scores)),
                         "sd": float(np.std(scores, ddof=1)), "fit_s": float(np.mean(seconds))})
            print(rows[-1], flush=True)
            out.write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Learner cost pilot: SmallCNN configurations on 28x28 images (validation only)", "",
             f"Long-tailed MNIST, Adam (OneCycle, lr {LR:g}), batch 64, seeds {SEEDS[0]}..{SEEDS[-1]}, "
             "2 torch threads. "
             "Script: `benchmarks/pilot_learner_width.py`. The test split is not read. Fit times are wall-clock on a "
             "2-core machine that other jobs shared at times (the first row's 102 s ran beside a test suite).", "",
             "| widths | first block | steps | arm | validation balanced accuracy (mean ± sd) | fit (s) |",
             "|---|---|---:|---|---:|---:|"]
    lines += [f"| {tuple(r['widths'])} | {'pool, BN, ReLU' if r['pool_first'] else 'BN, ReLU, pool'} | {r['steps']} | "
              f"{r['arm']} | {r['mean'] * 100:.1f} ± {r['sd'] * 100:.1f} | {r['fit_s']:.0f} |" for r in rows]
    (ROOT / "reports" / "learner-width-pilot.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
