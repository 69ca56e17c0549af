"""Seeds where they buy power (the confirmatory family's seed count per learner).

A learner's confirmatory arms start at `confirm_seeds`; from the spread of their per-seed differences on the
validation split and the sampling variance of those differences (validation predictions, rescaled to the test
split's class sizes), the power to call a difference of `effect` at the family's Bonferroni level (conservative
for Holm) is computed for each seed count, and seeds are added until it reaches `target` — or until more seeds
cannot help (the learner's fits do not vary with the seed; the test split's size is the limit), or the cap or
the budget is reached. The budget is counted in fits, not seconds, so the same data and seeds give the same plan
on every machine. Of the test split it reads only the class sizes, never a prediction or a score.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .stats import CONFIDENCE, seeds_for_power, test_sampling_variance


@dataclass(frozen=True)
class PowerPlan:
    """Seeds where they buy power: the confirmatory arms get seeds until the power to call a difference of `effect`
    (a fraction: 0.01 is one point) reaches `target`, at most `most` seeds and at most `budget` x the learner's
    fits so far in extra fits; the seed spread and the test-sampling variance are estimated on validation."""

    target: float = 0.8
    effect: float = 0.01
    most: int = 20
    budget: float = 2.0


def seed_plan(fits, g: str, ref: str, start: int, family: int, plan: PowerPlan, arms: int) -> dict:
    """The confirmatory seed count for one learner, for the headline's comparison (GAN arm `g` against `ref`, the
    best arm without a GAN): the spread of their per-seed validation differences and the sampling variance of those
    differences on validation, rescaled to the test split's class sizes, give the power at each seed count
    (stats.seeds_for_power, Bonferroni level: conservative for Holm); `arms` fits per extra seed."""
    sizes = dict(zip(*np.unique(fits.test.y, return_counts=True)))
    diff = fits.val_per_seed(g, start) - fits.val_per_seed(ref, start)
    sd = float(np.std(diff, ddof=1))
    gans = getattr(fits, "gan_seeds", 1)
    var = test_sampling_variance(np.stack(fits.val_pred[g][:start]), np.stack(fits.val_pred[ref][:start]),
                                 fits.validation.y, sizes)
    alpha = (1 - CONFIDENCE) / max(family, 1)
    if gans == 1:  # stats.verdict: one GAN gives no verdict word at any seed count; no seeds are spent on it
        return {"seeds": start, "start": start, "power": 0.0, "target": plan.target,
                "effect_points": 100 * plan.effect, "seed_sd_points": 100 * sd, "test_se_points": 100 * math.sqrt(var),
                "stopped_by": "one trained GAN (evaluate.gan_seeds = 1): no verdict word at any seed count",
                "gan_trainings": 1, "level": alpha, "estimated_on": f"the validation split (first {start} seeds)"}
    afford = start + int(plan.budget * fits.fitted / max(arms, 1))
    most = max(start, min(plan.most, afford))
    level = gans if 1 < gans < most else 0  # a GAN for every seed the plan can give: the GAN level is the seed level
    sd_gans = 0.0
    if level:
        sd, sd_gans = gan_spread(diff, gans)
    n, reached, why = seeds_for_power(plan.effect, sd, var, alpha, plan.target, start, most, sd_gans, level)
    if why == "cap":
        why = "the seed cap (evaluate.max_confirm_seeds)" if most == plan.most else (
            "the budget (evaluate.confirm_budget x the learner's fits so far)")
    elif why == "GAN trainings":
        why = f"the GAN trainings ({gans}, evaluate.gan_seeds): more classifier seeds add no GAN"
    return {"seeds": n, "start": start, "power": reached, "target": plan.target, "effect_points": 100 * plan.effect,
            "seed_sd_points": 100 * sd, "test_se_points": 100 * math.sqrt(var), "stopped_by": why,
            "gan_trainings": gans, **({"gan_sd_points": 100 * sd_gans} if level else {}),
            "level": alpha, "estimated_on": "the validation split (first "
            f"{start} seeds; sampling variance rescaled to the test split's class sizes)"}


def gan_spread(diff: np.ndarray, gans: int) -> tuple[float, float]:
    """(the seeds' spread within a GAN, the GANs' spread beyond it) of per-seed differences whose seed s drew from
    GAN s mod `gans`: the pooled within-GAN sd, and the between-GAN sd of a one-way random-effects model (moment
    estimate, at least 0). Where no GAN has two seeds yet, every bit of the spread is counted as the GANs'
    (conservative: then more classifier seeds buy nothing)."""
    of = np.arange(len(diff)) % gans
    groups = [diff[of == k] for k in range(gans) if (of == k).any()]
    within_df = sum(len(x) - 1 for x in groups)
    if within_df == 0:
        return 0.0, float(np.std(diff, ddof=1)) if len(diff) > 1 else 0.0
    within = sum(float(((x - x.mean()) ** 2).sum()) for x in groups) / within_df
    means = np.array([x.mean() for x in groups])
    per = len(diff) / len(groups)
    between = max(float(np.var(means, ddof=1)) - within / per, 0.0) if len(groups) > 1 else 0.0
    return math.sqrt(within), math.sqrt(between)


def power_plan(ev) -> PowerPlan | None:
    """The recipe's plan (`evaluate.confirm_power`, `power_effect` in points, `max_confirm_seeds`,
    `confirm_budget`); None when `confirm_power` is 0: exactly `confirm_seeds` seeds."""
    if ev.confirm_power <= 0:
        return None
    return PowerPlan(ev.confirm_power, ev.power_effect / 100, ev.max_confirm_seeds, ev.confirm_budget)
