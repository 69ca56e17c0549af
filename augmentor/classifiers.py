"""Downstream classifiers that judge the synthetic data: a small CNN for images.

Every arm of an evaluation trains the same network for the same number of gradient
steps (its budget), so an arm with more samples sees each one less often rather than
getting more compute.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    """Three 3x3 conv layers (32, 64, 128) with batch norm, global average pooling, dropout,
    a linear head. Images of 16 px or more are pooled after the first conv too: on 28x28 that
    makes a step 3-4x cheaper (the second conv runs at 14x14, the third at 7x7); 8x8 images
    keep the original layout (pooling once)."""

    def __init__(self, channels: int, n_classes: int, size: int = 8) -> None:
        super().__init__()
        early = [nn.MaxPool2d(2)] if size >= 16 else []
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(), *early,
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - 0.5) / 0.5))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the space fidelity metrics are computed in."""
        return self.features((x - 0.5) / 0.5)


def classic_augmentation(kind: str = "randaugment", flips: bool = False, group: int = 16):
    """The augmentation a practitioner would use: small affine/crop, optional flips, and
    TrivialAugment or RandAugment (torchvision transforms v2), on pixels in [0, 1].

    v2 transforms draw one set of parameters per call, so each call takes a `group` of
    samples: a fresh draw every `group` samples (4 draws per batch of 64), at a fraction of
    per-sample call overhead; 16 rather than 4 keeps `make demo` under 10 minutes now that six
    arms use classic augmentation."""
    from torchvision.transforms import v2

    # RandAugment at 1 op of magnitude 5: on 8x8 digits with a fixed step budget the default
    # (2 ops, magnitude 9) and TrivialAugmentWide destroyed too much (see the issue note).
    policy = {"trivialaugment": v2.TrivialAugmentWide(),
              "randaugment": v2.RandAugment(num_ops=1, magnitude=5)}
    if kind not in policy:
        raise ValueError(f"unknown classic augmentation '{kind}'; use {sorted(policy)}")
    steps = [v2.RandomAffine(degrees=10, translate=(0.1, 0.1), scale=(0.9, 1.1))]
    if flips:
        steps.append(v2.RandomHorizontalFlip())
    steps.append(policy[kind])
    transform = v2.Compose(steps)

    def apply(batch: torch.Tensor) -> torch.Tensor:
        u8 = (batch * 255).round().to(torch.uint8)
        return torch.cat([transform(u8[i:i + group]) for i in range(0, len(u8), group)]).float() / 255

    return apply


LOSSES = ("ce", "reweight", "logit-adjust")


