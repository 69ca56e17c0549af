"""Image outputs: an ImageFolder of PNGs (encoded in worker processes when asked) or `.npz`
shards, with the manifest; `read_samples` loads a folder back through its manifest."""

from __future__ import annotations

import csv
import io
import json
import multiprocessing
import os
import sys
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..core.outputs import MANIFEST_FIELDS, partial_dir, split_ref
from ..synthesis.runtime import OnnxGenerator
from ..synthesis.sinks import NpzSink, class_folder, die_with_parent
from ..synthesis.synthesize import QualityFilter, SynthesisResult, draw_samples, manifest_samples, write_model_record
from .data import LabelledData


def png_bytes(pixels_u8: np.ndarray) -> bytes:
    """C x H x W uint8 -> PNG bytes (deterministic: no timestamps)."""
    arr = pixels_u8[0] if pixels_u8.shape[0] == 1 else pixels_u8.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


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
                                            initializer=die_with_parent, initargs=(os.getpid(),))
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


def write_pngs(root: Path, rels: list[str], pixels: np.ndarray) -> None:
    for rel, img in zip(rels, pixels):
        (root / rel).write_bytes(png_bytes(img))


def images_to_folder(gen: OnnxGenerator, counts: Mapping[str, int], out: Path, *, seed: int,
                      batch_size: int, real: LabelledData | None, progress: bool, fmt: str, workers: int,
                      shard_size: int, quality_filter: QualityFilter | None, max_tries: int,
                      strict_filter: bool) -> SynthesisResult:
    total = sum(counts.values())
    filter_stats: dict[str, dict] = {}
    sha = gen.info.sha256
    # The manifest is streamed row by row (memory stays flat for millions of samples) into a
    # partial folder that becomes `out` only when complete. A job killed mid-way leaves that
    # folder; the same job run again keeps the samples its manifest lists and whose files are
    # whole, and continues each class's noise stream from there (see `_resume`).
    job = {"model_sha256": sha, "seed": seed, "counts": dict(counts), "format": fmt,
           "shard_size": shard_size, "real": real.source if real is not None else None,
           "n_real": len(real) if real is not None else 0,
           "filter": quality_filter.threshold if quality_filter is not None else None}
    with partial_dir(out, job, resumable=quality_filter is None) as (tmp, kept), \
            (tmp / "manifest.csv").open("a", newline="") as manifest:
        write_model_record(tmp, gen)
        rows = csv.DictWriter(manifest, MANIFEST_FIELDS)
        done = Counter(r["class"] for r in kept if r["source"] == "synthetic")
        done_real = sum(r["source"] == "real" for r in kept)
        sink = PngSink(tmp, workers) if fmt == "png" else NpzSink(
            tmp, gen.classes, shard_size, first_shard=len({split_ref(r["file"])[0] for r in kept}))

        def emit(name: str, stems: list[str], pixels: np.ndarray, source: str, s: object, h: str):
            if not len(pixels):
                return
            files = sink.add(name, stems, pixels)
            rows.writerows({"file": f, "class": name, "source": source, "seed": s, "model_sha256": h}
                           for f in files)

        try:
            if real is not None:
                real_u8 = np.rint(real.x * 255).astype(np.uint8)
                order = np.concatenate([np.flatnonzero(real.y == label) for label in range(len(real.classes))])
                rest = order[done_real:]  # emission order is class by class; resume after what is kept
                for label, name in enumerate(real.classes):
                    idx = rest[real.y[rest] == label]
                    emit(name, [f"real-{i:06d}" for i in idx], real_u8[idx], "real", "", "")
            bar = tqdm(total=total, initial=sum(done.values()), desc="generate", unit="img",
                       disable=not progress)
            for name, index, pixels in draw_samples(gen, counts, seed, batch_size, quality_filter,
                                                filter_stats, max_tries, strict_filter, done):
                emit(name, [f"syn-s{seed}-{i:06d}" for i in index], pixels, "synthetic", seed, sha)
                bar.update(len(pixels))
            bar.close()
        finally:
            sink.close()
        if quality_filter is not None:
            (tmp / "filter.json").write_text(json.dumps(
                {"threshold": quality_filter.threshold, "per_class": filter_stats}, indent=2) + "\n")
    return SynthesisResult(out, dict(counts), out / "manifest.csv", gen.provider, filter_stats)


def _read_png(file: Path) -> np.ndarray:
    with Image.open(file) as im:
        a = np.asarray(im, np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def read_samples(out: str | Path, classes: tuple[str, ...], source: str | None = None) -> LabelledData:
    """Load an image output folder through its manifest, labels indexing `classes`."""
    xs, ys = manifest_samples(out, classes, source, _read_png)
    return LabelledData(np.stack(xs).astype(np.float32) / 255.0, ys, classes, str(out))
