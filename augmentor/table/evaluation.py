"""How tables are evaluated: scikit-learn learners with class_weight='balanced' as the loss fix,
fidelity in the codec's space, the validity of synthetic rows; SMOTE / SMOTENC / SMOTEN."""

from __future__ import annotations

import json
from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..config.recipe import EvaluateConfig
from ..core.errors import RecipeError
from ..evaluation.arms import Arm, HardTeacher, class_scores, with_rows
from ..evaluation.learner_spec import (
    build,
    check_scores,
    handful,
    is_import_path,
    parse,
    resolve,
    short_name,
    shown,
    trial,
)
from ..evaluation.ray_fits import RayFits
from .codec import TableCodec
from .data import TableData

Dataset = TableData
TABLE_CLASSIFIERS = ("logreg", "hgb", "rf")


class TableEvaluation:
    """Tables: one scikit-learn classifier per name, class_weight='balanced' as the loss fix;
    fidelity in the codec's space; a validity check of the synthetic rows."""

    losses, classic = ("reweight",), False
    ray = True  # its fits can run as Ray tasks (evaluate.ray)
    augment_path = ""  # for a learner object (evaluation/user_learner.py)

    def classic_candidates(self, train: Dataset, ev: EvaluateConfig) -> tuple[str, ...]:
        return ()  # no classic augmentation for tables

    def mixup(self, ev: EvaluateConfig) -> tuple[float, ...]:
        return ()  # the scikit-learn learners take hard labels

    def specs(self, ev: EvaluateConfig) -> tuple[str, ...]:
        """The learners a recipe names (`learners`, else `classifiers`)."""
        return tuple(ev.learners or ev.classifiers)

    def learners(self, train: Dataset, ev: EvaluateConfig, device: str) -> tuple[list, dict]:
        numeric = [c for c in train.x.columns if c not in train.categorical]
        learners = [TableLearner(c, list(train.categorical), numeric, len(train.classes), ray=ev.ray,
                                 workers=ev.workers) for c in self.specs(ev)]
        return learners, {"classifier_kind": "scikit-learn", "learners": {lr.name: lr.describe() for lr in learners},
                          **({"fits_on": f"Ray tasks ({ev.ray})"} if ev.ray else {})}

    def check(self, train: Dataset, ev: EvaluateConfig, losses: bool) -> None:
        """Every learner the recipe names, built and fitted on a handful of the training rows before any
        training (with sample weights when the grid re-weights): one line naming a bad one."""
        numeric = [c for c in train.x.columns if c not in train.categorical]
        for spec in self.specs(ev):
            learner = TableLearner(spec, list(train.categorical), numeric, len(train.classes))
            if losses and not learner.takes_weights():
                raise RecipeError(f"learner '{shown(spec)}': its fit() takes no sample_weight, which the "
                                  "re-weighting arms need; take them off the grid (evaluate.rebalancing) or use "
                                  "another estimator")
            if learner.factory is not None:
                learner.trial_fit(train.x, train.y, weights=losses)

    def features(self, train: Dataset, ev: EvaluateConfig, device: str, learners: Sequence = ()):
        return TableCodec.fit(train.x, train.categorical).encode

    def recipe_defaults(self, train: Dataset) -> dict:
        """`augmentor run DATA`: the GAN settings of recipes/wine.toml and breast-cancer.toml (about 3,000
        steps); every rebalancing; logreg, HGB and random forest; 5 seeds."""
        per_epoch = max(1, -(-len(train) // 64))
        return {"model.g_channels": 256, "model.d_channels": 256, "train.epochs": max(1, -(-3000 // per_epoch)),
                "train.lr_g": 1e-3, "train.lr_d": 1e-3, "train.beta1": 0.5, "evaluate.seeds": 5}

    def use_it(self, learner: TableLearner, arm: Arm, train: Dataset, target) -> str:
        """The arm as a scikit-learn / imbalanced-learn pipeline for the user's own code (seed 0)."""
        numeric = [c for c in train.x.columns if c not in train.categorical]
        names = list(train.classes)
        strategy = {names[c]: int(n) for c, n in enumerate(target) if n > 0}
        imports = ["from imblearn.pipeline import make_pipeline", "from sklearn.compose import ColumnTransformer",
                   "from sklearn.preprocessing import OneHotEncoder, StandardScaler"]
        steps = []
        if arm.rebalance == "oversample":
            imports.append("from imblearn.over_sampling import RandomOverSampler")
            steps.append(f"RandomOverSampler(sampling_strategy={strategy!r}, random_state=0)")
        elif arm.rebalance == "smote":
            k = int(min(5, np.bincount(train.y).min() - 1))
            cats = list(train.categorical)
            kind = "SMOTEN" if cats and len(cats) == train.x.shape[1] else "SMOTENC" if cats else "SMOTE"
            imports.append(f"from imblearn.over_sampling import {kind}")
            extra = f"categorical_features={cats!r}, " if kind == "SMOTENC" else ""
            steps.append(f"{kind}({extra}sampling_strategy={strategy!r}, k_neighbors={k}, random_state=0)")
        steps.append('ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore"), '
                     f'{list(train.categorical)!r}),\n                      ("numeric", StandardScaler(), '
                     f'{numeric!r})])')
        weight = "'balanced'" if arm.loss != "ce" else "None"
        fit = "model.fit(x, y)"
        if learner.factory is None:
            imports.append({"logreg": "from sklearn.linear_model import LogisticRegression",
                            "hgb": "from sklearn.ensemble import HistGradientBoostingClassifier",
                            "rf": "from sklearn.ensemble import RandomForestClassifier"}[learner.name])
            steps.append({"logreg": f"LogisticRegression(max_iter=5000, class_weight={weight})",
                          "hgb": f"HistGradientBoostingClassifier(random_state=0, class_weight={weight})",
                          "rf": f"RandomForestClassifier(n_estimators=200, random_state=0, n_jobs=1, "
                                f"class_weight={weight})"}[learner.name])
        else:
            module, attr, kwargs = parse(learner.name)
            imports.append(f"from {module} import {attr.split('.')[0]}")
            steps.append(f"{attr}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})")
            if arm.loss != "ce":
                imports.append("from sklearn.utils.class_weight import compute_sample_weight")
                fit = (f"model.fit(x, y, {type(learner._estimator(0)).__name__.lower()}__sample_weight="
                       "compute_sample_weight('balanced', y))")
        return "\n".join(
            [f"# {learner.name}'s best arm without a GAN on this data: {arm.name}. x: your training table (these "
             "columns), y: its labels.", *sorted(set(imports)), "",
             "model = make_pipeline(\n    " + ",\n    ".join(steps) + ")", fit,
             "predictions = model.predict(x_new)"])

    def extra_sections(self, train: Dataset, sets: dict, validation: Dataset) -> dict:
        return {"validity": {name: synthetic_validity(train, s) for name, s in sets.items()}}


class TableLearner(RayFits, HardTeacher):
    """Tables: one scikit-learn classifier — a built-in name (TABLE_CLASSIFIERS) or any scikit-learn-compatible
    estimator by import path (`"xgboost:XGBClassifier(n_estimators=300)"`, evaluation/learner_spec.py). The loss-side
    fix is class_weight='balanced' for the built-ins, balanced sample weights for an estimator by path."""

    def __init__(self, name: str, categorical: list[str], numeric: list[str], n_classes: int = 0, ray: str = "",
                 workers: int = 1) -> None:
        self.name, self.categorical, self.numeric = short_name(name), categorical, numeric
        self.spec, self.ray, self.workers = name, ray, workers  # ray: fits as Ray tasks (evaluation/ray_fits.py)
        self.factory, self.n_classes = None, n_classes
        self.models: dict = {}  # (arm, seed) -> fitted pipeline of a non-GAN arm, for teacher arms
        if is_import_path(name):
            self.factory, self.kwargs = resolve(name, ("fit", "predict_proba"))  # a class, checked before any call
            self._estimator(0)
        elif name not in TABLE_CLASSIFIERS:
            raise RecipeError(f"unknown table classifier '{shown(name)}'; choose from {', '.join(TABLE_CLASSIFIERS)} "
                              "or name an estimator class by import path ('package.module:Class')")

    def describe(self) -> str:
        return "built-in" if self.factory is None else f"by import path, arguments {self.kwargs}"

    def cache_identity(self) -> str:
        """Everything about this learner that changes a fit (fit_cache.py keys a kept fit by it)."""
        return json.dumps([type(self).__name__, self.spec, self.categorical, self.numeric, self.n_classes])

    def trial_fit(self, x, y, weights: bool = False) -> None:
        """A fresh estimator fitted on a handful of the rows, its predict_proba checked: a bad argument or a
        broken estimator fails here, in one line, not after the GAN has trained."""
        from sklearn.pipeline import Pipeline

        rows = handful(y)
        xs, ys = x.iloc[rows], np.asarray(y)[rows]
        model = Pipeline([("columns", _columns(self.categorical, self.numeric)), ("model", self._estimator(0))])
        fit = {"model__sample_weight": np.ones(len(ys))} if weights else {}
        trial(self.name, f"a trial fit on {len(ys)} training rows", model.fit, xs, ys, **fit)
        self._proba(model, xs)

    def takes_weights(self) -> bool:
        from sklearn.utils.validation import has_fit_parameter

        return self.factory is None or has_fit_parameter(self._estimator(0), "sample_weight")

    def _estimator(self, seed: int):
        return build(self.factory, self.kwargs, self.name, seed)

    @staticmethod
    def fit_key(arm: Arm) -> tuple:
        """Every loss fix is the same fit here: class_weight='balanced'."""
        return arm.rebalance if arm.loss == "ce" else "balanced", arm.classic, arm.mixup

    def teacher_scores(self, model, x) -> np.ndarray:
        return class_scores(self._proba(model, x), self.n_classes, model.classes_)

    def fit_job(self, arm: Arm, x, y, seed: int) -> dict:
        return {"arm": arm.name, "loss": arm.loss, "rows": self._rows(arm, x, y, seed), "seed": seed,
                "keep": arm.kind != "gan"}

    def run_job(self, job: dict, evals: Sequence) -> tuple[list[np.ndarray], object]:
        model = self.fit_model(job["arm"], job["loss"], *job["rows"], job["seed"])
        return self.predict(model, evals), model if job["keep"] else None

    def _rows(self, arm: Arm, x, y, seed: int) -> tuple:
        """(x, y, sample weights or None): the arm's rows, with a teacher arm's GAN rows its teacher agrees with."""
        rows = self.teacher_rows(arm, seed, self.n_classes) if arm.soft is not None else None
        return with_rows(x, y, rows, arm.soft.weight if arm.soft is not None and self.takes_weights() else 1.0)

    def fit_model(self, arm_name: str, loss: str, x, y, w, seed: int):
        """One fitted pipeline: the built-in classifier (class_weight='balanced' for a loss fix), or the estimator
        by path (balanced sample weights for a loss fix)."""
        if self.factory is None:
            model = table_classifier(self.name, self.categorical, self.numeric, seed, balanced=loss != "ce")
            model.fit(x, y, **({f"{model.steps[-1][0]}__sample_weight": w} if w is not None else {}))
            return model
        from sklearn.pipeline import Pipeline
        from sklearn.utils.class_weight import compute_sample_weight

        model = Pipeline([("columns", _columns(self.categorical, self.numeric)), ("model", self._estimator(seed))])
        if loss != "ce":
            if not self.takes_weights():
                raise RecipeError(f"learner '{self.name}': arm {arm_name} re-weights the loss, and its fit() takes "
                                  "no sample_weight; take the loss fixes off the grid (evaluate.rebalancing)")
            balanced = compute_sample_weight("balanced", y)
            fit = {"model__sample_weight": balanced * (w if w is not None else 1.0)}
        elif w is not None and self.takes_weights():
            fit = {"model__sample_weight": w}
        else:
            fit = {}
        trial(self.name, f"fit (arm {arm_name}, seed {seed})", model.fit, x, y, **fit)
        return model

    def predict(self, model, evals: Sequence) -> list[np.ndarray]:
        if self.factory is None:
            return [model.predict(e) for e in evals]
        classes = np.asarray(model.classes_)
        return [classes[self._proba(model, e).argmax(1)] for e in evals]

    def _proba(self, model, x) -> np.ndarray:
        raw = trial(self.name, "predict_proba", model.predict_proba, x)
        return check_scores(self.name, raw, len(x), self.n_classes, len(model.classes_))




def table_classifier(name: str, categorical: list[str], numeric: list[str], seed: int, balanced: bool = False):
    """A scikit-learn pipeline: one-hot categorical + standardised numeric -> classifier.

    `logreg` logistic regression, `hgb` histogram gradient boosting, `rf` random forest
    (200 trees). `seed` sets the classifier's own randomness (none for logreg);
    `balanced` sets class_weight="balanced", the loss-side long-tail fix for tables."""
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    weight = "balanced" if balanced else None
    models = {
        "logreg": lambda: LogisticRegression(max_iter=5000, class_weight=weight),
        "hgb": lambda: HistGradientBoostingClassifier(random_state=seed, class_weight=weight),
        "rf": lambda: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1, class_weight=weight),
    }
    if name not in models:
        raise RecipeError(f"unknown table classifier '{name}'; choose from {', '.join(TABLE_CLASSIFIERS)}")
    return make_pipeline(_columns(categorical, numeric), models[name]())


def _columns(categorical: list[str], numeric: list[str]):
    """One-hot categorical + standardised numeric columns, for every table learner."""
    from sklearn.compose import ColumnTransformer
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    return ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
                              ("numeric", StandardScaler(), numeric)])




def smote_tables(train: TableData, strategy: dict, k: int, seed: int) -> tuple:
    """SMOTE, SMOTENC with some categorical columns, SMOTEN with only categorical ones."""
    cats = [train.x.columns.get_loc(c) for c in train.categorical]
    if cats and len(cats) == train.x.shape[1]:
        from imblearn.over_sampling import SMOTEN

        sampler = SMOTEN(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    elif cats:
        from imblearn.over_sampling import SMOTENC

        sampler = SMOTENC(categorical_features=cats, sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    else:
        from imblearn.over_sampling import SMOTE

        sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    x, y = sampler.fit_resample(train.x, train.y)
    return pd.DataFrame(x, columns=train.x.columns).astype(train.x.dtypes.to_dict()), y


def synthetic_validity(train: TableData, synthetic: TableData) -> dict:
    """Does every synthetic row look like a row of the training table? Seen categories
    only, integer columns integral, numeric values inside the observed range."""
    out = {"rows": len(synthetic), "unseen_categories": {}, "non_integral": {}, "out_of_range": {}}
    for c in train.x.columns:
        real, fake = train.x[c], synthetic.x[c]
        if c in train.categorical:
            bad = int((~fake.isin(set(real.tolist()))).sum())
            if bad:
                out["unseen_categories"][c] = bad
            continue
        v = fake.to_numpy(np.float64)
        if c in train.integer and (bad := int((v != np.round(v)).sum())):
            out["non_integral"][c] = bad
        if bad := int(((v < real.min()) | (v > real.max())).sum()):
            out["out_of_range"][c] = bad
    out["valid"] = not (out["unseen_categories"] or out["non_integral"] or out["out_of_range"])
    return out
