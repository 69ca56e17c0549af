"""`--budget` (issue 50): the plan cuts in its fixed order until the estimate fits, refuses a budget nothing fits
before any work, and the report says what was cut. Wall-clock behaviour is measured by benchmarks/bench_budget.py
(reports/budget.md), never asserted here."""

from __future__ import annotations

import dataclasses
import json

import pytest
from click.testing import CliRunner

from augmentor.cli import cli
from augmentor.config.recipe import load_recipe
from augmentor.core.errors import RecipeError
from augmentor.evaluation.budget import MARGIN, Costs, _cuts, estimate, fit_units, parse_budget, plan
from augmentor.evaluation.pilot import shape_of
from augmentor.pipeline import prepare_splits


@pytest.mark.parametrize("text,seconds", [("90s", 90), ("20m", 1200), ("1.5h", 5400), ("1h30m", 5400), ("5", 300),
                                          (" 2 m ", 120)])
def test_budgets_are_read_as_a_user_writes_them(text, seconds):
    assert parse_budget(text) == seconds


@pytest.mark.parametrize("text", ["abc", "0m", "10 minutes", "-5m", "m", ""])
def test_a_bad_budget_is_one_line_naming_the_option(text):
    with pytest.raises(RecipeError, match="--budget"):
        parse_budget(text)


@pytest.fixture(scope="module")
def wine():
    """recipes/wine.toml's splits and the evaluation's shape; the pilot's costs made up (the plan is arithmetic)."""
    recipe = load_recipe("recipes/wine.toml")
    train, validation, _ = prepare_splits(recipe)
    shape = shape_of(recipe, train, validation, None, "cpu")
    costs = Costs(gan_fixed_s=1.0, gan_step_s=0.01, fit_s={"logreg": 0.2, "hgb": 0.3, "rf": 0.5},
                  parallel={"logreg": 1.0, "hgb": 1.0, "rf": 1.0}, pilot_s=3.0)
    return recipe, shape, costs


def _total(recipe, costs, shape) -> float:
    est = estimate(recipe, costs, shape)
    return est["gan"] + est["evaluate"] + est["other"]


def test_a_budget_the_recipe_fits_cuts_nothing(wine):
    recipe, shape, costs = wine
    full = _total(recipe, costs, shape)
    same, record = plan(recipe, costs, shape, budget_s=2 * full)
    assert same == recipe and record["cuts"] == [] and record["changed"] == {}
    assert record["estimated_total_s"] == pytest.approx(full, abs=0.1)


def test_a_tight_budget_cuts_in_the_plans_order_until_the_estimate_fits(wine):
    recipe, shape, costs = wine
    full = _total(recipe, costs, shape)
    order = list(dict.fromkeys(what for what, _ in _cuts(recipe, shape)))
    for share in (0.8, 0.5, 0.3):
        cut, record = plan(recipe, costs, shape, budget_s=share * full)
        assert _total(cut, costs, shape) <= MARGIN * share * full
        assert record["cuts"] and record["cuts"] == [c for c in order if c in record["cuts"]]  # the fixed order
        assert record["changed"] and all(k.split(".")[0] in ("train", "evaluate") for k in record["changed"])
    cut, record = plan(recipe, costs, shape, budget_s=0.3 * full)
    assert fit_units(cut.evaluate, shape, shape.learners[0]) < fit_units(recipe.evaluate, shape, shape.learners[0])


def test_a_budget_no_plan_fits_is_refused_before_any_work(wine):
    recipe, shape, costs = wine
    with pytest.raises(RecipeError, match="give at least"):
        plan(recipe, costs, shape, budget_s=1.0)
    # once the GAN is trained the evaluation takes every cut and goes on, and the record says it is over
    cut, record = plan(recipe, costs, shape, budget_s=1.0, gan_done=True)
    assert record["over_budget"] and cut.evaluate.seeds <= 2


def test_the_steps_pilots_multiples_are_counted_at_the_largest(wine):
    recipe, shape, costs = wine
    net = dataclasses.replace(shape, networks={"logreg"})
    four = dataclasses.replace(recipe.evaluate, step_multipliers=(1, 2, 4))
    one = dataclasses.replace(recipe.evaluate, step_multipliers=())
    lr = shape.learners[0]
    assert fit_units(four, net, lr) > 4 * fit_units(one, net, lr) - 1e-9