def loss_terms(y: np.ndarray, n_classes: int, loss: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(class weights, logit offsets) for a long-tail loss, from the training labels' prior.

    "reweight": class-balanced cross-entropy, weight 1 / n_c scaled to mean 1 over classes.
    "logit-adjust": the logit-adjusted loss of Menon et al. (ICLR 2021) with tau = 1: log
    prior added to the logits in training only, so plain argmax at test is prior-corrected."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if loss == "ce":
        return None, None
    if loss == "reweight":
        w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        return (w * (counts > 0).sum() / w.sum()).astype(np.float32), None
    if loss == "logit-adjust":
        prior = np.maximum(counts, 1e-3) / counts.sum()
        return None, np.log(prior).astype(np.float32)
    raise ValueError(f"unknown loss '{loss}'; use one of {LOSSES}")


def fit_cnn(x, y: np.ndarray | None, n_classes: int, *, steps: int, batch_size: int = 64,
            lr: float = 1e-3, seed: int = 0, device: str = "cpu", augment=None, loss: str = "ce") -> SmallCNN:
    """Train a SmallCNN on pixels in [0, 1] for exactly `steps` Adam steps (seeded).

    `x` is an array of images (with labels `y`), or an `OnlineSynthetic` (y None): then every
    pass over the data is a new epoch of it, with fresh synthetic samples and their loss weight.
    `augment`, if given, maps a CPU batch of pixels to an augmented batch each step; `loss`
    is plain cross-entropy or a long-tail loss (see `loss_terms`)."""
    online = hasattr(x, "epoch_arrays")
    weight, offset = loss_terms(x.labels() if online else y, n_classes, loss)
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # dropout draws from the global RNG: seed it, restore it
        torch.manual_seed(seed)
        first = x.x if online else x
        model = SmallCNN(first.shape[1], n_classes, min(first.shape[2:])).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        epoch, ws = 0, None

        def load(epoch: int):
            if not online:
                return torch.from_numpy(x).to(device), torch.from_numpy(y).to(device), None
            ex, ey, ew = x.epoch_arrays(epoch)
            ew = torch.from_numpy(ew).to(device) if x.weight != 1 else None
            return torch.from_numpy(ex).to(device), torch.from_numpy(ey).to(device), ew

        xt, yt, ws = load(epoch)
        w = torch.from_numpy(weight).to(device) if weight is not None else None
        off = torch.from_numpy(offset).to(device) if offset is not None else 0.0
        model.train()
        order, pos = torch.randperm(len(xt), generator=gen), 0
        for _ in range(steps):
            if pos + batch_size > len(order):
                if online:
                    epoch += 1
                    xt, yt, ws = load(epoch)
                order, pos = torch.randperm(len(xt), generator=gen), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            xb = augment(xt[idx].cpu()).to(device) if augment else xt[idx.to(device)]
            logits, yb = model(xb) + off, yt[idx.to(device)]
            if ws is None:
                step_loss = F.cross_entropy(logits, yb, weight=w)
            else:  # per-sample weights (synthetic samples), normalised like a class-weighted mean
                sw = ws[idx.to(device)] * (w[yb] if w is not None else 1.0)
                step_loss = (F.cross_entropy(logits, yb, reduction="none") * sw).sum() / sw.sum()
            opt.zero_grad(set_to_none=True)
            step_loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def predict_proba(model: SmallCNN, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    device = next(model.parameters()).device
    out = [F.softmax(model(torch.from_numpy(x[i:i + batch_size]).to(device)), dim=1).cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out)


@torch.no_grad()
def embed(model: SmallCNN, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    device = next(model.parameters()).device
    return np.concatenate([model.embed(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu().numpy()
                           for i in range(0, len(x), batch_size)])


class QualityFilter:
    """Rejects synthetic samples that a classifier trained on the real training split does
    not assign to their conditioned class with probability >= `threshold`. The classifier
    is trained with the class-balanced loss: trained plainly on an imbalanced split it
    rarely predicts a thin class, and would reject that class's every sample."""

    def __init__(self, model: SmallCNN, threshold: float) -> None:
        if not 0 <= threshold <= 1:
            raise ValueError(f"filter threshold must be in [0, 1], got {threshold}")
        self.model, self.threshold = model, threshold

    @classmethod
    def fit(cls, x: np.ndarray, y: np.ndarray, n_classes: int, threshold: float, *,
            steps: int = 300, seed: int = 0, device: str = "cpu") -> QualityFilter:
        return cls(fit_cnn(x, y, n_classes, steps=steps, seed=seed, device=device, loss="reweight"), threshold)

    def accept(self, x: np.ndarray, label: int) -> np.ndarray:
        """Boolean mask over `x` (pixels in [0, 1]) of samples kept for class `label`."""
        return predict_proba(self.model, x)[:, label] >= self.threshold


TABLE_CLASSIFIERS = ("logreg", "hgb", "rf")


def table_classifier(name: str, categorical: list[str], numeric: list[str], seed: int, balanced: bool = False):
    """A scikit-learn pipeline: one-hot categorical + standardised numeric -> classifier.

    `logreg` logistic regression, `hgb` histogram gradient boosting, `rf` random forest
    (200 trees). `seed` sets the classifier's own randomness (none for logreg);
    `balanced` sets class_weight="balanced", the loss-side long-tail fix for tables."""
    from sklearn.compose import ColumnTransformer
    from sklearn.ensemble import HistGradientBoostingClassifier, RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    weight = "balanced" if balanced else None
    models = {
        "logreg": lambda: LogisticRegression(max_iter=5000, class_weight=weight),
        "hgb": lambda: HistGradientBoostingClassifier(random_state=seed, class_weight=weight),
        "rf": lambda: RandomForestClassifier(n_estimators=200, random_state=seed, n_jobs=1, class_weight=weight),
    }
    if name not in models:
        from .errors import RecipeError

        raise RecipeError(f"unknown table classifier '{name}'; choose from {', '.join(TABLE_CLASSIFIERS)}")
    columns = ColumnTransformer([("categorical", OneHotEncoder(handle_unknown="ignore"), categorical),
                                 ("numeric", StandardScaler(), numeric)])
    return make_pipeline(columns, models[name]())
