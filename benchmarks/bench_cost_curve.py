"""The cost curve (issue 50): `augmentor run` at growing data sizes, per stage, with the number of fits.

Every size runs the same short recipe for its modality, so the curve shows how each stage's cost grows with the
data, not what a full recipe costs: the GAN for a fixed number of epochs (its steps grow with N), the classifiers
for one epoch of the training split (a network's steps grow with N; a scikit-learn fit with the rows), a small
grid, 2 search seeds and 3 confirmatory ones. Data are made here (no download): tables by scikit-learn's
make_classification (20 numeric columns, 5 classes); 28x28 images from scikit-learn's 8x8 digits, upscaled and
shifted by up to 2 px with noise; 1-D signals of 128 steps (4 classes of noisy waveforms). Each set is long-tailed
by the recipe (exponential, ratio 10) after a 30 % test split. Then the evaluation of the smallest image set again
with its fits on a local Ray cluster of 1 and of 2 CPUs.

    .venv/bin/python benchmarks/bench_cost_curve.py            # every size (~30 min on 2 cores)
    .venv/bin/python benchmarks/bench_cost_curve.py --quick    # the two smallest of each modality

Writes reports/cost-curve.{md,json} and docs/cost-curve.png (stage seconds against N, log-log).
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
WORK = ROOT / "runs" / "cost-curve"
SIZES = {"table": [1_000, 10_000, 100_000], "image": [2_500, 10_000, 40_000], "signal": [1_000, 4_000]}
COMMON = """
[data.imbalance]
profile = "exponential"
ratio = 10.0
[evaluate]
seeds = 2
confirm_seeds = 3
confirm_power = 0
epochs = 1
doses = []
folds = 1
rebalancing = ["oversample", "logit-adjust"]
"""
RECIPES = {
    "table": "[model]\nz_dim = 16\ng_channels = 64\nd_channels = 64\n[train]\nepochs = 2\nbatch_size = 256\n",
    "image": "[model]\nz_dim = 32\ng_channels = 64\nd_channels = 32\n[train]\nepochs = 1\nbatch_size = 64\n",
    "signal": "[model]\nz_dim = 16\ng_channels = 32\nd_channels = 16\n[train]\nepochs = 2\nbatch_size = 64\n",
}
EXTRA = {"table": 'classifiers = ["logreg", "hgb"]\n',
         "image": 'classic = ["affine"]\nmixup = []\nonline = false\nteacher_pool = 0\n',
         "signal": 'classic = ["jitter"]\nmixup = []\nteacher_pool = 0\nlearners = ["cnn1d"]\n'}


def make_data(modality: str, n: int) -> Path:
    rng = np.random.default_rng(n)
    WORK.mkdir(parents=True, exist_ok=True)
    if modality == "table":
        import pandas as pd
        from sklearn.datasets import make_classification

        x, y = make_classification(n, 20, n_informative=10, n_classes=5, random_state=0)
        path = WORK / f"table-{n}.csv"
        frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(20)])
        frame["label"] = [f"c{v}" for v in y]
        frame.to_csv(path, index=False)
        return path
    if modality == "image":
        from PIL import Image
        from sklearn.datasets import load_digits

        d = load_digits()
        idx = rng.integers(0, len(d.images), n)
        big = np.stack([np.asarray(Image.fromarray((d.images[i] * 16).astype(np.uint8)).resize((24, 24)))
                        for i in range(len(d.images))])
        x = np.zeros((n, 1, 28, 28), np.uint8)
        for j, i in enumerate(idx):
            dy, dx = rng.integers(0, 5, 2)
            x[j, 0, dy:dy + 24, dx:dx + 24] = big[i]
        x = np.clip(x + rng.integers(0, 20, x.shape), 0, 255).astype(np.uint8)
        path = WORK / f"image-{n}.npz"
        np.savez(path, x=x, y=d.target[idx].astype(str))
        return path
    t = np.linspace(0, 1, 128, dtype=np.float32)
    y = rng.integers(0, 4, n)
    f = 3 + 2 * y[:, None] + rng.random((n, 1))
    waves = [np.sin, lambda v: np.sign(np.sin(v)), lambda v: (v / np.pi) % 2 - 1, np.cos]
    x = np.stack([waves[k](2 * np.pi * f[i] * t) for i, k in enumerate(y)]) + 0.1 * rng.standard_normal((n, 128))
    path = WORK / f"signal-{n}.npz"
    np.savez(path, x=x.astype(np.float32), y=np.array([f"w{k}" for k in y]), modality="signal")
    return path


def run(modality: str, n: int, data: Path, ray_workers: int = 0) -> dict:
    name = f"{modality}-{n}" + (f"-ray{ray_workers}" if ray_workers else "")
    recipe = WORK / f"{name}.toml"
    label = 'label = "label"\n' if modality == "table" else ""
    ev = EXTRA[modality] + (f'workers = {ray_workers}\nray = "local"\n' if ray_workers else "")
    recipe.write_text(f'name = "{name}"\nout = "{WORK / name}"\nreport = "{WORK / name}-report"\n[data]\n'
                      f'train = "{data}"\n{label}test_fraction = 0.3\n' + RECIPES[modality]
                      + COMMON.replace("[evaluate]\n", "[evaluate]\n" + ev))
    t = time.perf_counter()
    out = subprocess.run([str(ROOT / ".venv" / "bin" / "augmentor"), "run", str(recipe), "--overwrite", "-q"],
                         cwd=ROOT, capture_output=True, text=True)
    wall = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"{name} failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    res = json.loads((WORK / f"{name}-report" / "results.json").read_text())
    fits = sum(res.get("work", {}).get("fits_computed", {}).values())
    return {"modality": modality, "n": n, "train_n": sum(res["train_counts"]), "ray_workers": ray_workers,
            "wall_s": round(wall, 1), "stages_s": {k: round(v, 1) for k, v in res["timings_s"].items()},
            "fits": fits, "sections_s": res.get("work", {}).get("sections_s"),
            "evaluate_s_per_fit": round((res["timings_s"]["evaluate"] - (res.get("work", {}).get("sections_s") or 0))
                                        / max(fits, 1), 3)}


def slope(rows: list[dict], stage: str) -> float | None:
    """The growth exponent of a stage's time in N (log-log least squares), over a modality's sizes."""
    pts = [(r["n"], r["stages_s"][stage]) for r in rows if r["stages_s"].get(stage, 0) > 0.5]
    if len(pts) < 2:
        return None
    a = np.log([p[0] for p in pts])
    b = np.log([p[1] for p in pts])
    return float(np.polyfit(a, b, 1)[0])


def write(rows: list[dict]) -> None:
    import matplotlib
    import matplotlib.ticker

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(13, 4), sharey=True)
    for ax, modality in zip(axes, SIZES):
        mine = [r for r in rows if r["modality"] == modality and not r["ray_workers"]]
        for stage, style in (("train", "o-"), ("evaluate", "s-"), ("synthesize", "^--"), ("prepare", "x:")):
            ax.plot([r["n"] for r in mine], [max(r["stages_s"].get(stage, 0), 0.1) for r in mine], style, label=stage)
        ax.set(xscale="log", yscale="log", title=f"{modality}", xlabel="samples in the data set")
        ax.set_xticks(SIZES[modality], [f"{n:,}" for n in SIZES[modality]])  # the measured sizes, no minor labels
        ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
        ax.grid(True, which="both", alpha=0.3)
    axes[0].set_ylabel("seconds (2 CPU cores)")
    axes[0].legend()
    fig.suptitle("augmentor run: stage time against data size (the same short recipe per modality)")
    fig.tight_layout()
    fig.savefig(ROOT / "docs" / "cost-curve.png", dpi=110)
    lines = ["# The cost curve: `augmentor run` at growing data sizes", "",
             f"Made by `python benchmarks/bench_cost_curve.py` on {platform.machine()}, 2 CPU cores, no GPU. The same "
             "short recipe per modality at every size (see the script's docstring), so this shows how each stage "
             "grows with the data, not what a full recipe costs. Plot: `docs/cost-curve.png`.", "",
             "| modality | N | train split | Ray CPUs | prepare s | GAN train s | synthesize s | evaluate s (of it "
             "fidelity and memorisation) | fits | s per fit | whole command s |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        s = r["stages_s"]
        lines.append(f"| {r['modality']} | {r['n']:,} | {r['train_n']:,} | {r['ray_workers'] or '—'} | "
                     f"{s.get('prepare', 0):.1f} | {s.get('train', 0):.1f} | {s.get('synthesize', 0):.1f} | "
                     f"{s.get('evaluate', 0):.1f} ({r.get('sections_s') or 0:.1f}) | {r['fits']} | "
                     f"{r['evaluate_s_per_fit']:.2f} | {r['wall_s']:.0f} |")
    lines += ["", "Growth exponent of each stage's time in N (log-log fit over the sizes; 1 is linear):", ""]
    for modality in SIZES:
        mine = [r for r in rows if r["modality"] == modality and not r["ray_workers"]]
        parts = [f"{st} {e:.2f}" for st in ("train", "synthesize", "evaluate") if (e := slope(mine, st)) is not None]
        lines.append(f"- {modality}: " + (", ".join(parts) or "too few sizes"))
    (ROOT / "reports" / "cost-curve.md").write_text("\n".join(lines) + "\n")
    (ROOT / "reports" / "cost-curve.json").write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="the two smallest sizes of each modality")
    parser.add_argument("--render", action="store_true", help="the table and plot again from reports/cost-curve.json")
    args = parser.parse_args()
    if args.render:
        write(json.loads((ROOT / "reports" / "cost-curve.json").read_text()))
        raise SystemExit(0)
    rows = []
    for modality, sizes in SIZES.items():
        for n in sizes[:2] if args.quick else sizes:
            rows.append(run(modality, n, make_data(modality, n)))
            print(rows[-1], flush=True)
    smallest = SIZES["image"][0]
    for workers in (1, 2):
        rows.append(run("image", smallest, make_data("image", smallest), ray_workers=workers))
        print(rows[-1], flush=True)
    write(rows)
