"""OnlineSynthetic: fresh draws per epoch, exact class mix, determinism per seed; memorisation figures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from augmentor.core.errors import InvalidDataError
from augmentor.evaluation.classifiers import predict_proba
from augmentor.evaluation.fidelity import memorisation
from augmentor.image.learners import fit_cnn
from augmentor.registry import load_dataset, open_generator
from augmentor.synthesis.online import FilteredSource, OnlineSynthetic

pytestmark = pytest.mark.xdist_group("online")  # one worker: the module's fixtures are built once


@pytest.fixture(scope="module")
def setup(tiny_model, digits_splits):
    return load_dataset(digits_splits[0]), open_generator(tiny_model[1])


def test_class_mix_is_exact_and_only_below_target(setup):
    data, gen = setup
    counts = data.counts()
    ds = OnlineSynthetic(data.x, data.y, data.classes, gen, ratio=0.5, seed=3)
    top = max(counts.values())
    expected = {c: round(0.5 * (top - n)) for c, n in counts.items() if top - n > 0}
    assert ds.per_class == {c: n for c, n in expected.items() if n > 0}
    for epoch in (0, 1):
        x, y, w = ds.epoch_arrays(epoch)
        got = np.bincount(y, minlength=len(data.classes))
        for i, c in enumerate(data.classes):
            assert got[i] == counts[c] + ds.per_class.get(c, 0)
        assert len(ds) == len(y) == len(x) == len(w)
        assert (w == 1).all()
    np.testing.assert_array_equal(ds.labels(), ds.epoch_arrays(5)[1])
    # a class already at target gets nothing
    biggest = max(counts, key=counts.get)
    assert biggest not in ds.per_class


def test_fresh_draws_every_epoch_and_deterministic_per_seed(setup):
    data, gen = setup
    a = OnlineSynthetic(data.x, data.y, data.classes, gen, seed=1)
    b = OnlineSynthetic(data.x, data.y, data.classes, gen, seed=1)
    c = OnlineSynthetic(data.x, data.y, data.classes, gen, seed=2)
    n = len(data)
    x0, x1 = a.epoch_arrays(0)[0], a.epoch_arrays(1)[0]
    np.testing.assert_array_equal(x0[:n], x1[:n])  # the real part is the same every epoch
    assert not np.array_equal(x0[n:], x1[n:])  # the synthetic part is drawn afresh
    np.testing.assert_array_equal(x1, b.epoch_arrays(1)[0])  # same seed, same epoch: same bytes
    assert not np.array_equal(x1[n:], c.epoch_arrays(1)[0][n:])  # another seed: another draw
    # samples are stored-quantised (8-bit) like the PNGs the product writes
    np.testing.assert_array_equal(np.round(x0[n:] * 255) / 255, x0[n:].astype(np.float64).astype(np.float32))


def test_partial_refresh_keeps_a_window_of_recent_draws(setup):
    data, gen = setup
    ds = OnlineSynthetic(data.x, data.y, data.classes, gen, refresh=0.25, seed=5)
    full = OnlineSynthetic(data.x, data.y, data.classes, gen, refresh=1.0, seed=5)
    c = next(iter(ds.per_class))
    n, k = ds.per_class[c], ds.fresh[c]
    assert k == max(1, -(-n // 4))
    np.testing.assert_array_equal(ds.synthetic(0)[0], full.synthetic(0)[0])  # epoch 0: one full draw
    s1 = ds.synthetic(1)[0][:n]
    s0 = full.synthetic(0)[0][:n]
    # epoch 1 of class c: k new samples, then the first n - k of epoch 0's
    np.testing.assert_array_equal(s1[k:], s0[: n - k])
    assert not np.array_equal(s1[:k], s0[:k])
    np.testing.assert_array_equal(np.bincount(ds.synthetic(3)[1]), np.bincount(full.synthetic(3)[1]))
    # random access gives what sequential access gives
    again = OnlineSynthetic(data.x, data.y, data.classes, gen, refresh=0.25, seed=5)
    np.testing.assert_array_equal(again.synthetic(3)[0], ds.synthetic(3)[0])
    with pytest.raises(InvalidDataError, match="refresh"):
        OnlineSynthetic(data.x, data.y, data.classes, gen, refresh=0)


def test_dataloader_items_and_weights(setup):
    data, gen = setup
    ds = OnlineSynthetic(data.x, data.y, data.classes, gen, ratio=1.0, weight=0.5, seed=0)
    ds.set_epoch(2)
    x, y, w = ds[len(data)]  # first synthetic item
    assert x.shape == data.x.shape[1:] and w == 0.5
    assert ds[0][2] == 1.0
    loader = torch.utils.data.DataLoader(ds, batch_size=64, shuffle=True,
                                         generator=torch.Generator().manual_seed(0))
    seen = sum(len(b[1]) for b in loader)
    assert seen == len(ds)
    with pytest.raises(IndexError):
        ds[len(ds)]


def test_bad_settings_are_clear_errors(setup):
    data, gen = setup
    with pytest.raises(InvalidDataError, match="ratio"):
        OnlineSynthetic(data.x, data.y, data.classes, gen, ratio=-1)
    with pytest.raises(InvalidDataError, match="weight"):
        OnlineSynthetic(data.x, data.y, data.classes, gen, weight=0)
    with pytest.raises(InvalidDataError, match="unknown class"):
        OnlineSynthetic(data.x, data.y, data.classes, gen, target={"nope": 3})


def test_filtered_source_keeps_only_accepted(setup):
    data, gen = setup
    first = data.classes[0]
    # accept only bright samples: every kept sample passes, and a class can come back short
    src = FilteredSource(gen, lambda x, c: x.reshape(len(x), -1).mean(1) > np.median(x.reshape(len(x), -1).mean(1)))
    x, y = src.generate({first: 20}, seed=0)
    assert 0 < len(y) <= 20 and (y == gen.classes.index(first)).all()


def test_fit_cnn_trains_on_online_source(setup):
    data, gen = setup
    ds = OnlineSynthetic(data.x, data.y, data.classes, gen, weight=0.5, seed=0)
    steps = 2 * int(np.ceil(len(ds) / 32)) + 3  # crosses two epoch boundaries
    m1 = fit_cnn(ds, None, len(data.classes), steps=steps, batch_size=32, seed=0)
    m2 = fit_cnn(ds, None, len(data.classes), steps=steps, batch_size=32, seed=0)
    p1, p2 = predict_proba(m1, data.x[:50]), predict_proba(m2, data.x[:50])
    np.testing.assert_array_equal(p1, p2)  # deterministic per seed


def test_memorisation_flags_copies_not_fresh_samples():
    rng = np.random.default_rng(0)
    centres = rng.random((2, 1, 8, 8)).astype(np.float32)
    train_x = np.concatenate([c + 0.2 * rng.standard_normal((30, 1, 8, 8)) for c in centres]).astype(np.float32)
    train_y = np.repeat([0, 1], 30)
    held_x = np.concatenate([c + 0.2 * rng.standard_normal((10, 1, 8, 8)) for c in centres]).astype(np.float32)
    held_y = np.repeat([0, 1], 10)
    fresh = np.concatenate([c + 0.2 * rng.standard_normal((40, 1, 8, 8)) for c in centres]).astype(np.float32)
    copies = train_x[rng.integers(0, 30, 40)] + 0.001  # class 0: near-copies of training images
    syn_x = np.concatenate([copies, fresh[40:]])
    syn_y = np.repeat([0, 1], 40)
    m = memorisation(train_x, train_y, held_x, held_y, syn_x, syn_y, ("a", "b"))
    assert m["a"]["flagged"] and m["a"]["near_copy_rate"] > 0.9
    assert not m["b"]["flagged"] and m["b"]["near_copy_rate"] < 0.25
    assert m["a"]["held_out_basis"] == "validation images"
    # too few held-out images: leave-one-out among the training images
    m2 = memorisation(train_x, train_y, held_x[:3], held_y[:3], syn_x, syn_y, ("a", "b"))
    assert m2["b"]["held_out_basis"].startswith("leave-one-out")
