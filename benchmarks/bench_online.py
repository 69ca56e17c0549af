"""Classifier step time with online synthetic data (fresh GAN samples every epoch) against the
same mix stored once, on the long-tailed MNIST split (28x28, gap-filling to 1000 per class).

Both arms train the evaluation's SmallCNN (`classifiers.fit_cnn`, batch 64) for the same number
of steps (`--epochs` passes over the ~10,000-sample mix); the online arm draws each epoch's
~7,500 synthetic samples from the exported generator (ONNX Runtime) inside the timed loop, the
stored arm draws them once before the clock starts. The target: online <= 1.3x stored.

The generator is runs/mnist-A/generator.onnx when present, else an untrained 64/32 generator
exported for the purpose (generation cost does not depend on the weights' values). Writes
reports/bench-online.json and the "online synthetic" section of reports/benchmarks.md.

    python benchmarks/bench_online.py [--epochs 3]
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from augmentor.image.learners import fit_cnn
from augmentor.registry import open_generator
from augmentor.synthesis.online import OnlineSynthetic

ROOT = Path(__file__).resolve().parent.parent


def model_path(tmp: Path) -> tuple[Path, str]:
    trained = ROOT / "runs" / "mnist-A" / "generator.onnx"
    if trained.exists():
        return trained, str(trained.relative_to(ROOT))
    from augmentor.image.codec import ImageCodec
    from augmentor.image.models import ImageGenerator
    from augmentor.synthesis.export import export_generator

    torch.manual_seed(0)
    g = ImageGenerator(10, (1, 28, 28), 64, 64).eval()
    path = tmp / "g.onnx"
    export_generator(g, path, classes=[str(c) for c in range(10)], codec=ImageCodec().to_json(),
                     data_fingerprint="benchmark")
    return path, "untrained 64/32 generator"


def mnist_longtail_train() -> tuple[np.ndarray, np.ndarray, str]:
    """The long-tailed MNIST training split (pixels in [0, 1], labels, source) when prepared
    (`make data`), else random 28x28 images with its class counts: step costs do not depend on
    pixel values."""
    path = ROOT / "data" / "mnist-longtail" / "train.npz"
    if path.exists():
        with np.load(path) as z:
            return z["x"].astype(np.float32) / 255, z["y"].astype(np.int64), str(path.relative_to(ROOT))
    counts = [round(1000 * 100 ** (-c / 9)) for c in range(10)]
    y = np.repeat(np.arange(10), counts)
    return np.random.default_rng(0).random((len(y), 1, 28, 28), dtype=np.float32), y, "random"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--epochs", type=int, default=3)
    args = ap.parse_args()
    x, y, _ = mnist_longtail_train()
    classes = [str(c) for c in range(10)]
    with tempfile.TemporaryDirectory() as tmp:
        onnx_path, model_source = model_path(Path(tmp))
        gen = open_generator(onnx_path, spinning=False)
        online = OnlineSynthetic(x, y, classes, gen, seed=0)
        steps = args.epochs * (len(online) // 64)
        sx, sy = online.synthetic(0)
        stored_x, stored_y = np.concatenate([x, sx]), np.concatenate([y, sy])
        t0 = time.perf_counter()
        fit_cnn(stored_x, stored_y, 10, steps=steps, seed=0)
        t_stored = time.perf_counter() - t0
        rows = []
        for refresh in (1.0, 0.5, 0.25):
            fresh = OnlineSynthetic(x, y, classes, gen, refresh=refresh, seed=1)  # every epoch's draw is timed
            t0 = time.perf_counter()
            fit_cnn(fresh, None, 10, steps=steps, seed=0)
            t = time.perf_counter() - t0
            rows.append({"refresh": refresh, "online_s_per_step": t / steps, "ratio": t / t_stored})
            print(rows[-1])
    report = {"steps": steps, "mix_size": len(online), "synthetic_per_epoch": int(sum(online.per_class.values())),
              "stored_s_per_step": t_stored / steps, "online": rows, "model": model_source}
    env = {"device": f"CPU ({platform.machine()})", "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "python": platform.python_version()}
    (ROOT / "reports" / "bench-online.json").write_text(json.dumps({"environment": env, **report}, indent=2) + "\n")
    lines = ["## Online synthetic data: classifier step time", "",
             f"Made by `python benchmarks/bench_online.py`: SmallCNN, batch 64, {steps} steps ({args.epochs} epochs "
             f"of a {len(online):,}-sample mix, {report['synthetic_per_epoch']:,} of them synthetic), long-tailed "
             f"MNIST 28x28; generator: {model_source}; {env['device']}, {env['torch_threads']} torch threads. "
             "`refresh` is the fraction of the synthetic samples drawn afresh every epoch (the rest are the "
             "most recent earlier draws).", "",
             "| data | s/step | vs stored | target ≤ 1.3× |", "|---|---:|---:|---|",
             f"| stored (one draw, made before timing) | {t_stored / steps:.4f} | 1.00× | |"]
    lines += [f"| online, refresh {r['refresh']:g} (draws timed) | {r['online_s_per_step']:.4f} | {r['ratio']:.2f}× | "
              f"{'met' if r['ratio'] <= 1.3 else 'not met'} |" for r in rows]
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from sections import update_section

    update_section("online synthetic", "\n".join(lines))


if __name__ == "__main__":
    main()
