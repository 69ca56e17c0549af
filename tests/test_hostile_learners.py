"""Hostile and careless inputs on the learner, weights, pool and init paths (issue 45): a learner spec names a
class, never a call; every learner is checked before the GAN trains; inputs and outputs never overlap; a pool
is compared with test and validation by content; each case is one line, exit 2, nothing run or lost."""

from __future__ import annotations

import hashlib
import io
import json
import time

import numpy as np
import pytest
from click.testing import CliRunner
from PIL import Image
from sklearn.base import BaseEstimator, ClassifierMixin

from augmentor.cli import cli
from augmentor.core.errors import InvalidDataError, RecipeError
from augmentor.evaluation.learner_spec import parse, resolve, resolve_factory

from .conftest import make_image_folder
from .test_tables import mixed_frame

pytestmark = pytest.mark.xdist_group("tables")

TABLE_RECIPE = """
name = "hostile"
[data]
train = "{data}"
label = "target"
[model]
z_dim = 8
g_channels = 16
d_channels = 16
[train]
epochs = 1
batch_size = 32
[evaluate]
seeds = 2
learners = {learners}
"""


def _table(tmp_path, learners) -> str:
    path = tmp_path / "mixed.csv"
    mixed_frame(120).to_csv(path, index=False)
    recipe = tmp_path / "hostile.toml"
    recipe.write_text(TABLE_RECIPE.format(data=path, learners=json.dumps(learners)))
    return str(recipe)


def _run(args: list[str]):
    return CliRunner().invoke(cli, [*args, "-q"])


def _one_line(r, *words: str) -> None:
    assert r.exit_code == 2, r.output
    assert len(r.output.strip().splitlines()) == 1 and len(r.output) < 600, r.output
    assert "Traceback" not in r.output
    for w in words:
        assert w in r.output, r.output


# 1. a learner spec names a class, never a call ----------------------------------------------------------------

@pytest.mark.parametrize("spec, words", [
    ("os:system(command='touch PWNED')", "on the system"),
    ("subprocess:run(args=['touch', 'PWNED'])", "on the system"),
    ("subprocess:Popen(args='touch PWNED', shell=True)", "on the system"),
    ("builtins:exec(source='open(\"PWNED\", \"w\")')", "on the system"),
    ("pathlib:Path(PWNED='x')", "on the system"),
    ("sklearn.utils:check_array(array=[[1]])", "is a function, not a class"),
    ("sklearn:ensemble", "is a module, not a class"),
    ("sklearn.ensemble:_forest", "has no public"),
    ("sklearn.preprocessing:StandardScaler", "has no predict_proba()"),
])
def test_a_learner_spec_that_names_a_call_runs_nothing(tmp_path, monkeypatch, spec, words):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "some").mkdir()
    (tmp_path / "some" / "keep.txt").write_text("mine")
    r = _run(["run", _table(tmp_path, [spec]), "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep")])
    _one_line(r, words)
    assert not (tmp_path / "PWNED").exists() and (tmp_path / "some" / "keep.txt").read_text() == "mine"
    assert not (tmp_path / "run" / "data").exists()  # a refused run leaves no split files behind


def test_the_cli_learner_option_on_builtin_data_runs_nothing(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "some").mkdir()
    for spec in ("os:system(command='touch PWNED')", "shutil:rmtree(path='some')"):
        r = _run(["run", "builtin:wine", "--learner", spec, "--out", "r", "--report", "rep"])
        _one_line(r, "on the system")
    assert not (tmp_path / "PWNED").exists() and (tmp_path / "some").is_dir()


def test_signal_and_image_specs_refuse_calls_too():
    with pytest.raises(RecipeError, match="on the system"):
        resolve("os:system(command='x')", ("fit", "predict"))
    with pytest.raises(RecipeError, match="on the system"):
        resolve_factory("shutil:rmtree(path='x')")
    with pytest.raises(RecipeError, match=r"\(channels, n_classes, size\)"):
        resolve_factory("sklearn.utils:check_array")  # a library function is not a documented network factory
    assert resolve_factory("tests.test_learners:tiny_net(width=4)")[1] == {"width": 4}


@pytest.mark.parametrize("spec", ["a.b:C(x=" + "-" * 200_000 + "1)", "a.b:C(x=" + "+".join(["1"] * 100_000) + ")",
                                  "a.b:C(x=" + "[" * 50 + "]" * 50 + ")", "x" * 100_000 + ":C"])
def test_huge_and_deep_specs_are_one_short_line(spec):
    with pytest.raises(RecipeError) as e:
        parse(spec)
    assert len(str(e.value)) < 400


def test_a_huge_spec_in_a_recipe_is_one_short_line(tmp_path):
    r = _run(["run", _table(tmp_path, ["a.b:C(x=" + "-" * 200_000 + "1)"]), "--out", str(tmp_path / "run"),
              "--report", str(tmp_path / "rep")])
    _one_line(r, "1000 characters")


