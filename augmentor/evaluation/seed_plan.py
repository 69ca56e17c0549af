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
    sd = float(np.std(fits.val_per_seed(g, start) - fits.val_per_seed(ref, start), ddof=1))
    var = test_sampling_variance(np.stack(fits.val_pred[g][:start]), np.stack(fits.val_pred[ref][:start]),
                                 fits.validation.y, sizes)
    alpha = (1 - CONFIDENCE) / max(family, 1)
    afford = start + int(plan.budget * fits.fitted / max(arms, 1))
    most = max(start, min(plan.most, afford))
    n, reached, why = seeds_for_power(plan.effect, sd, var, alpha, plan.target, start, most)
    if why == "cap":
        why = "the seed cap (evaluate.max_confirm_seeds)" if most == plan.most else (
            "the budget (evaluate.confirm_budget x the learner's fits so far)")
    return {"seeds": n, "start": start, "power": reached, "target": plan.target, "effect_points": 100 * plan.effect,
            "seed_sd_points": 100 * sd, "test_se_points": 100 * math.sqrt(var), "stopped_by": why,
            "level": alpha, "estimated_on": "the validation split (first "
            f"{start} seeds; sampling variance rescaled to the test split's class sizes)"}


def power_plan(ev) -> PowerPlan | None:
    """The recipe's plan (`evaluate.confirm_power`, `power_effect` in points, `max_confirm_seeds`,
    `confirm_budget`); None when `confirm_power` is 0: exactly `confirm_seeds` seeds."""
    if ev.confirm_power <= 0:
        return None
    return PowerPlan(ev.confirm_power, ev.power_effect / 100, ev.max_confirm_seeds, ev.confirm_budget)
