"""Prepare the signal case with an unlabelled pool (recipes/japanese-vowels-longtail-unlabelled.toml; `make data`).

sktime ships the Japanese Vowels set (9 speakers, 12 channels; 270 training and 370 test series; nothing is
downloaded). Its training split stays the recipe's training data (made long-tailed by the recipe, as in
recipes/japanese-vowels-longtail.toml); its test split is halved once (seeded, stratified by speaker):

  data/japanese-vowels-pool/test.npz        half of the test series, with their labels (the recipe's test split)
  data/japanese-vowels-pool/unlabelled.npz  the other half, x only: the pool, no labels written

Series are resampled to 32 samples as the recipe's loader does (linear resampling, [data].length = 32), so both
files hold N x 12 x 32 arrays. Same files on every machine (their sha256 are printed).

    python benchmarks/prepare_signal_pool.py [--out data/japanese-vowels-pool]
"""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import numpy as np
from sklearn.model_selection import train_test_split

from augmentor.signal.data import load_signals


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default="data/japanese-vowels-pool")
    out = Path(ap.parse_args().out)
    test = load_signals("builtin:japanese_vowels:test", length=32, fit="resample")
    idx = np.arange(len(test))
    keep, pool = train_test_split(idx, test_size=0.5, stratify=test.y, random_state=0)
    keep, pool = np.sort(keep), np.sort(pool)
    out.mkdir(parents=True, exist_ok=True)
    files = {"test": {"x": test.x[keep], "y": test.y[keep], "classes": np.array(test.classes, dtype=str),
                      "modality": np.array("signal")},
             "unlabelled": {"x": test.x[pool]}}
    for name, arrays in files.items():
        path = out / f"{name}.npz"
        tmp = path.with_suffix(".tmp.npz")
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)
        tmp.replace(path)
        what = (np.bincount(arrays["y"], minlength=len(test.classes)).tolist() if "y" in arrays
                else "labels not written")
        print(f"{path}  {len(arrays['x'])} series  {what}  sha256 {hashlib.sha256(path.read_bytes()).hexdigest()[:16]}")


if __name__ == "__main__":
    main()
