"""The `augmentor` command line: parse, call the Python API, print. Nothing else."""

from __future__ import annotations

from pathlib import Path

import click

from .cli_options import (
    BATCH_RANGE,
    AugmentorGroup,
    ImageSize,
    UserError,
    check_engine,
    common,
    device_option,
    engine_options,
    label_option,
    max_samples_option,
    ort_device_option,
    overwrite_option,
    parse_counts,
    parse_imbalance,
    seed_option,
    synthesis_config,
    workers_option,
)
from .recipe import EvaluateConfig


@click.group(cls=AugmentorGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="augmentor")
def cli() -> None:
    """augmentor: fill the class gaps of a labelled dataset with a class-conditional GAN,
    and report whether a classifier got better.

    \b
    Quick start (runs on scikit-learn's digits, nothing to download):
      augmentor run recipes/digits.toml
    """


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
    from .data import load_dataset
    from .gaps import NAMED, plan_gaps

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

    from .data import load_dataset
    from .outputs import check_outputs
    from .recipe import Recipe, load_recipe, with_overrides

    check_outputs({"--out": out}, [data, *([recipe] if recipe else [])])
    if nproc > 1 and "WORLD_SIZE" not in os.environ:
        from .devices import torch_device
        from .distributed import launch

        cores = os.cpu_count() or 1
        if not torch_device(device).startswith("cuda") and nproc > cores:
            raise UserError(f"--nproc {nproc} is more processes than this machine's {cores} cores for CPU "
                            f"training; use --nproc {cores} or fewer")

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
    from .distributed import die_with_launcher, shutdown, world
    from .train import train

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


@cli.command("export")
@click.argument("run", type=click.Path(path_type=Path, exists=True, file_okay=False))
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Output .onnx (default RUN/generator.onnx).")
@click.option("--checkpoint", type=click.Path(path_type=Path, exists=True), default=None,
              help="A specific checkpoint (default: the latest).")
@click.option("--fp16", is_flag=True, help="float16 weights and activations; float32 inputs/outputs.")
@click.option("--no-fold", is_flag=True, help="Keep batch norm as separate nodes.")
@common
def export_cmd(run: Path, out: Path | None, checkpoint: Path | None, fp16: bool, no_fold: bool,
               progress: bool) -> None:
    """Export RUN's EMA generator to ONNX and verify it (checker + parity with PyTorch).

    \b
    Example:
      augmentor export runs/digits
      augmentor export runs/digits --fp16 --out runs/digits/generator-fp16.onnx
    """
    from .export import export_onnx

    click.echo(f"model: {export_onnx(run, out, checkpoint, fold=not no_fold, fp16=fp16)}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--counts", required=True, help="CLASS=N[,CLASS=N...] samples to generate.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--batch-size", type=BATCH_RANGE, default=256, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["png", "npz", "csv", "parquet", "wav"]), default=None,
              help="Images: png (ImageFolder, the default) or npz shards. Tables: csv (the default) or parquet. "
                   "Signals: npz shards (the default) or wav (class folders of float WAV files).")
@workers_option
@max_samples_option
@engine_options
@overwrite_option
@seed_option
@ort_device_option
@common
def generate(model: Path, counts: str, out: Path, batch_size: int, fmt: str, workers: int,
             max_samples: int, engine: str, address: str | None, num_workers: int, gpus_per_worker: float,
             overwrite: bool, seed: int | None, device: str, progress: bool) -> None:
    """Generate exact per-class counts from MODEL.onnx alone (PNGs + manifest.csv).

    A run killed mid-way resumes when the same command is run again.

    \b
    Example:
      augmentor generate runs/digits/generator.onnx --counts 3=100,7=50 --out synth/
      augmentor generate runs/digits/generator.onnx --counts 0=100000 --format npz --out big/
      augmentor generate runs/wine/generator.onnx --counts class_2=500 --format parquet --out rows/
      augmentor generate M.onnx --counts 0=3000,1=2000 --format npz --engine ray --num-workers 2 --out A/
    augmentor generate runs/clips/generator.onnx --counts dog=40 --format wav --out clips-syn/
    """
    from .synthesize import generate_to_folder

    wanted = parse_counts(counts)
    if sum(wanted.values()) > max_samples:
        raise UserError(f"{sum(wanted.values())} samples requested, more than --max-samples "
                        f"{max_samples}; raise --max-samples if you mean it")
    config = synthesis_config(seed=seed, batch_size=batch_size, format=fmt, workers=workers, max_samples=max_samples)
    check_engine(engine, address, num_workers)
    if engine == "ray":
        from .ray_engine import generate_with_ray

        res = generate_with_ray(model, wanted, out, config, address=address, num_workers=num_workers,
                                gpus_per_worker=gpus_per_worker, overwrite=overwrite, progress=progress)
    else:
        res = generate_to_folder(model, wanted, out, config, device=device, overwrite=overwrite, progress=progress)
    click.echo(f"wrote {sum(res.planned.values())} samples to {res.out} (provider {res.provider})")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--data", "data", required=True, help="The dataset whose gaps to fill (not modified).")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--strategy", default="auto", show_default=True,
              help="auto|minority|not-minority|not-majority|all|N|CLASS=N,...")
