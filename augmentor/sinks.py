"""Sinks: where generated samples go, behind one small interface.

Every sink takes batches with `add(...)`, returns the manifest `file` entry of each sample
it took, and finishes with `close()`:

- `PngSink`: one PNG per sample in a class folder (ImageFolder), encoded in worker
  processes when asked, overlapping generation;
- `NpzSink`: `shard-NNNNN.npz` files of a fixed number of samples, each written atomically;
- `TableSink`: one CSV or parquet file, appended batch by batch.
"""

from __future__ import annotations

import io
import multiprocessing
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from PIL import Image

from .atomic import atomic_path
from .errors import UnsafeArtifactError


def png_bytes(pixels_u8: np.ndarray) -> bytes:
    """C x H x W uint8 -> PNG bytes (deterministic: no timestamps)."""
    arr = pixels_u8[0] if pixels_u8.shape[0] == 1 else pixels_u8.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def class_folder(root: Path, name: str) -> Path:
    """The folder of class `name` under `root`, created on first use. Names were checked
    (names.py) when the model or data was read; this re-checks that the folder is a direct
    child of `root`, so no name can ever reach outside it."""
    folder = root / name
    if folder.parent != root or name in ("", ".", "..") or folder.name != name:
        raise UnsafeArtifactError(f"class name {name!r} is not a safe folder name")
    folder.mkdir(exist_ok=True)
    return folder


class PngSink:
    """Encodes and writes PNGs, in worker processes when `workers` > 1.

    Batches are handed to the workers while the caller generates the next batch, so
    generation and encoding overlap; at most 2 x workers batches are in flight.
    Workers are forked on Linux: they only encode PNGs and write files, touching no
    torch or ONNX Runtime state, and forking spares each one the import of torch.
    """

    def __init__(self, root: Path, workers: int) -> None:
        self.root, self.pending = root, []
        self.pool = None
        if workers > 1:
            method = "fork" if sys.platform.startswith("linux") else "spawn"
            self.pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context(method),
                                            initializer=_die_with_parent, initargs=(os.getpid(),))
            self.limit = 2 * workers

    def add(self, name: str, stems: list[str], pixels: np.ndarray) -> list[str]:
        """Write one class's batch as `NAME/STEM.png` files; return their relative paths."""
        folder = class_folder(self.root, name)
        rels = [f"{folder.name}/{stem}.png" for stem in stems]
        if self.pool is None:
            write_pngs(self.root, rels, pixels)
        else:
            self.pending.append(self.pool.submit(write_pngs, self.root, rels, pixels))
            while len(self.pending) > self.limit:
                self.pending.pop(0).result()
        return rels

    def close(self) -> None:
        if self.pool is not None:
            for f in self.pending:
                f.result()
            self.pool.shutdown()


def _die_with_parent(parent: int) -> None:
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


def write_pngs(root: Path, rels: list[str], pixels: np.ndarray) -> None:
    for rel, img in zip(rels, pixels):
        (root / rel).write_bytes(png_bytes(img))


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


class TableSink:
    """Appends DataFrame chunks to one CSV or parquet file (memory stays one batch)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt, self.writer, self.header, self.rows = path, fmt, None, True, 0

    def add(self, frame: pd.DataFrame) -> list[str]:
        """Append `frame`; return `FILE#ROW` for each of its rows."""
        refs = [f"{self.path.name}#{self.rows + i}" for i in range(len(frame))]
        self.rows += len(frame)
        self._write(frame)
        return refs

    def _write(self, frame: pd.DataFrame) -> None:
        if self.fmt == "csv":
            frame.to_csv(self.path, mode="a", header=self.header, index=False)
            self.header = False
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        if self.writer is None:
            table = pa.Table.from_pandas(frame, preserve_index=False)
            self.writer = pq.ParquetWriter(self.path, table.schema)
        else:
            table = pa.Table.from_pandas(frame, schema=self.writer.schema, preserve_index=False)
        self.writer.write_table(table)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        elif self.fmt == "csv" and self.header:
            self.path.touch()
