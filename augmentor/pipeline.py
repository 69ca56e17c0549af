"""`augmentor run RECIPE`: every stage in order, each writing its output to disk.

  RUN/data/{train,validation,test}.npz   the exact splits used (derived, seeded; tables: .csv)
  RUN/checkpoints/, log.csv, samples/    training (RUN/gan-G/ for each extra GAN of gan_seeds)
  RUN/generator.onnx              exported EMA generator
  RUN/synthetic/                  gap-filling samples + manifest.csv (the product's output)
  RUN/synthetic-only/             class-balanced samples (the synthetic-only arm's seed-0 draw)
  REPORT/                         report.md, results.json, per_class.csv, plots

The evaluation draws every GAN set afresh for each seed, in memory (evaluation/stage.py). `evaluate_folders`
is `augmentor evaluate`: real splits and synthetic folders. Both sit above the registry: they
start from files, find the modality there (registry.py) and hand it down with the data.
"""

from __future__ import annotations

import dataclasses
import logging
import platform
import time
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from .config.recipe import DataConfig, EvaluateConfig, ImbalanceConfig, Recipe, recipe_to_dict
from .core.data import hold_out_and_thin, shared_samples, stratified_split
from .core.devices import ort_device, torch_device
from .core.errors import InvalidDataError, RecipeError
from .core.outputs import check_outputs, output_lock
from .evaluation.arms import Dataset, Draws
from .evaluation.results import Results
from .evaluation.stage import fixed_draw, gan_draws, run_evaluation, variance_sources
from .gan.run_folder import prepare_run_dir
from .gan.train import train
from .registry import export_onnx, load_dataset, open_generator
from .report.render import check_report_dir, write_report
from .synthesis.synthesize import fill_gaps, generate_to_folder, read_folder

log = logging.getLogger(__name__)


def prepare_splits(recipe: Recipe, loaded: Dataset | None = None) -> tuple[Dataset, Dataset, Dataset]:
    """Load the recipe's data; hold out a stratified test split; load `[data].validation`, or
    hold one out: balanced and *before* thinning when the recipe simulates a long tail
    (`[data.imbalance]`), else stratified from the training split as given; thin the train split.
    `loaded`: `[data].train` as already loaded with the default loader options (`augmentor run DATA`), used
    as it is when the recipe sets none of them — the data is loaded once."""
    d = recipe.data
    table = {"label": d.label, "categorical": d.categorical, "numeric": d.numeric, "impute": d.impute}
    signal = {"length": d.length, "fit": d.fit, "rate": d.rate}
    plain = (d.image_size, d.channels, d.categorical, d.numeric, d.impute, d.length, d.rate) == (0, 0, (), (), "none",
                                                                                                   0, 0)
    full = loaded if loaded is not None and plain else load_dataset(d.train, d.image_size, d.channels, **table,
                                                                     **signal)
    return real_splits(full, d)


def real_splits(full: Dataset, d: DataConfig) -> tuple[Dataset, Dataset, Dataset]:
    """The three real splits from the loaded training data `full`, as `d` says (`augmentor run` and
    `augmentor evaluate` alike): the test split loaded like it or held out stratified; the validation split loaded
    or held out (balanced before thinning under a simulated long tail); the training split thinned."""
    options = {"numeric": d.numeric, "impute": d.impute}
    if d.test:
        train_data, test = full, full.load_like(d.test, **options)
    else:
        train_data, test = stratified_split(full, d.test_fraction, d.split_seed)
    imb = d.imbalance
    validation = full.load_like(d.validation, **options) if d.validation else None
    train_data, validation = hold_out_and_thin(train_data, validation, d.validation_fraction, d.split_seed,
                                               profile=imb.profile, classes=imb.classes, keep=imb.keep,
                                               ratio=imb.ratio, thin_seed=imb.seed)
    return train_data, validation, test


