"""What a report claims is what it measured (issue 47), checked over every committed report: a confirmatory
interval printed beside a verdict excludes 0 exactly when the verdict is helps or hurts; a calibration never
reports a false-verdict rate of 0 without an upper bound; the method text says the zero-spread rule."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from augmentor.evaluation.results import Comparison
from augmentor.evaluation.stats import (
    HELPS,
    HURTS,
    MIN_GANS,
    MIN_SEEDS,
    NOT_ENOUGH,
    holm,
    holm_interval,
    paired_difference,
)

REPORTS = sorted(p.parent for p in (Path(__file__).resolve().parents[1] / "reports").glob("*/results.json"))


def _confirmatory(results: dict):
    head = results.get("headline")
    for h in [head, *head.get("others", [])] if head else []:
        for key in ("difference", "vs_real"):
            if h.get(key):
                yield Comparison.from_dict(h[key])


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name)
def test_a_confirmatory_interval_agrees_with_its_verdict(report):
    results = json.loads((report / "results.json").read_text())
    text = (report / "report.md").read_text()
    for c in _confirmatory(results):
        if c.n < MIN_SEEDS or math.isnan(c.p_holm) or c.gan_trainings == 1:
            assert c.verdict not in (HELPS, HURTS)
            continue
        lo, hi = c.holm_interval
        assert (lo > 0 or hi < 0) == (c.verdict in (HELPS, HURTS)), (c.arm, c.reference, lo, hi, c.verdict)
        assert f"[{lo * 100:+.1f}, {hi * 100:+.1f}]" in text  # printed beside the verdict


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name)
def test_a_verdict_word_covers_three_gan_trainings_or_the_report_says_why(report):
    """Every confirmatory comparison of a GAN arm with a verdict word drew from at least 3 trained GANs, and
    results.json records each GAN seed's difference; otherwise it reads "not enough evidence" and the page says why."""
    results = json.loads((report / "results.json").read_text())
    text = (report / "report.md").read_text()
    for c in _confirmatory(results):
        if c.verdict == NOT_ENOUGH:
            assert c.verdict_reason and c.verdict_reason in text, (c.arm, c.reference)
        else:
            assert c.gan_trainings >= MIN_GANS and len(c.per_gan_seed) == c.gan_trainings == c.n, (c.arm, c.reference)
            assert sum(g["seeds"] for g in c.per_gan_seed) == c.seeds


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name)
def test_no_calibration_claims_a_rate_of_0_without_a_bound(report):
    text = (report / "report.md").read_text()
    assert "rate of 0.000 ±" not in text
    if "false-verdict rate of 0 in" in text:
        assert "Clopper-Pearson upper bound" in text
    assert "where the seeds do not vary" in text  # the zero-spread rule, in the report's own words
    cal = json.loads((report / "results.json").read_text()).get("calibration") or {}
    if "false_verdict_rate" in cal:  # #47 item 2: a null that chose among fewer arms than the report says so
        said = " ".join(text.split())
        if cal.get("choice"):
            assert "the report's choices on validation simulated as it made them" in said
        else:
            assert "between two candidates included, fewer than the report chose among" in said


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name)
def test_a_calibration_of_another_arm_than_the_headlines_reference_says_so(report):
    """#47 item 2: where `augmentor calibrate` measured a learner's grid winner while its headline compares with
    another arm (a self-training arm), the page names both."""
    results = json.loads((report / "results.json").read_text())
    arms = (results.get("calibration") or {}).get("arms") or {}
    head = results.get("headline") or {}
    text = " ".join((report / "report.md").read_text().split())
    for h in [head, *head.get("others", [])] if head else []:
        measured = arms.get(h["classifier"])
        if measured and measured != h["best_non_gan_arm"]:
            assert (f"For {h['classifier']} it measured {measured}, the search's winner, not {h['best_non_gan_arm']}"
                    in text), h["classifier"]


def test_the_holm_interval_matches_the_holm_verdict_on_random_families():
    rng = np.random.default_rng(0)
    for _ in range(300):
        family = [paired_difference(rng.normal(rng.normal(0, 0.02), 0.01, 5), np.zeros(5), test_var=1e-5)
                  for _ in range(4)]
        for d, p_holm in zip(family, holm([d["p"] for d in family])):
            lo, hi = holm_interval(d["mean"], d["low"], d["high"], d["p"], p_holm, d["df"])
            assert (lo > 0 or hi < 0) == (p_holm < 0.05)
            assert lo <= d["low"] + 1e-12 and hi >= d["high"] - 1e-12  # never narrower than the unadjusted one


def test_the_fresh_every_epoch_arm_gives_a_flagged_class_no_gan_samples(tiny_model, digits_splits):
    """One copy guard for every GAN arm: the online arm's factory leaves out the classes the guard flags."""
    from augmentor.config.recipe import EvaluateConfig
    from augmentor.pipeline import online_factory
    from augmentor.registry import load_dataset, open_generator

    train = load_dataset(digits_splits[0])
    counts = train.counts()
    target = {c: max(counts.values()) for c in train.classes}
    make = online_factory([open_generator(tiny_model[1])], train, target, EvaluateConfig(), 3)
    free, guarded = make(0), make(0, exclude=(train.classes[1],))
    assert free.per_class[train.classes[1]] > 0  # class 1 is thinned: the plain arm fills it
    assert train.classes[1] not in guarded.per_class
    assert {c: n for c, n in free.per_class.items() if c != train.classes[1]} == guarded.per_class


@pytest.mark.parametrize("report", REPORTS, ids=lambda p: p.name)
def test_no_class_a_memorisation_table_flags_gets_gan_samples(report):
    """Per arm and class: a class flagged by any memorisation table, or by the guard, has the counts of the arm the
    GAN samples were added to (the search's winner; a teacher arm keeps none of its samples; synthetic-only has
    none); the guard line and the tables agree."""
    results = json.loads((report / "results.json").read_text())
    tables = results.get("memorisation") or {}
    guard = results.get("teacher_guard") or {}
    flagged = {c for per in tables.values() for c, v in per.items() if v.get("flagged")}
    if tables:  # the guard's decision is the union of the tables it shows (plus the teacher pool's draw)
        assert flagged <= set(guard.get("flagged", [])), (flagged, guard.get("flagged"))
    flagged |= set(guard.get("flagged", []))
    classes = results["classes"]
    for learner, res in results["classifiers"].items():
        arms, winner = res["arms"], res["search"]["chosen"]
        base = {run["seed"]: run["train_counts"] for run in arms[winner]["runs"]}
        for name, arm in arms.items():
            if not arm["uses_gan"]:
                continue
            for run in arm["runs"]:
                for c in flagged:
                    i = classes.index(c)
                    if name == "synthetic-only":
                        assert run["train_counts"][i] == 0, (learner, name, c)
                    elif arm.get("teacher_selection") or arm.get("self_training_selection"):
                        kept = (arm.get("teacher_selection") or {}).get(str(run["seed"]), {}).get("kept")
                        assert kept is None or kept[i] == 0, (learner, name, c)
                    elif run["seed"] in base:
                        assert run["train_counts"][i] == base[run["seed"]][i], (learner, name, run["seed"], c)
