"""The user's own learner: a scikit-learn-compatible class by import path through `augmentor run`, end to
end; bad learner specs are one line, exit 2, before any training."""

from __future__ import annotations

import json

import numpy as np
import pytest
from click.testing import CliRunner
from sklearn.base import BaseEstimator, ClassifierMixin

from augmentor.cli import cli
from augmentor.core.errors import RecipeError
from augmentor.evaluation.learner_spec import parse

from .test_tables import mixed_frame

pytestmark = pytest.mark.xdist_group("tables")


class Centroids(ClassifierMixin, BaseEstimator):
    """A user's classifier: nearest class centroid, softmax over negative distances; takes sample weights."""

    def __init__(self, temperature: float = 1.0, random_state: int | None = None) -> None:
        self.temperature, self.random_state = temperature, random_state

    def fit(self, x, y, sample_weight=None):
        x, y = np.asarray(x, float), np.asarray(y)
        w = np.ones(len(y)) if sample_weight is None else np.asarray(sample_weight, float)
        self.classes_ = np.unique(y)
        self.centres_ = np.stack([np.average(x[y == c], axis=0, weights=w[y == c]) for c in self.classes_])
        return self

    def predict_proba(self, x):
        d = ((np.asarray(x, float)[:, None, :] - self.centres_[None]) ** 2).sum(-1)
        z = np.exp(-(d - d.min(1, keepdims=True)) / self.temperature)
        return z / z.sum(1, keepdims=True)

    def predict(self, x):
        return self.classes_[self.predict_proba(x).argmax(1)]


class NoProba(BaseEstimator):
    def fit(self, x, y):
        return self

    def predict(self, x):
        return np.zeros(len(x), int)


class NoWeights(Centroids):
    def fit(self, x, y):  # no sample_weight: the re-weighting arms cannot use it
        return super().fit(x, y)


def broken(**kwargs):
    raise ValueError("the user's factory failed")


def _recipe(tmp_path, learners: str) -> str:
    path = tmp_path / "mixed.csv"
    mixed_frame(160).to_csv(path, index=False)
    recipe = tmp_path / "mixed.toml"
    recipe.write_text(f"""
name = "mixed"
[data]
train = "{path}"
label = "target"
[model]
z_dim = 8
g_channels = 32
d_channels = 32
[train]
epochs = 2
batch_size = 32
[evaluate]
seeds = 2
confirm_seeds = 3
learners = {learners}
""")
    return str(recipe)


def test_a_users_estimator_by_import_path_through_augmentor_run(tmp_path):
    recipe = _recipe(tmp_path, '["logreg", "tests.test_learners:Centroids(temperature=2.0)"]')
    r = CliRunner().invoke(cli, ["run", recipe, "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"),
                                 "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    name = "tests.test_learners:Centroids(temperature=2.0)"
    assert list(results["classifiers"]) == ["logreg", name]
    assert results["protocol"]["learners"][name] == "by import path, arguments {'temperature': 2.0}"
    mine = results["classifiers"][name]
    # the table grid, searched for it as for the built-ins (its loss fix: balanced sample weights)
    assert set(mine["search"]["stages"][0]["balanced_accuracy"]) == {"real", "real+oversampled", "real+SMOTE",
                                                                     "real+reweighted"}
    assert results["headline"]["others"][0]["classifier"] == name  # it answers in the confirmatory family
    runs = mine["arms"]["real"]["runs"]
    assert runs[0]["test"] == runs[1]["test"]  # deterministic: the same predictions every seed


@pytest.mark.parametrize("spec, words", [
    ("nosuchmodule:Thing", "cannot import nosuchmodule"),
    ("sklearn.ensemble:NoSuchForest", "has no public 'NoSuchForest'"),
    ("tests.test_learners:broken", "is a function, not a class"),
    ("tests.test_learners:NoProba", "has no predict_proba()"),
    ("tests.test_learners:NoWeights", "takes no sample_weight"),
    ("tests.test_learners:Centroids(1, 2)", "key=literal pairs"),
    ("tests.test_learners:Centroids(t=__import__('os'))", "key=literal pairs"),
])
def test_a_bad_learner_is_one_line_before_any_training(tmp_path, spec, words):
    recipe = _recipe(tmp_path, json.dumps([spec]))
    r = CliRunner().invoke(cli, ["run", recipe, "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"),
                                 "-q"])
    assert r.exit_code == 2 and words in r.output and spec.split("(")[0] in r.output, r.output
    assert len(r.output.strip().splitlines()) == 1
    assert not (tmp_path / "run" / "checkpoints").exists()  # refused before the GAN trained


def test_parse_reads_literals_only():
    assert parse("a.b:C(x=1, y='z', w=[1, 2])") == ("a.b", "C", {"x": 1, "y": "z", "w": [1, 2]})
    with pytest.raises(RecipeError):
        parse("a.b:C(x=open('f'))")
    with pytest.raises(RecipeError):
        parse("just-a-name")