def load_pool(recipe: Recipe, train_data: Dataset, test: Dataset, validation: Dataset | None = None
              ) -> Dataset | None:
    """`data.unlabelled`: the unlabelled pool, like the training set; refused where it holds a sample of the
    test or the validation split — compared by content (data.shared_samples), so a re-encoded copy counts too."""
    if not recipe.data.unlabelled:
        return None
    d = recipe.data
    load = train_data.MODALITY.unlabelled
    if load is None:
        raise RecipeError(f"data.unlabelled: {train_data.modality} data takes no unlabelled pool; remove it")
    pool = load(d.unlabelled, train_data, numeric=d.numeric, impute=d.impute)
    for name, split, why in (("test", test, "the test split must stay unseen"),
                             ("validation", validation, "validation drives every choice the report makes")):
        if split is None:
            continue
        leaked = shared_samples(pool, split)
        if leaked:
            raise InvalidDataError(f"data.unlabelled: {d.unlabelled} holds {leaked} sample(s) of the {name} split "
                                   f"(compared by content: equal after rounding, or a near-copy); {why}. Remove "
                                   "them from the pool")
    return pool


def versions(device: str = "cpu") -> dict[str, str]:
    """Library versions and the device the numbers were measured on."""
    import imblearn
    import numpy
    import onnxruntime
    import sklearn
    import torch

    dev = torch_device(device)
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else (
        f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)")
    return {"device": name, "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "imbalanced-learn": imblearn.__version__,
            "platform": platform.platform()}


def run_recipe(recipe: Recipe, *, device: str = "cpu", overwrite: bool = False,
               resume: bool = False, progress: bool = True, recipe_text: str | None = None,
               inputs: tuple[str | Path, ...] = (), learners: Sequence[object] = (),
               loaded: Dataset | None = None, budget: float | None = None,
               started: float | None = None) -> Path:
    """Run every stage of `recipe`; return the path of the written report.md. `learners`: a user's learner
    objects (evaluation/user_learner.py: fit(x, y, sample_weight=None), predict_proba(x)), judged beside the learners
    the recipe names, or in place of the modality's defaults when it names none. `budget`: seconds the whole run
    should take (evaluation/budget.py: a pilot, then the recipe cut to fit; the report says what was cut), counted
    from `started` (a `time.perf_counter()` value: the command's start) or from this call.

    Before any work: the run and report folders may not overlap each other, the recipe's
    data or `inputs` (e.g. the recipe file); both are locked for the whole run; an existing
    report is replaced only when augmentor wrote it."""
    run, report = recipe.run_dir, recipe.report_dir
    d = recipe.data
    data_inputs = [s for s in (d.train, d.test, d.validation, d.unlabelled) if s]  # every input the run reads
    with output_lock(run), output_lock(report, "--report"):
        check_outputs({"--out": run, "--report": report}, [*data_inputs, *inputs])
        check_report_dir(report, overwrite or resume)
        prepare_run_dir(run, resume=resume, overwrite=overwrite, inputs=data_inputs)  # the run folder's one guard
        return _run_stages(recipe, device=device, overwrite=overwrite, resume=resume, progress=progress,
                           recipe_text=recipe_text, learners=learners, loaded=loaded, budget=budget,
                           started=started)


