"""The non-GAN search a practitioner runs: a declared grid, searched under a budget, with a declared tie rule.

The grid is rebalancing (arms.REBALANCING) x classic augmentation (none + the candidates) x mixup (0 + the
alphas), `real` always in it (arms.grid_arms). Cells that are one fit for a learner (its `fit_key`: e.g.
MiniRocket's ridge takes every loss fix as class_weight='balanced') are fitted once and named together.

Budget rule, successive halving: every cell at 1 seed, the best `keep` share (at least 2) at `seeds`
seeds; the best of those is the search's winner, the report's best arm without a GAN. Scores are mean
balanced accuracy on the validation split, or, when validation holds fewer than `fold_below` examples per
class (median over classes), on repeated stratified k-fold over train + validation: repeat r is "seed"
r, its score the mean over the k held-out folds (the test split is never touched). Equal scores go to
the simpler arm (TIE_RULE). The record keeps every number a choice was made on.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import replace

import numpy as np

from .arms import _TEXT, REBALANCING, Arm, Dataset, cell_name
from .metrics import score

TIE_RULE = ("equal scores go to the simpler arm: fewer of rebalancing, classic augmentation, mixup, GAN "
            "samples and self-training's pool samples; then the earlier in the declared axis order (rebalancing "
            + ", ".join(REBALANCING) + "; classic none, then the candidates as declared; mixup 0, then the alphas as "
            "declared)")


def complexity(arm: Arm) -> int:
    return ((arm.rebalance != "none") + bool(arm.classic) + (arm.mixup > 0) + arm.uses_gan
            + (arm.kind == "self-training"))


def pick(arms: Sequence[Arm], score: Callable[[str], float]) -> Arm:
    """The best arm by `score`; equal scores by TIE_RULE (`arms` in the declared order)."""
    return sorted(arms, key=lambda a: rank(a, score(a.name), arms))[0]


def rank(arm: Arm, value: float, arms: Sequence[Arm]) -> tuple:
    return (-value, complexity(arm), [a.name for a in arms].index(arm.name))


def merge_same_fits(cells: Sequence[Arm], learner) -> list[Arm]:
    """One arm per distinct fit of `learner` (its `fit_key(arm)`, else rebalancing, classic, loss, mixup),
    named by the first cell in declared order; the others are listed in its `same_fit` and description."""
    key = getattr(learner, "fit_key", None) or (lambda a: (a.rebalance, a.classic, a.loss, a.mixup))
    groups: dict = {}
    for a in cells:
        groups.setdefault(key(a), []).append(a)
    out = []
    for first, *rest in groups.values():
        if first.loss != "ce" and getattr(learner, "ignores_loss", lambda: False)():
            # the learner takes no class weights: a loss-fix cell is the plain fit, and is named as one
            names = [first.name, *(a.name for a in rest)]
            plain = cell_name("none", first.classic, first.mixup)
            first = replace(first, name=plain, loss="ce", rebalance="none",
                            kind="reference" if plain == "real" else "baseline",
                            description=(" + ".join(p for p in first.description.split(" + ")
                                                    if p != _TEXT[first.rebalance]) or "real training split as given")
                                        + f" (for {learner.name} the loss fixes are no-ops: the same fit as "
                                          f"{', '.join(names)})",
                            extra={**first.extra, "same_fit": names})
            out.append(first)
            continue
        if rest:
            names = [a.name for a in rest]
            first = replace(first, extra={**first.extra, "same_fit": names},
                            description=f"{first.description} (for {learner.name} the same fit as "
                                        f"{', '.join(names)})")
        out.append(first)
    return out


class Folds:
    """Repeated stratified k-fold over train + validation, for choices when validation is small.

    Each fold's training part keeps the training split's class profile: of the pooled examples outside
    the held-out fold, each class keeps at most as many as the training split has (drawn per fold,
    seeded), so a long tail stays a long tail (pooling a balanced validation split into training would
    judge the cells on a far less imbalanced problem). `rebuild(arm, data)` makes the same cell for
    another training set (its resampling target scaled)."""

    def __init__(self, train: Dataset, validation: Dataset, k: int, rebuild: Callable[[Arm, Dataset], Arm],
                 repeats: int) -> None:
        from sklearn.model_selection import RepeatedStratifiedKFold

        self.pooled = train.concat(validation)
        self.k, self.rebuild = k, rebuild
        y = self.pooled.y
        k_ok = max(2, min(k, int(np.bincount(y)[np.bincount(y) > 0].min()) if len(y) else k))
        self.k = k_ok
        splits = list(RepeatedStratifiedKFold(n_splits=k_ok, n_repeats=repeats, random_state=0).split(
            np.zeros(len(y)), y))
        profile = np.bincount(train.y, minlength=int(y.max()) + 1 if len(y) else 0)
        rng = np.random.default_rng(0)

        def keep_profile(tr: np.ndarray) -> np.ndarray:
            parts = [rng.choice(idx, min(len(idx), int(profile[c])), replace=False)
                     for c in np.unique(y[tr]) for idx in [tr[y[tr] == c]]]
            return np.sort(np.concatenate(parts))

        splits = [(keep_profile(tr), va) for tr, va in splits]
        self.splits = [splits[r * k_ok:(r + 1) * k_ok] for r in range(repeats)]
        self.scores: dict[str, list[float]] = {}  # arm -> per-repeat mean held-out balanced accuracy
        self.fits = None  # the learner's fits (engine._Fits), bound by `scorer`

    def scorer(self, fits) -> Folds:
        """This splitter as the search's scorer for one learner's `fits`."""
        self.fits = fits
        return self

    def chosen_on(self, repeats: int) -> str:
        return f"{self.k}-fold cross-validation over train + validation ({repeats} repeats)"

    def fit(self, arms: Sequence[Arm], repeats: int) -> None:
        fits = self.fits
        todo = [(a, r) for r in range(repeats) for a in arms if len(self.scores.get(a.name, [])) <= r]
        jobs, held = [], []
        for arm, r in todo:
            for i, (tr, va) in enumerate(self.splits[r]):
                fold_arm = self.rebuild(arm, self.pooled.subset(tr))
                fold_arm = replace(fold_arm, name=f"{arm.name} [repeat {r}, fold {i}]")
                x, y = fold_arm.make(r)
                jobs.append((fold_arm, x, y, r))
                held.append(va)
        preds = fits.predict(jobs)
        per = iter(zip(preds, held))
        for arm, r in todo:
            got = [next(per) for _ in self.splits[r]]
            ba = [score(self.pooled.y[va], p[-1][va], fits.k)["balanced_accuracy"] for p, va in got]
            self.scores.setdefault(arm.name, []).append(float(np.mean(ba)))

    def value(self, name: str, repeats: int) -> float:
        return float(np.mean(self.scores[name][:repeats]))

    def per_seed(self, name: str, repeats: int) -> np.ndarray:
        return np.asarray(self.scores[name][:repeats])


class ValidationScores:
    """The validation split as the search's scorer: each cell fitted on the training split at seeds 0..n-1,
    scored on validation (the same questions `Folds` answers over k folds)."""

    def __init__(self, fits) -> None:
        self.fits = fits

    def fit(self, arms: Sequence[Arm], seeds: int) -> None:
        self.fits.fit(arms, seeds)

    def value(self, name: str, seeds: int) -> float:
        return self.fits.val(name, seeds)

    def per_seed(self, name: str, seeds: int) -> np.ndarray:
        return self.fits.val_per_seed(name, seeds)

    def chosen_on(self, seeds: int) -> str:
        return "validation split"


def halving(scorer: ValidationScores | Folds, cells: Sequence[Arm], seeds: int, keep: float) -> tuple[Arm, dict]:
    """Successive halving over `cells` (already merged per fit): 1 seed each, then the best `keep` share
    (at least 2) at `seeds`; returns the winner and the record of every score a choice was made on.
    `scorer` fits cells and gives their scores (ValidationScores, or Folds for k folds)."""
    cells = list(cells)
    fit, value, per_seed = scorer.fit, scorer.value, scorer.per_seed
    first = 1 if seeds > 1 and len(cells) > 2 else seeds
    fit(cells, first)
    stage1 = {a.name: value(a.name, first) for a in cells}
    n_keep = len(cells) if first == seeds else min(len(cells), max(2, math.ceil(keep * len(cells))))
    top = sorted(cells, key=lambda a: rank(a, stage1[a.name], cells))[:n_keep]
    top = [a for a in cells if a in top]  # declared order, for the tie rule
    fit(top, seeds)
    stage2 = {a.name: value(a.name, seeds) for a in top}
    ordered = sorted(top, key=lambda a: rank(a, stage2[a.name], cells))
    winner = ordered[0]
    stages = [{"seeds": first, "arms": len(cells), "balanced_accuracy": stage1}]
    if first != seeds:
        stages.append({"seeds": seeds, "arms": len(top), "balanced_accuracy": stage2})
    record = {"cells": len(cells), "distinct_fits": len(cells), "stages": stages, "chosen": winner.name,
              "chosen_score": stage2[winner.name], "tie_rule": TIE_RULE, "keep": keep,
              "chosen_on": scorer.chosen_on(seeds),
              "same_fit": {a.name: a.extra["same_fit"] for a in cells if a.extra.get("same_fit")}}
    if len(ordered) > 1:
        record["noise"] = margin(winner.name, ordered[1].name, per_seed, seeds)
    return winner, record


def margin(best: str, runner_up: str, per_seed: Callable[[str, int], np.ndarray], n: int) -> dict:
    """How far the choice is from a coin flip: the winner's margin over the runner-up, per seed, with its
    standard error over seeds (NaN with one seed)."""
    d = per_seed(best, n) - per_seed(runner_up, n)
    se = float(d.std(ddof=1) / math.sqrt(len(d))) if len(d) > 1 else math.nan
    return {"runner_up": runner_up, "margin": float(d.mean()), "se": se, "seeds": int(len(d))}
