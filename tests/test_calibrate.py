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


def test_a_self_training_reference_is_measured_as_the_report_fitted_it(tmp_path):
    """#47 item 2: where the headline compares with a self-training arm, calibrate fits that arm — its teacher (the
    grid winner) first for each seed, whose model labels the unlabelled pool — and its weakened copy on top of the
    weakened winner; the arm's predictions are the engine's for the same seed."""
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.evaluation.arms import cell_arm
    from augmentor.evaluation.calibrate import fit_pool_taught, self_training_arm
    from augmentor.evaluation.engine import _Fits
    from augmentor.evaluation.teaching import self_training_plans
    from augmentor.table.evaluation import TableLearner

    d = load_dataset("builtin:wine")
    rest, test = stratified_split(d, 0.3, 0)
    train, pool = stratified_split(rest, 0.5, 1)  # the pool's labels are never read
    counts = np.bincount(train.y)
    target = np.full(len(counts), counts.max() + 10)
    plans = self_training_plans(counts, target, pool, EvaluateConfig())
    assert plans and all(p.pseudo for p in plans)

    def learner():
        return TableLearner("sklearn.ensemble:RandomForestClassifier(n_estimators=10)", [], list(train.x.columns),
                            len(train.classes))

    winner = cell_arm(train, target, "oversample")
    rf = learner()
    found = self_training_arm("real+self-training+oversampled", winner, rf, plans)
    assert found is not None and found[0].teacher == winner.name and found[0].kind == "self-training"
    assert self_training_arm("real+self-training+SMOTE", winner, rf, plans) is None  # not this report's arm
    calls = []
    fit = rf.fit_predict
    rf.fit_predict = lambda *a: calls.append(a[0].name) or fit(*a)
    out = fit_pool_taught(rf, winner, found[1], train, test, test, target, 3, tmp_path, "k", progress=False)
    assert len(calls) == 12 and out["test"].shape == out["test_weak"].shape == (3, len(test))
    assert {n for n in calls} == {winner.name, f"{winner.name} (on 70%)", found[0].name,
                                  found[0].name.replace("oversampled", "oversampled (on 70%)")}
    ref = learner()  # the engine's fits of the same arms, a fresh learner
    fits = _Fits(ref, test, test, len(train.classes), None)
    fits.fit([winner], 3)
    fits.fit([self_training_arm(found[0].name, winner, ref, plans)[0]], 3)
    assert np.array_equal(np.stack(fits.test_pred[found[0].name]), out["test"])
    assert not np.array_equal(np.stack(fits.test_pred[winner.name]), out["test"])  # the pool changed the fits
