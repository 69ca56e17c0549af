"""Verdicts that cover GAN training (issue 47, item 7): a GAN arm's comparison is made at the GAN level when its
seeds drew from several trained GANs, records the per-GAN-seed differences, and never reads a verdict word when
one GAN (or fewer than 3) was trained; the GAN-level test keeps its level where GANs differ, the seed-level one
does not."""

from __future__ import annotations

import math

import numpy as np
import pytest

from augmentor.evaluation.seed_plan import gan_spread
from augmentor.evaluation.stats import (
    HELPS,
    NOT_ENOUGH,
    by_gan,
    judge_family,
    paired_difference,
    power,
    seeds_for_power,
)

pytestmark = pytest.mark.xdist_group("fit-cache")


def test_seeds_are_grouped_by_the_gan_they_drew_from():
    arm, ref = np.array([0.9, 0.8, 0.7, 0.95, 0.85, 0.75, 0.9]), np.full(7, 0.8)
    a, r, per = by_gan(arm, ref, 3)
    assert [p["gan"] for p in per] == [0, 1, 2] and [p["seeds"] for p in per] == [3, 2, 2]
    assert per[0]["mean"] == pytest.approx(np.mean([0.9, 0.95, 0.9]) - 0.8)
    assert a.mean() - r.mean() == pytest.approx(np.mean([p["mean"] for p in per]))
    _, _, two = by_gan(arm[:2], ref[:2], 3)  # fewer seeds than GANs: only the GANs used
    assert len(two) == 2


def test_one_gan_or_fewer_than_three_give_no_verdict_word_and_say_why():
    strong = paired_difference(np.full(6, 0.9) + np.linspace(0, 0.01, 6), np.full(6, 0.8))
    one = {**strong, "gan_trainings": 1}
    a, r, _ = by_gan(np.full(6, 0.9) + np.linspace(0, 0.01, 6), np.full(6, 0.8), 2)
    two = {**paired_difference(a, r), "gan_trainings": 2}
    a, r, _ = by_gan(np.full(6, 0.9) + np.linspace(0, 0.01, 6), np.full(6, 0.8), 3)
    three = {**paired_difference(a, r), "gan_trainings": 3}
    judge_family([one, two, three])
    assert one["p_holm"] < 0.05 and one["verdict"] == NOT_ENOUGH and "one trained GAN" in one["verdict_reason"]
    assert two["verdict"] == NOT_ENOUGH and "2 GAN trainings" in two["verdict_reason"]
    assert three["verdict"] == HELPS and "verdict_reason" not in three and three["df"] == 2


def test_the_gan_level_test_keeps_its_level_where_gans_differ_and_the_seed_level_one_does_not():
    """Null simulation: no true difference, each GAN shifts its seeds' differences by its own offset (sd 1 point),
    the seeds add their own noise (sd 1 point). 3 GANs x 4 seeds; 4,000 simulated comparisons."""
    rng = np.random.default_rng(0)
    gans, per, sims = 3, 4, 4000
    seed_level = gan_level = 0
    for _ in range(sims):
        offsets = rng.normal(0, 0.01, gans)
        d = offsets[np.arange(gans * per) % gans] + rng.normal(0, 0.01, gans * per)
        seed_level += paired_difference(d, np.zeros_like(d))["p"] < 0.05
        a, r, _ = by_gan(d, np.zeros_like(d), gans)
        gan_level += paired_difference(a, r)["p"] < 0.05
    rate, se = gan_level / sims, math.sqrt(0.05 * 0.95 / sims)
    assert abs(rate - 0.05) < 3 * se, rate
    assert seed_level / sims > 0.15  # what one GAN's seeds claim when GANs differ


