"""The image learner: a SmallCNN under a fixed step budget, classic augmentation policies, the
quality filter, and `CnnLearner`, which fits one per arm (in worker processes when asked)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ..evaluation.arms import Arm
from ..evaluation.classifiers import (  # noqa: F401  (re-exported: the image fit's pieces in one place)
    SoftSynthetic,
    drw_weights,
    embed,
    predict_proba,
    select_by_teacher,
    soft_teacher_samples,
    teacher_targets,
)
from ..evaluation.classifiers import fit_cnn as fit_network

WIDTHS = (32, 64, 128)  # images under 16 px (8x8 digits)


WIDTHS_LARGE = (24, 48, 96)  # 16 px and more: chosen on validation for cost (reports/learner-width-pilot.md)


class SmallCNN(nn.Module):
    """Three 3x3 conv layers with batch norm, global average pooling, dropout, a linear head.

    Images under 16 px: widths (32, 64, 128), pooled once (after the second conv). Images of
    16 px or more are pooled after the first conv too, before its batch norm and ReLU (the
    second conv runs at 14x14 on 28x28, the third at 7x7), at widths (24, 48, 96): on long-tailed
    MNIST's validation split that layout matched (32, 64, 128) on the strong arms (logit
    adjustment + mixup 94.8 vs 95.1, DRW 95.2 vs 95.1, over-sampling + affine 96.5 vs 95.9, three
    seeds) at 0.6x the fit time; plain training on the imbalanced data scored lower (83.2 vs 89.0)."""

    def __init__(self, channels: int, n_classes: int, size: int = 8, widths: tuple[int, int, int] | None = None,
                 pool_first: bool | None = None) -> None:
        super().__init__()
        large = size >= 16
        self.widths = widths = widths or (WIDTHS_LARGE if large else WIDTHS)
        pool_first = large if pool_first is None else pool_first
        a, b, c = widths
        if not large:
            first = [nn.Conv2d(channels, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU()]
        elif pool_first:  # pooled before its batch norm and ReLU: those run on a quarter of the pixels
            first = [nn.Conv2d(channels, a, 3, padding=1), nn.MaxPool2d(2), nn.BatchNorm2d(a), nn.ReLU()]
        else:
            first = [nn.Conv2d(channels, a, 3, padding=1), nn.BatchNorm2d(a), nn.ReLU(), nn.MaxPool2d(2)]
        self.features = nn.Sequential(
            *first,
            nn.Conv2d(a, b, 3, padding=1), nn.BatchNorm2d(b), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(b, c, 3, padding=1), nn.BatchNorm2d(c), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(c, n_classes))
        self.to(memory_format=torch.channels_last)  # 1.4x faster convolutions on CPU (oneDNN)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate features: the space fidelity metrics are computed in."""
        return self.features(((x - 0.5) / 0.5).contiguous(memory_format=torch.channels_last))


# The declared candidate policies, per kind of image; evaluation fits `real+classic (NAME)` for
# each and keeps the one with the best validation balanced accuracy (or none, if none beats `real`).
CLASSIC_CANDIDATES = {"grayscale": ("affine", "pad-crop"), "color": ("crop-flip", "randaugment")}


CLASSIC_POLICIES = ("affine", "pad-crop", "crop-flip", "randaugment")


def classic_candidates(channels: int) -> tuple[str, ...]:
    """The declared classic-augmentation candidates for images with `channels` channels."""
    return CLASSIC_CANDIDATES["grayscale" if channels == 1 else "color"]


def _shift_pixels(size: int) -> float:
    # About 2 px on 28 px (what a practitioner uses on MNIST-like data), 1 px on 8x8 digits.
    return max(1.0, size / 14)


def _warp(batch: torch.Tensor, scale: torch.Tensor, shift_px: torch.Tensor, flip: torch.Tensor | None,
          mode: str, padding: str) -> torch.Tensor:
    """Per-sample scale, translation (pixels, [N, 2] as x, y) and optional horizontal flip."""
    n, _, h, w = batch.shape
    theta = torch.zeros(n, 2, 3)
    sx = 1 / scale * (torch.where(flip, -1.0, 1.0) if flip is not None else 1.0)
    theta[:, 0, 0], theta[:, 1, 1] = sx, 1 / scale
    theta[:, 0, 2], theta[:, 1, 2] = -2 * shift_px[:, 0] / w, -2 * shift_px[:, 1] / h
    grid = F.affine_grid(theta, list(batch.shape), align_corners=False)
    return F.grid_sample(batch, grid, mode=mode, padding_mode=padding, align_corners=False)


