"""How often does a report's verdict lie, on its own data and learners? (`augmentor calibrate RECIPE`)

For each learner of the report, its best arm without a GAN — the arm its headline compares with: the
search's winner rebuilt from the report, or the self-training arm on top of it (the winner fitted first for
each seed, its model labelling the unlabelled pool, as the report did) — is fitted for `pool` seeds on the
training split, and so is a *weakened* copy: the same arm trained on a random `keep` share of each class's
training samples, drawn per seed (a known effect with seed variance of its own; its size is measured over
every pool seed). Every fit predicts the validation and test splits once.

- Null: every arm of the report's confirmatory family is the same arm, differing only in seed.
  Per learner, as many "GAN" candidates as the report had GAN arms, the best on validation over the
  first `seeds` seeds, and as many "grid cells" as its search fitted, each at 1 seed, the best of them
  at `seeds` seeds, the best of those the winner (Choice; disjoint seed sets; the report's choice, and
  the seeds it is made on, included) — then compared on test over `confirm_seeds` seeds with `real`
  (another set), as the report does: two-level interval (seeds + class-stratified test sampling), at
  the GAN level where the report's GAN arms drew from several GANs, Holm over the whole family, every
  learner's comparisons together. Any helps/hurts verdict is false. GAN training's spread enters as a
  normal shift per GAN candidate and trained GAN (on validation and test alike, so a lucky GAN is
  chosen and carries over), its sd the spread between the report's GANs' mean differences.
- Power: the same family with the weakened arm as every GAN candidate; power is the share of
  simulations in which a learner's GAN-vs-winner comparison reads "hurts".

Each simulation also draws a class-stratified bootstrap of the test split. Seeds come from a finite
pool, so simulations share fits; the binomial standard errors understate the simulation error
somewhat. The GAN arms' synthetic draws are not in the null (its arms draw none). The non-GAN search is
simulated on the validation split (the report's may use cross-validation).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core.errors import RecipeError
from .arms import Arm, Dataset, TeacherPlan, cell_arm, teacher_on_top_of
from .engine import _Fits
from .metrics import score
from .pool_cache import cached, fingerprint, pool_inputs
from .results import Results
from .stats import HELPS, HURTS, by_gan, judge_family, paired_difference
from .teaching import distinct_fits, teacher_fit

KEEP = 0.7  # the weakened arm's share of each class's training samples


def subsample(train: Dataset, keep: float, seed: int) -> Dataset:
    """`keep` of each class's samples (at least 1), drawn with `seed`."""
    rng = np.random.default_rng(50_000 + seed)
    idx = [rng.choice(np.flatnonzero(train.y == c), max(1, round(keep * int((train.y == c).sum()))), replace=False)
           for c in np.unique(train.y)]
    return train.subset(np.sort(np.concatenate(idx)))


def winner_arm(entry: dict, train: Dataset, target: np.ndarray) -> Arm:
    """The report's arm, rebuilt from its recorded setting."""
    return cell_arm(train, target, entry.get("rebalance", "none"), entry.get("classic_augmentation") or "",
                    float(entry.get("mixup", 0.0)))


def _weak(arm: Arm, train: Dataset, target: np.ndarray, seed: int) -> Arm:
    """`arm`'s setting on KEEP of each class's training samples (subsample with `seed`), its target scaled."""
    part = subsample(train, KEEP, seed)
    return cell_arm(part, np.maximum(np.bincount(part.y, minlength=len(target)),
                                     np.round(np.asarray(target) * len(part) / len(train)).astype(int)),
                    arm.rebalance, arm.classic, arm.mixup)


def fit_pool(learner, arm: Arm, train: Dataset, validation: Dataset, test: Dataset, target: np.ndarray,
             pool: int, cache: Path | None, key: str, progress: bool = True) -> dict:
    """Validation and test predictions of `arm` and of its weakened copy for seeds 0..pool-1 (cached
    under `cache` by `key`: every input that changes a fit)."""
    with tqdm(total=2 * pool, desc=f"calibrate {learner.name}", unit="fit", disable=not progress) as bar:
        def compute(start: int, stop: int) -> dict:
            evals, n = [validation.x, test.x], stop - start
            jobs = [(arm, *arm.make(s), s) for s in range(start, stop)]
            jobs += [(a, *a.make(s), s) for s in range(start, stop) for a in [_weak(arm, train, target, s)]]
            many = getattr(learner, "fit_predict_many", None)
            it = many(iter(jobs), evals) if many else (learner.fit_predict(*j, evals) for j in jobs)
            preds = []
            for p in it:
                preds.append(p)
                bar.update()
            return {"val": np.stack([p[0] for p in preds[:n]]), "test": np.stack([p[1] for p in preds[:n]]),
                    "val_weak": np.stack([p[0] for p in preds[n:]]),
                    "test_weak": np.stack([p[1] for p in preds[n:]])}

        return cached(cache, key, pool, compute, extend=True)


