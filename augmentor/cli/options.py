"""The CLI's shared pieces: the user-error exception, options with their ranges, small parsers.

Every number a command takes has a range here, so a bad value is a one-line usage error
(exit code 2) before any work starts.
"""

from __future__ import annotations

import functools
import logging

import click

from ..core.errors import AugmentorError


class UserError(click.ClickException):
    """A problem with the user's input: printed as one line, exit code 2."""

    exit_code = 2


class AugmentorGroup(click.Group):
    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except AugmentorError as e:
            from ..gan.distributed import report_rank_error

            if report_rank_error(str(e)):  # a rank of `--nproc N`: the launcher prints it, once
                ctx.exit(2)
            raise UserError(str(e)) from e
        except OSError as e:
            import errno

            if e.errno not in (errno.ENOSPC, errno.EDQUOT):
                raise
            where = f" writing {e.filename}" if e.filename else ""
            raise UserError(f"no space left on the device{where}; nothing complete was written under the output "
                            "name (the partial folder beside it resumes on a re-run): free space or choose another "
                            "--out") from e


def common(func):
    """-q/-v on every command; sets up logging and progress bars."""

    @click.option("-q", "--quiet", is_flag=True, help="Only warnings and errors; no progress bars.")
    @click.option("-v", "--verbose", count=True, help="More log output (-vv for debug).")
    @functools.wraps(func)
    def wrapper(*args, quiet: bool, verbose: int, **kwargs):
        level = logging.WARNING if quiet else (logging.DEBUG if verbose > 1 else logging.INFO)
        # Other libraries' INFO lines (the ONNX exporter's optimiser prints dozens) only with -v.
        logging.basicConfig(level=level if verbose else max(level, logging.WARNING),
                            format="%(levelname)s %(name)s: %(message)s", force=True)
        logging.getLogger("augmentor").setLevel(level)
        return func(*args, progress=not quiet, **kwargs)

    return wrapper


class ImageSize(click.ParamType):
    """0 (keep the native size) or a square side of 8..64 px."""

    name = "PIXELS"

    def convert(self, value, param, ctx):
        try:
            n = int(value)
        except (TypeError, ValueError):
            self.fail(f"{value!r} is not an integer", param, ctx)
        if n != 0 and not 8 <= n <= 64:
            self.fail(f"{n} is not 0 (keep) or a side of 8..64 px", param, ctx)
        return n


SEED_RANGE = click.IntRange(0, 2**32 - 1)
BATCH_RANGE = click.IntRange(1, 65536)
seed_option = click.option("--seed", type=SEED_RANGE, default=None,
                           help="Random seed, 0..2^32-1 (default: recipe's, else 0).")
workers_option = click.option("--workers", type=click.IntRange(-1, 256), default=-1,
                              help="PNG encoder processes (-1: auto, 0: none).")
max_samples_option = click.option("--max-samples", type=click.IntRange(1), default=10_000_000,
                                  show_default=True, help="Refuse requests larger than this.")
device_option = click.option("--device", default="cpu", show_default=True,
                             type=click.Choice(["cpu", "cuda", "auto"]),
                             help="cuda fails loudly if unavailable; auto picks cuda when present.")
ort_device_option = click.option("--device", default="cpu", show_default=True,
                                 type=click.Choice(["cpu", "cuda", "tensorrt", "auto"]),
                                 help="ONNX Runtime provider; cuda/tensorrt fail loudly if unavailable.")
overwrite_option = click.option("--overwrite", is_flag=True,
                                help="Replace an existing non-empty output.")


def parse_imbalance(text: str) -> dict:
    """'none', 'exponential:RATIO' or 'step:CLASS,CLASS:KEEP' -> ImbalanceConfig fields."""
    kind, _, rest = text.partition(":")
    try:
        if kind == "none":
            return {"profile": "none", "classes": (), "keep": 1.0, "ratio": 1.0, "seed": 0}
        if kind == "exponential":
            return {"profile": kind, "classes": (), "keep": 1.0, "ratio": float(rest), "seed": 0}
        if kind == "step":
            names, _, keep = rest.rpartition(":")
            return {"profile": kind, "classes": tuple(n for n in names.split(",") if n),
                    "keep": float(keep), "ratio": 1.0, "seed": 0}
    except ValueError:
        pass
    raise UserError(f"--imbalance expects none, exponential:RATIO or step:CLASS,CLASS:KEEP; got {text!r}")


def parse_counts(text: str) -> dict[str, int]:
    from ..core.gaps import parse_strategy

    counts = parse_strategy(text)
    if not isinstance(counts, dict) or not counts:
        raise UserError(f"--counts expects CLASS=N[,CLASS=N...], got {text!r}")
    return counts


def label_option(func):
    return click.option("--label-column", "label", default="label", show_default=True,
                        help="Tables (.csv/.parquet): the column holding the class labels.")(func)


def synthesis_config(**values):
    """A recipe.SynthesizeConfig from CLI values, built and range-checked the recipe's way."""
    from ..config.recipe import Recipe, with_overrides

    return with_overrides(Recipe(), {f"synthesize.{k}": v for k, v in values.items()}).synthesize


def check_engine(engine: str, address: str | None, num_workers: int) -> None:
    """A local Ray cluster gets as many CPUs as --num-workers: no more than this machine has."""
    import os

    cores = os.cpu_count() or 1
    if engine == "ray" and address is None and num_workers > cores:
        raise UserError(f"--num-workers {num_workers} is more than this machine's {cores} cores for a local Ray "
                        f"cluster; use --num-workers {cores} or fewer, or --address to join a larger cluster")


def engine_options(func):
    """--engine local|ray and Ray's cluster options (generate, synthesize)."""
    func = click.option("--gpus-per-worker", type=click.FloatRange(0, 64), default=0.0, show_default=True,
                        help="Ray: GPUs per task (> 0 runs ONNX Runtime on CUDA).")(func)
    func = click.option("--num-workers", type=click.IntRange(1, 100_000), default=2, show_default=True,
                        help="Ray: tasks running at once (a local cluster gets this many CPUs).")(func)
    func = click.option("--address", default=None, help="Ray: the cluster to join (default: start a local one).")(func)
    return click.option("--engine", type=click.Choice(["local", "ray"]), default="local", show_default=True,
                        help="local: this process (+ PNG encoders); ray: sharded over Ray tasks "
                             "(pip install 'augmentor[ray]'); the same samples either way.")(func)


def format_option(signals: str):
    """`--format`, with what the default is for signals in this command."""
    return click.option("--format", "fmt", type=click.Choice(["png", "npz", "csv", "parquet", "wav"]), default=None,
                        help="Images: png (ImageFolder, the default) or npz shards. Tables: csv (the default) or "
                             f"parquet. {signals}")


ray_option = click.option(
    "--ray", default=None, metavar="ADDRESS",
    help="The evaluation's fits as Ray tasks: 'local' (a Ray cluster started here) or HOST:PORT.")
learner_option = click.option(
    "--learner", "learners", multiple=True, metavar="SPEC",
    help="A learner to judge (repeat for several; replaces the modality's defaults): a built-in name "
         "(tables: logreg, hgb, rf) or an import path 'package.module:Name(key=value, ...)' (tables: any "
         "scikit-learn-compatible classifier, e.g. 'xgboost:XGBClassifier').")
