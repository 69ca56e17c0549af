"""Operations on a dataset of any modality: split, thin, hold out validation, fingerprint.

Every modality's dataset (image.LabelledData, table.TableData, signal.SignalData) has `x`,
integer `y` indexing `classes`, `subset`, `with_labels` and `content_bytes`; loading one is the
registry's (`modalities.load_dataset`), which hands the spec to the modality that claims it.
"""

from __future__ import annotations

import hashlib
import json
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .dataset import Dataset
from .errors import InvalidDataError
from .labels import align_classes

__all__ = ["align_classes", "fingerprint", "imbalance_targets", "balanced_validation_split", "hold_out_and_thin",
           "pool_array", "stratified_split", "thin_classes", "validation_split"]
# File suffixes of the media a folder data set may hold; a folder of class folders holding two kinds is refused
IMAGE_EXTENSIONS = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"})
AUDIO_EXTENSIONS = frozenset({".wav"})


def check_one_medium(root: Path) -> None:
    """A folder of class folders holds images or WAV clips, not both: both is one error naming the counts."""
    images = audio = 0
    try:
        for d in root.iterdir():
            if d.is_dir():
                for f in d.iterdir():
                    images += f.suffix.lower() in IMAGE_EXTENSIONS
                    audio += f.suffix.lower() in AUDIO_EXTENSIONS
    except OSError:
        return  # the loader reports an unreadable folder
    if images and audio:
        raise InvalidDataError(f"{root} holds {images} image file(s) and {audio} WAV file(s) in its class folders; "
                               "a data set is one kind. Move the images or the clips to a folder of their own")


def fingerprint(data: Dataset) -> str:
    """sha256 over class names, labels and values: identifies the training data in a model."""
    h = hashlib.sha256(json.dumps(list(data.classes)).encode())
    h.update(np.ascontiguousarray(data.y, np.int64).tobytes())
    h.update(data.content_bytes())
    return h.hexdigest()


def pool_array(path: Path, what: str) -> np.ndarray:
    """The array `x` of an unlabelled pool's `.npz` (data.unlabelled; any labels in it are not read), or one
    InvalidDataError naming the file and the fix; `what` names the samples ("images", "series")."""
    try:
        with np.load(path, allow_pickle=False) as z:
            if "x" not in z.files:
                raise InvalidDataError(f"data.unlabelled: {path} has no array x (found {', '.join(z.files)}); "
                                       f"save with np.savez(path, x={what})")
            return z["x"]
    except (OSError, ValueError, zipfile.BadZipFile, EOFError) as e:
        raise InvalidDataError(f"data.unlabelled: {path}: cannot read as .npz ({str(e)[:120]})") from None


