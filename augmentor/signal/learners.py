"""How signals are evaluated: the small 1-D CNN (and MiniRocket when sktime is installed), the six
classic transforms as candidates, the loss fixes and mixup; fidelity in the 1-D CNN's penultimate
layer, memorisation and a classifier two-sample test; SMOTE on the flattened series."""

from __future__ import annotations

import json

import numpy as np
import torch
from torch import nn

from ..core.errors import InvalidDataError, RecipeError
from ..core.labels import align_classes
from ..evaluation.arms import HardTeacher, class_scores, steps_for, with_rows
from ..evaluation.classifiers import copies, embed, fit_cnn, predict_proba, soft_teacher_samples
from ..evaluation.learner_spec import build, check_labels, check_scores, handful, shown, trial
from ..evaluation.ray_fits import RayFits
from ..evaluation.stage import memorisation_section
from ..evaluation.steps_plan import floor_steps
from ..evaluation.use_it import resampling_lines
from .augment import CLASSIC, classic_signal_augmentation
from .data import SignalData


class SmallCNN1d(nn.Module):
    """Three conv1d layers (32, 64, 128; kernel 7) with batch norm, max pooling, global average
    pooling, dropout, a linear head. Each channel enters twice: z-normalised per series (its shape),
    and as log(1 + its sd / the training split's sd) (its level: PLAID's appliances differ by orders
    of magnitude in current). On PLAID's validation split (280 steps) this read 0.74 balanced
    accuracy, against 0.64 with the shape alone and 0.34 with the series divided by the training sd."""

    def __init__(self, channels: int, n_classes: int, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float32)).view(1, -1, 1))
        self.features = nn.Sequential(
            nn.Conv1d(2 * channels, 32, 7, padding=3), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 7, padding=3), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(64, 128, 7, padding=3), nn.BatchNorm1d(128), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        sd = x.std(2, keepdim=True)
        shape = (x - x.mean(2, keepdim=True)) / (sd + 1e-6)
        return self.features(torch.cat([shape, torch.log1p(sd / self.scale).expand_as(x)], 1))


def channel_scale(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=(0, 2)).astype(np.float32)
    return np.where(sd > 0, sd, 1.0)


class Cnn1dLearner(RayFits):
    """Signals: the small 1-D CNN, the same step budget for every arm (as the image CNN)."""

    soft_targets = True  # fits teacher arms (GAN samples with soft targets from another arm's model)

    def __init__(self, n_classes: int, steps: int, batch_size: int, lr: float, device: str, scale: np.ndarray,
                 ray: str = "", workers: int = 1) -> None:
        self.name, self.n_classes, self.steps = "SmallCNN1d", n_classes, steps
        self.batch_size, self.lr, self.device, self.scale = batch_size, lr, device, scale
        self.models: dict = {}  # (arm, seed) -> fitted network of a non-GAN arm, for teacher arms
        self.ray, self.workers = ray, workers  # ray: the fits as Ray tasks (evaluation/ray_fits.py)

    def network(self, shape: tuple[int, ...], n_classes: int) -> nn.Module:
        return SmallCNN1d(shape[0], n_classes, self.scale)

    def cache_identity(self) -> str:
        """Everything about this learner that changes a fit (fit_cache.py keys a kept fit by it)."""
        return json.dumps([type(self).__name__, self.n_classes, self.steps, self.batch_size, self.lr, self.device,
                           np.asarray(self.scale, np.float64).tolist()])

    def model_state(self, arm, seed: int) -> dict | None:
        """The fitted network of (arm, seed) as arrays, when a later teacher arm may use it."""
        from ..evaluation.fitpool import state_arrays

        model = self.models.get((arm.name, seed))
        return state_arrays(model) if model is not None else None

    def restore_model(self, arm, seed: int, state: dict, shape: tuple) -> None:
        model = self.network(shape, self.n_classes)
        model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
        self.models[(arm.name, seed)] = model.eval()

    def fit_job(self, arm, x, y, seed: int) -> dict:
        soft = (soft_teacher_samples(arm, seed, self.models[(arm.teacher, seed)], self.n_classes)
                if arm.soft is not None else None)
        return {"x": x, "y": y, "seed": seed, "classic": arm.classic, "loss": arm.loss, "mixup": arm.mixup,
                "soft": soft, "keep": arm.kind != "gan"}

    def run_job(self, job: dict, evals) -> tuple[list[np.ndarray], object]:
        model = fit_cnn(job["x"], job["y"], self.n_classes, steps=self.steps, batch_size=self.batch_size, lr=self.lr,
                        seed=job["seed"], device=self.device, loss=job["loss"], mixup=job["mixup"], soft=job["soft"],
                        augment=classic_signal_augmentation(job["classic"]) if job["classic"] else None,
                        network=self.network)
        return [predict_proba(model, e).argmax(1) for e in evals], model if job["keep"] else None


