"""The torch classifier fit shared by the array modalities (images, 1-D signals): losses, mixup,
soft teacher targets, a fixed step budget. The network comes from the modality (`network`).

Every arm of an evaluation trains the same network for the same number of gradient
steps (its budget), so an arm with more samples sees each one less often rather than
getting more compute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
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


class _Fit:
    """What every network fit shares (`fit_cnn`, `_fit_soft`): the seeded model with Adam and a one-cycle schedule,
    the batch cursor over shuffled passes, mixup's draws, and the optimiser step. Made by `_seeded_fit`."""

    def __init__(self, model: nn.Module, steps: int, lr: float, gen: torch.Generator, lambdas: np.ndarray | None,
                 batch_size: int, device: str) -> None:
        self.model, self.gen, self.lambdas, self.batch_size, self.device = model, gen, lambdas, batch_size, device
        self.opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
        self.sched = torch.optim.lr_scheduler.OneCycleLR(self.opt, max_lr=lr, total_steps=steps)
        self.n, self.order, self.pos = 0, torch.zeros(0, dtype=torch.long), 0

    def start(self, n: int) -> None:
        """Training mode and the first shuffled pass over `n` samples."""
        self.model.train()
        self.n, self.order, self.pos = n, torch.randperm(n, generator=self.gen), 0

    def fresh_pass(self, n: int) -> None:
        """The next batch starts a new pass, over `n` samples."""
        self.n, self.pos = n, len(self.order)

    def take(self, new_pass: Callable[[], int] | None = None) -> torch.Tensor:
        """The next batch's indices (CPU); a new shuffled pass when this one has no full batch left
        (`new_pass`, if given, loads the next pass's data and returns its size)."""
        if self.pos + self.batch_size > len(self.order):
            if new_pass is not None:
                self.n = new_pass()
            self.order, self.pos = torch.randperm(self.n, generator=self.gen), 0
        idx = self.order[self.pos:self.pos + self.batch_size]
        self.pos += self.batch_size
        return idx

    def loss(self, step: int, xb: torch.Tensor, forward: Callable, loss_of: Callable,
             *targets: torch.Tensor | None) -> torch.Tensor:
        """`loss_of(forward(xb), *targets)`; with mixup, the batch mixed with a shuffled copy of itself and the
        losses against the targets and against the shuffled targets mixed alike."""
        if self.lambdas is None:
            return loss_of(forward(xb), *targets)
        lam, perm = float(self.lambdas[step]), torch.randperm(len(xb), generator=self.gen).to(self.device)
        out = forward(lam * xb + (1 - lam) * xb[perm])
        return lam * loss_of(out, *targets) + (1 - lam) * loss_of(out, *(t if t is None else t[perm] for t in targets))

    def step(self, loss: torch.Tensor) -> None:
        self.opt.zero_grad(set_to_none=True)
        loss.backward()
        self.opt.step()
        self.sched.step()


@contextmanager
def _seeded_fit(network, shape: tuple, n_classes: int, *, steps: int, lr: float, seed: int, mixup: float,
                batch_size: int, device: str) -> Iterator[_Fit]:
    """A `_Fit` whose every draw follows `seed`: the batch order and mixup from their own generators, the
    network's initialisation, dropout and augmentation from the global torch RNG, restored on exit."""
    gen = torch.Generator().manual_seed(seed)
    lambdas = np.random.default_rng(seed).beta(mixup, mixup, steps) if mixup > 0 else None
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = network(shape, n_classes).to(device)
        yield _Fit(model, steps, lr, gen, lambdas, batch_size, device)


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
    drw_from = int(steps * (1 - DRW_SHARE)) if loss == "drw" else 0
    w_all = torch.from_numpy(weight).to(device) if weight is not None else None
    off = torch.from_numpy(offset).to(device) if offset is not None else 0.0
    epoch, data = 0, []

    def load() -> int:  # the arrays of the next pass: the same ones, or the next epoch of fresh synthetic samples
        if not online:
            data[:] = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device), None
        else:
            ex, ey, ew = x.epoch_arrays(epoch)
            data[:] = (torch.from_numpy(ex).to(device), torch.from_numpy(ey).to(device),
                       torch.from_numpy(ew).to(device) if x.weight != 1 else None)
        return len(data[0])

    with _seeded_fit(network, (x.x if online else x).shape[1:], n_classes, steps=steps, lr=lr, seed=seed,
                     mixup=mixup, batch_size=batch_size, device=device) as fit:
        fit.start(load())

        def next_epoch() -> int:
            nonlocal epoch
            epoch += 1
            return load()

        for step in range(steps):
            idx = fit.take(next_epoch if online else None)
            xt, yt, ws = data
            w = w_all if step >= drw_from else None
            xb = augment(xt[idx].cpu()).to(device) if augment else xt[idx.to(device)]
            yb = yt[idx.to(device)]
            sw = ws[idx.to(device)] if ws is not None else None
            fit.step(fit.loss(step, xb, lambda v: fit.model(v) + off,
                              lambda out, y_, sw_, w=w: _weighted_ce(out, y_, w, sw_), yb, sw))
    return fit.model.eval()


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

    with _seeded_fit(network, x.shape[1:], n_classes, steps=steps, lr=lr, seed=seed, mixup=mixup,
                     batch_size=batch_size, device=device) as fit:
        xt, tt, wt = (torch.from_numpy(a).to(device) for a in (xs, targets, sample_w))
        fit.start(n_real if join > 0 else len(xs))
        for step in range(steps):
            if step == join and fit.n != len(xs):
                fit.fresh_pass(len(xs))  # the synthetic samples join: a fresh pass over both
            idx = fit.take().to(device)
            xb = augment(xt[idx].cpu()).to(device) if augment else xt[idx]
            tb, wb = tt[idx], wt[idx]
            off = off_mix if step >= join else off_real
            if step >= drw_from:  # a sample's class weight: its target's expectation of the class weights
                wb = wb * (tb @ (cw_mix if step >= join else cw_real))
            fit.step(fit.loss(step, xb, lambda v, off=off: F.log_softmax(fit.model(v) + off, dim=1), _soft_ce, tb, wb))
    return fit.model.eval()


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
