"""Did the synthetic data help? Every arm x classifier x seed, chosen on validation, read once on test.

Protocol, the same for every modality and every learner:
- each arm (arms.py) is fitted for seeds 0..n-1 (seed s seeds the classifier, the resampling
  and the GAN draw used by that arm), and predicts the validation and test splits once;
- the arms without a GAN are a declared grid — rebalancing x classic augmentation x mixup —
  searched per learner under a budget (search.py: successive halving, a declared tie rule),
  on validation, or by k-fold over train + validation when validation is small;
- the GAN arms take the winner's whole setting (rebalancing, augmentation, loss, mixup), so the
  comparison isolates the GAN samples; the best GAN arm is chosen on validation;
- the confirmatory family (stats.py) — per learner, its best GAN arm vs the search's winner and
  vs `real` — is fitted for `confirm_seeds` seeds and Holm-judged as one family; every other
  comparison with `real` and the reference, over the first n seeds, is an exploratory estimate.

The result is one shape for every modality: `results["classifiers"][name]["arms"][arm]`.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core.data import align_classes
from ..core.errors import RecipeError
from .arms import SOFT_LOSSES, Arm, Dataset
from .fit_cache import FitCache
from .metrics import METRICS, score, summarize  # noqa: F401  (re-exported)
from .search import TIE_RULE, Folds, ValidationScores, halving, margin, merge_same_fits, pick, rank
from .seed_plan import PowerPlan, seed_plan
from .stats import (
    CONFIDENCE,
    MIN_SEEDS,
    by_gan,
    judge_family,
    mark_exploratory,
    method_text,
    paired_difference,
    test_sampling_variance,
)


class _Fits:
    """Runs and test predictions of one learner, arm by arm; an arm is fitted once per seed."""

    def __init__(self, learner, validation: Dataset, test: Dataset, k: int, bar, pooled: Dataset | None = None,
                 cache: FitCache | None = None, gan_seeds: int = 1) -> None:
        self.learner, self.validation, self.test, self.k, self.bar = learner, validation, test, k, bar
        self.gan_seeds = gan_seeds  # GANs the synthetic draws come from: seed s from GAN s mod gan_seeds
        self.cache, self._evals_key = cache, None  # finished fits kept in the run folder (fit_cache.py)
        self.pooled = pooled  # train + validation, predicted too when choices are made by k-fold
        self.runs: dict[str, list[dict]] = {}
        self.test_pred: dict[str, list[np.ndarray]] = {}
        self.val_pred: dict[str, list[np.ndarray]] = {}
        self.fitted = 0  # fits so far (the seed plan's budget is counted in fits: the same on every machine)
        self.computed = 0  # fits this run computed (folds and pilots included; those restored from the cache not)
        self.arms: dict[str, Arm] = {}
        self.evals: list | None = None  # what every fit predicts: one list, so a worker pool gets it once

    def predict(self, jobs: Sequence[tuple]) -> list[list[np.ndarray]]:
        """The learner's predictions on `evals` for each (arm, x, y, seed), in order."""
        if self.evals is None:
            self.evals = [self.validation.x, self.test.x] + ([self.pooled.x] if self.pooled is not None else [])
        many = getattr(self.learner, "fit_predict_many", None)
        if self.bar is not None and self.bar.total is not None and self.bar.n + len(jobs) > self.bar.total:
            self.bar.total = self.bar.n + len(jobs)  # the plan was an estimate: it grows to what is known
            self.bar.refresh()
        keys = [None] * len(jobs)
        if self.cache is not None and hasattr(self.learner, "cache_identity"):  # learners that can restore models
            self._evals_key = self._evals_key or self.cache.evals_key(self.evals)
            keys = [self.cache.key(self.learner, self._evals_key, *job) for job in jobs]
        kept = {i: hit for i, k in enumerate(keys) if k and (hit := self.cache.get(k)) is not None}
        missing = (job for i, job in enumerate(jobs) if i not in kept)
        self.computed += len(jobs) - len(kept)
        fitted = iter(many(missing, self.evals) if many else (self.learner.fit_predict(*job, self.evals)
                                                               for job in missing))
        out = []
        for i, (arm, x, _, seed) in enumerate(jobs):
            if i in kept:  # fitted by an earlier run: its predictions, and its network for later teacher arms
                p, state = kept[i]
                if state:
                    self.learner.restore_model(arm, seed, state, tuple(x.shape[1:]))
            else:
                p = next(fitted)
                if keys[i]:
                    self.cache.put(keys[i], p, getattr(self.learner, "model_state", lambda *_: None)(arm, seed))
            out.append(p)
            if self.bar is not None:
                self.bar.update(1)
        return out

    def _models_of(self, teachers: Sequence[Arm], seeds: int) -> None:
        """A teacher restored from the fit cache without its model (a scikit-learn estimator is not kept:
        no pickle) is fitted again, for its model only: its runs are the cached ones."""
        models = getattr(self.learner, "models", None)
        if models is None:
            return
        for arm in {a.name: a for a in teachers}.values():
            for seed in range(seeds):
                if (arm.name, seed) not in models:
                    x, y = arm.make(seed)
                    self.learner.fit_predict(arm, x, y, seed, self.evals or [])
                    self.computed += 1

    def fit(self, arms: Sequence[Arm], seeds: int) -> None:
        """Fit every arm for seeds 0..seeds-1 (those not fitted yet); a teacher arm's teacher first.
        The fits are independent and seeded: the learner may run them side by side."""
        arms = list({a.name: a for a in arms}.values())
        for arm in arms:
            self.arms.setdefault(arm.name, arm)
        teachers = [self.arms[a.teacher] for a in arms if a.teacher]
        if teachers:  # its teacher is the teacher arm's model of the same seed
            self.fit(teachers, seeds)
            self._models_of(teachers, seeds)
        todo = [(arm, seed) for seed in range(seeds) for arm in arms if len(self.runs.get(arm.name, [])) <= seed]
        self.fitted += len(todo)
        jobs, made = [], []
        for arm, seed in todo:
            m = arm.make(seed)
            x, y = (m, m.labels()) if hasattr(m, "epoch_arrays") else m  # online: epoch 0's labels
            made.append(y)
            jobs.append((arm, x, y, seed))
        for i, preds in enumerate(self.predict(jobs)):
            (arm, seed), y = todo[i], made[i]
            val_pred, test_pred = preds[0], preds[1]
            counts = np.bincount(y, minlength=self.k)
            if arm.soft is not None:  # + the GAN (or pool) samples its teacher kept
                for _, key in arm.soft.parts():
                    counts = counts + np.asarray(arm.extra[key][seed]["kept"])
            self.runs.setdefault(arm.name, []).append({
                "seed": seed, "n_train": int(counts.sum()), "train_counts": counts.tolist(),
                "validation": score(self.validation.y, val_pred, self.k),
                "test": score(self.test.y, test_pred, self.k)})
            self.test_pred.setdefault(arm.name, []).append(np.asarray(test_pred))
            self.val_pred.setdefault(arm.name, []).append(np.asarray(val_pred))

    def val(self, name: str, seeds: int | None = None) -> float:
        return _val_mean(self.runs[name][:seeds])

    def val_per_seed(self, name: str, seeds: int | None = None) -> np.ndarray:
        return np.array([r["validation"]["balanced_accuracy"] for r in self.runs[name][:seeds]])

    def best(self, names: Sequence[str], seeds: int) -> str:
        """Highest validation mean over the first `seeds` seeds; equal scores by search.TIE_RULE."""
        return pick([self.arms[n] for n in names], lambda n: self.val(n, seeds)).name

    def compare(self, name: str, ref: str, seeds: int | None = None) -> dict:
        a, b = self.runs[name][:seeds], self.runs[ref][:seeds]
        n = min(len(a), len(b))
        var = test_sampling_variance(np.stack(self.test_pred[name][:n]), np.stack(self.test_pred[ref][:n]),
                                     self.test.y)
        arm = np.array([r["test"]["balanced_accuracy"] for r in a[:n]])
        reference = np.array([r["test"]["balanced_accuracy"] for r in b[:n]])
        if not (self.arms[name].uses_gan or self.arms[ref].uses_gan):
            return {**paired_difference(arm, reference, test_var=var), "seeds": n, "metric": "balanced_accuracy"}
        if self.gan_seeds == 1:  # one GAN: the seed level, which does not cover GAN training (stats.verdict)
            return {**paired_difference(arm, reference, test_var=var), "seeds": n, "gan_trainings": 1,
                    "metric": "balanced_accuracy"}
        per_arm, per_ref, per_gan = by_gan(arm, reference, self.gan_seeds)
        return {**paired_difference(per_arm, per_ref, test_var=var), "seeds": n, "gan_trainings": len(per_gan),
                "per_gan_seed": per_gan, "metric": "balanced_accuracy"}


