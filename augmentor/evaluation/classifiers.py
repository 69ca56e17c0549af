"""The torch classifier fit shared by the array modalities (images, 1-D signals): losses, mixup,
soft teacher targets, a fixed step budget. The network comes from the modality (`network`).

Every arm of an evaluation trains the same network for the same number of gradient
steps (its budget), so an arm with more samples sees each one less often rather than
getting more compute.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from .arms import (  # noqa: F401 (re-exported)
    SOFT_LOSSES,
    plan_targets,
    select_by_teacher,
    teacher_choice,
    teacher_picks,
    teacher_targets,
)

LOSSES = ("ce", "reweight", "logit-adjust", "drw")




DRW_SHARE = 0.5  # deferred re-weighting: class-balanced weights for the last half of the steps (pilot)


DRW_BETA = 0.9999  # effective-number weights (Cui et al. 2019), as in LDAM-DRW (Cao et al. 2019)


def loss_terms(y: np.ndarray, n_classes: int, loss: str) -> tuple[np.ndarray | None, np.ndarray | None]:
    """(class weights, logit offsets) for a long-tail loss, from the training labels' prior.

    "reweight": class-balanced cross-entropy, weight 1 / n_c scaled to mean 1 over classes.
    "logit-adjust": the logit-adjusted loss of Menon et al. (ICLR 2021) with tau = 1: log
    prior added to the logits in training only, so plain argmax at test is prior-corrected.
    "drw": the effective-number class weights (1 - beta) / (1 - beta^n_c), mean 1 over classes;
    `fit_cnn` applies them only in the last `DRW_SHARE` of the steps (deferred re-weighting)."""
    counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    if loss == "ce":
        return None, None
    if loss == "reweight":
        w = np.where(counts > 0, 1.0 / np.maximum(counts, 1), 0.0)
        return (w * (counts > 0).sum() / w.sum()).astype(np.float32), None
    if loss == "drw":
        return drw_weights(counts), None
    if loss == "logit-adjust":
        prior = np.maximum(counts, 1e-3) / counts.sum()
        return None, np.log(prior).astype(np.float32)
    raise ValueError(f"unknown loss '{loss}'; use one of {LOSSES}")


def drw_weights(counts: np.ndarray) -> np.ndarray:
    """Effective-number class weights (1 - beta) / (1 - beta^n_c), mean 1 over the classes present;
    `counts` may be fractional (a mixture's effective counts)."""
    counts = np.asarray(counts, np.float64)
    w = np.where(counts > 0, (1 - DRW_BETA) / (1 - DRW_BETA ** np.maximum(counts, 1)), 0.0)
    return (w * (counts > 0).sum() / w.sum()).astype(np.float32)


@dataclass(frozen=True)
class SoftSynthetic:
    """Synthetic samples that join a classifier's training softly: `x` with teacher target
    distributions `targets` (rows sum to 1), a loss `weight` relative to a real sample, and
    `join_at`, the share of the steps after which they enter the batches (0: from the start;
    M2m injects generated samples only in the last fifth). `prior` "mixture" computes the
    logit-adjustment prior on the effective mixture once they join (real counts + weight x
    the synthetic target mass), "real" keeps the real counts."""

    x: np.ndarray
    targets: np.ndarray
    weight: float = 1.0
    join_at: float = 0.0
    prior: str = "mixture"


def fit_cnn(x, y: np.ndarray | None, n_classes: int, *, steps: int, batch_size: int = 64,
            lr: float = 1e-3, seed: int = 0, device: str = "cpu", augment=None, loss: str = "ce",
            mixup: float = 0.0, soft: SoftSynthetic | None = None, network) -> nn.Module:
    """Train `network` on an array of samples for exactly `steps` Adam steps (seeded).

    `x` is an array of images (with labels `y`), or an `OnlineSynthetic` (y None): then every
    pass over the data is a new epoch of it, with fresh synthetic samples and their loss weight.
    `augment`, if given, maps a CPU batch of pixels to an augmented batch each step; `loss`
    is plain cross-entropy or a long-tail loss (see `loss_terms`); `mixup` > 0 mixes each batch
    with a shuffled copy of itself, lambda ~ Beta(mixup, mixup) per batch (Zhang et al. 2018).
    `soft` adds synthetic samples with soft teacher targets (see `SoftSynthetic`; losses "ce"
    and "logit-adjust" only). `network(shape, n_classes)` builds the model: the modality's (the image
    SmallCNN, the 1-D CNN of signals)."""
    if soft is not None:
        return _fit_soft(x, y, n_classes, soft, steps=steps, batch_size=batch_size, lr=lr, seed=seed,
                         device=device, augment=augment, loss=loss, mixup=mixup, network=network)
    online = hasattr(x, "epoch_arrays")
    weight, offset = loss_terms(x.labels() if online else y, n_classes, loss)
    gen = torch.Generator().manual_seed(seed)
    lambdas = np.random.default_rng(seed).beta(mixup, mixup, steps) if mixup > 0 else None
    drw_from = int(steps * (1 - DRW_SHARE)) if loss == "drw" else 0
    with torch.random.fork_rng(devices=[]):  # dropout and augmentation draw from the global RNG
        torch.manual_seed(seed)
        first = x.x if online else x
        model = network(first.shape[1:], n_classes).to(device)
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
        w_all = torch.from_numpy(weight).to(device) if weight is not None else None
        off = torch.from_numpy(offset).to(device) if offset is not None else 0.0
        model.train()
        order, pos = torch.randperm(len(xt), generator=gen), 0
        for step in range(steps):
            if pos + batch_size > len(order):
                if online:
                    epoch += 1
                    xt, yt, ws = load(epoch)
                order, pos = torch.randperm(len(xt), generator=gen), 0
            idx = order[pos:pos + batch_size]
            pos += batch_size
            w = w_all if step >= drw_from else None
            xb = augment(xt[idx].cpu()).to(device) if augment else xt[idx.to(device)]
            yb = yt[idx.to(device)]
            sw = ws[idx.to(device)] if ws is not None else None
            if lambdas is None:
                step_loss = _weighted_ce(model(xb) + off, yb, w, sw)
            else:
                lam, perm = float(lambdas[step]), torch.randperm(len(xb), generator=gen).to(device)
                logits = model(lam * xb + (1 - lam) * xb[perm]) + off
                step_loss = (lam * _weighted_ce(logits, yb, w, sw)
                             + (1 - lam) * _weighted_ce(logits, yb[perm], w, sw[perm] if sw is not None else None))
            opt.zero_grad(set_to_none=True)
            step_loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def _fit_soft(x: np.ndarray, y: np.ndarray, n_classes: int, soft: SoftSynthetic, *, steps: int, batch_size: int,
              lr: float, seed: int, device: str, augment, loss: str, mixup: float, network) -> nn.Module:
    """`fit_cnn` with soft-labelled synthetic samples: soft cross-entropy on target rows
    (one-hot for real samples), per-sample weights, a join step, and the loss's prior (logit
    adjustment) or class weights (DRW) from the effective mixture once the samples join. Until
    they join it is `fit_cnn`'s fit with the same loss and mixup (tested)."""
    if loss not in SOFT_LOSSES:
        raise ValueError(f"soft synthetic targets support the {', '.join(SOFT_LOSSES)} losses, not '{loss}'")
    n_real, t_soft = len(x), np.asarray(soft.targets, np.float32)
    if len(soft.x) != len(t_soft) or t_soft.shape[1:] != (n_classes,):
        raise ValueError(f"soft targets must be {len(soft.x)} x {n_classes}, got {t_soft.shape}")
    xs = np.concatenate([x, soft.x]).astype(np.float32)
    targets = np.concatenate([np.eye(n_classes, dtype=np.float32)[y], t_soft])
    sample_w = np.concatenate([np.ones(n_real, np.float32), np.full(len(t_soft), soft.weight, np.float32)])
    join = int(steps * soft.join_at)
    real_counts = np.bincount(y, minlength=n_classes).astype(np.float64)
    mix_counts = real_counts + (soft.weight * t_soft.sum(0) if soft.prior == "mixture" else 0.0)

    def offset(counts: np.ndarray) -> torch.Tensor | float:
        if loss != "logit-adjust":
            return 0.0
        return torch.from_numpy(np.log(np.maximum(counts, 1e-3) / counts.sum()).astype(np.float32)).to(device)

    off_real, off_mix = offset(real_counts), offset(mix_counts)  # before and after the synthetic samples join
    # DRW: effective-number class weights from the last DRW_SHARE of the steps, of the real counts and then
    # (once the synthetic samples join) of the mixture's; a sample's class weight is its target's expectation
    drw_from = int(steps * (1 - DRW_SHARE)) if loss == "drw" else steps
    cw_real, cw_mix = (torch.from_numpy(drw_weights(c)).to(device) for c in (real_counts, mix_counts))

    gen = torch.Generator().manual_seed(seed)
    lambdas = np.random.default_rng(seed).beta(mixup, mixup, steps) if mixup > 0 else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = network(x.shape[1:], n_classes).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        xt, tt, wt = (torch.from_numpy(a).to(device) for a in (xs, targets, sample_w))
        model.train()
        pool = n_real if join > 0 else len(xs)
        order, pos = torch.randperm(pool, generator=gen), 0
        for step in range(steps):
            if step == join and pool != len(xs):
                pool, pos = len(xs), len(order)  # the synthetic samples join: a fresh pass over both
            if pos + batch_size > len(order):
                order, pos = torch.randperm(pool, generator=gen), 0
            idx = order[pos:pos + batch_size].to(device)
            pos += batch_size
            xb = augment(xt[idx].cpu()).to(device) if augment else xt[idx]
            tb, wb = tt[idx], wt[idx]
            off = off_mix if step >= join else off_real
            if step >= drw_from:  # a sample's class weight: its target's expectation of the class weights
                wb = wb * (tb @ (cw_mix if step >= join else cw_real))
            if lambdas is None:
                step_loss = _soft_ce(F.log_softmax(model(xb) + off, dim=1), tb, wb)
            else:  # as fit_cnn's mixup: the two label sets' weighted losses, mixed
                lam, perm = float(lambdas[step]), torch.randperm(len(xb), generator=gen).to(device)
                logp = F.log_softmax(model(lam * xb + (1 - lam) * xb[perm]) + off, dim=1)
                step_loss = lam * _soft_ce(logp, tb, wb) + (1 - lam) * _soft_ce(logp, tb[perm], wb[perm])
            opt.zero_grad(set_to_none=True)
            step_loss.backward()
            opt.step()
            sched.step()
    return model.eval()


def _soft_ce(logp: torch.Tensor, targets: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Cross-entropy against target distributions, the weighted mean over the batch."""
    return (-(targets * logp).sum(1) * w).sum() / w.sum()


def _weighted_ce(logits: torch.Tensor, y: torch.Tensor, w: torch.Tensor | None,
                 sample_w: torch.Tensor | None) -> torch.Tensor:
    if sample_w is None:
        return F.cross_entropy(logits, y, weight=w)
    # per-sample weights (synthetic samples), normalised like a class-weighted mean
    sw = sample_w * (w[y] if w is not None else 1.0)
    return (F.cross_entropy(logits, y, reduction="none") * sw).sum() / sw.sum()


def copies(x, y, seed: int, augment=None, mixup: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
    """For a learner without a training loop (one fit() call): `augment` (a classic augmentation policy's
    function of a torch batch) adds one transformed copy of every sample, mixup (alpha > 0) one mixed copy
    labelled by the larger share (lambda ~ Beta(a, a)). Seeded."""
    x, y = np.asarray(x, np.float32), np.asarray(y)
    rng = np.random.default_rng(seed)
    if augment is not None:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            extra = augment(torch.from_numpy(x)).numpy()
        x, y = np.concatenate([x, extra]), np.concatenate([y, y])
    if mixup:
        perm = rng.permutation(len(x))
        lam = rng.beta(mixup, mixup, len(x)).astype(np.float32).reshape(-1, *([1] * (x.ndim - 1)))
        mixed = lam * x + (1 - lam) * x[perm]
        x, y = np.concatenate([x, mixed]), np.concatenate([y, np.where(lam.ravel() >= 0.5, y, y[perm])])
    return x, y


def soft_teacher_samples(arm, seed: int, teacher: nn.Module, n_classes: int) -> SoftSynthetic:
    """A teacher arm's GAN samples for a network fit: its pool draw for `seed`, the top-k per class by
    `teacher` (arms.teacher_choice), with the plan's targets, weight and join step."""
    xs, targets = [], []
    for plan, pool, probs, labels, keep in teacher_picks(arm, seed, lambda x: predict_proba(teacher, x), n_classes):
        xs.append(pool.x[keep])
        targets.append(plan_targets(plan, probs[keep], labels[keep], n_classes))
    plan = arm.soft
    return SoftSynthetic(np.concatenate(xs), np.concatenate(targets), plan.weight, plan.join_at)


@torch.no_grad()
def predict_proba(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    device = next(model.parameters()).device
    out = [F.softmax(model(torch.from_numpy(x[i:i + batch_size]).to(device)), dim=1).cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out)


@torch.no_grad()
def embed(model: nn.Module, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    device = next(model.parameters()).device
    return np.concatenate([model.embed(torch.from_numpy(x[i:i + batch_size]).to(device)).cpu().numpy()
                           for i in range(0, len(x), batch_size)])


def smote_arrays(train, strategy: dict, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """SMOTE on the flattened samples of an array modality (images: every pixel, signals: every channel and
    time step a feature), reshaped back to the samples' shape."""
    from imblearn.over_sampling import SMOTE

    x, y = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed).fit_resample(
        train.x.reshape(len(train), -1), train.y)
    return x.reshape(-1, *train.shape).astype(np.float32), y
