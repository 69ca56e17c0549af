"""compare() (issue 48): augmentor run DATA's judgement from a notebook, as a typed Comparison; the same data and
settings through compare() and through `augmentor run` give the same per-seed scores and verdicts."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.datasets import load_wine

from augmentor import Comparison, compare
from augmentor.cli import cli

pytestmark = pytest.mark.xdist_group("compare")


def _wine():
    X, y = load_wine(return_X_y=True, as_frame=True)
    keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1), np.flatnonzero(y == 2)[:12]]
    return X.iloc[keep].reset_index(drop=True), y.iloc[keep].to_numpy()


def _scores(results: dict) -> dict:
    return {(lr, arm): [r["test"]["balanced_accuracy"] for r in a["runs"]]
            for lr, c in results["classifiers"].items() for arm, a in c["arms"].items()}


NB = "sklearn.naive_bayes:GaussianNB"  # a second learner by import path: quick to fit, unlike hgb


def test_compare_equals_augmentor_run_on_the_same_data(tmp_path):
    X, y = _wine()
    result = compare(X, y, learners=["logreg", NB], seeds=2, epochs=1)
    frame = X.copy()
    frame["label"] = y
    frame.to_csv(tmp_path / "wine.csv", index=False)
    r = CliRunner().invoke(cli, ["run", str(tmp_path / "wine.csv"), "--learner", "logreg", "--learner", NB,
                                 "--seeds", "2", "--epochs", "1", "--out", str(tmp_path / "run"), "--report",
                                 str(tmp_path / "rep"), "-q"])
    assert r.exit_code == 0, r.output
    cli_results = json.loads((tmp_path / "rep" / "results.json").read_text())
    ours = json.loads(json.dumps(result.results.to_dict(), default=str))
    assert _scores(ours) == _scores(cli_results)
    assert [v.verdict for v in result.verdicts.values()] == [cli_results["headline"]["verdict"]] + [
        o["verdict"] for o in cli_results["headline"]["others"]]

    # the typed result
    assert set(result.verdicts) == {"logreg", NB}
    v = result.verdicts[NB]
    assert (v.low > 0 or v.high < 0) == (v.verdict in ("helps", "hurts"))
    table = result.table()
    assert set(table.columns) == {"learner", "arm", "seed", "split", "metric", "value"}
    runs = result.results.learners[NB].arms["real"].raw["runs"]  # the confirmatory arms: confirm_seeds runs
    assert len(table[(table.learner == NB) & (table.arm == "real") & (table.metric == "balanced_accuracy")]) == (
        2 * len(runs))
    best = result.best(NB)
    assert best["arm"] in result.results.learners[NB].arms and "rebalance" in best["settings"]
    assert "predict" in best["use_it"] or best["settings"]["uses_gan"]
    assert NB in result._repr_html_() and "data:image/png;base64," in result._repr_html_()
    report = result.to_report(tmp_path / "mine")
    assert report.is_file() and (tmp_path / "mine" / "report.html").is_file()
    assert Comparison.read(tmp_path / "mine").verdicts == result.verdicts
    with pytest.raises(Exception, match="--overwrite|exists|not empty"):
        result.to_report(tmp_path / "mine")


def test_bad_arguments_are_one_line():
    X, y = _wine()
    with pytest.raises(ValueError, match="X_test with y_test"):
        compare(X, y, X_test=X)
    with pytest.raises(ValueError, match="modality must be"):
        compare(X, y, modality="video")
    with pytest.raises(ValueError, match="--budget 'soon'"):  # RecipeError is a ValueError: before any work
        compare(X, y, budget="soon")
    with pytest.raises(ValueError, match="--budget"):
        compare(X, y, budget=0)
