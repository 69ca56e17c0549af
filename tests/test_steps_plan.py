"""Steps that suit the data (evaluation/steps_plan.py): the floor, and the budget checked on validation."""

from __future__ import annotations

import numpy as np

from augmentor.config.recipe import EvaluateConfig
from augmentor.core.data import imbalance_targets, stratified_split, thin_classes
from augmentor.evaluation.stage import run_evaluation
from augmentor.evaluation.steps_plan import floor_steps, pilot_arms
from augmentor.registry import load_dataset


def test_the_floor_raises_a_small_budget_only():
    assert floor_steps(18, 200) == 200 and floor_steps(450, 200) == 450 and floor_steps(18, 0) == 18


def test_on_a_small_long_tail_a_larger_budget_wins_on_validation_and_every_arm_gets_it():
    """Long-tailed digits (ratio 10) at one epoch: a handful of steps under-trains every arm, 4x wins on
    validation, and every fit of the evaluation then runs at 4x."""
    d = load_dataset("builtin:digits")
    rest, test = stratified_split(d, 0.3, 0)
    train, validation = stratified_split(rest, 0.3, 1)
    train = thin_classes(train, imbalance_targets(train.counts(), "exponential", ratio=10), 0)
    ev = EvaluateConfig(seeds=2, confirm_seeds=0, epochs=1, batch_size=64, rebalancing=("oversample",), classic=(),
                        mixup=(), doses=(), online=False, step_multipliers=(1, 2, 4), fold_below=0)
    from augmentor.image.learners import CnnLearner

    seen = []
    original = CnnLearner.fit_predict

    def spy(self, arm, x, y, seed, evals):
        seen.append((len(evals), self.steps))
        return original(self, arm, x, y, seed, evals)

    CnnLearner.fit_predict = spy
    try:
        results = run_evaluation(train, validation, test, ev, progress=False).to_dict()
    finally:
        CnnLearner.fit_predict = original
    plan = results["protocol"]["steps_plan"]["SmallCNN"]
    scores = plan["validation"]
    assert plan["multiplier"] == 4 and scores["4"] > scores["1"], plan  # the epochs budget under-trains
    assert plan["pilot_arms"] == ["real", "real+oversampled"] and results["protocol"]["steps_per_arm"] == plan["steps"]
    evaluation_fits = [steps for n_evals, steps in seen if n_evals > 1]  # the pilot predicts validation only
    assert evaluation_fits and set(evaluation_fits) == {plan["steps"]} == {4 * plan["base_steps"]}
    assert len([s for n, s in seen if n == 1]) == 3 * 2 * 2  # multiples x pilot arms x seeds
    assert np.isfinite(list(scores.values())).all()


def test_pilot_arms_are_real_and_the_first_rebalancing_cell():
    from augmentor.evaluation.arms import grid_arms

    d = load_dataset("builtin:digits")
    grid = grid_arms(d, np.full(10, 200), ("none", "oversample", "logit-adjust"), ("affine",), (0.2,))
    assert [a.name for a in pilot_arms(grid)] == ["real", "real+oversampled"]
