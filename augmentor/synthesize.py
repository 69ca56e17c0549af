"""Fill a dataset's class gaps with generated samples, written next to (never into) it.

Output is an ImageFolder of PNGs (or `shard-NNNNN.npz` files, `file` then reading
`shard-00000.npz#17`), or for tables one `samples.csv` / `samples.parquet` (the training
columns, the label column and a `source` column; `file` reads `samples.csv#17`, the
data row), plus `manifest.csv`, one row per sample:
`file, class, source, seed, model_sha256`. The manifest is the source of truth for
what a folder holds; `read_samples` loads a folder back through it. The same model,
seed and counts give byte-identical files.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import logging
import multiprocessing
import os
import re
import shutil
import sys
import zipfile
from collections import Counter
from collections.abc import Mapping
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from .atomic import atomic_dir, atomic_path, replace_dir, write_bytes
from .data import LabelledData, align_classes
from .errors import InvalidDataError, OutputExistsError, ResourceLimitError, UnsafeArtifactError
from .gaps import Strategy, plan_gaps
from .outputs import check_free_space, check_outputs, output_lock, prepare_output, write_marker
from .runtime import OnnxGenerator, physical_cores
from .tables import TableData

if TYPE_CHECKING:  # the filter's classifier needs torch; generation from an .onnx must not
    from .classifiers import QualityFilter

log = logging.getLogger(__name__)
MANIFEST_FIELDS = ["file", "class", "source", "seed", "model_sha256"]
MAX_SAMPLES = 10_000_000
# A sample inside a multi-sample file is `FILE#ROW`; only augmentor's own file names take a
# row, so a '#' inside a class folder's name never splits a PNG path.
_ROW_REF = re.compile(r"^(shard-\d{5,}\.npz|samples\.(?:csv|parquet))#(\d+)$")


def split_ref(file: str) -> tuple[str, int | None]:
    """A manifest `file` entry -> (relative path, row within the file or None)."""
    m = _ROW_REF.match(file)
    return (m.group(1), int(m.group(2))) if m else (file, None)


@dataclass(frozen=True)
class SynthesisResult:
    out: Path
    planned: dict[str, int]
    manifest: Path
    provider: str
    filter_stats: dict[str, dict]


def _samples(gen: OnnxGenerator, counts: Mapping[str, int], seed: int, batch_size: int,
             quality_filter: QualityFilter | None, stats: dict, max_tries: int = 20,
             strict: bool = True, skip: Mapping[str, int] | None = None):
    """Yield (class, candidate indices, uint8 pixels) until each class has its count.

    With a filter, a class that cannot reach its count within `max_tries` x count
    candidates is an error when `strict`, else it gets what passed (`delivered` < `requested`).
    """
    codec = gen.info.codec
    for name, n in counts.items():
        if quality_filter is None:
            for _, start, batch in gen.iter_batches({name: n}, seed, batch_size, skip):
                yield name, range(start, start + len(batch)), codec.to_uint8(batch)
            continue
        label, kept, seen, accepted = gen.class_index(name), 0, 0, 0
        for _, start, batch in gen.iter_batches({name: n * max_tries}, seed, batch_size):
            if kept == n:
                break
            mask = quality_filter.accept(codec.decode(batch), label)
            seen, accepted = seen + len(mask), accepted + int(mask.sum())
            idx = np.flatnonzero(mask)[: n - kept]
            kept += len(idx)
            yield name, (start + idx).tolist(), codec.to_uint8(batch[idx])
        stats[name] = {"requested": n, "delivered": kept, "candidates": seen,
                       "acceptance_rate": accepted / seen if seen else 1.0}
        if kept < n and strict:
            raise InvalidDataError(
                f"quality filter: class '{name}' accepted {accepted} of {seen} candidates, fewer "
                f"than the {n} requested; lower the threshold ({quality_filter.threshold})"
            )


def png_bytes(pixels_u8: np.ndarray) -> bytes:
    """C x H x W uint8 -> PNG bytes (deterministic: no timestamps)."""
    arr = pixels_u8[0] if pixels_u8.shape[0] == 1 else pixels_u8.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def _check_counts(gen: OnnxGenerator, counts: Mapping[str, int]) -> None:
    for name, n in counts.items():
        gen.class_index(name)
        if n < 0:
            raise InvalidDataError(f"count for class '{name}' is negative ({n})")


def check_sample_budget(total: int, max_samples: int | None, bytes_per_sample: int, out: Path) -> None:
    """Refuse a request over `max_samples` or one the disk under `out` cannot hold."""
    limit = MAX_SAMPLES if max_samples is None else max_samples
    if total > limit:
        raise ResourceLimitError(f"{total} samples requested, more than the limit of {limit}; "
                                 "raise --max-samples if you mean it")
    check_free_space(out.parent, total * (bytes_per_sample + 128), f"writing {total} samples to {out}")


class PngWriter:
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

    def write(self, rels: list[str], pixels: np.ndarray) -> None:
        if self.pool is None:
            write_pngs(self.root, rels, pixels)
            return
        self.pending.append(self.pool.submit(write_pngs, self.root, rels, pixels))
        while len(self.pending) > self.limit:
            self.pending.pop(0).result()

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


class NpzShardWriter:
    """Collects samples into `shard-NNNNN.npz` files of `shard_size` samples each
    (x: uint8 N x C x H x W, y: label index, classes)."""

    def __init__(self, root: Path, classes: tuple[str, ...], shard_size: int, first_shard: int = 0) -> None:
        self.root, self.classes, self.shard_size = root, classes, shard_size
        self.xs: list[np.ndarray] = []
        self.ys: list[np.ndarray] = []
        self.buffered, self.shard = 0, first_shard

    def add(self, name: str, pixels: np.ndarray) -> list[str]:
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

    def flush(self) -> None:
        if not self.buffered:
            return
        with atomic_path(self.root / f"shard-{self.shard:05d}.npz") as tmp, open(tmp, "wb") as f:
            np.savez(f, x=np.concatenate(self.xs), y=np.concatenate(self.ys),
                     classes=np.array(self.classes, dtype=str))
        self.xs, self.ys, self.buffered, self.shard = [], [], 0, self.shard + 1


@contextlib.contextmanager
def _partial_dir(out: Path, job: dict, resumable: bool):
    """Yield (partial folder, manifest rows kept from an interrupted run of the same job);
    on success the partial folder replaces `out` in one rename."""
    partial = out.with_name(f".{out.name}.partial")
    kept: list[dict] = []
    if partial.exists() and any(partial.iterdir()) and not (partial / "job.json").is_file():
        raise OutputExistsError(f"{partial} exists but is not an augmentor partial output (no job.json); "
                                "move it away or choose another --out")
    if partial.exists():
        kept = _resume(partial, job) if resumable else None
        if kept is None:
            log.warning("%s: an interrupted run of a different job; starting over", partial)
            shutil.rmtree(partial)
            kept = []
        else:
            log.warning("%s: resuming an interrupted run; %d samples kept", partial, len(kept))
    partial.mkdir(parents=True, exist_ok=True)
    write_bytes(partial / "job.json", json.dumps(job, sort_keys=True).encode())
    if not kept:
        with (partial / "manifest.csv").open("w", newline="") as f:
            csv.DictWriter(f, MANIFEST_FIELDS).writeheader()
    try:
        yield partial, kept
        (partial / "job.json").unlink()
        write_marker(partial, "synthesis")
        replace_dir(partial, out)
    except Exception:
        shutil.rmtree(partial, ignore_errors=True)  # a failed job (not a killed one) leaves nothing
        raise


PNG_END = b"\x00\x00\x00\x00IEND\xaeB`\x82"


def _whole_png(path: Path) -> bool:
    """A PNG cut off by a kill lacks its closing IEND chunk."""
    try:
        with path.open("rb") as f:
            f.seek(-len(PNG_END), os.SEEK_END)
            return f.read() == PNG_END
    except OSError:
        return False


def _resume(partial: Path, job: dict) -> list[dict] | None:
    """The longest prefix of the manifest whose files are whole; everything else removed.
    None when the partial folder belongs to another job."""
    try:
        if json.loads((partial / "job.json").read_text()) != json.loads(json.dumps(job, sort_keys=True)):
            return None
        text = (partial / "manifest.csv").read_text()
    except (OSError, ValueError):
        return None
    lines = text.splitlines(keepends=True)
    if not lines or not lines[-1].endswith("\n"):
        lines = lines[:-1]  # a row cut off by the kill
    kept: list[dict] = []
    shards: dict[str, int] = {}
    for r in csv.DictReader(lines):
        rel, index = split_ref(r["file"])
        path = partial / rel
        if index is not None:
            if rel not in shards:
                try:
                    with np.load(path, allow_pickle=False) as z:
                        shards[rel] = len(z["y"])
                except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
                    shards[rel] = 0
            if index >= shards[rel]:
                break
        elif not _whole_png(path):
            break
        kept.append(r)
    # A shard can be flushed before the manifest rows of its last batch are written: keep
    # only shards whose every row is listed, so the resumed layout equals an unbroken run's.
    listed_per_shard: dict[str, int] = {}
    for r in kept:
        rel, index = split_ref(r["file"])
        if index is not None:
            listed_per_shard[rel] = listed_per_shard.get(rel, 0) + 1
    short = [rel for rel, n in listed_per_shard.items() if n != shards[rel]]
    if short:
        kept = kept[:next(i for i, r in enumerate(kept) if split_ref(r["file"])[0] in short)]
    listed = {split_ref(r["file"])[0] for r in kept} | {"manifest.csv", "job.json"}
    for f in partial.rglob("*"):
        if f.is_file() and str(f.relative_to(partial)) not in listed:
            f.unlink()
    with (partial / "manifest.csv").open("w", newline="") as f:
        w = csv.DictWriter(f, MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(kept)
    return kept


def generate_to_folder(model: str | Path | OnnxGenerator, counts: Mapping[str, int],
                       out: str | Path, *, seed: int = 0, batch_size: int = 256,
                       device: str = "cpu", real: LabelledData | None = None,
                       overwrite: bool = False, progress: bool = True,
                       protected: list[Path] = (), fmt: str = "png", workers: int = -1,
                       shard_size: int = 8192, quality_filter: QualityFilter | None = None,
                       max_tries: int = 20, strict_filter: bool = True,
                       max_samples: int | None = None) -> SynthesisResult:
    """Write exactly `counts[c]` generated samples per class (plus `real`, if given).

    `fmt` "png" writes an ImageFolder; "npz" writes `shard-NNNNN.npz` files. `workers`
    is the number of PNG encoder processes (-1: one per core for large jobs, 0: none).
    With `quality_filter`, candidates are drawn until each class has exactly its count of
    accepted samples (at most `max_tries` x the count); acceptance rates go to filter.json.
    A table model writes `samples.csv` (`fmt` "csv", the default) or `samples.parquet`.

    Samples go to `.OUT.partial/`, renamed to `out` when complete. If a run of the same job
    was killed, its partial folder is resumed (images, no filter); otherwise started afresh.
    `out` must not overlap the model or `protected` inputs; it is locked for the job, and an
    existing `out` is replaced (with `overwrite`) only when augmentor wrote it.
    `max_samples` (default `MAX_SAMPLES`) caps the request.
    """
    total = sum(counts.values())
    if workers < 0:
        workers = physical_cores() if fmt == "png" and total >= 4096 else 0
    gen = model if isinstance(model, OnnxGenerator) else OnnxGenerator(model, device,
                                                                        spinning=workers == 0)
    out = Path(out)
    _check_counts(gen, counts)
    if gen.info.modality == "table":
        fmt = "csv" if fmt == "png" else fmt
        if fmt not in ("csv", "parquet"):
            raise InvalidDataError(f"unknown output format '{fmt}' for tables; use csv or parquet")
        per_sample = 24 * gen.info.shape[0]
    else:
        if fmt not in ("png", "npz"):
            raise InvalidDataError(f"unknown output format '{fmt}' for images; use png or npz")
        raw = int(np.prod(gen.info.shape))
        per_sample = max(raw + 128, 4096) if fmt == "png" else raw + 8  # a PNG takes a disk block
    with output_lock(out):
        check_outputs({"--out": out}, [gen.info.path, *protected])
        prepare_output(out, "synthesis", overwrite)
        check_sample_budget(total + (len(real) if real is not None else 0), max_samples, per_sample, out)
        if gen.info.modality == "table":
            return _table_to_folder(gen, counts, out, seed=seed, batch_size=batch_size, real=real,
                                    progress=progress, fmt=fmt)
        return _images_to_folder(gen, counts, out, seed=seed, batch_size=batch_size, real=real,
                                 progress=progress, fmt=fmt, workers=workers, shard_size=shard_size,
                                 quality_filter=quality_filter, max_tries=max_tries,
                                 strict_filter=strict_filter)


def _images_to_folder(gen: OnnxGenerator, counts: Mapping[str, int], out: Path, *, seed: int,
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
    with _partial_dir(out, job, resumable=quality_filter is None) as (tmp, kept), \
            (tmp / "manifest.csv").open("a", newline="") as manifest:
        rows = csv.DictWriter(manifest, MANIFEST_FIELDS)
        done = Counter(r["class"] for r in kept if r["source"] == "synthetic")
        done_real = sum(r["source"] == "real" for r in kept)
        if fmt == "png":
            sink: PngWriter | NpzShardWriter = PngWriter(tmp, workers)
        else:
            sink = NpzShardWriter(tmp, gen.classes, shard_size,
                                  first_shard=len({split_ref(r["file"])[0] for r in kept}))

        def emit(name: str, stems: list[str], pixels: np.ndarray, source: str, s: object, h: str):
            if not len(pixels):
                return
            if isinstance(sink, PngWriter):
                folder = _class_folder(tmp, name)
                files = [f"{folder.name}/{stem}.png" for stem in stems]
                sink.write(files, pixels)
            else:
                files = sink.add(name, pixels)
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
            for name, index, pixels in _samples(gen, counts, seed, batch_size, quality_filter,
                                                filter_stats, max_tries, strict_filter, done):
                emit(name, [f"syn-s{seed}-{i:06d}" for i in index], pixels, "synthetic", seed, sha)
                bar.update(len(pixels))
            bar.close()
        finally:
            sink.close() if isinstance(sink, PngWriter) else sink.flush()
        if quality_filter is not None:
            (tmp / "filter.json").write_text(json.dumps(
                {"threshold": quality_filter.threshold, "per_class": filter_stats}, indent=2) + "\n")
    return SynthesisResult(out, dict(counts), out / "manifest.csv", gen.provider, filter_stats)


def _class_folder(root: Path, name: str) -> Path:
    """The folder of class `name` under `root`, created on first use. Names were checked
    (names.py) when the model or data was read; this re-checks that the folder is a direct
    child of `root`, so no name can ever reach outside it."""
    folder = root / name
    if folder.parent != root or name in ("", ".", "..") or folder.name != name:
        raise UnsafeArtifactError(f"class name {name!r} is not a safe folder name")
    folder.mkdir(exist_ok=True)
    return folder


def _table_to_folder(gen: OnnxGenerator, counts: Mapping[str, int], out: Path, *, seed: int,
                     batch_size: int, real: TableData | None, progress: bool, fmt: str) -> SynthesisResult:
    """Tables: generated rows (and `real` rows first, if given) into one CSV or parquet file,
    written batch by batch, with the manifest beside it."""
    codec, sha, file = gen.info.codec, gen.info.sha256, f"samples.{fmt}"
    label = codec.label
    taken = {c["name"] for c in codec.columns} | {label}
    source_col = next(c for c in ("source", "augmentor_source",
                                  *(f"augmentor_source_{i}" for i in range(2, len(taken) + 3))) if c not in taken)
    with atomic_dir(out) as tmp, (tmp / "manifest.csv").open("w", newline="") as manifest:
        rows = csv.DictWriter(manifest, MANIFEST_FIELDS)
        rows.writeheader()
        sink = _TableSink(tmp / file, fmt)
        written = 0

        def emit(frame: pd.DataFrame, names: np.ndarray, source: str, s: object, h: str) -> None:
            nonlocal written
            frame = frame.copy()
            frame[label] = names
            frame[source_col] = source
            sink.write(frame)
            rows.writerows({"file": f"{file}#{written + i}", "class": c, "source": source, "seed": s,
                            "model_sha256": h} for i, c in enumerate(names))
            written += len(frame)

        try:
            if real is not None:
                real = align_classes(real, gen.classes)
                emit(real.x[[c["name"] for c in codec.columns]],
                     np.asarray(gen.classes, dtype=object)[real.y], "real", "", "")
            bar = tqdm(total=sum(counts.values()), desc="generate", unit="row", disable=not progress)
            for name, _, batch in gen.iter_batches(counts, seed, batch_size):
                emit(codec.decode(batch), np.full(len(batch), name, dtype=object), "synthetic", seed, sha)
                bar.update(len(batch))
            bar.close()
        finally:
            sink.close()
        write_marker(tmp, "synthesis")
    return SynthesisResult(out, dict(counts), out / "manifest.csv", gen.provider, {})


class _TableSink:
    """Appends DataFrame chunks to one CSV or parquet file (memory stays one batch)."""

    def __init__(self, path: Path, fmt: str) -> None:
        self.path, self.fmt, self.writer, self.header = path, fmt, None, True

    def write(self, frame: pd.DataFrame) -> None:
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


def read_table_samples(out: str | Path, like: TableData, source: str | None = None) -> TableData:
    """Load a table output folder through its manifest, in `like`'s columns, dtypes and classes."""
    out = Path(out)
    rows = [r for r in read_manifest(out) if source is None or r["source"] == source]
    if not rows:
        raise InvalidDataError(f"{out}: manifest lists no samples")
    files = {split_ref(r["file"])[0] for r in rows}
    name = next(iter(files))
    if len(files) != 1 or Path(name).suffix not in (".csv", ".parquet") or "/" in name:
        raise UnsafeArtifactError(f"{out}: manifest does not describe one table file ({sorted(files)[:3]})")
    frame = pd.read_csv(out / name) if name.endswith(".csv") else pd.read_parquet(out / name)
    missing = [c for c in [*like.x.columns, like.label] if c not in frame.columns]
    if missing:
        raise InvalidDataError(f"{out / name}: missing column(s) {missing}")
    idx = np.array([split_ref(r["file"])[1] for r in rows])
    if idx.min() < 0 or idx.max() >= len(frame):
        raise UnsafeArtifactError(f"{out}: manifest rows point outside {name} ({len(frame)} rows)")
    frame = frame.iloc[idx].reset_index(drop=True)
    classes = [r["class"] for r in rows]
    unknown = sorted(set(classes) - set(like.classes))
    if unknown:
        raise InvalidDataError(f"{out}: manifest classes {unknown} are not among {list(like.classes)}")
    x = pd.DataFrame({c: frame[c].astype(like.x[c].dtype) for c in like.x.columns})
    y = np.array([like.classes.index(c) for c in classes], np.int64)
    return TableData(x, y, like.classes, str(out), like.label, like.categorical)


