"""Table outputs: one `samples.csv` / `samples.parquet` (the training columns, the label column and a
`source` column; the manifest's `file` reads `samples.csv#17`, the data row), with the manifest."""

from __future__ import annotations

import csv
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd
from tqdm import tqdm

from ..core.atomic import atomic_dir
from ..core.errors import InvalidDataError, UnsafeArtifactError
from ..core.labels import align_classes
from ..core.outputs import MANIFEST_FIELDS, read_manifest, split_ref, write_marker
from ..synthesis.runtime import OnnxGenerator
from ..synthesis.synthesize import SynthesisResult, write_model_record
from .data import TableData


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


def table_to_folder(gen: OnnxGenerator, counts: Mapping[str, int], out: Path, *, seed: int,
                     batch_size: int, real: TableData | None, progress: bool, fmt: str, **_) -> SynthesisResult:
    """Tables: generated rows (and `real` rows first, if given) into one CSV or parquet file,
    written batch by batch, with the manifest beside it."""
    codec, sha, file = gen.info.codec, gen.info.sha256, f"samples.{fmt}"
    label, source_col = codec.label, codec.source_column()
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
