import logging

import numpy as np
import pytest
from PIL import Image

from augmentor.core.data import imbalance_targets, stratified_split, thin_classes
from augmentor.core.errors import InvalidDataError
from augmentor.image.codec import ImageCodec
from augmentor.image.data import write_npz
from augmentor.registry import load_dataset

from .conftest import make_image_folder


def test_image_folder_loads_grayscale(image_folder):
    d = load_dataset(image_folder)
    assert d.classes == ("cat", "dog", "eel")
    assert d.counts() == {"cat": 6, "dog": 4, "eel": 3}
    assert d.x.shape == (13, 1, 8, 8) and d.x.dtype == np.float32
    assert 0 <= d.x.min() and d.x.max() <= 1


def test_rgb_folder_and_resize(tmp_path):
    root = make_image_folder(tmp_path / "rgb", {"a": 3, "b": 3}, size=10, mode="RGB")
    d = load_dataset(root, image_size=16)
    assert d.x.shape == (6, 3, 16, 16)
    assert load_dataset(root, image_size=8, channels=1).x.shape == (6, 1, 8, 8)


def test_builtin_digits():
    d = load_dataset("builtin:digits")
    assert d.x.shape == (1797, 1, 8, 8) and len(d.classes) == 10
    assert load_dataset("builtin:digits", image_size=16).shape == (1, 16, 16)


def test_empty_class_folder_is_named(image_folder):
    (image_folder / "fox").mkdir()
    with pytest.raises(InvalidDataError, match="fox.*holds no images"):
        load_dataset(image_folder)


def test_corrupt_image_is_named(image_folder):
    (image_folder / "cat" / "bad.png").write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(InvalidDataError, match=r"bad\.png.*corrupt"):
        load_dataset(image_folder)


def test_truncated_image_is_named(image_folder):
    good = (image_folder / "cat" / "000.png").read_bytes()
    (image_folder / "cat" / "trunc.png").write_bytes(good[: len(good) // 2])
    with pytest.raises(InvalidDataError, match=r"trunc\.png"):
        load_dataset(image_folder)


def test_zero_byte_image_is_named(image_folder):
    (image_folder / "dog" / "empty.png").write_bytes(b"")
    with pytest.raises(InvalidDataError, match=r"empty\.png.*0 bytes"):
        load_dataset(image_folder)


def test_non_image_file_is_skipped_with_a_warning(image_folder, caplog):
    (image_folder / "cat" / "notes.txt").write_text("hello")
    with caplog.at_level(logging.WARNING):
        d = load_dataset(image_folder)
    assert d.counts()["cat"] == 6
    assert "notes.txt" in caplog.text


def test_class_with_one_sample(tmp_path):
    root = make_image_folder(tmp_path / "im", {"a": 3, "b": 1})
    with pytest.raises(InvalidDataError, match="class 'b' has 1 sample"):
        load_dataset(root)


def test_single_class(tmp_path):
    root = make_image_folder(tmp_path / "im", {"a": 3})
    with pytest.raises(InvalidDataError, match="at least 2 classes"):
        load_dataset(root)


def test_mixed_sizes_need_image_size(image_folder):
    Image.fromarray(np.zeros((12, 12), np.uint8)).save(image_folder / "cat" / "big.png")
    with pytest.raises(InvalidDataError, match="image_size"):
        load_dataset(image_folder)
    assert load_dataset(image_folder, image_size=8).counts()["cat"] == 7


def test_npz_roundtrip_and_errors(tmp_path):
    d = load_dataset("builtin:digits")
    p = write_npz(d, tmp_path / "d.npz")
    back = load_dataset(p)
    assert back.classes == d.classes and np.array_equal(back.x, d.x) and np.array_equal(back.y, d.y)
    np.savez(tmp_path / "nox.npz", y=np.zeros(3))
    with pytest.raises(InvalidDataError, match="missing array.*x"):
        load_dataset(tmp_path / "nox.npz")
    np.savez(tmp_path / "len.npz", x=np.zeros((4, 8, 8), np.uint8), y=np.zeros(3))
    with pytest.raises(InvalidDataError, match="4 images but y has 3"):
        load_dataset(tmp_path / "len.npz")
    np.savez(tmp_path / "ch.npz", x=np.zeros((4, 2, 8, 8), np.uint8), y=np.array([0, 0, 1, 1]))
    with pytest.raises(InvalidDataError, match="C = 1 or 3"):
        load_dataset(tmp_path / "ch.npz")
    x = np.zeros((4, 8, 8), np.float32)
    x[0, 0, 0] = np.nan
    np.savez(tmp_path / "nan.npz", x=x, y=np.array([0, 0, 1, 1]))
    with pytest.raises(InvalidDataError, match="NaN"):
        load_dataset(tmp_path / "nan.npz")


def test_unknown_spec_errors(tmp_path):
    with pytest.raises(InvalidDataError, match="not found"):
        load_dataset(tmp_path / "nope")
    with pytest.raises(InvalidDataError, match="unknown builtin"):
        load_dataset("builtin:mnist")
    (tmp_path / "t.txt").write_text("x")
    with pytest.raises(InvalidDataError, match="unsupported dataset format"):
        load_dataset(tmp_path / "t.txt")


def test_split_and_thinning_are_seeded_and_disjoint():
    d = load_dataset("builtin:digits")
    tr, te = stratified_split(d, 0.3, 0)
    assert len(tr) + len(te) == len(d)
    tr2, _ = stratified_split(d, 0.3, 0)
    assert np.array_equal(tr.x, tr2.x)
    targets = imbalance_targets(tr.counts(), "step", ["0", "1"], 0.1)
    thin = thin_classes(tr, targets, 0)
    assert thin.counts() == targets
    assert targets["0"] == round(0.1 * tr.counts()["0"]) and targets["5"] == tr.counts()["5"]


def test_exponential_profile():
    counts = {str(i): 100 for i in range(5)}
    t = imbalance_targets(counts, "exponential", ratio=50)
    assert t["0"] == 100 and t["4"] == 2
    assert list(t.values()) == sorted(t.values(), reverse=True)


def test_codec_roundtrip():
    codec = ImageCodec()
    x = np.linspace(0, 1, 256, dtype=np.float32)
    assert np.allclose(codec.decode(codec.encode(x)), x, atol=1e-6)
    assert codec.encode(x).min() == -1 and codec.encode(x).max() == 1
    u8 = codec.to_uint8(codec.encode(np.arange(256, dtype=np.float32) / 255))
    assert np.array_equal(u8, np.arange(256, dtype=np.uint8))