def fill_gaps(model: str | Path, data: LabelledData | TableData, out: str | Path, *,
              strategy: Strategy = "auto", seed: int = 0, batch_size: int = 256,
              device: str = "cpu", include_real: bool = False, overwrite: bool = False,
              progress: bool = True, fmt: str = "png", workers: int = -1,
              filter_threshold: float | None = None, strict_filter: bool = True,
              max_samples: int | None = None) -> SynthesisResult:
    """Plan the gaps of `data` under `strategy` and generate exactly that many per class.
    The output may not overlap `data`'s files (class folders resolved through symlinks)."""
    gen = OnnxGenerator(model, device, spinning=False)
    unknown = [c for c in data.classes if c not in gen.classes]
    if unknown:
        raise InvalidDataError(f"{data.source}: classes {unknown} are not in the model "
                               f"(model classes: {', '.join(gen.classes)})")
    planned = plan_gaps(data.counts(), strategy)
    quality_filter = None
    if filter_threshold is not None and data.modality == "table":
        raise InvalidDataError("the quality filter (--filter) is available for images only")
    if filter_threshold is not None and not 0 < filter_threshold <= 1:
        raise InvalidDataError(f"--filter must be a probability in (0, 1], got {filter_threshold}")
    protected = [Path(data.source)] if data.source and Path(data.source).exists() else []
    with output_lock(out):  # every check before the filter's classifier is trained
        check_outputs({"--out": out}, [gen.info.path, *protected])
        prepare_output(out, "synthesis", overwrite)
        limit = MAX_SAMPLES if max_samples is None else max_samples
        if sum(planned.values()) > limit:
            raise ResourceLimitError(f"strategy {strategy!r} plans {sum(planned.values())} samples, more "
                                     f"than the limit of {limit}; raise --max-samples if you mean it")
        if filter_threshold is not None:
            from .classifiers import QualityFilter

            aligned = align_classes(data, gen.classes)
            quality_filter = QualityFilter.fit(aligned.x, aligned.y, len(gen.classes), filter_threshold)
        return generate_to_folder(gen, planned, out, seed=seed, batch_size=batch_size,
                                  real=data if include_real else None, overwrite=overwrite,
                                  progress=progress, protected=protected, fmt=fmt, workers=workers,
                                  quality_filter=quality_filter, strict_filter=strict_filter,
                                  max_samples=max_samples)


