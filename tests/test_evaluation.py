"""Baselines plan the right counts; fidelity and statistics behave as documented."""

import re

import numpy as np
import pytest

from augmentor.config.recipe import SynthesizeConfig, load_recipe
from augmentor.core.data import balanced_validation_split, imbalance_targets, stratified_split, thin_classes
from augmentor.evaluation.fidelity import fidelity, frechet_distance, kid, prdc
from augmentor.evaluation.stage import fixed_draw, gan_draws, run_evaluation
from augmentor.evaluation.stats import holm, judge_family, paired_difference, verdict
from augmentor.image.data import LabelledData
from augmentor.pipeline import prepare_splits
from augmentor.registry import load_dataset, open_generator

from .test_recipe import ROOT


@pytest.fixture(scope="module")
def thin_digits():
    d = load_dataset("builtin:digits")
    tr, _ = stratified_split(d, 0.3, 0)
    return thin_classes(tr, imbalance_targets(tr.counts(), "exponential", ratio=20), 0)


def test_grid_cells_and_gan_arms_on_top_reach_the_planned_counts(thin_digits):
    from augmentor.evaluation.arms import gan_on_top_of, grid_arms

    rng = np.random.default_rng(0)
    counts = np.bincount(thin_digits.y)
    gap = counts.max() - counts
    syn_y = np.repeat(np.arange(10), gap)
    synthetic = LabelledData(rng.random((len(syn_y), 1, 8, 8), dtype=np.float32), syn_y,
                             thin_digits.classes)
    cells = grid_arms(thin_digits, counts + gap, ("oversample", "smote", "reweight", "logit-adjust", "drw"),
                      ("affine",), (0.2,))
    arms = {a.name: a for a in cells}
    assert cells[0].name == "real" and len(cells) == 1 + 5 * 2 * 2  # real, then every cell once
    planned = (counts + gap).tolist()
    for name in ("real+oversampled", "real+SMOTE", "real+classic (affine)+oversampled"):
        x, y = arms[name].make(3)
        assert np.bincount(y, minlength=10).tolist() == planned, name
        assert x.shape == (sum(planned), 1, 8, 8) and x.dtype == np.float32
    x, _ = arms["real+SMOTE"].make(3)
    assert 0 <= x.min() and x.max() <= 1
    assert arms["real+classic (affine)+oversampled"].classic == "affine" and not arms["real+oversampled"].classic
    assert {a.loss for a in arms.values() if a.kind == "loss"} == {"reweight", "logit-adjust", "drw"}
    mixed = arms["real+classic (affine)+oversampled+mixup 0.2"]
    assert mixed.mixup == 0.2 and mixed.rebalance == "oversample"
    assert np.bincount(mixed.make(3)[1], minlength=10).tolist() == planned
    # a GAN arm takes the whole setting of the arm it joins; the GAN samples fill the gaps before its resampling
    gan = gan_on_top_of(mixed, thin_digits, counts + gap, "real+synthetic", "gap-filling", fixed_draw(synthetic))
    assert gan.name == "real+synthetic+classic (affine)+oversampled+mixup 0.2" and gan.uses_gan
    assert (gan.classic, gan.loss, gan.mixup, gan.rebalance) == ("affine", "ce", 0.2, "oversample")
    x, y = gan.make(3)
    assert np.bincount(y, minlength=10).tolist() == planned and len(x) == sum(planned)
    plain = gan_on_top_of(arms["real"], thin_digits, counts + gap, "real+synthetic", "gap-filling",
                          fixed_draw(synthetic))
    assert plain.name == "real+synthetic" and len(plain.make(0)[1]) == len(thin_digits) + len(syn_y)


