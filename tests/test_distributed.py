"""DDP training under torchrun (gloo on CPU): 2 processes on a 320-image subset of digits."""

from __future__ import annotations

import hashlib
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from augmentor.gan.checkpoint import latest_checkpoint, load_checkpoint

pytestmark = pytest.mark.slow

TINY = {"model": {"z_dim": 8, "g_channels": 32, "d_channels": 16},
        "train": {"epochs": 1, "batch_size": 32, "checkpoint_every": 1000, "log_every": 5}}


N_SMALL = 320  # digits, 32 per class: 5 steps an epoch at the global batch of 2 x 32
STEPS = -(-N_SMALL // 64)


@pytest.fixture(scope="module")
def small(tmp_path_factory) -> str:
    from augmentor.core.data import thin_classes
    from augmentor.image.data import write_npz
    from augmentor.registry import load_dataset

    d = load_dataset("builtin:digits")
    return str(write_npz(thin_classes(d, {c: N_SMALL // 10 for c in d.classes}, 0),
                         tmp_path_factory.mktemp("ddp") / "digits-small.npz"))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _digest(named: list[tuple[str, torch.Tensor]]) -> str:
    """sha256 over the EMA generator's parameters (batch-norm running statistics are rank 0's in a checkpoint)."""
    h = hashlib.sha256()
    for k, v in sorted(named):
        h.update(k.encode() + v.detach().numpy().tobytes())
    return h.hexdigest()


def _rank_main(rank: int, world: int, port: int, out: str, lecam: float, data: str) -> None:
    os.environ.update({"MASTER_ADDR": "127.0.0.1", "MASTER_PORT": str(port), "RANK": str(rank),
                       "WORLD_SIZE": str(world), "LOCAL_RANK": str(rank), "OMP_NUM_THREADS": "1"})
    torch.set_num_threads(1)
    from augmentor.config.recipe import recipe_from_dict
    from augmentor.gan.distributed import shutdown
    from augmentor.gan.train import train
    from augmentor.registry import load_dataset

    recipe = recipe_from_dict({**TINY, "train": {**TINY["train"], "lecam": lecam}})
    res = train(load_dataset(data), None, recipe, progress=False)
    names = " ".join(sorted(k for k, _ in res.generator.named_parameters()))
    digest = _digest(list(res.generator.named_parameters()))
    Path(out, f"rank{rank}.txt").write_text(f"{digest} {res.state['world_size']} {res.state['step']} {names}")
    shutdown()


def _spawn(tmp: Path, data: str, lecam: float = 0.0) -> list[str]:
    tmp.mkdir(parents=True, exist_ok=True)
    torch.multiprocessing.start_processes(_rank_main, args=(2, _free_port(), str(tmp), lecam, data), nprocs=2,
                                          start_method="spawn")
    return [(tmp / f"rank{r}.txt").read_text() for r in range(2)]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run([sys.executable, "-m", "augmentor.cli", *args], capture_output=True, text=True, env=env,
                          timeout=600)


def _in_process(*args: str):
    """The CLI in this process: for the steps that start no ranks (a refusal, a one-process run, an export)."""
    from click.testing import CliRunner

    from augmentor.cli import cli

    return CliRunner().invoke(cli, list(args))


def test_ranks_hold_identical_weights_torchrun_repeats_them_and_resumes(tmp_path, small):
    """Two ranks spawned by torch hold the same EMA generator after every step; `augmentor train --nproc 2` (torchrun)
    with the same settings and seed ends with the same weights bit for bit (on CPU, deterministic for a world size);
    it resumes with its world size only, and exports."""
    a = _spawn(tmp_path / "a", small, lecam=0.3)
    assert a[0] == a[1]  # every rank's EMA generator weights, after every step, are the same
    digest, world, steps, *names = a[0].split()
    assert world == "2" and int(steps) == STEPS  # global batch 2 x 32
    recipe = tmp_path / "r.toml"
    recipe.write_text('[model]\nz_dim = 8\ng_channels = 32\nd_channels = 16\n'
                      '[train]\nbatch_size = 32\ncheckpoint_every = 10\nlecam = 0.3\n')
    run = tmp_path / "R"
    r = _cli("train", small, "--recipe", str(recipe), "--nproc", "2", "--epochs", "1", "--out", str(run), "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    first = latest_checkpoint(run)
    tensors, state = load_checkpoint(first)
    assert state["world_size"] == 2 and state["global_batch"] == 64 and state["step"] == STEPS
    assert _digest([(k, tensors["ema." + k]) for k in names]) == digest  # the run repeats the spawned ranks'
    assert "rng.1" in tensors and "rng" in tensors  # every rank's RNG, for an exact resume
    # resuming with another world size is refused, naming the one to use
    r = _in_process("train", small, "--recipe", str(recipe), "--epochs", "2", "--out", str(run), "--resume", "-q")
    assert r.exit_code == 2 and "--nproc 2" in r.output
    r = _cli("train", small, "--recipe", str(recipe), "--nproc", "2", "--epochs", "2", "--out", str(run), "--resume",
             "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    assert load_checkpoint(latest_checkpoint(run))[1]["step"] == 2 * STEPS
    r = _in_process("export", str(run), "-q")
    assert r.exit_code == 0, r.output
    assert (run / "generator.onnx").is_file()


def _descendants(pid: int) -> set[int]:
    """Every live descendant of `pid` (from /proc)."""
    parent = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                parent[int(d)] = int(Path(f"/proc/{d}/stat").read_bytes().rsplit(b")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                pass
    out, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parent.items() if pp in frontier and p not in out}
        out |= frontier
    return out


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for p in pids:
        try:
            if b") Z" not in Path(f"/proc/{p}/stat").read_bytes():
                alive.add(p)
        except OSError:
            pass
    return alive


def _snapshot(folder: Path) -> dict:
    return {str(p): (p.stat().st_size, p.stat().st_mtime_ns) for p in folder.rglob("*") if p.is_file()}


def assert_gone_and_still(job: subprocess.Popen, pids: set[int], folder: Path) -> None:
    """kill -9 `job`; within 10 s none of `pids` is alive, and then nothing under `folder` changes for 2 s."""
    import time

    job.kill()
    job.wait()
    deadline = time.monotonic() + 10
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not _alive(pids), f"alive 10 s after kill -9 of {job.pid}: {_alive(pids)}"
    before = _snapshot(folder)
    time.sleep(2)
    assert _snapshot(folder) == before


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc; parent-death signal is Linux's")
def test_kill_9_of_nproc_train_leaves_no_rank_and_no_writer(tmp_path, small):
    """#26 row 1: the ranks die with the launcher; a --resume meanwhile names the lock holder's PID."""
    import time

    recipe = tmp_path / "r.toml"
    recipe.write_text('[model]\nz_dim = 8\ng_channels = 32\nd_channels = 16\n'
                      '[train]\nbatch_size = 32\ncheckpoint_every = 5\n')
    run = tmp_path / "R"
    cmd = [sys.executable, "-m", "augmentor.cli", "train", small, "--recipe", str(recipe),
           "--nproc", "2", "--epochs", "400", "--out", str(run), "-q"]
    job = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    ranks: set[int] = set()
    try:
        deadline = time.monotonic() + 120
        while not list(run.glob("checkpoints/step-*")) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert list(run.glob("checkpoints/step-*")), "the job wrote no checkpoint in 120 s"
        ranks |= _descendants(job.pid)
        assert len(ranks) >= 2
        # a --resume beside the live job is refused, naming the PID that holds the lock
        r = _in_process("train", small, "--recipe", str(recipe), "--nproc", "2", "--epochs", "400",
                        "--out", str(run), "--resume", "-q")
        assert r.exit_code == 2 and f"PID {job.pid}" in r.output, r.output[-2000:]
    finally:
        assert_gone_and_still(job, ranks, run)


def test_nproc_resume_with_another_world_size_is_one_line(tmp_path, small):
    """#26 row 3: one line naming the fix, exit 2, no torch traceback — the launcher refuses before any rank starts,
    so both steps run the CLI in this process."""
    recipe = tmp_path / "r.toml"
    recipe.write_text('[model]\nz_dim = 8\ng_channels = 32\nd_channels = 16\n[train]\nbatch_size = 32\n')
    run = tmp_path / "R"
    r = _in_process("train", small, "--recipe", str(recipe), "--epochs", "1", "--out", str(run), "-q")
    assert r.exit_code == 0, r.output[-2000:]
    r = _in_process("train", small, "--recipe", str(recipe), "--nproc", "2", "--epochs", "2", "--out", str(run),
                    "--resume", "-q")
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert r.exit_code == 2 and len(lines) == 1 and "--nproc 1" in lines[0], r.output[-3000:]
    assert "Traceback" not in r.output and "ChildFailedError" not in r.output
