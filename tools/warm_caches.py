"""Fill a new .venv's caches once, so that no later process compiles them again (run by the Makefile after install).

Two things every process would otherwise redo while the caches are empty, measured on 2 cores
(reports/test-suite.md): Python's bytecode for torch, scikit-learn, pandas and the rest (about 8 CPU-seconds a
process until a first import writes it), and numba's machine code for MiniRocket (sktime compiles it on first use:
23 s a process until one process has written numba's cache). Both are written here, side by side, in two
processes. Both caches live under .venv: removing it removes them.

    .venv/bin/python tools/warm_caches.py
"""

from __future__ import annotations

import subprocess
import sys
import time

IMPORTS = """
import torch
torch.optim.Adam([torch.nn.Parameter(torch.zeros(1))])  # imports torch._dynamo, as every optimizer does
import matplotlib.pyplot, numpy, onnx, onnxruntime, pandas, safetensors, scipy.stats, sklearn.ensemble
import sklearn.linear_model, tqdm, click
import augmentor.cli, augmentor.pipeline, augmentor.evaluation.engine, augmentor.report.render
"""

NUMBA = """
import importlib.util
if importlib.util.find_spec("sktime") is not None:  # the signals extra
    import numpy as np
    from sktime.transformations.rocket import MiniRocketMultivariate
    x = np.random.default_rng(0).standard_normal((12, 1, 32)).astype(np.float32)
    MiniRocketMultivariate(random_state=0).fit(x).transform(x)
"""


def main() -> int:
    start = time.perf_counter()
    jobs = [subprocess.Popen([sys.executable, "-c", code]) for code in (NUMBA, IMPORTS)]
    codes = [job.wait() for job in jobs]
    print(f"warm_caches: bytecode and numba caches written in {time.perf_counter() - start:.1f} s", file=sys.stderr)
    return max(codes)


if __name__ == "__main__":
    raise SystemExit(main())