def test_run_with_a_budget_says_what_it_cut(tmp_path, monkeypatch):
    """The CLI path end to end, with the pilot's timings fixed (the plan, not this machine's speed, is tested)."""
    from augmentor.evaluation import pilot

    def fixed(recipe, train, validation, pool, device, export=None, objects=()):
        shape = pilot.shape_of(recipe, train, validation, pool, device)
        names = [lr.name for lr in shape.learners]
        return Costs(0.5, 0.01, dict.fromkeys(names, 1.0), dict.fromkeys(names, 1.0), pilot_s=0.0), shape

    monkeypatch.setattr(pilot, "measure", fixed)
    path = tmp_path / "r.toml"
    path.write_text("""name = "wine-budget"
[data]
train = "builtin:wine"
test_fraction = 0.3
[data.imbalance]
profile = "exponential"
ratio = 4.0
[model]
z_dim = 8
g_channels = 32
d_channels = 32
[train]
epochs = 5
batch_size = 32
[evaluate]
seeds = 3
classifiers = ["logreg", "hgb"]
""")
    # made-up fits of 1 s: the recipe as written is estimated at minutes, its smallest plan well inside 90 s even
    # with this machine's own time up to the plan (loading, the learners' trial fits) counted
    r = CliRunner().invoke(cli, ["run", str(path), "--budget", "90s", "--out", str(tmp_path / "run"),
                                 "--report", str(tmp_path / "rep"), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    b = res["budget"]
    assert b["budget_s"] == 90 and b["cuts"] and b["pilot"]["fit_s"].keys() == {"logreg", "hgb"}
    for key, (_, after) in b["changed"].items():  # the report's recipe is the plan's
        section, name = key.split(".")
        assert res["recipe"][section][name] == after
    text = (tmp_path / "rep" / "report.md").read_text()
    assert "## The time budget" in text and "Cut to fit" in text and "the power to call" in text
    bad = CliRunner().invoke(cli, ["run", str(path), "--budget", "soon", "--out", str(tmp_path / "run2"), "-q"])
    assert bad.exit_code != 0 and "--budget 'soon'" in bad.output and not (tmp_path / "run2").exists()


def test_a_resumed_run_whose_gans_are_trained_is_planned_without_the_gan(wine, tmp_path):
    """--resume --budget: when every GAN folder holds a checkpoint at the recipe's last step, the plan costs no GAN
    training (it used to cost the GAN as if untrained, and cut more than it needed)."""
    import dataclasses
    import math

    from augmentor.evaluation.pilot import gan_finished
    from augmentor.gan.checkpoint import save_checkpoint

    recipe, shape, costs = wine
    recipe = dataclasses.replace(recipe, out=str(tmp_path / "run"),
                                 evaluate=dataclasses.replace(recipe.evaluate, gan_seeds=recipe.evaluate.seeds))
    train = shape.train
    last = recipe.train.epochs * math.ceil(len(train) / recipe.train.batch_size)
    assert not gan_finished(recipe, train)  # nothing trained
    save_checkpoint(recipe.run_dir, last, {}, {"step": last})
    assert not gan_finished(recipe, train)  # the extra GANs are not
    for g in range(1, recipe.evaluate.gan_seeds):
        save_checkpoint(recipe.run_dir / f"gan-{g}", last - (g == 1), {}, {"step": last - (g == 1)})
    assert not gan_finished(recipe, train)  # gan-1 stopped one step short
    save_checkpoint(recipe.run_dir / "gan-1", last, {}, {"step": last})
    assert gan_finished(recipe, train)
    assert estimate(recipe, costs, shape, gan_done=True)["gan"] == 0 < estimate(recipe, costs, shape)["gan"]


def test_a_users_learner_object_is_costed_and_never_cut(wine):
    """compare(learners=[obj]) / run_recipe(learners=[obj]): the object is fitted by the evaluation, so the plan
    counts its fits; it is not the recipe's to cut ("learners after the first" cuts only the recipe's learners)."""
    import dataclasses

    from sklearn.naive_bayes import GaussianNB

    recipe, _, costs = wine
    train, validation, _ = prepare_splits(recipe)
    shape = shape_of(recipe, train, validation, None, "cpu", objects=[GaussianNB()])
    name = shape.objects[0].name
    costs = dataclasses.replace(costs, fit_s={**costs.fit_s, name: 0.4}, parallel={**costs.parallel, name: 1.0})
    est = estimate(recipe, costs, shape)
    assert f"fits: {name}" in est and not any(f"fits: {n}" in est for n in ("logreg", "hgb", "rf"))  # it replaces them
    named = dataclasses.replace(recipe, evaluate=dataclasses.replace(recipe.evaluate, learners=("logreg", "hgb"),
                                                                     gan_seeds=1))  # the cut here: the learners
    assert {f"fits: {n}" for n in ("logreg", "hgb", name)} <= set(estimate(named, costs, shape))  # beside the recipe's
    tight, record = plan(named, costs, shape, budget_s=0.35 * _total(named, costs, shape), spent_s=0.0)
    assert tight.evaluate.learners == ("logreg",) and f"fits: {name}" in record["estimate_s"]
    assert plan(recipe, costs, shape, budget_s=10 * _total(recipe, costs, shape))[0] == recipe
