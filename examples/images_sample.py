"""Images in a notebook: fit a GAN on uint8 arrays, draw exactly the counts you want, save the model that
`augmentor generate` and `augmentor serve` load.

    python examples/images_sample.py [--epochs 20] [--out digits.onnx]
"""

import argparse

import numpy as np
from sklearn.datasets import load_digits

from augmentor import GANOverSampler

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=20)
parser.add_argument("--out", default="")
args = parser.parse_args()

digits = load_digits()
X = np.rint(digits.images * 255 / 16).astype(np.uint8)  # (N, 8, 8) uint8, as a notebook holds them
y = digits.target
thin = np.r_[np.flatnonzero(y != 3), np.flatnonzero(y == 3)[:15]]  # class 3: 15 images
X, y = X[thin], y[thin]

sampler = GANOverSampler(epochs=args.epochs, random_state=0).fit(X, y)
new_x, new_y = sampler.sample({3: 100})
print("drew", new_x.shape, new_x.dtype, "labels", np.unique(new_y))
X_res, y_res = sampler.fit_resample(X, y)  # imbalanced-learn's "auto": every class up to the largest
print("resampled", X_res.shape, "per class", np.bincount(y_res))
if args.out:
    print("saved", sampler.save(args.out))