def self_training_arm(reference: str, winner: Arm, learner, plans: Sequence[TeacherPlan]
                      ) -> tuple[Arm, TeacherPlan] | None:
    """The report's self-training reference arm rebuilt on `winner` (its teacher) from the recipe's plans: the arm
    whose name is `reference`, or None when no plan makes it (then the winner is measured, and the page says so)."""
    hard, weighted = teacher_fit(learner)
    for plan in distinct_fits(plans, hard, weighted):
        arm = teacher_on_top_of(winner, plan, hard, weighted)
        if arm.name == reference:
            return arm, plan
    return None


def fit_pool_taught(learner, winner: Arm, plan: TeacherPlan, train: Dataset, validation: Dataset, test: Dataset,
                    target: np.ndarray, pool: int, cache: Path | None, key: str, progress: bool = True) -> dict:
    """`fit_pool` for a self-training arm: for each seed its teacher (`winner`) is fitted first and labels the pool,
    then the arm; the weakened copy is self-training on top of the weakened winner (KEEP of each class)."""
    hard, weighted = teacher_fit(learner)
    weak = dataclasses.replace(winner, name=f"{winner.name} (on {KEEP:.0%})",
                               make=lambda s: _weak(winner, train, target, s).make(s))
    taught, taught_weak = (teacher_on_top_of(a, plan, hard, weighted) for a in (winner, weak))

    def compute(start: int, stop: int) -> dict:  # always seeds 0..pool-1 (the teachers' fits are not kept)
        with tqdm(total=4 * pool, desc=f"calibrate {learner.name}", unit="fit", disable=not progress) as bar:
            fits = _Fits(learner, validation, test, len(train.classes), bar)
            fits.fit([winner, weak], pool)  # the teachers: their models label the pool, seed by seed
            fits.fit([taught, taught_weak], pool)
        return {"val": np.stack(fits.val_pred[taught.name]), "test": np.stack(fits.test_pred[taught.name]),
                "val_weak": np.stack(fits.val_pred[taught_weak.name]),
                "test_weak": np.stack(fits.test_pred[taught_weak.name])}

    return cached(cache, key, pool, compute)


def _ba(pred: np.ndarray, y: np.ndarray, k: int) -> np.ndarray:
    return np.array([score(y, p, k)["balanced_accuracy"] for p in pred])


@dataclasses.dataclass(frozen=True)
class Choice:
    """How a report chose one learner's arms, for the null to choose the same way: the best of `gan` GAN arms on
    validation over the choice seeds; the non-GAN grid's `cells` distinct fits at 1 seed each, the best `top` of
    them at the choice seeds, the best of those the winner. `gan_sd`: a spread between trained GANs (balanced
    accuracy, as a fraction) put into the null as a normal shift per GAN arm and trained GAN (0: none)."""

    gan: int = 2
    cells: int = 2
    top: int = 2
    gan_sd: float = 0.0

    def pool_needed(self, confirm: int, seeds: int, vs_winner: bool = True) -> int:
        """The disjoint pool seeds one simulated family takes for this learner (`confirm` seeds a compared arm)."""
        extra = max(confirm - seeds, 0)
        grid = self.cells + self.top * (seeds - 1) + extra if vs_winner else 0
        return confirm + self.gan * seeds + extra + grid

    @classmethod
    def of(cls, learner, headline) -> Choice:
        """The report's choice for one learner (a results.LearnerResult and its results.Headline): its GAN arms
        (synthetic-only is no candidate, as in engine._confirm), its search's stages, and the spread of its GANs'
        mean differences (the larger of its two comparisons': their seed noise is in it, so it over-states the
        spread GAN training alone adds)."""
        gan = sum(1 for n, a in learner.arms.items() if a.uses_gan and n != "synthetic-only")
        stages = learner.search.get("stages") or []
        cells = int(stages[0]["arms"]) if stages else int(learner.search.get("distinct_fits", 2))
        top = int(stages[1]["arms"]) if len(stages) > 1 else cells
        spreads = [float(np.std([g["mean"] for g in c.per_gan_seed], ddof=1))
                   for c in (headline.difference, headline.vs_real) if c is not None and len(c.per_gan_seed) > 1]
        return cls(max(gan, 1), max(cells, 1), max(min(top, cells), 1), max(spreads, default=0.0))

    def record(self) -> dict:
        return {"gan_arms": self.gan, "grid_cells": self.cells, "grid_top": self.top,
                "gan_sd_points": self.gan_sd * 100}


