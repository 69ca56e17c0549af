"""Baselines plan the right counts; fidelity and statistics behave as documented."""

import numpy as np
import pytest

from augmentor.arms import build_arms
from augmentor.data import (
    LabelledData,
    balanced_validation_split,
    imbalance_targets,
    load_dataset,
    stratified_split,
    thin_classes,
)
from augmentor.fidelity import fidelity, frechet_distance, kid, prdc
from augmentor.pipeline import prepare_splits
from augmentor.recipe import SynthesizeConfig, load_recipe
from augmentor.stats import holm, judge_family, paired_difference, verdict
from augmentor.study import fixed_draw, gan_draws, run_evaluation

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
    arms = {a.name: a for a in build_arms(thin_digits, target=counts + gap, synthetic=fixed_draw(synthetic),
                                          classic=True)}
    planned = (counts + gap).tolist()
    for name in ("real+oversampled", "real+SMOTE", "real+classic+oversampled", "real+synthetic"):
        x, y = arms[name].make(3)
        assert np.bincount(y, minlength=10).tolist() == planned, name
        assert x.shape == (sum(planned), 1, 8, 8) and x.dtype == np.float32
    x, _ = arms["real+SMOTE"].make(3)
    assert 0 <= x.min() and x.max() <= 1
    assert arms["real+classic"].classic and not arms["real+oversampled"].classic
    assert {a.loss for a in arms.values() if a.kind == "loss"} == {"reweight", "logit-adjust"}


def test_filtered_arm_topped_up_by_oversampling_reaches_the_target_with_every_accepted_sample(thin_digits):
    from augmentor.arms import top_up

    counts = np.bincount(thin_digits.y)
    target = np.full(10, counts.max())
    accepted_y = np.repeat([3, 9], [5, 2])  # what a filter let through: a few samples of two classes
    accepted = LabelledData(np.full((7, 1, 8, 8), 0.123, np.float32), accepted_y, thin_digits.classes)
    x, y = top_up(thin_digits, accepted, target, seed=4)
    assert np.bincount(y, minlength=10).tolist() == target.tolist()
    assert int(np.isclose(x, 0.123).all(axis=(1, 2, 3)).sum()) == 7  # every accepted sample kept once
    real = {r.tobytes() for r in thin_digits.x}
    rest = x[len(thin_digits) + 7:]
    assert len(rest) == target.sum() - len(thin_digits) - 7 and all(r.tobytes() in real for r in rest)
    again, _ = top_up(thin_digits, accepted, target, seed=4)
    assert np.array_equal(x, again)  # seeded


def test_fidelity_of_a_set_against_itself_and_a_collapsed_set():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(300, 12))
    y = np.repeat([0, 1, 2], 100)
    same = fidelity(real, y, real, y, ("a", "b", "c"))
    assert same["overall"]["frechet"] == pytest.approx(0.0, abs=1e-6)  # 300 >= 2 x 12 features
    for m in ("precision", "recall", "coverage"):
        assert same["overall"][m] == 1.0
        assert all(c[m] == 1.0 for c in same["per_class"].values())
    collapsed = np.repeat(real[:1], 300, axis=0)
    bad = prdc(real, collapsed)
    assert frechet_distance(real, collapsed) > 5
    assert bad["recall"] < 0.05 and bad["coverage"] < 0.05


def test_interval_contains_the_true_mean_difference_and_verdicts_follow():
    rng = np.random.default_rng(1)
    base = rng.uniform(0.8, 0.9, size=40)
    arm = base + 0.02 + rng.normal(0, 0.01, size=40)
    d = paired_difference(arm, base)
    assert d["low"] < 0.02 < d["high"]
    assert verdict(d) == "helps"
    assert verdict(paired_difference(base - 0.05 + rng.normal(0, 0.01, size=40), base)) == "hurts"
    noisy = paired_difference(base + rng.normal(0, 0.01, size=40), base)
    assert verdict(noisy) == "no detectable change"


def test_small_n_and_zero_variance_are_never_helps_or_hurts():
    two = paired_difference(np.array([0.9, 0.95]), np.array([0.5, 0.52]))  # huge effect, 2 seeds
    assert verdict(two) == "not enough evidence"
    flat = paired_difference(np.array([0.9, 0.9, 0.9]), np.array([0.8, 0.8, 0.8]))  # zero spread
    assert np.isnan(flat["low"]) and verdict(flat) == "not enough evidence"
    one = paired_difference(np.array([0.9]), np.array([0.1]))
    assert verdict(one) == "not enough evidence"
    three = paired_difference(np.array([0.9, 0.92, 0.95]), np.array([0.5, 0.51, 0.53]))
    assert verdict(three) == "helps"


def test_holm_adjusts_across_the_family():
    assert holm([0.01, 0.04, 0.03, float("nan")])[:3] == pytest.approx([0.03, 0.06, 0.06])
    family = [paired_difference(np.array([0.9, 0.92, 0.95]) + i * 0, np.array([0.5, 0.51, 0.53])) for i in range(3)]
    family.append(paired_difference(np.array([0.60, 0.62, 0.55]), np.array([0.5, 0.51, 0.53])))
    judge_family(family)
    assert [c["verdict"] for c in family[:3]] == ["helps"] * 3
    assert family[3]["p_holm"] >= family[3]["p"]


