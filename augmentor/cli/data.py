"""Commands that start from a data set, stage by stage: inspect, train, evaluate (the whole run: runs.py)."""

from __future__ import annotations

from pathlib import Path

import click

from ..config.recipe import EvaluateConfig
from .group import cli
from .options import (
    ImageSize,
    UserError,
    common,
    device_option,
    label_option,
    learner_option,
    overwrite_option,
    parse_imbalance,
    seed_option,
)


@cli.command()
@click.argument("data")
@click.option("--image-size", type=ImageSize(), default=0, help="Resize images to this square side (8..64).")
@click.option("--channels", type=click.Choice(["0", "1", "3"]), default="0", help="1 or 3 to convert.")
@click.option("--length", type=click.IntRange(0, 1 << 16), default=0,
              help="Signals: make every series this long (default: report the lengths as found).")
@click.option("--rate", type=click.IntRange(0, 1_000_000), default=0, help="Signals: resample WAV clips to this rate.")
@label_option
@common
def inspect(data: str, image_size: int, channels: int, length: int, rate: int, label: str, progress: bool) -> None:
    """Class counts of DATA and the gap each strategy would fill.

    \b
    Example:
      augmentor inspect builtin:digits
      augmentor inspect path/to/images/ --image-size 32
      augmentor inspect churn.csv --label-column churned
      augmentor inspect builtin:plaid
      augmentor inspect clips/ --rate 8000
    """
    from ..core.gaps import NAMED, plan_gaps
    from ..registry import load_dataset

    d = load_dataset(data, image_size, int(channels), label=label, length=length, rate=rate, inspect=True)
    counts = d.counts()
    click.echo(d.describe())
    strategies = [s for s in NAMED if s != "not majority"]
    plans = {s: plan_gaps(counts, s) for s in strategies}
    click.echo(f"{'class':>12} {'count':>7} " + " ".join(f"{'+' + s:>14}" for s in strategies))
    for name, n in counts.items():
        cells = " ".join(f"{plans[s].get(name, 0):>14}" for s in strategies)
        click.echo(f"{name:>12} {n:>7} {cells}")
    click.echo(f"{'total':>12} {len(d):>7} "
               + " ".join(f"{sum(plans[s].values()):>14}" for s in strategies))


@cli.command("train")
@click.argument("data")
@click.option("--out", "out", required=True, type=click.Path(path_type=Path), help="Run directory.")
@click.option("--recipe", type=click.Path(path_type=Path), default=None, help="TOML recipe.")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override train.epochs.")
@click.option("--image-size", type=ImageSize(), default=None, help="Override data.image_size.")
@click.option("--channels", type=click.IntRange(0, 3), default=None, help="Override data.channels (1 or 3).")
@click.option("--resume", is_flag=True, help="Continue from the run's last checkpoint.")
@click.option("--deterministic", is_flag=True, help="torch.use_deterministic_algorithms (GPU).")
@click.option("--label-column", "label", default=None, help="Tables: the label column (data.label).")
@click.option("--length", type=click.IntRange(0, 1 << 16), default=None,
              help="Signals: samples per series (data.length); other lengths are resampled (data.fit).")
@click.option("--rate", type=click.IntRange(0, 1_000_000), default=None,
              help="Signals: resample WAV clips to this rate in Hz (data.rate).")
@click.option("--nproc", type=click.IntRange(1, 1024), default=1, show_default=True,
              help="Train in this many processes (torchrun + DistributedDataParallel); images only.")
