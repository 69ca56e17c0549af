"""The ONNX exporter: torch's TorchScript exporter against its dynamo exporter, on each modality's generator.

For each generator (image 8x8 and 28x28, folded and fp16; table; signal) it exports the same weights with both
exporters, each in a fresh process (the first export pays the exporter's imports and warm-up, as every
`augmentor run` and `augmentor export` does) and then three times more in that process, and compares what ONNX
Runtime computes from the two files at batch sizes 1, 7 and 256 over every class. The weights are the seeded
initial ones with batch-norm statistics drawn at random (so folding them is not a no-op).

    python benchmarks/bench_export.py      # writes reports/export.{md,json}; about 2 min
"""

from __future__ import annotations

import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = ["image 8x8", "image 8x8 fp16", "image 28x28", "table", "signal 512"]


def generator(case: str):
    import torch

    from augmentor.image.models import ImageGenerator
    from augmentor.signal.models import SignalGenerator
    from augmentor.table.models import TableGenerator

    torch.manual_seed(0)
    if case.startswith("image"):
        side = 28 if "28" in case else 8
        g = ImageGenerator(10, (1, side, side))
    elif case == "table":
        g = TableGenerator(3, [("numeric", 1), ("numeric", 1), ("categorical", 4)])
    else:
        g = SignalGenerator(4, (1, 512))
    gen = torch.Generator().manual_seed(1)
    for name, buf in g.named_buffers():
        if name.endswith("running_mean"):
            buf.copy_(torch.randn(buf.shape, generator=gen) * 0.1)
        elif name.endswith("running_var"):
            buf.copy_(torch.rand(buf.shape, generator=gen) + 0.5)
    return g.eval()


def one(case: str, exporter: str, out: str) -> dict:
    """In a fresh process: export `case` four times with `exporter`; the last file stays at `out`."""
    import torch

    from augmentor.synthesis.export import HalfPrecision, _torch_export

    torch.set_num_threads(1)
    g = generator(case)
    model = g.folded() if g.foldable else g
    model = HalfPrecision(model) if "fp16" in case else model
    times = []
    for _ in range(4):
        start = time.perf_counter()
        _torch_export(model, Path(out), opset=18, exporter=exporter)
        times.append(time.perf_counter() - start)
    return {"first_s": round(times[0], 3), "warm_s": round(statistics.median(times[1:]), 3),
            "bytes": Path(out).stat().st_size}


def outputs(path: str, g) -> dict[int, tuple]:
    """batch size -> (z, label, what ONNX Runtime computes from the file at `path`)."""
    import numpy as np
    import onnxruntime as ort

    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(0)
    got = {}
    for bs in (1, 7, 256):
        label = (np.arange(bs) % g.n_classes).astype(np.int64)
        z = rng.standard_normal((bs, g.z_dim)).astype(np.float32)
        got[bs] = (z, label, session.run(["x"], {"z": z, "label": label})[0])
    return got


def main() -> None:
    import numpy as np
    import torch

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for case in CASES:
            row: dict = {"case": case}
            for exporter in ("torchscript", "dynamo"):
                out = f"{tmp}/{exporter}.onnx"
                r = subprocess.run([sys.executable, __file__, "--one", case, exporter, out],
                                   capture_output=True, text=True, check=True)
                row[exporter] = json.loads(r.stdout.strip().splitlines()[-1])
            g = generator(case)
            a, b = outputs(f"{tmp}/torchscript.onnx", g), outputs(f"{tmp}/dynamo.onnx", g)
            z, label, got = a[7]
            with torch.no_grad():
                want = g(torch.from_numpy(z), torch.from_numpy(label)).numpy()
            row["identical_outputs"] = all(np.array_equal(a[bs][2], b[bs][2]) for bs in a)
            row["max_abs_diff"] = float(max(np.abs(a[bs][2] - b[bs][2]).max() for bs in a))
            row["torchscript_vs_pytorch_max_abs"] = float(np.abs(got - want).max())
            rows.append(row)
            print(row, flush=True)
    out = Path("reports")
    meta = {"torch": torch.__version__, "onnxruntime": __import__("onnxruntime").__version__,
            "onnx": __import__("onnx").__version__, "cores": 2, "rows": rows}
    (out / "export.json").write_text(json.dumps(meta, indent=2) + "\n")
    lines = ["# The ONNX exporter: TorchScript against dynamo", "",
             f"`benchmarks/bench_export.py`, CPU (2 cores, one torch thread), torch {meta['torch']}, onnxruntime "
             f"{meta['onnxruntime']}. The same weights exported by each exporter in a fresh process (first), then "
             "three more times in that process (warm: the median); ONNX Runtime run on both files at batch sizes "
             "1, 7 and 256 over every class.", "",
             "| generator | TorchScript first | warm | dynamo first | warm | outputs identical | max abs diff | "
             "file bytes (TorchScript / dynamo) |", "|---|---:|---:|---:|---:|---|---:|---|"]
    for r in rows:
        t, d = r["torchscript"], r["dynamo"]
        lines.append(f"| {r['case']} | {t['first_s']} s | {t['warm_s']} s | {d['first_s']} s | {d['warm_s']} s | "
                     f"{'yes' if r['identical_outputs'] else 'no'} | {r['max_abs_diff']:.3g} | "
                     f"{t['bytes']} / {d['bytes']} |")
    lines += ["", "augmentor exports with the TorchScript exporter (`synthesis/export.py`), and with the dynamo "
              "exporter where a torch release no longer has it (it is deprecated since torch 2.9); either file "
              "passes `verify_onnx` (onnx's full checker, ONNX Runtime against PyTorch over every class) before "
              "anyone uses it. The model files differ in bytes (the graphs are built differently), not in what "
              "they compute where the column above says identical."]
    differ = [r for r in rows if not r["identical_outputs"]]
    lines += [""] + ([f"Where they are not identical ({', '.join(r['case'] for r in differ)}), ONNX Runtime's "
                      f"outputs differ by at most {max(r['max_abs_diff'] for r in differ):.2g} (float32 rounding "
                      "of the same operations in another order); the samples a seed gives are byte-identical from "
                      "run to run with either exporter, not across them."]
                     if differ else ["Every generator's outputs are identical from the two files."])
    (out / "export.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--one"]:
        print(json.dumps(one(*sys.argv[2:5])))
    else:
        main()
