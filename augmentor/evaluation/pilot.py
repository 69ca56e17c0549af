"""The budget's pilot (`augmentor run --budget`, evaluation/budget.py): what this machine takes for the GAN, one
export and one fit per learner, measured on short runs before any work; and whether a resumed run's GAN is already
trained (then the plan costs no GAN).
"""

from __future__ import annotations

import dataclasses
import math
import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np

from ..config.recipe import Recipe
from .arms import Dataset, grid_arms
from .budget import Costs, Shape
from .steps_plan import pilot_arms


def time_fits(learners: Sequence, grid: Sequence, validation: Dataset) -> dict[str, float]:
    """Seconds of one fit per learner: `real` and the first rebalancing cell at seed 0, the slower of the two."""
    out = {}
    for lr in learners:
        slowest = 0.0
        for arm in pilot_arms(grid):
            x, y = arm.make(0)
            t = time.perf_counter()
            lr.fit_predict(arm, x, y, 0, [validation.x])
            slowest = max(slowest, time.perf_counter() - t)
        getattr(lr, "models", {}).clear()  # the pilot's models are not the evaluation's
        out[lr.name] = slowest
    return out


def time_gan(train_once: Callable[[int], None], steps_per_epoch: int, epochs: int) -> tuple[float, float]:
    """(fixed seconds, seconds per step) of the GAN from short trainings (`train_once(epochs)`, after a warm-up one):
    a line through the time of about 20 steps and of a longer run, doubled until it takes 2 s (at most the recipe's
    length)."""

    def timed(e: int) -> float:
        t = time.perf_counter()
        train_once(e)
        return time.perf_counter() - t

    short = max(1, min(epochs, math.ceil(20 / steps_per_epoch)))
    t_short = timed(short)
    long, t_long = short, t_short
    while long < epochs and (long == short or t_long < 2.0):
        long = min(epochs, long * 4 if long == short else long * 2)
        t_long = timed(long)
    if long == short:
        return 0.0, t_short / (short * steps_per_epoch)
    per_step = max(0.0, (t_long - t_short) / ((long - short) * steps_per_epoch))
    return max(0.0, t_short - per_step * short * steps_per_epoch), per_step


def shape_of(recipe: Recipe, train: Dataset, validation: Dataset, pool: Dataset | None, device: str,
             objects: Sequence[object] = ()) -> Shape:
    """The evaluation's shape for this data and recipe: its learners (built as the evaluation builds them; a user's
    `objects` wrapped as it wraps them), targets, whether choices go by folds, which GAN arms the modality has."""
    from ..core.gaps import parse_strategy, plan_gaps
    from ..core.labels import align_classes
    from .stage import grid_axes
    from .user_learner import ObjectLearner

    ev, kind = recipe.evaluate, train.MODALITY.evaluation
    counts = train.counts()
    gaps = plan_gaps(counts, parse_strategy(recipe.synthesize.strategy))
    learners, _ = kind.learners(train, ev, device)
    wrapped = [ObjectLearner(o, len(train.classes), kind.augment_path) for o in objects]
    val = align_classes(validation, train.classes)
    val_counts = np.bincount(val.y, minlength=len(train.classes))
    return Shape(train=train, learners=learners, objects=wrapped,
                 networks={lr.name for lr in [*learners, *wrapped] if hasattr(lr, "steps")},
                 target=np.array([counts[c] + gaps.get(c, 0) for c in train.classes]),
                 folds=bool(ev.folds > 1 and np.median(val_counts) < ev.fold_below),
                 guided=bool(train.MODALITY.guided),
                 filtered=bool(ev.filter_threshold > 0 and train.MODALITY.quality_filter is not None),
                 pool=pool is not None, gan_steps_per_epoch=math.ceil(len(train) / recipe.train.batch_size),
                 axes=lambda e: grid_axes(train, e), specs=kind.specs)


def measure(recipe: Recipe, train: Dataset, validation: Dataset, pool: Dataset | None, device: str,
            export: Callable[[Path], object] | None = None, objects: Sequence[object] = ()) -> tuple[Costs, Shape]:
    """The pilot: the GAN timed at short lengths and one fit per learner of the pilot arms (a user's `objects`
    included); `export(run_dir)` (registry.export_onnx) timed on the shortest GAN, in a temporary folder; with the
    evaluation's shape."""
    import tempfile

    from ..core.labels import align_classes
    from ..gan.train import train as train_gan

    started = time.perf_counter()
    shape = shape_of(recipe, train, validation, pool, device, objects)
    every = [*shape.learners, *shape.objects]

    def train_once(epochs: int, folder: Path | None = None) -> None:
        short = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, epochs=epochs))
        train_gan(train, folder, short, device=device, progress=False, unlabelled=pool)

    export_s = 0.0
    with tempfile.TemporaryDirectory(prefix="augmentor-pilot-") as tmp:
        train_once(1, Path(tmp) / "run")  # the warm-up: the first call's one-off costs are not the GAN's
        if export is not None:
            t = time.perf_counter()
            export(Path(tmp) / "run")
            export_s = time.perf_counter() - t
    fixed, per_step = time_gan(train_once, shape.gan_steps_per_epoch, recipe.train.epochs)
    try:
        fit_s = time_fits(every, grid_arms(train, shape.target, **shape.axes(recipe.evaluate)),
                          align_classes(validation, train.classes))
    finally:
        for lr in every:
            getattr(lr, "close", lambda: None)()
    parallel = {lr.name: max(1.0, 0.8 * min(getattr(lr, "workers", 1), os.cpu_count() or 1)) for lr in every}
    return Costs(fixed, per_step, fit_s, parallel, time.perf_counter() - started, export_s), shape


def gan_finished(recipe: Recipe, train: Dataset) -> bool:
    """`--resume` on a run whose GAN — and each extra GAN of `gan_seeds` — has a checkpoint at the recipe's last
    step: the plan costs no GAN training and makes no GAN cut (the resumed training has nothing left to do)."""
    from ..gan.checkpoint import list_checkpoints, load_checkpoint

    total = recipe.train.epochs * math.ceil(len(train) / recipe.train.batch_size)
    for folder in [recipe.run_dir, *(recipe.run_dir / f"gan-{g}" for g in range(1, recipe.evaluate.gan_seeds))]:
        found = list_checkpoints(folder)
        if not found or int(load_checkpoint(found[-1], tensors=False)[1].get("step", -1)) < total:
            return False
    return True
