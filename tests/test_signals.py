"""1-D signals: WAV folders, signal .npz, the 1-D GAN through export and synthesis, evaluation,
bad input, and the registry as the only place that names a modality."""

from __future__ import annotations

import hashlib
import wave
from pathlib import Path

import numpy as np
import pytest
import torch
from click.testing import CliRunner
from scipy.io import wavfile

from augmentor import registry as modalities
from augmentor.cli import cli
from augmentor.config.recipe import recipe_from_dict
from augmentor.core.errors import InvalidDataError
from augmentor.gan.train import train
from augmentor.registry import export_onnx, fill_gaps, generate_to_folder, load_dataset, open_generator
from augmentor.signal.augment import CLASSIC, classic_signal_augmentation
from augmentor.signal.codec import SignalCodec
from augmentor.signal.data import SignalData, load_signals
from augmentor.signal.models import diff_augment_1d
from augmentor.synthesis.synthesize import read_folder

pytestmark = pytest.mark.xdist_group("signals")  # one worker: the module's fixtures are built once

RATE = 8000
SIGNAL_RECIPE = {
    "name": "clips",
    "model": {"z_dim": 8, "g_channels": 16, "d_channels": 8},
    "train": {"epochs": 2, "batch_size": 16, "checkpoint_every": 100, "sample_every": 100, "log_every": 5,
              "diffaugment": ["translation", "cutout", "color"]},
    "evaluate": {"seeds": 1, "epochs": 1, "batch_size": 16, "confirm_seeds": 0, "doses": [], "mixup": [0.2],
                 "classic": ["jitter", "time-warp"], "filter_threshold": 0.0},
}


N = 512  # samples per clip: 64 ms at 8 kHz (short clips keep the 1-D GAN and CNN fits small)


def clip(kind: int, i: int, n: int = N) -> np.ndarray:
    """N samples at 8 kHz: class 0 a tone, class 1 a chirp, class 2 an AM tone; a little noise."""
    rng = np.random.default_rng(1000 * kind + i)
    t = np.arange(n) / RATE
    f = 300 + 40 * rng.random()
    wave = [np.sin(2 * np.pi * f * t), np.sin(2 * np.pi * (f + 2000 * t) * t),
            (1 + 0.8 * np.sin(2 * np.pi * 12 * t)) * np.sin(2 * np.pi * 2 * f * t) / 1.8][kind]
    return (0.8 * wave + 0.02 * rng.standard_normal(n)).astype(np.float32)


def make_wav_folder(root: Path, counts=(("tone", 40), ("chirp", 10), ("am", 3)), dtype=np.int16) -> Path:
    for k, (name, n) in enumerate(counts):
        (root / name).mkdir(parents=True)
        for i in range(n):
            x = clip(k, i)
            data = (x * 32767).astype(np.int16) if dtype == np.int16 else x.astype(dtype)
            wavfile.write(root / name / f"{i:03d}.wav", RATE, data)
    return root


@pytest.fixture(scope="module")
def wav_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("signals")
    data = load_dataset(str(make_wav_folder(root / "clips")))
    run = root / "run"
    train(data, run, recipe_from_dict(SIGNAL_RECIPE), progress=False)
    return data, export_onnx(run), root


