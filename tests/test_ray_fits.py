"""The evaluation's fits on Ray (issue 50): each fit a Ray task on a local 2-CPU cluster started by the test gives
the per-seed predictions local worker processes give (images, tables and signals); a worker killed mid-fit is
retried and nothing is counted twice; an unreachable address is one line."""

from __future__ import annotations

import numpy as np
import pytest

pytest.importorskip("ray")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]


def _evaluate(train, validation, test, **learner):
    from augmentor.evaluation.arms import grid_arms
    from augmentor.evaluation.engine import evaluate
    from augmentor.image.learners import CnnLearner

    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(len(counts), counts.max()), ("oversample", "logit-adjust"), (), ())
    die_once = learner.pop("die_once", "")
    cnn = CnnLearner(len(train.classes), steps=30, batch_size=32, lr=3e-3, device="cpu", **learner)
    cnn.die_once = die_once
    out = evaluate(train, validation, test, grid, [cnn], seeds=2, fold_below=0, progress=False)
    arms = out["classifiers"]["SmallCNN"]["arms"]
    return {n: [r["test"]["balanced_accuracy"] for r in a["runs"]] for n, a in arms.items()}, out


def _evaluate_table(**learner):
    """A table evaluation (wine, long-tailed) of a random forest named by import path — its fits vary with the seed,
    and the Ray task rebuilds it from that spec."""
    from augmentor.core.data import hold_out_and_thin, stratified_split
    from augmentor.evaluation.arms import grid_arms
    from augmentor.evaluation.engine import evaluate
    from augmentor.registry import load_dataset
    from augmentor.table.evaluation import TableLearner

    data = load_dataset("builtin:wine")
    train, test = stratified_split(data, 0.3, 0)
    train, validation = hold_out_and_thin(train, None, 0.2, 0, profile="exponential", ratio=5.0)
    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(len(counts), counts.max()), ("oversample", "smote", "reweight"), (), ())
    numeric = list(train.x.columns)
    die_once = learner.pop("die_once", "")
    rf = TableLearner("sklearn.ensemble:RandomForestClassifier(n_estimators=25)", [], numeric, len(train.classes),
                      **learner)
    rf.die_once = die_once
    out = evaluate(train, validation, test, grid, [rf], seeds=2, fold_below=0, progress=False)
    rf.close()
    arms = out["classifiers"][rf.name]["arms"]
    return {n: [r["test"]["balanced_accuracy"] for r in a["runs"]] for n, a in arms.items()}


def _evaluate_signal(**learner):
    """A signal evaluation (three long-tailed classes of noisy sines) of the 1-D CNN; on Ray each task gets a copy of
    the learner without its models, and the non-GAN arms' networks come back for teacher arms."""
    from augmentor.evaluation.arms import grid_arms
    from augmentor.evaluation.engine import evaluate
    from augmentor.signal.data import SignalData
    from augmentor.signal.learners import Cnn1dLearner, channel_scale

    def signals(n_per, seed):
        rng = np.random.default_rng(seed)
        y = np.repeat(np.arange(len(n_per)), n_per)
        t = np.linspace(0, 1, 32)
        x = np.stack([np.sin(2 * np.pi * (2 + 3 * c) * t + rng.uniform(0, 6)) for c in y])[:, None, :]
        return SignalData((x + 0.5 * rng.normal(size=x.shape)).astype(np.float32), y, ("s", "m", "f"), "test")

    train, validation, test = signals((40, 12, 5), 0), signals((10, 10, 10), 1), signals((20, 20, 20), 2)
    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(len(counts), counts.max()), ("oversample", "logit-adjust"), (), ())
    cnn = Cnn1dLearner(3, steps=25, batch_size=16, lr=3e-3, device="cpu", scale=channel_scale(train.x), **learner)
    out = evaluate(train, validation, test, grid, [cnn], seeds=2, fold_below=0, progress=False)
    cnn.close()
    models = sorted(cnn.models)
    arms = out["classifiers"][cnn.name]["arms"]
    return {n: [r["test"]["balanced_accuracy"] for r in a["runs"]] for n, a in arms.items()}, models


def test_fits_on_ray_equal_local_workers_and_survive_a_lost_worker(digits_splits, tmp_path, ray_cluster):
    """Local: fits in this process (test_evaluation checks that local worker processes give the same runs bit for
    bit), then the same evaluations as Ray tasks on the shared local cluster."""
    from augmentor.core.data import stratified_split
    from augmentor.registry import load_dataset

    train, test = load_dataset(digits_splits[0]), load_dataset(digits_splits[1])
    train, validation = stratified_split(train, 0.3, 0)
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as a worker process runs: one torch thread
    try:
        local, _ = _evaluate(train, validation, test)
    finally:
        torch.set_num_threads(threads)
    table_local = _evaluate_table()
    signal_local = _evaluate_signal()
    on_ray, out = _evaluate(train, validation, test, workers=2, ray="local")
    marker = tmp_path / "died"
    table_on_ray = _evaluate_table(ray="local", workers=2, die_once=str(marker))
    signal_on_ray = _evaluate_signal(ray="local", workers=2)
    assert on_ray == local  # bit-identical per-seed scores, every arm
    assert signal_on_ray == signal_local and len(signal_local[0]) >= 3  # signals: the same scores and kept models
    # tables: one worker died mid-fit (the first fit); Ray ran it again; every arm's per-seed scores the same as
    # local, none doubled
    assert marker.exists() and table_on_ray == table_local and len(table_local) >= 4


def test_an_unreachable_address_is_one_line():
    from augmentor.core.cluster import check_address
    from augmentor.core.errors import InvalidDataError

    with pytest.raises(InvalidDataError, match="no Ray cluster answers at 127.0.0.1:9"):
        check_address("127.0.0.1:9", timeout=1)
    with pytest.raises(InvalidDataError, match="is not HOST:PORT"):
        check_address("not an address")
