"""The registry: the one module that knows every modality, on top of the code base.

Each modality is a package (`augmentor/image`, `augmentor/table`, `augmentor/signal`) that builds
one `Modality` (core/modality.py). This module imports the three, and hands the right one down:
a dataset spec goes to the modality that claims it (`for_spec`, `load_dataset`); a model's
metadata names its codec (`for_codec`); a checkpoint names its modality (`get`). Generic code
never imports this module (tests/test_architecture.py checks the import graph); the entry points
below are what the public API (`augmentor.load_dataset`, `augmentor.open_generator`, ...) and the
command line call when they start from a file.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from . import image, signal, table
from .core.errors import InvalidDataError, UnsafeArtifactError
from .core.modality import Modality

# Dispatch order for dataset specs: the first modality that claims a spec loads it (images last:
# a folder or .npz that is neither a table nor a signal set is an image set).
_ALL: dict[str, Modality] = {m.name: m for m in (table.MODALITY, signal.MODALITY, image.MODALITY)}
NAMES = tuple(_ALL)


def get(name: str) -> Modality:
    """The modality `name` (as recorded in data, checkpoints and model metadata)."""
    if name not in _ALL:
        raise UnsafeArtifactError(f"unknown modality {str(name)[:40]!r}; augmentor knows {', '.join(NAMES)}")
    return _ALL[name]


def for_spec(spec: str) -> Modality:
    """The modality that loads dataset spec `spec`."""
    for m in _ALL.values():
        if m.claims(spec):
            return m
    available = [b for name in ("image", "table", "signal") for b in _ALL[name].builtins]
    raise InvalidDataError(f"unknown builtin dataset '{spec.split(':', 1)[-1]}'. Available: {', '.join(available)}")


def for_codec(spec: dict) -> object:
    """The codec described by a model's metadata JSON."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind not in _ALL:
        raise UnsafeArtifactError(f"unknown codec in model metadata: {str(spec)[:200]!r}")
    return _ALL[kind].codec(spec)


# --- entry points that start from a file ------------------------------------------------------

def load_dataset(spec: str | os.PathLike, image_size: int = 0, channels: int = 0, **options: object) -> object:
    """Load a dataset spec: an ImageFolder directory, a `.npz`, a `.csv` / `.parquet` table, a
    folder of WAV class folders, a `.ts` file, or `builtin:NAME`. Images: `image_size` > 0 resizes
    every image to a square of that side; `channels` 1 or 3 converts. Tables: `label`, `categorical`,
    `numeric`, `impute` (table.load_table). Signals: `length`, `rate`, `fit` (signal.load_signals).
    The result is validated and carries its modality (`data.MODALITY`)."""
    spec = str(spec)
    return for_spec(spec).load(spec, image_size=image_size, channels=channels, **options)


def read_model_info(path: str | Path):
    """Parse and check an augmentor ONNX model's metadata against its graph (runtime.read_model_info)."""
    from .synthesis import runtime

    return runtime.read_model_info(path, for_codec)


def open_generator(path: str | Path, device: str = "cpu", **options: object):
    """An `OnnxGenerator` for an exported model file (runtime.OnnxGenerator, with this registry's codecs)."""
    from .synthesis.runtime import OnnxGenerator

    return OnnxGenerator(path, device, codecs=for_codec, **options)


def export_onnx(run_dir: str | Path, out: str | Path | None = None, checkpoint: str | Path | None = None,
                **options: object) -> Path:
    """Export a run's latest (or the given) checkpoint to ONNX and verify it (export.export_onnx)."""
    from .synthesis import export

    return export.export_onnx(run_dir, out, checkpoint, registry=get, **options)


def generator_from_checkpoint(path: str | Path):
    """The EMA generator (eval mode) and JSON state of a checkpoint (train.generator_from_checkpoint)."""
    from .gan.checkpoint import generator_from_checkpoint as load

    return load(path, get)


def fill_gaps(model, data, out: str | Path, *args: object, **options: object):
    """Fill `data`'s class gaps from a model file or OnnxGenerator (synthesize.fill_gaps)."""
    from .synthesis import synthesize

    return synthesize.fill_gaps(model, data, out, *args, codecs=for_codec, **options)


def generate_to_folder(model, counts: Mapping[str, int], out: str | Path, *args: object, **options: object):
    """Write exactly `counts[c]` samples per class from a model file or OnnxGenerator
    (synthesize.generate_to_folder)."""
    from .synthesis import synthesize

    return synthesize.generate_to_folder(model, counts, out, *args, codecs=for_codec, **options)



def dataset_from_arrays(kind: str, x, y, classes: tuple[str, ...], source: str = "X", **options: object) -> object:
    """A validated dataset of modality `kind` from arrays in memory (GANOverSampler's entry point): images
    N x C x H x W float32 in [0, 1]; signals N x C x L float32; a table as a DataFrame (`options`: categorical,
    numeric). `y` indexes `classes`."""
    import numpy as np

    if kind == "table":
        from .table.data import table_from_frame

        return table_from_frame(x, np.asarray(classes, dtype=object)[np.asarray(y)], source, **options)
    if kind == "image":
        from .image.data import LabelledData as make
        from .image.data import validate
    elif kind == "signal":
        from .signal.data import SignalData as make
        from .signal.data import validate
    else:
        raise ValueError(f"unknown modality {kind!r}; choose image, table or signal")
    data = make(np.ascontiguousarray(x, np.float32), np.asarray(y, np.int64), tuple(classes), source)
    validate(data)
    return data
