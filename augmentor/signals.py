"""1-D signals: sensor time series and short audio clips, as one modality (see modalities.py).

Data: class folders of `.wav` files (PCM 8/16/24/32-bit or float, mono or multichannel), a
signal `.npz` (`x` of N x L or N x C x L with `y`, and `modality = "signal"` or a `rate`, or a
2-D `x`), a `.ts` file, or a set that ships inside sktime (`builtin:plaid`, ...). Values stay in
their own units (float32, N x C x L). Series of different lengths are made one declared length
(`[data].length`) by linear resampling (`[data].fit = "resample"`, the default) or by zero
padding / cropping at the end (`"pad-crop"`); the data set records which.

Model (signal_models.py): a class-conditional 1-D GAN (conv1d generator with class-conditional batch norm, a
projection discriminator with spectral norm, hinge loss, 1-D DiffAugment: time shift, cutout,
amplitude scale). The codec maps each channel by its largest absolute training value to [-1, 1].

Evaluation: a small 1-D CNN under the image CNN's budget rules (same steps for every arm), the
six transformations of Iwana & Uchida (2021) as classic-augmentation candidates chosen on
validation, SMOTE on the flattened series, and MiniRocket (sktime) as a second learner.
"""

from __future__ import annotations

import csv
import io
import logging
import math
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import numpy as np

from .errors import InvalidDataError, UnsafeArtifactError

log = logging.getLogger(__name__)

MAX_LENGTH = 1 << 16  # samples per series (65,536: 8 s at 8 kHz)
MAX_CHANNELS = 64
FITS = ("resample", "pad-crop")
WAV = ".wav"
# Sets that ship inside sktime's wheel (read from the package, never downloaded).
BUILTINS = {"plaid": "PLAID", "japanese_vowels": "JapaneseVowels", "osuleaf": "OSULeaf", "arrowhead": "ArrowHead",
            "gunpoint": "GunPoint", "italy_power_demand": "ItalyPowerDemand", "basic_motions": "BasicMotions"}


# --- data -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SignalData:
    """Series (float32, N x C x L, in their own units) with labels indexing `classes`; `rate` in Hz
    (0: not a sampled-audio set), `fitted`: how series of other lengths were made length L."""

    x: np.ndarray
    y: np.ndarray
    classes: tuple[str, ...]
    source: str = ""
    rate: int = 0
    fitted: str = ""
    modality: ClassVar[str] = "signal"

    def __len__(self) -> int:
        return len(self.y)

    @property
    def shape(self) -> tuple[int, int]:
        return tuple(self.x.shape[1:])  # type: ignore[return-value]

    def counts(self) -> dict[str, int]:
        per = np.bincount(self.y, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, per)}

    def _like(self, x: np.ndarray, y: np.ndarray, classes: tuple[str, ...], source: str) -> SignalData:
        return SignalData(x, y, classes, source, self.rate, self.fitted)

    def subset(self, idx: np.ndarray) -> SignalData:
        return self._like(self.x[idx], self.y[idx], self.classes, self.source)

    def with_labels(self, y: np.ndarray, classes: tuple[str, ...]) -> SignalData:
        return self._like(self.x, y, classes, self.source)

    def with_data(self, x: np.ndarray, y: np.ndarray, source: str) -> SignalData:
        return self._like(np.asarray(x, np.float32), np.asarray(y, np.int64), self.classes, source)

    def concat(self, other: SignalData) -> SignalData:
        return self._like(np.concatenate([self.x, other.x]), np.concatenate([self.y, other.y]), self.classes,
                          self.source)

    def content_bytes(self) -> bytes:
        return np.ascontiguousarray(self.x, np.float32).tobytes()

    def describe(self) -> str:
        c, n = self.shape
        rate = f", {self.rate} Hz" if self.rate else ""
        fitted = f" ({self.fitted})" if self.fitted else ""
        return f"{self.source}: {len(self)} series, {len(self.classes)} classes, {c} channel(s) x {n}{rate}{fitted}"

    def load_like(self, spec: str, **_: object) -> SignalData:
        """Another signal set at this one's length and rate, labelled by these classes."""
        from .labels import align_classes

        return align_classes(load_signals(spec, length=self.shape[1], rate=self.rate, fit=_fit_of(self)),
                             self.classes)

    def write(self, stem: Path) -> Path:
        from .atomic import atomic_path

        path = stem.with_suffix(".npz")
        with atomic_path(path) as tmp, open(tmp, "wb") as f:
            np.savez(f, x=self.x.astype(np.float32), y=self.y.astype(np.int64),
                     classes=np.array(self.classes, dtype=str), rate=np.int64(self.rate),
                     modality=np.array(self.modality))
        return path