def test_power_at_the_gan_level_stops_where_more_seeds_add_no_gan():
    alpha = 0.025
    # GANs that differ: more classifier seeds cannot reach the target, the GANs' count is the limit
    n, reached, why = seeds_for_power(0.01, 0.005, 1e-6, alpha, 0.8, 6, 20, sd_gans=0.02, gans=3)
    assert why == "GAN trainings" and reached < 0.8
    # GANs alike: seeds buy power as at the seed level, with GANs - 1 degrees of freedom
    assert power(0.02, 0.01, 1e-6, 30, alpha, 0.0, 10) > power(0.02, 0.01, 1e-6, 6, alpha, 0.0, 10)
    assert power(0.02, 0.01, 1e-6, 30, alpha, 0.0, 1) == 0.0  # one GAN: no test at this level
    within, between = gan_spread(np.array([0.0, 1.0, 2.0, 0.0, 1.0, 2.0]), 3)  # GAN k always reads k
    assert within == 0.0 and between == pytest.approx(1.0)
    within, between = gan_spread(np.array([0.0, 1.0, 2.0]), 3)  # one seed per GAN: all of it counted as the GANs'
    assert within == 0.0 and between == pytest.approx(1.0)


def _table(n_per: tuple[int, ...], seed: int, shift: float = 0.0):
    import pandas as pd

    from augmentor.table.data import TableData

    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per)), n_per)
    x = pd.DataFrame({"a": rng.normal(size=len(y)) + 1.2 * y + shift, "b": rng.normal(size=len(y)) - y})
    return TableData(x, y, ("p", "q", "r"), "test")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_an_evaluation_with_three_gans_compares_at_the_gan_level_and_one_gan_gets_no_verdict():
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.evaluation.stage import run_evaluation

    train, validation, test = _table((60, 20, 5), 0), _table((15, 15, 15), 1), _table((60, 60, 60), 2)
    ev = EvaluateConfig(seeds=3, confirm_seeds=6, epochs=1, rebalancing=("oversample",), classic=(), mixup=(),
                        doses=(), filter_threshold=0.0, online=False, fold_below=0, teacher_pool=0,
                        confirm_power=0, classifiers=("logreg",))

    def draws(s: int):  # GAN s mod 3: each "GAN" a little off in its own way
        return _table((0, 40, 55), 30 + s, shift=0.3 * (s % 3 - 1))

    three = run_evaluation(train, validation, test, ev, synthetic=draws, progress=False, gans=3).to_dict()
    head = three["headline"]
    for c in (head["difference"], head["vs_real"]):
        assert c["gan_trainings"] == 3 and c["seeds"] == 6 and c["n"] == 3 and c["df"] == 2
        assert [g["seeds"] for g in c["per_gan_seed"]] == [2, 2, 2]
        assert c["mean"] == pytest.approx(np.mean([g["mean"] for g in c["per_gan_seed"]]))
    arms = three["classifiers"]["logreg"]["arms"]
    assert "gan_trainings" not in (arms[head["best_non_gan_arm"]].get("vs_real") or {})  # no GAN arm in it
    assert arms["real"].get("vs_real") is None

    one = run_evaluation(train, validation, test, ev, synthetic=draws, progress=False, gans=1).to_dict()
    for c in (one["headline"]["difference"], one["headline"]["vs_real"]):
        assert c["gan_trainings"] == 1 and c["n"] == 6 and c["verdict"] == NOT_ENOUGH
        assert "one trained GAN" in c["verdict_reason"]


def test_the_calibration_simulates_the_gan_level_comparison():
    """`augmentor calibrate`'s null family, with the GAN candidates' comparisons at the GAN level as the report makes
    them: a null of identical arms keeps its level, and the GAN level (2 degrees of freedom) has less power."""
    from augmentor.evaluation.calibrate import simulate

    rng = np.random.default_rng(0)
    y_val, y_test = np.repeat(np.arange(3), 40), np.repeat(np.arange(3), 60)

    def preds(y, pool, right):
        ok = rng.random((pool, len(y))) < right
        return np.where(ok, y, (y + 1) % 3)

    pools = {"m": {"val": preds(y_val, 40, 0.8), "test": preds(y_test, 40, 0.8),
                   "val_weak": preds(y_val, 40, 0.7), "test_weak": preds(y_test, 40, 0.7)}}
    seed_level = simulate(pools, {"m": True}, y_val, y_test, 3, 3, 6, 300)
    gan_level = simulate(pools, {"m": True}, y_val, y_test, 3, 3, 6, 300, gans=3)
    assert gan_level["false"] <= 0.08 and seed_level["false"] <= 0.08
    assert gan_level["power"]["m"] < seed_level["power"]["m"]
