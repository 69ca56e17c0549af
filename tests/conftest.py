"""Shared fixtures: tiny real data made by the tests, and one tiny trained model."""

from __future__ import annotations

import os

if os.environ.get("PYTEST_XDIST_WORKER"):  # before torch is imported: one thread per worker process
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # two workers on two cores, not four threads

from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from PIL import Image  # noqa: E402

from augmentor.config.recipe import recipe_from_dict
from augmentor.core.data import stratified_split, thin_classes
from augmentor.gan.train import train
from augmentor.image.data import write_npz
from augmentor.registry import export_onnx, load_dataset

TINY = {
    "name": "tiny",
    "model": {"z_dim": 8, "g_channels": 32, "d_channels": 16},
    "train": {"epochs": 2, "batch_size": 32, "checkpoint_every": 10, "sample_every": 10, "log_every": 5},
    "evaluate": {"seeds": 2, "epochs": 1, "batch_size": 32, "confirm_power": 0.0},  # fixed seeds: plumbing
}


@pytest.fixture
def tiny_recipe():
    return recipe_from_dict(TINY)


def make_image_folder(root: Path, classes: dict[str, int], size: int = 8, mode: str = "L") -> Path:
    """One sub-folder per class of small PNGs with a class-specific pattern plus noise."""
    rng = np.random.default_rng(0)
    for k, (name, n) in enumerate(classes.items()):
        (root / name).mkdir(parents=True)
        for i in range(n):
            base = np.zeros((size, size), np.float32)
            base[:, k % size] = 1.0
            img = np.clip(base + 0.2 * rng.random((size, size)), 0, 1)
            arr = (img * 255).astype(np.uint8)
            if mode == "RGB":
                arr = np.stack([arr, arr[::-1], arr.T], axis=-1)
            Image.fromarray(arr).save(root / name / f"{i:03d}.png")
    return root


@pytest.fixture
def image_folder(tmp_path) -> Path:
    return make_image_folder(tmp_path / "images", {"cat": 6, "dog": 4, "eel": 3})


@pytest.fixture(scope="session")
def digits_splits(tmp_path_factory):
    """Digits, a stratified split, classes 0-4 thinned to 10 %: the demo's data, smaller."""
    d = load_dataset("builtin:digits")
    tr, te = stratified_split(d, 0.3, 0)
    counts = tr.counts()
    tr = thin_classes(tr, {c: max(2, round(0.1 * n)) if int(c) < 5 else n for c, n in counts.items()}, 0)
    root = tmp_path_factory.mktemp("digits")
    return write_npz(tr, root / "train.npz"), write_npz(te, root / "test.npz")


@pytest.fixture(scope="session")
def ray_cluster():
    """One local 2-CPU Ray cluster for the Ray tests (xdist group "ray": one worker): started once, so its worker
    processes and their torch imports serve every Ray test."""
    ray = pytest.importorskip("ray", reason="augmentor[ray] is installed by make test")
    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False, configure_logging=False)
    yield ray
    ray.shutdown()


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory, digits_splits):
    """A 2-epoch digits generator, exported and verified: (run_dir, onnx_path)."""
    run = tmp_path_factory.mktemp("run")
    data = load_dataset(digits_splits[0])
    train(data, run, recipe_from_dict(TINY), progress=False)
    return run, export_onnx(run)


def tree_hash(root: Path) -> str:
    """sha256 over every file's relative path and bytes below `root`."""
    import hashlib

    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


def tree_listing(root: Path) -> list[str]:
    """Every path below `root` (files, folders, links), relative and sorted."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def pytest_collection_modifyitems(config, items):
    """The long (slow-marked) tests first: two workers then finish together instead of one idling while
    the other runs a long test collected last."""
    items.sort(key=lambda item: item.get_closest_marker("slow") is None)
