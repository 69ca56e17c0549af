"""Load test of `augmentor serve`: many small concurrent requests against one large direct generation.

The server runs as its own process (`augmentor serve`, the CLI users run) on a free port;
`--clients` threads in this process each send `--requests` POSTs of `--per-request` samples
(npz, one class each, distinct seeds) over keep-alive connections. Measured: served samples/s
(wall time from the first request to the last byte), each request's latency (p50, p99), and the
same number of samples generated directly in one process with OnnxGenerator (batch 1024, the
server's --max-batch) as uint8 pixels, the npz payload. Ratio = served / direct (target >= 0.8).

The generator is runs/mnist-A/generator.onnx when present, else an untrained 28x28 64/32
generator (throughput does not depend on weight values). Writes reports/bench-serve.json and the
"serve" section of reports/benchmarks.md.

    python benchmarks/bench_serve.py [--clients 32] [--requests 25] [--per-request 64]
"""

from __future__ import annotations

import argparse
import http.client
import io
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np

from augmentor.registry import open_generator

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_online import model_path  # noqa: E402
from sections import update_section  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_ready(port: int, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}")
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/healthz")
            if c.getresponse().status == 200:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("server did not start")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--requests", type=int, default=25, help="per client")
    ap.add_argument("--per-request", type=int, default=64)
    ap.add_argument("--max-batch", type=int, default=1024)
    ap.add_argument("--max-wait-ms", type=float, default=5.0)
    args = ap.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        model, source = model_path(Path(tmp))
        name = model.stem
        gen = open_generator(model, spinning=False)
        total = args.clients * args.requests * args.per_request
        # direct: the same number of samples in one process, uint8 as in the npz payload
        t0 = time.perf_counter()
        per_class = {c: total // len(gen.classes) for c in gen.classes}
        for _, _, batch in gen.iter_batches(per_class, seed=0, batch_size=args.max_batch):
            gen.info.codec.to_uint8(batch)
        direct = sum(per_class.values()) / (time.perf_counter() - t0)
        del gen

        port = free_port()
        proc = subprocess.Popen([sys.executable, "-m", "augmentor.cli", "serve", str(model), "--port", str(port),
                                 "--max-batch", str(args.max_batch), "--max-wait-ms", str(args.max_wait_ms), "-q"],
                                env={**os.environ, "PYTHONPATH": str(ROOT)})
        try:
            wait_ready(port, proc)
            latencies: list[float] = []
            errors: list[str] = []
            lock = threading.Lock()
            barrier = threading.Barrier(args.clients + 1)

            def client(i: int) -> None:
                conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
                mine = []
                barrier.wait()
                for r in range(args.requests):
                    body = json.dumps({"counts": {str((i + r) % 10): args.per_request}, "seed": i * 1000 + r,
                                       "format": "npz"})
                    t = time.perf_counter()
                    conn.request("POST", f"/v1/models/{name}/generate", body, {"Content-Type": "application/json"})
                    resp = conn.getresponse()
                    data = resp.read()
                    mine.append(time.perf_counter() - t)
                    if resp.status != 200 or len(np.load(io.BytesIO(data))["x"]) != args.per_request:
                        with lock:
                            errors.append(f"client {i} request {r}: HTTP {resp.status}")
                with lock:
                    latencies.extend(mine)

            threads = [threading.Thread(target=client, args=(i,)) for i in range(args.clients)]
            for t in threads:
                t.start()
            barrier.wait()
            t0 = time.perf_counter()
            for t in threads:
                t.join()
            wall = time.perf_counter() - t0
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
            c.request("GET", "/metrics")
            metrics = c.getresponse().read().decode()
        finally:
            proc.terminate()
            proc.wait(30)
    runs = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
               if line.startswith("augmentor_batch_rows_count"))
    rows_sum = sum(float(line.rsplit(" ", 1)[1]) for line in metrics.splitlines()
                   if line.startswith("augmentor_batch_rows_sum"))
    served = total / wall
    lat = np.array(latencies)
    row = {"clients": args.clients, "requests_per_client": args.requests, "samples_per_request": args.per_request,
           "total_samples": total, "errors": errors, "served_samples_per_s": served,
           "direct_samples_per_s": direct, "ratio": served / direct,
           "latency_p50_ms": float(np.percentile(lat, 50) * 1000),
           "latency_p99_ms": float(np.percentile(lat, 99) * 1000),
           "ort_runs": runs, "mean_rows_per_run": rows_sum / runs if runs else None,
           "max_batch": args.max_batch, "max_wait_ms": args.max_wait_ms, "model": source}
    env = {"device": f"CPU ({platform.machine()}, {os.cpu_count()} logical cores)",
           "python": platform.python_version(), "note": "server and load-generating clients share this machine"}
    print(json.dumps(row, indent=2))
    (ROOT / "reports" / "bench-serve.json").write_text(json.dumps({"environment": env, "row": row}, indent=2) + "\n")
    lines = ["## augmentor serve: many small requests against one large generation", "",
             f"Made by `python benchmarks/bench_serve.py`: {args.clients} concurrent clients x {args.requests} "
             f"requests x {args.per_request} samples (npz) against `augmentor serve --max-batch {args.max_batch} "
             f"--max-wait-ms {args.max_wait_ms:g}` in its own process; generator: {source}; {env['device']}; "
             "server and clients share the machine.", "",
             "| | samples/s | p50 latency | p99 latency | ONNX Runtime runs | mean rows per run |",
             "|---|---:|---:|---:|---:|---:|",
             f"| served | {served:,.0f} | {row['latency_p50_ms']:.0f} ms | {row['latency_p99_ms']:.0f} ms | "
             f"{runs:.0f} | {row['mean_rows_per_run'] or 0:.0f} |",
             f"| direct (one process, batch {args.max_batch}) | {direct:,.0f} | | | | |", "",
             f"Served / direct = {served / direct:.2f} — target ≥ 0.8: "
             f"**{'met' if served / direct >= 0.8 else 'not met'}**; {len(errors)} failed requests."]
    update_section("serve", "\n".join(lines))


if __name__ == "__main__":
    main()
