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

from collections.abc import Mapping

import numpy as np

from .arms import Dataset, Draws, TeacherPlan, build_arms, classic_candidate_arms, teacher_want
from .errors import InvalidDataError, RecipeError
from .evaluate import evaluate
from .labels import align_classes
from .recipe import EvaluateConfig


def variance_sources(seeds: int, *, fresh_draws: bool, gan_seeds: int) -> dict[str, bool]:
    """Which sources of variation the seed-to-seed intervals cover, and which they do not."""
    return {"classifier seed (initialisation, batch order, resampling)": seeds > 1,
            "synthetic draw (fresh GAN samples each seed)": fresh_draws and seeds > 1,
            "GAN training (one GAN per seed)": gan_seeds > 1 and gan_seeds >= seeds,
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

def run_evaluation(train: Dataset, validation: Dataset, test: Dataset, ev: EvaluateConfig, *,
                   synthetic: Draws | None = None, synthetic_only: Draws | None = None,
                   doses: Mapping[float, Draws] | None = None, quality_filter=None, online=None,
                   teacher_pool: Draws | None = None, device: str = "cpu", progress: bool = True,
                   sources: dict | None = None) -> dict:
    """Every arm x classifier x seed (evaluate.py), then fidelity, memorisation (images), filter
    and validity sections. `online`: seed -> OnlineSynthetic, for the fresh-draw arms."""
    kind = train.MODALITY.evaluation
    k = len(train.classes)
    counts = np.bincount(train.y, minlength=k)
    target = counts + np.bincount(synthetic(0).y, minlength=k) if synthetic else np.full(k, counts.max())
    filtered = FilteredDraws(synthetic, quality_filter, train.classes) if synthetic and quality_filter else None
    candidates = kind.classic_candidates(train, ev) if ev.baselines else ()

    def build(classic: str) -> list:
        return build_arms(train, target=target, synthetic=synthetic, synthetic_only=synthetic_only, doses=doses,
                          filtered=filtered, online=online if ev.online else None, baselines=ev.baselines,
                          losses=kind.losses, classic=classic, mixup=kind.mixup(ev))

    every = {a.name for a in build("") + build(candidates[0] if candidates else "")}
    every |= {a.name for a in classic_candidate_arms(train, candidates)}
    unknown = [n for n in ev.exclude if n not in every]
    if unknown or "real" in ev.exclude:
        raise RecipeError(f"evaluate.exclude: {unknown or ['real']} cannot be excluded; arms are "
                          f"{', '.join(sorted(every - {'real'}))}")
    teacher = []  # one teacher arm per share that leaves some class samples to keep (and keeps other ones)
    if teacher_pool is not None and synthetic is not None and ev.baselines:
        for share in ev.teacher_max_share:
            want = teacher_want(counts, target - counts, ev.teacher_dose, share)
            if want.sum() > 0 and not any(np.array_equal(want, t.want) for t in teacher):
                teacher.append(TeacherPlan(teacher_pool, want, ev.teacher_pool, ev.teacher_temperature,
                                           ev.teacher_weight, ev.teacher_join, share))
    learners, protocol = kind.learners(train, ev, device)
    combine = None
    if doses and ev.baselines:
        ratio = max(doses)
        combine = (doses[ratio], ratio)
    results = evaluate(train, validation, test, lambda c: [a for a in build(c) if a.name not in ev.exclude],
                       learners, seeds=ev.seeds, confirm_seeds=ev.confirm_seeds,
                       candidates=[a for a in classic_candidate_arms(train, candidates) if a.name not in ev.exclude],
                       combine=combine, online=online if ev.online and ev.baselines else None,
                       reference=ev.reference, teacher=teacher, mixup_losses=ev.mixup_losses,
                       progress=progress, protocol=protocol,
                       sources=sources, every_learner_headline=getattr(kind, "headline_every_learner", False))
    sets = {"synthetic (gap-filling)": synthetic, "synthetic (filtered)": filtered, "synthetic-only": synthetic_only}
    sets = {name: d(0) for name, d in sets.items() if d is not None}
    # fidelity can inform choices (ablations, guidance, filter): it is measured against validation, never test
    results["fidelity"] = _fidelity(train, validation, sets, kind.features(train, ev, device, learners),
                                    ev.fidelity_k)
    if filtered is not None:
        results["quality_filter"] = filtered.stats()
    results.update(kind.extra_sections(train, sets, validation))
    return results

def _fidelity(train: Dataset, real: Dataset, sets: dict[str, Dataset], embed, k: int) -> dict:
    """Each set against the real validation split, in a feature space learnt from the training split only."""
    from .fidelity import fidelity

    sets = {n: align_classes(s, train.classes) for n, s in sets.items() if len(s)}
    if not sets:
        return {}
    real = align_classes(real, train.classes)
    feats = embed(real.x)
    return {name: fidelity(feats, real.y, embed(s.x), s.y, train.classes, k) for name, s in sets.items()}

def memorisation_section(train: Dataset, sets: dict, validation: Dataset) -> dict:
    """Each synthetic set's nearest-neighbour memorisation check per class (array modalities: images, signals)."""
    from .fidelity import memorisation

    val = align_classes(validation, train.classes)
    sets = {n: align_classes(s, train.classes) for n, s in sets.items() if len(s)}
    return {name: memorisation(train.x, train.y, val.x, val.y, s.x, s.y, train.classes) for name, s in sets.items()}
