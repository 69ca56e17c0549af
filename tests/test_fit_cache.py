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
    grid = grid_arms(train, np.full(len(counts), counts.max()), ("oversample", "logit-adjust"), ("affine",), ())
    cnn = CnnLearner(len(train.classes), steps=20, batch_size=32, lr=3e-3, device="cpu")
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
