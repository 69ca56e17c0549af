"""The table codec: per-column encoders fitted on the training split.

A numeric column goes through its empirical quantiles to [-1, 1] (so heavy tails and multi-modal
columns become uniform, and decoding can only give values inside the observed range); an integer
column is rounded back to integers; a categorical column is one-hot (decoding takes the most likely
seen category). The generator's output layout follows `TableCodec.spans`. Its JSON (in the ONNX
metadata) holds each numeric column's quantiles and each categorical column's categories: summary
statistics of the training data travel with the model.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from ..core.errors import UnsafeArtifactError


class TableCodec:
    """Per-column encoders: numeric by quantiles to [-1, 1], categorical one-hot."""

    kind = "table"

    def __init__(self, columns: list[dict], label: str = "label") -> None:
        self.columns, self.label = columns, label

    @classmethod
    def fit(cls, x: pd.DataFrame, categorical: Sequence[str], label: str = "label",
            n_quantiles: int = 1000) -> TableCodec:
        columns = []
        for name in x.columns:
            col = x[name]
            if name in categorical:
                cats = sorted(pd.unique(col).tolist(), key=lambda v: (str(type(v)), v))
                columns.append({"name": name, "kind": "categorical", "dtype": str(col.dtype),
                                "categories": [_plain(v) for v in cats]})
                continue
            v = col.to_numpy(dtype=np.float64)
            levels = np.linspace(0.0, 1.0, min(n_quantiles, len(v)))
            q = np.quantile(v, levels)
            # Repeated quantiles (discrete columns) share the mean of their levels, so the
            # map stays a strictly increasing function that np.interp can invert.
            values, inverse = np.unique(q, return_inverse=True)
            mean_levels = np.bincount(inverse, weights=levels) / np.bincount(inverse)
            columns.append({"name": name, "kind": "numeric", "dtype": str(col.dtype),
                            "integer": bool(pd.api.types.is_integer_dtype(col)),
                            "values": values.tolist(), "levels": mean_levels.tolist()})
        return cls(columns, label)

    file_formats = ()
    MAX_WIDTH = 100_000
    shape_rule = f"a table model's shape is its codec's width, at most {MAX_WIDTH}"

    def stored(self, xm: np.ndarray) -> pd.DataFrame:
        return self.decode(xm)

    def valid_shape(self, shape: tuple[int, ...]) -> bool:
        return len(shape) == 1 and 1 <= shape[0] <= self.MAX_WIDTH and shape[0] == self.width

    def load_options(self, shape: tuple[int, ...]) -> dict:
        return {"categorical": [c["name"] for c in self.columns if c["kind"] == "categorical"]}

    def bytes_per_sample(self, shape: tuple[int, ...], fmt: str) -> int:
        return 24 * shape[0]

    @property
    def spans(self) -> list[tuple[str, int]]:
        """(kind, width) of each column's block in model space, in column order."""
        return [("categorical", len(c["categories"])) if c["kind"] == "categorical" else ("numeric", 1)
                for c in self.columns]

    @property
    def width(self) -> int:
        return sum(w for _, w in self.spans)

    def encode(self, x: pd.DataFrame) -> np.ndarray:
        blocks = []
        for c in self.columns:
            col = x[c["name"]]
            if c["kind"] == "categorical":
                index = {v: i for i, v in enumerate(c["categories"])}
                onehot = np.zeros((len(col), len(index)), np.float32)
                codes = np.array([index.get(_plain(v), -1) for v in col.tolist()])
                onehot[np.flatnonzero(codes >= 0), codes[codes >= 0]] = 1.0
                blocks.append(onehot)
            else:
                u = _interp(col.to_numpy(np.float64), c["values"], c["levels"])
                blocks.append((u * 2.0 - 1.0).astype(np.float32)[:, None])
        return np.concatenate(blocks, axis=1) if blocks else np.zeros((len(x), 0), np.float32)

    def decode(self, xm: np.ndarray) -> pd.DataFrame:
        """Model outputs -> a DataFrame in the training columns' dtypes and ranges."""
        xm = np.asarray(xm, np.float64)
        out, pos = {}, 0
        for c, (_, w) in zip(self.columns, self.spans):
            block = xm[:, pos:pos + w]
            pos += w
            if c["kind"] == "categorical":
                cats = np.asarray(c["categories"], dtype=object)
                out[c["name"]] = _astype(pd.Series(cats[block.argmax(1)]), c["dtype"])
            else:
                u = np.clip((block[:, 0] + 1.0) * 0.5, 0.0, 1.0)
                v = _interp(u, c["levels"], c["values"])
                if c["integer"]:
                    v = np.rint(v)
                out[c["name"]] = _astype(pd.Series(v), c["dtype"])
        return pd.DataFrame(out)

    def source_column(self) -> str:
        """The name of the table output's source column: "source" unless a data column has it."""
        taken = {c["name"] for c in self.columns} | {self.label}
        return next(c for c in ("source", "augmentor_source",
                                *(f"augmentor_source_{i}" for i in range(2, len(taken) + 3))) if c not in taken)

    def to_json(self) -> dict:
        return {"kind": self.kind, "label": self.label, "columns": self.columns}

    @classmethod
    def from_json(cls, spec: dict) -> TableCodec:
        columns = spec.get("columns")
        ok = isinstance(columns, list) and columns
        for c in columns if ok else []:
            if not isinstance(c, dict) or not isinstance(c.get("name"), str):
                ok = False
            elif c.get("kind") == "categorical":
                ok = ok and isinstance(c.get("categories"), list) and len(c["categories"]) > 0
            elif c.get("kind") == "numeric":
                vals, levels = c.get("values"), c.get("levels")
                ok = (ok and isinstance(vals, list) and isinstance(levels, list)
                      and len(vals) == len(levels) > 0 and isinstance(c.get("integer"), bool)
                      and all(isinstance(v, (int, float)) for v in vals + levels)
                      and bool(np.all(np.diff(vals) > 0)) and bool(np.all(np.diff(levels) >= 0)))
            else:
                ok = False
        if not ok or not isinstance(spec.get("label", "label"), str):
            raise UnsafeArtifactError("malformed table codec in model metadata")
        return cls(columns, spec.get("label", "label"))


def _interp(x: np.ndarray, xp: list[float], fp: list[float]) -> np.ndarray:
    if len(xp) == 1:  # a constant column
        return np.full(len(x), fp[0])
    return np.interp(x, xp, fp)


def _plain(v):
    """A JSON-safe Python scalar for a pandas / NumPy value."""
    return v.item() if isinstance(v, np.generic) else v


def _astype(col: pd.Series, dtype: str) -> pd.Series:
    """Back to the training column's dtype (name as pandas wrote it); object if unknown."""
    try:
        return col.astype(dtype)
    except (TypeError, ValueError):
        return col.astype(object)
