"""Signals in a notebook: (N, L) series in, GAN series out, in the same layout and dtype.

    python examples/signals_sample.py [--epochs 20]
"""

import argparse

import numpy as np

from augmentor import GANOverSampler

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)
args = parser.parse_args()

rng = np.random.default_rng(0)
t = np.linspace(0, 1, 128)
y = np.r_[np.zeros(60, int), np.ones(12, int)]  # a thin class of 12 series
X = np.stack([np.sin(2 * np.pi * (3 + 4 * c) * t + rng.uniform(0, 6)) for c in y]).astype(np.float32)

sampler = GANOverSampler(modality="signal", epochs=args.epochs, random_state=0)
X_res, y_res = sampler.fit_resample(X, y)
print("resampled", X_res.shape, X_res.dtype, "per class", np.bincount(y_res))