def read_manifest(out: str | Path) -> list[dict]:
    path = Path(out) / "manifest.csv"
    if not path.is_file():
        raise UnsafeArtifactError(f"{out}: no manifest.csv; is this an augmentor output folder?")
    with path.open(newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != MANIFEST_FIELDS:
            raise UnsafeArtifactError(f"{path}: columns {reader.fieldnames}, expected {MANIFEST_FIELDS}")
        return list(reader)


def read_samples(out: str | Path, classes: tuple[str, ...], source: str | None = None) -> LabelledData:
    """Load an output folder through its manifest, labels indexing `classes`."""
    out = Path(out)
    rows = [r for r in read_manifest(out) if source is None or r["source"] == source]
    xs, ys = [], []
    shards: dict[str, np.ndarray] = {}
    for r in rows:
        if r["class"] not in classes:
            raise InvalidDataError(f"{out}: manifest class '{r['class']}' is not one of {classes}")
        rel, index = split_ref(r["file"])
        file = (out / rel).resolve()
        if out.resolve() not in file.parents:
            raise UnsafeArtifactError(f"{out}: manifest path {r['file']!r} leaves the folder")
        if index is not None:
            if rel not in shards:
                with np.load(file, allow_pickle=False) as z:
                    shards[rel] = z["x"]
            if index >= len(shards[rel]):
                raise UnsafeArtifactError(f"{out}: manifest row {r['file']!r} is past the end of {rel}")
            xs.append(shards[rel][index])
        else:
            with Image.open(file) as im:
                a = np.asarray(im, np.uint8)
            xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        ys.append(classes.index(r["class"]))
    if not xs:
        raise InvalidDataError(f"{out}: manifest lists no samples")
    return LabelledData(np.stack(xs).astype(np.float32) / 255.0, np.asarray(ys, np.int64),
                        classes, str(out))
