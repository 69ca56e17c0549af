"""Commands that start from a trained run or model file: export, generate, synthesize, serve."""

from __future__ import annotations

from pathlib import Path

import click

from .group import cli
from .options import (
    BATCH_RANGE,
    UserError,
    check_engine,
    common,
    engine_options,
    format_option,
    label_option,
    max_samples_option,
    ort_device_option,
    overwrite_option,
    parse_counts,
    seed_option,
    synthesis_config,
    workers_option,
)


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
    from ..registry import export_onnx

    click.echo(f"model: {export_onnx(run, out, checkpoint, fold=not no_fold, fp16=fp16)}")


@cli.command()
@click.argument("model", type=click.Path(path_type=Path))
@click.option("--counts", required=True, help="CLASS=N[,CLASS=N...] samples to generate.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output folder.")
@click.option("--batch-size", type=BATCH_RANGE, default=256, show_default=True)
@format_option("Signals: npz shards (the default) or wav (class folders of WAV files in the training clips' "
               "sample type; float32 when they were not WAVs).")
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
    from ..registry import generate_to_folder

    wanted = parse_counts(counts)
    if sum(wanted.values()) > max_samples:
        raise UserError(f"{sum(wanted.values())} samples requested, more than --max-samples "
                        f"{max_samples}; raise --max-samples if you mean it")
    config = synthesis_config(seed=seed, batch_size=batch_size, format=fmt, workers=workers, max_samples=max_samples)
    check_engine(engine, address, num_workers)
    if engine == "ray":
        from ..registry import for_codec
        from ..serving.ray_engine import generate_with_ray

        res = generate_with_ray(model, wanted, out, config, address=address, num_workers=num_workers,
                                gpus_per_worker=gpus_per_worker, overwrite=overwrite, progress=progress,
                                codecs=for_codec)
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
@format_option("Signals: wav class folders in the data's own sample type when DATA is a WAV folder "
                "(the default there; 16-bit PCM in, 16-bit PCM out), else npz shards; either on request.")
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
    from ..core.gaps import check_strategy
    from ..core.outputs import check_outputs, prepare_output
    from ..registry import for_codec, load_dataset, open_generator
    from ..synthesis.synthesize import fill_gaps

    check_outputs({"--out": out}, [model, data])
    prepare_output(out, "synthesis", overwrite)
    plan = check_strategy(strategy, max_samples)
    config = synthesis_config(seed=seed, batch_size=batch_size, format=fmt, workers=workers, max_samples=max_samples)
    gen = open_generator(model, device, spinning=False)  # opened and checked once, then passed on
    d = load_dataset(data, label=label, **gen.info.codec.load_options(gen.info.shape))  # at the model's size
    check_engine(engine, address, num_workers)
    if engine == "ray":
        if include_real or filter_threshold is not None:
            raise UserError("--engine ray writes generated samples only: drop --include-real and --filter, "
                            "or use --engine local")
        from ..core.gaps import plan_gaps
        from ..serving.ray_engine import generate_with_ray

        res = generate_with_ray(model, plan_gaps(d.counts(), plan), out, config, address=address,
                                num_workers=num_workers, gpus_per_worker=gpus_per_worker, overwrite=overwrite,
                                progress=progress, protected=[Path(data)], codecs=for_codec)
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

        from ..registry import for_codec
        from ..serving.service import serve as run_server
    except ImportError as e:  # pragma: no cover - depends on the installed extras
        raise UserError(f"augmentor serve needs FastAPI and uvicorn ({e}); install them with "
                        "pip install 'augmentor[serve]'") from None
    run_server(models, host=host, port=port, device=device, max_batch=max_batch, max_wait_ms=max_wait_ms,
               max_samples=max_samples, max_in_flight=max_in_flight, quiet=not progress, codecs=for_codec)
