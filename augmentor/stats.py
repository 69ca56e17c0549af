"""Paired comparisons across seeds whose stated level is checked, not assumed.

Method: the paired difference d_s = metric(arm, seed s) - metric(reference, seed s) over
n seeds, a two-sided Student t-interval for its mean (n - 1 degrees of freedom), and the
matching t-test p-value. Within one report every comparison belongs to one family and
the p-values are Holm-adjusted across it; a verdict is "helps" / "hurts" only when the
adjusted p-value is below 1 - confidence. With fewer than `MIN_SEEDS` seeds, or with no
spread at all among the differences (a zero-width interval says nothing about the next
seed), the verdict is "not enough evidence".

`benchmarks/calibrate_verdicts.py` simulates null comparisons (two arms that differ only
by seed) and comparisons with a known effect, and commits the false-verdict rate and the
power by seed count to `reports/verdict-calibration.json`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

MIN_SEEDS = 3
CONFIDENCE = 0.95
HELPS, HURTS, NO_CHANGE, NOT_ENOUGH = "helps", "hurts", "no detectable change", "not enough evidence"


def paired_difference(arm: np.ndarray, reference: np.ndarray, confidence: float = CONFIDENCE) -> dict:
    """Mean paired difference with its t-interval and p-value (NaN when undefined)."""
    diff = np.asarray(arm, float) - np.asarray(reference, float)
    n = len(diff)
    mean = float(diff.mean()) if n else math.nan
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    out = {"mean": mean, "low": math.nan, "high": math.nan, "p": math.nan, "n": n, "sd": sd}
    if n < 2 or sd == 0.0:
        return out
    se = sd / math.sqrt(n)
    half = float(st.t.ppf(0.5 + confidence / 2, n - 1)) * se
    p = float(2 * st.t.sf(abs(mean) / se, n - 1))
    return {**out, "low": mean - half, "high": mean + half, "p": p}


def holm(p_values: list[float]) -> list[float]:
    """Holm step-down adjusted p-values (NaN stays NaN and does not count in the family)."""
    idx = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(idx)
    adjusted = [math.nan] * len(p_values)
    running = 0.0
    for rank, i in enumerate(sorted(idx, key=lambda i: p_values[i])):
        running = max(running, min(1.0, (m - rank) * p_values[i]))
        adjusted[i] = running
    return adjusted


def verdict(d: dict, p_adjusted: float | None = None, confidence: float = CONFIDENCE,
            min_seeds: int = MIN_SEEDS) -> str:
    """helps / hurts / no detectable change / not enough evidence, from one comparison."""
    p = d["p"] if p_adjusted is None else p_adjusted
    if d["n"] < min_seeds or math.isnan(p):
        return NOT_ENOUGH
    if p < 1 - confidence:
        return HELPS if d["mean"] > 0 else HURTS
    return NO_CHANGE


def judge_family(comparisons: list[dict], confidence: float = CONFIDENCE) -> None:
    """Holm-adjust every comparison of one report together and set its verdict, in place."""
    adjusted = holm([c["p"] for c in comparisons])
    for c, p in zip(comparisons, adjusted):
        c["p_holm"] = p
        c["verdict"] = verdict(c, p, confidence)


def method_text(family_size: int, confidence: float = CONFIDENCE) -> str:
    return (f"paired differences across seeds; {confidence:.0%} Student t-interval (n - 1 degrees of "
            f"freedom); verdicts from t-test p-values Holm-adjusted across the report's family of "
            f"{family_size} comparisons; fewer than {MIN_SEEDS} seeds or zero spread: 'not enough evidence'")
