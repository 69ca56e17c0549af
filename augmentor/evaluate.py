"""Did the synthetic data help? Every arm x classifier x seed, chosen on validation, read once on test.

Protocol, the same for every modality:
- each arm (arms.py) is fitted for seeds 0..n-1 (seed s seeds the classifier, the resampling
  and the GAN draw used by that arm), and predicts the validation and test splits once;
- every choice made from data is made on the validation split, in this order: the classic
  augmentation policy among the declared candidates (none, if none beats `real`); the mixup
  alpha; the loss-side fix the GAN data and mixup are combined with; the reference (the best
  non-GAN arm other than `real`, unless declared); the headline's GAN and non-GAN arms;
- the confirmatory family (stats.py) — headline GAN arm vs best non-GAN arm, and vs `real` —
  is fitted for `confirm_seeds` seeds and Holm-judged; every arm's comparisons with `real` and
  the reference, over the first n seeds, are exploratory estimates.

The result is one shape for every modality: `results["classifiers"][name]["arms"][arm]`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score
from tqdm import tqdm

from .arms import Arm, Dataset, Draws, TeacherPlan, mixup_on_top_of, on_top_of, online_on_top_of, teacher_on_top_of
from .data import align_classes
from .errors import RecipeError
from .stats import (
    CONFIDENCE,
    MIN_SEEDS,
    judge_family,
    mark_exploratory,
    method_text,
    paired_difference,
    test_sampling_variance,
)

METRICS = ("accuracy", "balanced_accuracy", "macro_f1")


def score(y_true: np.ndarray, y_pred: np.ndarray, n_classes: int) -> dict:
    """Metrics over the classes present in `y_true` (a thin class may be absent from validation)."""
    present = sorted(set(np.asarray(y_true).tolist()))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        recall = recall_score(y_true, y_pred, labels=list(range(n_classes)), average=None, zero_division=0)
        f1 = f1_score(y_true, y_pred, labels=present, average="macro", zero_division=0)
    return {"accuracy": float(accuracy_score(y_true, y_pred)),
            "balanced_accuracy": float(np.mean([recall[c] for c in present])),
            "macro_f1": float(f1),
            "per_class_recall": [float(r) if c in present else math.nan for c, r in enumerate(recall)]}


def summarize(runs: list[dict], split: str = "test") -> dict:
    out = {}
    for m in METRICS:
        v = np.array([r[split][m] for r in runs])
        out[m] = {"mean": float(v.mean()), "std": float(v.std(ddof=1)) if len(v) > 1 else 0.0}
    recall = np.array([r[split]["per_class_recall"] for r in runs], dtype=float)
    with warnings.catch_warnings():  # a class absent from validation has no recall: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        out["per_class_recall"] = {"mean": np.nanmean(recall, 0).tolist(),
                                   "std": (np.nanstd(recall, 0, ddof=1) if len(recall) > 1
                                           else np.zeros(recall.shape[1])).tolist()}
    return out


class _Fits:
    """Runs and test predictions of one learner, arm by arm; an arm is fitted once per seed."""

    def __init__(self, learner, validation: Dataset, test: Dataset, k: int, bar) -> None:
        self.learner, self.validation, self.test, self.k, self.bar = learner, validation, test, k, bar
        self.runs: dict[str, list[dict]] = {}
        self.test_pred: dict[str, list[np.ndarray]] = {}
        self.arms: dict[str, Arm] = {}
        self.evals: list | None = None  # what every fit predicts: one list, so a worker pool gets it once

    def fit(self, arms: Sequence[Arm], seeds: int) -> None:
        """Fit every arm for seeds 0..seeds-1 (those not fitted yet); a teacher arm's teacher first.
        The fits are independent and seeded: the learner may run them side by side."""
        arms = list({a.name: a for a in arms}.values())
        for arm in arms:
            self.arms.setdefault(arm.name, arm)
        teachers = [self.arms[a.teacher] for a in arms if a.teacher]
        if teachers:  # its teacher is the teacher arm's model of the same seed
            self.fit(teachers, seeds)
        todo = [(arm, seed) for seed in range(seeds) for arm in arms if len(self.runs.get(arm.name, [])) <= seed]
        made: list[tuple] = []

        def jobs():
            for arm, seed in todo:
                m = arm.make(seed)
                x, y = (m, m.labels()) if hasattr(m, "epoch_arrays") else m  # online: epoch 0's labels
                made.append(y)
                yield arm, x, y, seed

        if self.evals is None:
            self.evals = [self.validation.x, self.test.x]
        evals = self.evals
        many = getattr(self.learner, "fit_predict_many", None)
        preds = many(jobs(), evals) if many else (self.learner.fit_predict(*job, evals) for job in jobs())
        for i, (val_pred, test_pred) in enumerate(preds):
            (arm, seed), y = todo[i], made[i]
            counts = np.bincount(y, minlength=self.k)
            if arm.soft is not None:  # + the GAN samples its teacher kept
                counts = counts + np.asarray(arm.extra["teacher_selection"][seed]["kept"])
            self.runs.setdefault(arm.name, []).append({
                "seed": seed, "n_train": int(counts.sum()), "train_counts": counts.tolist(),
                "validation": score(self.validation.y, val_pred, self.k),
                "test": score(self.test.y, test_pred, self.k)})
            self.test_pred.setdefault(arm.name, []).append(np.asarray(test_pred))
            if self.bar is not None:
                self.bar.update(1)

    def val(self, name: str, seeds: int | None = None) -> float:
        return _val_mean(self.runs[name][:seeds])

    def best(self, names: Sequence[str], seeds: int) -> str:
        """Highest validation mean over the first `seeds` seeds; a tie never goes to `real`."""
        return max(names, key=lambda n: (self.val(n, seeds), n != "real"))

    def compare(self, name: str, ref: str, seeds: int | None = None) -> dict:
        a, b = self.runs[name][:seeds], self.runs[ref][:seeds]
        n = min(len(a), len(b))
        var = test_sampling_variance(np.stack(self.test_pred[name][:n]), np.stack(self.test_pred[ref][:n]),
                                     self.test.y)
        d = paired_difference(np.array([r["test"]["balanced_accuracy"] for r in a[:n]]),
                              np.array([r["test"]["balanced_accuracy"] for r in b[:n]]), test_var=var)
        return {**d, "metric": "balanced_accuracy"}


def evaluate(train: Dataset, validation: Dataset, test: Dataset, build: Callable[[str], Sequence[Arm]],
             learners: Sequence, *, seeds: int, confirm_seeds: int = 0, candidates: Sequence[Arm] = (),
             combine: tuple[Draws, float] | None = None, online=None, reference: str = "",
             teacher: TeacherPlan | Sequence[TeacherPlan] | None = None,
             mixup_losses: Sequence[str] = ("logit-adjust",),
             progress: bool = True, protocol: dict | None = None, sources: dict | None = None,
             every_learner_headline: bool = False) -> dict:
    """Fit every arm with every learner for `seeds` seeds; compare on test; return the results.

    `build(classic)` returns the arms given the classic policy chosen on validation among the
    `candidates` arms ("" when there are none or none beats `real`). `combine` = (draws, ratio)
    adds, per learner, GAN data on top of the loss-side arm that scores best on validation;
    `online` (seed -> OnlineSynthetic) adds fresh-draw GAN data on top of it too, and `teacher`
    (images; one arm per plan) GAN samples chosen and soft-labelled by that arm's own model
    (arms.teacher_on_top_of). The mixup alpha chosen with over-sampling is also fitted with each loss
    fix in `mixup_losses` (whether or not the plain loss arm is fitted). The headline's arms (best
    GAN, best non-GAN, real) are fitted for max(seeds, confirm_seeds) seeds and form
    the confirmatory family (for every learner with `every_learner_headline`, else the first). `sources`
    says which variance sources the intervals cover."""
    if seeds < 1:
        raise RecipeError(f"seeds must be >= 1, got {seeds}")
    validation, test = align_classes(validation, train.classes), align_classes(test, train.classes)
    k = len(train.classes)
    names = [a.name for policy in ("", *(c.classic for c in candidates[:1])) for a in build(policy)]
    if reference and (reference == "real" or reference not in names):
        raise RecipeError(f"evaluate.reference '{reference}' is not one of the arms: {', '.join(names[1:])}")
    bar = tqdm(desc="evaluate", unit="fit", disable=not progress)
    by_clf, fits_of = {}, {}
    teacher = [teacher] if isinstance(teacher, TeacherPlan) else list(teacher or ())
    try:
        for learner in learners:
            fits = fits_of[learner.name] = _Fits(learner, validation, test, k, bar)
            by_clf[learner.name] = _choose_and_fit(fits, build, candidates, train, seeds, combine, online, reference,
                                                   teacher if hasattr(learner, "models") else None, mixup_losses)
        headline, family = _confirm(by_clf, fits_of, seeds, max(seeds, confirm_seeds), every_learner_headline)
    finally:
        for learner in learners:  # a learner's worker pool, if it has one
            getattr(learner, "close", lambda: None)()
    bar.close()
    exploratory = _explore(by_clf, fits_of, seeds)
    return {
        "modality": train.modality,
        "classes": list(train.classes),
        "train_counts": np.bincount(train.y, minlength=k).tolist(),
        "validation_counts": np.bincount(validation.y, minlength=k).tolist(),
        "test_counts": np.bincount(test.y, minlength=k).tolist(),
        "protocol": {"seeds": seeds, "confirm_seeds": max(seeds, confirm_seeds),
                     "classifiers": [lr.name for lr in learners], **(protocol or {})},
        "statistics": {"method": method_text(len(family)), "confidence": CONFIDENCE, "min_seeds": MIN_SEEDS,
                       "metric": "balanced_accuracy", "family_size": len(family), "family": family,
                       "exploratory_size": exploratory},
        "variance_sources": sources or {},
        "classifiers": by_clf,
        **({"headline": headline} if headline else {}),
    }


def _choose_and_fit(fits: _Fits, build: Callable[[str], Sequence[Arm]], candidates: Sequence[Arm], train: Dataset,
                    seeds: int, combine, online, reference: str, teacher=None,
                    mixup_losses: Sequence[str] = ("logit-adjust",)) -> dict:
    """The validation choices of one learner, in order, fitting what each needs."""
    real = build("")[0]
    fits.fit([real, *candidates], seeds)
    classic = {"candidates": [c.classic for c in candidates], "chosen": "", "chosen_by":
               "highest mean balanced accuracy on the validation split; kept only if not below real"}
    if candidates:
        best = fits.best([c.name for c in candidates], seeds)
        if fits.val(best) >= fits.val("real"):
            classic["chosen"] = fits.arms[best].classic
        else:
            classic["reason"] = (f"every candidate scored below real on validation (best {best}: "
                                 f"{fits.val(best) * 100:.1f} vs {fits.val('real') * 100:.1f}); classic "
                                 "augmentation is left out of every other arm and of the reference search")
    arms = [a for a in build(classic["chosen"]) if a.name != "real"]
    fits.fit(arms, seeds)
    extra: list[Arm] = []
    mixups = [a for a in arms if a.mixup > 0 and a.kind == "baseline"]
    loss_arms = [a for a in arms if a.kind == "loss"]
    if mixups and mixup_losses:  # fitted even where a recipe leaves the plain loss arm out
        best_mixup = fits.arms[fits.best([a.name for a in mixups], seeds)]
        extra += [mixup_on_top_of(best_mixup, train, loss) for loss in mixup_losses]
        fits.fit(extra, seeds)
    loss_arms += extra
    if loss_arms:  # GAN data on top of the loss-side fix chosen on validation: stored and fresh draws
        best = fits.arms[fits.best([a.name for a in loss_arms], seeds)]
        combos = ([on_top_of(best, train, combine[0], combine[1])] if combine is not None else []) + \
            ([online_on_top_of(best, online)] if online is not None else [])
        if teacher:  # its teacher: the best arm whose loss takes soft targets, its own model, same seed
            from .classifiers import SOFT_LOSSES

            soft_ok = [a.name for a in loss_arms if a.loss in SOFT_LOSSES]
            if soft_ok:
                combos += [teacher_on_top_of(fits.arms[fits.best(soft_ok, seeds)], plan) for plan in teacher]
        fits.fit(combos, seeds)
        extra += combos
    every = [real, *candidates, *arms, *extra]
    left_out = [] if classic["chosen"] else [c.name for c in candidates]
    non_gan = [a.name for a in every if a.kind in ("baseline", "loss") and a.name not in left_out]
    ref = reference or (fits.best(non_gan, seeds) if non_gan else None)
    return {"arms": {a.name: a for a in every},  # replaced by entries in _explore
            "classic_augmentation": classic, "left_out_of_search": left_out,
            "reference": {"name": ref, "chosen_by": "recipe" if reference else
                          "highest mean balanced accuracy on the validation split among non-GAN arms"}}


def _confirm(by_clf: dict, fits_of: dict, seeds: int, confirm_seeds: int,
             every_learner: bool = False) -> tuple[dict | None, list[str]]:
    """The headline (first classifier; with `every_learner`, one per classifier): the best GAN arm and the
    best non-GAN arm on validation, refitted to `confirm_seeds` seeds with `real`, and the confirmatory
    family (every headline's comparisons) judged with Holm."""
    heads, comparisons, labels = [], [], []
    for clf in list(by_clf) if every_learner else [next(iter(by_clf))]:
        fits, arms = fits_of[clf], by_clf[clf]["arms"]
        gan = [n for n, a in arms.items() if a.uses_gan and n != "synthetic-only"]
        non_gan = [n for n, a in arms.items() if not a.uses_gan and n not in by_clf[clf]["left_out_of_search"]]
        if not gan or not non_gan:
            continue
        g, b = fits.best(gan, seeds), fits.best(non_gan, seeds)
        fits.fit([arms[n] for n in dict.fromkeys([g, b, "real"])], confirm_seeds)
        mine = []
        if b != "real":
            mine.append({**fits.compare(g, b), "arm": g, "reference": b})
            labels.append(f"{clf}: {g} vs {b}")
        mine.append({**fits.compare(g, "real"), "arm": g, "reference": "real"})
        labels.append(f"{clf}: {g} vs real")
        comparisons += mine

        def ba(n: str, fits=fits) -> float:
            return float(np.mean([r["test"]["balanced_accuracy"] for r in fits.runs[n]]))

        heads.append({"classifier": clf, "chosen_by": "highest mean balanced accuracy on the validation split "
                      f"(first {seeds} seeds; a tie never goes to real)", "gan_arm": g, "best_non_gan_arm": b,
                      "seeds": confirm_seeds, "balanced_accuracy": {g: ba(g), b: ba(b), "real": ba("real")},
                      "difference": mine[0], "vs_real": mine[-1]})
    if not heads:
        return None, []
    judge_family(comparisons)
    for h in heads:
        h["verdict"], h["family"] = h["difference"]["verdict"], labels
    return ({**heads[0], "others": heads[1:]} if every_learner else heads[0]), labels


def _explore(by_clf: dict, fits_of: dict, seeds: int) -> int:
    """Every arm vs `real` and vs the reference over the first `seeds` seeds: exploratory."""
    comparisons = []
    for clf, res in by_clf.items():
        fits, ref = fits_of[clf], res["reference"]["name"]
        entries = {}
        for name, arm in res["arms"].items():
            entry = _arm_entry(arm, fits.runs[name])
            if name != "real":
                entry["vs_real"] = fits.compare(name, "real", seeds)
                comparisons.append(entry["vs_real"])
            if ref and name not in ("real", ref):
                entry["vs_reference"] = {**fits.compare(name, ref, seeds), "reference": ref}
                comparisons.append(entry["vs_reference"])
            entries[name] = entry
        res["arms"] = entries
    mark_exploratory(comparisons)
    return len(comparisons)


def _val_mean(runs: list[dict]) -> float:
    return float(np.mean([r["validation"]["balanced_accuracy"] for r in runs]))


def _arm_entry(arm: Arm, runs: list[dict]) -> dict:
    first = runs[0]
    return {"description": arm.description, "kind": arm.kind, "uses_gan": arm.uses_gan,
            "classic_augmentation": arm.classic, "loss": arm.loss, "mixup": arm.mixup, "seeds": len(runs),
            "n_train": first["n_train"], "train_counts": first["train_counts"], **arm.extra, "runs": runs,
            "summary": summarize(runs), "validation_summary": summarize(runs, "validation")}
