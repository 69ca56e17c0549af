"""GANOverSampler (issue 48): fit, sample, fit_resample, save and load on arrays in memory, for every modality,
the imbalanced-learn / SDV way; tiny data and 1-epoch fits."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from augmentor import GANOverSampler

pytestmark = pytest.mark.xdist_group("sampler")


def _images(n: int = 60, layout: str = "NHW"):
    rng = np.random.default_rng(0)
    y = np.where(np.arange(n) % 3 == 0, "cat", "dog")
    x = (rng.random((n, 8, 8)) * 60 + (y == "cat")[:, None, None] * 150).astype(np.uint8)
    return {"NHW": x, "NHWC": x[..., None], "NCHW": x[:, None]}[layout], y


@pytest.mark.parametrize("layout", ["NHW", "NHWC", "NCHW"])
def test_images_come_back_in_the_callers_layout_dtype_and_labels(layout):
    x, y = _images(layout=layout)
    s = GANOverSampler(epochs=1, random_state=0).fit(x, y)
    new_x, new_y = s.sample({"cat": 7, "dog": 2})
    assert new_x.shape == (9, *x.shape[1:]) and new_x.dtype == np.uint8
    assert sorted(new_y.tolist()) == ["cat"] * 7 + ["dog"] * 2
    again, _ = s.sample({"cat": 7, "dog": 2})
    assert np.array_equal(again, new_x)  # the same seed, the same samples
    other, _ = s.sample({"cat": 7, "dog": 2}, random_state=1)
    assert not np.array_equal(other, new_x)


def test_fit_resample_adds_exactly_what_the_strategy_asks(tmp_path):
    x, y = _images()
    res_x, res_y = GANOverSampler(epochs=1, random_state=0).fit_resample(x, y)  # "auto": to the majority
    assert res_x.shape == (80, 8, 8) and dict(zip(*np.unique(res_y, return_counts=True))) == {"cat": 40, "dog": 40}
    assert np.array_equal(res_x[:60], x)


def test_save_then_augmentor_generate_gives_the_same_samples(tmp_path):
    x, y = _images()
    s = GANOverSampler(epochs=1, random_state=0).fit(x, y)
    model = s.save(tmp_path / "m.onnx")
    ours, labels = s.sample({"cat": 3, "dog": 2}, random_state=5)
    subprocess.run([sys.executable, "-m", "augmentor.cli", "generate", str(model), "--counts", "cat=3,dog=2", "--out",
                    str(tmp_path / "gen"), "--format", "npz", "--seed", "5", "-q"], check=True)
    shard = np.load(tmp_path / "gen" / "shard-00000.npz")
    assert np.array_equal(shard["x"][:, 0], ours) and labels.tolist() == ["cat"] * 3 + ["dog"] * 2
    loaded = GANOverSampler.load(model)
    back, back_y = loaded.sample({"cat": 3, "dog": 2}, random_state=5)
    assert np.array_equal(np.rint(back[:, 0] * 255).astype(np.uint8), ours) and back_y.tolist() == labels.tolist()


def test_a_table_keeps_its_columns_dtypes_and_label_values():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"age": rng.integers(20, 60, 90), "score": rng.normal(size=90),
                          "city": rng.choice(["a", "b"], 90)})
    y = np.array([10, 2, 2] * 30)
    s = GANOverSampler(epochs=1, random_state=0).fit(frame, y)
    rows, labels = s.sample({10: 4, 2: 1})
    assert list(rows.columns) == list(frame.columns) and (rows.dtypes == frame.dtypes).all()
    assert sorted(labels.tolist()) == [2, 10, 10, 10, 10]
    res_x, res_y = GANOverSampler(epochs=1, random_state=0).fit_resample(frame, y)
    assert len(res_x) == len(res_y) == 120 and (res_y == 10).sum() == 60


def test_signals_in_their_layout():
    t = np.linspace(0, 6, 64)
    y = np.arange(40) % 2
    x = np.stack([np.sin((1 + c) * t + i / 10) for i, c in enumerate(y)]).astype(np.float32)
    s = GANOverSampler(modality="signal", epochs=1, random_state=0).fit(x, y)
    new_x, new_y = s.sample(3)
    assert new_x.shape == (6, 64) and new_x.dtype == np.float32 and sorted(new_y.tolist()) == [0, 0, 0, 1, 1, 1]
    s3 = GANOverSampler(epochs=1, random_state=0).fit(x[:, None].repeat(2, 1), y)  # (N, C, L): signals by "auto"
    assert s3.kind_ == "signal" and s3.sample(1)[0].shape == (2, 2, 64)


def test_scikit_learn_conventions():
    s = GANOverSampler(epochs=3, random_state=7, modality="image")
    assert clone(s).get_params() == s.get_params()
    assert s.set_params(epochs=5).epochs == 5


@pytest.mark.parametrize("x, y, words", [
    (np.zeros((10, 2, 2, 2, 2)), np.arange(10) % 2, "X must be 2-D"),
    (np.zeros((10, 8, 8)), np.zeros(10), "one class"),
    (np.full((10, 4), np.nan), np.arange(10) % 2, "NaN"),
    (np.zeros((10, 4)), np.arange(9) % 2, "X has 10 samples but y has 9"),
    (np.zeros((10, 8, 8)), np.zeros((10, 2)), "y must be 1-dimensional"),
])
def test_bad_arguments_are_one_line_naming_the_argument(x, y, words):
    with pytest.raises(ValueError, match=words) as e:
        GANOverSampler(epochs=1).fit(x, y)
    assert "\n" not in str(e.value)


def test_bad_parameters_and_counts_are_one_line():
    with pytest.raises(ValueError, match="modality"):
        GANOverSampler(modality="video").fit(*_images())
    s = GANOverSampler(epochs=1, random_state=0).fit(*_images())
    with pytest.raises(ValueError, match="label 'bird'"):
        s.sample({"bird": 2})
    with pytest.raises(ValueError, match="whole number"):
        s.sample({"cat": -1})
    with pytest.raises(ValueError, match="not fitted"):
        GANOverSampler().sample(3)