def _run_stages(recipe: Recipe, *, device: str, overwrite: bool, resume: bool, progress: bool,
                recipe_text: str | None, learners: Sequence[object] = (), loaded: Dataset | None = None,
                budget: float | None = None, started: float | None = None) -> Path:
    started = time.perf_counter() if started is None else started
    device = torch_device(device)  # resolved once: every stage gets the same torch device ('auto' decided here)
    times: dict[str, float] = {}
    t = time.perf_counter()
    train_data, validation, test = prepare_splits(recipe, loaded)
    check_learners(train_data, recipe.evaluate, learners)  # every check before any work: nothing written if one fails
    pool = load_pool(recipe, train_data, test, validation)
    planned = None
    if budget is not None:  # the pilot, then the recipe cut to fit, printed before the work starts
        from .evaluation.budget import changes, still_cut
        from .evaluation.budget import plan as plan_budget
        from .evaluation.pilot import gan_finished, measure

        costs, shape = measure(recipe, train_data, validation, pool, device, export=export_onnx, objects=learners)
        asked = recipe
        recipe, planned = plan_budget(recipe, costs, shape, budget, spent_s=time.perf_counter() - started,
                                      gan_done=resume and gan_finished(recipe, train_data))
        _say_plan(planned)
    run, syn, ev = recipe.run_dir, recipe.synthesize, recipe.evaluate
    for name, part in (("train", train_data), ("validation", validation), ("test", test)):
        part.write(run / "data" / name)
    log.info("train %s; validation %s; test %s", train_data.counts(), validation.counts(), test.counts())
    if pool is not None:
        log.info("unlabelled pool: %d samples from %s", len(pool), pool.source)
    times["prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    train(train_data, run, recipe, device=device, resume=resume, overwrite=overwrite, progress=progress,
          unlabelled=pool)
    models = [export_onnx(run)]
    for g in range(1, ev.gan_seeds):  # more GANs, each its own training seed: GAN variance is seen
        extra = dataclasses.replace(recipe, train=dataclasses.replace(recipe.train, seed=recipe.train.seed + g))
        train(train_data, run / f"gan-{g}", extra, device=device, resume=resume, overwrite=overwrite,
              progress=progress, unlabelled=pool)
        models.append(export_onnx(run / f"gan-{g}"))
    times["train"] = time.perf_counter() - t

    t = time.perf_counter()
    gens = [open_generator(m, ort_device(device), spinning=False) for m in models]  # each opened once
    plan = fill_gaps(gens[0], train_data, run / "synthetic", syn, overwrite=True, progress=progress).planned
    per_class = ev.synthetic_only_per_class or max(train_data.counts().values())
    balanced = {c: per_class for c in train_data.classes}
    generate_to_folder(gens[0], balanced, run / "synthetic-only", dataclasses.replace(syn, seed=syn.seed + 1),
                       overwrite=True, progress=progress)
    counts = train_data.counts()
    draws = {"synthetic": gan_draws(gens, plan, syn.seed, train_data),
             "synthetic_only": gan_draws(gens, balanced, syn.seed + 1, train_data),
             "doses": {r: gan_draws(gens, {c: round(r * n) for c, n in counts.items()}, syn.seed + 2, train_data)
                       for r in ev.doses}}
    guided = train_data.MODALITY.guided
    if ev.teacher_pool > 0 and sum(plan.values()):  # every modality: its learners fit teacher arms
        draws["teacher_pool"] = gan_draws(gens, {c: ev.teacher_pool * n for c, n in plan.items()}, syn.seed + 4,
                                          train_data)
    quality_filter = None
    make_filter = train_data.MODALITY.quality_filter
    if ev.filter_threshold > 0 and make_filter is not None:
        quality_filter = make_filter(train_data.x, train_data.y, len(train_data.classes), ev.filter_threshold,
                                     device=device)
    online = None
    if ev.online and guided:
        online = online_factory(gens, train_data, {c: counts[c] + n for c, n in plan.items()}, ev, syn.seed + 3,
                                quality_filter if ev.online_filter else None)
    times["synthesize"] = time.perf_counter() - t

    if planned is not None:  # the GAN is trained: the evaluation re-planned on the time that is left
        recipe, again = plan_budget(recipe, costs, shape, budget, spent_s=time.perf_counter() - started,
                                    gan_done=True)
        if again["cuts"]:
            _say_plan(again)
        changed = changes(asked, recipe)  # what the run got against what the recipe asked
        planned = {**planned, "before_the_evaluation": again, "estimated_total_s": again["estimated_total_s"],
                   "changed": changed, "cuts": still_cut([*planned["cuts"], *again["cuts"]], changed)}
        ev = recipe.evaluate
    t = time.perf_counter()
    sources = variance_sources(max(ev.seeds, ev.confirm_seeds), fresh_draws=True, gan_seeds=ev.gan_seeds)
    results = run_evaluation(train_data, validation, test, ev, **draws, quality_filter=quality_filter,
                             online=online, device=device, progress=progress, sources=sources,
                             unlabelled=pool, learners=learners, cache=run / "fits", gans=len(gens))
    times["evaluate"] = time.perf_counter() - t
    samples = draws["synthetic_only"](0)  # the synthetic-only folder's samples, already in memory (same seed)
    if planned is not None:
        planned["took_s"] = round(time.perf_counter() - started, 1)  # up to the report's writing
    return write_report(recipe.report_dir, results, samples=samples if train_data.MODALITY.training.preview else None,
                        real=train_data, synthetic=samples,
                        title=f"augmentor report: {recipe.name}",
                        recipe_text=recipe_text, overwrite=True,
                        extra={"versions": versions(device), "timings_s": times, "recipe": recipe_to_dict(recipe),
                               **({"budget": planned} if planned is not None else {})})