def tree_digest(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


def test_wav_folder_train_export_synthesize_read_back(wav_model, tmp_path):
    data, model, _ = wav_model
    assert data.modality == "signal" and data.shape == (1, N) and data.rate == RATE
    assert data.counts() == {"am": 3, "chirp": 10, "tone": 40}
    gen = open_generator(model)
    assert gen.info.modality == "signal" and gen.info.shape == (1, N) and gen.info.codec.rate == RATE
    assert data.sample_format == "int16" and gen.info.codec.sample_format == "int16"
    out = fill_gaps(gen, data, tmp_path / "syn", progress=False).out  # a WAV-folder set: WAV folders by default
    written = sorted(out.rglob("*.wav"))
    assert len(written) == 67 and not list(out.glob("*.npz"))
    with wave.open(str(written[0])) as w:  # 16-bit PCM in, 16-bit PCM out: Python's wave reads it
        assert w.getsampwidth() == 2 and w.getframerate() == RATE and w.getnframes() == N
    back = read_folder(out, data, "synthetic")
    assert back.counts() == {"am": 37, "chirp": 30, "tone": 0}
    assert back.shape == data.shape and np.isfinite(back.x).all()
    peak = np.abs(data.x).max()
    assert np.abs(back.x).max() <= peak + 1e-6  # decoding stays inside the observed amplitude

    wav = generate_to_folder(gen, {"am": 4, "chirp": 2}, tmp_path / "w1", progress=False,
                             config=_fmt("wav")).out
    files = sorted(wav.rglob("*.wav"))
    assert len(files) == 6
    rate, x = wavfile.read(files[0])
    assert rate == RATE and x.dtype == np.int16 and x.shape == (N,)
    again = generate_to_folder(gen, {"am": 4, "chirp": 2}, tmp_path / "w2", progress=False, config=_fmt("wav")).out
    assert tree_digest(wav) == tree_digest(again)  # same model + seed: identical bytes
    from_wav = read_folder(wav, data, "synthetic")
    npz = generate_to_folder(gen, {"am": 4, "chirp": 2}, tmp_path / "n", progress=False, config=_fmt("npz")).out
    from_npz = read_folder(npz, data, "synthetic")
    np.testing.assert_allclose(from_wav.x, from_npz.x, rtol=0, atol=1 / 32768)  # the npz values, to 16 bits


@pytest.mark.parametrize("sample_format", ["int16", "uint8", "int32", "float32"])
def test_wav_bytes_keep_the_sample_type_and_round_trip(tmp_path, sample_format):
    from augmentor.signal.wav import PCM, read_wav_typed, wav_bytes

    x = np.stack([clip(0, 0, 64), -clip(1, 0, 64)]).astype(np.float32)  # two channels in [-1, 1]
    path = tmp_path / "a.wav"
    path.write_bytes(wav_bytes(x, RATE, sample_format))
    rate, back, kind = read_wav_typed(path)
    assert rate == RATE and kind == sample_format and back.shape == x.shape
    step = 0 if sample_format == "float32" else 1 / PCM[sample_format][1]
    np.testing.assert_allclose(back, x, rtol=0, atol=step)
    assert path.read_bytes() == wav_bytes(x, RATE, sample_format)  # deterministic


def _fmt(fmt: str, seed: int = 0):
    from augmentor.config.recipe import SynthesizeConfig

    return SynthesizeConfig(format=fmt, seed=seed)


@pytest.mark.slow
def test_wav_folder_evaluate_cli(wav_model, tmp_path):
    data, model, root = wav_model
    runner = CliRunner()
    syn = tmp_path / "syn"
    r = runner.invoke(cli, ["synthesize", str(model), "--data", str(root / "clips"), "--out", str(syn), "-q"])
    assert r.exit_code == 0, r.output
    val = tmp_path / "val"  # 25 a class: choices on the validation split, not by 3 folds (a third of the fits)
    make_wav_folder(val, (("tone", 25), ("chirp", 25), ("am", 25)))
    test = tmp_path / "test"
    make_wav_folder(test, (("tone", 5), ("chirp", 5), ("am", 5)))
    r = runner.invoke(cli, ["evaluate", "--train", str(root / "clips"), "--test", str(test), "--validation", str(val),
                            "--synthetic", str(syn), "--seeds", "1", "--confirm-seeds", "0", "--epochs", "1",
                            "--classic", "jitter", "--report", str(tmp_path / "rep"), "-q"])
    assert r.exit_code == 0, r.output
    import json

    res = json.loads((tmp_path / "rep" / "results.json").read_text())
    assert res["modality"] == "signal"
    learners = set(res["classifiers"])
    assert "SmallCNN1d" in learners
    if "MiniRocket" in learners:  # the signals extra is installed by make test: a headline for each learner
        head = res["headline"]
        assert head["classifier"] == "SmallCNN1d" and [o["classifier"] for o in head["others"]] == ["MiniRocket"]
        assert len(head["family"]) == res["statistics"]["family_size"] >= 2
        assert any(f.startswith("MiniRocket:") for f in head["family"])
        assert "**MiniRocket: " in (tmp_path / "rep" / "report.md").read_text()
    arms = res["classifiers"]["SmallCNN1d"]["arms"]
    cells = res["classifiers"]["SmallCNN1d"]["search"]["stages"][0]["balanced_accuracy"]  # the grid, every cell
    assert "real" in cells and any("SMOTE" in a for a in cells) and any("synthetic" in a for a in arms)
    assert any("classic (" in a for a in cells) and any("mixup" in a for a in cells)


def test_signal_npz_shapes_and_builtin_length_rule(tmp_path):
    x = np.random.default_rng(0).standard_normal((12, 64)).astype(np.float32)
    y = np.repeat(["a", "b", "c"], 4)
    np.savez(tmp_path / "s.npz", x=x, y=y)
    d = load_dataset(str(tmp_path / "s.npz"))
    assert isinstance(d, SignalData) and d.shape == (1, 64) and d.classes == ("a", "b", "c")
    np.savez(tmp_path / "m.npz", x=np.stack([x, -x], 1), y=y, modality="signal")
    assert load_dataset(str(tmp_path / "m.npz")).shape == (2, 64)
    written = d.write(tmp_path / "again")
    assert load_dataset(str(written)).modality == "signal"


def test_variable_lengths_are_fitted_and_said(tmp_path):
    root = tmp_path / "var"
    for k, name in enumerate(("a", "b")):
        (root / name).mkdir(parents=True)
        for i, n in enumerate((300, 500, 400)):
            wavfile.write(root / name / f"{i}.wav", RATE, clip(k, i, n))
    with pytest.raises(InvalidDataError, match=r"lengths vary from 300 to 500.*\[data\]\.length"):
        load_signals(str(root))
    d = load_signals(str(root), length=256)
    assert d.shape == (1, 256) and "linear resampling" in d.fitted
    p = load_signals(str(root), length=256, fit="pad-crop")
    assert "padding" in p.fitted
    np.testing.assert_array_equal(p.x[0, 0], clip(0, 0, 300)[:256])


def test_codec_round_trip_and_metadata_guard():
    x = (np.random.default_rng(1).standard_normal((5, 2, 64)) * np.array([3.0, 0.5])[:, None]).astype(np.float32)
    c = SignalCodec.fit(SignalData(x, np.zeros(5, np.int64), ("a", "b")))
    np.testing.assert_allclose(c.decode(c.encode(x)), x, rtol=1e-6, atol=1e-5)
    assert modalities.for_codec(c.to_json()).scale == c.scale
    from augmentor.core.errors import UnsafeArtifactError

    for bad in ({"kind": "signal", "scale": []}, {"kind": "signal", "scale": [-1.0]},
                {"kind": "signal", "scale": [1.0], "rate": "x"}, {"kind": "sound"}):
        with pytest.raises(UnsafeArtifactError):
            modalities.for_codec(bad)


@pytest.mark.parametrize("kind", CLASSIC)
def test_classic_transforms_keep_shape_and_change_the_series(kind):
    torch.manual_seed(0)
    x = torch.sin(torch.linspace(0, 20, 256)).repeat(4, 2, 1)
    y = classic_signal_augmentation(kind)(x)
    assert y.shape == x.shape and torch.isfinite(y).all()
    assert not torch.allclose(x, y)


def test_diff_augment_1d_is_seeded():
    x = torch.randn(3, 1, 64)
    a = diff_augment_1d(x, ("translation", "cutout", "color"), torch.Generator().manual_seed(3))
    b = diff_augment_1d(x, ("translation", "cutout", "color"), torch.Generator().manual_seed(3))
    assert torch.equal(a, b) and not torch.equal(a, x)


def _bad_folder(tmp_path: Path, case: str) -> Path:
    root = make_wav_folder(tmp_path / case, (("a", 3), ("b", 3)))
    target = root / "a" / "000.wav"
    if case == "rates":
        wavfile.write(target, 16000, (clip(0, 0) * 32767).astype(np.int16))
    elif case == "nan":
        x = clip(0, 0)
        x[5] = np.nan
        wavfile.write(target, RATE, x)
    elif case == "empty":
        wavfile.write(target, RATE, np.zeros(0, np.int16))
    elif case == "truncated":
        raw = target.read_bytes()
        target.write_bytes(raw[: len(raw) // 2])
    return root


@pytest.mark.parametrize("case, message", [
    ("rates", r"different sample rates \(16000 Hz in .*000\.wav.*--rate"),
    ("nan", r"000\.wav: the clip holds NaN or infinite values"),
    ("empty", r"000\.wav: the clip holds no samples"),
    ("truncated", r"000\.wav: not a readable WAV file .*truncated"),
])
def test_bad_wav_input_is_one_line_exit_2_nothing_written(tmp_path, case, message):
    import re

    root = _bad_folder(tmp_path, case)
    before = tree_digest(root)
    r = CliRunner().invoke(cli, ["train", str(root), "--out", str(tmp_path / "run"), "--epochs", "1", "-q"])
    assert r.exit_code == 2
    lines = [ln for ln in r.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and re.search(message, lines[0]), r.output
    assert not (tmp_path / "run").exists() and tree_digest(root) == before


def test_non_audio_file_is_skipped_with_a_warning(tmp_path, caplog):
    root = make_wav_folder(tmp_path / "c", (("a", 3), ("b", 3)))
    (root / "a" / "notes.txt").write_text("not audio")
    with caplog.at_level("WARNING"):
        d = load_signals(str(root))
    assert len(d) == 6 and "notes.txt" in caplog.text


def test_declared_length_over_the_limit_is_refused(tmp_path):
    root = make_wav_folder(tmp_path / "c", (("a", 3), ("b", 3)))
    with pytest.raises(InvalidDataError, match=r"\[data\]\.length 70000 is over the limit of 65536"):
        load_signals(str(root), length=70000)
    r = CliRunner().invoke(cli, ["inspect", str(root), "--length", "70000"])
    assert r.exit_code == 2 and "70000" in r.output


def _npz_tree(out: Path) -> tuple[np.ndarray, np.ndarray]:
    shards = sorted(out.glob("shard-*.npz"))
    return (np.concatenate([np.load(p)["x"] for p in shards]), np.concatenate([np.load(p)["y"] for p in shards]))


@pytest.mark.slow
def test_served_and_ray_samples_equal_the_cli(wav_model, tmp_path, request):
    """The same model + seed: `generate`'s npz, the service's npz body and client, Ray's shards agree."""
    import io
    import shutil

    pytest.importorskip("fastapi", reason="augmentor[serve] is installed by make test")
    from .test_serve import Server

    data, model, _ = wav_model
    counts = {"am": 5, "chirp": 3}
    cli_out = generate_to_folder(model, counts, tmp_path / "cli", _fmt("npz", seed=7), progress=False).out
    want_x, want_y = _npz_tree(cli_out)
    named = tmp_path / "clips.onnx"
    shutil.copy(model, named)
    s = Server([named])
    try:
        status, body = s.post("/v1/models/clips/generate", {"counts": counts, "seed": 7, "format": "npz"})
        assert status == 200
        got = np.load(io.BytesIO(body))
        assert got["x"].dtype == np.float32
        np.testing.assert_array_equal(got["x"], want_x)
        np.testing.assert_array_equal(got["y"], want_y)
        from augmentor.serving.client import Client

        x, y = Client(s.url).generate(counts, seed=7)
        np.testing.assert_array_equal(x, want_x)
    finally:
        s.stop()
    from augmentor.registry import for_codec
    from augmentor.serving.ray_engine import generate_with_ray

    request.getfixturevalue("ray_cluster")  # the session's local cluster (tests/conftest.py)
    a = generate_with_ray(model, counts, tmp_path / "ray", _fmt("npz", seed=7), num_workers=2, unit_size=3,
                          progress=False, codecs=for_codec)
    rx, ry = _npz_tree(a.out)
    for label in np.unique(want_y):
        np.testing.assert_array_equal(rx[ry == label], want_x[want_y == label])
    w = generate_with_ray(model, counts, tmp_path / "ray-wav", _fmt("wav", seed=7), num_workers=2, unit_size=3,
                          progress=False, codecs=for_codec)
    local = generate_to_folder(model, counts, tmp_path / "cli-wav", _fmt("wav", seed=7), progress=False).out
    assert {k: v for k, v in tree_digest(w.out).items() if k.endswith(".wav")} == \
        {k: v for k, v in tree_digest(local).items() if k.endswith(".wav")}


def test_ts_file_and_inspect_builtin(tmp_path):
    pytest.importorskip("sktime", reason="augmentor[signals] is installed by make test")
    import sktime

    ts = Path(sktime.__file__).parent / "datasets" / "data" / "ArrowHead" / "ArrowHead_TRAIN.ts"
    d = load_dataset(str(ts), length=252)
    assert d.modality == "signal" and d.shape == (1, 252) and len(d.classes) == 3
    r = CliRunner().invoke(cli, ["inspect", "builtin:plaid"])
    assert r.exit_code == 0, r.output
    assert "537 series, 11 classes" in r.output and "lengths 100-1344" in r.output
    assert " 88 " in r.output and " 13 " in r.output  # the largest and the smallest class's counts
