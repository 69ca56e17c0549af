"""Finished fits kept in the run folder, so a killed or re-run evaluation fits only what is missing.

One file a fit (`RUN/fits/KEY.npz`, written to a temp name and renamed): its predictions on the evaluation
inputs and, for an arm a later teacher arm may learn from, the network's state. KEY is a sha256 of everything
that changes the fit: the learner's identity and settings (`cache_identity()`), the arm's fit settings, the seed,
the evaluation inputs, and the training arrays themselves (so other data or another GAN's samples give other
keys). Every learner that says what changes its fits (`cache_identity`: the image and 1-D networks, the table
learners, MiniRocket, classifiers by import path) is cached; arrays and tables (pandas frames: columns, dtypes and
each row's hash) alike. A network's state is kept too (`model_state`, `restore_model`); a model that cannot be kept
without pickle (a scikit-learn estimator) is not, and a later teacher arm whose teacher came from the cache fits
that teacher again for its model (engine._Fits.fit). Arms whose inputs are not all in the job — teacher and
self-training arms (their teacher's picks), fresh-every-epoch arms — are always fitted. Nothing is loaded with
pickle.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np


class FitCache:
    def __init__(self, folder: Path) -> None:
        self.folder = Path(folder)
        self.hits = self.stored = 0

    @staticmethod
    def evals_key(evals: list) -> str:
        h = hashlib.sha256()
        for e in evals:
            if is_table(e):
                _table_digest(h, e)
            else:
                h.update(np.ascontiguousarray(e, np.float32).tobytes())
        return h.hexdigest()

    def key(self, learner, evals_key: str, arm, x, y, seed: int) -> str | None:
        identity = getattr(learner, "cache_identity", None)
        if (identity is None or arm.soft is not None or hasattr(x, "epoch_arrays")
                or not (isinstance(x, np.ndarray) or is_table(x))):
            return None
        h = hashlib.sha256(json.dumps([identity(), arm.name, arm.kind, arm.loss, arm.classic, arm.mixup,
                                       arm.rebalance, int(seed), evals_key], default=str).encode())
        if is_table(x):
            _table_digest(h, x)
        else:
            h.update(str(x.shape).encode())
            h.update(np.ascontiguousarray(x, np.float32).tobytes())
        h.update(np.ascontiguousarray(y, np.int64).tobytes())
        return h.hexdigest()[:40]

    def get(self, key: str) -> tuple[list[np.ndarray], dict[str, np.ndarray]] | None:
        path = self.folder / f"{key}.npz"
        if not path.is_file():
            return None
        try:
            with np.load(path, allow_pickle=False) as z:
                preds = [z[f"pred{i}"] for i in range(int(z["n_preds"]))]
                state = {k.removeprefix("state/"): z[k] for k in z.files if k.startswith("state/")}
        except (OSError, ValueError, KeyError):
            return None  # a damaged entry is fitted again
        self.hits += 1
        return preds, state

    def put(self, key: str, preds: list, state: dict[str, np.ndarray] | None) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        arrays = {f"pred{i}": np.asarray(p) for i, p in enumerate(preds)}
        arrays.update({f"state/{k}": np.asarray(v) for k, v in (state or {}).items()})
        tmp = self.folder / f".{key}.{os.getpid()}.tmp.npz"
        np.savez(tmp, n_preds=np.int64(len(preds)), **arrays)
        tmp.replace(self.folder / f"{key}.npz")
        self.stored += 1


def is_table(x) -> bool:
    return hasattr(x, "columns") and hasattr(x, "dtypes")  # a pandas frame


def _table_digest(h, frame) -> None:
    """A table's columns, dtypes, length and every row's values (pandas' row hashes) into `h`."""
    import pandas as pd

    h.update(json.dumps([[str(c) for c in frame.columns], [str(t) for t in frame.dtypes], len(frame)]).encode())
    h.update(np.ascontiguousarray(pd.util.hash_pandas_object(frame, index=False).to_numpy()).tobytes())
