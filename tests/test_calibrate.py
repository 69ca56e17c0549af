"""`augmentor calibrate`: the null family's false-verdict rate stays at its level, a known loss is found,
fits are cached under a key of every input that changes them."""

from pathlib import Path

import numpy as np
import pytest

from augmentor.core.data import stratified_split
from augmentor.evaluation.calibrate import fit_pool, simulate, subsample
from augmentor.registry import load_dataset


def _pool(rng, n_seeds: int, y: np.ndarray, p: float, p_weak: float) -> dict:
    """Predictions of a learner right with probability p (per seed and example), its weakened copy p_weak."""
    def preds(prob):
        right = rng.random((n_seeds, len(y))) < prob
        return np.where(right, y, (y + 1) % 3)
    return {"val": preds(p), "test": preds(p), "val_weak": preds(p), "test_weak": preds(p_weak)}


def test_the_null_family_keeps_its_level_and_a_known_loss_is_found():
    rng = np.random.default_rng(0)
    y_val, y_test = np.repeat(np.arange(3), 30), np.repeat(np.arange(3), 200)
    pools = {"a": _pool(rng, 30, y_test, 0.8, 0.7), "b": _pool(rng, 30, y_test, 0.8, 0.8)}
    for p in pools.values():  # validation predictions on the validation split's labels
        p["val"], p["val_weak"] = p["val"][:, :90], p["val_weak"][:, :90]
    out = simulate(pools, {"a": True, "b": False}, y_val, y_test, 3, seeds=3, confirm=6, sims=300)
    assert out["false"] <= 0.05 + 2 * np.sqrt(0.05 * 0.95 / 300)
    assert out["power"]["a"] > 0.9  # a 10-point loss at 6 seeds
    assert out["power"]["b"] < 0.1  # no loss: 'hurts' about as rarely as the level allows


def test_subsample_keeps_a_share_of_every_class_and_is_seeded():
    d = load_dataset("builtin:wine")
    a, b, c = subsample(d, 0.7, 1), subsample(d, 0.7, 1), subsample(d, 0.7, 2)
    assert np.array_equal(a.y, b.y) and np.array_equal(a.x.to_numpy(), b.x.to_numpy())
    assert not np.array_equal(a.x.to_numpy(), c.x.to_numpy())
    assert np.bincount(a.y).tolist() == [round(0.7 * n) for n in np.bincount(d.y)]


def test_fit_pool_is_cached_by_its_key(tmp_path):
    from augmentor.evaluation.arms import cell_arm
    from augmentor.table.evaluation import TableLearner

    d = load_dataset("builtin:wine")
    train, test = stratified_split(d, 0.3, 0)
    learner = TableLearner("logreg", [], list(train.x.columns))
    calls = []
    fit = learner.fit_predict
    learner.fit_predict = lambda *a: calls.append(1) or fit(*a)
    arm = cell_arm(train, np.bincount(train.y))
    first = fit_pool(learner, arm, train, test, test, np.bincount(train.y), 4, tmp_path, "key-a")
    assert len(calls) == 8 and first["test"].shape == (4, len(test))
    again = fit_pool(learner, arm, train, test, test, np.bincount(train.y), 4, tmp_path, "key-a")
    assert len(calls) == 8 and all(np.array_equal(first[k], again[k]) for k in first)  # read back, not refitted
    fit_pool(learner, arm, train, test, test, np.bincount(train.y), 4, tmp_path, "key-b")
    assert len(calls) == 16  # another key (another data set, learner or setting): fitted again


def test_calibrate_refuses_a_pool_too_small_for_the_family():
    from augmentor.core.errors import RecipeError
    from augmentor.evaluation.calibrate import calibrate

    d = load_dataset("builtin:wine")
    from augmentor.evaluation.results import Results

    results = Results.read(Path(__file__).parent.parent / "reports" / "wine")  # confirmatory seeds: 6
    with pytest.raises(RecipeError, match="at least 30"):
        calibrate(d, d, d, [], results, np.bincount(d.y), pool=20, simulations=100, cache=None, data_name="wine",
                  fit_inputs={})
