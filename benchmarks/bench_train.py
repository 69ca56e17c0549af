"""GAN training speed on the long-tailed MNIST run: steps/s before and after the speed-ups.

Each configuration trains the real loop's step (`gan_steps.hinge_step`, Adam on G and D, the image DiffAugment,
batch 64) on 28x28 images for `--steps` timed steps after 3 warm-up steps, in this one process,
one configuration after another (never two at once: they would share the 2 cores):

  before      g_channels 128 / d_channels 64 (the old defaults), D weights get gradients in G's pass
  frozen D    the same widths, D's weights frozen while G's loss is built (no wasted D weight grads)
  narrow      g_channels 64 / d_channels 32 + frozen D (a recipe setting, not the default: at equal steps it
              gave lower-quality samples on digits, reports/width-quality.md)
  narrow + guidance  the narrow step with class guidance at full weight (train.class_guidance, as
              recipes/mnist-longtail.toml runs after its ramp): a frozen SmallCNN's cross-entropy on
              G's samples joins G's loss. Its cost does not depend on the classifier's weights, so an
              untrained one stands in (the real one is fitted once before training).

Data: data/mnist-longtail/train.npz when prepared (`make data`), else random 28x28 images of the
same count (a step's cost does not depend on pixel values). Writes reports/bench-train.json and
the "train speed" section of reports/benchmarks.md.

    python benchmarks/bench_train.py [--steps 20]
"""

from __future__ import annotations

import argparse
import functools
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from augmentor.gan.steps import hinge_step
from augmentor.image.diffaug import diff_augment
from augmentor.image.learners import SmallCNN
from augmentor.image.models import build_models

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_online import mnist_longtail_train  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
POLICY = ("translation", "cutout")

_image_step = functools.partial(hinge_step, augment=diff_augment)


def legacy_step(g, d, opt_d, x_real, y_real, z, gen, policy, n_classes):
    """The step as it was: G's loss built with D's weights requiring gradients."""
    y_fake = torch.randint(n_classes, (len(z),), generator=gen)
    fake = g(z, y_fake)
    d_real = d(diff_augment(x_real, policy, gen), y_real)
    d_fake = d(diff_augment(fake.detach(), policy, gen), y_fake)
    loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    return loss_d, -d(diff_augment(fake, policy, gen), y_fake).mean(), d_real, d_fake


def time_config(x: torch.Tensor, y: torch.Tensor, g_ch: int, d_ch: int, step_fn, steps: int) -> float:
    torch.manual_seed(0)
    g, d = build_models(10, (1, 28, 28), 64, g_ch, d_ch)
    opt_g = torch.optim.Adam(g.parameters(), 2e-4, betas=(0.0, 0.9))
    opt_d = torch.optim.Adam(d.parameters(), 2e-4, betas=(0.0, 0.9))
    gen = torch.Generator().manual_seed(0)
    t0 = 0.0
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        idx = torch.randint(len(x), (64,), generator=gen)
        z = torch.randn(64, 64, generator=gen)
        _, loss_g, _, _ = step_fn(g, d, opt_d, x[idx], y[idx], z, gen, POLICY, 10)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
    return steps / (time.perf_counter() - t0)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    args = ap.parse_args()
    x01, y, source = mnist_longtail_train()
    x = x01 * 2 - 1
    xt, yt = torch.from_numpy(x), torch.from_numpy(y.astype(np.int64))
    torch.manual_seed(0)
    guide = SmallCNN(1, 10, 28).eval().requires_grad_(False)
    guided = functools.partial(_image_step, guide=guide, guidance=0.5)
    configs = [("before", 128, 64, legacy_step), ("frozen D", 128, 64, _image_step), ("narrow", 64, 32, _image_step),
               ("narrow + guidance", 64, 32, guided)]
    rows = []
    for name, g_ch, d_ch, fn in configs:
        rate = time_config(xt, yt, g_ch, d_ch, fn, args.steps)
        rows.append({"config": name, "g_channels": g_ch, "d_channels": d_ch, "steps_per_s": rate,
                     "s_per_step": 1 / rate})
        print(f"{name:18s} g{g_ch}/d{d_ch}: {rate:.3f} steps/s ({1 / rate:.3f} s/step)")
    base = rows[0]["steps_per_s"]
    for r in rows:
        r["speedup"] = r["steps_per_s"] / base
    env = {"device": f"CPU ({platform.machine()})", "torch_threads": torch.get_num_threads(),
           "torch": torch.__version__, "python": platform.python_version(), "data": source,
           "timed_steps": args.steps, "batch_size": 64}
    (ROOT / "reports" / "bench-train.json").write_text(json.dumps({"environment": env, "rows": rows}, indent=2) + "\n")
    lines = ["## GAN training speed (long-tailed MNIST, 28x28, batch 64)", "",
             f"Made by `python benchmarks/bench_train.py`: {args.steps} timed steps after 3 warm-up steps per "
             f"configuration, one after another in one process; {env['device']}, {env['torch_threads']} torch threads, "
             f"torch {env['torch']}; data {source}.", "",
             "| configuration | G / D width | steps/s | s/step | vs before |", "|---|---|---:|---:|---:|"]
    lines += [f"| {r['config']} | {r['g_channels']} / {r['d_channels']} | {r['steps_per_s']:.3f} | "
              f"{r['s_per_step']:.3f} | {r['speedup']:.2f}× |" for r in rows]
    after = rows[-1]["speedup"]
    lines += ["", f"Target ≥ 2× the steps/s of before, in the configuration recipes/mnist-longtail.toml trains "
              f"(narrow + guidance): **{'met' if after >= 2 else 'not met'}** ({after:.2f}×). "
              "Speed only: at equal steps the narrow model's samples scored lower on digits "
              "(reports/width-quality.md), so 128/64 stays the default. Rows are measured minutes apart on a "
              "2-core machine whose speed drifts by up to 2x over minutes: a difference under ~30% between two "
              "rows (frozen D against before: the same arithmetic minus the discarded D weight gradients) is "
              "not resolved by this script."]
    from sections import update_section

    update_section("train speed", "\n".join(lines))


if __name__ == "__main__":
    main()
