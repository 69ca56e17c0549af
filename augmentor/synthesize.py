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

import csv
import json
import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
from PIL import Image
from tqdm import tqdm

from . import modalities
from .atomic import atomic_dir
from .data import LabelledData, align_classes
from .errors import InvalidDataError, ResourceLimitError, UnsafeArtifactError
from .gaps import Strategy, parse_strategy, plan_gaps
from .outputs import (
    MANIFEST_FIELDS,
    check_free_space,
    check_outputs,
    output_lock,
    partial_dir,
    prepare_output,
    read_manifest,
    split_ref,
    write_marker,
)
from .recipe import SynthesizeConfig
from .runtime import OnnxGenerator, physical_cores
from .sinks import NpzSink, PngSink, TableSink
from .tables import TableData

if TYPE_CHECKING:  # the filter's classifier needs torch; generation from an .onnx must not
    from .classifiers import QualityFilter

log = logging.getLogger(__name__)
MAX_TRIES = 20  # a filtered class draws at most this many candidates per requested sample
DEFAULTS = SynthesizeConfig()
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


def _check_counts(gen: OnnxGenerator, counts: Mapping[str, int]) -> None:
    for name, n in counts.items():
        gen.class_index(name)
        if n < 0:
            raise InvalidDataError(f"count for class '{name}' is negative ({n})")


def check_sample_budget(total: int, limit: int, bytes_per_sample: int, out: Path) -> None:
    """Refuse a request over `limit` samples or one the disk under `out` cannot hold."""
    if total > limit:
        raise ResourceLimitError(f"{total} samples requested, more than the limit of {limit}; "
                                 "raise --max-samples if you mean it")
    check_free_space(out.parent, total * (bytes_per_sample + 128), f"writing {total} samples to {out}")


