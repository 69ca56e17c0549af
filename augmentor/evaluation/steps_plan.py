"""Steps that suit the data: a learner's step budget checked on validation before the search.

A network learner's budget is `epochs x ceil(N / batch_size)` steps, raised to the floor `min_steps`: on a small
training split an epochs budget alone under-trains every arm. Then, when the recipe lists `step_multipliers`
(e.g. 1, 2, 4), two pilot arms — `real` and the grid's first rebalancing cell — are fitted at each multiple of
that budget for `seeds` seeds on the training split and scored on the validation split; the smallest multiple
whose mean validation balanced accuracy is within one standard error (paired by pilot arm and seed) of the best
multiple's is kept, and every arm of that learner — grid cells and GAN arms alike — gets those steps. The test
split is never read.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from .arms import Arm, Dataset
from .metrics import score


def floor_steps(steps: int, min_steps: int) -> int:
    """The budget in steps: the epochs budget, or the floor when that is larger."""
    return max(int(steps), int(min_steps))


def pilot_arms(grid: Sequence[Arm]) -> list[Arm]:
    """`real` and the first cell that rebalances (the grid's declared order), or `real` alone."""
    first = next((a for a in grid if a.rebalance != "none" and not a.classic and not a.mixup), None)
    return [grid[0], *([first] if first is not None else [])]


def plan_steps(learner, grid: Sequence[Arm], validation: Dataset, n_classes: int, seeds: int,
               multipliers: Sequence[int], progress: bool = False) -> dict | None:
    """Choose `learner.steps` x one of `multipliers` on validation (see the module docstring) and set it; returns
    the record for results.json, or None for a learner without a step budget or when there is nothing to choose."""
    base = getattr(learner, "steps", None)
    multipliers = sorted({int(m) for m in multipliers})
    if base is None or len(multipliers) < 2 or not hasattr(learner, "fit_predict"):
        return None
    from tqdm import tqdm

    arms = pilot_arms(grid)
    scores: dict[int, np.ndarray] = {}
    bar = tqdm(total=len(multipliers) * len(arms) * seeds, desc=f"steps ({learner.name})", unit="fit",
               disable=not progress)
    try:
        for m in multipliers:
            learner.steps = base * m
            row = []
            for arm in arms:
                for seed in range(seeds):
                    x, y = arm.make(seed)
                    pred = learner.fit_predict(arm, x, y, seed, [validation.x])[0]
                    row.append(score(validation.y, pred, n_classes)["balanced_accuracy"])
                    bar.update(1)
            scores[m] = np.asarray(row)
    finally:
        bar.close()
        getattr(learner, "models", {}).clear()  # the pilot's models are not the evaluation's
    best = max(multipliers, key=lambda m: (scores[m].mean(), -m))

    def within_noise(m: int) -> bool:  # paired by pilot arm and seed; the best itself always is
        d = scores[best] - scores[m]
        return d.mean() <= (float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else 0.0)

    chosen = next(m for m in multipliers if within_noise(m))  # the smallest within one standard error of the best
    learner.steps = base * chosen
    return {"base_steps": base, "steps": base * chosen, "multiplier": chosen,
            "validation": {str(m): float(scores[m].mean()) for m in multipliers},
            "pilot_arms": [a.name for a in arms], "seeds": seeds,
            "rule": "the smallest multiple of the budget whose mean validation balanced accuracy over the pilot arms "
                    "and seeds is within one standard error (paired) of the best multiple's; every arm gets it"}
