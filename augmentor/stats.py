"""Paired comparisons across seeds: bootstrap intervals and plain-language verdicts."""

from __future__ import annotations

import numpy as np
from scipy.stats import bootstrap


def paired_difference(arm: np.ndarray, baseline: np.ndarray, confidence: float = 0.95,
                      n_resamples: int = 10_000, seed: int = 0) -> dict[str, float]:
    """Mean of (arm - baseline) over paired seeds with a percentile bootstrap interval."""
    diff = np.asarray(arm, float) - np.asarray(baseline, float)
    if len(diff) < 2 or np.ptp(diff) == 0:
        return {"mean": float(diff.mean()), "low": float(diff.min()), "high": float(diff.max())}
    ci = bootstrap((diff,), np.mean, confidence_level=confidence, n_resamples=n_resamples,
                   method="percentile", random_state=np.random.default_rng(seed)).confidence_interval
    return {"mean": float(diff.mean()), "low": float(ci.low), "high": float(ci.high)}


def verdict(interval: dict[str, float]) -> str:
    """'helps' if the whole interval is above zero, 'hurts' if below, else no detectable change."""
    if interval["low"] > 0:
        return "helps"
    if interval["high"] < 0:
        return "hurts"
    return "no detectable change"
