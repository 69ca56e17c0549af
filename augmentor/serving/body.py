"""The body of a `/generate` response, streamed piece by piece: an `.npz` (arrays), a zip of PNGs, a CSV
or a parquet file, each encoded by the model's codec as its batches come from the batcher."""

from __future__ import annotations

import io
import zipfile
from collections.abc import AsyncIterator, Sequence

import numpy as np

from ..synthesis.runtime import OnnxGenerator


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes are collected and handed out in pieces (zip writing)."""

    def __init__(self) -> None:
        self.parts: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, b) -> int:
        self.parts.append(bytes(b))
        return len(b)

    def take(self) -> bytes:
        out, self.parts = b"".join(self.parts), []
        return out


def _npy_header(shape: Sequence[int], dtype: np.dtype) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": np.lib.format.dtype_to_descr(np.dtype(dtype)),
                                               "fortran_order": False, "shape": tuple(shape)})
    return buf.getvalue()


async def encode(fmt: str, rows: AsyncIterator, gen: OnnxGenerator, counts: dict[str, int],
                 seed: int) -> AsyncIterator[bytes]:
    """The response body, piece by piece."""
    codec = gen.info.codec
    if fmt in ("npz", "png-zip"):
        sink = _Sink()
        with zipfile.ZipFile(sink, "w", zipfile.ZIP_STORED, allowZip64=True) as z:
            if fmt == "npz":  # the labels first (known before any generation), then pixels as they come
                y = np.concatenate([np.full(n, gen.class_index(c), np.int64) for c, n in counts.items()])
                for key, arr in (("y", y), ("classes", np.array(gen.classes, dtype=str))):
                    z.writestr(f"{key}.npy", _npy_header(arr.shape, arr.dtype) + arr.tobytes())
                with z.open("x.npy", "w", force_zip64=True) as f:
                    dtype = codec.array(np.zeros((0, *gen.info.shape), np.float32)).dtype  # uint8 pixels, float series
                    f.write(_npy_header((len(y), *gen.info.shape), dtype))
                    async for _, _, batch in rows:
                        f.write(np.ascontiguousarray(codec.array(batch)).tobytes())
                        yield sink.take()
            else:
                async for name, start, batch in rows:
                    for i, img in enumerate(codec.array(batch)):
                        z.writestr(f"{name}/syn-s{seed}-{start + i:06d}.png", codec.file_bytes(img))
                    yield sink.take()
        yield sink.take()
        return
    source_col, first, frames = codec.source_column(), True, []
    async for name, _, batch in rows:
        frame = codec.decode(batch)
        frame[codec.label] = np.full(len(batch), name, dtype=object)
        frame[source_col] = "synthetic"
        if fmt == "csv":
            yield frame.to_csv(header=first, index=False).encode()
            first = False
        else:
            frames.append(frame)
    if fmt == "csv" and first:  # nothing generated: a header-less empty body, like an empty CSV file
        return
    if fmt == "parquet":
        import pandas as pd

        buf = io.BytesIO()
        cols = [c["name"] for c in codec.columns] + [codec.label, source_col]
        (pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=cols)).to_parquet(buf, index=False)
        yield buf.getvalue()
