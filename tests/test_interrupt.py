"""A killed training run resumes and loses at most one checkpoint interval; a huge
generation request streams to disk with flat memory."""

import csv
import os
import signal
import subprocess
import sys
import time

import pytest
import torch
from safetensors.torch import load_file

from augmentor.config.recipe import SynthesizeConfig, load_recipe
from augmentor.gan.checkpoint import list_checkpoints, load_checkpoint
from augmentor.gan.train import train
from augmentor.registry import load_dataset

RECIPE = """
[model]
z_dim = 8
g_channels = 32
d_channels = 16
[train]
epochs = 75
batch_size = 8
checkpoint_every = 5
sample_every = 1000
log_every = 1
"""


def cli(*args):
    return [sys.executable, "-m", "augmentor.cli", *map(str, args)]


@pytest.mark.slow
def test_sigkill_mid_training_then_resume(tmp_path, image_folder):
    recipe = tmp_path / "r.toml"
    recipe.write_text(RECIPE)
    run = tmp_path / "run"
    proc = subprocess.Popen(cli("train", image_folder, "--out", run, "--recipe", recipe, "-q"))
    deadline = time.time() + 120
    while time.time() < deadline and len(list_checkpoints(run)) < 2:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    saved = list_checkpoints(run)
    assert saved, "no checkpoint before the kill"
    _, state = load_checkpoint(saved[-1])  # the newest checkpoint on disk is whole
    with (run / "log.csv").open() as f:
        last_logged = int(list(csv.DictReader(f))[-1]["step"])
    assert last_logged - state["step"] <= 5  # at most one checkpoint interval lost
    total = 75 * 2
    assert state["step"] < total, "the run finished before it was killed; make it longer"

    r = subprocess.run(cli("train", image_folder, "--out", run, "--recipe", recipe, "--resume", "-q"))
    assert r.returncode == 0
    final = list_checkpoints(run)[-1]
    assert final.name == f"step-{total:07d}.safetensors"

    # on CPU with a fixed seed, the resumed run equals an uninterrupted one
    ref = train(load_dataset(image_folder), tmp_path / "ref", load_recipe(recipe), progress=False).checkpoint
    a, b = load_file(str(final)), load_file(str(ref))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.mark.slow
def test_large_generation_streams_with_flat_memory(tiny_model, tmp_path):
    model = tiny_model[1]
    probe = ("import resource, subprocess, sys; "
             "subprocess.run(sys.argv[1:], check=True); "
             "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")

    def peak_kib(n: int, out: str) -> int:
        cmd = cli("generate", model, "--counts", f"3={n}", "--out", tmp_path / out, "--format", "npz", "-q")
        r = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, text=True, check=True)
        return int(r.stdout.strip().splitlines()[-1])

    small = peak_kib(1_000, "small")
    big = peak_kib(100_000, "big")  # held in memory, 100,000 manifest rows and samples would take far more
    assert (big - small) / 1024 < 150, f"peak RSS grew by {(big - small) / 1024:.0f} MB"
    with (tmp_path / "big" / "manifest.csv").open() as f:
        assert sum(1 for _ in f) == 100_001
    assert os.path.getsize(tmp_path / "big" / "shard-00000.npz") > 0


