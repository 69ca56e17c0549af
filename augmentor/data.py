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

from .errors import InvalidDataError
from .labels import align_classes

__all__ = ["align_classes", "fingerprint", "imbalance_targets", "balanced_validation_split", "hold_out_and_thin",
           "pool_array", "stratified_split", "thin_classes", "validation_split"]
Dataset = object  # any modality's dataset


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
