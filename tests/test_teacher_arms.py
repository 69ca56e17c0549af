"""The teacher arm in every modality (issue 39): hard-label learners (tables, MiniRocket, a user's
estimator) keep only GAN rows their teacher assigns to the conditioning class; network learners (the
1-D CNN as the image CNN) take soft targets; a class whose pool draw the memorisation check flags as
copies gets none, and the report says why."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from augmentor.config.recipe import EvaluateConfig
from augmentor.evaluation.arms import Arm, TeacherPlan, class_scores, teacher_choice, teacher_on_top_of
from augmentor.evaluation.stage import run_evaluation
from augmentor.signal.data import SignalData
from augmentor.table.data import TableData


def _plan_arm(want, hard=True) -> Arm:
    plan = TeacherPlan(pool=None, want=np.asarray(want), temperature=0.0)
    best = Arm("real", "real training split as given", lambda s: None, "reference")
    return teacher_on_top_of(best, plan, hard=hard)


def test_hard_teacher_keeps_only_agreed_samples_top_k_by_score():
    labels = np.array([0, 0, 0, 1, 1, 2, 2])
    scores = np.array([[0.9, 0.1, 0], [0.6, 0.4, 0], [0.2, 0.8, 0],  # class 0: two agreed, one the teacher calls 1
                       [0.1, 0.9, 0], [0.1, 0.7, 0.2],                # class 1: both agreed
                       [0.8, 0.1, 0.1], [0.5, 0.2, 0.3]])            # class 2: the teacher calls both 0
    arm = _plan_arm([3, 1, 2])
    keep = teacher_choice(arm, 0, scores, labels, 3, hard=True)
    assert keep.tolist() == [0, 1, 3]  # class 0: the two it agrees with; class 1: the higher; class 2: none
    rec = arm.extra["teacher_selection"][0]
    assert rec["kept"] == [2, 1, 0] and rec["wanted"] == [3, 1, 2] and rec["teacher_agrees_kept"] == rec["kept"]
    soft = _plan_arm([3, 1, 2], hard=False)
    assert teacher_choice(soft, 0, scores, labels, 3).tolist() == [0, 1, 2, 3, 5, 6]  # soft: top-k regardless
    assert "only those it assigns to their conditioning class" in arm.description


def test_class_scores_place_an_estimators_columns_and_a_binary_decision_function():
    np.testing.assert_allclose(class_scores(np.array([0.5, -1.0]), 2), [[-0.5, 0.5], [1.0, -1.0]])
    out = class_scores(np.array([[0.3, 0.7]]), 3, classes=np.array([0, 2]))
    assert out[0, 0] == 0.3 and out[0, 2] == 0.7 and out[0, 1] == -np.inf


def _table(n_per: tuple[int, ...], seed: int) -> TableData:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per)), n_per)
    x = pd.DataFrame({"a": rng.normal(size=len(y)) + 3 * y, "b": rng.normal(size=len(y)) - 2 * y})
    return TableData(x, y, ("p", "q", "r"), "test")


@pytest.mark.filterwarnings("ignore::UserWarning")
def test_table_learners_fit_a_hard_teacher_arm_and_the_report_names_its_kept_rows(tmp_path):
    train, validation, test = _table((60, 20, 6), 0), _table((15, 15, 15), 1), _table((30, 30, 30), 2)

    def pool(seed: int) -> TableData:  # a "generator": class-conditional rows, class 2's drawn like class 0
        d = _table((0, 84, 102), 10 + seed)
        x = d.x.copy()
        x.loc[d.y == 2, ["a", "b"]] = _table((102, 0, 0), 20 + seed).x[["a", "b"]].to_numpy()
        return TableData(x, d.y, d.classes, "pool")

    def gap(seed: int) -> TableData:
        return _table((0, 40, 54), 30 + seed)

    ev = EvaluateConfig(seeds=2, confirm_seeds=2, rebalancing=("reweight",), classifiers=("logreg",), doses=(),
                        filter_threshold=0.0, online=False, fold_below=0, teacher_weight=(0.5, 1.0),
                        teacher_join=(0.5, 0.75))
    typed = run_evaluation(train, validation, test, ev, synthetic=gap, teacher_pool=pool, progress=False)
    results = typed.to_dict()  # results.json's shape
    arms = results["classifiers"]["logreg"]["arms"]
    # weight and join candidates: one arm per weight; logreg fits in one call, so the joins are one fit
    names = sorted(n for n in arms if n.startswith("real+synthetic (teacher"))
    assert names == ["real+synthetic (teacher, weight 0.5)+reweighted", "real+synthetic (teacher, weight 1)+reweighted"]
    assert "sample weight 0.5" in arms[names[0]]["description"] and "sample weight 1" in arms[names[1]]["description"]
    teacher = arms[names[0]]
    assert teacher["teacher_hard"] is True and teacher["seeds"] >= 2
    for seed, sel in teacher["teacher_selection"].items():
        assert sel["teacher_agrees_kept"] == sel["kept"]  # hard: every kept row is one its teacher agrees with
        assert sel["kept"][2] == 0  # class 2's draw looks like class 0: the teacher keeps none of it
        assert 0 < sel["kept"][1] <= sel["wanted"][1]
        real = np.bincount(train.y, minlength=3)
        assert teacher["runs"][int(seed)]["train_counts"] == (real + np.asarray(sel["kept"])).tolist()
    assert results["teacher_guard"]["checked"] is False  # tables: no memorisation check, said so

    from augmentor.report.render import write_report

    md = write_report(tmp_path / "r", typed, title="t").read_text()
    assert "## Teacher selection: logreg" in md and "the teacher assigns none of the draw to it" in md
    assert "No copy guard: no memorisation check for tables" in md


def _signals(n_per: tuple[int, ...], seed: int) -> SignalData:
    rng = np.random.default_rng(seed)
    y = np.repeat(np.arange(len(n_per)), n_per)
    t = np.linspace(0, 1, 32)
    x = np.stack([np.sin(2 * np.pi * (2 + 3 * c) * t + rng.uniform(0, 6)) for c in y])[:, None, :]
    return SignalData((x + 0.3 * rng.normal(size=x.shape)).astype(np.float32), y, ("s", "m", "f"), "test")


def _copying(train: SignalData, label: int, counts: tuple, base: int):
    """Draws (seed -> SignalData) of `counts` series per class whose class `label` copies its training series."""
    def draw(seed: int) -> SignalData:
        d = _signals(counts, base + seed)
        x = d.x.copy()
        x[d.y == label] = np.resize(train.x[train.y == label], x[d.y == label].shape)
        return SignalData(x, d.y, d.classes, "copies")
    return draw


def test_signal_teacher_arms_and_the_copy_guard(tmp_path):
    """The 1-D CNN fits the soft teacher arm; a class whose pool draw copies its training series is
    flagged by the memorisation check and gets no teacher-arm samples."""
    train, validation, test = _signals((30, 10, 5), 0), _signals((8, 8, 8), 1), _signals((10, 10, 10), 2)

    pool = _copying(train, 2, (0, 60, 75), 40)  # class 2: copies of its training series
    ev = EvaluateConfig(seeds=1, confirm_seeds=2, epochs=2, rebalancing=("oversample",), classic=(), mixup=(),
                        doses=(), filter_threshold=0.0, online=False, fold_below=0, learners=("cnn1d",))
    typed = run_evaluation(train, validation, test, ev, synthetic=lambda s: _signals((0, 20, 25), 50 + s),
                           teacher_pool=pool, progress=False)
    results = typed.to_dict()
    assert results["teacher_guard"]["flagged"] == ["f"]
    arms = results["classifiers"]["SmallCNN1d"]["arms"]
    teacher = arms[next(n for n in arms if n.startswith("real+synthetic (teacher)"))]
    for sel in teacher["teacher_selection"].values():
        assert sel["wanted"][2] == 0 and sel["kept"][2] == 0 and sel["kept"][1] > 0
    from augmentor.report.render import write_report

    md = write_report(tmp_path / "r", typed, title="t").read_text()
    assert "flagged as copies" in md and "get no GAN samples in any arm: f (flagged per draw — teacher pool: f;" in md
    gap = arms[next(n for n in arms if n.split("+")[:2] == ["real", "synthetic"])]  # guarded too: gap-filling
    assert "none for f, whose GAN draw the memorisation check flags as copies" in gap["description"]


POOL_RECIPE = """
name = "pool"
[data]
train = "builtin:digits"
test_fraction = 0.5
unlabelled = "POOL"
[data.imbalance]
profile = "step"
classes = ["0", "1"]
keep = 0.2
[model]
z_dim = 8
g_channels = 32
d_channels = 16
[train]
epochs = 2
batch_size = 128
unlabelled_weight = 1.0
[evaluate]
seeds = 2
confirm_seeds = 3
epochs = 2
batch_size = 128
doses = []
online = false
filter_threshold = 0.0
rebalancing = ["oversample"]
classic = []
mixup = []
fold_below = 0
teacher_temperature = 0
exclude = ["synthetic-only"]
"""


def test_an_unlabelled_pool_trains_the_gan_and_gives_self_training_arms(tmp_path):
    """data.unlabelled: the GAN's D sees the pool (unconditional term; recorded in the checkpoint state), the
    self-training arms label it with the winner's model and compete for the best arm without a GAN, and the
    GAN teacher arms sit on top of the chosen one; a pool holding a test image is refused."""
    import json

    from click.testing import CliRunner
    from sklearn.datasets import load_digits

    from augmentor.cli import cli
    from augmentor.gan.checkpoint import latest_checkpoint, load_checkpoint

    x = (load_digits().images / 16.0).astype(np.float32)
    pool = np.roll(x, 1, axis=2)[:, None]  # every digit shifted one pixel: like the data, never a test image
    np.savez(tmp_path / "pool.npz", x=pool)
    recipe = tmp_path / "pool.toml"
    recipe.write_text(POOL_RECIPE.replace("POOL", str(tmp_path / "pool.npz")))
    r = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"),
                                 "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    state = load_checkpoint(latest_checkpoint(tmp_path / "run"), tensors=False)[1]
    assert state["unlabelled"]["n"] == len(pool)
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert results["protocol"]["unlabelled"]["n"] == len(pool)
    res = results["classifiers"]["SmallCNN"]
    st = res["search"]["self_training"]
    assert st["arms"] == [n for n in res["arms"] if n.startswith("real+self-training")] and len(st["arms"]) == 1
    arm = res["arms"][st["arms"][0]]
    assert not arm["uses_gan"] and arm["kind"] == "self-training"
    for seed, sel in arm["self_training_selection"].items():
        assert sel["kept"] == np.minimum(sel["wanted"], sel["drawn"]).tolist()  # top-k of what it labels so
        assert arm["runs"][int(seed)]["n_train"] == res["arms"][res["search"]["chosen"]]["runs"][int(seed)][
            "n_train"] + sum(sel["kept"])
    chosen = max([res["search"]["chosen"], *st["arms"]], key=lambda n: st["validation"][n])
    assert st["chosen"] == chosen and results["headline"]["best_non_gan_arm"] == chosen
    if chosen != res["search"]["chosen"]:  # GAN arms on top of self-training
        assert any(n.startswith("real+self-training+synthetic (teacher)") for n in res["arms"])
    md = (tmp_path / "rep" / "report.md").read_text()
    assert "## Self-training selection: SmallCNN" in md

    test = np.load(tmp_path / "run" / "data" / "test.npz")["x"]
    np.savez(tmp_path / "leak.npz", x=np.concatenate([pool[:50], test[:1]]))
    recipe.write_text(POOL_RECIPE.replace("POOL", str(tmp_path / "leak.npz")))
    r = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run2"), "--report",
                                 str(tmp_path / "rep2"), "-q"])
    assert r.exit_code != 0 and "holds 1 sample(s) of the test split" in r.output, r.output


def test_weight_and_join_candidates_make_one_arm_per_distinct_fit():
    """A network fits every weight x join candidate; a one-call learner has no join step, and one without
    sample weights no weight: their duplicate plans are dropped, and so are the tags that would not apply."""
    from augmentor.evaluation.teaching import distinct_fits, teacher_settings

    ev = EvaluateConfig(teacher_weight=(0.5, 1.0), teacher_join=(0.5, 0.75))
    settings = teacher_settings(ev)
    assert [t for _, _, t in settings] == [", weight 0.5, join 0.5", ", weight 0.5, join 0.75",
                                           ", weight 1, join 0.5", ", weight 1, join 0.75"]
    plans = [TeacherPlan(None, np.ones(2, int), weight=w, join_at=j, tag=t) for w, j, t in settings]
    best = Arm("real+DRW", "DRW", lambda s: None, "loss", loss="drw")
    names = [teacher_on_top_of(best, p).name for p in distinct_fits(plans, hard=False, weighted=True)]
    assert names == [f"real+synthetic (teacher{t})+DRW" for _, _, t in settings]
    hard = distinct_fits(plans, hard=True, weighted=True)
    assert [(p.weight, p.tag) for p in hard] == [(0.5, ", weight 0.5"), (1.0, ", weight 1")]
    assert [p.tag for p in distinct_fits(plans, hard=True, weighted=False)] == [""]
    assert teacher_settings(EvaluateConfig()) == [(0.5, 0.75, "")]  # one candidate each: the names as before


def test_the_answer_names_self_training_when_it_is_the_best_arm_without_a_gan():
    from augmentor.report.answer import _which

    assert _which("real+self-training+DRW", "the") == ("self-training on the unlabelled pool, which beat the "
                                                        "search's winner on validation")
    assert _which("real+DRW", "its") == "its search's winner"


def test_one_copy_guard_decision_from_every_memorisation_check():
    """A class whose gap-filling draw copies its training series — its teacher pool does not — is flagged once for
    every arm: no teacher-arm samples, none in the gap-filling arm, none in synthetic-only."""
    train, validation, test = _signals((30, 10, 5), 0), _signals((8, 8, 8), 1), _signals((10, 10, 10), 2)

    gap = _copying(train, 1, (0, 20, 25), 50)  # class 1: copies of its training series
    ev = EvaluateConfig(seeds=1, confirm_seeds=0, epochs=1, rebalancing=("oversample",), classic=(), mixup=(),
                        doses=(), filter_threshold=0.0, online=False, fold_below=0, learners=("cnn1d",))
    results = run_evaluation(train, validation, test, ev, synthetic=gap, synthetic_only=gap,
                             teacher_pool=lambda s: _signals((0, 60, 75), 40 + s), progress=False).to_dict()
    guard = results["teacher_guard"]
    assert "m" in guard["flagged"] and "m" not in guard["sets"]["teacher pool"]  # flagged by the gap draw alone
    assert "m" in guard["sets"]["synthetic (gap-filling)"]
    assert set(guard["flagged"]) == {c for flagged in guard["sets"].values() for c in flagged}
    memorisation = results["memorisation"]  # the tables the report shows agree with the guard
    assert {c for per in memorisation.values() for c, v in per.items() if v["flagged"]} == set(guard["flagged"])
    arms = results["classifiers"]["SmallCNN1d"]["arms"]
    real = arms["real"]["runs"][0]["train_counts"][1]
    for name, arm in arms.items():
        if arm["uses_gan"] and name != "synthetic-only":  # real + GAN arms: class m keeps its real count
            assert all(run["train_counts"][1] == real or (arm["rebalance"] == "oversample" and
                                                         run["train_counts"][1] >= real) for run in arm["runs"]), name
            assert "none for m" in arm["description"] or name.startswith("real+synthetic (teacher)"), name
        if name.startswith("real+synthetic (teacher)"):
            assert all(sel["wanted"][1] == 0 for sel in arm["teacher_selection"].values())
    assert all(run["train_counts"][1] == 0 for run in arms["synthetic-only"]["runs"])
