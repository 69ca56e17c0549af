"""The evaluation stage shared by `augmentor run` and `augmentor evaluate`.

Given the real train / validation / test splits and where GAN samples come from, it builds
the learners and arms for the data's modality, runs `evaluate`, and adds fidelity, the
quality filter's acceptance and (tables) the validity of the synthetic rows.

GAN samples come as *draws*: a function seed -> synthetic set. `gan_draws` makes a fresh
set for every evaluation seed (seed s uses generation seed base + 1000 s, and GAN s when
the GAN was trained more than once); `fixed_draw` reuses one set (a folder given on the
command line), and the report then says the synthetic draw is not a covered source.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np

from ..config.recipe import EvaluateConfig
from ..core.errors import InvalidDataError, RecipeError
from ..core.labels import align_classes
from .arms import (
    Arm,
    Dataset,
    Draws,
    TeacherPlan,
    cell_arm,
    gan_on_top_of,
    gan_sources,
    grid_arms,
    online_on_top_of,
    teacher_on_top_of,
    teacher_want,
)
from .engine import evaluate
from .results import Results
from .seed_plan import power_plan
from .steps_plan import plan_steps
from .teaching import distinct_fits, self_training_plans, teacher_fit, teacher_settings
from .user_learner import ObjectLearner

log = logging.getLogger(__name__)


def variance_sources(seeds: int, *, fresh_draws: bool, gan_seeds: int) -> dict[str, bool]:
    """Which sources of variation the seed-to-seed intervals cover, and which they do not."""
    return {"classifier seed (initialisation, batch order, resampling)": seeds > 1,
            "synthetic draw (fresh GAN samples each seed)": fresh_draws and seeds > 1,
            f"GAN training ({gan_seeds} GANs; the seeds grouped by GAN)" if gan_seeds > 1 else
            "GAN training (one GAN: a GAN arm's verdict never reads helps or hurts)": gan_seeds > 1,
            "test-set sampling": True}

def gan_draws(gens: list, counts: Mapping[str, int], base_seed: int, like: Dataset) -> Draws:
    """Seed s -> `counts` fresh samples from generator s mod len(gens), generation seed base + 1000 s.
    Images are quantized to 8 bits, exactly as the PNGs the product writes."""
    cache: dict[int, Dataset] = {}

    def draw(s: int) -> Dataset:
        if s not in cache:
            gen = gens[s % len(gens)]
            x, y = gen.generate(dict(counts), seed=base_seed + 1000 * s, stored=True)
            lut = np.array([like.classes.index(c) if c in like.classes else -1 for c in gen.classes], np.int64)
            labels = lut[y]
            if (labels < 0).any():
                raise InvalidDataError(f"{gen.info.path}: generates classes outside {list(like.classes)}")
            cache[s] = like.with_data(x, labels, f"GAN draw {s}")
        return cache[s]

    return draw

def fixed_draw(data: Dataset) -> Draws:
    return lambda s: data

class FilteredDraws:
    """The gap-filling draw of each seed, keeping what the quality filter accepts: the
    filtered and unfiltered arms share one draw; acceptance is counted per sample."""

    def __init__(self, draws: Draws, quality_filter, classes: tuple[str, ...]) -> None:
        self.draws, self.filter, self.classes = draws, quality_filter, classes
        self.cache: dict[int, Dataset] = {}
        self.drawn = np.zeros(len(classes), np.int64)
        self.accepted = np.zeros(len(classes), np.int64)

    def __call__(self, s: int) -> Dataset:
        if s not in self.cache:
            d = self.draws(s)
            keep = np.zeros(len(d), bool)
            for label in np.unique(d.y):
                idx = np.flatnonzero(d.y == label)
                keep[idx] = self.filter.accept(d.x[idx], int(label))
            k = len(self.classes)
            self.drawn += np.bincount(d.y, minlength=k)
            self.accepted += np.bincount(d.y[keep], minlength=k)
            self.cache[s] = d.subset(np.flatnonzero(keep))
        return self.cache[s]

    def stats(self) -> dict:
        return {"threshold": self.filter.threshold, "counted_over": "every evaluation seed's draw",
                "per_class": {c: {"drawn": int(n), "accepted": int(a), "acceptance_rate": a / n if n else None}
                              for c, n, a in zip(self.classes, self.drawn, self.accepted) if n}}

GAN_BASES = ("real+synthetic", "real+synthetic (filtered)", "real+online-synthetic", "real+synthetic (teacher)",
             "synthetic-only")  # GAN arm names before the winner's setting; doses: "real+synthetic x<ratio>"


def grid_axes(train: Dataset, ev: EvaluateConfig) -> dict:
    """The declared non-GAN grid for this data: rebalancing x classic candidates x mixup alphas."""
    kind = train.MODALITY.evaluation
    if not ev.baselines:
        return {"rebalancing": [], "classic": [], "mixup": []}
    default = ("none", "oversample", "smote", *kind.losses)
    rebalancing = [r for r in (ev.rebalancing or default) if r in ("none", "oversample", "smote", *kind.losses)]
    return {"rebalancing": rebalancing, "classic": list(kind.classic_candidates(train, ev)) if kind.classic else [],
            "mixup": list(kind.mixup(ev))}


def without_classes(draws: Draws, names: Sequence[str]) -> Draws:
    """`draws` without the samples of the classes `names` (the copy guard's flagged classes)."""
    if not names:
        return draws

    def draw(seed: int):
        d = draws(seed)
        return d.subset(np.flatnonzero(~np.isin(np.asarray(d.classes)[d.y], list(names))))
    return draw


def scaled_target(target: np.ndarray, n_train: int, data: Dataset) -> np.ndarray:
    """The resampling target for a fold's training set: the plan's counts scaled to its size, never below
    a class's own count."""
    own = np.bincount(data.y, minlength=len(target))
    return np.maximum(own, np.round(np.asarray(target) * len(data) / n_train).astype(int))


@dataclasses.dataclass
class _ArmPlan:
    """What the evaluation compares, decided from the data and the recipe before any fit: the grid (the practitioner's
    cells), the GAN sample sources by arm name (`bases`), the copy guard and its flagged classes, the teacher and
    self-training plans, and each class's target count. `gan_arms` and `self_training` are the engine's callbacks."""

    train: Dataset
    target: np.ndarray
    axes: dict
    grid: list[Arm]
    bases: dict
    flagged: list[str]
    guard: dict | None
    filtered: FilteredDraws | None
    pseudo: list[TeacherPlan]
    synthetic_only: Draws | None

    def self_training(self, teacher: Arm, learner) -> list[Arm]:
        hard, weighted = teacher_fit(learner)
        return [teacher_on_top_of(teacher, plan, hard, weighted) for plan in distinct_fits(self.pseudo, hard, weighted)]

    def gan_arms(self, best: Arm, soft: Arm | None, learner=None, with_pool: TeacherPlan | None = None) -> list[Arm]:
        """The GAN arms on top of a learner's grid winner `best` (teacher arms on top of `soft`, and of the chosen
        self-training arm `with_pool`); a flagged class gets no GAN samples in any of them."""
        out, flagged, train = [], self.flagged, self.train
        for base, what in self.bases.items():
            if base == "real+online-synthetic":  # the copy guard holds here too: no fresh samples of a flagged class
                out.append(online_on_top_of(best, (lambda s, make=what: make(s, exclude=flagged)) if flagged else what,
                                            flagged))
            elif base == "real+synthetic (teacher)":
                hard, weighted = teacher_fit(learner)
                plans = distinct_fits(what, hard, weighted)
                out += [teacher_on_top_of(soft, plan, hard, weighted) for plan in plans] if soft is not None else []
                if with_pool is not None and soft is not None:  # and on top of the chosen self-training arm
                    out += [teacher_on_top_of(soft, dataclasses.replace(plan, also=with_pool), hard, weighted)
                            for plan in plans]
            elif base == "synthetic-only":
                only = without_classes(self.synthetic_only, flagged)
                out.append(Arm("synthetic-only", "GAN samples only, class-balanced (Classification Accuracy Score)"
                               + (f"; none for {', '.join(flagged)} (the copy guard)" if flagged else ""),
                               lambda s, only=only: _only(only(s), train), "gan"))
            else:
                text = {"real+synthetic": "real + GAN samples filling the gaps (drawn afresh each seed)",
                        "real+synthetic (filtered)": "the gap-filling draw, keeping the samples the quality filter "
                        "accepts"}.get(base, f"real + {base.rsplit(' x', 1)[-1]} x each class's count from the GAN")
                if flagged:
                    text += (f"; none for {', '.join(flagged)}, whose GAN draw the memorisation check flags as copies "
                             "of their training samples")
                out.append(gan_on_top_of(best, train, self.target, base, text, without_classes(what, flagged)))
        return out

    def rebuild(self, arm: Arm, data: Dataset) -> Arm:
        """A grid cell made again on a fold's training data (cross-validated choices)."""
        return cell_arm(data, scaled_target(self.target, len(self.train), data), arm.rebalance, arm.classic,
                        arm.mixup)


def _plan_arms(train: Dataset, validation: Dataset, ev: EvaluateConfig, *, synthetic: Draws | None,
               synthetic_only: Draws | None, doses: Mapping[float, Draws] | None, quality_filter, online,
               teacher_pool: Draws | None, unlabelled: Dataset | None) -> _ArmPlan:
    """The grid, the copy guard (the memorisation check on every GAN draw it shows), one teacher arm per share that
    leaves some class samples to keep, one self-training plan per share, and the GAN sources by arm name; the
    recipe's `exclude` checked against them."""
    k = len(train.classes)
    counts = np.bincount(train.y, minlength=k)
    target = counts + np.bincount(synthetic(0).y, minlength=k) if synthetic else np.full(k, counts.max())
    filtered = FilteredDraws(synthetic, quality_filter, train.classes) if synthetic and quality_filter else None
    axes = grid_axes(train, ev)
    grid = grid_arms(train, target, **axes)
    teacher = []
    checked = {"teacher pool": teacher_pool, "synthetic (gap-filling)": synthetic, "synthetic (filtered)": filtered,
               "synthetic-only": synthetic_only}  # every draw whose memorisation the report shows
    guard = copy_guard(train, validation, {n: d for n, d in checked.items() if d is not None}) \
        if synthetic is not None else None
    settings = teacher_settings(ev)  # (weight, join, the arm name's tag) per candidate, chosen on validation
    if guard is not None and teacher_pool is not None and ev.baselines:
        copies = np.isin(np.arange(k), [train.classes.index(c) for c in guard["flagged"]])
        for share in ev.teacher_max_share:
            want = np.where(copies, 0, teacher_want(counts, target - counts, ev.teacher_dose, share))
            if want.sum() > 0 and not any(np.array_equal(want, t.want) for t in teacher):
                teacher += [TeacherPlan(teacher_pool, want, ev.teacher_pool, ev.teacher_temperature, w, j, share,
                                        tag=tag) for w, j, tag in settings]
    pseudo = self_training_plans(counts, target, unlabelled, ev)
    bases = gan_sources(ev, synthetic=synthetic, filtered=filtered, doses=doses, online=online, teacher=teacher,
                        synthetic_only=synthetic_only)
    known = {a.name for a in grid} | set(bases)
    unknown = [n for n in ev.exclude if n not in known]
    if unknown or "real" in ev.exclude:
        raise RecipeError(f"evaluate.exclude: {unknown or ['real']} cannot be excluded; the arms (GAN arms by the "
                          f"name before the winner's setting) are {', '.join(sorted(known - {'real'}))}")
    return _ArmPlan(train, target, axes, [a for a in grid if a.name not in ev.exclude],
                    {n: v for n, v in bases.items() if v is not None and n not in ev.exclude},
                    list(guard["flagged"]) if guard is not None else [], guard, filtered, pseudo, synthetic_only)


def _learners(train: Dataset, ev: EvaluateConfig, kind, device: str, objects: Sequence[object]) -> tuple[list, dict]:
    """The modality's learners (or the recipe's), and a user's objects beside or in place of them; with the
    protocol that describes them."""
    objects = [ObjectLearner(o, len(train.classes), kind.augment_path) for o in objects]  # user_learner.py
    learners, protocol = kind.learners(train, ev, device)
    if objects:  # beside the learners the recipe names, or in place of the modality's defaults
        learners = [*(learners if ev.learners else []), *objects]
        names = [lr.name for lr in learners]
        if len(set(names)) < len(names):
            raise RecipeError(f"two learners share a name ({', '.join(names)}); give each object its own class")
        protocol["learners"] = {**{n: v for n, v in protocol.get("learners", {}).items() if n in names},
                                **{o.name: o.describe() for o in objects}}
    return learners, protocol


def run_evaluation(train: Dataset, validation: Dataset, test: Dataset, ev: EvaluateConfig, *,
                   synthetic: Draws | None = None, synthetic_only: Draws | None = None,
                   doses: Mapping[float, Draws] | None = None, quality_filter=None, online=None,
                   teacher_pool: Draws | None = None, device: str = "cpu", progress: bool = True,
                   sources: dict | None = None, unlabelled: Dataset | None = None,
                   learners: Sequence[object] = (), cache=None, gans: int = 1) -> Results:
    """The grid search and GAN arms of every learner (evaluation/engine.py), then fidelity, memorisation (images),
    filter and validity sections. `online`: seed -> OnlineSynthetic, for the fresh-draw arm. `cache`: a folder
    that keeps finished fits (fit_cache.py), so a re-run fits only what is missing. `gans`: how many trained GANs
    the draws come from (`gan_draws`: seed s from GAN s mod gans); a fixed folder of samples is one."""
    kind = train.MODALITY.evaluation
    plan = _plan_arms(train, validation, ev, synthetic=synthetic, synthetic_only=synthetic_only, doses=doses,
                      quality_filter=quality_filter, online=online, teacher_pool=teacher_pool, unlabelled=unlabelled)
    learners, protocol = _learners(train, ev, kind, device, learners)
    _plan_steps(learners, plan, train, validation, ev, protocol, progress)
    pool = {"unlabelled": {"source": unlabelled.source, "n": len(unlabelled)}} if plan.pseudo else {}
    results = evaluate(train, validation, test, plan.grid, learners, seeds=ev.seeds, confirm_seeds=ev.confirm_seeds,
                       gan=plan.gan_arms, reference=ev.reference, keep=ev.search_keep, folds=ev.folds,
                       fold_below=ev.fold_below, rebuild=plan.rebuild, progress=progress,
                       protocol={**protocol, "grid": plan.axes, **pool}, sources=sources,
                       self_training=plan.self_training if plan.pseudo else None, cache=cache,
                       power=power_plan(ev), gan_seeds=gans)
    use_it = getattr(kind, "use_it", None)
    if use_it is not None:  # each learner's winner as code for the user's own training
        results["use_it"] = {lr.name: _use_it(lr, results, plan, use_it) for lr in learners}
    started = time.perf_counter()  # the sections after the fits: fidelity, memorisation, validity
    sets = {"synthetic (gap-filling)": synthetic, "synthetic (filtered)": plan.filtered,
            "synthetic-only": synthetic_only}
    sets = {name: d(0) for name, d in sets.items() if d is not None}
    # fidelity can inform choices (ablations, guidance, filter): it is measured against validation, never test
    results["fidelity"] = _fidelity(train, validation, sets, kind.features(train, ev, device, learners),
                                    ev.fidelity_k)
    if plan.filtered is not None:
        results["quality_filter"] = plan.filtered.stats()
    if plan.guard is not None:
        results["teacher_guard"] = plan.guard
    results.update(kind.extra_sections(train, sets, validation))
    results.setdefault("work", {})["sections_s"] = round(time.perf_counter() - started, 1)
    return Results.from_dict(results)


def _plan_steps(learners: Sequence, plan: _ArmPlan, train: Dataset, validation: Dataset, ev: EvaluateConfig,
                protocol: dict, progress: bool) -> None:
    """Each network learner's step budget checked on validation (steps_plan.py), before the search; recorded in
    the protocol (the first planned learner's steps are `steps_per_arm`)."""
    if len(set(ev.step_multipliers)) < 2:
        return
    val = align_classes(validation, train.classes)
    planned = {}
    for lr in learners:
        record = plan_steps(lr, plan.grid, val, len(train.classes), ev.seeds, ev.step_multipliers, progress)
        if record is not None:
            planned[lr.name] = record
            log.info("steps for %s: %s on validation; every arm gets x%d = %d steps", lr.name,
                     ", ".join(f"x{m} {v * 100:.1f} %" for m, v in record["validation"].items()),
                     record["multiplier"], record["steps"])
    if planned:
        protocol["steps_plan"] = planned
        protocol["steps_per_arm"] = next(iter(planned.values()))["steps"]


def _use_it(learner, results: dict, plan: _ArmPlan, use_it) -> str:
    """A learner's chosen grid cell as code for the user's own training."""
    entry = results["classifiers"][learner.name]["arms"][results["classifiers"][learner.name]["search"]["chosen"]]
    train = plan.train
    arm = cell_arm(train, plan.target, entry["rebalance"], entry["classic_augmentation"], entry["mixup"])
    if isinstance(learner, ObjectLearner):
        return learner.use_it(arm, plan.target, getattr(train, "shape", None) if isinstance(train.x, np.ndarray)
                              else None)
    return use_it(learner, arm, train, plan.target)


def _fidelity(train: Dataset, real: Dataset, sets: dict[str, Dataset], embed, k: int) -> dict:
    """Each set against the real validation split, in a feature space learnt from the training split only."""
    from .fidelity import fidelity

    sets = {n: align_classes(s, train.classes) for n, s in sets.items() if len(s)}
    if not sets:
        return {}
    real = align_classes(real, train.classes)
    feats = embed(real.x)
    return {name: fidelity(feats, real.y, embed(s.x), s.y, train.classes, k) for name, s in sets.items()}

def _only(data: Dataset, train: Dataset) -> tuple:
    d = align_classes(data, train.classes)
    return d.x, d.y

def copy_guard(train: Dataset, validation: Dataset, draws: Mapping[str, Draws]) -> dict:
    """The GAN arms' guard against copies, one decision per class: the memorisation check (fidelity.memorisation) on
    the seed-0 draw of every GAN source the report shows a memorisation table for (the teacher pool, the gap-filling,
    filtered and synthetic-only draws); a class any of them flags gets no GAN samples in any arm — teacher,
    gap-filling, filtered, dose, fresh-every-epoch and synthetic-only (their draws lose its samples: the arm's
    rebalancing treats it as it does without a GAN). Tables have no such check (mixed columns, no single distance):
    nothing is flagged there, and the section says so."""
    if not isinstance(train.x, np.ndarray):
        return {"flagged": [], "checked": False, "why": "no memorisation check for tables"}
    from .fidelity import memorisation

    val = align_classes(validation, train.classes)
    per_set = {}
    for name, pool in draws.items():
        draw = align_classes(pool(0), train.classes)
        per_set[name] = memorisation(train.x, train.y, val.x, val.y, draw.x, draw.y, train.classes)
    flagged = [c for c in train.classes if any(per.get(c, {}).get("flagged") for per in per_set.values())]
    return {"flagged": flagged, "checked": True, "per_class": next(iter(per_set.values())),
            "sets": {n: [c for c, v in per.items() if v["flagged"]] for n, per in per_set.items()},
            "why": "a class that the memorisation check flags as copying in any draw it checks gets no GAN samples "
                   "in any arm (teacher, gap-filling, filtered, dose, fresh-every-epoch, synthetic-only)"}


def memorisation_section(train: Dataset, sets: dict, validation: Dataset) -> dict:
    """Each synthetic set's nearest-neighbour memorisation check per class (array modalities: images, signals)."""
    from .fidelity import memorisation

    val = align_classes(validation, train.classes)
    sets = {n: align_classes(s, train.classes) for n, s in sets.items() if len(s)}
    return {name: memorisation(train.x, train.y, val.x, val.y, s.x, s.y, train.classes) for name, s in sets.items()}
