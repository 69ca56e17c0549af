"""Commands that run every stage: run (a recipe, or the defaults for a data set), calibrate, init."""

from __future__ import annotations

from pathlib import Path

import click

from .group import cli
from .options import (
    UserError,
    common,
    device_option,
    label_option,
    learner_option,
    overwrite_option,
    parse_imbalance,
    ray_option,
    seed_option,
)


@cli.command()
@click.argument("recipe", metavar="RECIPE|DATA")
@click.option("--epochs", type=click.IntRange(1), default=None, help="Override train.epochs.")
@click.option("--seeds", type=click.IntRange(1, 1000), default=None, help="Override evaluate.seeds.")
@click.option("--gan-seeds", type=click.IntRange(1, 100), default=None,
              help="Override evaluate.gan_seeds: the GANs trained (fewer than 3: the GAN arms get no verdict word; "
                   "a quick look: 1).")
@click.option("--evaluate-epochs", type=click.IntRange(1), default=None,
              help="Override evaluate.epochs (the classifiers' budget, as given: no step floor and no steps pilot; "
                   "a quick look: 1).")
@click.option("--out", type=click.Path(path_type=Path), default=None, help="Override the run directory.")
@click.option("--report", type=click.Path(path_type=Path), default=None, help="Override the report folder.")
@click.option("--resume", is_flag=True, help="Continue training from the run's last checkpoint.")
@click.option("--imbalance", default=None, metavar="PROFILE",
              help="Override [data.imbalance]: none, exponential:RATIO or step:CLASS,CLASS:KEEP.")
@click.option("--budget", default=None, metavar="TIME",
              help="Finish within TIME (90s, 20m, 1.5h): a short pilot times the GAN and one fit per learner, then "
                   "seeds, steps, arms and learners are cut to fit, in a fixed order; the report says what was cut.")
@ray_option
@learner_option
@label_option
@overwrite_option
@seed_option
@device_option
@common
def run(recipe: str, epochs: int | None, seeds: int | None, gan_seeds: int | None, evaluate_epochs: int | None,
        out: Path | None,
        report: Path | None, resume: bool, imbalance: str | None, budget: str | None, ray: str | None,
        learners: tuple[str, ...], label: str, overwrite: bool, seed: int | None, device: str,
        progress: bool) -> None:
    """Run every stage of RECIPE (a .toml file), or of the defaults for DATA (a folder, .npz, .csv, .parquet,
    .ts or builtin:NAME): split, train, export, synthesize, evaluate, report. For DATA the recipe it used
    is written beside the report (recipe.toml): edit it and run it again.

    \b
    Example:
      augmentor run my_images/                     # no recipe: defaults for the data (see augmentor init)
      augmentor run churn.csv --label-column churned --learner "lightgbm:LGBMClassifier(verbose=-1)"
      augmentor run recipes/digits.toml --epochs 5 --seeds 2 --gan-seeds 1 --out runs/quick --report reports/quick
      augmentor run recipes/digits.toml --imbalance exponential:50 --out runs/lt --report reports/lt
      augmentor run recipes/wine.toml --learner rf --learner "lightgbm:LGBMClassifier(verbose=-1)"
      augmentor run recipes/digits.toml --budget 5m  # cut to fit 5 minutes on this machine
    """
    o = {k: v for k, v in locals().items() if k not in ("recipe", "label")}  # the options, as _overridden reads them
    import time

    o["started"] = time.perf_counter()  # a --budget counts from here: the libraries' import is part of the run
    from ..config.recipe import load_recipe
    from ..evaluation.budget import parse_budget
    from ..pipeline import run_recipe

    o["budget"] = parse_budget(budget) if budget is not None else None  # a bad --budget before any work

    if not recipe.endswith(".toml"):
        return _run_data(recipe, label, o)
    if not Path(recipe).is_file():
        raise UserError(f"{recipe}: no such recipe file")
    r = _overridden(load_recipe(recipe), o)
    path = run_recipe(r, device=device, overwrite=overwrite, resume=resume, progress=progress,
                      recipe_text=Path(recipe).read_text(encoding="utf-8"), inputs=(recipe,), budget=o["budget"],
                      started=o["started"])
    click.echo(f"report: {path}\nopen: {path.with_name('report.html')}")


@cli.command()
@click.argument("recipe", type=click.Path(path_type=Path, exists=True, dir_okay=False))
@click.option("--pool", type=click.IntRange(2, 1000), default=30, show_default=True,
              help="Seeds fitted per learner (twice: the arm and its weakened copy); at least 5 x confirm_seeds.")
@click.option("--simulations", type=click.IntRange(100, 100_000), default=2000, show_default=True,
              help="Simulated families (null and known effect).")
