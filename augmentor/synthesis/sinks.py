"""Sinks: where generated samples go, behind one small interface.

Every sink takes batches with `add(...)`, returns the manifest `file` entry of each sample
it took, and finishes with `close()`:

- `NpzSink`: `shard-NNNNN.npz` files of a fixed number of samples, each written atomically (images, signals);
- the modalities' own: `image.writer.PngSink` (PNGs), `table.writer.TableSink` (CSV / parquet),
  `signal.writer.WavSink` (WAV clips).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

from ..core.atomic import atomic_path
from ..core.errors import UnsafeArtifactError


def class_folder(root: Path, name: str) -> Path:
    """The folder of class `name` under `root`, created on first use. Names were checked
    (core/names.py) when the model or data was read; this re-checks that the folder is a direct
    child of `root`, so no name can ever reach outside it."""
    folder = root / name
    if folder.parent != root or name in ("", ".", "..") or folder.name != name:
        raise UnsafeArtifactError(f"class name {name!r} is not a safe folder name")
    folder.mkdir(exist_ok=True)
    return folder


def die_with_parent(parent: int) -> None:
    """Worker initializer: a worker must not outlive a parent that was killed (SIGKILL
    gives the parent no chance to stop its pool). Linux: the kernel sends SIGKILL when the
    parent dies; elsewhere a daemon thread polls the parent's pid."""
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)
        return
    import threading
    import time

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class NpzSink:
    """Collects samples into `shard-NNNNN.npz` files of `shard_size` samples each
    (x: uint8 N x C x H x W, y: label index, classes)."""

    def __init__(self, root: Path, classes: tuple[str, ...], shard_size: int, first_shard: int = 0) -> None:
        self.root, self.classes, self.shard_size = root, classes, shard_size
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.buffered, self.shard = 0, first_shard

    def add(self, name: str, stems: list[str], pixels: np.ndarray) -> list[str]:
        """Buffer a batch of one class; return the manifest `file` entry of each sample."""
        refs, pos, label = [], 0, self.classes.index(name)
        while pos < len(pixels):
            take = min(self.shard_size - self.buffered, len(pixels) - pos)
            refs += [f"shard-{self.shard:05d}.npz#{self.buffered + i}" for i in range(take)]
            self.xs.append(pixels[pos:pos + take])
            self.ys.append(np.full(take, label, np.int64))
            self.buffered, pos = self.buffered + take, pos + take
            if self.buffered == self.shard_size:
                self.flush()
        return refs

    def close(self) -> None:
        self.flush()

    def flush(self) -> None:
        if not self.buffered:
            return
        with atomic_path(self.root / f"shard-{self.shard:05d}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, x=np.concatenate(self.xs), y=np.concatenate(self.ys),
                     classes=np.array(self.classes, dtype=str))
        self.xs, self.ys, self.buffered, self.shard = [], [], 0, self.shard + 1