def _seed_sets(order: np.ndarray, c: Choice, seeds: int, confirm: int, vs_winner: bool, vals: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray | None, list[np.ndarray], np.ndarray]:
    """One simulated family's disjoint seed sets for a learner, taken in turn from the pool order `order`: real's;
    the grid winner's (None when the headline compares with real alone), chosen on `vals` (validation balanced
    accuracy per pool seed) as the report's search chose (every cell at 1 seed, the best `top` at `seeds`, its
    `confirm` seeds the chosen cell's first ones); each GAN candidate's choice seeds and the chosen one's rest."""
    at = 0

    def take(k: int) -> np.ndarray:
        nonlocal at
        at += k
        return order[at - k:at]

    rest = max(confirm - seeds, 0)
    real, cand, extra = take(confirm), [take(seeds) for _ in range(c.gan)], take(rest)
    winner = None
    if vs_winner:
        cells = take(c.cells)
        top = cells[np.argsort(-vals[cells], kind="stable")[:c.top]]
        full = [np.concatenate([[t], take(seeds - 1)]) for t in top]
        winner = np.concatenate([full[int(np.argmax([vals[f].mean() for f in full]))], take(rest)])[:confirm]
    return real, winner, cand, extra


def _pick(cand: list[np.ndarray], extra: np.ndarray, vals: np.ndarray, shifts: np.ndarray, seeds: int,
          confirm: int) -> tuple[np.ndarray, np.ndarray]:
    """The GAN candidate best on validation over its choice seeds (its GAN shifts included): its `confirm` seeds
    and its shift per seed."""
    best = int(np.argmax([vals[s].mean() + shifts[i, :seeds].mean() for i, s in enumerate(cand)]))
    return np.concatenate([cand[best], extra])[:confirm], shifts[best]


def _compare(ca: np.ndarray, cb: np.ndarray, groups: list[np.ndarray], gans: int = 0,
             shift: np.ndarray | None = None) -> dict:
    """stats.paired_difference with stats.test_sampling_variance, from correctness [seeds, examples] of
    two arms on one (bootstrapped) test set whose classes are `groups`: the report's comparison, fast. `gans` > 1:
    at the GAN level, as the report makes a GAN arm's comparison (the i-th seed from GAN i mod gans, stats.by_gan).
    `shift`: added to the first arm's balanced accuracy per seed (its GAN's shift)."""
    ba_a = np.mean([ca[:, g].mean(1) for g in groups], 0)
    ba_b = np.mean([cb[:, g].mean(1) for g in groups], 0)
    if shift is not None:
        ba_a = ba_a + shift
    e = ca.mean(0) - cb.mean(0)
    var = sum(float(e[g].var(ddof=1)) / len(g) for g in groups if len(g) > 1) / len(groups) ** 2
    if gans > 1:
        ba_a, ba_b, _ = by_gan(ba_a, ba_b, gans)
    return paired_difference(ba_a, ba_b, test_var=var)


