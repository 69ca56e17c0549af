"""The arms of an evaluation: one `Arm` model for every modality, and the learners that fit them.

An arm is a recipe for a training set, given a seed: the real split as given, a
resampled split, or the real split plus GAN samples drawn afresh for that seed; it also
says whether classic augmentation and which loss the classifier uses. Kinds:

  reference   `real`: the training split as given, plain loss
  baseline    what a practitioner does without a GAN: over-sampling, SMOTE, classic augmentation, mixup
  loss        the same with a loss-side long-tail fix: re-weighting, logit adjustment, DRW
  gan         arms that use GAN samples, with the whole setting of the arm they join (gan_on_top_of)

The arms without a GAN are the cells of one declared grid (grid_arms): a rebalancing (REBALANCING:
none, over-sampling, SMOTE, or a loss fix) x a classic augmentation policy x a mixup alpha.

A learner (each modality's package has its own) fits one arm for one seed and predicts the
validation and test splits. Nothing here reads the test split except to predict it after the fit.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from ..core.dataset import Dataset
from ..core.labels import align_classes

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
    rebalance: str = "none"  # arms.REBALANCING: how the training data or loss answer the imbalance

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
    pseudo: bool = False  # self-training: `pool` is unlabelled real data, labelled by the teacher (its top class)
    also: TeacherPlan | None = None  # a second plan whose samples join too (a GAN arm on top of self-training)
    tag: str = ""  # the arm name's mark of a weight / join candidate (", weight 1"); empty with one candidate

    def parts(self) -> list[tuple[TeacherPlan, str]]:
        """(plan, the arm.extra key its per-seed selection is recorded under), for this plan and `also`."""
        out = [(self, "self_training_selection" if self.pseudo else "teacher_selection")]
        return out + (self.also.parts() if self.also is not None else [])


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
    if plan.temperature > 0:
        return teacher_targets(probs, plan.temperature)
    hard = np.eye(n_classes, dtype=np.float32)[labels]
    disagree = probs.argmax(1) != labels
    hard[disagree] = teacher_targets(probs[disagree], SOFT_FALLBACK_TEMPERATURE)
    return hard


def select_by_teacher(probs: np.ndarray, labels: np.ndarray, want: np.ndarray) -> np.ndarray:
    """Per class c, the indices of the `want[c]` samples conditioned on c with the highest teacher
    probability (or score) of c (top-k up to the gap); -inf scores are never kept."""
    keep = []
    for c, n in enumerate(np.asarray(want)):
        idx = np.flatnonzero(labels == c)
        idx = idx[np.isfinite(probs[idx, c])]
        if n > 0 and len(idx):
            keep.append(idx[np.argsort(-probs[idx, c], kind="stable")[:int(n)]])
    return np.sort(np.concatenate(keep)) if keep else np.zeros(0, np.int64)


def teacher_choice(arm: Arm, seed: int, scores: np.ndarray, labels: np.ndarray, n_classes: int,
                   hard: bool = False, plan: TeacherPlan | None = None, key: str = "teacher_selection") -> np.ndarray:
    """The teacher arm's pick from its pool draw: per class the top-k by the teacher's score of the
    conditioned class (`select_by_teacher`); `hard` (learners fitted on hard labels only): only among
    samples whose top class by the teacher is their conditioning label, so a class the teacher never
    recognises in the draw gets fewer, or none. Records drawn / kept / agreement per class in
    `arm.extra[key][seed]`; returns the kept indices. `plan`: one of `arm.soft.parts()` (default the arm's
    own); a self-training plan's `labels` are the teacher's top classes, so every sample is one it agrees with."""
    plan = plan or arm.soft
    agree = scores.argmax(1) == labels
    ranked = np.where(agree[:, None], scores, -np.inf) if hard or plan.pseudo else scores
    keep = select_by_teacher(ranked, labels, plan.want)
    k = n_classes
    arm.extra.setdefault(key, {})[seed] = {
        "drawn": np.bincount(labels, minlength=k).tolist(), "kept": np.bincount(labels[keep], minlength=k).tolist(),
        "teacher_agrees_drawn": np.bincount(labels[agree], minlength=k).tolist(),
        "teacher_agrees_kept": np.bincount(labels[keep][agree[keep]], minlength=k).tolist(),
        "wanted": np.asarray(plan.want, int).tolist()}
    return keep


class HardTeacher:
    """For a learner fitted in one call on hard labels (`evaluate.teacher_mode` "hard"): it keeps each
    non-GAN arm's fitted model (`remember`) and, for a teacher arm, returns the rows its teacher agrees
    with (`teacher_rows`). The learner defines `teacher_scores(model, x) -> (N, classes)` and `models`."""

    def remember(self, arm: Arm, seed: int, model) -> None:
        if arm.kind != "gan":  # a later teacher arm may use it as its teacher
            self.models[(arm.name, seed)] = model

    def teacher_rows(self, arm: Arm, seed: int, n_classes: int) -> tuple | None:
        """(x, y) of the GAN rows the teacher arm adds for `seed`, or None for any other arm."""
        if arm.soft is None:
            return None
        model = self.models[(arm.teacher, seed)]
        rows = [(pool.subset(keep).x, labels[keep]) for _, pool, _, labels, keep in teacher_picks(
            arm, seed, lambda x: class_scores(self.teacher_scores(model, x), n_classes), n_classes, hard=True)]
        return rows[0] if len(rows) == 1 else with_rows(*rows[0], rows[1])[:2]


def teacher_picks(arm: Arm, seed: int, score, n_classes: int, hard: bool = False):
    """For each of `arm.soft.parts()` (its plan, and a self-training plan beside it): (plan, the pool draw
    for `seed`, the teacher's scores `score(pool.x)`, the samples' labels (conditioning labels; a
    self-training pool: the teacher's top class), the kept indices by `teacher_choice`)."""
    for plan, key in arm.soft.parts():
        pool = plan.pool(seed)
        scores = score(pool.x)
        labels = scores.argmax(1) if plan.pseudo else np.asarray(pool.y)
        yield plan, pool, scores, labels, teacher_choice(arm, seed, scores, labels, n_classes, hard, plan, key)


def class_scores(scores, n_classes: int, classes=None) -> np.ndarray:
    """(N, n_classes) scores from a scikit-learn style output: a binary decision function's one column
    becomes (-s, s); `classes` (an estimator's classes_) places its columns among all n_classes (-inf
    for a class it never saw)."""
    s = np.asarray(scores, np.float64)
    if s.ndim == 1:
        s = np.stack([-s, s], 1)
    if classes is None or len(classes) == n_classes and np.array_equal(np.asarray(classes), np.arange(n_classes)):
        return s
    out = np.full((len(s), n_classes), -np.inf)
    out[:, np.asarray(classes, int)] = s
    return out


def with_rows(x, y, rows: tuple | None, weight: float = 1.0) -> tuple:
    """(x, y, sample weights or None): the training rows plus a teacher arm's rows at `weight`."""
    if rows is None:
        return x, y, None
    rx, ry = rows
    if hasattr(x, "iloc"):  # a table
        import pandas as pd

        both = pd.concat([x, rx], ignore_index=True)
    else:
        both = np.concatenate([np.asarray(x), np.asarray(rx, np.asarray(x).dtype)])
    w = np.concatenate([np.ones(len(y)), np.full(len(ry), weight)])
    return both, np.concatenate([np.asarray(y), ry]), w


def teacher_targets(probs: np.ndarray, temperature: float = 2.0) -> np.ndarray:
    """Soft targets from a teacher's class probabilities, sharpened or softened at `temperature`
    (p^(1/T), renormalised): a head-shaped '5' conditioned as 5 teaches 'mostly 3, a little 5'.
    The conditioning label only chooses which samples are kept (`select_by_teacher`)."""
    logp = np.log(np.clip(probs, 1e-8, 1.0)) / temperature
    p = np.exp(logp - logp.max(1, keepdims=True))
    return (p / p.sum(1, keepdims=True)).astype(np.float32)


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
LOSSES = tuple(LOSS_WORDS)
SOFT_LOSSES = ("ce", "logit-adjust", "drw")  # the losses a fit with soft synthetic targets supports
# The rebalancing axis of the non-GAN grid (search.py): one of these per cell, declared order = tie order
REBALANCING = ("none", "oversample", "smote", "reweight", "logit-adjust", "drw")
_TAG = {"none": "", "oversample": "+oversampled", "smote": "+SMOTE", "reweight": "+reweighted",
        "logit-adjust": "+logit-adjusted", "drw": "+DRW"}
_TEXT = {"none": "", "oversample": "random over-sampling to the target counts",
         "smote": "SMOTE (SMOTENC with categorical columns) to the target counts",
         "reweight": "class-balanced re-weighting of the loss",
         "logit-adjust": "logit-adjusted loss (Menon et al. 2021, tau 1)",
         "drw": "deferred re-weighting (plain loss, then effective-number class weights for the last half of the "
                "steps; Cao et al. 2019)"}


def cell_name(rebalance: str, classic: str = "", mixup: float = 0.0) -> str:
    """`real+classic (affine)+oversampled+mixup 0.4`; the cell with nothing is `real`."""
    return "real" + (f"+classic ({classic})" if classic else "") + _TAG[rebalance] + (f"+mixup {mixup:g}" if mixup
                                                                                        else "")


def rebalanced(train: Dataset, target: np.ndarray, rebalance: str, seed: int) -> tuple:
    """The training data of a rebalancing: over-sampled or SMOTEd to `target`, else as given."""
    if rebalance == "oversample":
        return oversample(train, target, seed)
    if rebalance == "smote":
        return oversample(train, target, seed, "smote")
    return train.x, train.y


def cell_arm(train: Dataset, target: np.ndarray, rebalance: str = "none", classic: str = "",
             mixup: float = 0.0) -> Arm:
    """One cell of the non-GAN grid: a rebalancing (REBALANCING) x a classic augmentation policy ("" none)
    x a mixup alpha (0 none). `target`: the per-class counts the resampling raises the classes to."""
    if rebalance not in REBALANCING:
        raise ValueError(f"unknown rebalancing '{rebalance}'; choose from {', '.join(REBALANCING)}")
    loss = rebalance if rebalance in LOSSES else "ce"
    parts = ([f"classic augmentation ({classic})"] if classic else []) + ([_TEXT[rebalance]] if _TEXT[rebalance]
                                                                          else []) \
        + ([f"mixup (alpha {mixup:g})"] if mixup else [])
    name = cell_name(rebalance, classic, mixup)
    kind = "reference" if name == "real" else ("loss" if loss != "ce" else "baseline")
    real = (train.x, train.y)
    make = (lambda s: real) if rebalance not in ("oversample", "smote") else \
        (lambda s: rebalanced(train, target, rebalance, s))
    return Arm(name, " + ".join(parts) or "real training split as given", make, kind, classic=classic, loss=loss,
               mixup=mixup, rebalance=rebalance)


def grid_arms(train: Dataset, target: np.ndarray, rebalancing: Sequence[str], classic: Sequence[str],
              mixup: Sequence[float]) -> list[Arm]:
    """`real`, then every cell of rebalancing x ("", *classic) x (0, *mixup) in the declared axis order
    (`none` on the rebalancing axis only when declared: `real` itself is always a cell)."""
    cells = [cell_arm(train, target)] + [cell_arm(train, target, r, c, m) for r in dict.fromkeys(rebalancing)
                                         for c in dict.fromkeys(("", *classic)) for m in dict.fromkeys((0.0, *mixup))]
    return list({a.name: a for a in cells}.values())


def with_gan(train: Dataset, extra: Dataset, target: np.ndarray, rebalance: str, seed: int) -> tuple:
    """Real + GAN samples, then the rebalancing of the arm they join: random over-sampling raises each
    class still below `target` with its real samples (top_up), SMOTE interpolates the pooled set."""
    if rebalance == "oversample":
        return top_up(train, extra, target, seed)
    both = train.concat(align_classes(extra, train.classes))
    if rebalance == "smote":
        need = np.maximum(np.asarray(target), np.bincount(both.y, minlength=len(target)))
        return oversample(both, need, seed, "smote")
    return both.x, both.y


def gan_on_top_of(best: Arm, train: Dataset, target: np.ndarray, base: str, description: str, draws: Draws) -> Arm:
    """A GAN arm with `best`'s whole setting (rebalancing, classic augmentation, loss, mixup): the GAN samples
    join the real split before `best`'s resampling, so against `best` only the GAN samples differ."""
    tail = best.name.removeprefix("real")
    return Arm(base + tail, description + (f", with {best.description}" if best.name != "real" else ""),
               lambda s: with_gan(train, draws(s), target, best.rebalance, s), "gan", classic=best.classic,
               loss=best.loss, mixup=best.mixup, rebalance=best.rebalance)


def teacher_on_top_of(best: Arm, plan: TeacherPlan, hard: bool = False, weighted: bool = True) -> Arm:
    """GAN samples chosen and soft-labelled by `best`'s own model of the same seed (its teacher),
    added late and down-weighted, with `best`'s loss and mixup (its loss must be ce, logit-adjust or drw).
    `hard`: for a learner fitted on hard labels in one call (scikit-learn style: MiniRocket, tables, a
    user's estimator): only samples the teacher assigns to their conditioning class, with that label, from
    the start, at the plan's weight as a sample weight where the learner takes one (`weighted`), else 1.
    A `plan.pseudo` plan is self-training (no GAN): the pool is unlabelled real data and the teacher's top
    class is each sample's label; a plan with `also` adds that self-training plan's samples too."""
    thin = (f", share {plan.max_share:g}" if plan.max_share < 1 else "") + plan.tag
    tail = best.name.removeprefix("real")
    share = (f"; only the classes with at most {plan.max_share:.0%} of the largest class's real samples"
             if plan.max_share < 1 else "")
    if plan.pseudo:
        name = f"real+self-training{f' ({thin[2:]})' if thin else ''}{tail}"
        what = (f"+ unlabelled pool samples labelled by {best.name}'s model of the same seed (its top class; per "
                f"class the top-k by its probability, at most {int(np.sum(plan.want))} in all{share})")
    else:
        name = f"real+{'self-training+' if plan.also is not None else ''}synthetic (teacher{thin}){tail}"
        what = (f"+ GAN samples kept per class by {best.name}'s model of the same seed (" +
                (f"from a draw of {plan.pool_factor}x each class's gap, only those it assigns to their conditioning "
                 f"class, top-k by its score, at most {int(np.sum(plan.want))} in all" if hard else
                 f"top-k, {int(np.sum(plan.want))} in all, from a draw of {plan.pool_factor}x each class's gap")
                + share + ")")
        if plan.also is not None:
            what += (f", and the unlabelled pool samples it labels (top-k per class, at most "
                     f"{int(np.sum(plan.also.want))} in all)")
    if hard:
        how = ("their labels, " + (f"sample weight {plan.weight:g}" if weighted else
                                   "weight 1 (the learner takes no sample weights)"))
        extra = {"teacher_hard": True}
    else:
        how = ((f"its soft labels at temperature {plan.temperature:g}" if plan.temperature > 0 else
                ("its top class as a hard label" if plan.pseudo else
                 "their conditioning labels (hard) where the teacher agrees, its soft labels at temperature "
                 f"{SOFT_FALLBACK_TEMPERATURE:g} where it does not")) + f", weight {plan.weight:g}, joining after "
               f"{plan.join_at:.0%} of the steps, the loss's prior or class weights from the real + added mixture")
        extra = {}
    keys = {key: {} for _, key in plan.parts()}
    return Arm(name, f"{best.description}; {what}, {how}", best.make, "self-training" if plan.pseudo else "gan",
               classic=best.classic, loss=best.loss, mixup=best.mixup, teacher=best.name, soft=plan,
               extra={**keys, **extra}, rebalance=best.rebalance)


def online_on_top_of(best: Arm, online: Callable[[int], object], flagged: Sequence[str] = ()) -> Arm:
    """Fresh GAN samples every epoch together with the loss-side fix chosen on validation; none for the classes
    the copy guard flags."""
    text = f"fresh GAN samples every epoch (OnlineSynthetic) in place of resampling, with {best.description}"
    if flagged:
        text += (f"; none for {', '.join(flagged)}, whose GAN draw the memorisation check flags as copies of their "
                 "training samples")
    return Arm(f"real+online-synthetic{best.name.removeprefix('real')}", text, online, "gan", classic=best.classic,
               loss=best.loss, mixup=best.mixup, rebalance=best.rebalance)


def steps_for(n_train: int, epochs: int, batch_size: int) -> int:
    return epochs * math.ceil(n_train / batch_size)


def gan_sources(ev, *, synthetic, filtered, doses: Mapping | None, online, teacher,
                synthetic_only) -> dict:
    """The GAN arms by the name before the winner's setting, in the report's order, each with its source (None: not
    built). The time budget (budget.py) asks it with placeholders for what the run will have."""
    return {"real+synthetic": synthetic, "real+synthetic (filtered)": filtered,
            **{f"real+synthetic x{r:g}": d for r, d in sorted((doses or {}).items())},
            "real+online-synthetic": online if ev.online else None,
            "real+synthetic (teacher)": teacher or None, "synthetic-only": synthetic_only}