GanArms = Callable[..., Sequence[Arm]]  # (best non-GAN arm, teacher arm, learner, self-training plan) -> GAN arms


SelfTraining = Callable[[Arm, object], Sequence[Arm]]  # (teacher arm, learner) -> self-training arms


def teacher_mode(learner) -> str | None:
    """How a learner fits a teacher arm: "soft" (a network trained step by step: soft targets, late join;
    `soft_targets`), "hard" (one fit() call: agreed samples with their labels; `teacher_scores`), or None."""
    if getattr(learner, "soft_targets", False):
        return "soft"
    return "hard" if hasattr(learner, "teacher_scores") else None


def evaluate(train: Dataset, validation: Dataset, test: Dataset, grid: Sequence[Arm], learners: Sequence, *,
             seeds: int, confirm_seeds: int = 0, gan: GanArms | None = None, reference: str = "",
             keep: float = 0.25, folds: int = 3, fold_below: int = 25,
             rebuild: Callable[[Arm, Dataset], Arm] | None = None, progress: bool = True,
             protocol: dict | None = None, sources: dict | None = None,
             self_training: SelfTraining | None = None, cache: Path | None = None,
             power: PowerPlan | None = None, gan_seeds: int = 1) -> dict:
    """Search the non-GAN `grid` (search.py; `real` first) per learner, add the GAN arms `gan(best, soft)`
    builds on top of the winner, fit the confirmatory family for every learner and compare on test.

    Choices are made on validation, or by `folds`-fold cross-validation over train + validation when
    the validation split holds fewer than `fold_below` examples per class (median) and `rebuild` can
    make a cell for a fold. `reference` (a grid cell) replaces the search's winner as the comparator of
    the exploratory estimates. `sources` says which variance sources the intervals cover.
    `self_training(teacher, learner)`: self-training arms (an unlabelled pool labelled by `teacher`'s model),
    fitted after the search; the best of them and the winner on validation is the best arm without a GAN.
    `gan_seeds`: the GANs the GAN arms' samples come from (seed s from GAN s mod gan_seeds): a comparison with a GAN
    arm is made at the GAN level (stats.by_gan), and with one GAN it never reads helps or hurts."""
    if seeds < 1:
        raise RecipeError(f"seeds must be >= 1, got {seeds}")
    validation, test = align_classes(validation, train.classes), align_classes(test, train.classes)
    k = len(train.classes)
    names = [a.name for a in grid]
    if not names or names[0] != "real":
        raise ValueError("the grid's first arm must be `real`")
    if reference and (reference == "real" or reference not in names):
        raise RecipeError(f"evaluate.reference '{reference}' is not one of the arms: {', '.join(names[1:])}")
    val_counts = np.bincount(validation.y, minlength=k)
    small = bool(rebuild is not None and folds > 1 and np.median(val_counts) < fold_below)
    bar = tqdm(desc="evaluate", unit="fit", disable=not progress,
               total=planned_fits(len(grid), len(learners), seeds, max(seeds, confirm_seeds), keep,
                                  folds if small else 1))
    by_clf, fits_of = {}, {}
    try:
        for learner in learners:
            fold_plan = Folds(train, validation, folds, rebuild, max(seeds, 1)) if small else None
            fits = fits_of[learner.name] = _Fits(learner, validation, test, k, bar,
                                                 fold_plan.pooled if fold_plan else None,
                                                 FitCache(cache) if cache is not None else None, gan_seeds)
            by_clf[learner.name] = _search_and_fit(fits, grid, gan, seeds, reference, keep, fold_plan,
                                                   self_training)
        headline, family = _confirm(by_clf, fits_of, seeds, max(seeds, confirm_seeds), power)
    finally:
        for learner in learners:  # a learner's worker pool, if it has one
            getattr(learner, "close", lambda: None)()
    bar.total = bar.n  # the plan was an estimate: the bar ends at what was fitted
    bar.refresh()
    bar.close()
    exploratory = _explore(by_clf, fits_of, seeds)
    return {
        "modality": train.modality,
        "classes": list(train.classes),
        "train_counts": np.bincount(train.y, minlength=k).tolist(),
        "validation_counts": val_counts.tolist(),
        "test_counts": np.bincount(test.y, minlength=k).tolist(),
        "protocol": {"seeds": seeds, "confirm_seeds": max(seeds, confirm_seeds),
                     "classifiers": [lr.name for lr in learners], "search_keep": keep,
                     "choices_on": (f"{folds}-fold cross-validation over train + validation (validation: median "
                                    f"{np.median(val_counts):g} per class < {fold_below})") if small else
                     "validation split", **(protocol or {})},
        "statistics": {"method": method_text(len(family)), "confidence": CONFIDENCE, "min_seeds": MIN_SEEDS,
                       "metric": "balanced_accuracy", "family_size": len(family), "family": family,
                       "exploratory_size": exploratory},
        "variance_sources": sources or {},
        "classifiers": by_clf,
        **({"headline": headline} if headline else {}),
        "work": {"fits_computed": {n: f.computed for n, f in fits_of.items()}},  # restored from the cache: not counted
    }


