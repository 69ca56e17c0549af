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
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from . import modalities
from .arms import (
    CnnLearner,
    Dataset,
    Draws,
    TableLearner,
    TeacherPlan,
    build_arms,
    classic_candidate_arms,
    steps_for,
    teacher_want,
)
from .data import LabelledData, align_classes
from .errors import InvalidDataError, RecipeError
from .evaluate import evaluate
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
    kind = modalities.get(train.modality).evaluation
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


class ImageEvaluation:
    """Images: the SmallCNN (same step budget every arm), classic-augmentation arms, both loss
    fixes; fidelity in the penultimate layer of a SmallCNN trained on the training split."""

    losses, classic = ("reweight", "logit-adjust", "drw"), True

    def classic_candidates(self, train: Dataset, ev: EvaluateConfig) -> tuple[str, ...]:
        from .classifiers import classic_candidates

        return ev.classic or classic_candidates(train.shape[0])

    def mixup(self, ev: EvaluateConfig) -> tuple[float, ...]:
        return ev.mixup

    def learners(self, train: Dataset, ev: EvaluateConfig, device: str) -> tuple[list, dict]:
        steps = steps_for(len(train), ev.epochs, ev.batch_size)
        learner = CnnLearner(len(train.classes), steps, ev.batch_size, ev.lr, device, workers=ev.workers)
        return [learner], {"epochs": ev.epochs, "steps_per_arm": steps, "batch_size": ev.batch_size, "lr": ev.lr,
                           "workers": learner.workers,
                           "classic_candidates": list(self.classic_candidates(train, ev)),
                           "mixup_alphas": list(ev.mixup), "mixup_losses": list(ev.mixup_losses), "device": device}

    def features(self, train: Dataset, ev: EvaluateConfig, device: str, learners: Sequence = ()):
        """The penultimate layer of a SmallCNN fitted on the training split (plain loss, seed 0): the
        `real` arm's seed-0 model when the evaluation kept it (the same fit), else fitted here."""
        from .classifiers import embed, fit_cnn

        kept = [lr.models[("real", 0)] for lr in learners if ("real", 0) in getattr(lr, "models", {})]
        if kept:
            return lambda x: embed(kept[0], x)
        model = fit_cnn(train.x, train.y, len(train.classes), steps=steps_for(len(train), ev.epochs, ev.batch_size),
                        batch_size=ev.batch_size, lr=ev.lr, seed=0, device=device)
        return lambda x: embed(model, x)

    def extra_sections(self, train: Dataset, sets: dict, validation: Dataset) -> dict:
        return {"memorisation": memorisation_section(train, sets, validation)}


def memorisation_section(train: Dataset, sets: dict, validation: Dataset) -> dict:
    """Each synthetic set's nearest-neighbour memorisation check per class (array modalities: images, signals)."""
    from .fidelity import memorisation

    val = align_classes(validation, train.classes)
    sets = {n: align_classes(s, train.classes) for n, s in sets.items() if len(s)}
    return {name: memorisation(train.x, train.y, val.x, val.y, s.x, s.y, train.classes) for name, s in sets.items()}


class TableEvaluation:
    """Tables: one scikit-learn classifier per name, class_weight='balanced' as the loss fix;
    fidelity in the codec's space; a validity check of the synthetic rows."""

    losses, classic = ("reweight",), False

    def classic_candidates(self, train: Dataset, ev: EvaluateConfig) -> tuple[str, ...]:
        return ()  # no classic augmentation for tables

    def mixup(self, ev: EvaluateConfig) -> tuple[float, ...]:
        return ()  # the scikit-learn learners take hard labels

    def learners(self, train: Dataset, ev: EvaluateConfig, device: str) -> tuple[list, dict]:
        numeric = [c for c in train.x.columns if c not in train.categorical]
        return ([TableLearner(c, list(train.categorical), numeric) for c in ev.classifiers],
                {"classifier_kind": "scikit-learn"})

    def features(self, train: Dataset, ev: EvaluateConfig, device: str, learners: Sequence = ()):
        from .codec import TableCodec

        return TableCodec.fit(train.x, train.categorical).encode

    def extra_sections(self, train: Dataset, sets: dict, validation: Dataset) -> dict:
        from .arms import synthetic_validity

        return {"validity": {name: synthetic_validity(train, s) for name, s in sets.items()}}



