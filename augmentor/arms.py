"""The arms of an evaluation: one `Arm` model for every modality, and the learners that fit them.

An arm is a recipe for a training set, given a seed: the real split as given, a
resampled split, or the real split plus GAN samples drawn afresh for that seed; it also
says whether classic augmentation and which loss the classifier uses. Kinds:

  reference   `real`: the training split as given, plain loss
  baseline    what a practitioner does without a GAN: over-sampling, SMOTE, classic augmentation
  loss        loss-side long-tail fixes: class-balanced re-weighting, logit adjustment
  gan         arms that use GAN samples

A learner (each modality's package has its own) fits one arm for one seed and predicts the
validation and test splits. Nothing here reads the test split except to predict it after the fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from .labels import align_classes

Dataset = object  # any modality's dataset: x, y, classes, subset, with_data, MODALITY
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
        from imblearn.over_sampling import RandomOverSampler

        idx, _ = RandomOverSampler(sampling_strategy=strategy, random_state=seed).fit_resample(
            np.arange(len(train)).reshape(-1, 1), train.y)
        d = train.subset(idx.ravel())
        return d.x, d.y
    return train.MODALITY.smote(train, strategy, int(min(5, np.bincount(train.y).min() - 1)), seed)


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


def steps_for(n_train: int, epochs: int, batch_size: int) -> int:
    return epochs * math.ceil(n_train / batch_size)
