"""The arms of an evaluation: one `Arm` model for every modality, and the learners that fit them.

An arm is a recipe for a training set, given a seed: the real split as given, a
resampled split, or the real split plus GAN samples drawn afresh for that seed; it also
says whether classic augmentation and which loss the classifier uses. Kinds:

  reference   `real`: the training split as given, plain loss
  baseline    what a practitioner does without a GAN: over-sampling, SMOTE, classic augmentation
  loss        loss-side long-tail fixes: class-balanced re-weighting, logit adjustment
  gan         arms that use GAN samples

A learner fits one arm for one seed and predicts the validation and test splits: the
small CNN for images (every arm the same number of steps), scikit-learn classifiers for
tables. Nothing here reads the test split except to predict it after the fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from imblearn.over_sampling import SMOTE, RandomOverSampler

from .data import LabelledData, align_classes
from .tables import TableData

Dataset = LabelledData | TableData
Draws = Callable[[int], Dataset]  # seed -> a synthetic set drawn for that seed


@dataclass(frozen=True)
class Arm:
    name: str
    description: str
    make: Callable[[int], tuple]  # seed -> (x, y) training data
    kind: str = "baseline"  # reference | baseline | loss | gan
    classic: str = ""  # classic augmentation policy (classifiers.CLASSIC_POLICIES), "" for none
    loss: str = "ce"  # ce | reweight | logit-adjust | drw
    mixup: float = 0.0  # mixup alpha, 0 for none
    extra: dict = field(default_factory=dict)  # facts for the report (e.g. filter acceptance)
    teacher: str = ""  # GAN samples chosen and soft-labelled by this arm's model of the same seed
    soft: TeacherPlan | None = None

    @property
    def uses_gan(self) -> bool:
        return self.kind == "gan"


@dataclass(frozen=True)
class TeacherPlan:
    """How a teacher-labelled arm uses GAN samples (images): from `pool(seed)` (a draw of several
    times each class's gap) keep per class the `want[c]` samples its teacher rates most
    class-like, target the teacher's distribution at `temperature` (0: their conditioning
    label), weight each `weight` x a real sample, let them join after `join_at` of the steps,
    with the loss's prior or class weights of the effective mixture (classifiers.SoftSynthetic)."""

    pool: Draws
    want: np.ndarray
    pool_factor: int = 3
    temperature: float = 2.0
    weight: float = 0.5
    join_at: float = 0.75
    max_share: float = 1.0  # `want` serves only classes with at most this share of the largest's count (naming)


def teacher_want(counts: np.ndarray, gap: np.ndarray, dose: float = 1.0, max_share: float = 1.0) -> np.ndarray:
    """How many GAN samples the teacher arm keeps per class: `dose` x the class's real count, at
    most its gap (dose 0: the whole gap), and none for a class whose real count is above
    `max_share` x the largest class's (the GAN serves the thin classes; 1: every class)."""
    counts, gap = np.asarray(counts), np.asarray(gap)
    want = gap if dose == 0 else np.minimum(gap, np.round(dose * counts).astype(int))
    return np.where(counts <= max_share * counts.max(), want, 0)


SOFT_FALLBACK_TEMPERATURE = 2.0  # hard-label plans: the target of a kept sample the teacher disagrees with


def plan_targets(plan: TeacherPlan, probs: np.ndarray, labels: np.ndarray, n_classes: int) -> np.ndarray:
    """The kept samples' targets: the teacher's distribution at `plan.temperature`, or, at
    temperature 0, the conditioning label one-hot (hard labels on the teacher's top-k) where the
    teacher's top class is that label, and the teacher's distribution at SOFT_FALLBACK_TEMPERATURE
    where it is not: a sample whose shape leaked from another class never gets a hard label
    the teacher contradicts (on a data set whose thin classes the generator draws badly, the
    top-k of such a class can hold samples the teacher calls something else)."""
    from .classifiers import teacher_targets

    if plan.temperature > 0:
        return teacher_targets(probs, plan.temperature)
    hard = np.eye(n_classes, dtype=np.float32)[labels]
    disagree = probs.argmax(1) != labels
    hard[disagree] = teacher_targets(probs[disagree], SOFT_FALLBACK_TEMPERATURE)
    return hard


