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

from .arms import CnnLearner, Dataset, Draws, TableLearner, build_arms, steps_for
from .data import LabelledData, align_classes
from .evaluate import evaluate
from .recipe import EvaluateConfig
from .tables import TableData


def gan_draws(gens: list, counts: Mapping[str, int], base_seed: int, like: Dataset) -> Draws:
    """Seed s -> `counts` fresh samples from generator s mod len(gens), generation seed base + 1000 s.
    Images are quantized to 8 bits, exactly as the PNGs the product writes."""
    cache: dict[int, Dataset] = {}

    def draw(s: int) -> Dataset:
        if s not in cache:
            gen = gens[s % len(gens)]
            x, y = gen.generate(dict(counts), seed=base_seed + 1000 * s)
            if isinstance(like, TableData):
                made = TableData(x, y, gen.classes, f"GAN draw {s}", like.label, like.categorical)
            else:
                made = LabelledData((np.rint(x * 255) / 255).astype(np.float32), y, gen.classes, f"GAN draw {s}")
            cache[s] = align_classes(made, like.classes)
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
                   doses: Mapping[float, Draws] | None = None, quality_filter=None, device: str = "cpu",
                   progress: bool = True, sources: dict | None = None) -> dict:
    """Every arm x classifier x seed (evaluate.py), then fidelity, filter and validity sections."""
    table = isinstance(train, TableData)
    k = len(train.classes)
    counts = np.bincount(train.y, minlength=k)
    target = counts + np.bincount(synthetic(0).y, minlength=k) if synthetic else np.full(k, counts.max())
    filtered = FilteredDraws(synthetic, quality_filter, train.classes) if synthetic and quality_filter else None
    arms = build_arms(train, target=target, synthetic=synthetic, synthetic_only=synthetic_only, doses=doses,
                      filtered=filtered, baselines=ev.baselines,
                      losses=("reweight",) if table else ("reweight", "logit-adjust"))
    if table:
        numeric = [c for c in train.x.columns if c not in train.categorical]
        learners = [TableLearner(c, list(train.categorical), numeric) for c in ev.classifiers]
        protocol = {"classifier_kind": "scikit-learn"}
    else:
        from .classifiers import classic_augmentation

        steps = steps_for(len(train), ev.epochs, ev.batch_size)
        learners = [CnnLearner(k, steps, ev.batch_size, ev.lr, device, classic_augmentation(ev.classic, ev.flips))]
        protocol = {"epochs": ev.epochs, "steps_per_arm": steps, "batch_size": ev.batch_size, "lr": ev.lr,
                    "classic_augmentation": ev.classic, "flips": ev.flips, "device": device}
    combine = None
    if doses and ev.baselines:
        ratio = max(doses)
        combine = (doses[ratio], ratio)
    results = evaluate(train, validation, test, arms, learners, seeds=ev.seeds, combine=combine,
                       reference=ev.reference, progress=progress, protocol=protocol, sources=sources)
    sets = {"synthetic (gap-filling)": synthetic, "synthetic (filtered)": filtered, "synthetic-only": synthetic_only}
    sets = {name: d(0) for name, d in sets.items() if d is not None}
    results["fidelity"] = _fidelity(train, test, sets, ev, device)
    if filtered is not None:
        results["quality_filter"] = filtered.stats()
    if table:
        from .arms import synthetic_validity

        results["validity"] = {name: synthetic_validity(train, s) for name, s in sets.items()}
    return results


def _fidelity(train: Dataset, test: Dataset, sets: dict[str, Dataset], ev: EvaluateConfig, device: str) -> dict:
    """Each set against the real test split, in a feature space learnt from the training split
    only: a SmallCNN's penultimate layer for images, the table codec's space for tables."""
    from .fidelity import fidelity

    sets = {n: align_classes(s, train.classes) for n, s in sets.items() if len(s)}
    if not sets:
        return {}
    test = align_classes(test, train.classes)
    if isinstance(train, TableData):
        from .codec import TableCodec

        codec = TableCodec.fit(train.x, train.categorical)
        embed = codec.encode
    else:
        from .classifiers import embed as cnn_embed
        from .classifiers import fit_cnn

        model = fit_cnn(train.x, train.y, len(train.classes), steps=steps_for(len(train), ev.epochs, ev.batch_size),
                        batch_size=ev.batch_size, lr=ev.lr, seed=0, device=device)

        def embed(x):
            return cnn_embed(model, x)
    real = embed(test.x)
    return {name: fidelity(real, test.y, embed(s.x), s.y, train.classes, ev.fidelity_k) for name, s in sets.items()}