def _fit_of(data: SignalData) -> str:
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
    if spec.startswith("builtin:"):
        name, _, split = spec.split(":", 1)[1].partition(":")
        series, y, classes, source, got_rate = _load_builtin(name, split or "train")
    else:
        path = Path(spec)
        if not path.exists():
            raise InvalidDataError(f"dataset not found: {path}")
        if path.is_dir():
            series, y, classes, got_rate = _load_wav_folder(path, rate)
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
    data = SignalData(x, np.asarray(y, np.int64), tuple(classes), source, int(rate or got_rate), fitted)
    validate(data)
    return data


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


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    """(rate, C x L float32 in [-1, 1] for PCM) of one WAV file; InvalidDataError naming it otherwise."""
    from scipy.io import wavfile

    try:
        raw = path.read_bytes()
        _check_wav_length(raw, path)
        with warnings.catch_warnings():
            warnings.simplefilter("error", wavfile.WavFileWarning)
            rate, a = wavfile.read(io.BytesIO(raw))
    except (ValueError, OSError, EOFError, wavfile.WavFileWarning) as e:
        raise InvalidDataError(f"{path}: not a readable WAV file ({str(e)[:120]}); re-export it as PCM or float WAV "
                               "or remove it") from None
    if a.dtype == np.uint8:
        x = (a.astype(np.float32) - 128) / 128
    elif a.dtype == np.int16:
        x = a.astype(np.float32) / 32768
    elif a.dtype == np.int32:  # 32-bit, and 24-bit (scipy left-justifies it)
        x = (a.astype(np.float64) / 2**31).astype(np.float32)
    elif a.dtype.kind == "f":
        x = a.astype(np.float32)
    else:
        raise InvalidDataError(f"{path}: WAV sample type {a.dtype} is not supported; use PCM or float")
    x = x[None] if x.ndim == 1 else x.T
    if x.shape[1] == 0:
        raise InvalidDataError(f"{path}: the clip holds no samples; remove it")
    if not np.isfinite(x).all():
        raise InvalidDataError(f"{path}: the clip holds NaN or infinite values; clean or remove it")
    return int(rate), np.ascontiguousarray(x)


def _check_wav_length(raw: bytes, path: Path) -> None:
    """A data chunk that claims more bytes than the file holds is a truncated file (scipy would
    read what is there and warn): refused, naming it."""
    pos = 12
    while pos + 8 <= len(raw):
        cid, size = raw[pos:pos + 4], int.from_bytes(raw[pos + 4:pos + 8], "little")
        if cid == b"data":
            if pos + 8 + size > len(raw):
                raise ValueError(f"its data chunk claims {size} bytes but the file holds {len(raw) - pos - 8}; "
                                 "the file is truncated")
            return
        pos += 8 + size + (size & 1)


