"""From your data to a report in one command: `augmentor run DATA` without a recipe writes the report and the
recipe it used; running that recipe again gives the same results; `augmentor init DATA` writes the recipe."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from augmentor.cli import cli
from augmentor.config.recipe import load_recipe

from .conftest import make_image_folder
from .test_signals import make_wav_folder
from .test_tables import mixed_frame


def _run(*args: str):
    return CliRunner().invoke(cli, ["run", *args, "-q"], catch_exceptions=False)


def _scores(report) -> dict:
    results = json.loads((report / "results.json").read_text())
    return {clf: {n: [r["test"]["balanced_accuracy"] for r in a["runs"]] for n, a in res["arms"].items()}
            for clf, res in results["classifiers"].items()}


@pytest.mark.slow
def test_a_table_without_a_recipe_and_the_recipe_it_wrote_give_the_same_results(tmp_path):
    csv = tmp_path / "churn.csv"
    mixed_frame(160).to_csv(csv, index=False)
    r = _run(str(csv), "--label-column", "target", "--epochs", "2", "--seeds", "2", "--evaluate-epochs", "1",
             "--learner", "logreg", "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"))
    assert r.exit_code == 0, r.output
    written = tmp_path / "rep" / "recipe.toml"
    recipe = load_recipe(written)
    assert recipe.name == "churn" and recipe.data.train == str(csv) and recipe.data.label == "target"
    assert recipe.train.epochs == 2 and recipe.evaluate.seeds == 2 and recipe.model.g_channels == 256
    assert recipe.evaluate.learners == ("logreg",)  # one quick learner: the recipe's round trip, not the forest
    assert "augmentor run" in (tmp_path / "rep" / "report.md").read_text()  # the recipe text is in the report
    r = _run(str(written), "--out", str(tmp_path / "run2"), "--report", str(tmp_path / "rep2"))
    assert r.exit_code == 0, r.output
    assert _scores(tmp_path / "rep") == _scores(tmp_path / "rep2")


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["images", "wav"])
def test_an_image_folder_and_a_wav_folder_without_a_recipe(tmp_path, kind):
    if kind == "images":
        data = make_image_folder(tmp_path / "pets", {"cat": 20, "dog": 12, "eel": 8})
    else:
        data = make_wav_folder(tmp_path / "clips", (("tone", 20), ("chirp", 10), ("am", 8)))
    r = _run(str(data), "--epochs", "1", "--seeds", "2", "--gan-seeds", "1", "--evaluate-epochs", "1",
             "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"),
             *(["--learner", "cnn1d"] if kind == "wav" else []))
    assert r.exit_code == 0, r.output
    recipe = load_recipe(tmp_path / "rep" / "recipe.toml")
    assert recipe.data.train == str(data) and recipe.evaluate.rebalancing == ("oversample", "logit-adjust", "drw")
    # --evaluate-epochs is the budget as given: the defaults' step floor and steps pilot are off
    assert recipe.evaluate.epochs == 1 and recipe.evaluate.min_steps == 0 and recipe.evaluate.step_multipliers == ()
    assert recipe.evaluate.gan_seeds == 1 and not (tmp_path / "run" / "gan-1").exists()  # --gan-seeds 1: one GAN
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert results["headline"] and set(results["use_it"]) == set(results["classifiers"])


def test_init_writes_the_recipe_run_would_use_and_never_overwrites(tmp_path):
    out = tmp_path / "wine.toml"
    r = CliRunner().invoke(cli, ["init", "builtin:wine", "--out", str(out)])
    assert r.exit_code == 0, r.output
    recipe = load_recipe(out)
    assert recipe.name == "wine" and recipe.data.train == "builtin:wine" and recipe.evaluate.seeds == 5
    assert recipe.evaluate.gan_seeds == 3  # three GANs by default: a GAN arm's verdict covers GAN training
    r = CliRunner().invoke(cli, ["init", "builtin:wine", "--out", str(out)])
    assert r.exit_code == 2 and "--overwrite" in r.output