def test_filtered_arm_topped_up_by_oversampling_reaches_the_target_with_every_accepted_sample(thin_digits):
    from augmentor.evaluation.arms import top_up

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
    # above the cap, a seeded subsample of each side: the same answer as on that subsample, and memory bounded
    big_real, big_fake = rng.normal(size=(900, 12)), rng.normal(size=(700, 12))
    capped = prdc(big_real, big_fake, most=400)
    assert capped == prdc(big_real, big_fake, most=400)  # seeded
    assert capped != prdc(big_real, big_fake) and 0.5 < capped["precision"] <= 1 and 0.5 < capped["recall"] <= 1


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
    same = paired_difference(np.array([0.9, 0.8, 0.85]), np.array([0.9, 0.8, 0.85]))  # identical predictions
    assert (same["low"], same["high"], same["p"]) == (0.0, 0.0, 1.0) and verdict(same) == "no detectable change"
    assert verdict(paired_difference(np.array([0.9, 0.8]), np.array([0.9, 0.8]))) == "not enough evidence"
    one = paired_difference(np.array([0.9]), np.array([0.1]))
    assert verdict(one) == "not enough evidence"
    three = paired_difference(np.array([0.9, 0.92, 0.95]), np.array([0.5, 0.51, 0.53]))
    assert verdict(three) == "helps"


def test_paired_difference_without_test_variance_is_scipys_paired_t_test():
    from scipy import stats as st

    rng = np.random.default_rng(7)
    for n in (3, 5, 12):
        a, b = rng.uniform(0.7, 0.9, n), rng.uniform(0.7, 0.9, n)
        d, ref = paired_difference(a, b), st.ttest_rel(a, b)
        assert d["p"] == pytest.approx(ref.pvalue, rel=1e-9)
        low, high = ref.confidence_interval(0.95)
        assert (d["low"], d["high"]) == (pytest.approx(low, rel=1e-9), pytest.approx(high, rel=1e-9))


def test_test_sampling_variance_matches_a_stratified_bootstrap_and_widens_the_interval():
    from augmentor.evaluation.stats import test_sampling_variance

    rng = np.random.default_rng(3)
    y = np.repeat(np.arange(4), [50, 100, 200, 400])
    arm = np.where(rng.random((3, len(y))) < 0.85, y, (y + 1) % 4)
    ref = np.where(rng.random((3, len(y))) < 0.80, y, (y + 1) % 4)
    var = test_sampling_variance(arm, ref, y)

    def ba_diff(idx: np.ndarray) -> float:
        yy = y[idx]
        ba = [np.mean([(p[idx][yy == c] == c).mean() for c in range(4)]) for p in (arm, ref)]
        return float(np.mean([ba[0]]) - np.mean([ba[1]]))

    def seed_mean(idx: np.ndarray) -> float:
        yy = y[idx]
        return np.mean([np.mean([(arm[s][idx][yy == c] == c).mean() - (ref[s][idx][yy == c] == c).mean()
                                 for c in range(4)]) for s in range(3)])

    boot = [seed_mean(np.concatenate([rng.choice(np.flatnonzero(y == c), (y == c).sum()) for c in range(4)]))
            for _ in range(1500)]
    assert var == pytest.approx(np.var(boot), rel=0.15)
    ba = lambda p: np.array([np.mean([(s[y == c] == c).mean() for c in range(4)]) for s in p])  # noqa: E731
    narrow, wide = paired_difference(ba(arm), ba(ref)), paired_difference(ba(arm), ba(ref), test_var=var)
    assert wide["se_test"] ** 2 == pytest.approx(var) and narrow["se_test"] == 0
    assert wide["df"] == narrow["df"] == 2 and wide["high"] - wide["low"] > narrow["high"] - narrow["low"]


def test_zero_seed_spread_is_judged_on_test_sampling_alone():
    flat = paired_difference(np.array([0.9, 0.9, 0.9]), np.array([0.8, 0.8, 0.8]), test_var=0.01 ** 2)
    assert flat["df"] == np.inf and flat["low"] == pytest.approx(0.1 - 1.959964 * 0.01, rel=1e-5)
    assert verdict(flat) == "helps"


