"""Pilot for the GAN issue: gate the teacher arm's classes by the teacher's agreement, on validation only.

After `augmentor run recipes/mnist-longtail.toml` (its generator in runs/mnist-longtail). The product's
teacher arm on MNIST-LT (reports/mnist-longtail): per class keep as many GAN samples as real ones (at most
the gap), the top-k of a draw of 2x the gap by the teacher's probability, soft targets at temperature 2,
weight 0.5, joining after 75 % of the steps, on DRW + mixup 0.4, whose own model is the teacher. Its
thinnest class is where it loses: the teacher agrees with the GAN's label on about 31 % of class 9's draw.

Variant: a class whose draw the teacher agrees with on less than GATE of the samples gets no GAN samples
(the rest as above). Both arms and the reference (DRW + mixup 0.4) for seeds 0..2, 780 Adam steps, two torch
threads; validation balanced accuracy to reports/teacher-gate-pilot.json. The test split is not read.

    python benchmarks/pilot_teacher_gate.py
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

import augmentor.image.learners as C
from augmentor.modalities import load_dataset, open_generator
from augmentor.study import gan_draws

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "data" / "mnist-longtail"
MODEL = ROOT / "runs" / "mnist-longtail" / "generator.onnx"
GATE = 0.5
STEPS, LR, ALPHA = 780, 3e-3, 0.4


def main() -> None:
    torch.set_num_threads(2)
    train, val = load_dataset(str(DATA / "train.npz")), load_dataset(str(DATA / "validation.npz"))
    k = len(train.classes)
    counts = np.bincount(train.y, minlength=k)
    gap = counts.max() - counts
    want = np.minimum(gap, counts)
    gen = open_generator(MODEL, "cpu", spinning=False)
    pool_of = gan_draws([gen], {c: int(2 * g) for c, g in zip(train.classes, gap) if g > 0}, 4, train)

    def balanced_accuracy(model) -> float:
        pred = C.predict_proba(model, val.x).argmax(1)
        return float(np.mean([(pred[val.y == c] == c).mean() for c in range(k)]))

    def fit(seed: int, soft=None):
        return C.fit_cnn(train.x, train.y, k, steps=STEPS, lr=LR, seed=seed, loss="drw", mixup=ALPHA, soft=soft)

    rows: dict[str, list] = {"real+DRW+mixup 0.4": [], "teacher arm": [], f"teacher arm, gate {GATE:g}": []}
    agreement = []
    for seed in range(3):
        teacher = fit(seed)
        rows["real+DRW+mixup 0.4"].append(balanced_accuracy(teacher))
        pool = pool_of(seed)
        probs = C.predict_proba(teacher, pool.x)
        agree = np.array([(probs[pool.y == c].argmax(1) == c).mean() if (pool.y == c).any() else 1.0
                          for c in range(k)])
        agreement.append(agree.tolist())
        for name, w in (("teacher arm", want), (f"teacher arm, gate {GATE:g}", np.where(agree >= GATE, want, 0))):
            keep = C.select_by_teacher(probs, pool.y, w)
            soft = C.SoftSynthetic(pool.x[keep], C.teacher_targets(probs[keep], 2.0), 0.5, 0.75)
            rows[name].append(balanced_accuracy(fit(seed, soft)))
        print(seed, {n: round(v[-1] * 100, 2) for n, v in rows.items()}, np.round(agree, 2).tolist(), flush=True)
    out = {"data": "long-tailed MNIST validation split (100 per class)", "generator": str(MODEL.relative_to(ROOT)),
           "seeds": [0, 1, 2], "steps": STEPS, "gate": GATE, "teacher_agreement_per_class": agreement,
           "validation_balanced_accuracy": {n: {"per_seed": v, "mean": float(np.mean(v))} for n, v in rows.items()}}
    path = ROOT / "reports" / "teacher-gate-pilot.json"
    path.write_text(json.dumps(out, indent=1) + "\n")
    print(json.dumps(out["validation_balanced_accuracy"], indent=1))


if __name__ == "__main__":
    main()
