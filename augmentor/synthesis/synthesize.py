"""Fill a dataset's class gaps with generated samples, written next to (never into) it.

Each modality writes its own output format (its package's `writer`: PNG ImageFolders or `.npz`
shards for images, CSV / parquet for tables, WAV class folders or `.npz` shards for signals),
plus `manifest.csv`, one row per sample:
`file, class, source, seed, model_sha256`. The manifest is the source of truth for
what a folder holds; `read_samples` loads a folder back through it. The same model,
seed and counts give byte-identical files.
"""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..config.recipe import SynthesizeConfig
from ..core.dataset import Dataset
from ..core.errors import InvalidDataError, ResourceLimitError, UnsafeArtifactError
from ..core.gaps import Strategy, parse_strategy, plan_gaps
from ..core.labels import align_classes
from ..core.outputs import check_free_space, check_outputs, output_lock, prepare_output, read_manifest, split_ref
from .runtime import OnnxGenerator, physical_cores

QualityFilter = object  # the modality's quality filter: `threshold` and `accept(x, label)`
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

def draw_samples(gen: OnnxGenerator, counts: Mapping[str, int], seed: int, batch_size: int,
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
                       real: Dataset | None = None, overwrite: bool = False, progress: bool = True,
                       protected: list[Path] = (), quality_filter: QualityFilter | None = None,
                       strict_filter: bool = True, codecs: Callable[[dict], object] | None = None) -> SynthesisResult:
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
    gen = model if isinstance(model, OnnxGenerator) else OnnxGenerator(model, device, codecs=codecs,
                                                                        spinning=workers == 0)
    out, codec = Path(out), gen.info.codec
    _check_counts(gen, counts)
    formats = codec.MODALITY.formats
    fmt = fmt or formats[0]
    if fmt not in formats:
        raise InvalidDataError(f"unknown output format '{fmt}' for a {codec.kind} model; use "
                               f"{' or '.join(formats)}")
    with output_lock(out):
        check_outputs({"--out": out}, [gen.info.path, *protected])
        prepare_output(out, "synthesis", overwrite)
        check_sample_budget(total + (len(real) if real is not None else 0), config.max_samples,
                            codec.bytes_per_sample(gen.info.shape, fmt), out)
        return codec.MODALITY.writer(gen, counts, out, seed=seed, batch_size=batch_size, real=real,
                                   progress=progress, fmt=fmt, workers=workers, shard_size=config.shard_size,
                                   quality_filter=quality_filter, max_tries=MAX_TRIES, strict_filter=strict_filter)

def fill_gaps(model: str | Path | OnnxGenerator, data: Dataset, out: str | Path,
              config: SynthesizeConfig = DEFAULTS, *, strategy: Strategy | None = None,
              device: str = "cpu", include_real: bool = False, overwrite: bool = False, progress: bool = True,
              filter_threshold: float | None = None, strict_filter: bool = True,
              codecs: Callable[[dict], object] | None = None) -> SynthesisResult:
    """Plan the gaps of `data` under `strategy` and generate exactly that many per class.
    The output may not overlap `data`'s files (class folders resolved through symlinks). Without a
    declared `config.format` the output takes the data's own form where it has one
    (`data.output_format`: a WAV-folder signal set gives WAV folders in its sample format)."""
    if not config.format and getattr(data, "output_format", ""):
        config = dataclasses.replace(config, format=data.output_format)
    gen = model if isinstance(model, OnnxGenerator) else OnnxGenerator(model, device, spinning=False, codecs=codecs)
    unknown = [c for c in data.classes if c not in gen.classes]
    if unknown:
        raise InvalidDataError(f"{data.source}: classes {unknown} are not in the model "
                               f"(model classes: {', '.join(gen.classes)})")
    strategy = parse_strategy(config.strategy) if strategy is None else strategy
    planned = plan_gaps(data.counts(), strategy)
    quality_filter = None
    if filter_threshold is not None and gen.info.codec.MODALITY.quality_filter is None:
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
            aligned = align_classes(data, gen.classes)
            quality_filter = gen.info.codec.MODALITY.quality_filter(aligned.x, aligned.y, len(gen.classes),
                                                                    filter_threshold)
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

def read_folder(out: str | Path, like: Dataset, source: str | None = None) -> Dataset:
    """Load an output folder through its manifest in the form of `like` (its classes, and for
    tables its columns and dtypes)."""
    return like.MODALITY.reader(out, like, source)