def _refuse_carving_from_gan_data(spec: str, train_data: Dataset, folders: list) -> None:
    """Validation carved out of the data the GAN was trained on would judge the GAN on its own
    training samples: refuse, naming --validation."""
    from .data import fingerprint
    from .synthesize import model_record

    mine = None
    for folder in folders:
        if folder is None:
            continue
        theirs = model_record(folder).get("data_fingerprint")
        if theirs and theirs == (mine := mine or fingerprint(train_data)):
            raise InvalidDataError(f"{spec} is the data the GAN behind {folder} was trained on: a validation split "
                                   "held out of it would score GAN choices on the GAN's own training samples; "
                                   "pass --validation with real data the GAN never saw")


def evaluate_folders(train: str, test: str, ev: EvaluateConfig, *, validation: str | None = None,
                     validation_fraction: float = 0.2, synthetic: Path | None = None,
                     synthetic_only: Path | None = None, doses: Mapping[float, Path] | None = None,
                     filter_threshold: float | None = None, imbalance: dict | None = None, label: str = "label",
                     signal: dict | None = None, device: str = "cpu",
                     progress: bool = True) -> tuple[dict, LabelledData | None]:
    """`augmentor evaluate`: real splits and synthetic *folders* (one fixed draw each, so the
    report says the synthetic draw is not a covered source). Returns (results, sample grid data)."""
    from .data import hold_out_and_thin, load_dataset
    from .synthesize import read_folder

    train_data = load_dataset(train, label=label, **(signal or {}))
    if not validation:
        _refuse_carving_from_gan_data(train, train_data, [synthetic, synthetic_only, *(doses or {}).values()])
    test_data = train_data.load_like(test)
    validation_data = train_data.load_like(validation) if validation else None
    imb = imbalance or {}
    train_data, validation_data = hold_out_and_thin(
        train_data, validation_data, validation_fraction, 0, profile=imb.get("profile", "none"),
        classes=imb.get("classes", ()), keep=imb.get("keep", 1.0), ratio=imb.get("ratio", 1.0),
        thin_seed=imb.get("seed", 0))
    guided = modalities.get(train_data.modality).guided
    if filter_threshold is not None and not guided:
        raise InvalidDataError(f"--filter is available for images only, not for {train_data.modality} data")

    def read(folder: Path) -> Draws:
        return fixed_draw(read_folder(folder, train_data, "synthetic"))

    quality_filter = None
    if filter_threshold is not None and synthetic:
        from .classifiers import QualityFilter

        quality_filter = QualityFilter.fit(train_data.x, train_data.y, len(train_data.classes), filter_threshold)
    ev = dataclasses.replace(ev, teacher_pool=min(ev.teacher_pool, 1))  # the folder is the teacher's pool
    gap_fill = read(synthetic) if synthetic else None  # read once: the gap-filling arms and the teacher's pool
    results = run_evaluation(
        train_data, validation_data, test_data, ev, synthetic=gap_fill,
        synthetic_only=read(synthetic_only) if synthetic_only else None,
        doses={r: read(f) for r, f in (doses or {}).items()}, quality_filter=quality_filter, device=device,
        teacher_pool=gap_fill if ev.teacher_pool and guided else None,
        progress=progress, sources=variance_sources(max(ev.seeds, ev.confirm_seeds), fresh_draws=False, gan_seeds=1))
    folder = synthetic_only or synthetic
    samples = read_folder(folder, train_data, "synthetic") if folder else None
    return results, samples if isinstance(samples, LabelledData) else None