def _say_plan(record: dict) -> None:
    from .evaluation.budget import describe

    for line in describe(record):
        log.info("%s", line)


def check_learners(train_data: Dataset, ev: EvaluateConfig, objects: Sequence[object] = ()) -> None:
    """Build every learner the recipe names, and every learner object, before any training, and fit each
    on a handful of training rows (networks: one training step): a bad one is one line (RecipeError)."""
    from .evaluation.stage import grid_axes
    from .evaluation.user_learner import ObjectLearner

    _check_ray(train_data, ev, "fits")
    kind = train_data.MODALITY.evaluation
    losses = any(r in ("reweight", "logit-adjust", "drw") for r in grid_axes(train_data, ev)["rebalancing"])
    check = getattr(kind, "check", None)
    if check is not None:
        check(train_data, ev, losses)
    for obj in objects:
        ObjectLearner(obj, len(train_data.classes), kind.augment_path).check(train_data.x, train_data.y, losses)


def _check_ray(train_data: Dataset, ev: EvaluateConfig, what: str) -> None:
    """`evaluate.ray` only where the modality's learners can fit as Ray tasks (its evaluation's `ray`: images,
    tables and signals): one line otherwise."""
    if ev.ray and not getattr(train_data.MODALITY.evaluation, "ray", False):
        raise RecipeError(f"evaluate.ray (--ray): {what} on Ray are not built for {train_data.modality} data; "
                          "it fits in this process: drop --ray")


def online_factory(gens: list, train_data: Dataset, target: dict, ev, base_seed: int, quality_filter=None):
    """seed s -> an OnlineSynthetic over GAN s mod len(gens) (seed base + 1000 s), optionally filtered."""
    from .synthesis.online import FilteredSource, OnlineSynthetic

    counts = train_data.counts()

    def make(s: int, exclude: Sequence[str] = ()) -> OnlineSynthetic:
        """`exclude`: classes the copy guard flags: no GAN samples for them (their target is their real count)."""
        source = gens[s % len(gens)]
        if quality_filter is not None:
            source = FilteredSource(source, lambda x, c: quality_filter.accept(x, train_data.classes.index(c)))
        aims = {c: counts[c] if c in exclude else n for c, n in target.items()}
        return OnlineSynthetic(train_data.x, train_data.y, train_data.classes, source, target=aims,
                               ratio=ev.online_ratio, weight=ev.online_weight, refresh=ev.online_refresh,
                               seed=base_seed + 1000 * s)

    return make


