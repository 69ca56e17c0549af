"""Raw data <-> model space.

Images: pixels in [0, 1] <-> [-1, 1] (the generator ends in tanh). The codec is
described by a small JSON dict stored in the ONNX metadata, so a consumer of the
model file alone can decode its outputs.
"""

from __future__ import annotations

import numpy as np

from .errors import UnsafeArtifactError


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

    def to_json(self) -> dict:
        return {"kind": self.kind, "range": [-1.0, 1.0], "pixels": [0.0, 1.0]}


def codec_from_json(spec: dict) -> ImageCodec:
    if not isinstance(spec, dict) or spec.get("kind") != "image":
        raise UnsafeArtifactError(f"unknown codec in model metadata: {spec!r}")
    return ImageCodec()