class MiniRocketLearner(RayFits, HardTeacher):
    """MiniRocket features (Dempster et al. 2021, sktime) and a ridge classifier with its usual
    alpha search. The one loss-side fix a ridge takes is class weights (every loss arm uses
    'balanced'); classic augmentation adds one transformed copy of every training series; mixup
    adds one mixed copy of every series whose label is the larger share's (lambda ~ Beta(a, a))."""

    name = "MiniRocket"

    def __init__(self, n_classes: int, ray: str = "", workers: int = 1) -> None:
        self.n_classes, self.ray, self.workers = n_classes, ray, workers
        self.models: dict = {}  # (arm, seed) -> (rocket, ridge) of a non-GAN arm, for teacher arms

    def cache_identity(self) -> str:
        """Everything about this learner that changes a fit (fit_cache.py keys a kept fit by it)."""
        return json.dumps([type(self).__name__, self.n_classes])

    @staticmethod
    def teacher_scores(model, x) -> np.ndarray:
        rocket, clf = model
        return clf.decision_function(np.asarray(rocket.transform(np.asarray(x, np.float64))))

    @staticmethod
    def fit_key(arm) -> tuple:
        """Every loss fix is the same fit here: class_weight='balanced'."""
        return arm.rebalance if arm.loss == "ce" else "balanced", arm.classic, arm.mixup

    def fit_job(self, arm, x, y, seed: int) -> dict:
        return _copies_job(self, arm, x, y, seed)

    def run_job(self, job: dict, evals) -> tuple[list[np.ndarray], object]:
        from sklearn.linear_model import RidgeClassifierCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = augmented_copies(job["x"], job["y"], job["seed"], job["classic"], job["mixup"])
        x, y, w = with_rows(x, y, job["rows"], job["weight"])
        rocket = minirocket(job["seed"])
        feats = rocket.fit_transform(x.astype(np.float64))
        clf = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10),
                                                                class_weight="balanced" if job["balanced"] else None))
        clf.fit(np.asarray(feats), y, **({"ridgeclassifiercv__sample_weight": w} if w is not None else {}))
        return ([clf.predict(np.asarray(rocket.transform(np.asarray(e, np.float64)))) for e in evals],
                (rocket, clf) if job["keep"] else None)


