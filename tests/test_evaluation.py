"""Baselines plan the right counts; fidelity and statistics behave as documented."""

import numpy as np
import pytest

from augmentor.data import LabelledData, imbalance_targets, load_dataset, stratified_split, thin_classes
from augmentor.evaluate import build_arms
from augmentor.fidelity import fidelity, frechet_distance, prdc
from augmentor.pipeline import prepare_splits
from augmentor.recipe import load_recipe
from augmentor.stats import paired_difference, verdict

from .test_recipe import ROOT


@pytest.fixture(scope="module")
def thin_digits():
    d = load_dataset("builtin:digits")
    tr, _ = stratified_split(d, 0.3, 0)
    return thin_classes(tr, imbalance_targets(tr.counts(), "exponential", ratio=20), 0)


def test_oversampling_and_smote_reach_the_planned_counts(thin_digits):
    rng = np.random.default_rng(0)
    counts = np.bincount(thin_digits.y)
    gap = counts.max() - counts
    syn_y = np.repeat(np.arange(10), gap)
    synthetic = LabelledData(rng.random((len(syn_y), 1, 8, 8), dtype=np.float32), syn_y,
                             thin_digits.classes)
    arms = {a.name: a for a in build_arms(thin_digits, synthetic=synthetic)}
    planned = (counts + gap).tolist()
    for name in ("real+oversampled", "real+SMOTE", "real+classic+oversampled", "real+synthetic"):
        x, y = arms[name].make(seed=3)
        assert np.bincount(y, minlength=10).tolist() == planned, name
        assert x.shape == (sum(planned), 1, 8, 8) and x.dtype == np.float32
    x, _ = arms["real+SMOTE"].make(seed=3)
    assert 0 <= x.min() and x.max() <= 1
    assert arms["real+classic"].classic and not arms["real+oversampled"].classic


def test_fidelity_of_a_set_against_itself_and_a_collapsed_set():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 12))
    y = np.repeat([0, 1, 2], 100)
    same = fidelity(real, y, real, y, ("a", "b", "c"))
    assert same["overall"]["frechet"] == pytest.approx(0.0, abs=1e-6)
    for m in ("precision", "recall", "coverage"):
        assert same["overall"][m] == 1.0
        assert all(c[m] == 1.0 for c in same["per_class"].values())
    collapsed = np.repeat(real[:1], 300, axis=0)
    bad = prdc(real, collapsed)
    assert frechet_distance(real, collapsed) > 5
    assert bad["recall"] < 0.05 and bad["coverage"] < 0.05


def test_bootstrap_interval_contains_the_true_mean_difference():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.8, 0.9, size=40)
    arm = base + 0.02 + rng.normal(0, 0.01, size=40)
    d = paired_difference(arm, base)
    assert d["low"] < 0.02 < d["high"]
    assert verdict(d) == "helps"
    assert verdict(paired_difference(base - 0.05, base)) == "hurts"
    noisy = paired_difference(base + rng.normal(0, 0.01, size=40), base)
    assert verdict(noisy) == "no detectable change"


def test_longtail_split_has_declared_counts_and_a_disjoint_test_split():
    recipe = load_recipe(ROOT / "recipes" / "digits-longtail.toml")
    train, test = prepare_splits(recipe)
    full = load_dataset("builtin:digits")
    tr_full, te_full = stratified_split(full, 0.3, 0)
    declared = imbalance_targets(tr_full.counts(), "exponential", ratio=50)
    assert train.counts() == declared
    assert max(declared.values()) / min(declared.values()) == pytest.approx(50, rel=0.3)
    assert test.counts() == te_full.counts()  # the test split is balanced, real, untouched
    # the split is by sample: tag each sample with its index and check disjointness
    tagged = LabelledData(np.arange(len(full), dtype=np.float32).reshape(-1, 1, 1, 1), full.y, full.classes)
    tr, te = stratified_split(tagged, 0.3, 0)
    thin = thin_classes(tr, imbalance_targets(tr.counts(), "exponential", ratio=50), 0)
    assert not set(thin.x.ravel().tolist()) & set(te.x.ravel().tolist())


class EveryOther:
    """A stand-in filter that accepts candidates 0, 2, 4, ... of each batch."""

    threshold = 0.5

    def accept(self, x, label):
        return np.arange(len(x)) % 2 == 0


class Nothing(EveryOther):
    def accept(self, x, label):
        return np.zeros(len(x), bool)


def test_quality_filter_draws_until_exact_counts(tiny_model, tmp_path):
    import json

    from augmentor.errors import InvalidDataError
    from augmentor.synthesize import generate_to_folder, read_manifest

    res = generate_to_folder(tiny_model[1], {"0": 20, "1": 7}, tmp_path / "f", batch_size=8,
                             quality_filter=EveryOther(), progress=False)
    rows = read_manifest(tmp_path / "f")
    assert {c: sum(r["class"] == c for r in rows) for c in ("0", "1")} == {"0": 20, "1": 7}
    assert all(int(r["file"][-10:-4]) % 2 == 0 for r in rows)  # candidate index kept in the name
    stats = json.loads((tmp_path / "f" / "filter.json").read_text())["per_class"]
    assert stats == res.filter_stats
    assert stats["0"] == {"requested": 20, "delivered": 20, "candidates": 40, "acceptance_rate": 0.5}
    with pytest.raises(InvalidDataError, match="class '0' accepted 0 of 400"):
        generate_to_folder(tiny_model[1], {"0": 20}, tmp_path / "g", quality_filter=Nothing(),
                           progress=False)
    assert not (tmp_path / "g").exists()
    res = generate_to_folder(tiny_model[1], {"0": 20, "1": 4}, tmp_path / "h", quality_filter=Nothing(),
                             strict_filter=False, progress=False)
    assert res.filter_stats["0"]["delivered"] == 0 and not (tmp_path / "h" / "0").exists()


def test_quality_filter_classifier(digits_splits):
    from augmentor.classifiers import QualityFilter

    data = load_dataset(digits_splits[0])
    qf = QualityFilter.fit(data.x, data.y, 10, 0.5, steps=100)
    keep = qf.accept(data.x[data.y == 7], 7)
    assert keep.mean() > 0.8  # real 7s are kept as 7s
    assert qf.accept(data.x[data.y == 7], 3).mean() < 0.2  # and rejected as 3s
