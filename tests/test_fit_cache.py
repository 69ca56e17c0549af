"""A resumable evaluation (issue 50): finished fits are kept in the run folder; an evaluation killed after some
fits and run again fits only the missing ones (counted) and writes the same results."""

from __future__ import annotations

import json

import numpy as np
import pytest

from augmentor.core.data import stratified_split
from augmentor.registry import load_dataset

pytestmark = pytest.mark.xdist_group("fit-cache")


def _run(train, validation, test, cache):
    from augmentor.evaluation.arms import grid_arms
    from augmentor.evaluation.engine import evaluate
    from augmentor.image.learners import CnnLearner

    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(len(counts), counts.max()), ("oversample",), ("affine",), ())
    cnn = CnnLearner(len(train.classes), steps=12, batch_size=32, lr=3e-3, device="cpu")
    return evaluate(train, validation, test, grid, [cnn], seeds=2, fold_below=0, progress=False, cache=cache)


def test_a_killed_evaluation_fits_only_what_is_missing(digits_splits, tmp_path, monkeypatch):
    import augmentor.image.learners as learners

    train, test = load_dataset(digits_splits[0]), load_dataset(digits_splits[1])
    train, validation = stratified_split(train, 0.3, 0)
    real_fit, calls = learners._fit, []

    def counted(job):
        calls.append(job["seed"])
        return real_fit(job)

    monkeypatch.setattr(learners, "_fit", counted)
    whole = _run(train, validation, test, None)  # no cache: the reference
    total = len(calls)

    calls.clear()
    killed_after = total // 2

    def dies(job):
        if len(calls) == killed_after:
            raise KeyboardInterrupt("killed")
        return counted(job)

    monkeypatch.setattr(learners, "_fit", dies)
    with pytest.raises(KeyboardInterrupt):
        _run(train, validation, test, tmp_path / "fits")
    assert len(list((tmp_path / "fits").glob("*.npz"))) == killed_after

    calls.clear()
    monkeypatch.setattr(learners, "_fit", counted)
    again = _run(train, validation, test, tmp_path / "fits")
    assert len(calls) == total - killed_after  # only the missing fits
    assert sum(again.pop("work")["fits_computed"].values()) == total - killed_after  # and the report counts them
    assert sum(whole.pop("work")["fits_computed"].values()) == total
    assert json.dumps(again, sort_keys=True, default=str) == json.dumps(whole, sort_keys=True, default=str)

    calls.clear()
    _run(train, validation, test, tmp_path / "fits")
    assert calls == []  # a third run fits nothing


def _table(n_per: tuple[int, ...], seed: int):
    import pandas as pd

    from augmentor.table.data import TableData

    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per)), n_per)
    x = pd.DataFrame({"a": rng.normal(size=len(y)) + 3 * y, "b": rng.normal(size=len(y)) - 2 * y})
    return TableData(x, y, ("p", "q", "r"), "test")


def _signals(n_per: tuple[int, ...], seed: int):
    from augmentor.signal.data import SignalData

    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per)), n_per)
    t = np.linspace(0, 1, 32)
    x = np.stack([np.sin(2 * np.pi * (2 + 3 * c) * t + rng.uniform(0, 6)) for c in y])[:, None, :]
    return SignalData((x + 0.3 * rng.normal(size=x.shape)).astype(np.float32), y, ("s", "m", "f"), "test")


def _teacher_runs(results: dict, learner: str) -> int:
    return sum(len(a["runs"]) for a in results["classifiers"][learner]["arms"].values() if "teacher_selection" in a)


@pytest.mark.filterwarnings("ignore::UserWarning")
@pytest.mark.parametrize("modality", ["table", "signal"])
def test_table_and_signal_fits_are_kept_too(tmp_path, modality):
    """Every modality's fits are kept: a re-run fits only the teacher arms (their inputs are their teacher's picks)
    and, for a scikit-learn teacher (no pickle, so no model kept), the teacher again for its model; same results."""
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.evaluation.stage import run_evaluation

    make, learner = (_table, "logreg") if modality == "table" else (_signals, "SmallCNN1d")
    train, validation, test = make((60, 20, 6), 0), make((15, 15, 15), 1), make((30, 30, 30), 2)
    ev = EvaluateConfig(seeds=2, confirm_seeds=2, epochs=1, rebalancing=("oversample",), classic=(), mixup=(),
                        doses=(), filter_threshold=0.0, online=False, fold_below=0,
                        **({"classifiers": ("logreg",)} if modality == "table" else {"learners": ("cnn1d",)}))

    def run():
        out = run_evaluation(train, validation, test, ev, synthetic=lambda s: make((0, 40, 54), 30 + s),
                             teacher_pool=lambda s: make((0, 60, 75), 40 + s), progress=False,
                             cache=tmp_path / "fits").to_dict()
        return out, out.pop("work")["fits_computed"][learner]

    first, computed = run()
    assert len(list((tmp_path / "fits").glob("*.npz"))) == computed - _teacher_runs(first, learner)
    again, recomputed = run()
    assert _teacher_runs(first, learner) > 0
    refit = 2 if modality == "table" else 0  # the teacher (the search's winner) at 2 seeds, for its model
    assert recomputed == _teacher_runs(first, learner) + refit
    # The fidelity section comes from a feature network trained afresh in each run (no fit of the cache): in full
    # suites its KID bounds (about 2e-4) differed by up to 2.5e-9 between the two runs of one process (float
    # rounding in the network's training); equal to 1e-7 here, and everything the cache restores exactly.
    fid_a, fid_b = again.pop("fidelity", {}), first.pop("fidelity", {})
    assert json.dumps(again, sort_keys=True, default=str) == json.dumps(first, sort_keys=True, default=str)
    assert _numbers(fid_a) == pytest.approx(_numbers(fid_b), rel=1e-6, abs=1e-7)


def _numbers(tree) -> list[float]:
    if isinstance(tree, dict):
        return [v for k in sorted(tree) for v in _numbers(tree[k])]
    if isinstance(tree, list):
        return [v for item in tree for v in _numbers(item)]
    return [float(tree)] if isinstance(tree, (int, float)) else []
