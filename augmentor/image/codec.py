"""The image codec: pixels in [0, 1] <-> model values in [-1, 1] (the generator ends in tanh)."""

from __future__ import annotations

import numpy as np


class ImageCodec:
    """Affine map between pixel values in [0, 1] and model values in [-1, 1]."""

    kind = "image"

    def encode(self, x01: np.ndarray) -> np.ndarray:
        return (np.asarray(x01, np.float32) * 2.0 - 1.0).astype(np.float32)

    def decode(self, xm: np.ndarray) -> np.ndarray:
        """Model outputs -> float pixels in [0, 1] (clipped)."""
        return np.clip((np.asarray(xm, np.float32) + 1.0) * 0.5, 0.0, 1.0)

    def to_uint8(self, xm: np.ndarray) -> np.ndarray:
        return np.rint(self.decode(xm) * 255.0).astype(np.uint8)

    file_formats = ("png",)  # formats written one file per sample (`file_bytes`)
    SIDE = (8, 64)
    shape_rule = f"images must be 1 or 3 x {SIDE[0]}..{SIDE[1]} px"

    def stored(self, xm: np.ndarray) -> np.ndarray:
        """Model outputs as they are once written: 8-bit pixels, back in [0, 1]."""
        return self.to_uint8(xm).astype(np.float32) / 255.0

    def array(self, xm: np.ndarray) -> np.ndarray:
        """Model outputs as an .npz output holds them: 8-bit pixels."""
        return self.to_uint8(xm)

    def file_bytes(self, pixels_u8: np.ndarray) -> bytes:
        """One sample (from `array`) as the bytes of its own file: a PNG."""
        from .writer import png_bytes

        return png_bytes(pixels_u8)

    def valid_shape(self, shape: tuple[int, ...]) -> bool:
        return (len(shape) == 3 and shape[0] in (1, 3)
                and all(self.SIDE[0] <= s <= self.SIDE[1] for s in shape[1:]))

    def load_options(self, shape: tuple[int, ...]) -> dict:
        """How to load data for a model of this `shape`: at its size and channels."""
        return {"image_size": shape[1], "channels": shape[0]}

    def bytes_per_sample(self, shape: tuple[int, ...], fmt: str) -> int:
        raw = int(np.prod(shape))
        return max(raw + 128, 4096) if fmt == "png" else raw + 8  # a PNG takes at least a disk block

    def to_json(self) -> dict:
        return {"kind": self.kind, "range": [-1.0, 1.0], "pixels": [0.0, 1.0]}