@click.option("--include-real", is_flag=True, help="Also write the real samples: a ready-to-train folder.")
@click.option("--filter", "filter_threshold", type=click.FloatRange(0, 1, min_open=True), default=None,
              help="Keep only samples a classifier trained on DATA assigns to their class with "
                   "probability >= this; acceptance rates go to OUT/filter.json.")
@click.option("--batch-size", type=BATCH_RANGE, default=256, show_default=True)
@click.option("--format", "fmt", type=click.Choice(["png", "npz", "csv", "parquet", "wav"]), default=None,
              help="Images: png (ImageFolder, the default) or npz shards. Tables: csv (the default) or parquet. "
                   "Signals: npz shards (the default) or wav (class folders of float WAV files).")
@workers_option
@max_samples_option
@engine_options
@label_option
@overwrite_option
@seed_option
@ort_device_option
@common
def synthesize(model: Path, data: str, out: Path, strategy: str, include_real: bool,
               filter_threshold: float | None, batch_size: int, fmt: str, workers: int, max_samples: int,
               engine: str, address: str | None, num_workers: int, gpus_per_worker: float,
               label: str, overwrite: bool, seed: int | None, device: str, progress: bool) -> None:
    """Fill the class gaps of DATA with samples from MODEL.onnx, written to --out.

    \b
    Example:
      augmentor synthesize runs/digits/generator.onnx --data runs/digits/data/train.npz \\
          --out synth/ --strategy not-majority
      augmentor synthesize MODEL.onnx --data train.npz --out synth/ --filter 0.9
      augmentor synthesize runs/churn/generator.onnx --data churn.csv --label-column churned \
          --out synth/ --include-real
    """
    from .data import load_dataset
    from .gaps import check_strategy
    from .outputs import check_outputs, prepare_output
    from .runtime import OnnxGenerator
    from .synthesize import fill_gaps

    check_outputs({"--out": out}, [model, data])
    prepare_output(out, "synthesis", overwrite)
    plan = check_strategy(strategy, max_samples)
    config = synthesis_config(seed=seed, batch_size=batch_size, format=fmt, workers=workers, max_samples=max_samples)
    gen = OnnxGenerator(model, device, spinning=False)  # opened and checked once, then passed on
    d = load_dataset(data, label=label, **gen.info.codec.load_options(gen.info.shape))  # at the model's size
    check_engine(engine, address, num_workers)
    if engine == "ray":
        if include_real or filter_threshold is not None:
            raise UserError("--engine ray writes generated samples only: drop --include-real and --filter, "
                            "or use --engine local")
        from .gaps import plan_gaps
        from .ray_engine import generate_with_ray

        res = generate_with_ray(model, plan_gaps(d.counts(), plan), out, config, address=address,
                                num_workers=num_workers, gpus_per_worker=gpus_per_worker, overwrite=overwrite,
                                progress=progress, protected=[Path(data)])
        click.echo(f"planned {res.planned}; wrote {sum(res.planned.values())} synthetic samples to {res.out} "
                   f"({res.provider})")
        return
    res = fill_gaps(gen, d, out, config, strategy=plan, include_real=include_real, overwrite=overwrite,
                    progress=progress, filter_threshold=filter_threshold)
    for name, st in res.filter_stats.items():
        click.echo(f"filter: class {name}: accepted {st['acceptance_rate']:.1%} "
                   f"of {st['candidates']} candidates")
    click.echo(f"planned {res.planned}; wrote {sum(res.planned.values())} synthetic samples "
               f"to {res.out} (provider {res.provider})")


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
              "arm, real); the default's power on long-tailed MNIST: reports/verdict-calibration.md.")
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
                 classifiers: tuple[str, ...], label: str, length: int, fit: str, rate: int, overwrite: bool,
                 device: str, progress: bool) -> None:
    """Train a classifier on each arm over several seeds; choose on validation; report on test.

    \b
    Example:
      augmentor evaluate --train runs/digits/data/train.npz --test runs/digits/data/test.npz \\
          --validation runs/digits/data/validation.npz --synthetic runs/digits/synthetic --report reports/mine
      augmentor evaluate --train builtin:digits --test test.npz --imbalance exponential:50 \\
          --report reports/longtail-baselines
      augmentor evaluate --train runs/wine/data/train.csv --test runs/wine/data/test.csv \\
          --synthetic runs/wine/synthetic --classifier rf --report reports/wine-rf
      augmentor evaluate --train clips/ --test clips-test/ --validation clips-val/ --length 2000 \
          --synthetic runs/clips/synthetic --report reports/clips
    """
    from .outputs import check_outputs
    from .pipeline import versions
    from .recipe import Recipe, with_overrides
    from .report import check_report_dir, write_report
    from .study import evaluate_folders

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
                                   "evaluate.classifiers": list(classifiers) or None}).evaluate
    results, samples = evaluate_folders(
        train_spec, test_spec, ev, validation=validation_spec, validation_fraction=validation_fraction,
        synthetic=synthetic, synthetic_only=synthetic_only, doses=doses, filter_threshold=filter_threshold,
        imbalance=parse_imbalance(imbalance) if imbalance else None, label=label,
        signal={"length": length, "fit": fit, "rate": rate},
        device=device if device != "auto" else "cpu", progress=progress)
    path = write_report(report, results, samples=samples, overwrite=overwrite, extra={"versions": versions(device)})
    click.echo(f"report: {path}")


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path))
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override train.epochs.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=None, help="Override evaluate.seeds.")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Override the run directory.")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Override the report folder.")
@click.option("--resume", is_flag=True, help="Continue training from the run's last checkpoint.")
@click.option("--imbalance", default=None, metavar="PROFILE",
              help="Override [data.imbalance]: none, exponential:RATIO or step:CLASS,CLASS:KEEP.")