def test_benjamini_hochberg_q_values():
    from augmentor.evaluation.stats import benjamini_hochberg

    q = benjamini_hochberg([0.01, 0.04, 0.03, float("nan"), 0.5])
    assert q[:3] == pytest.approx([0.04, 0.0533333, 0.0533333], rel=1e-5) and np.isnan(q[3]) and q[4] == 0.5


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

    from augmentor.core.errors import InvalidDataError

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

    from augmentor.core.errors import InvalidDataError
    from augmentor.core.outputs import read_manifest
    from augmentor.registry import generate_to_folder

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
    from augmentor.image.learners import QualityFilter

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
    budget; every choice comes from validation in its declared order; the confirmatory family
    gets more seeds and Holm verdicts; everything else is exploratory."""
    import augmentor.image.learners as classifiers
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.core.data import validation_split
    from augmentor.evaluation.stats import holm

    train, validation = validation_split(load_dataset(digits_splits[0]), 0.2, 0)
    test = load_dataset(digits_splits[1])
    test_rows = {row.tobytes() for row in test.x}
    fits = []
    original = classifiers.fit_cnn

    def spy(x, y, n_classes, **kw):
        fits.append((kw["steps"], x.epoch_arrays(0)[0] if hasattr(x, "epoch_arrays") else x))
        if kw.get("soft") is not None:
            assert not any(row.tobytes() in test_rows for row in kw["soft"].x)
        return original(x, y, n_classes, **kw)

    monkeypatch.setattr(classifiers, "fit_cnn", spy)
    gen = open_generator(tiny_model[1])
    plan = {c: 20 for c in train.classes}
    draws = gan_draws([gen], plan, 0, train)
    again = gan_draws([open_generator(tiny_model[1])], plan, 0, train)  # a new cache: drawn again, not looked up
    assert not np.array_equal(draws(0).x, draws(1).x) and np.array_equal(draws(1).x, again(1).x)
    n_real = np.bincount(train.y, minlength=10)
    share = float(np.sort(n_real)[4] / n_real.max())  # a second teacher arm for the (at least) 5 thinnest classes
    ev = EvaluateConfig(seeds=2, confirm_seeds=3, epochs=1, batch_size=64, doses=(1.0,), filter_threshold=0.5,
                        mixup=(0.4,), rebalancing=("oversample", "logit-adjust"), teacher_max_share=(1.0, share),
                        fold_below=0, confirm_power=0)  # choices on validation (k-fold: its own test); 3 seeds
    from augmentor.pipeline import online_factory

    counts = train.counts()
    online = online_factory([gen], train, {c: counts[c] + n for c, n in plan.items()}, ev, 3)
    results = run_evaluation(train, validation, test, ev, synthetic=draws,
                             doses={1.0: gan_draws([gen], plan, 2, train)}, online=online,
                             quality_filter=classifiers.QualityFilter.fit(train.x, train.y, 10, 0.5, steps=5),
                             teacher_pool=gan_draws([gen], {c: 3 * n for c, n in plan.items()}, 4, train),
                             progress=False).to_dict()
    res = results["classifiers"]["SmallCNN"]
    arms = res["arms"]
    arm_fits = [f for f in fits if f[0] == results["protocol"]["steps_per_arm"]]
    # every arm x its seeds; fidelity embeds with the real arm's seed-0 model, not a fit of its own
    assert len(arm_fits) == sum(a["seeds"] for a in arms.values())
    for _, x in fits:
        assert not any(row.tobytes() in test_rows for row in x)
    syn = next(a for n, a in arms.items() if n.startswith("real+synthetic") and "(" not in n.split("+")[1])["runs"]
    assert syn[0]["train_counts"] == syn[1]["train_counts"]

    def val(name: str) -> float:
        return float(np.mean([r["validation"]["balanced_accuracy"] for r in arms[name]["runs"][:2]]))

    # the grid: real + rebalancing {oversample, logit-adjust} x classic {none, affine, pad-crop} x mixup {0, 0.4};
    # every cell at 1 seed, the best quarter (at least 2) at 2 seeds, the winner the best of those on validation
    search = res["search"]
    first, second = search["stages"]
    assert results["protocol"]["grid"]["classic"] == ["affine", "pad-crop"] and search["cells"] == 13
    assert first["seeds"] == 1 and len(first["balanced_accuracy"]) == 13 and second["seeds"] == 2
    for name, v in first["balanced_accuracy"].items():
        assert arms[name]["runs"][0]["validation"]["balanced_accuracy"] == pytest.approx(v)
    ranked = sorted(first["balanced_accuracy"], key=lambda n: -first["balanced_accuracy"][n])
    assert len(second["balanced_accuracy"]) == 4
    cut = first["balanced_accuracy"][ranked[3]]
    assert all(first["balanced_accuracy"][n] >= cut for n in second["balanced_accuracy"])
    for name, v in second["balanced_accuracy"].items():
        assert val(name) == pytest.approx(v)
    w = search["chosen"]
    assert val(w) == max(val(n) for n in second["balanced_accuracy"]) == pytest.approx(search["chosen_score"])
    winner = arms[w]
    # every GAN arm takes the winner's whole setting (a teacher arm its teacher's), so only the GAN samples differ
    soft = w if winner["loss"] in ("ce", "logit-adjust", "drw") else max(
        (n for n in second["balanced_accuracy"] if arms[n]["loss"] in ("ce", "logit-adjust", "drw")), key=val)
    setting = ("rebalance", "classic_augmentation", "loss", "mixup")
    for name, a in arms.items():
        if a["uses_gan"] and name != "synthetic-only":
            base = soft if "teacher" in name else w
            assert all(a[k] == arms[base][k] for k in setting), name
            assert name.endswith(base.removeprefix("real")), name
    assert any(n.startswith("real+synthetic x1") for n in arms)
    # the teacher arm: on the winner (or the best soft-target cell), its own model as teacher, top-k per class
    teacher_arm = arms[f"real+synthetic (teacher){soft.removeprefix('real')}"]
    want = np.minimum(20, np.bincount(train.y, minlength=10))  # dose x1: as many as real, at most the gap
    for seed, sel in teacher_arm["teacher_selection"].items():
        assert sel["kept"] == want.tolist() and sel["drawn"] == [60] * 10  # from 3x the gap, every class
        assert teacher_arm["runs"][int(seed)]["train_counts"] == (
            np.asarray(arms[soft]["runs"][int(seed)]["train_counts"]) + want).tolist()
    # the share arm: the same teacher and draw, samples only for the classes at most `share` x the largest
    thin = arms[f"real+synthetic (teacher, share {share:g}){soft.removeprefix('real')}"]
    thin_want = np.where(n_real <= share * n_real.max(), want, 0)
    assert 5 <= (thin_want > 0).sum() < 10 and "only the classes with at most" in thin["description"]
    for sel in thin["teacher_selection"].values():
        assert sel["kept"] == thin_want.tolist() and sel["drawn"] == [60] * 10
    # exploratory comparisons: interval and q-value, never a verdict word
    exploratory = [c for a in arms.values() for c in (a.get("vs_real"), a.get("vs_reference")) if c]
    assert exploratory and all(c["role"] == "exploratory" and "verdict" not in c and "q_bh" in c
                               for c in exploratory)
    filtered_seeds = max(a["seeds"] for n, a in arms.items() if "(filtered)" in n)
    assert results["quality_filter"]["per_class"]["0"]["drawn"] == 20 * filtered_seeds  # every seed's draw, per sample
    online_name = f"real+online-synthetic{w.removeprefix('real')}"
    assert online_name in arms
    assert arms[online_name]["runs"][0]["n_train"] == len(train) + sum(plan.values())
    # the headline: the best GAN arm on validation against the search's winner, refitted to confirm_seeds, Holm
    h = results["headline"]
    gan_val = {n: val(n) for n, a in arms.items() if a["uses_gan"] and n != "synthetic-only"}
    assert h["gan_arm"] == max(gan_val, key=gan_val.get) and h["best_non_gan_arm"] == w
    for name in {h["gan_arm"], w, "real"}:
        assert arms[name]["seeds"] == 3
    family = [h["difference"], h["vs_real"]] if w != "real" else [h["vs_real"]]
    assert results["statistics"]["family_size"] == len(family) and all(c["n"] == 3 for c in family)
    for c, p in zip(family, holm([c["p"] for c in family])):
        assert c["p_holm"] == pytest.approx(p)
        # one GAN drew every seed's samples: no verdict word, whatever p (test_gan_level.py: three GANs do get one)
        assert c["gan_trainings"] == 1 and c["verdict"] == "not enough evidence"
        assert "one trained GAN" in c["verdict_reason"]
    # typed results: the report reads these attributes; results.json is written from them
    from augmentor.evaluation.results import Results

    typed = Results.from_dict(results)
    assert typed.headline.gan_arm == h["gan_arm"] and typed.headline.difference.role == "confirmatory"
    assert typed.learners["SmallCNN"].arms[h["gan_arm"]].seeds == 3
    assert typed.learners["SmallCNN"].search["chosen"] == w
    back = typed.to_dict()
    assert back["headline"]["difference"]["p_holm"] == pytest.approx(h["difference"]["p_holm"], nan_ok=True)
    assert set(back["classifiers"]["SmallCNN"]["arms"]) == set(arms)
    # memorisation figures for every synthetic set
    mem = results["memorisation"]["synthetic (gap-filling)"]
    assert set(mem) == set(plan) and all(0 <= v["near_copy_rate"] <= 1 for v in mem.values())


@pytest.mark.slow
def test_fits_in_worker_processes_give_the_runs_of_fits_in_this_process(tiny_model, digits_splits):
    """evaluate.workers = 2: the same arms, choices, runs and teacher selections as one fit at a
    time, bit for bit at one torch thread (a worker runs one thread); the online arm (fitted in
    this process) and the teacher arm (its teacher's model sent back from a worker) included."""
    import torch

    import augmentor.image.learners as classifiers
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.core.data import validation_split
    from augmentor.pipeline import online_factory

    train, validation = validation_split(load_dataset(digits_splits[0]), 0.2, 0)
    train = train.subset(np.flatnonzero((train.y < 5) | (np.arange(len(train)) % 2 == 0)))  # half the large classes
    test = load_dataset(digits_splits[1])
    gen = open_generator(tiny_model[1])
    plan = {c: 20 for c in train.classes}
    counts = train.counts()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        out = []
        for workers in (1, 2):
            ev = EvaluateConfig(seeds=2, confirm_seeds=2, epochs=1, batch_size=128, doses=(), filter_threshold=0.5,
                                mixup=(0.2,), rebalancing=("logit-adjust", "drw"), classic=("affine",),
                                workers=workers, fold_below=0)
            online = online_factory([gen], train, {c: counts[c] + n for c, n in plan.items()}, ev, 3)
            out.append(run_evaluation(train, validation, test, ev, synthetic=gan_draws([gen], plan, 0, train),
                                      online=online, progress=False,
                                      quality_filter=classifiers.QualityFilter.fit(train.x, train.y, 10, 0.5, steps=5),
                                      teacher_pool=gan_draws([gen], {c: 3 * n for c, n in plan.items()}, 4,
                                                             train)).to_dict())
    finally:
        torch.set_num_threads(threads)
    one, two = (r["classifiers"]["SmallCNN"]["arms"] for r in out)
    assert list(one) == list(two) and any(n.startswith("real+online-synthetic") for n in one)
    assert {"real+logit-adjusted+mixup 0.2", "real+DRW+mixup 0.2"} <= set(one)  # every cell, at 1 seed at least
    assert any(a["teacher_selection"] for a in one.values() if "teacher_selection" in a)
    for name in one:
        assert one[name]["runs"] == two[name]["runs"], name
        assert one[name].get("teacher_selection") == two[name].get("teacher_selection"), name
    assert out[0]["headline"]["difference"] == out[1]["headline"]["difference"]
    assert out[1]["protocol"]["workers"] == 2


class Scripted:
    """A learner whose validation and test scores are set per arm: it predicts the true label of the first
    share of each split's examples (its score for that arm) and a wrong one for the rest. No torch."""

    def __init__(self, splits, scores, name="scripted", fit_key=None):
        self.splits, self.scores, self.name, self.fits = splits, scores, name, []
        if fit_key:
            self.fit_key = fit_key

    def fit_predict(self, arm, x, y, seed, evals):
        self.fits.append(arm.name)
        out = []
        for e in evals:
            y_true = next(d.y for d in self.splits if d.x.shape == e.shape and np.array_equal(d.x, e))
            share = self.scores(arm)
            pred = (y_true + 1) % 10
            right = np.zeros(len(y_true), bool)
            for c in np.unique(y_true):  # the same share of every class: balanced accuracy = share
                idx = np.flatnonzero(y_true == c)
                right[idx[:round(share * len(idx))]] = True
            pred[right] = y_true[right]
            out.append(pred)
        return out


def _grid_eval(train, validation, test, scores, **kw):
    from augmentor.evaluation.arms import cell_arm, grid_arms
    from augmentor.evaluation.engine import evaluate

    def rebuild(arm, data):
        return cell_arm(data, np.full(10, np.bincount(data.y).max()), arm.rebalance, arm.classic, arm.mixup)

    kw.setdefault("rebuild", rebuild)
    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(len(counts), counts.max()), kw.pop("rebalancing", ("oversample", "logit-adjust")),
                     kw.pop("classic", ("affine",)), kw.pop("mixup", ()))
    learner = Scripted([validation, test, train.concat(validation)], scores, fit_key=kw.pop("fit_key", None))
    return evaluate(train, validation, test, grid, [learner], progress=False, **kw), learner


