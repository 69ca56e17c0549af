"""Did the synthetic data help? Every arm x classifier x seed, chosen on validation, read once on test.

Protocol, the same for images and tables:
- each arm (arms.py) is fitted for seeds 0..n-1 (seed s seeds the classifier, the resampling
  and the GAN draw used by that arm), and predicts the validation and test splits once;
- every choice made from data is made on the validation split: the reference (the best
  non-GAN arm other than `real`, unless the recipe declares `[evaluate].reference`) and the
  loss-side fix the GAN data is combined with;
- on the test split each arm is compared with `real` and with the reference by paired
  differences across seeds (stats.py); all comparisons of a report form one Holm family.

The result is one shape for every modality: `results["classifiers"][name]["arms"][arm]`.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score
from tqdm import tqdm

from .arms import Arm, Dataset, Draws, on_top_of, online_on_top_of
from .data import align_classes
from .errors import RecipeError
from .stats import CONFIDENCE, MIN_SEEDS, judge_family, method_text, paired_difference

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


def evaluate(train: Dataset, validation: Dataset, test: Dataset, arms: Sequence[Arm], learners: Sequence, *,
             seeds: int, combine: tuple[Draws, float] | None = None, online=None, reference: str = "",
             progress: bool = True, protocol: dict | None = None, sources: dict | None = None) -> dict:
    """Fit every arm with every learner for `seeds` seeds; compare on test; return the results.

    `combine` = (draws, ratio) adds, per learner, GAN data on top of the loss-side arm that
    scores best on validation; `online` (seed -> OnlineSynthetic) adds fresh-draw GAN data on
    top of it too. `sources` says which variance sources the seeds cover. `headline`: the GAN
    arm and the non-GAN arm with the highest validation mean, and the test verdict between them."""
    if seeds < 1:
        raise RecipeError(f"seeds must be >= 1, got {seeds}")
    validation, test = align_classes(validation, train.classes), align_classes(test, train.classes)
    k = len(train.classes)
    names = [a.name for a in arms]
    if reference and (reference not in names or reference == "real"):
        raise RecipeError(f"evaluate.reference '{reference}' is not one of the arms: {', '.join(names[1:])}")
    cache: dict[tuple[str, int], tuple] = {}
    total = len(learners) * seeds * (len(arms) + (combine is not None) + (online is not None))
    bar = tqdm(total=total, desc="evaluate", unit="fit", disable=not progress)
    by_clf = {}
    for learner in learners:
        runs = _fit_all(arms, learner, seeds, validation, test, cache, bar, k)
        extra_arms = list(arms)
        loss_arms = [a for a in arms if a.kind == "loss"]
        if loss_arms:  # GAN data on top of the loss-side fix chosen on validation: stored and fresh draws
            best = max(loss_arms, key=lambda a: _val_mean(runs[a.name]))
            combos = ([on_top_of(best, train, combine[0], combine[1])] if combine is not None else []) + \
                ([online_on_top_of(best, online)] if online is not None else [])
            for combo in combos:
                runs.update(_fit_all([combo], learner, seeds, validation, test, {}, bar, k))
                extra_arms.append(combo)
        ref = reference or max((a for a in arms if a.kind in ("baseline", "loss")),
                               key=lambda a: _val_mean(runs[a.name]), default=None)
        ref_name = ref if isinstance(ref, str) else (ref.name if ref else None)
        by_clf[learner.name] = {
            "arms": {a.name: _arm_entry(a, runs[a.name]) for a in extra_arms},
            "reference": {"name": ref_name, "chosen_by": "recipe" if reference else
                          "highest mean balanced accuracy on the validation split among non-GAN arms"},
        }
    bar.close()
    family = _compare(by_clf)
    headline = _headline(by_clf)
    return {
        "modality": train.modality,
        "classes": list(train.classes),
        "train_counts": np.bincount(train.y, minlength=k).tolist(),
        "validation_counts": np.bincount(validation.y, minlength=k).tolist(),
        "test_counts": np.bincount(test.y, minlength=k).tolist(),
        "protocol": {"seeds": seeds, "classifiers": [lr.name for lr in learners], **(protocol or {})},
        "statistics": {"method": method_text(len(family)), "confidence": CONFIDENCE, "min_seeds": MIN_SEEDS,
                       "metric": "balanced_accuracy", "family_size": len(family), "family": family},
        "variance_sources": sources or {},
        "classifiers": by_clf,
        **({"headline": headline} if headline else {}),
    }


def _fit_all(arms: Sequence[Arm], learner, seeds: int, validation: Dataset, test: Dataset,
             cache: dict, bar, k: int) -> dict[str, list[dict]]:
    runs: dict[str, list[dict]] = {a.name: [] for a in arms}
    for seed in range(seeds):
        for arm in arms:
            if (arm.name, seed) not in cache:
                cache[arm.name, seed] = arm.make(seed)
            made = cache[arm.name, seed]
            x, y = (made, made.labels()) if hasattr(made, "epoch_arrays") else made  # online: one epoch's labels
            val_pred, test_pred = learner.fit_predict(arm, x, y, seed, [validation.x, test.x])
            runs[arm.name].append({"seed": seed, "n_train": int(len(y)),
                                   "train_counts": np.bincount(y, minlength=k).tolist(),
                                   "validation": score(validation.y, val_pred, k),
                                   "test": score(test.y, test_pred, k)})
            bar.update(1)
    return runs


def _headline(by_clf: dict) -> dict | None:
    """The best GAN arm against the best non-GAN arm, both chosen on validation (first classifier).
    The verdict is the Holm-adjusted test comparison already in the family when the best non-GAN
    arm is the reference (it is, unless the recipe declares a different reference)."""
    clf, res = next(iter(by_clf.items()))
    arms = res["arms"]

    def val(name: str) -> float:
        return _val_mean(arms[name]["runs"])

    gan = [n for n, a in arms.items() if a["uses_gan"] and n != "synthetic-only"]
    non_gan = [n for n, a in arms.items() if not a["uses_gan"]]
    if not gan or not non_gan:
        return None
    # A tie on validation goes to the stronger-by-design arm, never to `real`: the headline must not
    # claim a win over plain data when a baseline did as well on validation (as the reference does).
    g, b = max(gan, key=val), max(non_gan, key=lambda n: (val(n), n != "real"))
    cmp = arms[g].get("vs_reference") if arms[g].get("vs_reference", {}).get("reference") == b else None
    if b == "real":
        cmp = arms[g].get("vs_real")
    return {"classifier": clf, "chosen_by": "highest mean balanced accuracy on the validation split",
            "gan_arm": g, "best_non_gan_arm": b,
            "balanced_accuracy": {g: arms[g]["summary"]["balanced_accuracy"]["mean"],
                                  b: arms[b]["summary"]["balanced_accuracy"]["mean"]},
            "verdict": cmp["verdict"] if cmp else "not compared (the declared reference differs)",
            "difference": cmp}


def _val_mean(runs: list[dict]) -> float:
    return float(np.mean([r["validation"]["balanced_accuracy"] for r in runs]))


def _arm_entry(arm: Arm, runs: list[dict]) -> dict:
    first = runs[0]
    return {"description": arm.description, "kind": arm.kind, "uses_gan": arm.uses_gan,
            "classic_augmentation": arm.classic, "loss": arm.loss, "n_train": first["n_train"],
            "train_counts": first["train_counts"], **arm.extra, "runs": runs,
            "summary": summarize(runs), "validation_summary": summarize(runs, "validation")}


def _compare(by_clf: dict, metric: str = "balanced_accuracy") -> list[str]:
    """Each arm vs `real` and vs the reference, on test; one Holm family for the report."""
    comparisons, labels = [], []
    for clf, res in by_clf.items():
        arms, ref = res["arms"], res["reference"]["name"]

        def values(name: str, arms: dict = arms) -> np.ndarray:
            return np.array([r["test"][metric] for r in arms[name]["runs"]])

        for name, arm in arms.items():
            if name != "real":
                arm["vs_real"] = {**paired_difference(values(name), values("real")), "metric": metric}
                comparisons.append(arm["vs_real"])
                labels.append(f"{clf}: {name} vs real")
            if ref and name not in ("real", ref):
                arm["vs_reference"] = {**paired_difference(values(name), values(ref)), "reference": ref,
                                       "metric": metric}
                comparisons.append(arm["vs_reference"])
                labels.append(f"{clf}: {name} vs {ref}")
    judge_family(comparisons)
    return labels
