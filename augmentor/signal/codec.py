"""The signal codec: each channel divided by its largest absolute training value, to [-1, 1]."""

from __future__ import annotations

import math

import numpy as np

from ..core.errors import InvalidDataError, UnsafeArtifactError
from .data import FITS, MAX_CHANNELS, MAX_LENGTH, SignalData, fit_of
from .wav import SAMPLE_FORMATS, wav_bytes


class SignalCodec:
    """Per-channel scale: model values in [-1, 1] are the series divided by each channel's largest
    absolute training value (so decoding stays inside the observed amplitude range)."""

    kind = "signal"
    file_formats = ("wav",)
    shape_rule = (f"signals must be 1 to {MAX_CHANNELS} channels x 32..{MAX_LENGTH} samples (a multiple of 4), "
                  "one scale per channel")

    def __init__(self, scale: list[float], rate: int = 0, fit: str = "resample", sample_format: str = "") -> None:
        self.scale, self.rate, self.fit_mode = [float(s) for s in scale], int(rate), fit
        self.sample_format = sample_format  # the training WAVs' sample type ("" : not a WAV set, float32)

    @classmethod
    def fit(cls, data: SignalData) -> SignalCodec:
        peak = np.abs(data.x).max(axis=(0, 2)).astype(np.float64)
        return cls(np.where(peak > 0, peak, 1.0).tolist(), data.rate, fit_of(data), data.sample_format)

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
        """One C x L series as WAV bytes in the training clips' sample type (float32 when they were not
        WAVs), deterministic."""
        if not self.rate:
            raise InvalidDataError("this model's data has no sample rate, so it cannot be written as WAV; "
                                   "use --format npz")
        return wav_bytes(series, self.rate, self.sample_format or "float32")

    def valid_shape(self, shape: tuple[int, ...]) -> bool:
        return (len(shape) == 2 and 1 <= shape[0] <= MAX_CHANNELS and 32 <= shape[1] <= MAX_LENGTH
                and shape[1] % 4 == 0 and len(self.scale) == shape[0])

    def load_options(self, shape: tuple[int, ...]) -> dict:
        """Data for this model is loaded at its length, rate and length fitting."""
        return {"length": shape[1], "rate": self.rate, "fit": self.fit_mode}

    def bytes_per_sample(self, shape: tuple[int, ...], fmt: str) -> int:
        return 4 * int(np.prod(shape)) + (64 if fmt == "wav" else 8)

    def to_json(self) -> dict:
        out = {"kind": self.kind, "scale": self.scale, "rate": self.rate, "fit": self.fit_mode}
        return out | ({"sample_format": self.sample_format} if self.sample_format else {})

    @classmethod
    def from_json(cls, spec: dict) -> SignalCodec:
        scale, rate, fit = spec.get("scale"), spec.get("rate", 0), spec.get("fit", "resample")
        sample_format = spec.get("sample_format", "")
        ok = (isinstance(scale, list) and 0 < len(scale) <= MAX_CHANNELS
              and all(isinstance(s, (int, float)) and math.isfinite(s) and s > 0 for s in scale)
              and isinstance(rate, int) and 0 <= rate <= 1_000_000 and fit in FITS
              and sample_format in ("", *SAMPLE_FORMATS))
        if not ok:
            raise UnsafeArtifactError("malformed signal codec in model metadata")
        return cls(scale, rate, fit, sample_format)
