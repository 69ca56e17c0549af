"""Pilot: mixup on top of deferred re-weighting (DRW), read on validation only (`make data` first).

recipes/mnist-longtail.toml declares `evaluate.mixup_losses = ["logit-adjust", "drw"]` from this
pilot: the image learner (SmallCNN, 780 Adam steps, lr 0.003, batch 64) fitted with DRW and
mixup at both declared alphas, seeds 0..2, on long-tailed MNIST; validation balanced accuracy is
printed and written to reports/mixup-drw-pilot.json. The test split is not read.

    python benchmarks/pilot_mixup_drw.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

import augmentor.image.learners as C
from augmentor.modalities import load_dataset

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "mnist-longtail"


def main() -> None:
    torch.set_num_threads(2)
    train, val = load_dataset(str(DATA / "train.npz")), load_dataset(str(DATA / "validation.npz"))

    def balanced_accuracy(model) -> float:
        pred = C.predict_proba(model, val.x).argmax(1)
        return float(np.mean([(pred[val.y == c] == c).mean() for c in np.unique(val.y)]))

    rows = []
    for alpha in (0.4, 0.2):
        scores = [balanced_accuracy(C.fit_cnn(train.x, train.y, len(train.classes), steps=780, lr=3e-3, seed=seed,
                                              loss="drw", mixup=alpha)) for seed in range(3)]
        rows.append({"arm": f"real+DRW+mixup {alpha:g}", "seeds": [0, 1, 2], "validation_balanced_accuracy": scores,
                     "mean": float(np.mean(scores))})
        print(rows[-1], flush=True)
    (ROOT / "reports" / "mixup-drw-pilot.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
