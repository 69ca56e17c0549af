"""Sharded synthesis on Ray: `augmentor generate|synthesize ... --engine ray`.

The job is cut into *units*: runs of at most `unit_size` consecutive samples of one class
(class c, indices start..start+n). A sample's noise depends only on (seed, class, index within
the class) (runtime.noise_stream, skipped to `start`), and on CPU a row's output does not
depend on the rows batched with it, so any split gives exactly the samples one process
gives; only the file layout may differ (npz: one `shard-NNNNN.npz` per unit).

Each unit is a Ray task (`num_cpus=1`, `num_gpus=gpus_per_worker`, retried when its worker
dies). A worker process keeps one ONNX Runtime session per model, reused by every task it
runs. A task writes its unit's files into the partial output folder under fixed names, then
its manifest part (`.parts/NNNNN.csv`, atomically): a retried unit rewrites the same files,
and the manifest is merged by the driver from exactly one part per unit, in unit order,
so no sample is listed twice or missing. Tables: each unit writes its rows to a part file
and the driver concatenates them into `samples.csv` / `samples.parquet` (the same bytes as
one process writes). Running the same command again after a kill keeps the units whose
parts are complete.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import os
import shutil
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np

from ..config.recipe import SynthesizeConfig
from ..core.atomic import write_bytes
from ..core.cluster import ray_session
from ..core.errors import InvalidDataError, OutputExistsError
from ..core.outputs import (
    MANIFEST_FIELDS,
    check_outputs,
    output_lock,
    prepare_output,
    replace_dir,
    write_marker,
)
from ..synthesis.runtime import OnnxGenerator

log = logging.getLogger(__name__)
PARTS = ".parts"
_SESSIONS: dict[tuple[str, str], OnnxGenerator] = {}  # per worker process: one session per model


def plan_units(counts: Mapping[str, int], unit_size: int) -> list[tuple[int, str, int, int]]:
    """(unit index, class, first index, count) for every unit, class by class."""
    units, k = [], 0
    for name, n in counts.items():
        for start in range(0, n, unit_size):
            units.append((k, name, start, min(unit_size, n - start)))
            k += 1
    return units


def _session(path: str, device: str, codecs) -> OnnxGenerator:
    key = (path, device)
    if key not in _SESSIONS:
        _SESSIONS[key] = OnnxGenerator(path, device, threads=1, codecs=codecs)
    return _SESSIONS[key]


def run_unit(model: str, sha256: str, device: str, unit: tuple, seed: int, fmt: str, partial: str,
             batch_size: int, row_offset: int, die_once: str | None = None, codecs=None) -> int:
    """Write one unit's samples and then its manifest part; return the number of samples. `codecs`
    (the registry's `for_codec`, pickled by reference) builds the model's codec in the worker."""
    from ..synthesis.sinks import NpzSink, class_folder

    k, name, start, n = unit
    gen = _session(model, device, codecs)
    if gen.info.sha256 != sha256:
        raise InvalidDataError(f"{model} changed while the job ran (sha256 {gen.info.sha256[:12]} != {sha256[:12]})")
    root = Path(partial)
    gen.class_index(name)  # a class the model knows
    # the class's noise stream from `start` on: exactly the rows one process generates for these indices
    out = np.concatenate([b for _, _, b in gen.iter_batches({name: start + n}, seed, batch_size, skip={name: start})])
    codec = gen.info.codec
    rows = []
    if fmt in codec.file_formats or fmt == "npz":  # images and signals: a file per sample, or shards
        pixels = codec.array(out)
        if fmt in codec.file_formats:
            folder = class_folder(root, name)
            for i, img in enumerate(pixels):
                rel = f"{folder.name}/syn-s{seed}-{start + i:06d}.{fmt}"
                write_bytes(root / rel, codec.file_bytes(img))
                rows.append(rel)
                if die_once and i == len(pixels) // 2 and not Path(die_once).exists():
                    Path(die_once).write_text("died once")  # test hook: a worker killed mid-unit
                    os._exit(1)
        else:  # one shard per unit, written by the same sink as the local engine's
            shard = NpzSink(root, gen.classes, max(n, 1), first_shard=k)
            rows = shard.add(name, [], pixels)
            shard.close()
    else:
        frame = codec.decode(out)
        frame[codec.label] = np.full(n, name, dtype=object)
        frame[codec.source_column()] = "synthetic"
        buf = io.BytesIO()
        if fmt == "csv":
            frame.to_csv(buf, header=False, index=False)
        else:
            frame.to_parquet(buf, index=False)
        write_bytes(root / PARTS / f"data-{k:05d}.{fmt}", buf.getvalue())
        rows = [f"samples.{fmt}#{row_offset + i}" for i in range(n)]
    text = io.StringIO()
    w = csv.DictWriter(text, MANIFEST_FIELDS)
    w.writerows({"file": f, "class": name, "source": "synthetic", "seed": seed, "model_sha256": sha256}
                for f in rows)
    write_bytes(root / PARTS / f"{k:05d}.csv", text.getvalue().encode())
    return n


def generate_with_ray(model: str | Path, counts: Mapping[str, int], out: str | Path,
                      config: SynthesizeConfig, *, address: str | None = None, num_workers: int = 2,
                      gpus_per_worker: float = 0.0, device: str = "cpu", overwrite: bool = False,
                      progress: bool = True, protected: list[Path] = (), unit_size: int = 0,
                      _die_once: str | None = None, codecs: Callable[[dict], object] | None = None):
    """`counts[c]` samples per class from `model`, written by Ray tasks into `out`; `codecs` builds the
    model's codec from its metadata (the registry's `for_codec`)."""
    try:
        import ray  # noqa: F401  (a clear error before any work)
    except ImportError:
        raise InvalidDataError("--engine ray needs Ray; install it with pip install 'augmentor[ray]'") from None
    from tqdm import tqdm

    from ..synthesis.synthesize import SynthesisResult, _check_counts, check_sample_budget

    gen = OnnxGenerator(model, "cpu", codecs=codecs)
    out, codec = Path(out), gen.info.codec
    _check_counts(gen, counts)
    formats = codec.MODALITY.formats
    fmt = config.format or formats[0]
    if fmt not in formats:
        raise InvalidDataError(f"unknown output format '{fmt}' for a {codec.kind} model; use "
                               f"{' or '.join(formats)}")
    counts = {c: int(n) for c, n in counts.items() if n > 0}
    unit_size = unit_size or config.shard_size
    units = plan_units(counts, unit_size)
    offsets = np.concatenate([[0], np.cumsum([u[3] for u in units])]).tolist()
    job = {"engine": "ray", "model_sha256": gen.info.sha256, "seed": config.seed, "counts": counts, "format": fmt,
           "unit_size": unit_size}
    ort_device = "cuda" if gpus_per_worker > 0 else "cpu"
    with output_lock(out):
        check_outputs({"--out": out}, [gen.info.path, *protected])
        prepare_output(out, "synthesis", overwrite)
        check_sample_budget(sum(counts.values()), config.max_samples, codec.bytes_per_sample(gen.info.shape, fmt), out)
        partial = _partial(out, job)
        done = {int(p.stem) for p in (partial / PARTS).glob("[0-9]*.csv")}
        todo = [u for u in units if u[0] not in done]
        if done:
            log.warning("%s: resuming; %d of %d units already complete", partial, len(done), len(units))
        with ray_session(address, num_workers) as ray:
            remote = ray.remote(num_cpus=1, num_gpus=gpus_per_worker, max_retries=3)(run_unit)
            path = str(Path(model).resolve())
            bar = tqdm(total=sum(u[3] for u in units), initial=sum(u[3] for u in units if u[0] in done),
                       desc="generate (ray)", unit="sample", disable=not progress)
            pending: dict = {}
            queue = list(todo)
            while queue or pending:
                while queue and len(pending) < num_workers:
                    u = queue.pop(0)
                    ref = remote.remote(path, gen.info.sha256, ort_device, u, config.seed, fmt, str(partial),
                                        config.batch_size, offsets[u[0]], _die_once, codecs)
                    pending[ref] = u
                ready, _ = ray.wait(list(pending), num_returns=1)
                for ref in ready:
                    bar.update(ray.get(ref))
                    pending.pop(ref)
            bar.close()
        _merge(partial, units, fmt, codec)
        (partial / "job.json").unlink()
        write_marker(partial, "synthesis")
        replace_dir(partial, out)
    return SynthesisResult(out, counts, out / "manifest.csv", f"ray ({num_workers} workers, {ort_device})", {})


def _partial(out: Path, job: dict) -> Path:
    """The partial folder of `job`: kept when it belongs to the same job, else started afresh."""
    partial = out.with_name(f".{out.name}.partial")
    if partial.exists():
        meta = partial / "job.json"
        if not meta.is_file() and any(partial.iterdir()):
            raise OutputExistsError(f"{partial} exists but is not an augmentor partial output (no job.json); "
                                    "move it away or choose another --out")
        if not meta.is_file() or json.loads(meta.read_text()) != job:
            shutil.rmtree(partial)
    (partial / PARTS).mkdir(parents=True, exist_ok=True)
    write_bytes(partial / "job.json", json.dumps(job, sort_keys=True).encode())
    return partial


def _merge(partial: Path, units: list, fmt: str, codec) -> None:
    """manifest.csv (and tables' samples file) from the units' parts, in unit order."""
    parts = partial / PARTS
    with (partial / "manifest.csv").open("w", newline="") as f:
        csv.DictWriter(f, MANIFEST_FIELDS).writeheader()
        for k, *_ in units:
            f.write((parts / f"{k:05d}.csv").read_text())
    if fmt in ("csv", "parquet"):
        columns = [c["name"] for c in codec.columns] + [codec.label, codec.source_column()]
        target = partial / f"samples.{fmt}"
        if fmt == "csv":
            import pandas as pd

            with target.open("wb") as f:
                f.write(pd.DataFrame(columns=columns).to_csv(index=False).encode() if units else b"")
                for k, *_ in units:
                    f.write((parts / f"data-{k:05d}.csv").read_bytes())
        else:
            import pyarrow.parquet as pq

            writer = None
            for k, *_ in units:
                table = pq.read_table(parts / f"data-{k:05d}.parquet")
                writer = writer or pq.ParquetWriter(target, table.schema)
                writer.write_table(table)
            if writer is not None:
                writer.close()
    shutil.rmtree(parts)
