"""Sharded synthesis on a local Ray cluster (num_cpus=2): the samples one process generates."""

from __future__ import annotations

import csv
import sys
from functools import partial
from pathlib import Path

import numpy as np
import pytest

from augmentor.config.recipe import SynthesizeConfig
from augmentor.core.errors import InvalidDataError
from augmentor.registry import for_codec, generate_to_folder, open_generator
from augmentor.serving.ray_engine import _partial, plan_units
from augmentor.serving.ray_engine import generate_with_ray as _generate_with_ray
from augmentor.serving.ray_engine import run_unit as _run_unit

ray = pytest.importorskip("ray", reason="augmentor[ray] is installed by make test")
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("ray")]  # one worker: its fixtures once

# the CLI hands the engine the registry's codecs; so do these tests
generate_with_ray = partial(_generate_with_ray, codecs=for_codec)
run_unit = partial(_run_unit, codecs=for_codec)


@pytest.fixture
def cluster(ray_cluster):
    return ray_cluster


def _arrays(out: Path) -> tuple[np.ndarray, np.ndarray]:
    shards = sorted(out.glob("shard-*.npz"))
    return (np.concatenate([np.load(p)["x"] for p in shards]), np.concatenate([np.load(p)["y"] for p in shards]))


def _manifest(out: Path) -> list[dict]:
    with (out / "manifest.csv").open(newline="") as f:
        return list(csv.DictReader(f))


def test_ray_npz_equals_one_process(cluster, tiny_model, tmp_path):
    model = tiny_model[1]
    counts = {"0": 3000, "1": 2000}
    config = SynthesizeConfig(seed=3, format="npz")
    a = generate_with_ray(model, counts, tmp_path / "A", config, num_workers=2, unit_size=700, progress=False)
    generate_to_folder(model, counts, tmp_path / "B", config, progress=False)
    xa, ya = _arrays(a.out)
    xb, yb = _arrays(tmp_path / "B")
    for label in (0, 1):
        np.testing.assert_array_equal(xa[ya == label], xb[yb == label])  # same samples, class by class
    assert len(sorted(a.out.glob("shard-*.npz"))) == len(plan_units(counts, 700)) == 8
    files = [r["file"] for r in _manifest(a.out)]
    assert len(files) == len(set(files)) == 5000  # every sample listed once
    assert (a.out / ".augmentor-output").is_file() and not (tmp_path / ".A.partial").exists()


def test_killed_worker_is_retried_with_nothing_lost_or_doubled(cluster, tiny_model, tmp_path):
    model = tiny_model[1]
    counts = {"2": 300, "5": 200}
    config = SynthesizeConfig(seed=1, format="png")
    flag = tmp_path / "died"
    a = generate_with_ray(model, counts, tmp_path / "A", config, num_workers=2, unit_size=128, progress=False,
                          _die_once=str(flag))
    assert flag.exists()  # a worker process really was killed mid-unit
    b = generate_to_folder(model, counts, tmp_path / "B", config, progress=False)
    pa = sorted(p.relative_to(a.out) for p in a.out.rglob("*.png"))
    pb = sorted(p.relative_to(b.out) for p in b.out.rglob("*.png"))
    assert pa == pb and len(pa) == 500
    assert all((a.out / p).read_bytes() == (b.out / p).read_bytes() for p in pa)
    rows = _manifest(a.out)
    assert sorted(r["file"] for r in rows) == sorted(r["file"] for r in _manifest(b.out))


def test_rerun_resumes_from_completed_units(cluster, tiny_model, tmp_path):

    model = tiny_model[1]
    gen = open_generator(model)
    counts = {"0": 500}
    config = SynthesizeConfig(seed=2, format="npz")
    units = plan_units(counts, 200)
    job = {"engine": "ray", "model_sha256": gen.info.sha256, "seed": 2, "counts": counts, "format": "npz",
           "unit_size": 200}
    partial = _partial(tmp_path / "A", job)  # as a killed run leaves it: unit 0 done, the rest not
    run_unit(str(Path(model).resolve()), gen.info.sha256, "cpu", units[0], 2, "npz", str(partial), 256, 0)
    first = (partial / "shard-00000.npz").stat().st_mtime_ns
    a = generate_with_ray(model, counts, tmp_path / "A", config, num_workers=2, unit_size=200, progress=False)
    assert (a.out / "shard-00000.npz").stat().st_mtime_ns == first  # kept, not regenerated
    generate_to_folder(model, counts, tmp_path / "B", config, progress=False)
    np.testing.assert_array_equal(_arrays(a.out)[0], _arrays(tmp_path / "B")[0])


def test_table_csv_equals_one_process(cluster, tmp_path):
    from augmentor.config.recipe import recipe_from_dict
    from augmentor.gan.train import train
    from augmentor.registry import export_onnx
    from augmentor.table.data import load_table

    from .test_tables import TABLE_RECIPE, mixed_frame

    mixed_frame().to_csv(tmp_path / "mixed.csv", index=False)
    train(load_table(tmp_path / "mixed.csv", label="target"), tmp_path / "run", recipe_from_dict(TABLE_RECIPE),
          progress=False)
    model = export_onnx(tmp_path / "run")
    config = SynthesizeConfig(seed=4, format="csv")
    counts = {"low": 50, "high": 70}
    a = generate_with_ray(model, counts, tmp_path / "A", config, num_workers=2, unit_size=32, progress=False)
    generate_to_folder(model, counts, tmp_path / "B", config, progress=False)
    assert (a.out / "samples.csv").read_bytes() == (tmp_path / "B" / "samples.csv").read_bytes()
    assert [r["file"] for r in _manifest(a.out)] == [r["file"] for r in _manifest(tmp_path / "B")]


def test_without_ray_the_error_says_how_to_install(tiny_model, tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)
    with pytest.raises(InvalidDataError, match=r"augmentor\[ray\]"):
        generate_with_ray(tiny_model[1], {"0": 5}, tmp_path / "A", SynthesizeConfig(), progress=False)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_kill_9_of_the_driver_takes_the_local_cluster_along(tiny_model, tmp_path):
    """#26 row 6: after kill -9 of a Ray `generate`, no process of the job is alive 10 s later
    and no file in the output folder's partial changes after that."""
    import os
    import subprocess
    import time

    from tests.test_distributed import _descendants, assert_gone_and_still

    out = tmp_path / "X"
    cmd = [sys.executable, "-m", "augmentor.cli", "generate", str(tiny_model[1]), "--counts", "0=300000",
           "--format", "npz", "--engine", "ray", "--num-workers", "2", "--out", str(out), "-q"]
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                           env={**os.environ, "RAY_ADDRESS": ""})
    seen: set[int] = set()
    try:
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline and not (tmp_path / ".X.partial" / "job.json").is_file():
            seen |= _descendants(job.pid)
            time.sleep(0.2)
        assert (tmp_path / ".X.partial" / "job.json").is_file(), "the job did not start in 180 s"
        for _ in range(25):  # the workers start and generate
            seen |= _descendants(job.pid)
            time.sleep(0.2)
        assert len(seen) >= 4, seen  # the cluster's processes and its workers
    finally:
        assert_gone_and_still(job, seen, tmp_path)
