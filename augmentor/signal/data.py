"""1-D signal data sets: sensor time series and short audio clips.

Data: class folders of `.wav` files (PCM 8/16/24/32-bit or float, mono or multichannel), a
signal `.npz` (`x` of N x L or N x C x L with `y`, and `modality = "signal"` or a `rate`, or a
2-D `x`), a `.ts` file, or a set that ships inside sktime (`builtin:plaid`, ...). Values stay in
their own units (float32, N x C x L). Series of different lengths are made one declared length
(`[data].length`) by linear resampling (`[data].fit = "resample"`, the default) or by zero
padding / cropping at the end (`"pad-crop"`); the data set records which.

Model (models.py): a class-conditional 1-D GAN (conv1d generator with class-conditional batch norm, a
projection discriminator with spectral norm, hinge loss, 1-D DiffAugment: time shift, cutout,
amplitude scale). The codec maps each channel by its largest absolute training value to [-1, 1].

Evaluation: a small 1-D CNN under the image CNN's budget rules (same steps for every arm), the
six transformations of Iwana & Uchida (2021) as classic-augmentation candidates chosen on
validation, SMOTE on the flattened series, and MiniRocket (sktime) as a second learner.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from ..core.data import check_one_medium
from ..core.dataset import Dataset
from ..core.errors import InvalidDataError
from .wav import WAV, at_rate, load_wav_folder, read_wav

log = logging.getLogger(__name__)

MAX_LENGTH = 1 << 16  # samples per series (65,536: 8 s at 8 kHz)
MAX_CHANNELS = 64
FITS = ("resample", "pad-crop")
# Sets that ship inside sktime's wheel (read from the package, never downloaded).
BUILTINS = {"plaid": "PLAID", "japanese_vowels": "JapaneseVowels", "osuleaf": "OSULeaf", "arrowhead": "ArrowHead",
            "gunpoint": "GunPoint", "italy_power_demand": "ItalyPowerDemand", "basic_motions": "BasicMotions"}


# --- data -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignalData(Dataset):
    """Series (float32, N x C x L, in their own units) with labels indexing `classes`; `rate` in Hz
    (0: not a sampled-audio set), `fitted`: how series of other lengths were made length L."""


    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    source: str = ""
    rate: int = 0
    fitted: str = ""
    sample_format: str = ""  # a WAV-folder set's sample type (e.g. "int16"); synthesis writes WAVs in it
    modality: ClassVar[str] = "signal"

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    @property
    def output_format(self) -> str:
        """How synthetic samples of this set are written by default: WAV folders for a WAV-folder set."""
        return "wav" if self.sample_format else ""

    def describe(self) -> str:
        c, n = self.shape
        rate = f", {self.rate} Hz" if self.rate else ""
        fitted = f" ({self.fitted})" if self.fitted else ""
        return f"{self.source}: {len(self)} series, {len(self.classes)} classes, {c} channel(s) x {n}{rate}{fitted}"

    def load_like(self, spec: str, **_: object) -> SignalData:
        """Another signal set at this one's length and rate, labelled by these classes."""
        from ..core.labels import align_classes

        return align_classes(load_signals(spec, length=self.shape[1], rate=self.rate, fit=fit_of(self)),
                             self.classes)

    def write(self, stem: Path) -> Path:
        from ..core.atomic import atomic_path

        path = stem.with_suffix(".npz")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, x=self.x.astype(np.float32), y=self.y.astype(np.int64),
                     classes=np.array(self.classes, dtype=str), rate=np.int64(self.rate),
                     modality=np.array(self.modality))
        return path


def fit_of(data: SignalData) -> str:
    """How `data`'s series were made one length (resampling unless they were padded or cropped)."""
    return "pad-crop" if "padding" in data.fitted else "resample"


