"""Seeds where they buy power (evaluation/seed_plan.py): the power formula against a simulation, the fewest seeds
that reach the target, and a table case whose noisy learner gets, by default, the seeds a 1.5-point gain needs."""

from __future__ import annotations

import zlib

import numpy as np
import pandas as pd
import pytest

from augmentor.evaluation.arms import Arm, grid_arms
from augmentor.evaluation.engine import evaluate
from augmentor.evaluation.seed_plan import power_plan
from augmentor.evaluation.stats import paired_difference, power, seeds_for_power
from augmentor.registry import load_dataset


def test_power_matches_a_simulated_paired_t_test():
    rng = np.random.default_rng(0)
    effect, sd, n, alpha = 0.012, 0.015, 8, 0.025
    sims = 4000
    called = sum(paired_difference(rng.normal(effect, sd, n), np.zeros(n))["p"] < alpha for _ in range(sims))
    # the simulation's share within 3 standard errors of the formula: a wrong df or level shows here
    p = power(effect, sd, 0.0, n, alpha)
    assert abs(called / sims - p) < 3 * np.sqrt(p * (1 - p) / sims), (called / sims, p)


def test_the_fewest_seeds_that_reach_the_target_and_why_it_stops():
    n, p, why = seeds_for_power(0.01, 0.012, 0.0, 0.025, 0.8, 6, 40)
    assert why == "reached" and p >= 0.8 > power(0.01, 0.012, 0.0, n - 1, 0.025)
    assert seeds_for_power(0.01, 0.0, 1e-6, 0.025, 0.8, 6, 40)[2] == "seeds do not vary"  # deterministic: no more
    n, p, why = seeds_for_power(0.01, 0.012, 4e-5, 0.025, 0.8, 6, 400)  # the test split's s.e. 0.63 points
    assert why == "test split" and p < 0.8 and n < 400
    assert seeds_for_power(0.01, 0.05, 0.0, 0.025, 0.8, 6, 12) == (12, power(0.01, 0.05, 0.0, 12, 0.025), "cap")


class Noisy:
    """A learner whose balanced accuracy on an arm is the arm's level plus seed noise (sd 0.5 points): each class
    gets that share right, its easiest examples first (a fixed order per split, as a real learner finds the same
    examples hard at every seed). No fitting."""

    name = "noisy"

    def __init__(self, splits, level):
        self.splits, self.level = splits, level

    def fit_predict(self, arm, x, y, seed, evals):
        rng = np.random.default_rng([seed, zlib.crc32(arm.name.encode())])
        share = self.level(arm) + rng.normal(0, 0.005)
        out = []
        for e in evals:
            y_true = next(d.y for d in self.splits if d.x is e)
            pred = (y_true + 1) % 3
            order = np.random.default_rng(len(y_true)).permutation(len(y_true))  # the split's easy-to-hard order
            for c in range(3):
                idx = order[y_true[order] == c]
                pred[idx[:round(share * len(idx))]] = c
            out.append(pred)
        return out


def _table(tmp_path, name, n, seed):
    rng = np.random.default_rng(seed)
    y = np.repeat(["a", "b", "c"], n // 3)
    frame = pd.DataFrame({"f1": rng.normal(size=len(y)), "f2": rng.normal(size=len(y)), "label": y})
    frame.to_csv(tmp_path / f"{name}.csv", index=False)
    return load_dataset(str(tmp_path / f"{name}.csv"))


@pytest.mark.parametrize("planned", [True, False])
def test_a_noisy_learner_gets_the_seeds_a_one_and_a_half_point_gain_needs(tmp_path, planned):
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.evaluation.results import Results
    from augmentor.report.choices import seed_plan_lines

    train, validation = _table(tmp_path, "train", 300, 0), _table(tmp_path, "validation", 3000, 1)
    test = train.load_like(str(_table(tmp_path, "test", 3000, 2).source))
    ev = EvaluateConfig() if planned else EvaluateConfig(confirm_power=0)  # the defaults: the plan is on
    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(3, counts.max()), ("oversample", "smote", "reweight"), (), ())
    gan = Arm("real+synthetic", "real + GAN samples", lambda s: (train.x, train.y), "gan")
    levels = {"real": 0.84, "real+oversampled": 0.86, "real+synthetic": 0.875}  # the GAN arm: 1.5 points up
    learner = Noisy([train, validation, test], lambda arm: levels.get(arm.name, 0.83))
    plan = power_plan(ev)  # as run_evaluation makes it from the recipe
    out = evaluate(train, validation, test, grid, [learner], seeds=ev.seeds, confirm_seeds=ev.confirm_seeds,
                   gan=lambda best, soft, lr=None, pool=None: [gan], fold_below=0, progress=False, power=plan,
                   gan_seeds=ev.max_confirm_seeds)  # a GAN for every seed the plan can give: the seed level
    h = out["headline"]
    if not planned:
        assert h["seeds"] == ev.confirm_seeds and "seed_plan" not in h
        return
    s = h["seed_plan"]
    assert h["seeds"] == s["seeds"] > ev.confirm_seeds and s["stopped_by"] == "reached"
    assert s["power"] >= 0.8 and 0.3 < s["seed_sd_points"] < 1.5 and h["best_non_gan_arm"] == "real+oversampled"
    alpha = s["level"]
    assert power(0.015, s["seed_sd_points"] / 100, (s["test_se_points"] / 100) ** 2, h["seeds"], alpha) >= 0.8
    assert h["difference"]["n"] == h["seeds"] and h["verdict"] == "helps"
    text = "\n".join(seed_plan_lines(Results.from_dict(out)))
    assert f"noisy: {h['seeds']} seeds, power {s['power']:.2f}" in text
