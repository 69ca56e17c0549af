"""The scores every choice and estimate is made of: accuracy, balanced accuracy, macro-F1, per-class recall."""

from __future__ import annotations

import math
import warnings

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score


def score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Metrics over the classes present in `y_true` (a thin class may be absent from validation)."""
    present = sorted(set(np.asarray(y_true).tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recall = recall_score(y_true, y_pred, labels=list(range(n_classes)), average=None, zero_division=0)
        f1 = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(np.mean([recall[c] for c in present])),
            "macro_f1": float(f1),
            "per_class_recall": [float(r) if c in present else math.nan for c, r in enumerate(recall)]}


METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def summarize(runs: list[dict], split: str = "test") -> dict:
    """Mean and sd over seeds of each metric and of each class's recall, on one split of `runs`."""
    out = {}
    for m in METRICS:
        v = np.array([r[split][m] for r in runs])
        out[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    recall = np.array([r[split]["per_class_recall"] for r in runs], dtype=float)
    with warnings.catch_warnings():  # a class absent from validation has no recall: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        out["per_class_recall"] = {"mean": np.nanmean(recall, 0).tolist(),
                                   "std": (np.nanstd(recall, 0, ddof=1) if len(recall) > 1
                                           else np.zeros(recall.shape[1])).tolist()}
    return out