def stratified_split(data: Dataset, test_fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Split into (train, test) keeping class proportions; seeded."""
    from sklearn.model_selection import train_test_split

    if not 0 < test_fraction < 1:
        raise InvalidDataError(f"test_fraction must be between 0 and 1, got {test_fraction}")
    idx = np.arange(len(data))
    counts = np.bincount(data.y, minlength=len(data.classes))
    n_test = int(np.ceil(test_fraction * len(data)))
    if counts.min() < 2 or n_test < len(data.classes) or len(data) - n_test < len(data.classes):
        small = data.classes[int(counts.argmin())]
        raise InvalidDataError(
            f"{getattr(data, 'source', 'the data')}: {len(data)} samples in {len(data.classes)} classes (class "
            f"'{small}' has {counts.min()}) are too few to hold out a stratified test split of {test_fraction:g}: "
            "each split needs every class. Add samples, or pass a test set ([data].test / --test)")
    tr, te = train_test_split(idx, test_size=test_fraction, random_state=seed, stratify=data.y)
    return data.subset(np.sort(tr)), data.subset(np.sort(te))


def thin_classes(data: Dataset, target: dict[str, int], seed: int) -> Dataset:
    """Keep `target[c]` randomly chosen samples of each class c (seeded, no replacement)."""
    rng = np.random.default_rng(seed)
    keep = []
    for label, name in enumerate(data.classes):
        idx = np.flatnonzero(data.y == label)
        n = target.get(name, len(idx))
        if n > len(idx):
            raise InvalidDataError(f"class '{name}' has {len(idx)} samples, cannot keep {n}")
        keep.append(np.sort(rng.choice(idx, size=n, replace=False)))
    return data.subset(np.sort(np.concatenate(keep)))


def imbalance_targets(counts: dict[str, int], profile: str, classes: Sequence[str] = (),
                      keep: float = 1.0, ratio: float = 1.0) -> dict[str, int]:
    """Per-class counts for a declared imbalance profile.

    "step": each listed class keeps round(keep * n) samples (at least 2).
    "exponential": class i (in class order) keeps n_max * ratio ** (-i / (K - 1)),
    so the first class is the largest and the last is `ratio` times smaller.
    """
    if profile == "none":
        return dict(counts)
    if profile == "step":
        unknown = [c for c in classes if c not in counts]
        if unknown:
            raise InvalidDataError(
                f"imbalance.classes names unknown class(es) {unknown}; classes are {list(counts)}"
            )
        if not 0 < keep <= 1:
            raise InvalidDataError(f"imbalance.keep must be in (0, 1], got {keep}")
        return {c: max(2, round(keep * n)) if c in classes else n for c, n in counts.items()}
    if profile == "exponential":
        if ratio < 1:
            raise InvalidDataError(f"imbalance.ratio must be >= 1, got {ratio}")
        k = len(counts)
        n_max = min(counts.values())
        return {c: min(n, max(2, round(n_max * ratio ** (-i / (k - 1)))))
                for i, (c, n) in enumerate(counts.items())}
    raise InvalidDataError(f"unknown imbalance profile '{profile}'; use none, step or exponential")


def balanced_validation_split(data: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Hold out the same number m = floor(fraction x smallest class) of samples of every class
    (seeded). Used before a recipe thins a balanced split into a long tail, so that choices are
    judged on the class mix the (balanced) test split measures, as in CIFAR-LT/ImageNet-LT
    practice: a long-tailed validation split would hold 0-2 images of the thin classes and its
    balanced accuracy would be noise. Returns (train, validation)."""
    if not 0 < fraction < 1:
        raise InvalidDataError(f"validation fraction must be between 0 and 1, got {fraction}")
    counts = np.bincount(data.y, minlength=len(data.classes))
    m = int(fraction * counts.min())
    if m < 1:
        small = data.classes[int(counts.argmin())]
        raise InvalidDataError(f"{data.source}: class '{small}' has {counts.min()} samples, too few to hold out a "
                               f"balanced validation split (fraction {fraction}); raise "
                               f"[data].validation_fraction or pass [data].validation")
    rng = np.random.default_rng(seed)
    val = np.sort(np.concatenate([rng.choice(np.flatnonzero(data.y == c), size=m, replace=False)
                                  for c in range(len(data.classes))])).astype(np.int64)
    keep = np.setdiff1d(np.arange(len(data)), val)
    return data.subset(keep), data.subset(val)


def hold_out_and_thin(train: Dataset, validation: Dataset | None, fraction: float, seed: int, *,
                      profile: str = "none", classes: Sequence[str] = (), keep: float = 1.0, ratio: float = 1.0,
                      thin_seed: int = 0) -> tuple[Dataset, Dataset]:
    """Thin `train` to the declared imbalance profile and return (train, validation). Without
    `validation` one is held out of `train`: for a simulated long tail (profile != "none") balanced
    and *before* thinning (`balanced_validation_split`), for data as given stratified from what
    remains (`validation_split`). The one place the recipe and `augmentor evaluate` order these."""
    if validation is None and profile != "none":
        train, validation = balanced_validation_split(train, fraction, seed)
    train = thin_classes(train, imbalance_targets(train.counts(), profile, classes, keep, ratio), thin_seed)
    if validation is None:
        train, validation = validation_split(train, fraction, seed)
    return train, validation


def validation_split(data: Dataset, fraction: float, seed: int) -> tuple[Dataset, Dataset]:
    """Hold out floor(fraction x n_c) samples of each class c for validation (seeded), but
    never so many that fewer than 2 stay for training: a class with 2 or 3 samples keeps
    them all and is absent from validation. Returns (train, validation)."""
    if not 0 < fraction < 1:
        raise InvalidDataError(f"validation fraction must be between 0 and 1, got {fraction}")
    rng = np.random.default_rng(seed)
    held = []
    for label in range(len(data.classes)):
        idx = np.flatnonzero(data.y == label)
        n_val = min(int(fraction * len(idx)), max(0, len(idx) - 2))
        held.append(rng.choice(idx, size=n_val, replace=False))
    val = np.sort(np.concatenate(held)).astype(np.int64)
    if len(val) == 0:
        raise InvalidDataError(f"{data.source}: too few samples to hold out a validation split "
                               f"(fraction {fraction}); add samples or pass a validation set")
    keep = np.setdiff1d(np.arange(len(data)), val)
    return data.subset(keep), data.subset(val)


NEAR_COPY = 0.999  # correlation of two downscaled samples above which one is a copy of the other


def shared_samples(pool: Dataset, split: Dataset) -> int:
    """How many of `pool`'s samples are in `split` by content, not bytes. Tables: rows equal after rounding
    floats to 6 significant digits. Arrays: equal bytes, or a near-copy — correlation >= NEAR_COPY after
    average-pooling to at most 8 values per image axis (32 per series) and standardising each sample. A JPEG
    re-encoding of an image correlates above 0.9998 there; distinct scikit-learn digits at most 0.995."""
    if hasattr(pool.x, "iloc"):
        return int(np.isin(_row_hashes(pool.x), _row_hashes(split.x)).sum())
    return int(copies_in(pool.x, split.x).sum())


def copies_in(pool_x: np.ndarray, split_x: np.ndarray) -> np.ndarray:
    """Per sample of the array `pool_x`: is it in `split_x` by content (shared_samples' rule for arrays)?"""
    a, b = np.asarray(pool_x, np.float32), np.asarray(split_x, np.float32)
    exact = {row.tobytes() for row in b.reshape(len(b), -1)}
    hit = np.array([row.tobytes() in exact for row in a.reshape(len(a), -1)], bool)
    za, zb = _standardised(a), _standardised(b)
    import torch

    ta, tb = torch.from_numpy(za), torch.from_numpy(zb)
    for start in range(0, len(ta), 2048):
        block = ta[start:start + 2048] @ tb.T
        hit[start:start + 2048] |= (block.max(1).values >= NEAR_COPY).numpy() if len(tb) else False
    return hit


def _row_hashes(frame) -> np.ndarray:
    import pandas as pd

    frame = frame.copy()
    for c in frame.columns:
        if pd.api.types.is_float_dtype(frame[c]):
            frame[c] = frame[c].map(lambda v: float(f"{v:.6g}") if pd.notna(v) else v)
    return pd.util.hash_pandas_object(frame, index=False).to_numpy()


def _standardised(x: np.ndarray) -> np.ndarray:
    """Each sample pooled small (8 per image axis, 32 per series), centred and scaled to unit length (0 where
    constant: a constant sample is matched by its bytes only)."""
    import torch

    t = torch.from_numpy(np.ascontiguousarray(x if x.ndim > 2 else x[:, None]))
    if t.ndim == 4:
        t = torch.nn.functional.adaptive_avg_pool2d(t, tuple(min(8, n) for n in t.shape[2:]))
    else:
        t = torch.nn.functional.adaptive_avg_pool1d(t.reshape(len(t), -1, t.shape[-1]), min(32, t.shape[-1]))
    z = t.reshape(len(t), -1).numpy().astype(np.float32)
    z = z - z.mean(1, keepdims=True)
    norm = np.linalg.norm(z, axis=1, keepdims=True)
    return np.where(norm > 1e-6, z / np.maximum(norm, 1e-6), 0).astype(np.float32)