def test_longtail_split_has_declared_counts_a_balanced_validation_split_and_a_disjoint_test_split():
    recipe = load_recipe(ROOT / "recipes" / "digits-longtail.toml")
    train, validation, test = prepare_splits(recipe)
    full = load_dataset("builtin:digits")
    tr_full, te_full = stratified_split(full, 0.3, 0)
    # validation: floor(20 % of the smallest class) of every class, held out before thinning
    m = int(0.2 * min(tr_full.counts().values()))
    assert set(validation.counts().values()) == {m} and m >= 20
    declared = imbalance_targets({c: n - m for c, n in tr_full.counts().items()}, "exponential", ratio=50)
    assert train.counts() == declared
    assert max(declared.values()) / min(declared.values()) == pytest.approx(50, rel=0.3)
    assert test.counts() == te_full.counts()  # the test split is balanced, real, untouched
    # the three splits are disjoint by sample: tag each sample with its index and split the tags alike
    tagged = LabelledData(np.arange(len(full), dtype=np.float32).reshape(-1, 1, 1, 1), full.y, full.classes)
    tr, te = stratified_split(tagged, 0.3, 0)
    tr, va = balanced_validation_split(tr, 0.2, 0)
    thin = thin_classes(tr, imbalance_targets(tr.counts(), "exponential", ratio=50), 0)
    ids = [set(part.x.ravel().tolist()) for part in (thin, va, te)]
    assert not ids[0] & ids[1] and not ids[0] & ids[2] and not ids[1] & ids[2]
    assert np.array_equal(np.sort(validation.x.reshape(len(validation), -1), axis=0),
                          np.sort(full.x[np.array(sorted(ids[1]), int)].reshape(len(validation), -1), axis=0))


