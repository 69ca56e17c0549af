"""Fidelity of synthetic samples in the feature space of a classifier trained on real data.

No downloaded weights: the features are the penultimate layer of the evaluation's own
SmallCNN, trained on the real training split. Metrics, overall and per class:

- KID (unbiased MMD^2, polynomial kernel) with an interval, safe at small n; the Fréchet
  distance between Gaussian fits only where n is at least twice the feature dimension;
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

PRDC_MAX = 10_000  # k-NN balls need every pairwise distance: above this, a seeded subsample of each side (memory, time)


def _at_most(x: np.ndarray, n: int, rng: np.random.Generator) -> np.ndarray:
    return x[np.sort(rng.choice(len(x), n, replace=False))] if len(x) > n else x


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


def prdc(real: np.ndarray, fake: np.ndarray, k: int = 5, most: int = PRDC_MAX) -> dict[str, float]:
    """Precision, recall, density and coverage of `fake` against `real` (k-NN balls); a side of more than `most`
    samples is a seeded subsample of `most` (every pairwise distance is held in memory)."""
    real, fake = _at_most(real, most, np.random.default_rng(0)), _at_most(fake, most, np.random.default_rng(1))
    r_real, r_fake = _kth_radius(real, k), _kth_radius(fake, k)
    d = pairwise_distances(real, fake)  # real x fake
    in_real_ball = d < r_real[:, None]
    return {
        "precision": float(in_real_ball.any(axis=0).mean()),
        "recall": float((d < r_fake[None, :]).any(axis=1).mean()),
        "density": float(in_real_ball.sum(axis=0).mean() / k),
        "coverage": float((d.min(axis=1) < r_real).mean()),
    }


def kid(real: np.ndarray, fake: np.ndarray) -> float:
    """Kernel Inception Distance (Binkowski et al., 2018) in the given features: the unbiased
    MMD^2 with the cubic polynomial kernel (x.y / d + 1)^3. Unbiased at any n >= 2, unlike
    the Fréchet distance, whose bias grows as n falls toward the feature dimension."""
    d = real.shape[1]
    k_rr = (real @ real.T / d + 1) ** 3
    k_ff = (fake @ fake.T / d + 1) ** 3
    k_rf = (real @ fake.T / d + 1) ** 3
    m, n = len(real), len(fake)
    return float((k_rr.sum() - np.trace(k_rr)) / (m * (m - 1)) + (k_ff.sum() - np.trace(k_ff)) / (n * (n - 1))
                 - 2 * k_rf.mean())


KID_MAX_SYNTHETIC = 2000  # KID is unbiased at any n; above this a seeded subsample keeps its cost in seconds
def kid_interval(real: np.ndarray, fake: np.ndarray, draws: int = 100, seed: int = 0,
                 max_fake: int = KID_MAX_SYNTHETIC) -> dict[str, float]:
    """KID with a 95 % interval from half-size subsamples (without replacement): a U-statistic's
    variance scales as 1/n, so the half-size spread divided by sqrt(2) estimates the full one.
    A side larger than `max_fake` is first subsampled to `max_fake` (seeded; the real side too since the cost
    curve's 100,000-row table, whose 14,000 validation rows made 100 half-size kernels take minutes): KID stays
    unbiased, and the interval is that of the estimate at `max_fake` samples (10,000 samples took
    50 s, 100 half-size 5,000 x 5,000 kernels, for no change in the estimate's expectation)."""
    rng = np.random.default_rng(seed)
    fake = _at_most(fake, max_fake, rng)
    real = _at_most(real, max_fake, np.random.default_rng(seed + 1))
    value = kid(real, fake)
    halves = [kid(real[rng.choice(len(real), max(2, len(real) // 2), replace=False)],
                  fake[rng.choice(len(fake), max(2, len(fake) // 2), replace=False)]) for _ in range(draws)]
    half = 1.96 * float(np.std(halves, ddof=1)) / np.sqrt(2)
    return {"kid": value, "kid_low": value - half, "kid_high": value + half}


def fidelity(real: np.ndarray, real_y: np.ndarray, fake: np.ndarray, fake_y: np.ndarray,
             classes: tuple[str, ...], k: int = 5) -> dict:
    """Metrics like with like: overall over the classes the synthetic set holds (the real side
    restricted to the same classes), and per class with KID and its interval. The Fréchet
    distance is given only where both sides have at least twice as many samples as features."""
    dim = real.shape[1]
    held = [c for c in range(len(classes)) if (fake_y == c).sum() >= 2]
    real_same = np.isin(real_y, held)
    r_all, f_all = real[real_same], fake[np.isin(fake_y, held)]
    overall = {"classes": [classes[c] for c in held], "n_real": int(len(r_all)), "n_synthetic": int(len(f_all)),
               **kid_interval(r_all, f_all), **prdc(r_all, f_all, k)}
    if min(len(r_all), len(f_all)) >= 2 * dim:
        overall["frechet"] = frechet_distance(r_all, f_all)
    out = {"overall": overall, "per_class": {}, "k": k, "feature_dim": dim}
    for label in held:
        r, f = real[real_y == label], fake[fake_y == label]
        if len(r) > k and len(f) > k:
            entry = {**kid_interval(r, f), **prdc(r, f, k), "n_real": int(len(r)), "n_synthetic": int(len(f))}
            if min(len(r), len(f)) >= 2 * dim:
                entry["frechet"] = frechet_distance(r, f)
            out["per_class"][classes[label]] = entry
    return out


NEAR_COPY_QUANTILE = 0.05  # a synthetic sample closer to a training image than 95% of held-out images are
NEAR_COPY_FLAG = 0.25  # flag a class when >= 25% of its samples are near-copies (5x the no-memorisation rate)


def memorisation(train_x: np.ndarray, train_y: np.ndarray, held_x: np.ndarray, held_y: np.ndarray,
                 syn_x: np.ndarray, syn_y: np.ndarray, classes: tuple[str, ...]) -> dict:
    """Per class: how close synthetic samples come to the real training images, against how
    close real images the GAN never saw come to them (pixel L2, same class).

    The held-out distances are those of the class's held-out images (validation split) to
    their nearest training image; a class with fewer than 5 held-out images uses
    leave-one-out distances between its training images instead (each image's nearest *other*
    training image). A sample is a near-copy when its distance is below the 5% quantile of
    the held-out distances: without memorisation about 5% are; a class is flagged as copying
    when 25% or more are, or when its median synthetic distance is under half the held-out one."""
    out, dim = {}, int(np.prod(train_x.shape[1:]))
    for label, name in enumerate(classes):
        real = train_x[train_y == label].reshape(-1, dim)
        fake = syn_x[syn_y == label].reshape(-1, dim)
        held = held_x[held_y == label].reshape(-1, dim)
        if len(fake) == 0 or len(real) < 2:
            continue
        d_syn = pairwise_distances(fake, real).min(1)
        if len(held) >= 5:
            d_held, basis = pairwise_distances(held, real).min(1), "validation images"
        else:
            d = pairwise_distances(real, real)
            np.fill_diagonal(d, np.inf)
            d_held, basis = d.min(1), "leave-one-out over training images"
        threshold = float(np.quantile(d_held, NEAR_COPY_QUANTILE))
        rate = float((d_syn < threshold).mean())
        ratio = float(np.median(d_syn) / max(np.median(d_held), 1e-12))
        out[name] = {"n_synthetic": int(len(fake)), "n_train": int(len(real)), "held_out_basis": basis,
                     "median_nn_synthetic": float(np.median(d_syn)), "median_nn_held_out": float(np.median(d_held)),
                     "median_ratio": ratio, "near_copy_rate": rate,
                     "exact_copies": int((d_syn < 1e-6).sum()),
                     "flagged": bool(rate >= NEAR_COPY_FLAG or ratio < 0.5)}
    return out