def _load_wav_folder(root: Path, rate: int) -> tuple[list, list, list, int]:
    from .names import check_class_names

    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    check_class_names([p.name for p in class_dirs], str(root), "rename the class folder")
    series, labels, rates = [], [], {}
    for label, d in enumerate(class_dirs):
        files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
        for f in files:
            if f.suffix.lower() != WAV:
                log.warning("skipping %s: not a WAV file (extension %r)", f, f.suffix)
                continue
            r, x = read_wav(f)
            rates.setdefault(r, f)
            if rate and r != rate:
                from scipy.signal import resample_poly

                g = math.gcd(rate, r)
                x = resample_poly(x, rate // g, r // g, axis=1).astype(np.float32)
            series.append(x)
            labels.append(label)
        if not any(lab == label for lab in labels):
            raise InvalidDataError(f"{d}: class folder holds no WAV files; add clips or remove the folder")
    if len(rates) > 1 and not rate:
        (r1, f1), (r2, f2) = list(rates.items())[:2]
        raise InvalidDataError(f"{root}: clips have different sample rates ({r1} Hz in {f1}, {r2} Hz in {f2}); "
                               "set [data].rate (--rate) to resample every clip to one rate")
    return series, labels, [p.name for p in class_dirs], rate or next(iter(rates), 0)


def _load_npz(path: Path) -> tuple[list, np.ndarray, list, int]:
    from .names import check_class_names

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
    from .names import check_class_names

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


# --- codec ------------------------------------------------------------------------------------

class SignalCodec:
    """Per-channel scale: model values in [-1, 1] are the series divided by each channel's largest
    absolute training value (so decoding stays inside the observed amplitude range)."""

    kind = "signal"
    formats = ("npz", "wav")
    file_formats = ("wav",)
    filterable = False

    def __init__(self, scale: list[float], rate: int = 0, fit: str = "resample") -> None:
        self.scale, self.rate, self.fit_mode = [float(s) for s in scale], int(rate), fit

    @classmethod
    def fit(cls, data: SignalData) -> SignalCodec:
        peak = np.abs(data.x).max(axis=(0, 2)).astype(np.float64)
        return cls(np.where(peak > 0, peak, 1.0).tolist(), data.rate, _fit_of(data))

    def _s(self) -> np.ndarray:
        return np.asarray(self.scale, np.float32)[:, None]

    def encode(self, x: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(x, np.float32) / self._s(), -1.0, 1.0).astype(np.float32)

    def decode(self, xm: np.ndarray) -> np.ndarray:
        return (np.clip(np.asarray(xm, np.float32), -1.0, 1.0) * self._s()).astype(np.float32)

    def stored(self, xm: np.ndarray) -> np.ndarray:
        return self.decode(xm)  # written as float32: what is stored is what was decoded

    def array(self, xm: np.ndarray) -> np.ndarray:
        """What an .npz output holds: the decoded float32 series."""
        return self.decode(xm)

    def file_bytes(self, series: np.ndarray) -> bytes:
        """One C x L series as float32 WAV bytes (deterministic)."""
        if not self.rate:
            raise InvalidDataError("this model's data has no sample rate, so it cannot be written as WAV; "
                                   "use --format npz")
        from scipy.io import wavfile

        buf = io.BytesIO()
        wavfile.write(buf, self.rate, np.ascontiguousarray(series.T.astype(np.float32)))
        return buf.getvalue()

    def valid_shape(self, shape: tuple[int, ...]) -> bool:
        return (len(shape) == 2 and 1 <= shape[0] <= MAX_CHANNELS and 32 <= shape[1] <= MAX_LENGTH
                and shape[1] % 4 == 0 and len(self.scale) == shape[0])

    def load_options(self, shape: tuple[int, ...]) -> dict:
        """Data for this model is loaded at its length, rate and length fitting."""
        return {"length": shape[1], "rate": self.rate, "fit": self.fit_mode}

    def bytes_per_sample(self, shape: tuple[int, ...], fmt: str) -> int:
        return 4 * int(np.prod(shape)) + (64 if fmt == "wav" else 8)

    def to_json(self) -> dict:
        return {"kind": self.kind, "scale": self.scale, "rate": self.rate, "fit": self.fit_mode}

    @classmethod
    def from_json(cls, spec: dict) -> SignalCodec:
        scale, rate, fit = spec.get("scale"), spec.get("rate", 0), spec.get("fit", "resample")
        ok = (isinstance(scale, list) and 0 < len(scale) <= MAX_CHANNELS
              and all(isinstance(s, (int, float)) and math.isfinite(s) and s > 0 for s in scale)
              and isinstance(rate, int) and 0 <= rate <= 1_000_000 and fit in FITS)
        if not ok:
            raise UnsafeArtifactError("malformed signal codec in model metadata")
        return cls(scale, rate, fit)


# --- writing and reading samples ---------------------------------------------------------------

def _signals_to_folder(gen, counts, out: Path, *, seed: int, batch_size: int, real: SignalData | None,
                       progress: bool, fmt: str, shard_size: int, **_):
    """Signals: `.npz` shards (x float32 N x C x L) or one WAV file per sample in class folders,
    with the manifest; `real` series first, if given."""
    from tqdm import tqdm

    from .atomic import atomic_dir, write_bytes
    from .labels import align_classes
    from .outputs import MANIFEST_FIELDS, write_marker
    from .sinks import NpzSink, class_folder
    from .synthesize import SynthesisResult, write_model_record

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
    from .synthesize import manifest_samples

    xs, ys = manifest_samples(out, like.classes, source, lambda file: read_wav(file)[1])
    x = np.stack(xs).astype(np.float32)
    if x.shape[1:] != like.shape:
        raise InvalidDataError(f"{out}: samples are {x.shape[1:]}, the data is {like.shape}")
    return SignalData(x, ys, like.classes, str(out), like.rate, like.fitted)


def smote_signals(train: SignalData, strategy: dict, k: int, seed: int) -> tuple:
    """SMOTE on the flattened series (every channel and time step a feature)."""
    from imblearn.over_sampling import SMOTE

    x, y = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed).fit_resample(
        train.x.reshape(len(train), -1), train.y)
    return x.reshape(-1, *train.shape).astype(np.float32), y


def _training():
    from . import gan_steps
    from .signal_models import SignalDiscriminator, SignalGenerator, diff_augment_1d

    return gan_steps.Training(
        SignalCodec.fit,
        lambda g, d, opt, x, y, z, gen, cfg, k, guide, w: gan_steps.image_step(
            g, d, opt, x, y, z, gen, cfg.diffaugment, k, cfg.lecam, augment=diff_augment_1d),
        False,
        lambda st: SignalGenerator(len(st["classes"]), tuple(st["shape"]), st["z_dim"], st["g_channels"]),
        lambda k, shape, z_dim, g_width, d_width, codec: (SignalGenerator(k, shape, z_dim, g_width),
                                                          SignalDiscriminator(k, shape, d_width)))


def _modality():
    from .modalities import Modality
    from .signal_models import SignalEvaluation

    return Modality("signal", claims=is_signal_spec, load=load_signals, codec=SignalCodec.from_json,
                    training=_training(), writer=_signals_to_folder, reader=read_signal_samples, smote=smote_signals,
                    evaluation=SignalEvaluation(), serve_formats=("npz",))
