"""`augmentor serve` with a real uvicorn server on a free port and real HTTP clients."""

from __future__ import annotations

import http.client
import io
import json
import shutil
import socket
import threading
import time
import urllib.request
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="augmentor[serve] is installed by make test")
import uvicorn  # noqa: E402

from augmentor.cli import cli  # noqa: E402
from augmentor.client import Client, ServerError  # noqa: E402
from augmentor.online import OnlineSynthetic  # noqa: E402
from augmentor.runtime import OnnxGenerator  # noqa: E402
from augmentor.serve import create_app  # noqa: E402

from .test_tables import TABLE_RECIPE, mixed_frame  # noqa: E402


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    def __init__(self, models, **options) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = uvicorn.Config(create_app(models, **options), host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.time() + 30
        while not self.server.started:
            assert time.time() < deadline, "server did not start"
            time.sleep(0.05)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)

    def post(self, path: str, body) -> tuple[int, bytes]:
        data = body if isinstance(body, bytes) else json.dumps(body).encode()
        req = urllib.request.Request(self.url + path, data=data, headers={"Content-Type": "application/json"})
        try:
            with urllib.request.urlopen(req, timeout=60) as r:
                return r.status, r.read()
        except urllib.error.HTTPError as e:
            return e.code, e.read()

    def get(self, path: str) -> bytes:
        with urllib.request.urlopen(self.url + path, timeout=30) as r:
            return r.read()

    def metric(self, name: str, **labels) -> float:
        total = 0.0
        for line in self.get("/metrics").decode().splitlines():
            if line.startswith(name) and all(f'{k}="{v}"' in line for k, v in labels.items()):
                if line.split("{")[0].split(" ")[0] == name:
                    total += float(line.rsplit(" ", 1)[1])
        return total


