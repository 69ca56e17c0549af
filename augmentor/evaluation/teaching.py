"""Teacher and self-training plans: the candidate settings (weight, join) and the arm names' tags, the plans that
make distinct fits for a learner, and the self-training plans on an unlabelled pool — shared by the evaluation
(stage.py) and the calibration that re-fits its reference arm (calibrate.py)."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np

from ..config.recipe import EvaluateConfig
from .arms import Dataset, TeacherPlan, teacher_want
from .engine import teacher_mode


def teacher_settings(ev: EvaluateConfig) -> list[tuple[float, float, str]]:
    """(weight, join, tag) for every teacher_weight x teacher_join candidate; the tag names the values of the
    settings that have more than one candidate (", weight 1, join 0.5"), so each arm's name is its own."""
    weights, joins = (tuple(np.atleast_1d(v).tolist()) for v in (ev.teacher_weight, ev.teacher_join))
    return [(w, j, _tag(w, j, len(weights) > 1, len(joins) > 1)) for w in weights for j in joins]


def _tag(weight: float, join: float, name_weight: bool, name_join: bool) -> str:
    return (f", weight {weight:g}" if name_weight else "") + (f", join {join:g}" if name_join else "")


def distinct_fits(plans: Sequence[TeacherPlan], hard: bool, weighted: bool) -> list[TeacherPlan]:
    """The plans that make different fits for a learner: one fitted in one call (`hard`) has no join step, and
    one that takes no sample weights no weight, so plans differing only there keep the first (its tag names
    only the settings that vary and apply)."""
    name_weight = weighted and len({p.weight for p in plans}) > 1
    name_join = not hard and len({p.join_at for p in plans}) > 1
    out, seen = [], set()
    for plan in plans:
        key = (plan.max_share, plan.weight if weighted else None, None if hard else plan.join_at)
        if key not in seen:
            seen.add(key)
            out.append(dataclasses.replace(plan, tag=_tag(plan.weight, plan.join_at, name_weight, name_join)))
    return out


def self_training_plans(counts: np.ndarray, target: np.ndarray, unlabelled: Dataset | None,
                        ev: EvaluateConfig) -> list[TeacherPlan]:
    """Self-training: one plan per share (and weight, join), the unlabelled pool labelled by the teacher arm's model
    of the same seed, up to each class's gap (the pool is real data). None without a pool or `self_training`."""
    pseudo: list[TeacherPlan] = []
    if unlabelled is None or not ev.self_training or not ev.baselines:
        return pseudo
    for share in ev.teacher_max_share:
        want = teacher_want(counts, target - counts, 0, share)
        if want.sum() > 0 and not any(np.array_equal(want, t.want) for t in pseudo):
            pseudo += [TeacherPlan(lambda s: unlabelled, want, 0, ev.teacher_temperature, w, j, share,
                                   pseudo=True, tag=tag) for w, j, tag in teacher_settings(ev)]
    return pseudo


def teacher_fit(learner) -> tuple[bool, bool]:
    """How `learner` fits a teacher or self-training arm: (hard — one fit() call on the samples its teacher keeps,
    weighted — it takes sample weights)."""
    return teacher_mode(learner) == "hard", getattr(learner, "takes_weights", lambda: True)()
