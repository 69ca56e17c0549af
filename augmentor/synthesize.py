"""Fill a dataset's class gaps with generated samples, written next to (never into) it.

Output is an ImageFolder of PNGs plus `manifest.csv`, one row per sample:
`file, class, source, seed, model_sha256`. The manifest is the source of truth for
what a folder holds; `read_samples` loads a folder back through it. The same model,
seed and counts give byte-identical files.
"""

from __future__ import annotations

import csv
import io
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from .atomic import atomic_dir
from .data import LabelledData
from .errors import InvalidDataError, OutputExistsError, UnsafeArtifactError
from .gaps import Strategy, plan_gaps
from .runtime import OnnxGenerator

log = logging.getLogger(__name__)
MANIFEST_FIELDS = ["file", "class", "source", "seed", "model_sha256"]


@dataclass(frozen=True)
class SynthesisResult:
    out: Path
    planned: dict[str, int]
    manifest: Path
    provider: str


def png_bytes(pixels_u8: np.ndarray) -> bytes:
    """C x H x W uint8 -> PNG bytes (deterministic: no timestamps)."""
    arr = pixels_u8[0] if pixels_u8.shape[0] == 1 else pixels_u8.transpose(1, 2, 0)
    buf = io.BytesIO()
    Image.fromarray(arr).save(buf, format="PNG")
    return buf.getvalue()


def check_output_dir(out: Path, overwrite: bool, protected: list[Path] = ()) -> None:
    """Refuse a non-empty `out` unless `overwrite`, and any `out` overlapping user data."""
    out_r = out.resolve()
    for p in protected:
        p_r = p.resolve()
        if out_r == p_r or p_r in out_r.parents or out_r in p_r.parents:
            raise OutputExistsError(
                f"output {out} overlaps the input data {p}; write synthetic data elsewhere"
            )
    if out.exists() and (not out.is_dir() or any(out.iterdir())) and not overwrite:
        raise OutputExistsError(f"{out} already exists and is not empty; choose another --out "
                                "or pass --overwrite")


def generate_to_folder(model: str | Path | OnnxGenerator, counts: Mapping[str, int],
                       out: str | Path, *, seed: int = 0, batch_size: int = 256,
                       device: str = "cpu", real: LabelledData | None = None,
                       overwrite: bool = False, progress: bool = True,
                       protected: list[Path] = ()) -> SynthesisResult:
    """Write exactly `counts[c]` generated PNGs per class (plus `real`, if given)."""
    gen = model if isinstance(model, OnnxGenerator) else OnnxGenerator(model, device)
    out = Path(out)
    for name, n in counts.items():
        gen.class_index(name)
        if n < 0:
            raise InvalidDataError(f"count for class '{name}' is negative ({n})")
    check_output_dir(out, overwrite, list(protected))
    rows = []
    sha = gen.info.sha256
    with atomic_dir(out) as tmp:
        for name in gen.classes:
            (tmp / name).mkdir()
        if real is not None:
            rows += _write_real(tmp, real)
        bar = tqdm(total=sum(counts.values()), desc="generate", unit="img", disable=not progress)
        for name, start, batch in gen.iter_batches(counts, seed, batch_size):
            pixels = gen.info.codec.to_uint8(batch)
            for i, img in enumerate(pixels):
                rel = f"{name}/syn-s{seed}-{start + i:06d}.png"
                (tmp / rel).write_bytes(png_bytes(img))
                rows.append({"file": rel, "class": name, "source": "synthetic", "seed": seed,
                             "model_sha256": sha})
            bar.update(len(pixels))
        bar.close()
        for name in gen.classes:
            if not any((tmp / name).iterdir()):
                (tmp / name).rmdir()
        _write_manifest(tmp / "manifest.csv", rows)
    return SynthesisResult(out, dict(counts), out / "manifest.csv", gen.provider)


def fill_gaps(model: str | Path, data: LabelledData, out: str | Path, *,
              strategy: Strategy = "auto", seed: int = 0, batch_size: int = 256,
              device: str = "cpu", include_real: bool = False, overwrite: bool = False,
              progress: bool = True) -> SynthesisResult:
    """Plan the gaps of `data` under `strategy` and generate exactly that many per class."""
    gen = OnnxGenerator(model, device)
    unknown = [c for c in data.classes if c not in gen.classes]
    if unknown:
        raise InvalidDataError(f"{data.source}: classes {unknown} are not in the model "
                               f"(model classes: {', '.join(gen.classes)})")
    planned = plan_gaps(data.counts(), strategy)
    protected = [Path(data.source)] if data.source and Path(data.source).exists() else []
    return generate_to_folder(gen, planned, out, seed=seed, batch_size=batch_size,
                              real=data if include_real else None, overwrite=overwrite,
                              progress=progress, protected=protected)


def _write_real(root: Path, data: LabelledData) -> list[dict]:
    rows = []
    pixels = np.rint(data.x * 255).astype(np.uint8)
    for i, (img, label) in enumerate(zip(pixels, data.y)):
        name = data.classes[label]
        rel = f"{name}/real-{i:06d}.png"
        (root / name).mkdir(exist_ok=True)
        (root / rel).write_bytes(png_bytes(img))
        rows.append({"file": rel, "class": name, "source": "real", "seed": "", "model_sha256": ""})
    return rows


def _write_manifest(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        w = csv.DictWriter(f, MANIFEST_FIELDS)
        w.writeheader()
        w.writerows(rows)


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
    for r in rows:
        if r["class"] not in classes:
            raise InvalidDataError(f"{out}: manifest class '{r['class']}' is not one of {classes}")
        file = (out / r["file"]).resolve()
        if out.resolve() not in file.parents:
            raise UnsafeArtifactError(f"{out}: manifest path {r['file']!r} leaves the folder")
        with Image.open(file) as im:
            a = np.asarray(im, np.uint8)
        xs.append(a[None] if a.ndim == 2 else a.transpose(2, 0, 1))
        ys.append(classes.index(r["class"]))
    if not xs:
        raise InvalidDataError(f"{out}: manifest lists no samples")
    return LabelledData(np.stack(xs).astype(np.float32) / 255.0, np.asarray(ys, np.int64),
                        classes, str(out))
