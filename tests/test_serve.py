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
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("fastapi", reason="augmentor[serve] is installed by make test")
import uvicorn  # noqa: E402

from augmentor.cli import cli  # noqa: E402
from augmentor.registry import (
    for_codec,  # noqa: E402
    open_generator,  # noqa: E402
)
from augmentor.serving.client import Client, ServerError  # noqa: E402
from augmentor.serving.service import create_app as _create_app  # noqa: E402
from augmentor.synthesis.online import OnlineSynthetic  # noqa: E402

from .test_tables import TABLE_RECIPE, mixed_frame  # noqa: E402

pytestmark = pytest.mark.xdist_group("serve")  # one worker: the module's fixtures are built once

create_app = partial(_create_app, codecs=for_codec)  # the CLI hands the app the registry's codecs


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
    gen = open_generator(model)
    assert models == [{"name": "digits", "modality": "image", "classes": list(gen.classes), "shape": [1, 8, 8],
                       "z_dim": gen.info.z_dim, "sha256": gen.info.sha256, "formats": ["npz", "png-zip"]}]
    assert json.loads(server.get("/healthz"))["status"] == "ok"
    assert server.post("/v1/models/digits/generate", {"counts": {"1": 2}})[0] == 200  # whatever ran before
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
    ({"counts": {"0": 1}, "seed": 2**32}, 422, "seed"),  # the CLI's range: same seed, same bytes as generate
    ({"counts": {"0": 1}, "seed": 2**63 - 1}, 422, "seed"),
    (b'{"counts": {"0": 1, "0": 2000, "0": 5}}', 422, "0"),  # a class named twice, as the CLI refuses
    (b"[" * 100_000, 422, "body"),  # deep nesting: refused before parsing, no RecursionError
    (b'{"counts": ' + b'{"a": ' * 5000 + b"1" + b"}" * 5001, 422, "body"),
])
def test_bad_requests_are_4xx_json_naming_the_field(server, body, status, field):
    got, raw = server.post("/v1/models/digits/generate", body)
    assert got == status
    assert json.loads(raw)["error"]["field"] == field
    ok, _ = server.post("/v1/models/digits/generate", {"counts": {"0": 2}})
    assert ok == 200  # and the server keeps serving


def test_seed_at_the_top_of_the_cli_range_is_served(server):
    status, _ = server.post("/v1/models/digits/generate", {"counts": {"0": 1}, "seed": 2**32 - 1})
    assert status == 200


def test_an_oversized_body_is_refused_before_it_is_read_whole(server):
    try:
        status, raw = server.post("/v1/models/digits/generate", b" " * (2 << 20) + b'{"counts": {"0": 1}}')
        assert status == 413 and json.loads(raw)["error"]["field"] == "body"
    except urllib.error.URLError as e:  # the server answered 413 and closed before the client finished sending
        assert isinstance(e.reason, (BrokenPipeError, ConnectionResetError)), e
    conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=30)  # a 50 MB promise, 1 byte sent
    conn.putrequest("POST", "/v1/models/digits/generate")
    conn.putheader("Content-Type", "application/json")
    conn.putheader("Content-Length", str(50 << 20))
    conn.endheaders()
    conn.send(b"{")
    resp = conn.getresponse()
    assert resp.status == 413
    conn.close()


def test_in_flight_samples_are_capped_with_503_and_retry_after(model):
    s = Server([model], max_samples=3000, max_in_flight=3000)
    try:
        conn = http.client.HTTPConnection("127.0.0.1", s.port, timeout=30)  # a slow reader holds 3000 samples
        conn.request("POST", "/v1/models/digits/generate", json.dumps({"counts": {"0": 3000}, "format": "png-zip"}),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        assert resp.status == 200
        resp.read(100)
        req = urllib.request.Request(s.url + "/v1/models/digits/generate", data=b'{"counts": {"1": 10}}',
                                     headers={"Content-Type": "application/json"})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=30)
        assert e.value.code == 503 and e.value.headers["Retry-After"] == "1"
        assert json.loads(e.value.read())["error"]["field"] == "counts"
        resp.read()  # the first request completes and releases its samples
        conn.close()
        deadline = time.time() + 10
        while s.post("/v1/models/digits/generate", {"counts": {"1": 10}})[0] != 200:
            assert time.time() < deadline, "the finished request's samples were never released"
            time.sleep(0.1)
    finally:
        s.stop()


def _rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc/self/status").exists(), reason="reads VmRSS from /proc")
def test_memory_stays_bounded_under_rounds_of_32_concurrent_requests_at_the_cap(model):
    """docs/reliability.md states the bound: RSS grows by less than 250 MB over 3 rounds of 32
    concurrent requests of --max-samples each (the in-flight cap answers the excess 503)."""
    cap = 2_000
    server = Server([model], max_samples=cap)
    rss, refused = [_rss_mb()], []

    def one(i: int) -> None:
        body = json.dumps({"counts": {str(i % 10): cap}, "seed": i, "format": "npz"}).encode()
        for _ in range(600):
            req = urllib.request.Request(server.url + "/v1/models/digits/generate", data=body,
                                         headers={"Content-Type": "application/json"})
            try:
                with urllib.request.urlopen(req, timeout=120) as r:
                    assert len(r.read()) > cap * 64
                return
            except urllib.error.HTTPError as e:
                assert e.code == 503
                refused.append(i)
                time.sleep(0.05)
        raise AssertionError("never admitted")

    for _ in range(3):
        threads = [threading.Thread(target=one, args=(i,)) for i in range(32)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(300)
        rss.append(_rss_mb())
    server.stop()
    assert refused, "the in-flight cap never answered 503"
    assert max(rss) - rss[0] < 250, rss


def test_client_raises_its_own_error_for_transport_faults():
    from augmentor.serving.client import ClientError

    with pytest.raises(ClientError):
        Client(f"http://127.0.0.1:{_free_port()}", timeout=5)  # nobody listening
    assert issubclass(ServerError, ClientError)


def test_unknown_model_and_no_paths(server):
    for name in ("nope", "..%2F..%2Fetc%2Fpasswd", "digits.onnx"):
        status, raw = server.post(f"/v1/models/{name}/generate", {"counts": {"0": 1}})
        assert status == 404


def test_32_concurrent_clients_get_their_own_samples_and_share_runs(server, model):
    gen = open_generator(model)
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
    from augmentor.registry import load_dataset

    data = load_dataset(digits_splits[0])
    local = OnlineSynthetic(data.x, data.y, data.classes, open_generator(model), seed=4)
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
    assert server.metric("augmentor_requests_total", model="digits", status="cancelled") >= 1
    ok_before = server.metric("augmentor_requests_total", model="digits", status="200")
    ok, _ = server.post("/v1/models/digits/generate", {"counts": {"1": 3}})
    assert ok == 200
    assert server.metric("augmentor_requests_total", model="digits", status="200") == ok_before + 1


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    from augmentor.config.recipe import recipe_from_dict
    from augmentor.gan.train import train
    from augmentor.registry import export_onnx
    from augmentor.table.data import load_table

    root = tmp_path_factory.mktemp("served-table")
    mixed_frame().to_csv(root / "mixed.csv", index=False)
    train(load_table(root / "mixed.csv", label="target"), root / "run", recipe_from_dict(TABLE_RECIPE),
          progress=False)
    return export_onnx(root / "run", root / "table.onnx")


def test_table_csv_and_parquet_match_generate(table_model, tmp_path):
    s = Server([table_model])
    try:
        gen = open_generator(table_model)
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