@overwrite_option
@seed_option
@device_option
@common
def train_cmd(data: str, out: Path, recipe: Path | None, epochs: int | None,
              image_size: int | None, channels: int | None, resume: bool, deterministic: bool,
              label: str | None, length: int | None, rate: int | None, overwrite: bool, seed: int | None, nproc: int,
              device: str, progress: bool) -> None:
    """Train the class-conditional GAN on DATA, writing checkpoints into --out.

    With --nproc N the same command runs in N processes under torchrun (DistributedDataParallel:
    gloo on CPU, NCCL on GPU; global batch N x batch_size); a user's own
    `torchrun ... -m augmentor.cli train ...` works too (docs/scaling.md).

    \b
    Example:
      augmentor train data/train.npz --out runs/mine --recipe recipes/digits.toml --epochs 50
      augmentor train data/train.npz --out runs/mine --resume
      augmentor train builtin:digits --out runs/ddp --nproc 2 --epochs 1
      augmentor train churn.csv --label-column churned --out runs/churn --recipe recipes/wine.toml
      augmentor train clips/ --out runs/clips --length 2000 --epochs 100
    """
    import os

    from ..config.recipe import Recipe, load_recipe, with_overrides
    from ..core.outputs import check_outputs
    from ..registry import load_dataset

    check_outputs({"--out": out}, [data, *([recipe] if recipe else [])])
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from ..core.devices import torch_device
        from ..core.errors import AugmentorError
        from ..gan.checkpoint import check_world_size, latest_checkpoint, list_checkpoints, load_checkpoint
        from ..gan.distributed import launch

        cores = os.cpu_count() or 1
        if not torch_device(device).startswith("cuda") and nproc > cores:
            raise UserError(f"--nproc {nproc} is more processes than this machine's {cores} cores for CPU "
                            f"training; use --nproc {cores} or fewer")
        if resume and list_checkpoints(out):  # refused here, before any rank starts
            try:
                last = latest_checkpoint(out)
                state = load_checkpoint(last, tensors=False)[1]
            except (AugmentorError, OSError):  # a live job may be replacing it: the ranks check under the lock
                state = None
            if state is not None:
                check_world_size(last, state, nproc)

        argv = ["train", data, "--out", str(out), "--device", device]
        for flag, value in (("--recipe", recipe), ("--epochs", epochs), ("--image-size", image_size),
                            ("--channels", channels), ("--label-column", label), ("--seed", seed),
                            ("--length", length), ("--rate", rate)):
            if value is not None:
                argv += [flag, str(value)]
        argv += [f for f, on in (("--resume", resume), ("--deterministic", deterministic),
                                 ("--overwrite", overwrite), ("-q", not progress)) if on]
        launch(argv, nproc, device, out)
        return
    from ..gan.distributed import die_with_launcher, shutdown, world
    from ..gan.train import train

    die_with_launcher()
    r = load_recipe(recipe) if recipe else Recipe(name=out.name)
    r = with_overrides(r, {"train.epochs": epochs, "train.seed": seed, "data.label": label,
                           "data.image_size": image_size, "data.channels": channels, "data.length": length,
                           "data.rate": rate})
    d = load_dataset(data, r.data.image_size, r.data.channels, label=r.data.label,
                     categorical=r.data.categorical, numeric=r.data.numeric, impute=r.data.impute,
                     length=r.data.length, fit=r.data.fit, rate=r.data.rate)
    try:
        result = train(d, out, r, device=device, resume=resume, overwrite=overwrite, progress=progress,
                       deterministic=deterministic)
        if world()[0] == 0:
            click.echo(f"checkpoint: {result.checkpoint}")
    finally:
        shutdown()


@cli.command("evaluate")
@click.option("--train", "train_spec", required=True, help="Real training data.")
@click.option("--test", "test_spec", required=True, help="Real held-out test data (read once per arm and seed).")
@click.option("--validation", "validation_spec", default=None,
              help="Real validation data for every choice the report makes (default: held out of --train).")
@click.option("--validation-fraction", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=0.2,
              show_default=True,
              help="Share of --train held out for validation: of each class, or with --imbalance the same "
              "number of every class (fraction x the smallest), held out before thinning.")
@click.option("--synthetic", type=click.Path(path_type=Path), default=None,
              help="A synthesize output folder (gap-filling samples).")
@click.option("--synthetic-only", type=click.Path(path_type=Path), default=None,
              help="A generate output folder for the synthetic-only arm.")
@click.option("--filter", "filter_threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Images: add an arm keeping the --synthetic samples a class-balanced classifier "
                   "trained on --train accepts with p(class) >= this.")
@click.option("--dose", multiple=True, metavar="RATIO=FOLDER",
              help="Dose-response arm: a generate output with RATIO x count samples per class.")
@click.option("--reference", default="", help="Compare with this arm (e.g. real+logit-adjusted) instead of "
              "the best non-GAN arm on validation.")
@click.option("--report", required=True, type=click.Path(path_type=Path), help="Report folder.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=3, show_default=True,
              help="Seeds for every arm (validation choices, exploratory estimates).")
@click.option("--confirm-seeds", type=click.IntRange(0, 1000), default=EvaluateConfig.confirm_seeds,
              show_default=True, help="Seeds for the confirmatory family's arms (headline GAN arm, best non-GAN "
              "arm, real); the default's power on long-tailed MNIST: reports/verdict-calibration-mnist-smallcnn.md.")
@click.option("--epochs", type=click.IntRange(1, 100_000), default=30, show_default=True)
@click.option("--imbalance", default=None, metavar="PROFILE",
              help="Thin --train first: exponential:RATIO (long tail) or step:CLASS,CLASS:KEEP.")