def test_the_search_keeps_classic_augmentation_that_loses_alone_but_wins_with_oversampling(thin_digits):
    """On a long tail augmentation alone hides the thin classes (below real) while augmentation with
    over-sampling is the best arm: the joint grid keeps it (the old gate dropped it from every arm)."""
    train, validation = stratified_split(thin_digits, 0.3, 0)

    def scores(arm):
        return {("", "none"): 0.8, ("affine", "none"): 0.7, ("", "oversample"): 0.85,
                ("affine", "oversample"): 0.95}.get((arm.classic, arm.rebalance), 0.75)

    out, _ = _grid_eval(train, validation, validation, scores, seeds=3, fold_below=0,
                        rebalancing=("none", "oversample", "logit-adjust"))
    res = out["classifiers"]["scripted"]
    first = res["search"]["stages"][0]["balanced_accuracy"]
    assert first["real+classic (affine)"] < first["real"]  # augmentation alone loses to real ...
    assert res["search"]["chosen"] == "real+classic (affine)+oversampled"  # ... and wins with oversampling
    assert res["reference"]["name"] == "real+classic (affine)+oversampled"


def test_ties_go_to_the_simpler_arm_never_to_list_order(thin_digits):
    from augmentor.evaluation.search import pick

    train, validation = stratified_split(thin_digits, 0.3, 0)
    out, _ = _grid_eval(train, validation, validation, lambda arm: 0.9 if arm.name != "real" else 0.6, seeds=2,
                        fold_below=0)
    # every cell but real ties: the simplest (one component) wins, the first of those in the declared order
    assert out["classifiers"]["scripted"]["search"]["chosen"] == "real+oversampled"
    from augmentor.evaluation.arms import cell_arm

    arms = [cell_arm(train, np.bincount(train.y), "logit-adjust", "affine", 0.4), cell_arm(train, np.bincount(train.y),
            "logit-adjust"), cell_arm(train, np.bincount(train.y))]
    assert pick(arms, lambda n: 0.5).name == "real"  # a tie with real goes to real: it is the simplest
    assert pick(arms[:2], lambda n: 0.5).name == "real+logit-adjusted"
    assert pick(arms, lambda n: 0.5 + 0.1 * (n == "real+classic (affine)+logit-adjusted+mixup 0.4")).name == \
        "real+classic (affine)+logit-adjusted+mixup 0.4"


