"""The unlabelled pool beyond images (issue 39): a table pool gives every table learner self-training arms;
a signal pool loads from .npz / WAV folders and trains the 1-D GAN's discriminator through its
unconditional term; bad pools are one clear error naming the file and what to fix."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pandas as pd
import pytest
import torch
from click.testing import CliRunner

from augmentor.cli import cli
from augmentor.config.recipe import recipe_from_dict
from augmentor.core.errors import InvalidDataError, RecipeError
from augmentor.gan.train import train
from augmentor.pipeline import load_pool
from augmentor.signal.data import SignalData, load_unlabelled
from augmentor.signal.models import SignalDiscriminator
from augmentor.signal.wav import wav_bytes
from augmentor.table.data import load_table
from augmentor.table.data import load_unlabelled as load_table_pool


def _frame(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    y = rng.choice(["low", "mid", "high"], n, p=[0.6, 0.3, 0.1])
    shift = pd.Series(y).map({"low": 0, "mid": 10, "high": 25}).to_numpy()
    return pd.DataFrame({"age": rng.integers(18, 80, n) + shift, "income": rng.lognormal(10, 0.5, n) * (1 + shift / 10),
                         "city": rng.choice(["north", "south", "east"], n), "target": y})


TABLE_RECIPE = """
name = "table-pool"
[data]
train = "TRAIN"
label = "target"
unlabelled = "POOL"
[model]
z_dim = 8
g_channels = 32
d_channels = 32
[train]
epochs = 2
batch_size = 32
unlabelled_weight = WEIGHT
[evaluate]
seeds = 2
confirm_seeds = 3
classifiers = ["logreg"]
rebalancing = ["oversample"]
exclude = ["synthetic-only"]
"""


def test_a_table_pool_gives_self_training_arms_and_bad_pools_are_refused(tmp_path):
    """A CSV pool (its label column present, never read) is labelled by the winner's model; the
    self-training arm competes for the best arm without a GAN; the user's files are untouched. The GAN's
    pool term is for images and signals: on a table it is one clear error, as is a pool holding a test row,
    or one missing a feature column."""
    train_csv, pool_csv = tmp_path / "train.csv", tmp_path / "pool.csv"
    _frame(150, 0).to_csv(train_csv, index=False)
    _frame(300, 7).to_csv(pool_csv, index=False)
    before = hashlib.sha256(pool_csv.read_bytes()).hexdigest()
    recipe = tmp_path / "r.toml"

    def run(pool, weight: str = "0.0", tag: str = "a"):
        recipe.write_text(TABLE_RECIPE.replace("TRAIN", str(train_csv)).replace("POOL", str(pool))
                          .replace("WEIGHT", weight))
        return CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / f"run-{tag}"), "--report",
                                        str(tmp_path / f"rep-{tag}"), "-q"])

    r = run(pool_csv)
    assert r.exit_code == 0, r.output
    assert hashlib.sha256(pool_csv.read_bytes()).hexdigest() == before
    results = json.loads((tmp_path / "rep-a" / "results.json").read_text())
    assert results["protocol"]["unlabelled"]["n"] == 300
    res = results["classifiers"]["logreg"]
    st = res["search"]["self_training"]
    assert st["arms"] and all(res["arms"][n]["kind"] == "self-training" for n in st["arms"])
    for name in st["arms"]:
        for seed, sel in res["arms"][name]["self_training_selection"].items():
            assert sum(sel["kept"]) > 0 and all(k <= w for k, w in zip(sel["kept"], sel["wanted"]))
            base = res["arms"][res["search"]["chosen"]]["runs"][int(seed)]["n_train"]
            assert res["arms"][name]["runs"][int(seed)]["n_train"] == base + sum(sel["kept"])
    assert results["headline"]["best_non_gan_arm"] == st["chosen"]
    assert "## Self-training selection: logreg" in (tmp_path / "rep-a" / "report.md").read_text()

    r = run(pool_csv, "1.0", "b")
    assert r.exit_code == 2 and "train.unlabelled_weight is for images and signals" in r.output, r.output
    test = pd.read_csv(tmp_path / "run-a" / "data" / "test.csv")
    leak = pd.concat([_frame(20, 9), test.iloc[:2]], ignore_index=True)
    leak.to_csv(tmp_path / "leak.csv", index=False)
    r = run(tmp_path / "leak.csv", tag="c")
    assert r.exit_code != 0 and "holds 2 sample(s) of the test split" in r.output, r.output
    like = load_table(train_csv, label="target")
    _frame(10, 3).drop(columns=["income"]).to_csv(tmp_path / "short.csv", index=False)
    with pytest.raises(InvalidDataError, match=r"short.csv: no column\(s\) 'income'"):
        load_table_pool(str(tmp_path / "short.csv"), like)
    _frame(10, 3).assign(extra=1).to_csv(tmp_path / "wide.csv", index=False)
    with pytest.raises(InvalidDataError, match=r"wide.csv: column\(s\) 'extra' are not in the training table"):
        load_table_pool(str(tmp_path / "wide.csv"), like)
    unlabelled = load_table_pool(str(pool_csv), like)  # the label column is not read
    assert list(unlabelled.x.columns) == list(like.x.columns) and set(unlabelled.y) == {0}


def _signals(n: int = 24, length: int = 64, seed: int = 0) -> SignalData:
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    t = np.linspace(0, 1, length)
    x = np.stack([np.sin(2 * np.pi * (2 + 5 * c) * t + rng.uniform(0, 6)) for c in y])[:, None, :]
    return SignalData((0.8 * x).astype(np.float32), y, ("slow", "fast"), "series")


def test_a_signal_pool_loads_from_npz_or_wavs_and_trains_the_gan(tmp_path):
    like = _signals()
    np.savez(tmp_path / "pool.npz", x=_signals(30, 96, 1).x[:, 0], y=np.zeros(30))  # N x L, other length
    recipe = recipe_from_dict({"data": {"unlabelled": str(tmp_path / "pool.npz")}})
    sines = _signals(6, 64, 5)  # cubed, another waveform: sines of random phase hold near-copies of sine series
    test = SignalData(sines.x ** 3, sines.y, sines.classes, "series")
    pool = load_pool(recipe, like, test)  # as `augmentor run` loads it
    assert pool.x.shape == (30, 1, 64) and set(pool.y) == {0} and pool.classes == like.classes
    wavs = tmp_path / "clips" / "any-name"
    wavs.mkdir(parents=True)
    for i, s in enumerate(_signals(4, 64, 2).x):
        (wavs / f"{i}.wav").write_bytes(wav_bytes(s, 8000))
    assert load_unlabelled(str(tmp_path / "clips"), like).x.shape == (4, 1, 64)
    np.savez(tmp_path / "two.npz", x=np.zeros((3, 2, 64), np.float32))
    with pytest.raises(InvalidDataError, match=r"two.npz: series have 2 channel\(s\), the training series 1"):
        load_unlabelled(str(tmp_path / "two.npz"), like)
    np.savez(tmp_path / "none.npz", y=np.zeros(3))
    with pytest.raises(InvalidDataError, match=r"none.npz has no array x"):
        load_unlabelled(str(tmp_path / "none.npz"), like)

    d = SignalDiscriminator(2, (1, 64), 8).eval()  # conditional 0: the projection term is dropped
    x, lab = torch.randn(5, 1, 64), torch.tensor([0, 1, 0, 1, 1])
    plain = d.head(d.features(x).sum(2)).squeeze(1)
    assert torch.allclose(d(x, lab, torch.zeros(5)), plain) and not torch.allclose(d(x, lab), plain)

    recipe = recipe_from_dict({"model": {"z_dim": 8, "g_channels": 16, "d_channels": 8},
                               "train": {"epochs": 2, "batch_size": 8, "unlabelled_weight": 1.0}})
    with pytest.raises(RecipeError, match="needs an unlabelled pool"):
        train(like, None, recipe, progress=False)
    out = train(like, tmp_path / "run", recipe, progress=False, unlabelled=pool)
    assert out.state["unlabelled"]["n"] == 30 and out.checkpoint is not None