@click.option("--no-baselines", is_flag=True, help="Skip the resampling, classic and loss-side arms.")
@click.option("--classic", multiple=True, type=click.Choice(["affine", "pad-crop", "crop-flip", "randaugment", "jitter",
                                                             "scaling", "magnitude-warp", "time-warp", "window-slice",
                                                             "window-warp"]),
              help="A classic augmentation candidate (repeat for several; the best on validation is kept). "
              "Default: images affine and pad-crop (grayscale), crop-flip and randaugment (RGB); signals the six "
              "transformations jitter ... window-warp.")
@click.option("--classifier", "classifiers", multiple=True, type=click.Choice(["logreg", "hgb", "rf"]),
              help="Tables: scikit-learn classifier(s) to evaluate with (default: all three).")
@learner_option
@click.option("--length", type=click.IntRange(0, 1 << 16), default=0,
              help="Signals: samples per series (other lengths are fitted with --fit).")
@click.option("--fit", type=click.Choice(["resample", "pad-crop"]), default="resample", show_default=True,
              help="Signals: how series of another length are made --length long.")
@click.option("--rate", type=click.IntRange(0, 1_000_000), default=0, help="Signals: resample WAV clips to this rate.")
@label_option
@overwrite_option
@device_option
@common
def evaluate_cmd(train_spec: str, test_spec: str, validation_spec: str | None, validation_fraction: float,
                 synthetic: Path | None, synthetic_only: Path | None, filter_threshold: float | None,
                 dose: tuple[str, ...], reference: str, report: Path, seeds: int, confirm_seeds: int, epochs: int,
                 imbalance: str | None, no_baselines: bool, classic: tuple[str, ...],
                 classifiers: tuple[str, ...], learners: tuple[str, ...], label: str, length: int, fit: str,
                 rate: int, overwrite: bool, device: str, progress: bool) -> None:
    """Train a classifier on each arm over several seeds; choose on validation; report on test.

    \b
    Example:
      augmentor evaluate --train runs/digits/data/train.npz --test runs/digits/data/test.npz \\
          --validation runs/digits/data/validation.npz --synthetic runs/digits/synthetic --report reports/mine
      augmentor evaluate --train builtin:digits --test test.npz --imbalance exponential:50 \\
          --report reports/longtail-baselines
      augmentor evaluate --train runs/wine/data/train.csv --test runs/wine/data/test.csv \\
          --synthetic runs/wine/synthetic --classifier rf --report reports/wine-rf
      augmentor evaluate --train runs/wine/data/train.csv --test runs/wine/data/test.csv \
          --synthetic runs/wine/synthetic --learner "xgboost:XGBClassifier(n_estimators=200)" --report reports/wine-xgb
      augmentor evaluate --train clips/ --test clips-test/ --validation clips-val/ --length 2000 \
          --synthetic runs/clips/synthetic --report reports/clips
    """
    from ..config.recipe import Recipe, with_overrides
    from ..core.outputs import check_outputs
    from ..pipeline import evaluate_folders, versions
    from ..report.render import check_report_dir, write_report

    doses: dict[float, Path] = {}
    for item in dose:
        ratio, _, folder = item.partition("=")
        try:
            doses[float(ratio)] = Path(folder)
        except ValueError:
            raise UserError(f"--dose expects RATIO=FOLDER, got {item!r}") from None
        if not 0 < float(ratio) <= 100 or not folder:
            raise UserError(f"--dose expects RATIO=FOLDER with RATIO in (0, 100], got {item!r}")
    inputs = [train_spec, test_spec, *(p for p in (validation_spec, synthetic, synthetic_only) if p), *doses.values()]
    check_outputs({"--report": report}, inputs)
    check_report_dir(report, overwrite)
    ev = with_overrides(Recipe(), {"evaluate.seeds": seeds, "evaluate.confirm_seeds": confirm_seeds,
                                   "evaluate.epochs": epochs, "evaluate.classic": list(classic) or None,
                                   "evaluate.baselines": not no_baselines,
                                   "evaluate.reference": reference,
                                   "evaluate.classifiers": list(classifiers) or None,
                                   "evaluate.learners": list(learners) or None}).evaluate
    results, samples = evaluate_folders(
        train_spec, test_spec, ev, validation=validation_spec, validation_fraction=validation_fraction,
        synthetic=synthetic, synthetic_only=synthetic_only, doses=doses, filter_threshold=filter_threshold,
        imbalance=parse_imbalance(imbalance) if imbalance else None, label=label,
        signal={"length": length, "fit": fit, "rate": rate},
        device=device if device != "auto" else "cpu", progress=progress)
    path = write_report(report, results, samples=samples, overwrite=overwrite, extra={"versions": versions(device)})
    click.echo(f"report: {path}\nopen: {path.with_name('report.html')}")