def is_signal_spec(spec: str) -> bool:
    """Is `spec` a signal set: builtin signal name, `.ts`, signal `.npz`, or a folder of WAV class folders?"""
    if spec.startswith("builtin:"):
        name, _, split = spec.split(":", 1)[1].partition(":")
        return name in BUILTINS and split in ("", "train", "test")
    path = Path(spec)
    suffix = path.suffix.lower()
    if suffix == ".ts":
        return True
    if suffix == ".npz" and path.is_file():
        try:  # only the small arrays and x's header are read: image sets are not loaded twice
            with np.load(path, allow_pickle=False) as z:
                if "modality" in z.files:
                    return str(z["modality"]) == SignalData.modality
                if "rate" in z.files:
                    return True
                if "x" not in z.files:
                    return False
                with z.zip.open("x.npy") as f:
                    header = (np.lib.format.read_array_header_1_0 if np.lib.format.read_magic(f) == (1, 0)
                              else np.lib.format.read_array_header_2_0)
                    shape = header(f)[0]
                return len(shape) == 2
        except (OSError, ValueError, EOFError, KeyError):
            return False  # the image loader reports an unreadable file
    if path.is_dir():
        check_one_medium(path)
        try:
            return any(f.suffix.lower() == WAV for d in path.iterdir() if d.is_dir() for f in d.iterdir())
        except OSError:
            return False
    return False


def load_signals(spec: str, length: int = 0, rate: int = 0, fit: str = "resample", inspect: bool = False,
                 **_: object) -> SignalData:
    """Load a signal set (see the module docstring); `length` > 0 makes every series that long
    (`fit`), `rate` > 0 resamples WAV clips to that rate. Validated. `inspect`: series of several
    lengths without a declared `length` are zero-padded to the longest, only to be counted."""
    if fit not in FITS:
        raise InvalidDataError(f"[data].fit must be one of {', '.join(FITS)}, got {str(fit)[:40]!r}")
    if not 0 <= length <= MAX_LENGTH:
        raise InvalidDataError(f"[data].length {length} is over the limit of {MAX_LENGTH} samples per series; "
                               "declare a shorter length (resample or crop)")
    sample_format = ""
    if spec.startswith("builtin:"):
        name, _, split = spec.split(":", 1)[1].partition(":")
        series, y, classes, source, got_rate = _load_builtin(name, split or "train")
    else:
        path = Path(spec)
        if not path.exists():
            raise InvalidDataError(f"dataset not found: {path}")
        if path.is_dir():
            series, y, classes, got_rate, sample_format = load_wav_folder(path, rate)
        elif path.suffix.lower() == ".ts":
            series, y, classes, got_rate = _load_ts(path)
        else:
            series, y, classes, got_rate = _load_npz(path)
        source = str(path)
    if inspect and not length and len({s.shape[1] for s in series}) > 1:
        longest = max(s.shape[1] for s in series)
        x, fitted = _equalise(series, longest + (-longest) % 4, "pad-crop", source)
        fitted = fitted.split(" made")[0] + " as found (declare [data].length to train)"
    else:
        x, fitted = _equalise(series, length, fit, source)
    data = SignalData(x, np.asarray(y, np.int64), tuple(classes), source, int(rate or got_rate), fitted, sample_format)
    validate(data)
    return data