def oversample(train: Dataset, target: np.ndarray, seed: int, method: str = "random") -> tuple:
    """Random over-sampling, or SMOTE in the modality's own form, to the `target` counts."""
    strategy = {c: int(n) for c, n in enumerate(target) if n > 0}
    if method == "random":
        idx, _ = RandomOverSampler(sampling_strategy=strategy, random_state=seed).fit_resample(
            np.arange(len(train)).reshape(-1, 1), train.y)
        d = train.subset(idx.ravel())
        return d.x, d.y
    from . import modalities

    return modalities.get(train.modality).smote(train, strategy, int(min(5, np.bincount(train.y).min() - 1)), seed)


def _smote_images(train: LabelledData, strategy: dict, k: int, seed: int) -> tuple:
    x, y = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed).fit_resample(
        train.x.reshape(len(train), -1), train.y)
    return x.reshape(-1, *train.shape).astype(np.float32), y


def _smote_tables(train: TableData, strategy: dict, k: int, seed: int) -> tuple:
    """SMOTE, SMOTENC with some categorical columns, SMOTEN with only categorical ones."""
    cats = [train.x.columns.get_loc(c) for c in train.categorical]
    if cats and len(cats) == train.x.shape[1]:
        from imblearn.over_sampling import SMOTEN

        sampler = SMOTEN(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    elif cats:
        from imblearn.over_sampling import SMOTENC

        sampler = SMOTENC(categorical_features=cats, sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    else:
        sampler = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed)
    x, y = sampler.fit_resample(train.x, train.y)
    return pd.DataFrame(x, columns=train.x.columns).astype(train.x.dtypes.to_dict()), y



def concat(train: Dataset, extra: Dataset) -> tuple:
    both = train.concat(align_classes(extra, train.classes))
    return both.x, both.y


def top_up(train: Dataset, extra: Dataset, target: np.ndarray, seed: int) -> tuple:
    """Real + `extra` (e.g. the filtered GAN draw), then every class still below `target` raised
    to it by random over-sampling of its real samples: synthetic samples where the GAN made
    acceptable ones, resampled real ones for the rest of the gap."""
    both = train.concat(align_classes(extra, train.classes))
    short = np.maximum(np.asarray(target) - np.bincount(both.y, minlength=len(target)), 0)
    rng = np.random.default_rng(seed)
    idx = [rng.choice(np.flatnonzero(train.y == c), int(n)) for c, n in enumerate(short)
           if n > 0 and (train.y == c).any()]
    if not idx:
        return both.x, both.y
    more = train.subset(np.concatenate(idx))
    out = both.concat(more)
    return out.x, out.y


LOSS_WORDS = {"reweight": "reweighted", "logit-adjust": "logit-adjusted", "drw": "DRW"}


def classic_candidate_arms(train: Dataset, candidates: Sequence[str]) -> list[Arm]:
    """`real+classic (NAME)` for each declared candidate policy; evaluation keeps the best on validation."""
    real = (train.x, train.y)
    return [Arm(f"real+classic ({c})", f"classic augmentation candidate: {c} (real data, plain loss)",
                lambda s: real, "baseline", classic=c) for c in candidates]


def build_arms(train: Dataset, *, target: np.ndarray, synthetic: Draws | None = None,
               synthetic_only: Draws | None = None, doses: dict[float, Draws] | None = None,
               filtered: Callable[[int], Dataset] | None = None, online: Callable[[int], object] | None = None,
               baselines: bool = True, losses: Sequence[str] = ("reweight", "logit-adjust"), classic: str = "",
               mixup: Sequence[float] = ()) -> list[Arm]:
    """Every arm the inputs allow, in report order. `target` is the per-class count the
    resampling baselines raise the classes to (the gap-filling plan's); `classic` is the classic
    augmentation policy chosen on validation ("" when none or none helped): the baselines and GAN
    arms named `+classic` use it; `mixup` lists the mixup alphas to try with over-sampling."""
    real = (train.x, train.y)
    tag = "+classic" if classic else ""
    what = f"classic augmentation ({classic}) + " if classic else ""
    arms = [Arm("real", "real training split as given", lambda s: real, "reference")]
    if baselines:
        arms += [Arm("real+oversampled", "random over-sampling to the target counts",
                     lambda s: oversample(train, target, s)),
                 Arm("real+SMOTE", "SMOTE (SMOTENC with categorical columns) to the target counts",
                     lambda s: oversample(train, target, s, "smote"))]
        if classic:
            arms.append(Arm("real+classic+oversampled", f"{what}random over-sampling",
                            lambda s: oversample(train, target, s), classic=classic))
        for loss in losses:
            text = {"reweight": "class-balanced re-weighting of the loss" if classic or mixup else
                    "class_weight='balanced'", "logit-adjust": "logit-adjusted loss (Menon et al. 2021, tau 1)",
                    "drw": "deferred re-weighting (plain loss, then effective-number class weights for the "
                    "last half of the steps; Cao et al. 2019)"}[loss]
            arms.append(Arm(f"real{tag}+{LOSS_WORDS[loss]}", what + text, lambda s: real, "loss",
                            classic=classic, loss=loss))
        for alpha in mixup:
            arms.append(Arm(f"real{tag}+oversampled+mixup {alpha:g}", f"{what}random over-sampling + mixup "
                            f"(alpha {alpha:g})", lambda s: oversample(train, target, s), classic=classic,
                            mixup=alpha))
    if synthetic is not None:
        arms.append(Arm("real+synthetic", "real + GAN samples filling the gaps (drawn afresh each seed)",
                        lambda s: concat(train, synthetic(s)), "gan"))
        if baselines and classic:
            arms.append(Arm("real+synthetic+classic", f"GAN gap-filling + classic augmentation ({classic})",
                            lambda s: concat(train, synthetic(s)), "gan", classic=classic))
    for ratio, draws in sorted((doses or {}).items()):
        arms.append(Arm(f"real+synthetic x{ratio:g}", f"real + {ratio:.0%} more per class from the GAN",
                        lambda s, d=draws: concat(train, d(s)), "gan"))
    if filtered is not None:
        arms.append(Arm("real+synthetic (filtered)", "the gap-filling draw, keeping the samples the quality "
                        "filter accepts", lambda s: concat(train, filtered(s)), "gan"))
        plus = f", + classic augmentation ({classic})" if classic else ""
        top_up_arm = Arm(f"real+synthetic (filtered)+oversampled{tag}", "the filtered gap-filling draw, the rest "
                         f"of each class's gap by random over-sampling of its real samples{plus}",
                         lambda s: top_up(train, filtered(s), target, s), "gan", classic=classic)
        if baselines and classic:
            arms.append(Arm("real+synthetic (filtered)+classic", "the filtered gap-filling draw + classic "
                            f"augmentation ({classic})", lambda s: concat(train, filtered(s)), "gan",
                            classic=classic))
        if baselines:
            arms.append(top_up_arm)
    if online is not None:
        arms.append(Arm("real+online-synthetic", "real + fresh GAN gap-filling samples every epoch "
                        "(OnlineSynthetic)", online, "gan"))
        if baselines and classic:
            arms.append(Arm("real+online-synthetic+classic", "fresh GAN gap-filling samples every epoch "
                            f"+ classic augmentation ({classic})", online, "gan", classic=classic))
    if synthetic_only is not None:
        def only(s: int) -> tuple:
            d = align_classes(synthetic_only(s), train.classes)
            return d.x, d.y
        arms.append(Arm("synthetic-only", "GAN samples only, class-balanced (Classification Accuracy Score)",
                        only, "gan"))
    return arms


def mixup_on_top_of(best_mixup: Arm, train: Dataset, loss: str = "logit-adjust") -> Arm:
    """Mixup at the alpha chosen on validation, with a loss-side fix instead of over-sampling."""
    real = (train.x, train.y)
    tag = "+classic" if best_mixup.classic else ""
    return Arm(f"real{tag}+{LOSS_WORDS[loss]}+mixup {best_mixup.mixup:g}",
               f"mixup (alpha {best_mixup.mixup:g}, chosen on validation) with the {LOSS_WORDS[loss]} loss"
               + (f", classic augmentation ({best_mixup.classic})" if best_mixup.classic else ""),
               lambda s: real, "loss", classic=best_mixup.classic, loss=loss, mixup=best_mixup.mixup)


def on_top_of(best: Arm, train: Dataset, draws: Draws, ratio: float) -> Arm:
    """GAN data together with the loss-side fix chosen on validation: real + `ratio` x count
    GAN samples per class (the real class mix kept), trained with `best`'s loss, augmentation and mixup."""
    return Arm(f"real+synthetic x{ratio:g}+{best.name.removeprefix('real+')}",
               f"real + {ratio:.0%} more per class from the GAN, with {best.description}",
               lambda s: concat(train, draws(s)), "gan", classic=best.classic, loss=best.loss, mixup=best.mixup)


def teacher_on_top_of(best: Arm, plan: TeacherPlan) -> Arm:
    """GAN samples chosen and soft-labelled by `best`'s own model of the same seed (its teacher),
    added late and down-weighted, with `best`'s loss and mixup (its loss must be ce, logit-adjust or drw)."""
    thin = plan.max_share < 1
    return Arm(f"real+synthetic (teacher{f', share {plan.max_share:g}' if thin else ''})+"
               f"{best.name.removeprefix('real+')}",
               f"{best.description}; + GAN samples kept per class by {best.name}'s model of the same seed "
               f"(top-k, {int(np.sum(plan.want))} in all, from a draw of {plan.pool_factor}x each class's gap"
               + (f"; only the classes with at most {plan.max_share:.0%} of the largest class's real samples"
                  if thin else "") + "), "
               + (f"its soft labels at temperature {plan.temperature:g}" if plan.temperature > 0 else
                  "their conditioning labels (hard) where the teacher agrees, its soft labels at temperature "
                  f"{SOFT_FALLBACK_TEMPERATURE:g} where it does not") + f", weight {plan.weight:g}, joining after "
               f"{plan.join_at:.0%} of the steps, the loss's prior or class weights from the real + synthetic mixture",
               best.make, "gan", classic=best.classic, loss=best.loss, mixup=best.mixup,
               teacher=best.name, soft=plan, extra={"teacher_selection": {}})


def online_on_top_of(best: Arm, online: Callable[[int], object]) -> Arm:
    """Fresh GAN samples every epoch together with the loss-side fix chosen on validation."""
    return Arm(f"real+online-synthetic+{best.name.removeprefix('real+')}",
               f"fresh GAN samples every epoch (OnlineSynthetic), with {best.description}",
               online, "gan", classic=best.classic, loss=best.loss, mixup=best.mixup)


class CnnLearner:
    """Images: a SmallCNN, the same step budget for every arm. With `workers` > 1 the fits of a
    batch run side by side in worker processes of one torch thread each (fitpool.py)."""

    def __init__(self, n_classes: int, steps: int, batch_size: int, lr: float, device: str,
                 workers: int = 1) -> None:
        self.name, self.n_classes, self.steps = "SmallCNN", n_classes, steps
        self.batch_size, self.lr, self.device = batch_size, lr, device
        self.workers = workers if device == "cpu" else 1
        self.models: dict[tuple[str, int], object] = {}  # (arm, seed) -> fitted SmallCNN, for teacher arms
        self._pool, self._evals = None, None

    def fit_predict(self, arm: Arm, x, y, seed: int, evals: Sequence) -> list[np.ndarray]:
        from .classifiers import predict_proba

        soft = self._teacher_samples(arm, seed) if arm.soft is not None else None
        model = _fit(self._job(arm, x, y, seed, soft))
        if arm.kind != "gan":
            self.models[(arm.name, seed)] = model  # a later arm may use it as its teacher
        return [predict_proba(model, e).argmax(1) for e in evals]

    def fit_predict_many(self, jobs: Iterable[tuple[Arm, object, object, int]], evals: Sequence) -> Iterator:
        """`fit_predict` for each (arm, x, y, seed), in order; in the worker pool when there is one.
        An arm with fresh draws every epoch (an OnlineSynthetic) is fitted here, in this process."""
        if self.workers < 2:
            for arm, x, y, seed in jobs:
                yield self.fit_predict(arm, x, y, seed, evals)
            return
        from .fitpool import FitPool

        if self._pool is None:
            self._pool, self._evals = FitPool(self.workers, {"evals": list(evals)}), evals
        elif evals is not self._evals:
            raise ValueError("a CnnLearner's worker pool predicts one set of evaluation inputs")
        local: dict[int, list[np.ndarray]] = {}  # index -> predictions of an in-process fit
        order: list[tuple[int, Arm, int, tuple]] = []  # the pooled jobs: index, arm, seed, image shape

        def remote():
            for i, (arm, x, y, seed) in enumerate(jobs):
                if hasattr(x, "epoch_arrays"):
                    local[i] = self.fit_predict(arm, x, y, seed, evals)
                    continue
                order.append((i, arm, seed, tuple(x.shape[1:])))
                soft = self._teacher_samples(arm, seed) if arm.soft is not None else None
                yield self._job(arm, x, y, seed, soft) | {"keep": arm.kind != "gan"}

        done = 0
        for k, (preds, state) in enumerate(self._pool.imap(_fit_in_worker, remote())):
            i, arm, seed, shape = order[k]
            while done < i:  # in-process fits drawn before this pooled one
                yield local.pop(done)
                done += 1
            if state is not None:
                self.models[(arm.name, seed)] = _rebuild(state, shape, self.n_classes)
            yield preds
            done += 1
        for i in sorted(local):  # in-process fits drawn after the last pooled one
            yield local.pop(i)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool, self._evals = None, None

    def _job(self, arm: Arm, x, y, seed: int, soft) -> dict:
        return {"x": x, "y": y, "n_classes": self.n_classes, "steps": self.steps, "batch_size": self.batch_size,
                "lr": self.lr, "seed": seed, "device": self.device, "classic": arm.classic, "loss": arm.loss,
                "mixup": arm.mixup, "soft": soft}

    def _teacher_samples(self, arm: Arm, seed: int):
        from .classifiers import SoftSynthetic, predict_proba, select_by_teacher

        plan, teacher = arm.soft, self.models[(arm.teacher, seed)]
        pool = plan.pool(seed)
        probs = predict_proba(teacher, pool.x)
        keep = select_by_teacher(probs, pool.y, plan.want)
        k = self.n_classes
        agree = probs.argmax(1) == pool.y
        arm.extra["teacher_selection"][seed] = {
            "drawn": np.bincount(pool.y, minlength=k).tolist(), "kept": np.bincount(pool.y[keep], minlength=k).tolist(),
            "teacher_agrees_drawn": np.bincount(pool.y[agree], minlength=k).tolist(),
            "teacher_agrees_kept": np.bincount(pool.y[keep][agree[keep]], minlength=k).tolist()}
        return SoftSynthetic(pool.x[keep], plan_targets(plan, probs[keep], pool.y[keep], k), plan.weight, plan.join_at)


def _fit(job: dict):
    from .classifiers import classic_augmentation, fit_cnn

    return fit_cnn(job["x"], job["y"], job["n_classes"], steps=job["steps"], batch_size=job["batch_size"],
                   lr=job["lr"], seed=job["seed"], device=job["device"],
                   augment=classic_augmentation(job["classic"]) if job["classic"] else None,
                   loss=job["loss"], mixup=job["mixup"], soft=job["soft"])


def _fit_in_worker(job: dict, shared: dict) -> tuple[list[np.ndarray], dict | None]:
    """One fit in a worker process: its predictions on the shared evaluation inputs, and the
    model's state when a later arm may use it as its teacher."""
    from .classifiers import predict_proba
    from .fitpool import state_arrays

    model = _fit(job)
    return [predict_proba(model, e).argmax(1) for e in shared["evals"]], state_arrays(model) if job["keep"] else None


def _rebuild(state: dict, shape: tuple, n_classes: int):
    """The SmallCNN a worker fitted on images of `shape` (C, H, W), from its state."""
    import torch

    from .classifiers import SmallCNN

    model = SmallCNN(shape[0], n_classes, min(shape[1:]))
    model.load_state_dict({k: torch.from_numpy(v) for k, v in state.items()})
    return model.eval()


class TableLearner:
    """Tables: one scikit-learn classifier; the loss-side fix is class_weight='balanced'."""

    def __init__(self, name: str, categorical: list[str], numeric: list[str]) -> None:
        self.name, self.categorical, self.numeric = name, categorical, numeric

    def fit_predict(self, arm: Arm, x, y, seed: int, evals: Sequence) -> list[np.ndarray]:
        from .classifiers import table_classifier

        model = table_classifier(self.name, self.categorical, self.numeric, seed,
                                 balanced=arm.loss != "ce").fit(x, y)
        return [model.predict(e) for e in evals]


def steps_for(n_train: int, epochs: int, batch_size: int) -> int:
    return epochs * math.ceil(n_train / batch_size)


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