def classic_augmentation(kind: str = "affine"):
    """A classic augmentation policy: a function from a CPU batch of pixels in [0, 1] to an
    augmented batch, with fresh parameters per sample drawn from torch's global RNG (seeded
    by the caller).

    - affine: random translation (±size/14 px, about ±2 px on 28 px) and scale (±10 %), bilinear;
    - pad-crop: zero padding of size/10 px (at least 1) and a random crop back to size;
    - crop-flip: pad-crop + random horizontal flip (natural RGB images);
    - randaugment: crop-flip + RandAugment (2 ops, magnitude 9, torchvision v2), for RGB images.
    """
    if kind not in CLASSIC_POLICIES:
        raise ValueError(f"unknown classic augmentation '{kind}'; use one of {', '.join(CLASSIC_POLICIES)}")

    def affine(batch: torch.Tensor) -> torch.Tensor:
        n, size = len(batch), min(batch.shape[2:])
        shift = (torch.rand(n, 2) * 2 - 1) * _shift_pixels(size)
        scale = 1 + (torch.rand(n) * 2 - 1) * 0.1
        return _warp(batch, scale, shift, None, "bilinear", "zeros")

    def pad_crop(batch: torch.Tensor, flip: bool = False) -> torch.Tensor:
        n, size = len(batch), min(batch.shape[2:])
        pad = max(1, size // 10)
        shift = torch.randint(-pad, pad + 1, (n, 2)).float()
        flips = torch.rand(n) < 0.5 if flip else None
        return _warp(batch, torch.ones(n), shift, flips, "nearest", "zeros")

    if kind == "affine":
        return affine
    if kind == "pad-crop":
        return pad_crop
    if kind == "crop-flip":
        return lambda batch: pad_crop(batch, flip=True)
    from torchvision.transforms import v2

    policy = v2.RandAugment(num_ops=2, magnitude=9)

    def randaugment(batch: torch.Tensor, group: int = 8) -> torch.Tensor:
        # v2 draws one set of parameters per call: a fresh draw every `group` samples.
        u8 = (pad_crop(batch, flip=True) * 255).round().to(torch.uint8)
        return torch.cat([policy(u8[i:i + group]) for i in range(0, len(u8), group)]).float() / 255

    return randaugment


class QualityFilter:
    """Rejects synthetic samples that a classifier trained on the real training split does
    not assign to their conditioned class with probability >= `threshold`. The classifier
    is trained with the class-balanced loss: trained plainly on an imbalanced split it
    rarely predicts a thin class, and would reject that class's every sample."""

    def __init__(self, model: nn.Module, threshold: float) -> None:
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


def small_cnn(shape: tuple[int, ...], n_classes: int) -> SmallCNN:
    """The SmallCNN for images of `shape` (C, H, W)."""
    return SmallCNN(shape[0], n_classes, min(shape[1:]))


def fit_cnn(x, y, n_classes: int, **kw) -> nn.Module:
    """`classifiers.fit_cnn` with the image SmallCNN (see there for the arguments)."""
    return fit_network(x, y, n_classes, network=kw.pop("network", None) or small_cnn, **kw)


class CnnLearner:
    """Images: a SmallCNN, the same step budget for every arm. With `workers` > 1 the fits of a
    batch run side by side in worker processes of one torch thread each (evaluation/fitpool.py)."""

    soft_targets = True  # fits teacher arms (GAN samples with soft targets from another arm's model)

    def __init__(self, n_classes: int, steps: int, batch_size: int, lr: float, device: str,
                 workers: int = 1, network: str = "smallcnn", ray: str = "") -> None:
        from ..evaluation.learner_spec import short_name

        self.network = network  # networks.py: smallcnn, a torchvision ResNet, or a factory by import path
        self.name = "SmallCNN" if network == "smallcnn" else short_name(network)
        self.n_classes, self.steps = n_classes, steps
        self.batch_size, self.lr, self.device = batch_size, lr, device
        self.workers = workers if device == "cpu" else 1
        self.models: dict[tuple[str, int], object] = {}  # (arm, seed) -> fitted SmallCNN, for teacher arms
        self._pool, self._evals = None, None
        self.ray, self.die_once = ray, ""  # ray: the fits as Ray tasks (evaluation/ray_fits.py); die_once: tests

    def cache_identity(self) -> str:
        """Everything about this learner that changes a fit (fit_cache.py keys a kept fit by it)."""
        return json.dumps([type(self).__name__, self.network, self.cache_key(), self.n_classes, self.steps,
                           self.batch_size, self.lr, self.device])

    def model_state(self, arm: Arm, seed: int) -> dict | None:
        """The fitted network of (arm, seed) as arrays, when a later teacher arm may use it."""
        from ..evaluation.fitpool import state_arrays

        model = self.models.get((arm.name, seed))
        return state_arrays(model) if model is not None else None

    def restore_model(self, arm: Arm, seed: int, state: dict, shape: tuple) -> None:
        self.models[(arm.name, seed)] = _rebuild(state, shape, self.n_classes, self.network)

    def cache_key(self) -> str:
        """What else a fit depends on: the sha256 of the network's weights file, if it names one."""
        from .networks import split_weights

        path = split_weights(self.network)[1]
        return hashlib.sha256(Path(path).expanduser().read_bytes()).hexdigest() if path else ""

    def fit_predict(self, arm: Arm, x, y, seed: int, evals: Sequence) -> list[np.ndarray]:
        soft = self._teacher_samples(arm, seed) if arm.soft is not None else None
        model = _fit(self._job(arm, x, y, seed, soft))
        if arm.kind != "gan":
            self.models[(arm.name, seed)] = model  # a later arm may use it as its teacher
        return [predict_proba(model, e).argmax(1) for e in evals]

    def fit_predict_many(self, jobs: Iterable[tuple[Arm, object, object, int]], evals: Sequence) -> Iterator:
        """`fit_predict` for each (arm, x, y, seed), in order; in the worker pool when there is one.
        An arm with fresh draws every epoch (an OnlineSynthetic) is fitted here, in this process."""
        if self.workers < 2 and not self.ray:
            for arm, x, y, seed in jobs:
                yield self.fit_predict(arm, x, y, seed, evals)
            return
        if self._pool is None:
            self._pool, self._evals = self._start_pool({"evals": list(evals)}), evals
        elif evals is not self._evals:
            raise ValueError("a CnnLearner's worker pool predicts one set of evaluation inputs")
        local: dict[int, list[np.ndarray]] = {}  # index -> predictions of an in-process fit
        order: list[tuple[int, Arm, int, tuple]] = []  # the pooled jobs: index, arm, seed, image shape

        def remote():
            for i, (arm, x, y, seed) in enumerate(jobs):
                if hasattr(x, "epoch_arrays"):
                    local[i] = self.fit_predict(arm, x, y, seed, evals)
                    continue
                order.append((i, arm, seed, tuple(x.shape[1:])))
                soft = self._teacher_samples(arm, seed) if arm.soft is not None else None
                yield self._job(arm, x, y, seed, soft) | {"keep": arm.kind != "gan"}

        done = 0
        for k, (preds, state) in enumerate(self._pool.imap(_fit_in_worker, remote())):
            i, arm, seed, shape = order[k]
            while done < i:  # in-process fits drawn before this pooled one
                yield local.pop(done)
                done += 1
            if state is not None:
                self.models[(arm.name, seed)] = _rebuild(state, shape, self.n_classes, self.network)
            yield preds
            done += 1
        for i in sorted(local):  # in-process fits drawn after the last pooled one
            yield local.pop(i)

    def _start_pool(self, shared: dict):
        """Local worker processes, or Ray tasks (one CPU each, a GPU each on CUDA) when `ray` names a cluster."""
        if self.ray:
            from ..evaluation.ray_fits import RayFitPool

            return RayFitPool(self.ray, self.workers, shared, gpus=1.0 if self.device.startswith("cuda") else 0.0,
                              die_once=self.die_once)
        from ..evaluation.fitpool import FitPool

        return FitPool(self.workers, shared)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.close()
            self._pool, self._evals = None, None

    def _job(self, arm: Arm, x, y, seed: int, soft) -> dict:
        return {"x": x, "y": y, "n_classes": self.n_classes, "steps": self.steps, "batch_size": self.batch_size,
                "lr": self.lr, "seed": seed, "device": self.device, "classic": arm.classic, "loss": arm.loss,
                "mixup": arm.mixup, "soft": soft, "network": self.network}

    def _teacher_samples(self, arm: Arm, seed: int):
        return soft_teacher_samples(arm, seed, self.models[(arm.teacher, seed)], self.n_classes)


def _fit(job: dict):
    from .networks import network_factory

    network = job.get("network", "smallcnn")
    return fit_cnn(job["x"], job["y"], job["n_classes"], steps=job["steps"], batch_size=job["batch_size"],
                   lr=job["lr"], seed=job["seed"], device=job["device"],
                   augment=classic_augmentation(job["classic"]) if job["classic"] else None,
                   loss=job["loss"], mixup=job["mixup"], soft=job["soft"],
                   network=None if network == "smallcnn" else network_factory(network, small_cnn))


def _fit_in_worker(job: dict, shared: dict) -> tuple[list[np.ndarray], dict | None]:
    """One fit in a worker process: its predictions on the shared evaluation inputs, and the
    model's state when a later arm may use it as its teacher."""
    from ..evaluation.fitpool import state_arrays

    model = _fit(job)
    return [predict_proba(model, e).argmax(1) for e in shared["evals"]], state_arrays(model) if job["keep"] else None


def _rebuild(state: dict, shape: tuple, n_classes: int, network: str = "smallcnn"):
    """The network a worker fitted on images of `shape` (C, H, W), from its state."""
    from .networks import network_factory

    model = network_factory(network, small_cnn)(shape, n_classes)
    model.load_state_dict({k: torch.from_numpy(np.array(v)) for k, v in state.items()})
    return model.eval()
