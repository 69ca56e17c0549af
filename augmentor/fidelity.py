"""Fidelity of synthetic samples in the feature space of a classifier trained on real data.

No downloaded weights: the features are the penultimate layer of the evaluation's own
SmallCNN, trained on the real training split. Metrics, overall and per class:

- Fréchet distance between Gaussian fits of real and synthetic features;
- precision / recall (Kynkäänniemi et al., 2019) with k-NN balls;
- density / coverage (Naeem et al., 2020), which are robust to outliers.

A collapsed class (one image repeated) keeps high precision but shows low recall and
coverage, which accuracy alone would hide.
"""

from __future__ import annotations

import warnings

import numpy as np
from scipy import linalg
from sklearn.metrics import pairwise_distances


def frechet_distance(real: np.ndarray, fake: np.ndarray) -> float:
    """||mu_r - mu_f||^2 + Tr(S_r + S_f - 2 (S_r S_f)^(1/2)) over feature rows."""
    mu_r, mu_f = real.mean(0), fake.mean(0)
    s_r = np.atleast_2d(np.cov(real, rowvar=False))
    s_f = np.atleast_2d(np.cov(fake, rowvar=False))
    with warnings.catch_warnings():
        # per-class covariances from a few dozen samples in 128-d are singular by nature
        warnings.simplefilter("ignore", linalg.LinAlgWarning)
        covmean = linalg.sqrtm(s_r @ s_f)
    covmean = np.real(covmean)
    value = float(((mu_r - mu_f) ** 2).sum() + np.trace(s_r + s_f - 2 * covmean))
    return max(value, 0.0)


def _kth_radius(x: np.ndarray, k: int) -> np.ndarray:
    d = pairwise_distances(x, x)
    return np.sort(d, axis=1)[:, min(k, len(x) - 1)]  # column 0 is the point itself


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` (k-NN balls)."""
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = pairwise_distances(real, fake)  # real x fake
    in_real_ball = d < r_real[:, None]
    return {
        "precision": float(in_real_ball.any(axis=0).mean()),
        "recall": float((d < r_fake[None, :]).any(axis=1).mean()),
        "density": float(in_real_ball.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < r_real).mean()),
    }


def fidelity(real: np.ndarray, real_y: np.ndarray, fake: np.ndarray, fake_y: np.ndarray,
             classes: tuple[str, ...], k: int = 5) -> dict:
    """All metrics overall and for each class present in both sets (features as rows)."""
    out = {"overall": {"frechet": frechet_distance(real, fake), **prdc(real, fake, k)},
           "per_class": {}, "k": k}
    for label, name in enumerate(classes):
        r, f = real[real_y == label], fake[fake_y == label]
        if len(r) > k and len(f) > k:
            out["per_class"][name] = {"frechet": frechet_distance(r, f), **prdc(r, f, k),
                                      "n_real": int(len(r)), "n_synthetic": int(len(f))}
    return out
