"""Signal outputs: `.npz` shards (x float32 N x C x L) or one WAV file per sample in class folders (in
the training clips' sample type), with the manifest; read back through the manifest."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np
from tqdm import tqdm

from ..core.atomic import atomic_dir, write_bytes
from ..core.errors import InvalidDataError
from ..core.labels import align_classes
from ..core.outputs import MANIFEST_FIELDS, write_marker
from ..synthesis.sinks import NpzSink, class_folder
from ..synthesis.synthesize import SynthesisResult, manifest_samples, write_model_record
from .data import SignalData
from .wav import read_wav


def signals_to_folder(gen, counts, out: Path, *, seed: int, batch_size: int, real: SignalData | None,
                       progress: bool, fmt: str, shard_size: int, **_):
    """Signals: `.npz` shards (x float32 N x C x L) or one WAV file per sample in class folders,
    with the manifest; `real` series first, if given."""
    codec, sha = gen.info.codec, gen.info.sha256
    if fmt == "wav":
        codec.file_bytes(np.zeros(gen.info.shape, np.float32))  # no rate: refused before anything is written
    with atomic_dir(out) as tmp, (tmp / "manifest.csv").open("w", newline="") as manifest:
        write_model_record(tmp, gen)
        rows = csv.DictWriter(manifest, MANIFEST_FIELDS)
        rows.writeheader()
        npz = NpzSink(tmp, gen.classes, shard_size) if fmt == "npz" else None

        def emit(name: str, stems: list[str], series: np.ndarray, source: str, s: object, h: str) -> None:
            if npz is not None:
                files = npz.add(name, stems, series)
            else:
                folder = class_folder(tmp, name)
                files = [f"{folder.name}/{stem}.wav" for stem in stems]
                for f, one in zip(files, series):
                    write_bytes(tmp / f, codec.file_bytes(one))
            rows.writerows({"file": f, "class": name, "source": source, "seed": s, "model_sha256": h} for f in files)

        try:
            if real is not None:
                real = align_classes(real, gen.classes)
                for label, name in enumerate(gen.classes):
                    idx = np.flatnonzero(real.y == label)
                    if len(idx):
                        emit(name, [f"real-{i:06d}" for i in idx], real.x[idx], "real", "", "")
            bar = tqdm(total=sum(counts.values()), desc="generate", unit="series", disable=not progress)
            for name, start, batch in gen.iter_batches(counts, seed, batch_size):
                emit(name, [f"syn-s{seed}-{start + i:06d}" for i in range(len(batch))], codec.stored(batch),
                     "synthetic", seed, sha)
                bar.update(len(batch))
            bar.close()
        finally:
            if npz is not None:
                npz.close()
        write_marker(tmp, "synthesis")
    return SynthesisResult(out, dict(counts), out / "manifest.csv", gen.provider, {})


def read_signal_samples(out: str | Path, like: SignalData, source: str | None = None) -> SignalData:
    """Load a signal output folder through its manifest (npz shard rows or WAV files), labels indexing
    `like`'s classes."""
    xs, ys = manifest_samples(out, like.classes, source, lambda file: read_wav(file)[1])
    x = np.stack(xs).astype(np.float32)
    if x.shape[1:] != like.shape:
        raise InvalidDataError(f"{out}: samples are {x.shape[1:]}, the data is {like.shape}")
    return SignalData(x, ys, like.classes, str(out), like.rate, like.fitted, like.sample_format)
