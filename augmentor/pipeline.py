"""`augmentor run RECIPE`: every stage in order, each writing its output to disk.

  RUN/data/{train,test}.npz      the exact splits used (derived, seeded; tables: .csv)
  RUN/checkpoints/, log.csv, samples/   training
  RUN/generator.onnx              exported EMA generator
  RUN/synthetic/                  gap-filling samples + manifest.csv
  RUN/synthetic-only/             class-balanced samples for the synthetic-only arm
  RUN/synthetic-xR/               R x count extra samples per class (dose-response arms)
  RUN/synthetic-filtered/         quality-filtered gap-filling samples + filter.json
  REPORT/                         report.md, results.json, per_class.csv, plots

Tables write RUN/synthetic/ and RUN/synthetic-only/ (samples.csv + manifest.csv); the
evaluation draws one more set of each per extra evaluation seed, in memory.
"""

from __future__ import annotations

import logging
import platform
import time
from pathlib import Path

from .checkpoint import list_checkpoints
from .data import (
    LabelledData,
    align_classes,
    imbalance_targets,
    load_dataset,
    stratified_split,
    thin_classes,
    write_npz,
)
from .errors import InvalidDataError, OutputExistsError
from .evaluate import evaluate, evaluate_table
from .export import export_onnx
from .gaps import parse_strategy
from .outputs import check_outputs, output_lock
from .recipe import Recipe, recipe_to_dict
from .report import check_report_dir, write_report
from .runtime import OnnxGenerator
from .synthesize import fill_gaps, generate_to_folder, read_samples, read_table_samples
from .tables import TableData, write_table
from .train import prepare_run_dir, train

log = logging.getLogger(__name__)


def prepare_splits(recipe: Recipe) -> tuple[LabelledData | TableData, LabelledData | TableData]:
    """Load the recipe's data; hold out a stratified test split; thin the train split."""
    d = recipe.data
    table = {"label": d.label, "categorical": d.categorical, "numeric": d.numeric, "impute": d.impute}
    full = load_dataset(d.train, d.image_size, d.channels, **table)
    if d.test:
        train_data = full
        if full.modality == "table":
            test = load_dataset(d.test, **{**table, "categorical": full.categorical})
            if list(test.x.columns) != list(full.x.columns):
                raise InvalidDataError(f"{d.test}: columns {list(test.x.columns)} differ from the "
                                       f"training table's {list(full.x.columns)}")
        else:
            test = load_dataset(d.test, full.shape[1], full.shape[0])
        test = align_classes(test, full.classes)
    else:
        train_data, test = stratified_split(full, d.test_fraction, d.split_seed)
    imb = d.imbalance
    targets = imbalance_targets(train_data.counts(), imb.profile, imb.classes, imb.keep, imb.ratio)
    return thin_classes(train_data, targets, imb.seed), test


def versions(device: str = "cpu") -> dict[str, str]:
    """Library versions and the device the numbers were measured on."""
    import imblearn
    import numpy
    import onnxruntime
    import sklearn
    import torch

    dev = _torch_device(device)
    name = torch.cuda.get_device_name(0) if dev.startswith("cuda") else (
        f"CPU ({platform.machine()}, {torch.get_num_threads()} threads)")
    return {"device": name, "python": platform.python_version(), "torch": torch.__version__,
            "onnxruntime": onnxruntime.__version__, "numpy": numpy.__version__,
            "scikit-learn": sklearn.__version__, "imbalanced-learn": imblearn.__version__,
            "platform": platform.platform()}


def run_recipe(recipe: Recipe, *, device: str = "cpu", overwrite: bool = False,
               resume: bool = False, progress: bool = True, recipe_text: str | None = None,
               inputs: tuple[str | Path, ...] = ()) -> Path:
    """Run every stage of `recipe`; return the path of the written report.md.

    Before any work: the run and report folders may not overlap each other, the recipe's
    data or `inputs` (e.g. the recipe file); both are locked for the whole run; an existing
    report is replaced only when augmentor wrote it."""
    run, report = recipe.run_dir, recipe.report_dir
    data_inputs = [s for s in (recipe.data.train, recipe.data.test) if s]
    with output_lock(run), output_lock(report, "--report"):
        check_outputs({"--out": run, "--report": report}, [*data_inputs, *inputs])
        check_report_dir(report, overwrite or resume)
        if list_checkpoints(run) and not (overwrite or resume):
            raise OutputExistsError(f"{run} already holds a run; pass --resume to continue training "
                                    "or --overwrite to start again")
        prepare_run_dir(run, resume=resume, overwrite=overwrite, inputs=data_inputs)
        return _run_stages(recipe, device=device, overwrite=overwrite, resume=resume, progress=progress,
                           recipe_text=recipe_text)


