"""The "Use it" section of a report: the winning arm without a GAN as code for the user's own training.

Each modality's evaluation writes its learner's snippet (`use_it(learner, arm, train, target)`); the pieces
shared by the array modalities (images, signals) are here."""

from __future__ import annotations


def resampling_lines(arm, target, shape: tuple[int, ...]) -> list[str]:
    """The arm's resampling as imbalanced-learn calls on arrays (x: N x shape, y: class indices)."""
    strategy = {c: int(n) for c, n in enumerate(target) if n > 0}
    if arm.rebalance == "oversample":
        return ["from imblearn.over_sampling import RandomOverSampler", "",
                f"idx, _ = RandomOverSampler(sampling_strategy={strategy}, random_state=0).fit_resample(",
                "    np.arange(len(y)).reshape(-1, 1), y)", "x, y = x[idx.ravel()], y[idx.ravel()]"]
    if arm.rebalance == "smote":
        return ["from imblearn.over_sampling import SMOTE", "",
                f"flat, y = SMOTE(sampling_strategy={strategy}, k_neighbors=min(5, np.bincount(y).min() - 1), "
                "random_state=0).fit_resample(x.reshape(len(x), -1), y)",
                f"x = flat.reshape(-1, *{tuple(shape)}).astype(np.float32)"]
    return [""]