def test_cells_that_are_one_fit_for_a_learner_are_fitted_once_and_named_together(thin_digits):
    train, validation = stratified_split(thin_digits, 0.3, 0)
    out, learner = _grid_eval(train, validation, validation, lambda arm: 0.8, seeds=1, fold_below=0,
                              rebalancing=("reweight", "logit-adjust", "drw"), classic=(),
                              fit_key=lambda a: (a.rebalance if a.loss == "ce" else "balanced", a.classic, a.mixup))
    res = out["classifiers"]["scripted"]
    assert set(res["arms"]) == {"real", "real+reweighted"} and res["search"]["cells"] == 4
    assert res["search"]["same_fit"] == {"real+reweighted": ["real+logit-adjusted", "real+DRW"]}
    assert "real+logit-adjusted" in res["arms"]["real+reweighted"]["description"]
    assert sorted(learner.fits) == ["real", "real+reweighted"]


def test_choices_on_a_small_validation_split_are_made_by_k_fold_and_never_touch_test(thin_digits):
    train, validation = stratified_split(thin_digits, 0.3, 0)
    test = thin_digits.subset(np.arange(40))  # never a fold's training or held-out data
    out, learner = _grid_eval(train, validation, test, lambda arm: 0.9 if arm.rebalance == "oversample" else 0.7,
                              seeds=2, folds=3, fold_below=1000)
    res = out["classifiers"]["scripted"]
    assert out["protocol"]["choices_on"].startswith("3-fold cross-validation")
    assert res["search"]["chosen_on"].startswith("3-fold cross-validation")
    stage1 = res["search"]["stages"][0]["balanced_accuracy"]
    assert len(stage1) == 5 and stage1["real+oversampled"] > stage1["real"] + 0.1
    fold_fits = [f for f in learner.fits if "fold" in f]
    assert len(fold_fits) == 3 * (5 + 2)  # 5 cells x 3 folds, then the best 2 at a second repeat
    assert res["search"]["chosen"] == "real+oversampled"
    # on the training split: real and the winner only (nothing else was fitted on it)
    assert set(res["arms"]) == {"real", "real+oversampled"}


