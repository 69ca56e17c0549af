"""A table in a notebook: GANOverSampler inside an imbalanced-learn pipeline, judged by cross-validation.

    python examples/table_resample.py [--epochs 30]
"""

import argparse

import numpy as np
from imblearn.pipeline import make_pipeline
from sklearn.datasets import load_wine
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import cross_val_score
from sklearn.preprocessing import StandardScaler

from augmentor import GANOverSampler

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int, default=30)
args = parser.parse_args()

X, y = load_wine(return_X_y=True, as_frame=True)
keep = np.r_[np.flatnonzero(y == 0), np.flatnonzero(y == 1), np.flatnonzero(y == 2)[:8]]  # class 2: 8 rows
X, y = X.iloc[keep].reset_index(drop=True), y.iloc[keep].to_numpy()

plain = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
with_gan = make_pipeline(GANOverSampler(epochs=args.epochs, random_state=0), StandardScaler(),
                         LogisticRegression(max_iter=2000))
for name, model in (("real only", plain), ("real + GAN rows", with_gan)):
    scores = cross_val_score(model, X, y, cv=3, scoring="balanced_accuracy")
    print(f"{name:>16}: balanced accuracy {scores.mean():.3f} over 3 folds")