# 2. every check before any work -------------------------------------------------------------------------------

def test_a_bad_argument_fails_in_seconds_before_any_gan_step(tmp_path):
    spec = "sklearn.ensemble:RandomForestClassifier(n_estimators='x')"
    start = time.perf_counter()
    r = _run(["run", _table(tmp_path, [spec]), "--out", str(tmp_path / "run"), "--report", str(tmp_path / "rep")])
    took = time.perf_counter() - start
    _one_line(r, "RandomForestClassifier", "n_estimators")
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "run" / "data").exists()
    print(f"refused in {took:.1f} s")  # issue 45 asks under 30 s on 2 cores; recorded, not asserted


class Proba(ClassifierMixin, BaseEstimator):
    """A learner object whose predict_proba is broken in a chosen way."""

    def __init__(self, mode: str = "ok") -> None:
        self.mode = mode

    def fit(self, x, y, sample_weight=None):
        if self.mode == "raises":
            raise RuntimeError("the user's fit failed")
        self.classes_ = np.unique(y)
        return self

    def predict_proba(self, x):
        n, k = len(x), len(self.classes_)
        return {"ok": np.full((n, k), 1 / k), "columns": np.full((n, k + 2), 0.2), "nan": np.full((n, k), np.nan),
                "flat": np.zeros(n), "rows": np.full((n - 1, k), 1 / k)}[self.mode]


class NoCopy(Proba):
    def __deepcopy__(self, memo):
        raise TypeError("cannot copy me")

    def get_params(self, deep=True):
        raise TypeError("no params")


@pytest.mark.parametrize("obj, words", [
    (Proba("columns"), "shape"), (Proba("nan"), "non-finite"), (Proba("flat"), "shape"), (Proba("rows"), "shape"),
    (Proba("raises"), "RuntimeError: the user's fit failed"), (NoCopy(), "copying it"),
    (Proba, "a class, not an instance"), (object(), "no fit or predict_proba"),
])
def test_a_broken_learner_object_is_one_line_before_training(tmp_path, obj, words):
    from augmentor.config.recipe import recipe_from_dict
    from augmentor.pipeline import run_recipe

    path = tmp_path / "t.csv"
    mixed_frame(120).to_csv(path, index=False)
    recipe = recipe_from_dict({"name": "obj", "data": {"train": str(path), "label": "target"},
                               "model": {"z_dim": 8, "g_channels": 16, "d_channels": 16},
                               "train": {"epochs": 1, "batch_size": 32}, "evaluate": {"seeds": 2},
                               "out": str(tmp_path / "run"), "report": str(tmp_path / "rep")})
    with pytest.raises(RecipeError, match=words.replace("(", r"\(").replace(")", r"\)")):
        run_recipe(recipe, progress=False, learners=[obj])
    assert not (tmp_path / "run" / "checkpoints").exists() and not (tmp_path / "rep").exists()


def test_scores_are_checked_during_the_evaluation_too():
    """A learner that passes the trial but breaks on the full evaluation set: one line naming it."""
    from augmentor.evaluation.user_learner import ObjectLearner

    class LateNaN(Proba):
        def predict_proba(self, x):
            out = super().predict_proba(x)
            return out if len(x) < 50 else out * np.nan

    learner = ObjectLearner(LateNaN(), 3)
    x, y = np.random.default_rng(0).normal(size=(90, 4)), np.arange(90) % 3
    learner.check(x, y)  # a handful of rows: fine
    model = LateNaN().fit(x, y)
    with pytest.raises(RecipeError, match="learner 'LateNaN': predict_proba returned 270 non-finite"):
        learner.teacher_scores(model, x)


def test_a_network_without_parameters_is_refused_before_training():
    from augmentor.image.networks import check_network

    with pytest.raises(RecipeError, match="no trainable parameters"):
        check_network("tests.test_hostile_learners:no_parameters", (1, 8, 8), 3)


def no_parameters(channels: int, n_classes: int, size: int):
    from torch import nn

    class Fixed(nn.Module):
        def forward(self, x):
            return x.flatten(1)[:, :n_classes]

    return Fixed()


# 3. inputs and outputs never overlap -------------------------------------------------------------------------

def test_init_never_replaces_its_data(tmp_path):
    data = tmp_path / "mine.csv"
    mixed_frame(60).to_csv(data, index=False)
    before = hashlib.sha256(data.read_bytes()).hexdigest()
    r = _run(["init", str(data), "--out", str(data), "--overwrite", "--label-column", "target"])
    _one_line(r, "overlaps the input")
    assert hashlib.sha256(data.read_bytes()).hexdigest() == before
    (tmp_path / "folder").mkdir()
    r = _run(["init", str(data), "--out", str(tmp_path / "folder"), "--label-column", "target"])
    _one_line(r, "is a folder")