def test_k_fold_training_parts_keep_the_long_tail(thin_digits):
    """Pooling a balanced validation split into training would judge cells on a far less imbalanced problem:
    every fold's training part keeps the training split's class counts (fewer only where the pool runs out)."""
    from augmentor.evaluation.search import Folds

    train, validation = stratified_split(thin_digits, 0.3, 0)
    folds = Folds(train, validation, 3, rebuild=None, repeats=2)
    profile = np.bincount(train.y, minlength=10)
    pool = np.bincount(folds.pooled.y, minlength=10)
    for repeat in folds.splits:
        for tr, va in repeat:
            counts = np.bincount(folds.pooled.y[tr], minlength=10)
            assert (counts <= profile).all() and not set(tr) & set(va)
            held = np.bincount(folds.pooled.y[va], minlength=10)
            assert (counts == np.minimum(profile, pool - held)).all()


def test_the_progress_bar_shows_done_of_total_and_time_left(thin_digits, capsys):
    """Issue 49: the evaluation's bar counts fits against its plan (done/total) and shows the time left; the
    plan is the search, the GAN arms and the confirmatory refits, and grows when more is known."""
    from augmentor.evaluation.arms import cell_arm, grid_arms
    from augmentor.evaluation.engine import evaluate, planned_fits

    assert planned_fits(13, 1, 3, 6, 0.25) == 13 + 4 * 2 + 4 * 3 + 3 * 3
    assert planned_fits(13, 2, 3, 3, 0.25, folds=3) == 2 * (3 * (13 + 4 * 2) + 4 * 3)
    train, validation = stratified_split(thin_digits, 0.3, 0)
    counts = np.bincount(train.y)
    grid = grid_arms(train, np.full(len(counts), counts.max()), ("oversample",), (), ())
    learner = Scripted([validation, validation], lambda arm: 0.8)
    evaluate(train, validation, validation, grid, [learner], seeds=2, fold_below=0, progress=True,
             rebuild=lambda arm, data: cell_arm(data, np.full(10, 9), arm.rebalance, arm.classic, arm.mixup))
    err = capsys.readouterr().err
    done = re.findall(r"evaluate: +\d+%\|[^|]*\| (\d+)/(\d+) \[[\d:]+<[\d:?]+", err)
    assert done, err[-500:]
    n, total = map(int, done[-1])
    assert n == total == len(learner.fits)