def load_unlabelled(spec: str, like: SignalData, **_: object) -> SignalData:
    """Unlabelled series for `like`'s classes (every label 0, never read as a class): a .npz with an
    array x (N x L or N x C x L; any labels in it are not read), a .ts file (its labels not read), or a
    folder of WAV files (sub-folders included; names not read as classes), at `like`'s length, rate
    and channels."""
    path = Path(spec)
    if not path.exists():
        raise InvalidDataError(f"data.unlabelled: {path} not found; name a .npz with an array x, a .ts file or "
                               "a folder of WAV files")
    rate = like.rate
    if path.is_dir():
        files = sorted(p for p in path.rglob("*") if p.is_file() and p.suffix.lower() == WAV
                       and not any(part.startswith(".") for part in p.relative_to(path).parts))
        if not files:
            raise InvalidDataError(f"data.unlabelled: {path} holds no WAV files")
        series = [at_rate(*read_wav(f), rate) for f in files]
    elif path.suffix.lower() == ".ts":
        series = _load_ts(path)[0]
    elif path.suffix.lower() == ".npz":
        from ..core.data import pool_array

        x = pool_array(path, "series")
        if x.ndim == 2:
            x = x[:, None]
        if x.ndim != 3 or not np.issubdtype(x.dtype, np.number) or not len(x):
            raise InvalidDataError(f"data.unlabelled: {path}: x must be numeric N x L or N x C x L with N > 0, "
                                   f"got {x.dtype} {x.shape}")
        series = list(x.astype(np.float32))
    else:
        raise InvalidDataError(f"data.unlabelled: {path}: use a .npz with an array x, a .ts file or a folder of "
                               "WAV files")
    x, _ = _equalise(series, like.shape[1], fit_of(like), f"data.unlabelled: {path}")
    if x.shape[1] != like.shape[0]:
        raise InvalidDataError(f"data.unlabelled: {path}: series have {x.shape[1]} channel(s), the training "
                               f"series {like.shape[0]}")
    bad = np.flatnonzero(~np.isfinite(x).reshape(len(x), -1).all(1))
    if len(bad):
        raise InvalidDataError(f"data.unlabelled: {path}: series {int(bad[0])} holds NaN or infinite values "
                               f"({len(bad)} series in all); clean or drop them first")
    return like.with_data(x, np.zeros(len(x), np.int64), str(path))


def validate(data: SignalData) -> None:
    """Raise InvalidDataError unless `data` can train a class-conditional 1-D model."""
    where = data.source or "dataset"
    if data.x.ndim != 3 or not 1 <= data.x.shape[1] <= MAX_CHANNELS:
        raise InvalidDataError(f"{where}: signals must be N x C x L with 1 to {MAX_CHANNELS} channels, "
                               f"got shape {data.x.shape}")
    if len(data.x) != len(data.y):
        raise InvalidDataError(f"{where}: {len(data.x)} series but {len(data.y)} labels")
    bad = np.flatnonzero(~np.isfinite(data.x).reshape(len(data.x), -1).all(1))
    if len(bad):
        raise InvalidDataError(f"{where}: series {int(bad[0])} (class '{data.classes[data.y[bad[0]]]}') holds NaN or "
                               f"infinite values ({len(bad)} series in all); clean or drop them first")
    n = data.x.shape[2]
    if n < 32 or n % 4:
        raise InvalidDataError(f"{where}: series are {n} samples long; augmentor models lengths of at least 32 "
                               "that are a multiple of 4 (e.g. 256, 512, 2000): set [data].length")
    if len(data.classes) < 2:
        raise InvalidDataError(f"{where}: found {len(data.classes)} class; a class-conditional model needs at least 2")
    for name, count in data.counts().items():
        if count < 2:
            raise InvalidDataError(f"{where}: class '{name}' has {count} series; every class needs at least 2. "
                                   "Add samples or remove the class")


def _equalise(series: list[np.ndarray], length: int, fit: str, where: str) -> tuple[np.ndarray, str]:
    """One C x L array per series -> N x C x length float32, and how it was done."""
    if not series:
        raise InvalidDataError(f"{where}: no series found")
    channels = {s.shape[0] for s in series}
    if len(channels) > 1:
        raise InvalidDataError(f"{where}: series have different channel counts {sorted(channels)}; "
                               "every series needs the same channels")
    lengths = np.array([s.shape[1] for s in series])
    lo, hi = int(lengths.min()), int(lengths.max())
    if lo == hi and length in (0, lo):
        return np.stack(series).astype(np.float32), ""
    if length == 0:
        raise InvalidDataError(f"{where}: series lengths vary from {lo} to {hi} samples; declare one length with "
                               f"[data].length (e.g. {_suggest(hi)}) and [data].fit (resample or pad-crop)")
    out = np.zeros((len(series), series[0].shape[0], length), np.float32)
    for i, s in enumerate(series):
        if fit == "resample":
            grid = np.linspace(0, s.shape[1] - 1, length)
            out[i] = [np.interp(grid, np.arange(s.shape[1]), ch) for ch in s]
        else:
            n = min(length, s.shape[1])
            out[i, :, :n] = s[:, :n]
    how = "linear resampling" if fit == "resample" else "zero padding or cropping at the end"
    span = f"{lo}" if lo == hi else f"{lo}-{hi}"
    return out, f"lengths {span} made {length} by {how}"