def _refuse_carving_from_gan_data(spec: str, train_data: Dataset, folders: list) -> None:
    """Validation carved out of the data the GAN was trained on would judge the GAN on its own
    training samples: refuse, naming --validation."""
    from .core.data import fingerprint
    from .synthesis.synthesize import model_record

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
                     progress: bool = True) -> tuple[Results, Dataset | None]:
    """`augmentor evaluate`: real splits and synthetic *folders* (one fixed draw each, so the
    report says the synthetic draw is not a covered source). Returns (results, sample grid data)."""
    train_data = load_dataset(train, label=label, **(signal or {}))
    if not validation:
        _refuse_carving_from_gan_data(train, train_data, [synthetic, synthetic_only, *(doses or {}).values()])
    train_data, validation_data, test_data = real_splits(train_data, DataConfig(
        train=train, test=test, validation=validation or "", validation_fraction=validation_fraction,
        imbalance=ImbalanceConfig(**(imbalance or {}))))
    check_learners(train_data, ev)
    guided = train_data.MODALITY.guided
    if filter_threshold is not None and not guided:
        raise InvalidDataError(f"--filter is available for images only, not for {train_data.modality} data")

    def read(folder: Path) -> Draws:
        return fixed_draw(read_folder(folder, train_data, "synthetic"))

    quality_filter = None
    if filter_threshold is not None and synthetic:
        quality_filter = train_data.MODALITY.quality_filter(train_data.x, train_data.y, len(train_data.classes),
                                                            filter_threshold)
    ev = dataclasses.replace(ev, teacher_pool=min(ev.teacher_pool, 1))  # the folder is the teacher's pool
    gap_fill = read(synthetic) if synthetic else None  # read once: the gap-filling arms and the teacher's pool
    results = run_evaluation(
        train_data, validation_data, test_data, ev, synthetic=gap_fill,
        synthetic_only=read(synthetic_only) if synthetic_only else None,
        doses={r: read(f) for r, f in (doses or {}).items()}, quality_filter=quality_filter, device=device,
        teacher_pool=gap_fill if ev.teacher_pool else None,
        progress=progress, sources=variance_sources(max(ev.seeds, ev.confirm_seeds), fresh_draws=False, gan_seeds=1))
    folder = synthetic_only or synthetic
    samples = read_folder(folder, train_data, "synthetic") if folder else None
    return results, samples if train_data.MODALITY.training.preview else None


def calibrate_recipe(recipe: Recipe, *, pool: int = 30, simulations: int = 2000, device: str = "cpu",
                     progress: bool = True) -> dict:
    """`augmentor calibrate`: measure the false-verdict rate and power of the report `recipe` wrote, on
    its data and learners (evaluation/calibrate.py); store them in its results.json and re-render report.md."""
    from .core.gaps import parse_strategy, plan_gaps
    from .evaluation.calibrate import calibrate
    from .evaluation.teaching import self_training_plans
    from .report.render import rerender

    report = recipe.report_dir
    path = report / "results.json"
    if not path.is_file():
        raise InvalidDataError(f"{path} does not exist: run `augmentor run` with this recipe first")
    results = Results.read(path)
    if not next(iter(results.learners.values())).search:
        raise InvalidDataError(f"{path} was written before the grid search (no 'search' record): re-run the recipe")
    train_data, validation, test = prepare_splits(recipe)
    ev = recipe.evaluate
    _check_ray(train_data, ev, "refits")
    counts = train_data.counts()
    plan = plan_gaps(counts, parse_strategy(recipe.synthesize.strategy))
    target = np.array([counts[c] + plan.get(c, 0) for c in train_data.classes])
    learners, _ = train_data.MODALITY.evaluation.learners(train_data, ev, torch_device(device))
    unlabelled = load_pool(recipe, train_data, test, validation)  # a self-training reference is measured as it is
    plans = self_training_plans(np.array([counts[c] for c in train_data.classes]), target, unlabelled, ev)
    with output_lock(report, "--report"):
        cal = calibrate(train_data, validation, test, learners, results, target, pool=pool, simulations=simulations,
                        cache=recipe.run_dir / "calibration", data_name=f"{recipe.name} ({recipe.data.train})",
                        fit_inputs={k: recipe_to_dict(recipe)[k] for k in ("data", "evaluate", "synthesize")},
                        progress=progress, self_training=plans, self_training_pool=unlabelled)
    rerender(report, calibration=cal)
    return cal
