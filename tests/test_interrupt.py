"""A killed training run resumes and loses at most one checkpoint interval; a huge
generation request streams to disk with flat memory."""

import csv
import os
import signal
import subprocess
import sys
import time

import torch
from safetensors.torch import load_file

from augmentor.checkpoint import list_checkpoints, load_checkpoint
from augmentor.data import load_dataset
from augmentor.recipe import load_recipe
from augmentor.train import train

RECIPE = """
[model]
z_dim = 8
g_channels = 32
d_channels = 16
[train]
epochs = 150
batch_size = 8
checkpoint_every = 5
sample_every = 1000
log_every = 1
"""


def cli(*args):
    return [sys.executable, "-m", "augmentor.cli", *map(str, args)]


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
    total = 150 * 2
    assert state["step"] < total, "the run finished before it was killed; make it longer"

    r = subprocess.run(cli("train", image_folder, "--out", run, "--recipe", recipe, "--resume", "-q"))
    assert r.returncode == 0
    final = list_checkpoints(run)[-1]
    assert final.name == f"step-{total:07d}.safetensors"

    # on CPU with a fixed seed, the resumed run equals an uninterrupted one
    ref = train(load_dataset(image_folder), tmp_path / "ref", load_recipe(recipe), progress=False)
    a, b = load_file(str(final)), load_file(str(ref))
    assert all(torch.equal(a[k], b[k]) for k in a)


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
    big = peak_kib(200_000, "big")
    assert (big - small) / 1024 < 300, f"peak RSS grew by {(big - small) / 1024:.0f} MB"
    with (tmp_path / "big" / "manifest.csv").open() as f:
        assert sum(1 for _ in f) == 200_001
    assert os.path.getsize(tmp_path / "big" / "shard-00000.npz") > 0