@overwrite_option
@seed_option
@device_option
@common
def run(recipe: Path, epochs: int | None, seeds: int | None, out: Path | None,
        report: Path | None, resume: bool, imbalance: str | None, overwrite: bool,
        seed: int | None, device: str, progress: bool) -> None:
    """Run every stage of RECIPE: split, train, export, synthesize, evaluate, report.

    \b
    Example:
      augmentor run recipes/digits.toml
      augmentor run recipes/digits.toml --epochs 5 --seeds 2 --out runs/quick --report reports/quick
      augmentor run recipes/digits.toml --imbalance exponential:50 --out runs/lt --report reports/lt
    """
    from .pipeline import run_recipe
    from .recipe import load_recipe, with_overrides

    r = with_overrides(load_recipe(recipe), {
        "train.epochs": epochs, "evaluate.seeds": seeds, "train.seed": seed,
        "out": str(out) if out else None, "report": str(report) if report else None})
    if imbalance:
        imb = parse_imbalance(imbalance)
        r = with_overrides(r, {f"data.imbalance.{k}": v for k, v in imb.items() if k != "seed"})
    path = run_recipe(r, device=device, overwrite=overwrite, resume=resume, progress=progress,
                      recipe_text=Path(recipe).read_text(encoding="utf-8"), inputs=(recipe,))
    click.echo(f"report: {path}")


@cli.command()
@click.argument("models", nargs=-1, required=True, type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on (0.0.0.0: all).")
@click.option("--port", type=click.IntRange(0, 65535), default=8000, show_default=True)
@click.option("--max-batch", type=click.IntRange(1, 65536), default=1024, show_default=True,
              help="Most rows in one ONNX Runtime run shared by concurrent requests.")
@click.option("--max-wait-ms", type=click.FloatRange(0, 1000), default=5.0, show_default=True,
              help="Longest a request's rows wait for others to share a run.")
@click.option("--max-samples", "max_samples", type=click.IntRange(1, 10**9), default=100_000, show_default=True,
              help="Most samples one request may ask for (413 beyond).")
@click.option("--max-in-flight", type=click.IntRange(1, 10**10), default=None,
              help="Most samples admitted across concurrent requests (503 + Retry-After beyond) "
              "[default: 4 x --max-samples].")
@ort_device_option
@common
def serve(models: tuple[Path, ...], host: str, port: int, max_batch: int, max_wait_ms: float, max_samples: int,
          max_in_flight: int | None, device: str, progress: bool) -> None:
    """Serve exported generators over HTTP (FastAPI + uvicorn), batching concurrent requests.

    Each model is named by its file's stem. POST /v1/models/NAME/generate with
    {"counts": {"CLASS": n}, "seed": s, "format": "npz"} returns exactly the samples of
    `augmentor generate` for the same model, seed and counts. Also GET /v1/models,
    /healthz and /metrics (Prometheus).

    \b
    Example:
      augmentor serve runs/digits/generator.onnx --port 8000
      curl -s localhost:8000/v1/models
      curl -s -X POST localhost:8000/v1/models/generator/generate \\
           -d '{"counts": {"0": 5, "3": 7}, "seed": 7, "format": "npz"}' -o samples.npz
    """
    try:
        import fastapi  # noqa: F401
        import prometheus_client  # noqa: F401
        import uvicorn  # noqa: F401

        from .serve import serve as run_server
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise UserError(f"augmentor serve needs FastAPI and uvicorn ({e}); install them with "
                        "pip install 'augmentor[serve]'") from None
    run_server(models, host=host, port=port, device=device, max_batch=max_batch, max_wait_ms=max_wait_ms,
               max_samples=max_samples, max_in_flight=max_in_flight, quiet=not progress)


def main() -> None:
    cli(prog_name="augmentor")


if __name__ == "__main__":
    main()