@pytest.fixture(scope="module")
def model(tiny_model, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("served") / "digits.onnx"
    shutil.copy(tiny_model[1], path)
    return path


@pytest.fixture(scope="module")
def server(model):
    s = Server([model], max_batch=512, max_wait_ms=30, max_samples=20_000)
    yield s
    s.stop()


def _generate_cli(model: Path, counts: str, seed: int, fmt: str, out: Path) -> Path:
    from click.testing import CliRunner

    r = CliRunner().invoke(cli, ["generate", str(model), "--counts", counts, "--seed", str(seed), "--format", fmt,
                                 "--out", str(out), "-q"])
    assert r.exit_code == 0, r.output
    return out


def test_npz_is_exactly_what_generate_writes(server, model, tmp_path):
    status, body = server.post("/v1/models/digits/generate", {"counts": {"0": 5, "3": 7}, "seed": 7, "format": "npz"})
    assert status == 200
    got = np.load(io.BytesIO(body))
    out = _generate_cli(model, "0=5,3=7", 7, "npz", tmp_path / "g")
    shards = sorted(out.glob("shard-*.npz"))
    want_x = np.concatenate([np.load(p)["x"] for p in shards])
    want_y = np.concatenate([np.load(p)["y"] for p in shards])
    np.testing.assert_array_equal(got["x"], want_x)
    np.testing.assert_array_equal(got["y"], want_y)
    assert got["x"].dtype == np.uint8 and list(got["classes"]) == list(np.load(shards[0])["classes"])


def test_png_zip_has_the_bytes_of_generate(server, model, tmp_path):
    status, body = server.post("/v1/models/digits/generate", {"counts": {"2": 4, "9": 3}, "seed": 1,
                                                              "format": "png-zip"})
    assert status == 200
    out = _generate_cli(model, "2=4,9=3", 1, "png", tmp_path / "p")
    with zipfile.ZipFile(io.BytesIO(body)) as z:
        names = z.namelist()
        assert sorted(names) == sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
        for name in names:
            assert z.read(name) == (out / name).read_bytes()


def test_models_health_metrics(server, model):
    models = json.loads(server.get("/v1/models"))["models"]
    gen = OnnxGenerator(model)
    assert models == [{"name": "digits", "modality": "image", "classes": list(gen.classes), "shape": [1, 8, 8],
                       "z_dim": gen.info.z_dim, "sha256": gen.info.sha256, "formats": ["npz", "png-zip"]}]
    assert json.loads(server.get("/healthz"))["status"] == "ok"
    text = server.get("/metrics").decode()
    for name in ("augmentor_requests_total", "augmentor_samples_total", "augmentor_batch_rows_bucket",
                 "augmentor_request_seconds_bucket"):
        assert name in text


@pytest.mark.parametrize("body, status, field", [
    (b"{not json", 400, "body"),
    ([1, 2], 422, "body"),
    ({"counts": []}, 422, "counts"),
    ({"counts": {}}, 422, "counts"),
    ({"counts": {"nope": 3}}, 404, "counts.nope"),
    ({"counts": {"0": -1}}, 422, "counts.0"),
    ({"counts": {"0": 2.5}}, 422, "counts.0"),
    ({"counts": {"0": "7"}}, 422, "counts.0"),
    ({"counts": {"0": True}}, 422, "counts.0"),
    ({"counts": {"0": 10**12}}, 413, "counts"),
    ({"counts": {"0": 1}, "seed": "x"}, 422, "seed"),
    ({"counts": {"0": 1}, "seed": -1}, 422, "seed"),
    ({"counts": {"0": 1}, "format": "csv"}, 422, "format"),
    ({"counts": {"0": 1}, "path": "/etc/passwd"}, 422, "path"),
])
def test_bad_requests_are_4xx_json_naming_the_field(server, body, status, field):
    got, raw = server.post("/v1/models/digits/generate", body)
    assert got == status
    assert json.loads(raw)["error"]["field"] == field
    ok, _ = server.post("/v1/models/digits/generate", {"counts": {"0": 2}})
    assert ok == 200  # and the server keeps serving


def test_unknown_model_and_no_paths(server):
    for name in ("nope", "..%2F..%2Fetc%2Fpasswd", "digits.onnx"):
        status, raw = server.post(f"/v1/models/{name}/generate", {"counts": {"0": 1}})
        assert status == 404


def test_32_concurrent_clients_get_their_own_samples_and_share_runs(server, model):
    gen = OnnxGenerator(model)
    runs_before = server.metric("augmentor_batch_rows_count", model="digits")
    barrier, results, errors = threading.Barrier(32), {}, []

    def one(i: int) -> None:
        try:
            client = Client(server.url)
            barrier.wait()
            results[i] = client.generate_raw({str(i % 10): 64}, seed=100 + i)
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(e)

    threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors and len(results) == 32
    for i, arrays in results.items():
        x, _ = gen.generate({str(i % 10): 64}, seed=100 + i, stored=True)
        np.testing.assert_array_equal(arrays["x"], np.rint(x * 255).astype(np.uint8))
    runs = server.metric("augmentor_batch_rows_count", model="digits") - runs_before
    assert runs < 32  # rows of different requests shared ONNX Runtime runs


def test_client_is_a_source_for_online_synthetic(server, model, digits_splits):
    from augmentor.data import load_dataset

    data = load_dataset(digits_splits[0])
    local = OnlineSynthetic(data.x, data.y, data.classes, OnnxGenerator(model), seed=4)
    remote = OnlineSynthetic(data.x, data.y, data.classes, Client(server.url), seed=4)
    for epoch in (0, 1):
        np.testing.assert_array_equal(local.epoch_arrays(epoch)[0], remote.epoch_arrays(epoch)[0])
    with pytest.raises(ServerError) as e:
        Client(server.url).generate({"nope": 1})
    assert e.value.status == 404 and e.value.field == "counts.nope"


def test_disconnect_mid_stream_stops_the_work(server):
    n = 20_000
    before = server.metric("augmentor_cancelled_requests_total", model="digits")
    sent_before = server.metric("augmentor_samples_total", model="digits")
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)
    conn.request("POST", "/v1/models/digits/generate", json.dumps({"counts": {"0": n}, "format": "png-zip"}),
                 {"Content-Type": "application/json"})
    resp = conn.getresponse()
    assert resp.status == 200
    resp.read(2000)
    conn.sock.shutdown(socket.SHUT_RDWR)
    conn.close()
    deadline = time.time() + 30
    while server.metric("augmentor_cancelled_requests_total", model="digits") <= before:
        assert time.time() < deadline, "the server did not notice the disconnect"
        time.sleep(0.1)
    assert server.metric("augmentor_samples_total", model="digits") - sent_before < n
    ok, _ = server.post("/v1/models/digits/generate", {"counts": {"1": 3}})
    assert ok == 200


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    from augmentor.export import export_onnx
    from augmentor.recipe import recipe_from_dict
    from augmentor.tables import load_table
    from augmentor.train import train

    root = tmp_path_factory.mktemp("served-table")
    mixed_frame().to_csv(root / "mixed.csv", index=False)
    train(load_table(root / "mixed.csv", label="target"), root / "run", recipe_from_dict(TABLE_RECIPE),
          progress=False)
    return export_onnx(root / "run", root / "table.onnx")


def test_table_csv_and_parquet_match_generate(table_model, tmp_path):
    s = Server([table_model])
    try:
        gen = OnnxGenerator(table_model)
        counts = {gen.classes[0]: 6, gen.classes[-1]: 4}
        arg = ",".join(f"{c}={n}" for c, n in counts.items())
        status, body = s.post("/v1/models/table/generate", {"counts": counts, "seed": 3, "format": "csv"})
        assert status == 200
        out = _generate_cli(table_model, arg, 3, "csv", tmp_path / "t")
        assert body == (out / "samples.csv").read_bytes()
        status, body = s.post("/v1/models/table/generate", {"counts": counts, "seed": 3, "format": "parquet"})
        pd.testing.assert_frame_equal(pd.read_parquet(io.BytesIO(body)), pd.read_csv(out / "samples.csv"),
                                      check_dtype=False)
        frame, y = Client(s.url).generate(counts, seed=3)
        assert len(frame) == 10 and np.bincount(y, minlength=len(gen.classes))[0] == 6
    finally:
        s.stop()