def tiny_net(channels: int, n_classes: int, size: int, width: int = 8):
    """A user's network factory: (channels, n_classes, size) -> nn.Module producing logits."""
    from torch import nn

    return nn.Sequential(nn.Conv2d(channels, width, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(width, n_classes))


def wrong_width(channels: int, n_classes: int, size: int):
    return tiny_net(channels, n_classes + 1, size)


IMAGE_RECIPE = """
name = "tiny-net"
[data]
train = "builtin:digits"
test_fraction = 0.5
[data.imbalance]
profile = "step"
classes = ["0", "1"]
keep = 0.2
[model]
z_dim = 8
g_channels = 32
d_channels = 16
[train]
epochs = 1
batch_size = 128
[evaluate]
seeds = 2
confirm_seeds = 3
epochs = 1
batch_size = 128
doses = []
online = false
rebalancing = ["oversample", "logit-adjust"]
classic = ["affine"]
mixup = []
learners = LEARNERS
"""


@pytest.mark.slow
def test_a_users_network_factory_through_augmentor_run(tmp_path):
    recipe = tmp_path / "net.toml"
    recipe.write_text(IMAGE_RECIPE.replace("LEARNERS", '["tests.test_learners:tiny_net(width=4)"]'))
    r = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"),
                                 "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "rep" / "results.json").read_text())
    name = "tests.test_learners:tiny_net(width=4)"
    assert list(results["classifiers"]) == [name] and results["headline"]["classifier"] == name
    arms = results["classifiers"][name]["arms"]
    w = results["classifiers"][name]["search"]["chosen"]
    assert {"real", w} <= set(arms) and any(n.startswith("real+synthetic (teacher)") for n in arms)
    assert results["protocol"]["learners"] == {name: name}


def test_image_networks_are_checked_before_training(tmp_path):
    from augmentor.image.networks import check_network

    check_network("resnet18", (1, 8, 8), 10)  # the small-image stem: an 8x8 image is not pooled away
    check_network("tests.test_learners:tiny_net", (3, 16, 16), 4)
    recipe = tmp_path / "net.toml"
    recipe.write_text(IMAGE_RECIPE.replace("LEARNERS", '["tests.test_learners:wrong_width"]'))
    r = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep"),
                                 "-q"])
    assert r.exit_code == 2 and "not (2, 10) logits" in r.output and "wrong_width" in r.output, r.output
    assert not (tmp_path / "run" / "checkpoints").exists()


def two_conv(channels: int, n_classes: int, size: int):
    from torch import nn

    return nn.Sequential(nn.Conv2d(channels, 16, 3, padding=1), nn.ReLU(), nn.Conv2d(16, 16, 3, padding=1), nn.ReLU(),
                         nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(16, n_classes))


class NotWeights:  # pickled by torch.save as an object: torch.load(weights_only=True) refuses to rebuild it
    def __init__(self) -> None:
        self.payload = "code"


def test_a_network_fine_tuned_from_a_weights_file_loads_what_fits_and_refuses_the_rest(tmp_path):
    """`weights='path'`: every tensor whose name and shape fit is loaded (a new head for other classes starts
    fresh); a file from another architecture, a pickled object and a missing file are one line naming the
    learner or file, exit 2, before any training."""
    import torch
    from safetensors.torch import save_file

    from augmentor.image.networks import check_network, network_factory

    donor = two_conv(1, 3, 8)  # trained elsewhere for 3 classes
    save_file(donor.state_dict(), str(tmp_path / "w.safetensors"))
    torch.save(donor.state_dict(), tmp_path / "w.pt")
    for file in ("w.safetensors", "w.pt"):
        spec = f"tests.test_learners:two_conv(weights='{tmp_path / file}')"
        net = network_factory(spec)((1, 8, 8), 10)  # 10 classes here: the head is new, the convolutions loaded
        assert torch.equal(net[2].weight, donor[2].weight) and net[6].weight.shape == (10, 16)
        check_network(spec, (1, 8, 8), 10)
    fresh = network_factory("tests.test_learners:two_conv")((1, 8, 8), 10)
    assert not torch.equal(fresh[2].weight, donor[2].weight)
    torch.save(NotWeights(), tmp_path / "code.pt")
    bad = {f"resnet18(weights='{tmp_path / 'w.safetensors'}')": "fits 0% of the network's weights",
           f"resnet18(weights='{tmp_path / 'code.pt'}')": "holds pickled code",
           f"resnet18(weights='{tmp_path / 'missing.pt'}')": "does not exist",
           "resnet18(width=3)": "takes only weights='path'"}
    for spec, words in bad.items():
        recipe = tmp_path / "net.toml"
        recipe.write_text(IMAGE_RECIPE.replace("LEARNERS", json.dumps([spec])))
        r = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run"), "--report",
                                     str(tmp_path / "rep"), "-q"])
        assert r.exit_code == 2 and words in r.output and len(r.output.strip().splitlines()) == 1, r.output
        assert not (tmp_path / "run" / "checkpoints").exists()