def simulate(pools: dict[str, dict], vs_winner: dict[str, bool], y_val: np.ndarray, y_test: np.ndarray, k: int,
             seeds: int, confirm: int | dict[str, int], sims: int, seed: int = 0, gans: int = 0,
             choices: dict[str, Choice] | None = None) -> dict:
    """False-verdict rate (null family) and per-learner power (weakened GAN candidates). `confirm`: the confirmatory
    seeds, one count or one per learner (a report's seed plan gives each learner its own). `gans` > 1: the GAN
    candidates' comparisons are made at the GAN level, as the report's are. `choices`: per learner, how many
    candidates the report chose among and the GAN-training spread put into the null (Choice; default: two of each,
    no spread)."""
    rng = np.random.default_rng(seed)
    choices = choices or {}
    by_class = [np.flatnonzero(y_test == c) for c in np.unique(y_test)]
    val_ba = {n: _ba(p["val"], y_val, k) for n, p in pools.items()}
    weak_val = {n: _ba(p["val_weak"], y_val, k) for n, p in pools.items()}
    right = {n: p["test"] == y_test for n, p in pools.items()}
    right_weak = {n: p["test_weak"] == y_test for n, p in pools.items()}
    plan = {name: (confirm[name] if isinstance(confirm, dict) else confirm, choices.get(name, Choice()))
            for name in pools}  # per learner: its confirmatory seeds and the report's choice
    for name, p in pools.items():
        n, c = plan[name]
        if c.pool_needed(n, seeds, vs_winner[name]) > len(p["test"]):
            raise RecipeError(f"{name}: the pool holds {len(p['test'])} seeds; one simulated family takes "
                              f"{c.pool_needed(n, seeds, vs_winner[name])}")
    false, power, covered = 0, dict.fromkeys(pools, 0), 0
    g_count = max(gans, 1)
    for _ in range(sims):
        picks = [rng.choice(i, len(i)) for i in by_class]  # a class-stratified bootstrap of the test split
        idx = np.concatenate(picks)
        groups = np.split(np.arange(len(idx)), np.cumsum([len(p) for p in picks])[:-1])
        null, weak_family, weak_at = [], [], {}
        for name, p in pools.items():
            n, c = plan[name]
            real, win, cand, extra = _seed_sets(rng.permutation(len(p["test"])), c, seeds, n, vs_winner[name],
                                                val_ba[name])
            ok = right[name][:, idx]
            for fam, gright, vals in ((null, ok, val_ba[name]), (weak_family, right_weak[name][:, idx],
                                                                 weak_val[name])):
                shifts = rng.normal(0.0, c.gan_sd, (c.gan, g_count))[:, np.arange(n) % g_count]  # seed i: GAN i mod G
                g, shift = _pick(cand, extra, vals, shifts, seeds, n)
                if fam is weak_family:
                    weak_at[name] = len(fam)
                if vs_winner[name]:
                    fam.append(_compare(gright[g], ok[win], groups, gans, shift))
                fam.append(_compare(gright[g], ok[real], groups, gans, shift))
        judge_family(null)
        false += any(c["verdict"] in (HELPS, HURTS) for c in null)
        covered += null[0]["low"] <= 0 <= null[0]["high"] if not math.isnan(null[0]["low"]) else 1
        judge_family(weak_family)
        for name, i in weak_at.items():
            power[name] += weak_family[i]["verdict"] == HURTS
    return {"false": false / sims, "power": {n: v / sims for n, v in power.items()}, "coverage": covered / sims}