def _suggest(n: int) -> int:
    return min(MAX_LENGTH, 1 << max(5, math.ceil(math.log2(max(n, 1))) - 1))


def _load_npz(path: Path) -> tuple[list, np.ndarray, list, int]:
    from ..core.names import check_class_names

    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
    except (OSError, ValueError, EOFError) as e:
        raise InvalidDataError(f"{path}: not a readable .npz ({str(e)[:120]})") from None
    if "x" not in arrays or "y" not in arrays:
        raise InvalidDataError(f"{path}: a signal .npz needs arrays x (N x L or N x C x L) and y")
    x, y = arrays["x"], arrays["y"]
    if x.ndim == 2:
        x = x[:, None]
    if x.ndim != 3 or not np.issubdtype(x.dtype, np.number):
        raise InvalidDataError(f"{path}: x must be numeric N x L or N x C x L, got {x.dtype} {x.shape}")
    if "classes" in arrays:
        classes = [str(c) for c in arrays["classes"]]
        y = np.asarray(y, np.int64)
        if len(y) and (y.min() < 0 or y.max() >= len(classes)):
            raise InvalidDataError(f"{path}: labels y index outside the {len(classes)} classes")
    else:
        names = np.asarray(y).astype(str)
        classes = sorted(set(names.tolist()))
        y = np.array([classes.index(v) for v in names], np.int64)
    check_class_names(classes, str(path))
    return list(x.astype(np.float32)), y, classes, int(arrays["rate"]) if "rate" in arrays else 0


def _from_nested(frame, labels) -> tuple[list, np.ndarray, list]:
    """sktime's nested DataFrame (one pd.Series per cell) -> C x L arrays, label indices, class names."""
    from ..core.names import check_class_names

    series = [np.stack([np.asarray(frame.iat[i, c], np.float32) for c in range(frame.shape[1])])
              for i in range(len(frame))]
    names = np.asarray(labels).astype(str)
    classes = sorted(set(names.tolist()), key=lambda v: (len(v), v))
    check_class_names(classes, "labels")
    return series, np.array([classes.index(v) for v in names], np.int64), classes


def _sktime(what: str):
    try:
        import sktime.datasets as datasets
    except ImportError:
        raise InvalidDataError(f"{what} needs sktime; install it with pip install 'augmentor[signals]'") from None
    return datasets


def _load_ts(path: Path) -> tuple[list, np.ndarray, list, int]:
    datasets = _sktime(f"{path} (a .ts file)")
    try:
        frame, labels = datasets.load_from_tsfile_to_dataframe(str(path))
    except Exception as e:  # sktime raises its own IOError subclasses and ValueErrors
        raise InvalidDataError(f"{path}: not a readable .ts file ({str(e)[:120]})") from None
    series, y, classes = _from_nested(frame, labels)
    return series, y, classes, 0


def _load_builtin(name: str, split: str) -> tuple[list, np.ndarray, list, str, int]:
    """`builtin:NAME` (the set's train split) or `builtin:NAME:test`, from sktime's bundled files."""
    if name not in BUILTINS or split not in ("train", "test"):
        raise InvalidDataError(f"unknown builtin signal set '{name}:{split}'; available: "
                               f"{', '.join(sorted(BUILTINS))} (add :test for the shipped test split)")
    datasets = _sktime(f"builtin:{name}")
    loader = getattr(datasets, f"load_{name}", None) or (
        lambda split: datasets.load_UCR_UEA_dataset(BUILTINS[name], split=split, extract_path=None))
    frame, labels = loader(split=split)
    series, y, classes = _from_nested(frame, labels)
    return series, y, classes, f"builtin:{name}" + (":test" if split == "test" else ""), 0
