"""The calibration's pools of fits, kept on disk under a key of every input that changes a fit
(evaluation/calibrate.py); a pool grows CHUNK seeds at a time, so a killed calibration resumes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np

CHUNK = 8  # pool seeds fitted (and kept) at a time


def fingerprint(*parts) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(np.ascontiguousarray(p).tobytes() if isinstance(p, np.ndarray) else
                 json.dumps(p, sort_keys=True, default=str).encode())
    return h.hexdigest()[:16]


def pool_inputs(fit_inputs: dict, taught: bool) -> dict:
    """The recipe settings a pool's key holds: every one that changes a fit. An unlabelled pool (data.unlabelled)
    changes only a self-training arm's fits (its teacher labels the pool), so an arm without one is keyed as if
    the recipe had no pool: a recipe that only adds a pool reuses the pool its pool-free twin kept."""
    if taught or not (fit_inputs.get("data") or {}).get("unlabelled"):
        return fit_inputs
    return {**fit_inputs, "data": {**fit_inputs["data"], "unlabelled": ""}}


def cached(cache: Path | None, key: str, pool: int, compute, extend: bool = False) -> dict:
    """The pool's predictions kept under `cache` by `key` (every input that changes a fit); written atomically.
    `compute(start, stop)` fits seeds start..stop-1. With `extend` a smaller kept pool is grown by the seeds it lacks
    (seed s's fit does not depend on the pool's size), CHUNK seeds at a time, each chunk kept as it finishes (a
    killed calibration loses at most one chunk); without it the pool is fitted from seed 0 in one go."""
    keys = ("val", "test", "val_weak", "test_weak")
    path = cache / f"{key}.npz" if cache else None
    out = None
    if path is not None and path.is_file():
        with np.load(path) as z:
            out = {k: z[k] for k in keys}
        if len(out["test"]) >= pool:
            return {k: v[:pool] for k, v in out.items()}
    start = len(out["test"]) if out is not None and extend else 0
    out = out if start else None
    for lo in range(start, pool, CHUNK if extend else pool):
        new = compute(lo, min(pool, lo + CHUNK) if extend else pool)
        out = new if out is None else {k: np.concatenate([out[k], new[k]]) for k in keys}
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(".tmp.npz")
            np.savez(tmp, **out)
            tmp.replace(path)
    return out