def calibrate(train: Dataset, validation: Dataset, test: Dataset, learners: Sequence, results: Results,
              target: np.ndarray, *, pool: int, simulations: int, cache: Path | None, data_name: str,
              fit_inputs: dict, progress: bool = True, self_training: Sequence[TeacherPlan] = (),
              self_training_pool: Dataset | None = None) -> dict:
    """The `calibration` entry of a report's results.json (see the module docstring). `self_training`: the recipe's
    self-training plans on `self_training_pool` (teaching.self_training_plans), so a headline whose reference is a
    self-training arm has that arm measured (its teacher fitted first, seed by seed)."""
    from ..core.labels import align_classes

    validation, test = align_classes(validation, train.classes), align_classes(test, train.classes)
    k = len(train.classes)
    p = results.protocol
    seeds, confirm = int(p["seeds"]), int(p.get("confirm_seeds", p["seeds"]))
    heads = [results.headline, *results.headline.others] if results.headline else []
    if not heads:
        raise RecipeError("the report has no confirmatory family (no GAN arm): nothing to calibrate")
    per_learner = {h.classifier: h.seeds or confirm for h in heads}  # the seeds each learner's verdict had
    confirm = max(per_learner.values())
    choices = {h.classifier: Choice.of(results.learners[h.classifier], h) for h in heads}
    need = {h.classifier: choices[h.classifier].pool_needed(per_learner[h.classifier], seeds,
                                                           h.best_non_gan_arm != "real") for h in heads}
    if pool < max(need.values()):
        worst = max(need, key=need.get)
        c = choices[worst]
        raise RecipeError(f"--pool {pool}: one simulated family takes {need[worst]} disjoint seeds of {worst}'s "
                          f"pool (the report chose among {c.gan} GAN arm(s) and {c.cells} grid cell(s), the best "
                          f"{c.top} at {seeds} seeds, and compared at {per_learner[worst]} seeds): at least "
                          f"{need[worst]}; pass --pool {need[worst]}")
    pools, vs_winner, effects, names = {}, {}, {}, {}
    pool_id = (len(self_training_pool), str(self_training_pool.source)) if self_training_pool is not None else ()
    data_keys = {taught: fingerprint(train.y, validation.y, test.y, len(train), pool_inputs(fit_inputs, taught))
                 for taught in (False, True)}
    previous = (results.section("calibration") or {}).get("pool_fits")  # the last calibration's pool, kept by size
    for learner in learners:
        h = next((h for h in heads if h.classifier == learner.name), None)
        if h is None:
            continue
        arm = winner_arm(results.learners[learner.name].arms[h.best_non_gan_arm].raw, train, target)
        taught = self_training_arm(h.best_non_gan_arm, arm, learner, self_training) if self_training else None
        measured = taught[0].name if taught else arm.name
        def key_of(size: int | None, learner=learner, measured=measured, taught=taught) -> str:
            return fingerprint(data_keys[taught is not None], learner.name, measured,
                               *(() if size is None else (size,)), KEEP,
                               getattr(learner, "steps", None), getattr(learner, "lr", None),
                               getattr(learner, "batch_size", None), getattr(learner, "cache_key", str)(),
                               *((taught[1].want, taught[1].weight, taught[1].join_at, taught[1].temperature,
                                  *pool_id) if taught else ()))

        key = key_of(None)  # a seed's fit does not depend on the pool's size: a larger pool grows a kept one
        if cache is not None and previous and not (cache / f"{learner.name}-{key}.npz").is_file():
            kept = cache / f"{learner.name}-{key_of(int(previous))}.npz"  # kept under the pool size it was fitted at
            if kept.is_file():
                kept.replace(cache / f"{learner.name}-{key}.npz")
        pools[learner.name] = (fit_pool_taught(learner, arm, taught[1], train, validation, test, target, pool, cache,
                                               f"{learner.name}-{key}", progress=progress) if taught else
                               fit_pool(learner, arm, train, validation, test, target, pool, cache,
                                        f"{learner.name}-{key}", progress=progress))
        vs_winner[learner.name] = h.best_non_gan_arm != "real"
        d = _ba(pools[learner.name]["test_weak"], test.y, k) - _ba(pools[learner.name]["test"], test.y, k)
        effects[learner.name] = {"points": float(-d.mean() * 100), "se_points": float(d.std(ddof=1) / math.sqrt(len(d))
                                                                                      * 100)}
        names[learner.name] = measured
        getattr(learner, "close", lambda: None)()
    gans = max(h.difference.gan_trainings for h in heads) if heads[0].difference else 0
    sim = simulate(pools, vs_winner, validation.y, test.y, k, seeds, {n: per_learner[n] for n in pools},
                   simulations, gans=gans if gans > 1 else 0, choices=choices)
    family = sum(2 if v else 1 for v in vs_winner.values())

    def se(x: float) -> float:
        return math.sqrt(x * (1 - x) / simulations)

    first = next(iter(pools))
    return {"learner": ", ".join(pools), "data": data_name, "family_size": family, "seeds": confirm,
            **({"seeds_per_learner": {n: per_learner[n] for n in pools}}
               if len({per_learner[n] for n in pools}) > 1 else {}),
            "choice_seeds": seeds, "pool_fits": pool, "simulations": simulations,
            **({"gan_trainings": gans, "gan_level": "the GAN arms' comparisons made at the GAN level, as the "
                "report's; GAN training's spread in the null: a normal shift per GAN arm and trained GAN, its sd the "
                "spread between the report's GANs' mean differences (it holds their seed noise too, so it "
                "over-states GAN training's share)"} if gans > 1 else
               {"gan_trainings": 1, "gan_level": "one GAN: the report gives no verdict word on its GAN arms; this "
                "measures the seed-level test a verdict would use"} if gans == 1 else {}),
            "arms": names, "false_verdict_rate": sim["false"], "false_verdict_rate_se": se(sim["false"]),
            "null_interval_coverage": sim["coverage"],
            "power": sim["power"][first], "power_se": se(sim["power"][first]),
            "power_effect_points": effects[first]["points"], "power_effect_se_points": effects[first]["se_points"],
            "power_effect": f"{first}'s arm trained on a random {KEEP:.0%} of each class's samples",
            "choice": {n: choices[n].record() for n in pools},
            "per_learner": {n: {"arm": names[n], "power": sim["power"][n], "power_se": se(sim["power"][n]),
                                "power_effect_points": effects[n]["points"],
                                "power_effect_se_points": effects[n]["se_points"]} for n in pools},
            "method": "augmentor calibrate: null family of identical arms by seed, the report's choice on validation "
                      "among as many GAN arms and grid cells included; power for the same arm on a random share of "
                      "its training samples"}
