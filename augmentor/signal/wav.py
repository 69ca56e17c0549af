"""WAV files: read (PCM 8/16/24/32-bit or float, mono or multichannel) and written back in a
chosen sample type, so 16-bit PCM clips in give 16-bit PCM clips out."""

from __future__ import annotations

import io
import logging
import math
import warnings
from pathlib import Path

import numpy as np

from ..core.errors import InvalidDataError
from ..core.names import check_class_names

log = logging.getLogger(__name__)
WAV = ".wav"
# sample type -> (numpy type, full scale): PCM values are float x full scale, rounded and clipped
PCM = {"uint8": (np.uint8, 128), "int16": (np.int16, 32768), "int32": (np.int32, 2**31)}
SAMPLE_FORMATS = ("float32", *PCM)


def read_wav(path: Path) -> tuple[int, np.ndarray]:
    """(rate, C x L float32 in [-1, 1] for PCM) of one WAV file; InvalidDataError naming it otherwise."""
    rate, x, _ = read_wav_typed(path)
    return rate, x


def read_wav_typed(path: Path) -> tuple[int, np.ndarray, str]:
    """`read_wav` and the file's sample type as stored (uint8, int16, int32, float32, float64)."""
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
    return int(rate), np.ascontiguousarray(x), str(a.dtype)


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


def at_rate(r: int, x: np.ndarray, rate: int) -> np.ndarray:
    """A C x L clip read at `r` Hz, resampled to `rate` Hz (polyphase) when `rate` is set and differs."""
    if not rate or r == rate:
        return x
    from scipy.signal import resample_poly

    g = math.gcd(rate, r)
    return resample_poly(x, rate // g, r // g, axis=1).astype(np.float32)


def load_wav_folder(root: Path, rate: int) -> tuple[list, list, list, int, str]:
    """(series, labels, class names, rate, sample type) of a folder of WAV class folders. The sample
    type is the files' own when they share one (e.g. int16), else float32."""

    class_dirs = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    check_class_names([p.name for p in class_dirs], str(root), "rename the class folder")
    series, labels, rates, types = [], [], {}, set()
    for label, d in enumerate(class_dirs):
        files = sorted(p for p in d.iterdir() if p.is_file() and not p.name.startswith("."))
        for f in files:
            if f.suffix.lower() != WAV:
                log.warning("skipping %s: not a WAV file (extension %r)", f, f.suffix)
                continue
            r, x, kind = read_wav_typed(f)
            types.add(kind)
            rates.setdefault(r, f)
            series.append(at_rate(r, x, rate))
            labels.append(label)
        if not any(lab == label for lab in labels):
            raise InvalidDataError(f"{d}: class folder holds no WAV files; add clips or remove the folder")
    if len(rates) > 1 and not rate:
        (r1, f1), (r2, f2) = list(rates.items())[:2]
        raise InvalidDataError(f"{root}: clips have different sample rates ({r1} Hz in {f1}, {r2} Hz in {f2}); "
                               "set [data].rate (--rate) to resample every clip to one rate")
    sample_format = types.pop() if len(types) == 1 else "float32"
    return series, labels, [p.name for p in class_dirs], rate or next(iter(rates), 0), sample_format


def wav_bytes(series: np.ndarray, rate: int, sample_format: str = "float32") -> bytes:
    """One C x L series (float, PCM's range [-1, 1]) as WAV bytes in `sample_format` (deterministic).
    PCM: each value times full scale, rounded, clipped to the type's range; float32 as is."""
    from scipy.io import wavfile

    x = np.asarray(series, np.float64).T
    if sample_format in PCM:
        kind, scale = PCM[sample_format]
        info = np.iinfo(kind)
        offset = 128 if kind is np.uint8 else 0
        x = np.clip(np.rint(x * scale) + offset, info.min, info.max).astype(kind)
    else:
        x = x.astype(np.float32)
    buf = io.BytesIO()
    wavfile.write(buf, rate, np.ascontiguousarray(x))
    return buf.getvalue()
