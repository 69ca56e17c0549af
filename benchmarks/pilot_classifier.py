"""Pilot for the image learner's declared settings, read on validation only (`make data` first).

The SmallCNN's learning rate and the share of steps under deferred re-weighting (DRW) are
declared in the recipe, not searched per report; this pilot is how they were declared. It
fits seed 0 of three arms of long-tailed MNIST at the recipe's budget (780 Adam steps, batch
64, affine classic augmentation) for each setting and writes validation balanced accuracy to
reports/classifier-pilot.{json,md}. The test split is not read.

    python benchmarks/pilot_classifier.py
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np

import augmentor.image.learners as C
from augmentor.arms import oversample
from augmentor.modalities import load_dataset

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "mnist-longtail"
STEPS = 780


def balanced_accuracy(model, data) -> float:
    pred = C.predict_proba(model, data.x).argmax(1)
    return float(np.mean([(pred[data.y == c] == c).mean() for c in np.unique(data.y)]))


def main() -> None:
    train, validation = load_dataset(str(DATA / "train.npz")), load_dataset(str(DATA / "validation.npz"))
    xo, yo = oversample(train, np.full(len(train.classes), np.bincount(train.y).max()), 0)
    settings = [(lr, arm, share) for lr in (1e-3, 3e-3) for arm, share in
                (("oversampled", None), ("logit-adjust", None), ("drw", 0.25), ("drw", 0.5))]
    rows = []
    for lr, arm, share in settings:
        if share is not None:
            C.DRW_SHARE = share
        x, y, loss = (xo, yo, "ce") if arm == "oversampled" else (train.x, train.y, arm)
        t = time.perf_counter()
        model = C.fit_cnn(x, y, len(train.classes), steps=STEPS, lr=lr, seed=0,
                          augment=C.classic_augmentation("affine"), loss=loss)
        rows.append({"lr": lr, "arm": arm, "drw_share": share, "validation_balanced_accuracy":
                     balanced_accuracy(model, validation), "fit_s": time.perf_counter() - t})
        print(rows[-1], flush=True)
    (ROOT / "reports" / "classifier-pilot.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# Classifier pilot: declared learning rate and DRW share (validation only)", "",
             f"Long-tailed MNIST, SmallCNN, {STEPS} Adam steps (OneCycle), batch 64, affine augmentation, seed 0. "
             "Script: `benchmarks/pilot_classifier.py`. The test split is not read.", "",
             "| lr | arm | DRW share | validation balanced accuracy | fit (s) |", "|---:|---|---:|---:|---:|"]
    lines += [f"| {r['lr']:g} | {r['arm']} | {r['drw_share'] if r['drw_share'] is not None else '—'} | "
              f"{r['validation_balanced_accuracy'] * 100:.1f} | {r['fit_s']:.0f} |" for r in rows]
    (ROOT / "reports" / "classifier-pilot.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
