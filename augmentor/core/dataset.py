"""The operations every modality's dataset shares: `Dataset`, the base of image.LabelledData,
table.TableData and signal.SignalData (frozen dataclasses with `x`, integer `y` indexing `classes`, `source`).

A modality says how its `x` is taken, joined and cast (`_take_x`, `_join_x`, `_cast_x`: arrays by default, a
DataFrame for tables); every other field (a table's label and categorical columns, a signal's rate) is carried
over by `dataclasses.replace`, so a new field cannot be forgotten by one operation.
"""

from __future__ import annotations

import dataclasses
from typing import Any

import numpy as np


class Dataset:
    """Base of every modality's dataset (a frozen dataclass with x, y, classes, source)."""

    x: Any
    y: np.ndarray
    classes: tuple[str, ...]
    source: str

    def __len__(self) -> int:
        return len(self.y)

    def counts(self) -> dict[str, int]:
        """Samples per class name, in class order (classes with none included as 0)."""
        per = np.bincount(self.y, minlength=len(self.classes))
        return {c: int(n) for c, n in zip(self.classes, per)}

    def _take_x(self, idx: np.ndarray) -> Any:
        return self.x[idx]

    def _join_x(self, other: Any) -> Any:
        return np.concatenate([self.x, other])

    def _cast_x(self, x: Any) -> Any:
        return np.asarray(x, np.float32)

    def subset(self, idx: np.ndarray) -> Dataset:
        return dataclasses.replace(self, x=self._take_x(idx), y=self.y[idx])  # type: ignore[type-var]

    def with_labels(self, y: np.ndarray, classes: tuple[str, ...]) -> Dataset:
        return dataclasses.replace(self, y=y, classes=classes)  # type: ignore[type-var]

    def with_data(self, x: Any, y: np.ndarray, source: str) -> Dataset:
        """Other samples of the same kind and classes (e.g. generated ones)."""
        return dataclasses.replace(self, x=self._cast_x(x), y=np.asarray(y, np.int64),  # type: ignore[type-var]
                                   source=source)

    def concat(self, other: Dataset) -> Dataset:
        return dataclasses.replace(self, x=self._join_x(other.x),  # type: ignore[type-var]
                                   y=np.concatenate([self.y, other.y]))

    def content_bytes(self) -> bytes:
        """The values, for the training-data fingerprint."""
        return np.ascontiguousarray(self.x, np.float32).tobytes()