def augmented_copies(x, y, seed: int, classic: str = "", mixup: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """For a learner without a training loop: classic augmentation (a policy name) adds one transformed copy
    of every series, mixup (alpha > 0) one mixed copy labelled by the larger share (lambda ~ Beta(a, a))."""
    return copies(x, y, seed, classic_signal_augmentation(classic) if classic else None, mixup)


def _copies_job(learner, arm, x, y, seed: int) -> dict:
    """A fit of a learner that takes copies (classic augmentation, mixup) and a teacher arm's picked rows."""
    return {"x": x, "y": y, "seed": seed, "classic": arm.classic, "mixup": arm.mixup, "balanced": arm.loss != "ce",
            "rows": learner.teacher_rows(arm, seed, learner.n_classes) if arm.soft is not None else None,
            "weight": arm.soft.weight if arm.soft is not None else 1, "keep": arm.kind != "gan"}


class ImportedLearner(RayFits, HardTeacher):
    """A user's time-series classifier by import path (sktime / aeon style: `fit(X, y)` on
    (series, channels, length) arrays, `predict`), e.g. `"sktime.classification.kernel_based:Arsenal"`.
    Classic augmentation and mixup add copies (augmented_copies); it takes no class weights, so a loss-fix
    cell is the same fit as the cell without it, named together."""

    def __init__(self, spec: str, n_classes: int = 0, ray: str = "", workers: int = 1) -> None:
        from ..evaluation.learner_spec import resolve, short_name

        self.n_classes, self.spec, self.ray, self.workers = n_classes, spec, ray, workers
        self.name, (self.factory, self.kwargs) = short_name(spec), resolve(spec, ("fit", "predict"))
        self.models: dict = {}  # (arm, seed) -> fitted estimator of a non-GAN arm, for teacher arms
        self.probabilistic = hasattr(self._estimator(0), "predict_proba")

    def trial_fit(self, x, y) -> None:
        """A fresh estimator fitted on a handful of the series, its predictions checked: a bad argument or a
        broken classifier fails here, in one line, not after the GAN has trained."""
        rows = handful(y)
        xs, ys = np.asarray(x, np.float64)[rows], np.asarray(y)[rows]
        est = trial(self.name, f"a trial fit on {len(ys)} training series", self._estimator(0).fit, xs, ys)
        check_labels(self.name, trial(self.name, "predict", est.predict, xs), len(ys))
        if self.probabilistic:
            self.teacher_scores(est, xs)

    @property
    def teacher_scores(self):
        """The teacher's class probabilities (teacher arms need `predict_proba`; without it, no teacher arm)."""
        if not self.probabilistic:
            raise AttributeError("teacher_scores")
        def scores(model, x) -> np.ndarray:
            classes = getattr(model, "classes_", None)
            raw = trial(self.name, "predict_proba", model.predict_proba, np.asarray(x, np.float64))
            return class_scores(check_scores(self.name, raw, len(x), self.n_classes,
                                             None if classes is None else len(classes)), self.n_classes, classes)

        return scores

    def takes_weights(self) -> bool:
        return False  # fit(X, y): the teacher arm's rows count as real ones

    def cache_identity(self) -> str:
        """Everything about this learner that changes a fit (fit_cache.py keys a kept fit by it)."""
        return json.dumps([type(self).__name__, self.spec, self.n_classes])

    @staticmethod
    def fit_key(arm) -> tuple:
        return arm.rebalance if arm.loss == "ce" else "none", arm.classic, arm.mixup

    @staticmethod
    def ignores_loss() -> bool:
        return True  # fit(X, y): no class weights, so a loss-fix cell is named as the plain fit

    def _estimator(self, seed: int):
        return build(self.factory, self.kwargs, self.name, seed)

    def describe(self) -> str:
        return f"by import path, arguments {self.kwargs}"

    def fit_job(self, arm, x, y, seed: int) -> dict:
        return {**_copies_job(self, arm, x, y, seed), "arm": arm.name}

    def run_job(self, job: dict, evals) -> tuple[list[np.ndarray], object]:
        x, y = augmented_copies(job["x"], job["y"], job["seed"], job["classic"], job["mixup"])
        x, y, _ = with_rows(x, y, job["rows"])  # fit(X, y): the teacher's rows count as real ones
        est = trial(self.name, f"fit (arm {job['arm']}, seed {job['seed']})", self._estimator(job["seed"]).fit,
                    x.astype(np.float64), y)
        return ([check_labels(self.name, trial(self.name, "predict", est.predict, np.asarray(e, np.float64)), len(e))
                 for e in evals], est if job["keep"] else None)


def minirocket(seed: int):
    """sktime's MiniRocket (multivariate form, which takes one channel too), seeded."""
    try:
        from sktime.transformations.panel.rocket import MiniRocketMultivariate
    except ImportError:
        raise InvalidDataError("the MiniRocket learner needs sktime and numba; pip install 'augmentor[signals]'") \
            from None
    return MiniRocketMultivariate(random_state=seed)


def has_minirocket() -> bool:
    try:
        import numba  # noqa: F401
        import sktime  # noqa: F401
    except ImportError:
        return False
    return True


class SignalEvaluation:
    """Signals: the 1-D CNN (and MiniRocket when sktime is installed), the six classic transforms as
    candidates, the three loss fixes and mixup; fidelity in the 1-D CNN's penultimate layer."""

    losses, classic = ("reweight", "logit-adjust", "drw"), True
    ray = True  # its fits can run as Ray tasks (evaluate.ray)
    augment_path = "augmentor.signal.augment:classic_signal_augmentation"  # for a learner object (user_learner.py)

    def classic_candidates(self, train: SignalData, ev) -> tuple[str, ...]:
        return tuple(c for c in ev.classic if c in CLASSIC) or CLASSIC

    def mixup(self, ev) -> tuple[float, ...]:
        return ev.mixup

    def specs(self, ev) -> tuple[str, ...]:
        """The learners a recipe names, or the defaults (the 1-D CNN, and MiniRocket where sktime is installed)."""
        return tuple(ev.learners) or (("cnn1d", "minirocket") if has_minirocket() else ("cnn1d",))

    def learners(self, train: SignalData, ev, device: str) -> tuple[list, dict]:
        steps = floor_steps(steps_for(len(train), ev.epochs, ev.batch_size), ev.min_steps)
        k = len(train.classes)
        on = {"ray": ev.ray, "workers": ev.workers}  # ray: the fits as Ray tasks (evaluation/ray_fits.py)
        builtin = {"cnn1d": lambda: Cnn1dLearner(k, steps, ev.batch_size, ev.lr, device, channel_scale(train.x), **on),
                   "minirocket": lambda: MiniRocketLearner(k, **on)}
        learners: list = [builtin[s]() if s in builtin else self._imported(s, k, **on) for s in self.specs(ev)]
        return learners, {"epochs": ev.epochs, "steps_per_arm": steps, "batch_size": ev.batch_size, "lr": ev.lr,
                          "classic_candidates": list(self.classic_candidates(train, ev)),
                          "mixup_alphas": list(ev.mixup), "device": device, "length_fit": train.fitted or "none",
                          "minirocket": "sktime MiniRocketMultivariate + RidgeClassifierCV" if has_minirocket() else
                          "not installed (pip install 'augmentor[signals]')",
                          "learners": {lr.name: getattr(lr, "describe", lambda: "built-in")() for lr in learners},
                          **({"fits_on": f"Ray tasks ({ev.ray})"} if ev.ray else {})}

    def recipe_defaults(self, train: SignalData) -> dict:
        """`augmentor run DATA`: the GAN settings of recipes/japanese-vowels-longtail.toml (about 1,000 steps),
        its grid, and about 120 steps of the 1-D CNN per arm."""
        per_epoch = max(1, -(-len(train) // 64))
        return {"model.g_channels": 64, "model.d_channels": 32, "train.epochs": max(1, -(-1000 // per_epoch)),
                "train.diffaugment": ["translation", "cutout", "color"], "synthesize.format": "",
                "evaluate.epochs": max(1, -(-120 // per_epoch)), "evaluate.doses": [],
                "evaluate.filter_threshold": 0.0, "evaluate.rebalancing": ["oversample", "logit-adjust", "drw"],
                "evaluate.classic": ["jitter", "time-warp"], "evaluate.mixup": [0.4],
                "evaluate.step_multipliers": [1, 2, 4]}

    def use_it(self, learner, arm, train: SignalData, target) -> str:
        """The arm as calls of the product's tested pieces, for the user's own code (seed 0)."""
        k = len(train.classes)
        lines = [f"# {learner.name}'s best arm without a GAN on this data: {arm.name}. x: float32 series "
                 f"(N, channels, length); y: class indices 0..{k - 1} for {list(train.classes)}.",
                 "import numpy as np"]
        body = resampling_lines(arm, target, train.shape)
        if isinstance(learner, Cnn1dLearner):
            augment = f"classic_signal_augmentation({arm.classic!r})" if arm.classic else "None"
            lines += ["from augmentor.signal.learners import fit_cnn, predict_proba",
                      "from augmentor.signal.augment import classic_signal_augmentation",
                      "from augmentor.signal.learners import SmallCNN1d, channel_scale", *body,
                      "scale = channel_scale(x)",
                      f"model = fit_cnn(x, y, {k}, steps={learner.steps}, batch_size={learner.batch_size}, "
                      f"lr={learner.lr}, seed=0, augment={augment}, loss={arm.loss!r}, mixup={arm.mixup},",
                      "                network=lambda shape, k: SmallCNN1d(shape[0], k, scale))",
                      "predictions = predict_proba(model, x_new).argmax(1)"]
            return "\n".join(lines)
        lines += ["from augmentor.signal.learners import augmented_copies", *body,
                  f"x, y = augmented_copies(x, y, seed=0, classic={arm.classic!r}, mixup={arm.mixup})"]
        if isinstance(learner, MiniRocketLearner):
            weight = "'balanced'" if arm.loss != "ce" else "None"
            lines += ["from sklearn.linear_model import RidgeClassifierCV",
                      "from sklearn.pipeline import make_pipeline", "from sklearn.preprocessing import StandardScaler",
                      "from sktime.transformations.panel.rocket import MiniRocketMultivariate",
                      "rocket = MiniRocketMultivariate(random_state=0)",
                      "model = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10), "
                      f"class_weight={weight}))",
                      "model.fit(np.asarray(rocket.fit_transform(x.astype(np.float64))), y)",
                      "predictions = model.predict(np.asarray(rocket.transform(x_new.astype(np.float64))))"]
        else:
            from ..evaluation.learner_spec import parse

            module, attr, kwargs = parse(learner.name)
            args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
            lines += [f"from {module} import {attr.split('.')[0]}",
                      f"model = {attr}({args}).fit(x.astype(np.float64), y)",
                      "predictions = model.predict(x_new.astype(np.float64))"]
        return "\n".join(lines)

    @staticmethod
    def _imported(spec: str, n_classes: int = 0, **on):
        if ":" not in spec:
            raise RecipeError(f"unknown signal learner '{shown(spec)}'; choose cnn1d or minirocket, or name a "
                              "classifier by import path ('package.module:Name')")
        return ImportedLearner(spec, n_classes, **on)

    def check(self, train: SignalData, ev, losses: bool) -> None:
        """Every learner the recipe names, built once before any training."""
        for spec in ev.learners:
            if spec not in ("cnn1d", "minirocket"):
                self._imported(spec, len(train.classes)).trial_fit(train.x, train.y)
            elif spec == "minirocket" and not has_minirocket():
                raise RecipeError("learner 'minirocket' needs sktime and numba; pip install 'augmentor[signals]'")

    def features(self, train: SignalData, ev, device: str, learners=()):
        scale = channel_scale(train.x)
        model = fit_cnn(train.x, train.y, len(train.classes), steps=steps_for(len(train), ev.epochs, ev.batch_size),
                        batch_size=ev.batch_size, lr=ev.lr, seed=0, device=device,
                        network=lambda shape, k: SmallCNN1d(shape[0], k, scale))
        return lambda x: embed(model, x)

    def extra_sections(self, train: SignalData, sets: dict, validation: SignalData) -> dict:
        out = {"memorisation": memorisation_section(train, sets, validation)}
        if has_minirocket():
            val = align_classes(validation, train.classes)
            out["two_sample_test"] = {name: two_sample_test(val.x, s.x) for name, s in sets.items() if len(s)}
        return out


def two_sample_test(real: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> dict:
    """A classifier two-sample test (Lopez-Paz & Oquab 2017) on MiniRocket features: real validation series
    against as many synthetic ones (drawn without replacement), logistic regression, 5-fold cross-validated
    accuracy. 0.5: the classifier cannot tell them apart; 1.0: every synthetic series is recognisable."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic))
    x = np.concatenate([real[rng.choice(len(real), n, replace=False)],
                        synthetic[rng.choice(len(synthetic), n, replace=False)]]).astype(np.float64)
    y = np.repeat([0, 1], n)
    feats = np.asarray(minirocket(seed).fit_transform(x))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed) if n >= 5 else 2
    acc = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), feats, y, cv=folds)
    return {"accuracy": float(acc.mean()), "sd_over_folds": float(acc.std()), "per_side": int(n),
            "features": "MiniRocket (fitted on the pooled series)", "chance": 0.5}