def test_a_recipe_without_a_long_tail_keeps_a_stratified_validation_split_and_a_tiny_class_is_refused(tmp_path):
    from dataclasses import replace

    from augmentor.errors import InvalidDataError

    recipe = load_recipe(ROOT / "recipes" / "digits.toml")
    recipe = replace(recipe, data=replace(recipe.data, imbalance=replace(recipe.data.imbalance, profile="none")))
    train, validation, _ = prepare_splits(recipe)
    assert all(validation.counts()[c] == int(0.2 * (train.counts()[c] + validation.counts()[c]))
               for c in train.classes)
    x = np.zeros((12, 1, 8, 8), np.float32)
    y = np.array([0] * 10 + [1] * 2)
    with pytest.raises(InvalidDataError, match="class 'b' has 2 samples"):
        balanced_validation_split(LabelledData(x, y, ("a", "b")), 0.2, 0)


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

    res = generate_to_folder(tiny_model[1], {"0": 20, "1": 7}, tmp_path / "f", SynthesizeConfig(batch_size=8),
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


@pytest.mark.slow
def test_quality_filter_classifier(digits_splits):
    from augmentor.classifiers import QualityFilter

    data = load_dataset(digits_splits[0])
    qf = QualityFilter.fit(data.x, data.y, 10, 0.5, steps=100)
    keep = qf.accept(data.x[data.y == 7], 7)
    assert keep.mean() > 0.8  # real 7s are kept as 7s
    assert qf.accept(data.x[data.y == 7], 3).mean() < 0.2  # and rejected as 3s


def test_kid_is_unbiased_at_small_n_where_frechet_is_not():
    rng = np.random.default_rng(0)
    small = [(rng.normal(size=(30, 64)), rng.normal(size=(30, 64))) for _ in range(40)]
    kids = [kid(a, b) for a, b in small]
    assert abs(np.mean(kids)) < 3 * np.std(kids) / np.sqrt(len(kids))  # same distribution: KID ~ 0
    assert np.mean([frechet_distance(a, b) for a, b in small[:5]]) > 10  # Fréchet: large bias at n < dim
    shifted = kid(rng.normal(size=(30, 64)), rng.normal(0.5, 1, size=(30, 64)))
    assert shifted > max(kids)


def test_fidelity_overall_compares_the_same_classes():
    rng = np.random.default_rng(0)
    real = rng.normal(size=(60, 4))
    ry = np.repeat([0, 1, 2], 20)
    fake, fy = real[ry == 2][:15], np.full(15, 2)  # a gap-filling set holding class 2 only
    f = fidelity(real, ry, fake, fy, ("a", "b", "c"))
    assert f["overall"]["classes"] == ["c"] and f["overall"]["n_real"] == 20


@pytest.mark.slow
def test_evaluation_protocol(tiny_model, digits_splits, monkeypatch):
    """Fresh draws per seed; no test array reaches any fit; every CNN fit has the same step
    budget; choices come from validation; verdicts below 3 seeds are never helps/hurts."""
    import augmentor.classifiers as classifiers
    from augmentor.data import validation_split
    from augmentor.recipe import EvaluateConfig
    from augmentor.runtime import OnnxGenerator

    train, validation = validation_split(load_dataset(digits_splits[0]), 0.2, 0)
    test = load_dataset(digits_splits[1])
    test_rows = {row.tobytes() for row in test.x}
    fits = []
    original = classifiers.fit_cnn

    def spy(x, y, n_classes, **kw):
        fits.append((kw["steps"], x.epoch_arrays(0)[0] if hasattr(x, "epoch_arrays") else x))
        return original(x, y, n_classes, **kw)

    monkeypatch.setattr(classifiers, "fit_cnn", spy)
    gen = OnnxGenerator(tiny_model[1])
    plan = {c: 20 for c in train.classes}
    draws = gan_draws([gen], plan, 0, train)
    assert not np.array_equal(draws(0).x, draws(1).x) and np.array_equal(draws(1).x, draws(1).x)
    ev = EvaluateConfig(seeds=2, epochs=1, batch_size=64, doses=(1.0,), filter_threshold=0.5)
    from augmentor.pipeline import online_factory

    counts = train.counts()
    online = online_factory([gen], train, {c: counts[c] + n for c, n in plan.items()}, ev, 3)
    results = run_evaluation(train, validation, test, ev, synthetic=draws,
                             doses={1.0: gan_draws([gen], plan, 2, train)}, online=online,
                             quality_filter=classifiers.QualityFilter.fit(train.x, train.y, 10, 0.5, steps=5),
                             progress=False)
    res = results["classifiers"]["SmallCNN"]
    arm_fits = [f for f in fits if f[0] == results["protocol"]["steps_per_arm"]]
    assert len(arm_fits) == 2 * len(res["arms"]) + 1  # every arm x seed, plus the fidelity embedding
    for _, x in fits:
        assert not any(row.tobytes() in test_rows for row in x)
    syn = res["arms"]["real+synthetic"]["runs"]
    assert syn[0]["train_counts"] == syn[1]["train_counts"]
    ref = res["reference"]["name"]
    val = {n: a["validation_summary"]["balanced_accuracy"]["mean"] for n, a in res["arms"].items()
           if a["kind"] in ("baseline", "loss")}
    assert ref == max(val, key=val.get)
    assert any(n.startswith("real+synthetic x1+") for n in res["arms"])
    verdicts = {c["verdict"] for a in res["arms"].values() for c in (a.get("vs_real"), a.get("vs_reference")) if c}
    assert verdicts == {"not enough evidence"}
    assert results["quality_filter"]["per_class"]["0"]["drawn"] == 40  # both seeds' draws, per sample
    # fresh-draw arms, alone, with classic augmentation, and with the validation-chosen loss fix
    assert {"real+online-synthetic", "real+online-synthetic+classic"} <= set(res["arms"])
    assert any(n.startswith("real+online-synthetic+") and n != "real+online-synthetic+classic" for n in res["arms"])
    online_runs = res["arms"]["real+online-synthetic"]["runs"]
    assert online_runs[0]["n_train"] == len(train) + sum(plan.values())
    # the headline: GAN arm vs non-GAN arm, both the best on validation
    h = results["headline"]
    gan_val = {n: a["validation_summary"]["balanced_accuracy"]["mean"] for n, a in res["arms"].items()
               if a["uses_gan"] and n != "synthetic-only"}
    assert h["gan_arm"] == max(gan_val, key=gan_val.get) and h["best_non_gan_arm"] == ref
    assert set(h["balanced_accuracy"]) == {h["gan_arm"], ref} and h["verdict"] == "not enough evidence"
    # memorisation figures for every synthetic set
    mem = results["memorisation"]["synthetic (gap-filling)"]
    assert set(mem) == set(plan) and all(0 <= v["near_copy_rate"] <= 1 for v in mem.values())


def test_headline_breaks_a_validation_tie_against_real_in_favour_of_the_baseline():
    from augmentor.evaluate import _headline

    def arm(val: float, test: float, gan: bool, **cmp) -> dict:
        runs = [{"validation": {"balanced_accuracy": val}} for _ in range(3)]
        return {"uses_gan": gan, "runs": runs, "summary": {"balanced_accuracy": {"mean": test}}, **cmp}

    vs = {"verdict": "no detectable change", "reference": "real+logit-adjusted"}
    by_clf = {"SmallCNN": {"arms": {
        "real": arm(0.875, 0.746, False),
        "real+logit-adjusted": arm(0.875, 0.921, False),
        "real+synthetic+logit-adjusted": arm(0.87, 0.924, True, vs_real={"verdict": "helps"}, vs_reference=vs),
    }}}
    h = _headline(by_clf)
    assert h["best_non_gan_arm"] == "real+logit-adjusted" and h["verdict"] == "no detectable change"
    by_clf["SmallCNN"]["arms"]["real"]["runs"][0]["validation"]["balanced_accuracy"] = 0.9  # strictly better
    h = _headline(by_clf)
    assert h["best_non_gan_arm"] == "real" and h["verdict"] == "helps"