def generate_to_folder(model: str | Path | OnnxGenerator, counts: Mapping[str, int], out: str | Path,
                       config: SynthesizeConfig = DEFAULTS, *, device: str = "cpu",
                       real: LabelledData | None = None, overwrite: bool = False, progress: bool = True,
                       protected: list[Path] = (), quality_filter: QualityFilter | None = None,
                       strict_filter: bool = True) -> SynthesisResult:
    """Write exactly `counts[c]` generated samples per class (plus `real`, if given).

    `config` (recipe.SynthesizeConfig): seed, batch size, format ("png" an ImageFolder, "npz"
    `shard-NNNNN.npz` files; tables "csv" or "parquet"), PNG encoder `workers`, shard size and
    the `max_samples` cap. With `quality_filter`, candidates are drawn until each class has
    exactly its count of accepted samples (at most MAX_TRIES x the count); acceptance rates
    go to filter.json.

    Samples go to `.OUT.partial/`, renamed to `out` when complete. If a run of the same job
    was killed, its partial folder is resumed (images, no filter); otherwise started afresh.
    `out` must not overlap the model or `protected` inputs; it is locked for the job, and an
    existing `out` is replaced (with `overwrite`) only when augmentor wrote it.
    """
    seed, batch_size, fmt, workers = config.seed, config.batch_size, config.format or None, config.workers
    total = sum(counts.values())
    if workers < 0:
        workers = physical_cores() if fmt in (None, "png") and total >= 4096 else 0
    gen = model if isinstance(model, OnnxGenerator) else OnnxGenerator(model, device,
                                                                        spinning=workers == 0)
    out, codec = Path(out), gen.info.codec
    _check_counts(gen, counts)
    fmt = fmt or codec.formats[0]
    if fmt not in codec.formats:
        raise InvalidDataError(f"unknown output format '{fmt}' for a {codec.kind} model; use "
                               f"{' or '.join(codec.formats)}")
    with output_lock(out):
        check_outputs({"--out": out}, [gen.info.path, *protected])
        prepare_output(out, "synthesis", overwrite)
        check_sample_budget(total + (len(real) if real is not None else 0), config.max_samples,
                            codec.bytes_per_sample(gen.info.shape, fmt), out)
        return modalities.get(codec.kind).writer(gen, counts, out, seed=seed, batch_size=batch_size, real=real,
                                   progress=progress, fmt=fmt, workers=workers, shard_size=config.shard_size,
                                   quality_filter=quality_filter, max_tries=MAX_TRIES, strict_filter=strict_filter)


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
            for name, index, pixels in _samples(gen, counts, seed, batch_size, quality_filter,
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


def source_column(codec) -> str:
    """The name of the table output's source column: "source" unless a data column has it."""
    taken = {c["name"] for c in codec.columns} | {codec.label}
    return next(c for c in ("source", "augmentor_source",
                            *(f"augmentor_source_{i}" for i in range(2, len(taken) + 3))) if c not in taken)


def _table_to_folder(gen: OnnxGenerator, counts: Mapping[str, int], out: Path, *, seed: int,
                     batch_size: int, real: TableData | None, progress: bool, fmt: str, **_) -> SynthesisResult:
    """Tables: generated rows (and `real` rows first, if given) into one CSV or parquet file,
    written batch by batch, with the manifest beside it."""
    codec, sha, file = gen.info.codec, gen.info.sha256, f"samples.{fmt}"
    label, source_col = codec.label, source_column(codec)
    with atomic_dir(out) as tmp, (tmp / "manifest.csv").open("w", newline="") as manifest:
        write_model_record(tmp, gen)
        rows = csv.DictWriter(manifest, MANIFEST_FIELDS)
        rows.writeheader()
        sink = TableSink(tmp / file, fmt)

        def emit(frame: pd.DataFrame, names: np.ndarray, source: str, s: object, h: str) -> None:
            frame = frame.copy()
            frame[label] = names
            frame[source_col] = source
            rows.writerows({"file": f, "class": c, "source": source, "seed": s, "model_sha256": h}
                           for f, c in zip(sink.add(frame), names))

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


def fill_gaps(model: str | Path | OnnxGenerator, data: LabelledData | TableData, out: str | Path,
              config: SynthesizeConfig = DEFAULTS, *, strategy: Strategy | None = None,
              device: str = "cpu", include_real: bool = False, overwrite: bool = False, progress: bool = True,
              filter_threshold: float | None = None, strict_filter: bool = True) -> SynthesisResult:
    """Plan the gaps of `data` under `strategy` and generate exactly that many per class.
    The output may not overlap `data`'s files (class folders resolved through symlinks)."""
    gen = model if isinstance(model, OnnxGenerator) else OnnxGenerator(model, device, spinning=False)
    unknown = [c for c in data.classes if c not in gen.classes]
    if unknown:
        raise InvalidDataError(f"{data.source}: classes {unknown} are not in the model "
                               f"(model classes: {', '.join(gen.classes)})")
    strategy = parse_strategy(config.strategy) if strategy is None else strategy
    planned = plan_gaps(data.counts(), strategy)
    quality_filter = None
    if filter_threshold is not None and not gen.info.codec.filterable:
        raise InvalidDataError(f"the quality filter (--filter) is not available for {gen.info.codec.kind} models")
    if filter_threshold is not None and not 0 < filter_threshold <= 1:
        raise InvalidDataError(f"--filter must be a probability in (0, 1], got {filter_threshold}")
    protected = [Path(data.source)] if data.source and Path(data.source).exists() else []
    with output_lock(out):  # every check before the filter's classifier is trained
        check_outputs({"--out": out}, [gen.info.path, *protected])
        prepare_output(out, "synthesis", overwrite)
        limit = config.max_samples
        if sum(planned.values()) > limit:
            raise ResourceLimitError(f"strategy {strategy!r} plans {sum(planned.values())} samples, more "
                                     f"than the limit of {limit}; raise --max-samples if you mean it")
        if filter_threshold is not None:
            from .classifiers import QualityFilter

            aligned = align_classes(data, gen.classes)
            quality_filter = QualityFilter.fit(aligned.x, aligned.y, len(gen.classes), filter_threshold)
        return generate_to_folder(gen, planned, out, config, real=data if include_real else None,
                                  overwrite=overwrite, progress=progress, protected=protected,
                                  quality_filter=quality_filter, strict_filter=strict_filter)


def manifest_samples(out: str | Path, classes: tuple[str, ...], source: str | None,
                     read_file) -> tuple[list[np.ndarray], np.ndarray]:
    """Every manifest row's sample (a row of an npz shard, or a file read by `read_file(path)`) and
    its label index into `classes`; rows of other sources are skipped. Paths never leave `out`."""
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
            xs.append(read_file(file))
        ys.append(classes.index(r["class"]))
    if not xs:
        raise InvalidDataError(f"{out}: manifest lists no samples")
    return xs, np.asarray(ys, np.int64)


def _read_png(file: Path) -> np.ndarray:
    with Image.open(file) as im:
        a = np.asarray(im, np.uint8)
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)


def read_samples(out: str | Path, classes: tuple[str, ...], source: str | None = None) -> LabelledData:
    """Load an image output folder through its manifest, labels indexing `classes`."""
    xs, ys = manifest_samples(out, classes, source, _read_png)
    return LabelledData(np.stack(xs).astype(np.float32) / 255.0, ys, classes, str(out))


MODEL_RECORD = "model.json"


def write_model_record(folder: Path, gen: OnnxGenerator) -> None:
    """Which model wrote this folder and which data it was trained on (its fingerprint)."""
    record = {"model_sha256": gen.info.sha256, "data_fingerprint": gen.info.data_fingerprint,
              "modality": gen.info.codec.kind}
    (folder / MODEL_RECORD).write_text(json.dumps(record, sort_keys=True) + "\n")


def model_record(folder: str | Path) -> dict:
    """The model record of an output folder ({} for folders written before it existed)."""
    path = Path(folder) / MODEL_RECORD
    try:
        record = json.loads(path.read_text()) if path.is_file() else {}
    except (OSError, ValueError):
        return {}
    return record if isinstance(record, dict) else {}


def read_folder(out: str | Path, like: LabelledData | TableData, source: str | None = None) -> LabelledData | TableData:
    """Load an output folder through its manifest in the form of `like` (its classes, and for
    tables its columns and dtypes)."""
    return modalities.get(like.modality).reader(out, like, source)