def test_a_time_series_classifier_by_import_path():
    """sktime-style classifiers by import path: fitted on (series, channels, length); classic augmentation adds
    copies; without class weights its loss-fix cells are the same fit as the cells without them."""
    pytest.importorskip("sktime")
    from augmentor.evaluation.arms import cell_arm
    from augmentor.evaluation.engine import evaluate
    from augmentor.signal.data import SignalData
    from augmentor.signal.learners import ImportedLearner

    rng = np.random.default_rng(0)
    y = np.repeat(np.arange(3), [20, 8, 4])
    x = (rng.normal(size=(len(y), 1, 24)) + y[:, None, None]).astype(np.float32)
    data = SignalData(x, y, ("a", "b", "c"))
    learner = ImportedLearner("sktime.classification.dummy:DummyClassifier(strategy='prior')")
    grid = [cell_arm(data, np.full(3, 20), r, c) for r in ("none", "oversample", "logit-adjust")
            for c in ("", "jitter")]
    out = evaluate(data, data, data, grid, [learner], seeds=1, progress=False, fold_below=0)
    res = out["classifiers"]["sktime.classification.dummy:DummyClassifier(strategy='prior')"]
    assert res["search"]["same_fit"] == {"real": ["real+logit-adjusted"],
                                         "real+classic (jitter)": ["real+classic (jitter)+logit-adjusted"]}
    # a loss-fix cell with no plain twin in the grid is named as the fit it is (ROCKET's "logit-adjusted +
    # mixup" was plain mixup under another name)
    grid = [cell_arm(data, np.full(3, 20))] + [cell_arm(data, np.full(3, 20), r, "", m)
                                               for r in ("oversample", "logit-adjust") for m in (0.0, 0.4)]
    out = evaluate(data, data, data, grid, [learner], seeds=1, progress=False, fold_below=0)
    res = out["classifiers"]["sktime.classification.dummy:DummyClassifier(strategy='prior')"]
    assert set(res["search"]["stages"][0]["balanced_accuracy"]) == {"real", "real+oversampled",
                                                                     "real+oversampled+mixup 0.4", "real+mixup 0.4"}
    assert res["search"]["same_fit"]["real+mixup 0.4"] == ["real+logit-adjusted+mixup 0.4"]
    with pytest.raises(RecipeError, match="cannot import"):
        ImportedLearner("sktime.no_such_module:Thing")


class FlatCentroids:
    """A user's own learner object (not scikit-learn): the protocol fit(x, y, sample_weight=None) and
    predict_proba(x), on the image arrays as they are."""

    def __init__(self) -> None:
        self.fits = 0

    def fit(self, x, y, sample_weight=None):
        self.fits += 1
        self.inner = Centroids(temperature=0.5).fit(np.asarray(x).reshape(len(x), -1), y, sample_weight)
        return self

    def predict_proba(self, x):
        return self.inner.predict_proba(np.asarray(x).reshape(len(x), -1))


def test_a_learner_object_in_python_through_run_recipe(tmp_path):
    """run_recipe(recipe, learners=[obj]): the object is judged in place of the defaults, fitted as a fresh copy
    per arm and seed (the object handed over is never fitted), with the grid, its teacher arm and a Use-it
    snippet; an object without predict_proba is one line before any training."""
    from augmentor.config.recipe import load_recipe
    from augmentor.core.errors import RecipeError
    from augmentor.pipeline import run_recipe

    recipe_file = tmp_path / "net.toml"
    recipe_file.write_text(IMAGE_RECIPE.replace("learners = LEARNERS", "").replace(
        'name = "tiny-net"\n', f'name = "obj"\nout = "{tmp_path}/run"\nreport = "{tmp_path}/rep"\n'))
    mine = FlatCentroids()
    report = run_recipe(load_recipe(recipe_file), learners=[mine], progress=False)
    assert mine.fits == 0
    results = json.loads((report.parent / "results.json").read_text())
    assert list(results["classifiers"]) == ["FlatCentroids"]
    assert "takes sample_weight" in results["protocol"]["learners"]["FlatCentroids"]
    res = results["classifiers"]["FlatCentroids"]
    assert set(res["search"]["stages"][0]["balanced_accuracy"]) == {  # the grid, searched for it as for any
        "real", "real+oversampled", "real+classic (affine)+oversampled", "real+logit-adjusted",  # learner
        "real+classic (affine)+logit-adjusted"}
    assert any(n.startswith("real+synthetic (teacher)") for n in res["arms"])
    assert results["headline"]["classifier"] == "FlatCentroids"
    assert "model.fit(x, y" in results["use_it"]["FlatCentroids"]
    with pytest.raises(RecipeError, match="NoProba: it has no predict_proba"):
        run_recipe(load_recipe(recipe_file), learners=[NoProba()], overwrite=True, progress=False)
