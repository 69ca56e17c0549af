"""Online synthetic data: fresh GAN samples every epoch, mixed with the real training set.

A fixed synthetic set is seen again every epoch, so a classifier can learn its quirks; a
generator can instead give every epoch new samples at no storage cost. `OnlineSynthetic`
is a map-style PyTorch `Dataset` over one epoch's mix:

  real images (all of them, every epoch)
  + for each class c below its target t_c: round(ratio x (t_c - n_c)) samples drawn afresh
    for this epoch (none for classes at or above target)

and each item is `(image, label, weight)`: weight 1 for real samples, `weight` for synthetic
ones (multiply the per-sample loss by it). Call `set_epoch(e)` before each epoch (as with
`DistributedSampler`); epoch e's fresh samples come from the generation seed derived from
(seed, e), so a run is reproducible per seed and two epochs never share a draw.

`refresh` (0 < r <= 1) is the fraction of each class's synthetic samples replaced every epoch:
1 draws all of them afresh; r < 1 draws ceil(r x n) new ones per epoch and keeps the most
recent n (a first-in first-out window over the epochs' draws), which divides the generation
cost by 1/r when generating costs as much as training (reports/benchmarks.md).

The source is anything with `classes` and `generate(counts, seed=..., stored=True)`:
`OnnxGenerator` (an exported model) or `augmentor.serving.client.Client` (a server).

    from augmentor import OnlineSynthetic, OnnxGenerator
    ds = OnlineSynthetic(x_real, y_real, classes, open_generator("generator.onnx"), ratio=1.0, seed=0)
    for epoch in range(epochs):
        ds.set_epoch(epoch)
        for x, y, w in DataLoader(ds, batch_size=64, shuffle=True):
            loss = (F.cross_entropy(model(x), y, reduction="none") * w).mean()
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import numpy as np
import torch

from ..core.errors import InvalidDataError


def epoch_seed(seed: int, epoch: int) -> int:
    """The generation seed of epoch `epoch`: a 32-bit integer from numpy's SeedSequence, inside the
    range `augmentor generate --seed` and the server accept, so a server can be the source."""
    return int(np.random.SeedSequence([seed, epoch, 0x5EED]).generate_state(1, np.uint32)[0])


class OnlineSynthetic(torch.utils.data.Dataset):
    """Real samples plus fresh synthetic samples each epoch for the classes below target."""

    def __init__(self, x: np.ndarray, y: np.ndarray, classes: Sequence[str], source, *,
                 target: Mapping[str, int] | None = None, ratio: float = 1.0, weight: float = 1.0,
                 refresh: float = 1.0, seed: int = 0) -> None:
        if not 0 <= ratio <= 100:
            raise InvalidDataError(f"online synthetic ratio must be in [0, 100], got {ratio}")
        if not 0 < weight <= 100:
            raise InvalidDataError(f"online synthetic weight must be in (0, 100], got {weight}")
        if not 0 < refresh <= 1:
            raise InvalidDataError(f"online synthetic refresh must be in (0, 1], got {refresh}")
        self.x, self.y = np.asarray(x, np.float32), np.asarray(y, np.int64)
        self.classes, self.source = tuple(classes), source
        missing = [c for c in self.classes if c not in tuple(source.classes)]
        counts = np.bincount(self.y, minlength=len(self.classes))
        target = dict(target) if target is not None else {c: int(counts.max()) for c in self.classes}
        unknown = [c for c in target if c not in self.classes]
        if unknown:
            raise InvalidDataError(f"online synthetic target names unknown class(es) {unknown}; "
                                   f"classes are {list(self.classes)}")
        self.per_class = {c: round(ratio * max(0, int(target.get(c, n)) - int(n)))
                          for c, n in zip(self.classes, counts)}
        self.per_class = {c: n for c, n in self.per_class.items() if n > 0}
        short = [c for c in self.per_class if c in missing]
        if short:
            raise InvalidDataError(f"the generator has no class {short}; it generates {list(source.classes)}")
        self.weight, self.refresh, self.seed, self.epoch = float(weight), float(refresh), int(seed), 0
        self.fresh = {c: min(n, max(1, math.ceil(refresh * n))) for c, n in self.per_class.items()}
        self._drawn: tuple[int, np.ndarray, np.ndarray] | None = None
        self._draws: dict[int, dict[str, np.ndarray]] = {}  # epoch -> class -> that epoch's fresh samples

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def labels(self) -> np.ndarray:
        """The labels of one epoch's mix (the same every epoch): real, then synthetic by class."""
        syn = [np.full(n, self.classes.index(c), np.int64) for c, n in self.per_class.items()]
        return np.concatenate([self.y, *syn])

    def _draw(self, epoch: int) -> dict[str, np.ndarray]:
        """Epoch `epoch`'s fresh samples per class: all n at epoch 0, ceil(refresh x n) after."""
        if epoch not in self._draws:
            counts = self.per_class if epoch == 0 else self.fresh
            x, y = self.source.generate(counts, seed=epoch_seed(self.seed, epoch), stored=True)
            names = np.asarray(self.source.classes, dtype=object)[y]
            self._draws[epoch] = {c: np.asarray(x[names == c], np.float32) for c in counts}
        return self._draws[epoch]

    def synthetic(self, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray]:
        """This epoch's synthetic samples (pixels in [0, 1], 8-bit as stored) and their labels,
        class by class in `per_class` order: the newest n of the epochs' draws (newest first)."""
        epoch = self.epoch if epoch is None else epoch
        if self._drawn is None or self._drawn[0] != epoch:
            xs, ys = [], []
            for c, n in self.per_class.items():
                parts, have, e = [], 0, epoch
                while have < n:
                    block = self._draw(e)[c]
                    take = block[: n - have]
                    parts.append(take)
                    have += len(take)
                    if e == 0:
                        break
                    e -= 1
                xs += parts
                ys.append(np.full(have, self.classes.index(c), np.int64))
            x = np.concatenate(xs) if xs else np.zeros((0, *self.x.shape[1:]), np.float32)
            y = np.concatenate(ys) if ys else np.zeros(0, np.int64)
            self._drawn = (epoch, x, y)
            keep = set(range(max(0, epoch - math.ceil(1 / self.refresh) - 1), epoch + 2)) | {0}
            self._draws = {e: d for e, d in self._draws.items() if e in keep}  # memory: the window only
        return self._drawn[1], self._drawn[2]

    def epoch_arrays(self, epoch: int | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(x, y, weight) of one whole epoch: for loops that index arrays instead of a DataLoader."""
        sx, sy = self.synthetic(epoch)
        w = np.concatenate([np.ones(len(self.y), np.float32), np.full(len(sy), self.weight, np.float32)])
        return np.concatenate([self.x, sx]), np.concatenate([self.y, sy]), w

    def __len__(self) -> int:
        return len(self.y) + sum(self.per_class.values())

    def __getitem__(self, i: int) -> tuple[torch.Tensor, int, float]:
        n = len(self.y)
        if not -len(self) <= i < len(self):
            raise IndexError(i)
        i %= len(self)
        if i < n:
            return torch.from_numpy(self.x[i]), int(self.y[i]), 1.0
        sx, sy = self.synthetic()
        return torch.from_numpy(sx[i - n]), int(sy[i - n]), self.weight


class FilteredSource:
    """A source whose samples pass `accept(x, class_name) -> bool mask` (the quality filter):
    it draws `oversample` x the request and keeps each class's first accepted samples, so a
    class can come back short when the filter rejects most of it (never padded with rejects)."""

    def __init__(self, source, accept, oversample: int = 2) -> None:
        self.source, self.accept, self.oversample = source, accept, oversample
        self.classes = tuple(source.classes)

    def generate(self, counts: Mapping[str, int], seed: int = 0, stored: bool = True):
        x, y = self.source.generate({c: n * self.oversample for c, n in counts.items()}, seed=seed, stored=stored)
        keep = np.zeros(len(y), bool)
        for c, n in counts.items():
            idx = np.flatnonzero(y == self.classes.index(c))
            ok = idx[self.accept(x[idx], c)]
            keep[ok[:n]] = True
        return x[keep], y[keep]
