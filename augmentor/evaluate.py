"""Did the synthetic data help? Train the same classifier on each arm, test on real data.

Arms:
  real              the (imbalanced) real training split as given
  real+synthetic    real + the generated gap-filling samples
  real+oversampled  real, randomly over-sampled (imbalanced-learn) to the same per-class
                    counts as real+synthetic: the baseline a practitioner would use
  synthetic-only    generated samples only, class-balanced: the Classification
                    Accuracy Score (train on synthetic, test on real)

Every arm gets the same classifier, the same number of gradient steps and the same
seeds, and is tested on the same held-out split of real data only.
"""

from __future__ import annotations

import math
import platform
from dataclasses import dataclass

import numpy as np
from imblearn.over_sampling import RandomOverSampler
from sklearn.metrics import accuracy_score, balanced_accuracy_score, f1_score, recall_score
from tqdm import tqdm

from .classifiers import fit_cnn, predict_proba
from .data import LabelledData, align_classes

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


@dataclass(frozen=True)
class Arm:
    name: str
    x: np.ndarray
    y: np.ndarray
    description: str

    def counts(self, n_classes: int) -> list[int]:
        return np.bincount(self.y, minlength=n_classes).tolist()


def build_arms(train: LabelledData, synthetic: LabelledData | None,
               synthetic_only: LabelledData | None, seed: int) -> list[Arm]:
    arms = [Arm("real", train.x, train.y, "real training split as given")]
    if synthetic is not None:
        synthetic = align_classes(synthetic, train.classes)
        arms.append(Arm("real+synthetic", np.concatenate([train.x, synthetic.x]),
                        np.concatenate([train.y, synthetic.y]), "real + GAN samples filling the gaps"))
        target = np.bincount(arms[-1].y, minlength=len(train.classes))
        sampler = RandomOverSampler(
            sampling_strategy={c: int(n) for c, n in enumerate(target) if n > 0}, random_state=seed)
        idx, _ = sampler.fit_resample(np.arange(len(train)).reshape(-1, 1), train.y)
        idx = idx.ravel()
        arms.append(Arm("real+oversampled", train.x[idx], train.y[idx],
                        "real, randomly over-sampled to the real+synthetic counts"))
    if synthetic_only is not None:
        synthetic_only = align_classes(synthetic_only, train.classes)
        arms.append(Arm("synthetic-only", synthetic_only.x, synthetic_only.y,
                        "GAN samples only, class-balanced (Classification Accuracy Score)"))
    return arms


def score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    labels = list(range(n_classes))
    return {
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "balanced_accuracy": float(balanced_accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class_recall": [float(r) for r in recall_score(y_true, y_pred, labels=labels,
                                                            average=None, zero_division=0)],
    }


def evaluate(train: LabelledData, test: LabelledData, *, synthetic: LabelledData | None = None,
             synthetic_only: LabelledData | None = None, seeds: int = 3, epochs: int = 30,
             batch_size: int = 64, lr: float = 1e-3, device: str = "cpu",
             progress: bool = True) -> dict:
    """Train the classifier on every arm for every seed; return all numbers as a dict."""
    test = align_classes(test, train.classes)
    k = len(train.classes)
    steps = epochs * math.ceil(len(train) / batch_size)
    runs: dict[str, list[dict]] = {}
    arm_info: dict[str, dict] = {}
    n_arms = len(build_arms(train, synthetic, synthetic_only, 0))
    bar = tqdm(total=n_arms * seeds, desc="evaluate", unit="fit", disable=not progress)
    for seed in range(seeds):
        for arm in build_arms(train, synthetic, synthetic_only, seed):
            model = fit_cnn(arm.x, arm.y, k, steps=steps, batch_size=batch_size, lr=lr,
                            seed=seed, device=device)
            pred = predict_proba(model, test.x).argmax(1)
            runs.setdefault(arm.name, []).append({"seed": seed, **score(test.y, pred, k)})
            arm_info[arm.name] = {"description": arm.description, "n_train": int(len(arm.y)),
                                  "train_counts": arm.counts(k)}
            bar.update(1)
    bar.close()
    arms = {name: {**arm_info[name], "runs": r, "summary": summarize(r)} for name, r in runs.items()}
    return {
        "classes": list(train.classes),
        "test_counts": np.bincount(test.y, minlength=k).tolist(),
        "train_counts": np.bincount(train.y, minlength=k).tolist(),
        "protocol": {"seeds": seeds, "epochs": epochs, "steps_per_arm": steps,
                     "batch_size": batch_size, "lr": lr, "classifier": "SmallCNN",
                     "device": device, "python": platform.python_version()},
        "arms": arms,
    }


def summarize(runs: list[dict]) -> dict:
    out = {}
    for m in METRICS:
        v = np.array([r[m] for r in runs])
        out[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    recall = np.array([r["per_class_recall"] for r in runs])
    out["per_class_recall"] = {"mean": recall.mean(0).tolist(),
                               "std": (recall.std(0, ddof=1) if len(recall) > 1
                                       else np.zeros(recall.shape[1])).tolist()}
    return out
