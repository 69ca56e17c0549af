"""Signals on 2 cores: the 1-D GAN's training time for recipes/plaid.toml, and MiniRocket's fit time.

GAN: the whole training of the PLAID recipe as `augmentor run` did it, read from the run's own log
(runs/plaid/log.csv: seconds at the last step; steps and s/step) and the report's stage timing
(reports/plaid/results.json `timings_s.train`, which adds checkpoints and ONNX export). Run
`augmentor run recipes/plaid.toml` first; nothing is re-trained here.

MiniRocket: sktime's MiniRocketMultivariate + RidgeClassifierCV (the report's second learner) fitted
on the PLAID recipe's training split (its loading, length 512, and validation hold-out), timed 4
times: the first fit includes numba's compilation, the median of the other 3 is the steady fit.
Writes reports/bench-signals.json and the "signals" section of reports/benchmarks.md.

    python benchmarks/bench_signals.py
"""

from __future__ import annotations

import csv
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

from sections import update_section  # noqa: E402

from augmentor.config.recipe import load_recipe  # noqa: E402
from augmentor.evaluation.arms import Arm  # noqa: E402
from augmentor.pipeline import prepare_splits  # noqa: E402
from augmentor.signal.learners import MiniRocketLearner  # noqa: E402


def gan_time(run: Path, results: Path) -> dict:
    with (run / "log.csv").open(newline="") as f:
        last = list(csv.DictReader(f))[-1]
    steps, seconds = int(last["step"]), float(last["seconds"])
    stage = json.loads(results.read_text())["timings_s"]["train"] if results.exists() else None
    return {"steps": steps, "loop_seconds": seconds, "s_per_step": seconds / steps, "stage_seconds": stage,
            "target_seconds": 900, "met": (stage or seconds) < 900}


def minirocket_time(recipe: Path) -> dict:
    train, _, _ = prepare_splits(load_recipe(recipe))
    learner = MiniRocketLearner(len(train.classes))
    arm = Arm("real", "", lambda s: (train.x, train.y), "reference")
    times = []
    for seed in range(4):
        t = time.perf_counter()
        learner.fit_predict(arm, train.x, train.y, seed, [train.x[:1]])
        times.append(time.perf_counter() - t)
    return {"series": len(train), "shape": list(train.shape), "first_fit_s": times[0],
            "median_fit_s": statistics.median(times[1:]), "fits_s": times}


def main() -> None:
    gan = gan_time(ROOT / "runs" / "plaid", ROOT / "reports" / "plaid" / "results.json")
    rocket = minirocket_time(ROOT / "recipes" / "plaid.toml")
    env = {"device": "CPU", "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
           "torch": torch.__version__, "platform": platform.platform()}
    out = {"environment": env, "gan_plaid": gan, "minirocket_plaid": rocket}
    (ROOT / "reports" / "bench-signals.json").write_text(json.dumps(out, indent=2) + "\n")
    stage = f"{gan['stage_seconds'] / 60:.1f} min" if gan["stage_seconds"] else "—"
    loop = f"{gan['loop_seconds'] / 60:.1f} min ({gan['s_per_step']:.2f} s/step)"
    sets = f"{rocket['series']} series of {rocket['shape'][0]}x{rocket['shape'][1]}"
    text = f"""## Signals: 1-D GAN training and MiniRocket (PLAID, 2 cores)

Made by `python benchmarks/bench_signals.py` from the `augmentor run recipes/plaid.toml` run (GAN) and
fresh MiniRocket fits. Environment: {env['device']}, torch threads {env['torch_threads']}, torch {env['torch']}.

| what | figure |
|---|---:|
| 1-D GAN, recipe's {gan['steps']:,} steps (training loop) | {loop} |
| 1-D GAN, train stage incl. checkpoints and ONNX export | {stage} |
| target: under 15 minutes | {'met' if gan['met'] else 'not met'} |
| MiniRocket + ridge fit, {sets}, first (numba compiles) | {rocket['first_fit_s']:.1f} s |
| MiniRocket + ridge fit, median of the next 3 | {rocket['median_fit_s']:.1f} s |
"""
    update_section("signals", text)
    print(text)


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
