"""A user's own learner, handed over in Python as an object (`run_recipe(recipe, learners=[obj])`,
`run_evaluation(..., learners=[obj])`).

The protocol is two methods: `fit(x, y, sample_weight=None)` and `predict_proba(x)` -> (N, classes), on the
modality's arrays (images: float32 N x C x H x W in [0, 1]; signals: N x channels x length; tables: the
feature DataFrame) with y the class indices 0..k-1. Every seed fits a fresh copy (`sklearn.base.clone` where
the object supports it, else a deep copy), seeded through `random_state` when it has one. The arms:

- resampling (over-sampling, SMOTE) changes the rows it is given;
- every loss-side fix is one fit with balanced sample weights (named together), when `fit` takes
  `sample_weight`; without it, a loss fix is the same fit as none;
- classic augmentation adds one transformed copy of every sample, mixup one mixed copy (hard label of the
  larger share) — the learner has no training loop to apply them per step;
- teacher and self-training arms: its own model of the winning arm picks the added samples (hard labels).
"""

from __future__ import annotations

import copy
import inspect
from collections.abc import Callable, Sequence

import numpy as np

from ..core.errors import RecipeError
from .arms import Arm, HardTeacher, class_scores, with_rows
from .learner_spec import check_scores, handful, trial


def check_protocol(obj: object) -> str:
    """The object's report name, or one line saying what it lacks."""
    if inspect.isclass(obj):
        raise RecipeError(f"learner object {obj.__name__}: it is a class, not an instance; pass "
                          f"{obj.__name__}(...) (an object with fit and predict_proba)")
    name = type(obj).__name__
    missing = [m for m in ("fit", "predict_proba") if not callable(getattr(obj, m, None))]
    if missing:
        raise RecipeError(f"learner object {name}: it has no {' or '.join(missing)}(); a learner object needs "
                          "fit(x, y, sample_weight=None) and predict_proba(x)")
    return name


class ObjectLearner(HardTeacher):
    """Fits a user's learner object for each arm and seed (see the module's docstring)."""

    def __init__(self, obj: object, n_classes: int, augment: str = "", name: str = "") -> None:
        """`augment`: the modality's classic augmentation policies, "module:function" (policy -> batch function)."""
        self.obj, self.n_classes, self.augment_path = obj, n_classes, augment
        self.name = name or check_protocol(obj)
        self.models: dict = {}
        try:
            self.weights = "sample_weight" in inspect.signature(obj.fit).parameters
        except (TypeError, ValueError):
            self.weights = False

    def describe(self) -> str:
        return (f"a Python object ({type(self.obj).__module__}.{type(self.obj).__qualname__}); fit() "
                + ("takes sample_weight" if self.weights else "takes no sample_weight: loss fixes are plain fits"))

    def takes_weights(self) -> bool:
        return self.weights

    def ignores_loss(self) -> bool:
        return not self.weights  # without sample_weight a loss-fix cell is the plain fit, named as one

    def fit_key(self, arm: Arm) -> tuple:
        return arm.rebalance if arm.loss == "ce" else ("balanced" if self.weights else "none"), arm.classic, arm.mixup

    def teacher_scores(self, model, x) -> np.ndarray:
        classes = getattr(model, "classes_", None)
        raw = trial(self.name, "predict_proba", model.predict_proba, x)
        scores = check_scores(self.name, raw, len(x), self.n_classes, None if classes is None else len(classes))
        return class_scores(scores, self.n_classes, classes)

    def check(self, x, y, weights: bool = False) -> None:
        """Before any training: a copy of the object fits a handful of the training rows (with sample weights
        when the grid re-weights) and its predict_proba is checked; any failure is one line naming it."""
        rows = handful(y)
        xs = x.iloc[rows] if hasattr(x, "iloc") else np.asarray(x)[rows]
        ys = np.asarray(y)[rows]
        model = self._fresh(0)
        if weights and self.weights:
            trial(self.name, "a trial fit on a handful of training rows", model.fit, xs, ys,
                  sample_weight=np.ones(len(ys)))
        else:
            trial(self.name, "a trial fit on a handful of training rows", model.fit, xs, ys)
        self.teacher_scores(model, xs)

    def _augment(self, policy: str) -> Callable:
        import importlib

        module, _, attr = self.augment_path.partition(":")
        return getattr(importlib.import_module(module), attr)(policy)

    def _fresh(self, seed: int):
        try:
            from sklearn.base import clone

            est = clone(self.obj)
        except Exception:  # not a scikit-learn estimator: a deep copy of the object as handed over
            est = trial(self.name, "copying it (each seed fits a fresh copy; make it deep-copyable)",
                        copy.deepcopy, self.obj)
        if hasattr(est, "get_params") and "random_state" in est.get_params():
            trial(self.name, "setting random_state", est.set_params, random_state=seed)
        return est

    def fit_predict(self, arm: Arm, x, y, seed: int, evals: Sequence) -> list[np.ndarray]:
        if (arm.classic or arm.mixup) and not hasattr(x, "iloc"):
            from .classifiers import copies

            x, y = copies(x, y, seed, self._augment(arm.classic) if arm.classic else None, arm.mixup)
        rows = self.teacher_rows(arm, seed, self.n_classes) if arm.soft is not None else None
        x, y, w = with_rows(x, y, rows, arm.soft.weight if arm.soft is not None and self.weights else 1.0)
        if arm.loss != "ce" and self.weights:
            from sklearn.utils.class_weight import compute_sample_weight

            w = compute_sample_weight("balanced", y) * (w if w is not None else 1.0)
        model = self._fresh(seed)
        if w is not None and self.weights:
            trial(self.name, f"fit (arm {arm.name}, seed {seed})", model.fit, x, y, sample_weight=w)
        else:
            trial(self.name, f"fit (arm {arm.name}, seed {seed})", model.fit, x, y)
        self.remember(arm, seed, model)
        return [self.teacher_scores(model, e).argmax(1) for e in evals]

    def use_it(self, arm: Arm, target, shape: tuple[int, ...] | None) -> str:
        """The arm for the user's own object (seed 0)."""
        from .use_it import resampling_lines

        lines = [f"# {self.name}'s best arm without a GAN on this data: {arm.name}. `model`: your {self.name}.",
                 "import numpy as np"]
        if shape is not None:
            lines += resampling_lines(arm, target, shape)
        if arm.classic or arm.mixup:
            module, _, attr = self.augment_path.partition(":")
            augment = f"{attr}({arm.classic!r})" if arm.classic else "None"
            lines += ["from augmentor.evaluation.classifiers import copies"]
            lines += [f"from {module} import {attr}"] if arm.classic else []
            lines += [f"x, y = copies(x, y, seed=0, augment={augment}, mixup={arm.mixup})"]
        if arm.loss != "ce" and self.weights:
            lines += ["from sklearn.utils.class_weight import compute_sample_weight",
                      "model.fit(x, y, sample_weight=compute_sample_weight('balanced', y))"]
        else:
            lines += ["model.fit(x, y)"]
        lines += ["predictions = model.predict_proba(x_new).argmax(1)"]
        return "\n".join(lines)
