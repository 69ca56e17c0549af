"""Labels across data sets: re-index one set's labels to another's classes (every modality)."""

from __future__ import annotations

import numpy as np

from .errors import InvalidDataError


def align_classes(data, classes: tuple[str, ...]):
    """Re-index `data`'s labels to `classes` (by name); unknown names are an error."""
    if data.classes == classes:
        return data
    unknown = [c for c in data.classes if c not in classes]
    if unknown:
        raise InvalidDataError(f"{data.source}: classes {unknown} are not among the training "
                               f"classes {list(classes)}")
    remap = np.array([classes.index(c) for c in data.classes], np.int64)
    return data.with_labels(remap[data.y], classes)