def planned_fits(cells: int, learners: int, seeds: int, confirm_seeds: int, keep: float, folds: int = 1,
                 gan_arms: int = 4) -> int:
    """The evaluation's plan in fits, for its progress bar: per learner the search (every cell at 1 seed, the
    best `keep` share at `seeds`; each fit once per fold), about `gan_arms` GAN arms at `seeds`, and the
    confirmatory refits of three arms to `confirm_seeds`. An estimate where cells merge or arms are excluded;
    the bar's total grows when more is known."""
    first = 1 if seeds > 1 and cells > 2 else seeds
    kept = cells if first == seeds else min(cells, max(2, math.ceil(keep * cells)))
    search = folds * (cells * first + kept * (seeds - first))
    return learners * (search + gan_arms * seeds + 3 * (confirm_seeds - seeds))


def _search_and_fit(fits: _Fits, grid: Sequence[Arm], gan: GanArms | None, seeds: int, reference: str,
                    keep: float, folds: Folds | None, self_training: SelfTraining | None = None) -> dict:
    """One learner: the grid search (search.halving), then its winner, `real` and the GAN arms on train."""
    cells = merge_same_fits(grid, fits.learner)
    best, record = halving(folds.scorer(fits) if folds is not None else ValidationScores(fits), cells, seeds, keep)
    record["cells"] = len(grid)
    real = cells[0]
    fits.fit([real, best], seeds)  # on the training split (with folds, the search fitted folds only)
    mode = teacher_mode(fits.learner)
    soft = best if best.loss in SOFT_LOSSES or mode == "hard" else None
    if soft is None and mode == "soft":  # soft targets need a loss that takes them: the best such arm kept
        kept = [a for a in cells if a.name in record["stages"][-1]["balanced_accuracy"] and a.loss in SOFT_LOSSES]
        if kept:
            soft = pick(kept, lambda n: record["stages"][-1]["balanced_accuracy"][n])
            fits.fit([soft], seeds)
    chosen, st = best, []  # the best arm without a GAN: the search's winner, or a self-training arm
    if self_training is not None and soft is not None and mode is not None:
        st = list(self_training(soft, fits.learner))
        fits.fit(st, seeds)
        chosen = pick([best, *st], lambda n: fits.val(n, seeds))
        record["self_training"] = {"arms": [a.name for a in st], "chosen": chosen.name,
                                   "validation": {a.name: fits.val(a.name, seeds) for a in [best, *st]},
                                   "seeds": seeds, "chosen_on": "the validation split"}
    gan_arms = [a for a in (gan(best, soft, fits.learner, chosen.soft if chosen is not best else None)
                            if gan is not None else [])  # teacher arms: learners that keep their models
                if a.soft is None or mode is not None]
    fits.fit(gan_arms, seeds)
    arms = {n: fits.arms[n] for n in fits.runs}
    ref = reference or chosen.name
    if ref not in fits.runs:
        fits.fit([next(a for a in cells if a.name == ref)], seeds)
        arms[ref] = fits.arms[ref]
    record["choice_scores"] = {n: {"balanced_accuracy": s["balanced_accuracy"][n], "seeds": s["seeds"]}
                               for s in record["stages"] for n in s["balanced_accuracy"]}
    return {"arms": arms,  # replaced by entries in _explore
            "search": record,
            "reference": {"name": ref, "chosen_by": "recipe" if reference else
                          f"the non-GAN search's winner ({record['chosen_on']})" if chosen is best else
                          f"the best on the validation split ({seeds} seeds) of the non-GAN search's winner "
                          f"({best.name}) and the self-training arms"}}