def _run_stages(recipe: Recipe, *, device: str, overwrite: bool, resume: bool, progress: bool,
                recipe_text: str | None) -> Path:
    run = recipe.run_dir
    times: dict[str, float] = {}
    t = time.perf_counter()
    train_data, test = prepare_splits(recipe)
    if train_data.modality == "table":
        write_table(train_data, run / "data" / "train.csv")
        write_table(test, run / "data" / "test.csv")
    else:
        write_npz(train_data, run / "data" / "train.npz")
        write_npz(test, run / "data" / "test.npz")
    log.info("train split %s; test split %s", train_data.counts(), test.counts())
    times["prepare"] = time.perf_counter() - t

    t = time.perf_counter()
    train(train_data, run, recipe, device=device, resume=resume, overwrite=overwrite,
          progress=progress)
    times["train"] = time.perf_counter() - t

    t = time.perf_counter()
    model = export_onnx(run)
    times["export"] = time.perf_counter() - t

    if train_data.modality == "table":
        return _run_table_stages(recipe, train_data, test, model, times, device=device,
                                 progress=progress, recipe_text=recipe_text)
    t = time.perf_counter()
    syn, ev = recipe.synthesize, recipe.evaluate
    dev = _ort_device(device)
    common = {"batch_size": syn.batch_size, "device": dev, "overwrite": True, "progress": progress}
    fill_gaps(model, train_data, run / "synthetic", strategy=parse_strategy(syn.strategy),
              seed=syn.seed, **common)
    per_class = ev.synthetic_only_per_class or max(train_data.counts().values())
    generate_to_folder(model, {c: per_class for c in train_data.classes}, run / "synthetic-only",
                       seed=syn.seed + 1, **common)
    for ratio in ev.doses:
        generate_to_folder(model, {c: round(ratio * n) for c, n in train_data.counts().items()},
                           run / f"synthetic-x{ratio:g}", seed=syn.seed + 2, **common)
    filter_stats = None
    if ev.filter_threshold > 0:
        res = fill_gaps(model, train_data, run / "synthetic-filtered",
                        strategy=parse_strategy(syn.strategy), seed=syn.seed + 3,
                        filter_threshold=ev.filter_threshold, strict_filter=False, **common)
        filter_stats = {"threshold": ev.filter_threshold, "per_class": res.filter_stats}
    times["synthesize"] = time.perf_counter() - t

    t = time.perf_counter()
    classes = train_data.classes
    synthetic_only = read_samples(run / "synthetic-only", classes)
    results = evaluate(
        train_data, test, synthetic=read_samples(run / "synthetic", classes),
        synthetic_only=synthetic_only,
        doses={r: read_samples(run / f"synthetic-x{r:g}", classes) for r in ev.doses},
        filtered=read_samples(run / "synthetic-filtered", classes) if filter_stats else None,
        seeds=ev.seeds, epochs=ev.epochs, batch_size=ev.batch_size, lr=ev.lr,
        device=_torch_device(device), progress=progress, baselines=ev.baselines,
        classic=ev.classic, flips=ev.flips, fidelity_k=ev.fidelity_k,
        n_resamples=ev.bootstrap_resamples)
    times["evaluate"] = time.perf_counter() - t
    return write_report(recipe.report_dir, results, samples=synthetic_only,
                        title=f"augmentor report: {recipe.name}", recipe_text=recipe_text,
                        extra={"versions": versions(device), "timings_s": times, "quality_filter": filter_stats,
                               "recipe": recipe_to_dict(recipe)}, overwrite=True)


def _run_table_stages(recipe: Recipe, train_data: TableData, test: TableData, model: Path,
                      times: dict[str, float], *, device: str, progress: bool,
                      recipe_text: str | None) -> Path:
    """Tables: fill gaps, draw class-balanced rows, evaluate scikit-learn classifiers, report."""
    run, syn, ev = recipe.run_dir, recipe.synthesize, recipe.evaluate
    t = time.perf_counter()
    gen = OnnxGenerator(model, _ort_device(device))
    common = {"batch_size": syn.batch_size, "overwrite": True, "progress": progress}
    plan = fill_gaps(model, train_data, run / "synthetic", strategy=parse_strategy(syn.strategy),
                     seed=syn.seed, device=_ort_device(device), **common).planned
    per_class = ev.synthetic_only_per_class or max(train_data.counts().values())
    balanced = {c: per_class for c in train_data.classes}
    generate_to_folder(gen, balanced, run / "synthetic-only", seed=syn.seed + 1, **common)
    synthetic = [read_table_samples(run / "synthetic", train_data)]
    synthetic_only = [read_table_samples(run / "synthetic-only", train_data)]
    for s in range(1, ev.seeds):  # one more draw of each set per evaluation seed
        for sets, counts, base in ((synthetic, plan, syn.seed), (synthetic_only, balanced, syn.seed + 1)):
            x, y = gen.generate(counts, seed=base + 1000 * s, batch_size=syn.batch_size)
            sets.append(TableData(x, y, gen.classes, "generated in memory", train_data.label,
                                  train_data.categorical))
    times["synthesize"] = time.perf_counter() - t
    t = time.perf_counter()
    results = evaluate_table(train_data, test, synthetic=synthetic, synthetic_only=synthetic_only,
                             classifiers=ev.classifiers, seeds=ev.seeds, progress=progress,
                             fidelity_k=ev.fidelity_k, n_resamples=ev.bootstrap_resamples)
    times["evaluate"] = time.perf_counter() - t
    return write_report(recipe.report_dir, results, title=f"augmentor report: {recipe.name}",
                        recipe_text=recipe_text,
                        extra={"versions": versions(device), "timings_s": times,
                               "recipe": recipe_to_dict(recipe)}, overwrite=True)


def _ort_device(device: str) -> str:
    return "cuda" if device.startswith("cuda") else device


def _torch_device(device: str) -> str:
    if device == "auto":
        import torch

        return "cuda" if torch.cuda.is_available() else "cpu"
    return device
