"""Generator throughput: ONNX Runtime vs PyTorch eager vs torch.compile, same weights.

Writes reports/benchmarks.md, reports/benchmarks.json and reports/benchmarks.png.
Each figure is the median samples/s over repeated timed runs after warm-up; the ratios
are computed within this one run, on this machine. Weights are the architecture's
seeded initialisation: throughput does not depend on their values.

    python benchmarks/bench_generate.py [--repeats 7] [--batch-sizes 1,16,64,256,1024,4096]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import onnxruntime as ort
import torch

from augmentor.image.codec import ImageCodec
from augmentor.image.models import ImageGenerator
from augmentor.registry import open_generator
from augmentor.synthesis.export import export_generator
from augmentor.synthesis.runtime import physical_cores

GENERATORS = {"digits 1x8x8": ((1, 8, 8), 10), "rgb 3x32x32": ((3, 32, 32), 10)}


def timed(fn, n_samples: int, repeats: int, min_seconds: float = 0.2) -> float:
    """Median samples/s; each timed run loops fn until it has taken at least min_seconds."""
    fn()
    fn()
    rates = []
    for _ in range(repeats):
        calls, t0 = 0, time.perf_counter()
        while True:
            fn()
            calls += 1
            dt = time.perf_counter() - t0
            if dt >= min_seconds:
                break
        rates.append(calls * n_samples / dt)
    return statistics.median(rates)


def bench_one(name: str, shape, n_classes: int, batch_sizes, repeats: int, tmp: Path) -> list[dict]:
    torch.manual_seed(0)
    g = ImageGenerator(n_classes, shape, z_dim=64, width=128).eval()
    path = tmp / f"{name.split()[0]}.onnx"
    # The product's own export (batch norm folded, verified) and its own session: what users run.
    export_generator(g, path, classes=[str(c) for c in range(n_classes)], codec=ImageCodec().to_json(),
                     data_fingerprint="benchmark")
    gen = open_generator(path)
    rows = []
    for bs in batch_sizes:
        z = np.random.default_rng(0).standard_normal((bs, 64), dtype=np.float32)
        y = (np.arange(bs) % n_classes).astype(np.int64)
        zt, yt = torch.from_numpy(z), torch.from_numpy(y)
        torch._dynamo.reset()  # one compiled graph per batch size, not a recompile-limit fallback
        compiled = torch.compile(g, dynamic=False)

        def run_ort(z=z, y=y):
            gen.run(z, y)

        def run_eager(zt=zt, yt=yt):
            with torch.inference_mode():
                g(zt, yt)

        def run_compiled(zt=zt, yt=yt, compiled=compiled):
            with torch.inference_mode():
                compiled(zt, yt)

        row = {"generator": name, "batch": bs, "onnxruntime": timed(run_ort, bs, repeats),
               "torch_eager": timed(run_eager, bs, repeats)}
        try:
            row["torch_compile"] = timed(run_compiled, bs, repeats)
        except Exception as e:  # report, don't hide: compile needs a C++ toolchain
            row["torch_compile"] = None
            row["compile_error"] = f"{type(e).__name__}: {str(e)[:200]}"
        row["ort_vs_eager"] = row["onnxruntime"] / row["torch_eager"]
        rows.append(row)
        print(json.dumps(row), flush=True)
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--batch-sizes", default="1,16,64,256,1024,4096")
    ap.add_argument("--out", default="reports")
    args = ap.parse_args()
    batch_sizes = [int(b) for b in args.batch_sizes.split(",")]
    torch.set_num_threads(physical_cores())
    with tempfile.TemporaryDirectory() as tmp:
        rows = [r for name, (shape, k) in GENERATORS.items()
                for r in bench_one(name, shape, k, batch_sizes, args.repeats, Path(tmp))]
    env = {"device": "CPU", "cpu_threads": physical_cores(), "torch_threads": torch.get_num_threads(),
           "ort_intra_op_threads": physical_cores(), "python": platform.python_version(),
           "torch": torch.__version__, "onnxruntime": ort.__version__, "platform": platform.platform(),
           "processor": platform.processor() or platform.machine(), "repeats": args.repeats}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "benchmarks.json").write_text(json.dumps({"environment": env, "generate": rows}, indent=2) + "\n")
    plot(rows, out / "benchmarks.png")
    from sections import sections  # the other benchmarks' sections survive a re-run

    (out / "benchmarks.md").write_text(markdown(rows, env) + sections(out / "benchmarks.md"))
    print(f"wrote {out / 'benchmarks.md'}")


def plot(rows: list[dict], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = list(dict.fromkeys(r["generator"] for r in rows))
    fig, axes = plt.subplots(1, len(names), figsize=(5 * len(names), 3.6))
    for ax, name in zip(np.atleast_1d(axes), names):
        rs = [r for r in rows if r["generator"] == name]
        bs = [r["batch"] for r in rs]
        for key in ("onnxruntime", "torch_eager", "torch_compile"):
            if all(r.get(key) for r in rs):
                ax.plot(bs, [r[key] for r in rs], marker="o", label=key)
        ax.set_xscale("log", base=2)
        ax.set_yscale("log")
        ax.set_xlabel("batch size")
        ax.set_ylabel("samples / s")
        ax.set_title(name)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110, metadata={"Software": None})
    plt.close(fig)


def markdown(rows: list[dict], env: dict) -> str:
    def fmt(v):
        return "n/a" if v is None else f"{v:,.0f}"

    out = ["# Generator throughput: ONNX Runtime vs PyTorch", "",
           "Made by `python benchmarks/bench_generate.py` (`make bench`). Median samples/s over "
           f"{env['repeats']} timed runs after warm-up; ratios computed within this run.", "",
           "Environment: " + ", ".join(f"{k} {v}" for k, v in env.items() if k != "repeats"), "",
           "| generator | batch | ONNX Runtime | torch eager | torch.compile | ORT / eager |",
           "|---|---:|---:|---:|---:|---:|"]
    for r in rows:
        out.append(f"| {r['generator']} | {r['batch']} | {fmt(r['onnxruntime'])} | {fmt(r['torch_eager'])} "
                   f"| {fmt(r['torch_compile'])} | {r['ort_vs_eager']:.2f}× |")
    big = [r for r in rows if r["batch"] >= 256]
    out += ["", "## Target: ONNX Runtime ≥ 1.5× PyTorch eager at batch ≥ 256 on CPU", ""]
    for r in big:
        ratio = r["ort_vs_eager"]
        verdict = "met" if ratio >= 1.5 else f"missed by {1.5 - ratio:.2f}×"
        out.append(f"- {r['generator']}, batch {r['batch']}: {ratio:.2f}× — {verdict}")
    errors = {r["compile_error"] for r in rows if r.get("compile_error")}
    if errors:
        out += ["", "torch.compile failed here: " + "; ".join(sorted(errors))]
    out += ["", "![samples/s against batch size](benchmarks.png)", ""]
    return "\n".join(out)


if __name__ == "__main__":
    main()