def _confirm(by_clf: dict, fits_of: dict, seeds: int, confirm_seeds: int,
             power: PowerPlan | None = None) -> tuple[dict | None, list[str]]:
    """One headline per learner: its best GAN arm on validation against the search's winner and against
    `real`, refitted to `confirm_seeds` seeds (or more where `power` plans them); every learner's comparisons form
    one family, Holm-judged."""
    heads, comparisons, labels = [], [], []

    def gan_of(clf: str) -> list[str]:
        return [n for n, a in by_clf[clf]["arms"].items() if a.uses_gan and n != "synthetic-only"]

    family = sum(1 + (by_clf[c]["reference"]["name"] != "real") for c in by_clf if gan_of(c))
    for clf in by_clf:
        fits, arms = fits_of[clf], by_clf[clf]["arms"]
        gan = gan_of(clf)
        b = by_clf[clf]["reference"]["name"]  # the search's winner, a better self-training arm, or the recipe's
        if not gan:
            continue
        g = fits.best(gan, seeds)
        trio = [arms[n] for n in dict.fromkeys([g, b, "real"])]
        fits.fit(trio, confirm_seeds)
        planned = None
        if power is not None and confirm_seeds >= MIN_SEEDS:
            planned = seed_plan(fits, g, b, confirm_seeds, family, power, len(trio))
            fits.fit(trio, planned["seeds"])
        mine = []
        if b != "real":
            mine.append({**fits.compare(g, b), "arm": g, "reference": b})
            labels.append(f"{clf}: {g} vs {b}")
        mine.append({**fits.compare(g, "real"), "arm": g, "reference": "real"})
        labels.append(f"{clf}: {g} vs real")
        comparisons += mine

        def ba(n: str, fits=fits) -> float:
            return float(np.mean([r["test"]["balanced_accuracy"] for r in fits.runs[n]]))

        ordered = sorted(gan, key=lambda n: rank(arms[n], fits.val(n, seeds), [arms[x] for x in gan]))
        noise = margin(g, ordered[1], fits.val_per_seed, seeds) if len(ordered) > 1 else None
        heads.append({"classifier": clf, "chosen_by": "GAN arm: highest mean balanced accuracy on the validation "
                      f"split (first {seeds} seeds; {TIE_RULE}); non-GAN arm: "
                      + (f"the search's winner ({by_clf[clf]['search']['chosen_on']})"
                         if b == by_clf[clf]["search"]["chosen"] else by_clf[clf]["reference"]["chosen_by"]),
                      "gan_arm": g, "best_non_gan_arm": b,
                      "seeds": planned["seeds"] if planned else confirm_seeds,
                      **({"seed_plan": planned} if planned else {}),
                      "balanced_accuracy": {g: ba(g), b: ba(b), "real": ba("real")},
                      "chosen_on": {g: fits.val(g, seeds), b: by_clf[clf]["search"]["chosen_score"]
                                    if b == by_clf[clf]["search"]["chosen"] else fits.val(b, seeds)},
                      **({"gan_choice_noise": noise} if noise else {}),
                      "difference": mine[0], "vs_real": mine[-1]})
    if not heads:
        return None, []
    judge_family(comparisons)
    for h in heads:
        h["verdict"], h["family"] = h["difference"]["verdict"], labels
    return {**heads[0], "others": heads[1:]}, labels


def _explore(by_clf: dict, fits_of: dict, seeds: int) -> int:
    """Every arm vs `real` and vs the reference over the first `seeds` seeds: exploratory."""
    comparisons = []
    for clf, res in by_clf.items():
        fits, ref = fits_of[clf], res["reference"]["name"]
        entries = {}
        chosen_on = res["search"]["choice_scores"]
        for name, arm in res["arms"].items():
            entry = _arm_entry(arm, fits.runs[name])
            entry["choice_score"] = chosen_on.get(name) or {"balanced_accuracy": fits.val(name, seeds),
                                                            "seeds": min(seeds, len(fits.runs[name]))}
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
    return {"description": arm.description, "kind": arm.kind, "uses_gan": arm.uses_gan, "rebalance": arm.rebalance,
            "classic_augmentation": arm.classic, "loss": arm.loss, "mixup": arm.mixup, "seeds": len(runs),
            "n_train": first["n_train"], "train_counts": first["train_counts"], **arm.extra, "runs": runs,
            "summary": summarize(runs), "validation_summary": summarize(runs, "validation")}