def _tree(root):
    return {str(p.relative_to(root)): p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def _kill_when(proc, ready, timeout: float = 120) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline and proc.poll() is None and not ready():
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()


def _manifest_rows(path) -> int:
    try:
        with path.open() as f:
            return sum(1 for _ in f) - 1
    except FileNotFoundError:
        return 0


@pytest.mark.slow
def test_killed_png_synthesis_resumes_without_duplicates(tiny_model, tmp_path):
    """SIGKILL mid-way, run the same command again: the manifest is the source of truth,
    the result is complete, has no duplicates and equals an uninterrupted run byte for byte."""
    model = tiny_model[1]
    args = ["generate", model, "--counts", "3=3000,5=2000", "--workers", "2", "-q"]
    out = tmp_path / "out"
    partial = tmp_path / ".out.partial"
    proc = subprocess.Popen(cli(*args, "--out", out))
    _kill_when(proc, lambda: _manifest_rows(partial / "manifest.csv") > 1000)
    assert proc.returncode == -signal.SIGKILL, "finished before the kill; make the job larger"
    assert not out.exists() and partial.is_dir()  # nothing under the final name yet
    done_before = _manifest_rows(partial / "manifest.csv")
    assert 0 < done_before < 5000

    r = subprocess.run(cli(*args, "--out", out), capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "resuming an interrupted run" in r.stderr
    assert not partial.exists()
    with (out / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    files = [row["file"] for row in rows]
    assert len(files) == len(set(files)) == 5000
    assert sum(row["class"] == "3" for row in rows) == 3000

    subprocess.run(cli(*args, "--out", tmp_path / "ref"), check=True)
    assert _tree(out) == _tree(tmp_path / "ref")


@pytest.mark.slow
def test_killed_npz_synthesis_resumes_from_whole_shards(tiny_model, tmp_path):
    model = tiny_model[1]
    args = ["generate", model, "--counts", "3=30000", "--format", "npz", "-q"]
    out, partial = tmp_path / "out", tmp_path / ".out.partial"
    proc = subprocess.Popen(cli(*args, "--out", out))
    _kill_when(proc, lambda: (partial / "shard-00001.npz").exists())
    assert proc.returncode == -signal.SIGKILL, "finished before the kill; make the job larger"
    subprocess.run(cli(*args, "--out", out), check=True)
    subprocess.run(cli(*args, "--out", tmp_path / "ref"), check=True)
    assert _tree(out) == _tree(tmp_path / "ref")


def test_partial_output_of_another_job_is_not_reused(tiny_model, tmp_path):
    from augmentor.registry import generate_to_folder

    model = tiny_model[1]
    partial = tmp_path / ".out.partial"
    partial.mkdir()
    (partial / "job.json").write_text('{"seed": 99}')
    (partial / "stale.png").write_bytes(b"old")
    generate_to_folder(model, {"3": 20}, tmp_path / "out", SynthesizeConfig(seed=1), progress=False)
    assert not (tmp_path / "out" / "stale.png").exists() and not partial.exists()
    generate_to_folder(model, {"3": 20}, tmp_path / "ref", SynthesizeConfig(seed=1), progress=False)
    assert _tree(tmp_path / "out") == _tree(tmp_path / "ref")


def test_shard_flushed_before_its_manifest_rows_is_redone(tiny_model, tmp_path):
    """The kill can land after a shard is written but before its last manifest rows are:
    that shard is dropped and regenerated, so the result equals an unbroken run's."""
    import json
    import shutil

    from augmentor.registry import generate_to_folder
    from augmentor.synthesis.runtime import file_sha256

    model = tiny_model[1]
    job = dict(counts={"3": 250, "5": 100}, config=SynthesizeConfig(seed=2, format="npz", shard_size=100),
               progress=False)
    generate_to_folder(model, out=tmp_path / "ref", **job)
    partial = tmp_path / ".out.partial"
    partial.mkdir()
    for shard in ("shard-00000.npz", "shard-00001.npz"):
        shutil.copy(tmp_path / "ref" / shard, partial / shard)
    lines = (tmp_path / "ref" / "manifest.csv").read_text().splitlines(keepends=True)
    (partial / "manifest.csv").write_text("".join(lines[:1 + 170]))  # shard 1 lists 70 of its 100 rows
    (partial / "job.json").write_text(json.dumps(
        {"model_sha256": file_sha256(model), "seed": 2, "counts": job["counts"], "format": "npz",
         "shard_size": 100, "real": None, "n_real": 0, "filter": None}, sort_keys=True))
    generate_to_folder(model, out=tmp_path / "out", **job)
    assert _tree(tmp_path / "out") == _tree(tmp_path / "ref")
