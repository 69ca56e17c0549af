"""The "Use it" snippet of a committed report runs as written and reproduces its arm's validation score."""

import json

import numpy as np
import pytest

from augmentor.config.recipe import load_recipe
from augmentor.evaluation.metrics import score
from augmentor.pipeline import prepare_splits

from .test_recipe import ROOT


@pytest.mark.parametrize("learner", ["logreg", "hgb", "rf"])
def test_the_wine_reports_snippet_reproduces_its_arms_validation_score(learner):
    results = json.loads((ROOT / "reports" / "wine" / "results.json").read_text())
    code = results["use_it"][learner]
    train, validation, _ = prepare_splits(load_recipe(ROOT / "recipes" / "wine.toml"))
    names = np.array(train.classes)
    space = {"x": train.x, "y": names[train.y], "x_new": validation.x}
    exec(compile(code, f"reports/wine use_it {learner}", "exec"), space)  # the committed text, as a user runs it
    pred = np.array([list(train.classes).index(p) for p in space["predictions"]])
    mine = score(validation.y, pred, len(train.classes))["balanced_accuracy"]
    arm = results["classifiers"][learner]["arms"][results["classifiers"][learner]["search"]["chosen"]]
    seeds = np.array([r["validation"]["balanced_accuracy"] for r in arm["runs"]])
    assert seeds.min() - 1e-9 <= mine <= seeds.max() + 1e-9, (mine, seeds)  # within its seeds' spread