@ray_option
@device_option
@common
def calibrate(recipe: Path, pool: int, simulations: int, ray: str | None, device: str, progress: bool) -> None:
    """Measure how often RECIPE's report would give a false verdict, and its power, on its data and learners.

    Refits each learner's best arm without a GAN (from the report) for --pool seeds, and a copy trained on
    70 % of each class's samples (a known loss); simulates the report's confirmatory family with arms that
    differ only in seed (its choices among as many GAN arms and grid cells included, and GAN training's
    spread as a shift per GAN) and with the weakened copy; writes the result into
    the report's results.json (`calibration`) and re-renders report.md. Run the recipe first.

    \b
    Example:
      augmentor run recipes/wine.toml && augmentor calibrate recipes/wine.toml
      augmentor calibrate recipes/digits.toml --pool 40 --simulations 4000
      augmentor calibrate recipes/digits.toml --ray local   # the refits as Ray tasks
    """
    from ..config.recipe import load_recipe, with_overrides
    from ..pipeline import calibrate_recipe

    r = with_overrides(load_recipe(recipe), {"evaluate.ray": ray})
    cal = calibrate_recipe(r, pool=pool, simulations=simulations, device=device, progress=progress)
    from ..evaluation.stats import clopper_pearson_upper

    events = round(cal["false_verdict_rate"] * cal["simulations"])
    rate = (f"0 in {cal['simulations']} (95 % upper bound {clopper_pearson_upper(0, cal['simulations']):.4f})"
            if events == 0 else f"{cal['false_verdict_rate']:.3f} ± {cal['false_verdict_rate_se']:.3f}")
    click.echo(f"false-verdict rate {rate} "
               f"(family of {cal['family_size']}, {cal['seeds']} seeds); power {cal['power']:.2f} for a loss of "
               f"{cal['power_effect_points']:.2f} points ({cal['learner'].split(',')[0]})")


def _overridden(r, o: dict):
    """The command line's overrides of a recipe, one rule for `run RECIPE` and `run DATA`."""
    from ..config.recipe import with_overrides

    r = with_overrides(r, {
        "train.epochs": o["epochs"], "evaluate.seeds": o["seeds"], "evaluate.gan_seeds": o.get("gan_seeds"),
        "train.seed": o["seed"],
        "evaluate.epochs": o["evaluate_epochs"], "evaluate.ray": o["ray"],
        "out": str(o["out"]) if o["out"] else None, "report": str(o["report"]) if o["report"] else None,
        "evaluate.learners": list(o["learners"]) or None})
    if o["evaluate_epochs"] is not None:  # the budget the user gave, as given: no floor, no pilot of its multiples
        r = with_overrides(r, {"evaluate.min_steps": 0, "evaluate.step_multipliers": []})
    if o["imbalance"]:
        imb = parse_imbalance(o["imbalance"])
        r = with_overrides(r, {f"data.imbalance.{k}": v for k, v in imb.items() if k != "seed"})
    return r


def _run_data(spec: str, label: str, o: dict) -> None:
    """`augmentor run DATA`: the data's default recipe, run and written beside the report."""
    from ..config.defaults import default_recipe, recipe_toml
    from ..config.recipe import with_overrides
    from ..core.atomic import write_bytes
    from ..pipeline import run_recipe
    from ..registry import load_dataset

    loaded = load_dataset(spec, label=label)  # once: for the defaults, and for the run
    r = _overridden(default_recipe(spec, loaded, label=label), o)
    r = with_overrides(r, {"out": str(r.run_dir), "report": str(r.report_dir)})  # written out: rerun as is
    text = recipe_toml(r, f"augmentor run {spec}: the defaults for this data (augmentor/config/defaults.py)")
    path = run_recipe(r, device=o["device"], overwrite=o["overwrite"], resume=o["resume"], progress=o["progress"],
                      recipe_text=text, inputs=() if spec.startswith("builtin:") else (spec,), loaded=loaded,
                      budget=o["budget"], started=o["started"])
    write_bytes(r.report_dir / "recipe.toml", text.encode())
    click.echo(f"report: {path}\nrecipe: {r.report_dir / 'recipe.toml'}\nopen: {path.with_name('report.html')}")


@cli.command()
@click.argument("data")
@click.option("--out", type=click.Path(path_type=Path), default=None,
              help="Where to write the recipe (default: recipes/<name>.toml).")
@label_option
@overwrite_option
@common
def init(data: str, out: Path | None, label: str, overwrite: bool, progress: bool) -> None:
    """Write the recipe `augmentor run DATA` would use, for editing.

    \b
    Example:
      augmentor init my_images/ --out recipes/mine.toml && augmentor run recipes/mine.toml
      augmentor init churn.csv --label-column churned
    """
    from ..config.defaults import default_recipe, recipe_toml
    from ..core.atomic import write_bytes
    from ..core.outputs import check_outputs
    from ..registry import load_dataset

    if out is not None:  # before the data is read: a recipe never replaces the data it describes
        check_outputs({"--out": out}, [data])
    r = default_recipe(data, load_dataset(data, label=label), label=label)
    out = out or Path("recipes") / f"{r.name}.toml"
    check_outputs({"--out": out}, [data])
    if out.is_dir() or out.is_symlink():
        raise UserError(f"--out {out} is a folder or a link; name the recipe file to write, e.g. recipes/mine.toml")
    if out.exists() and not overwrite:
        raise UserError(f"{out} exists; pass --overwrite to replace it or --out to write elsewhere")
    out.parent.mkdir(parents=True, exist_ok=True)
    write_bytes(out, recipe_toml(r, f"augmentor init {data}: the defaults for this data; edit and run with "
                                    f"augmentor run {out}").encode())
    click.echo(f"recipe: {out}")
