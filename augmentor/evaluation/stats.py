"""Paired comparisons across seeds and test examples, whose stated level is checked, not assumed.

Method: d_s = metric(arm, seed s) - metric(reference, seed s) over n seeds. Two sources of
variation are combined in one two-level model: the seed-to-seed variance of d (classifier
initialisation, batch order, resampling, synthetic draws) over n, plus the test-set sampling
variance of the seed-averaged difference. Balanced accuracy is a mean of per-class means over
test examples, so under class-stratified resampling of the test set that variance is exact:
sum_c var_i(e_i) / (n_c K^2), e_i the seed-averaged correctness difference of test example i
of class c. The interval is Student t on the combined standard error with n - 1 degrees of
freedom (Welch-Satterthwaite's larger df was measured to be anti-conservative at 3-5 seeds);
the p-value is the matching t-test. With no test-set term it is the paired t-test
(scipy.stats.ttest_rel; tested); with no seed spread at all, the normal distribution.

Families: a report declares before the run a small confirmatory family — the user's question:
(a) the best GAN arm vs the best non-GAN arm, (b) the best GAN arm vs `real`, both arms chosen
on validation — Holm-adjusted, and only those comparisons get a verdict word ("helps" / "hurts"
/ "no detectable change"). Every other comparison is exploratory: an estimate with its interval
and a Benjamini-Hochberg q-value across the exploratory set, no verdict word. With fewer than
`MIN_SEEDS` seeds, or a non-zero difference with no spread at all, the verdict is "not enough
evidence". When both arms make the same prediction on every test example at every seed, the
difference is exactly 0 under any resampling of seeds or test set: the interval is [0, 0] and the
verdict "no detectable change" (the two arms are, in effect, one fit).

`benchmarks/calibrate_verdicts.py` simulates, with the report's SmallCNN on long-tailed MNIST
and the confirmatory family's size, null comparisons (arms that differ only in seed) and a
handicap of measured size, and commits the false-verdict rate and the power by seed count to
`reports/verdict-calibration-mnist-smallcnn.json`; every report calibrated with
`augmentor calibrate` is listed in `reports/verdict-calibration.md`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats as st

MIN_SEEDS = 3
MIN_GANS = 3  # a GAN arm's verdict word needs the seeds' samples from at least this many GAN trainings
CONFIDENCE = 0.95
HELPS, HURTS, NO_CHANGE, NOT_ENOUGH = "helps", "hurts", "no detectable change", "not enough evidence"


def paired_difference(arm: np.ndarray, reference: np.ndarray, confidence: float = CONFIDENCE,
                      test_var: float = 0.0) -> dict:
    """Mean paired difference with its interval and p-value (NaN when undefined). `test_var`:
    the test-set sampling variance of the seed-averaged difference (`test_sampling_variance`)."""
    diff = np.asarray(arm, float) - np.asarray(reference, float)
    n = len(diff)
    mean = float(diff.mean()) if n else math.nan
    sd = float(diff.std(ddof=1)) if n > 1 else 0.0
    out = {"mean": mean, "low": math.nan, "high": math.nan, "p": math.nan, "n": n, "sd": sd,
           "se_seeds": sd / math.sqrt(n) if n else math.nan, "se_test": math.sqrt(test_var), "df": math.nan}
    seed_var = sd * sd / n if n > 1 else 0.0
    var = seed_var + test_var
    if n > 1 and var == 0.0 and mean == 0.0:  # the same predictions on every test example and seed
        return {**out, "low": 0.0, "high": 0.0, "p": 1.0}
    if n < 2 or var == 0.0:
        return out
    se = math.sqrt(var)
    # n - 1 degrees of freedom whenever the seeds vary: Welch-Satterthwaite's larger df let the
    # confirmatory family's false-verdict rate reach 9 % at 3 seeds (reports/verdict-calibration-mnist-smallcnn.md)
    df = float(n - 1) if seed_var > 0 else math.inf
    half = float(st.t.ppf(0.5 + confidence / 2, df)) * se
    p = float(2 * st.t.sf(abs(mean) / se, df))
    return {**out, "low": mean - half, "high": mean + half, "p": p, "df": df}


def by_gan(arm: np.ndarray, reference: np.ndarray, gans: int) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """The GAN-training level: seed s drew its samples from GAN s mod `gans` (stage.gan_draws), so the seeds are
    grouped by GAN and each GAN's mean is one observation of the paired model — its spread holds GAN training's
    variance and the classifier seeds' within it. Returns the per-GAN means of each arm and, per GAN, its seeds
    and mean difference (results.json's `per_gan_seed`)."""
    arm, reference = np.asarray(arm, float), np.asarray(reference, float)
    of = np.arange(len(arm)) % gans
    used = [g for g in range(gans) if (of == g).any()]
    a = np.array([arm[of == g].mean() for g in used])
    r = np.array([reference[of == g].mean() for g in used])
    per = [{"gan": g, "seeds": int((of == g).sum()), "mean": float(a[i] - r[i])} for i, g in enumerate(used)]
    return a, r, per


def test_sampling_variance(arm_pred: np.ndarray, ref_pred: np.ndarray, y_true: np.ndarray,
                           sizes: dict | None = None) -> float:
    """Variance, under class-stratified resampling of the test set, of the seed-averaged
    difference in balanced accuracy. `arm_pred`, `ref_pred`: [seeds, N] predicted labels. `sizes` (class -> count):
    the variance for a set of those class sizes (e.g. the test split's, from validation predictions)."""
    y = np.asarray(y_true)
    e = ((np.asarray(arm_pred) == y).mean(0) - (np.asarray(ref_pred) == y).mean(0)).astype(np.float64)
    classes = np.unique(y)
    var = 0.0
    for c in classes:
        ec = e[y == c]
        if len(ec) > 1:
            var += float(ec.var(ddof=1)) / (len(ec) if sizes is None else max(int(sizes.get(c, 0)), 1))
    return var / len(classes) ** 2


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
    """helps / hurts / no detectable change / not enough evidence, from one comparison. A GAN arm's comparison
    whose samples all came from one trained GAN (`gan_trainings` 1) gets no verdict word: its interval does not
    cover GAN training, and another GAN's samples could overturn it (`verdict_reason` says why); from 2 GANs the
    comparison is made at the GAN level, whose n (GANs) must reach `min_seeds` too."""
    p = d["p"] if p_adjusted is None else p_adjusted
    if d["n"] < min_seeds or math.isnan(p) or d.get("gan_trainings") == 1:
        return NOT_ENOUGH
    if p < 1 - confidence:
        return HELPS if d["mean"] > 0 else HURTS
    return NO_CHANGE


def verdict_reason(d: dict, word: str, min_seeds: int = MIN_SEEDS) -> str:
    """Why a comparison reads "not enough evidence" ("" otherwise)."""
    if word != NOT_ENOUGH:
        return ""
    gans = d.get("gan_trainings", 0)
    if gans == 1:
        return ("its GAN samples came from one trained GAN: the interval covers classifier seeds, synthetic draws "
                "and test sampling, not GAN training, and a GAN trained from another seed can overturn the "
                f"difference (evaluate.gan_seeds >= {MIN_GANS} gives a verdict)")
    if gans > 1 and d["n"] < min_seeds:
        return f"{d['n']} GAN trainings, fewer than the {min_seeds} a verdict needs (evaluate.gan_seeds)"
    if d["n"] < min_seeds:
        return f"{d['n']} seeds, fewer than the {min_seeds} a verdict needs"
    return "a non-zero difference with no spread at all: no interval can be given"


def judge_family(comparisons: list[dict], confidence: float = CONFIDENCE) -> None:
    """Holm-adjust a confirmatory family together and set each verdict (and why, where it is not enough
    evidence), in place."""
    adjusted = holm([c["p"] for c in comparisons])
    for c, p in zip(comparisons, adjusted):
        c["p_holm"] = p
        c["role"] = "confirmatory"
        c["verdict"] = verdict(c, p, confidence)
        reason = verdict_reason(c, c["verdict"])
        if reason:
            c["verdict_reason"] = reason


def holm_interval(mean: float, low: float, high: float, p: float, p_holm: float, df: float,
                  confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The interval that agrees with a Holm-judged verdict: the same t-interval at the level
    1 - alpha * p / p_holm, whose test is the Holm-adjusted one, so it excludes 0 exactly when
    p_holm < alpha (the verdict is helps or hurts). NaN where the comparison has no interval."""
    if not (math.isnan(low) or math.isnan(high)) and low == high:  # one fit in effect: [0, 0] at every level
        return low, high
    if any(math.isnan(v) for v in (mean, low, high, p, p_holm)) or math.isnan(df):
        return math.nan, math.nan
    alpha = 1 - confidence
    se = (high - low) / 2 / float(st.t.ppf(1 - alpha / 2, df))
    level = alpha * p / p_holm if p_holm > 0 else alpha * 1e-9
    half = float(st.t.ppf(1 - level / 2, df)) * se
    return mean - half, mean + half


def clopper_pearson_upper(events: int, trials: int, confidence: float = CONFIDENCE) -> float:
    """The two-sided Clopper-Pearson upper bound on a rate seen `events` times in `trials`."""
    if events >= trials:
        return 1.0
    return float(st.beta.ppf(1 - (1 - confidence) / 2, events + 1, trials - events))


def benjamini_hochberg(p_values: list[float]) -> list[float]:
    """Benjamini-Hochberg q-values (NaN stays NaN and does not count)."""
    idx = [i for i, p in enumerate(p_values) if not math.isnan(p)]
    m = len(idx)
    q = [math.nan] * len(p_values)
    order = sorted(idx, key=lambda i: p_values[i])
    running = 1.0
    for rank in range(m, 0, -1):
        i = order[rank - 1]
        running = min(running, p_values[i] * m / rank)
        q[i] = running
    return q


def mark_exploratory(comparisons: list[dict]) -> None:
    """Estimates with intervals and BH q-values; no verdict word, in place."""
    for c, q in zip(comparisons, benjamini_hochberg([c["p"] for c in comparisons])):
        c["q_bh"] = q
        c["role"] = "exploratory"


def method_text(family_size: int, confidence: float = CONFIDENCE) -> str:
    return (f"paired differences across seeds plus class-stratified test-set sampling (two-level model; "
            f"{confidence:.0%} Student t-interval on the combined standard error, n - 1 degrees of freedom); "
            f"verdicts only for "
            f"the confirmatory family of {family_size} comparison(s) declared before the run (best GAN arm vs "
            f"best non-GAN arm, best GAN arm vs real; both chosen on validation), Holm-adjusted; every other "
            f"comparison is exploratory: its interval and a Benjamini-Hochberg q-value, no verdict word; "
            f"fewer than {MIN_SEEDS} seeds, or a non-zero difference with no spread: 'not enough evidence'; "
            f"the same predictions on every test example and seed: a difference of exactly 0, interval [0, 0], "
            f"'no detectable change'; where the seeds do not vary (a learner whose fits are the same at every "
            f"seed), the interval is test-set sampling alone (normal, df = infinity): more seeds add nothing and "
            f"the test split limits what can be detected. Each confirmatory interval printed beside a verdict is "
            f"Holm-adjusted (the t-interval at level 1 - {1 - confidence:.2f} x p / p_Holm), so it excludes 0 "
            f"exactly when the verdict is helps or hurts; the unadjusted interval stands beside it. A comparison "
            f"with a GAN arm whose seeds drew from several trained GANs (seed s from GAN s mod G) is made at the "
            f"GAN level: each GAN's mean difference over its seeds is one observation (G - 1 degrees of "
            f"freedom), so the interval covers GAN training; fewer than {MIN_GANS} GANs: 'not enough evidence'; "
            f"one GAN: 'not enough evidence' with the seed-level interval, which does not cover GAN training")


def power(effect: float, sd_seeds: float, var_test: float, n: int, alpha: float, sd_gans: float = 0.0,
          gans: int = 0) -> float:
    """The power of the two-level test (`paired_difference`) to call a true difference of `effect` at level `alpha`
    with `n` seeds, a seed-to-seed spread `sd_seeds` and a test-sampling variance `var_test` (non-central t with
    n - 1 degrees of freedom; normal where the seeds do not vary). With `gans` > 0 GAN trainings (the seeds grouped
    by GAN, `by_gan`): `sd_gans` is the spread between GANs beyond the seeds', and with G = min(gans, n) GANs drawn
    from, the variance sd_gans^2 / G + sd_seeds^2 / n + var_test on G - 1 degrees of freedom (no test below 2)."""
    if gans:
        used = min(gans, n)  # seeds beyond the GANs draw from a GAN again: they add no GAN
        if used < 2:
            return 0.0
        var = sd_gans * sd_gans / used + sd_seeds * sd_seeds / n + var_test
        if var <= 0.0:
            return 1.0
        t = float(st.t.ppf(1 - alpha / 2, used - 1))
        nc = abs(effect) / math.sqrt(var)
        return float(st.nct.sf(t, used - 1, nc) + st.nct.cdf(-t, used - 1, nc))
    var = (sd_seeds * sd_seeds / n if sd_seeds > 0 else 0.0) + var_test
    if var <= 0.0:
        return 1.0
    nc = abs(effect) / math.sqrt(var)
    if sd_seeds <= 0 or n < 2:
        z = float(st.norm.ppf(1 - alpha / 2))
        return float(st.norm.sf(z - nc) + st.norm.cdf(-z - nc))
    t = float(st.t.ppf(1 - alpha / 2, n - 1))
    return float(st.nct.sf(t, n - 1, nc) + st.nct.cdf(-t, n - 1, nc))


def seeds_for_power(effect: float, sd_seeds: float, var_test: float, alpha: float, target: float, start: int,
                    most: int, sd_gans: float = 0.0, gans: int = 0) -> tuple[int, float, str]:
    """The fewest seeds from `start` to `most` whose power (`power`) for `effect` reaches `target`, with the power
    reached and why it stopped: "reached"; "seeds do not vary" (more seeds change nothing); "test split" (even
    infinitely many seeds stay below the target: seeds are added until the power is within 5 % of that limit);
    "GAN trainings" (the same, where the limit is the GANs' spread and count: more seeds add no GAN); "cap" (`most`
    seeds reach neither, though infinitely many would reach the target; where they would not, the limit's name)."""
    if sd_seeds <= 0 and not gans:
        return start, power(effect, 0.0, var_test, start, alpha), "seeds do not vary"
    # infinitely many seeds: the test split's limit, and the GANs' where there are fewer GANs than seeds
    limit = power(effect, 0.0, var_test, max(gans, 1), alpha, sd_gans, gans)
    limited_by = "GAN trainings" if gans and gans < most else "test split"
    goal = min(target, 0.95 * limit)
    for n in range(start, max(start, most) + 1):
        p = power(effect, sd_seeds, var_test, n, alpha, sd_gans, gans)
        if p >= goal:
            return n, p, "reached" if p >= target else limited_by
    n = max(start, most)
    return n, power(effect, sd_seeds, var_test, n, alpha, sd_gans, gans), "cap" if limit >= target else limited_by