def test_an_output_inside_the_pool_is_refused(tmp_path):
    from augmentor.config.recipe import recipe_from_dict
    from augmentor.pipeline import run_recipe

    make_image_folder(tmp_path / "data", {"a": 12, "b": 12})
    pool = tmp_path / "pool"
    make_image_folder(pool, {"any": 3})
    recipe = recipe_from_dict({"name": "p", "data": {"train": str(tmp_path / "data"), "unlabelled": str(pool)},
                               "out": str(pool / "run"), "report": str(tmp_path / "rep")})
    with pytest.raises(Exception, match="overlaps the input"):
        run_recipe(recipe, progress=False)
    assert sorted(p.name for p in pool.rglob("*") if p.is_file()) == ["000.png", "001.png", "002.png"]


# 4. leaks a user would not see ---------------------------------------------------------------------------------

def _digits_split():
    from augmentor.core.data import stratified_split
    from augmentor.registry import load_dataset

    return stratified_split(load_dataset("builtin:digits"), 0.2, 0)


def test_a_jpeg_re_encoded_test_set_is_refused_as_a_pool(tmp_path):
    from augmentor.core.data import shared_samples
    from augmentor.image.data import LabelledData

    train, test = _digits_split()

    def at_28(data, n: int, jpeg: bool = False) -> LabelledData:  # digits as 28-px images, as a folder holds them
        out = []
        for img in data.x[:n, 0]:
            im = Image.fromarray((img * 255).astype(np.uint8)).resize((28, 28))
            if jpeg:
                buf = io.BytesIO()
                im.save(buf, "JPEG", quality=75)
                im = Image.open(io.BytesIO(buf.getvalue()))
            out.append(np.asarray(im, np.float32)[None] / 255)
        return LabelledData(np.stack(out), data.y[:n], data.classes)

    real, pool, others = at_28(test, 200), at_28(test, 40, jpeg=True), at_28(train, 400)
    assert not np.array_equal(pool.x, real.x[:40])  # not the same bytes
    assert shared_samples(pool, real) >= 38
    assert shared_samples(others, real) == 0  # distinct digits are not near-copies


def test_a_pool_of_validation_rows_is_refused(tmp_path):
    from augmentor.config.recipe import recipe_from_dict
    from augmentor.pipeline import load_pool
    from augmentor.table.data import load_table

    frame = mixed_frame(120)
    frame.to_csv(tmp_path / "all.csv", index=False)
    data = load_table(str(tmp_path / "all.csv"), label="target")
    train, validation = data.subset(np.arange(80)), data.subset(np.arange(80, 100))
    test = data.subset(np.arange(100, 120))
    frame.iloc[80:100].drop(columns="target").to_csv(tmp_path / "pool.csv", index=False)
    recipe = recipe_from_dict({"data": {"label": "target", "unlabelled": str(tmp_path / "pool.csv")}})
    with pytest.raises(InvalidDataError, match="20 sample.s. of the validation split"):
        load_pool(recipe, train, test, validation)


def test_weights_of_nan_and_of_a_larger_architecture_are_refused(tmp_path):
    import torch
    from safetensors.torch import save_file

    from augmentor.image.networks import check_network, network_factory, small_stem_resnet

    bad = {k: torch.full_like(v, float("nan")) if v.is_floating_point() else v
           for k, v in small_stem_resnet("resnet18", 1, 3, 8).state_dict().items()}
    save_file(bad, str(tmp_path / "nan.safetensors"))
    with pytest.raises(RecipeError, match="NaN or inf"):
        check_network(f"resnet18(weights='{tmp_path / 'nan.safetensors'}')", (1, 8, 8), 3)
    save_file(small_stem_resnet("resnet34", 1, 3, 8).state_dict(), str(tmp_path / "r34.safetensors"))
    with pytest.raises(RecipeError, match="of the file's values find a place"):
        network_factory(f"resnet18(weights='{tmp_path / 'r34.safetensors'}')")((1, 8, 8), 3)


# 5. mixed folders; 6. tiny tables -----------------------------------------------------------------------------

def test_a_folder_of_images_and_wavs_is_one_error_naming_both_counts(tmp_path):
    from scipy.io import wavfile

    make_image_folder(tmp_path / "mixed", {"a": 6, "b": 6})
    for i in range(3):
        wavfile.write(tmp_path / "mixed" / "a" / f"clip{i}.wav", 8000, np.zeros(800, np.int16))
    r = _run(["inspect", str(tmp_path / "mixed")])
    _one_line(r, "12 image file(s)", "3 WAV file(s)")


def test_a_table_too_small_to_split_is_one_line(tmp_path):
    frame = mixed_frame(60).groupby("target").head(2)
    frame.to_csv(tmp_path / "tiny.csv", index=False)
    r = _run(["run", str(tmp_path / "tiny.csv"), "--label-column", "target", "--out", str(tmp_path / "run"),
              "--report", str(tmp_path / "rep")])
    _one_line(r, "too few to hold out a stratified test split")
