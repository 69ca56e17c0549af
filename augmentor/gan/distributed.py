"""Training across processes with PyTorch's own tools: torchrun + DistributedDataParallel.

`augmentor train DATA --out RUN --nproc N` re-runs the same command under
`python -m torch.distributed.run --standalone --nproc-per-node N` (and a user's own
`torchrun --nnodes ... -m augmentor.cli train ...` works the same way: every process reads
RANK / WORLD_SIZE / LOCAL_RANK from the environment). Backend: gloo on CPU, NCCL on GPU.

What DDP changes in training (train.py), and what it does not:
- the global batch is N x train.batch_size; each rank draws its own class-balanced batch from
  its own seeded generator (rank 0's is the single-process one), and an epoch is
  ceil(n / global batch) steps;
- the discriminator sees real and fake images in one forward pass per step (DDP allows one
  forward per backward); G's loss goes through the unwrapped discriminator with its weights
  frozen, so no discriminator gradient is reduced for it;
- batch statistics of the generator's class-conditional batch norm are per rank (each rank
  normalises its own batch, as plain DDP does; SyncBatchNorm has no CPU backend); running
  statistics and the discriminator's spectral-norm vectors are rank 0's, broadcast at every
  forward (DDP's broadcast_buffers);
- rank 0 alone writes checkpoints (atomically), sample grids and the log; every rank's RNG
  state goes into the checkpoint, and resuming with another world size is refused;
- on CPU a run is deterministic for a given world size (gloo reduces in a fixed order).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import torch


def world() -> tuple[int, int]:
    """(rank, world size): (0, 1) outside a process group."""
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def init_from_env(device: torch.device) -> torch.device:
    """Join the process group torchrun describes in the environment (if any); the device of this rank."""
    import torch.distributed as dist

    if int(os.environ.get("WORLD_SIZE", "1")) <= 1 or dist.is_initialized():
        return device
    if device.type == "cuda":
        local = int(os.environ.get("LOCAL_RANK", "0"))
        torch.cuda.set_device(local)
        device = torch.device("cuda", local)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device


def barrier() -> None:
    import torch.distributed as dist

    if world()[1] > 1:
        dist.barrier()


def gather(obj: object) -> list:
    """Every rank's `obj`, in rank order (on every rank)."""
    import torch.distributed as dist

    if world()[1] == 1:
        return [obj]
    out: list = [None] * world()[1]
    dist.all_gather_object(out, obj)
    return out


def shutdown() -> None:
    import torch.distributed as dist

    if dist.is_available() and dist.is_initialized():
        dist.destroy_process_group()


def without_option(argv: list[str], name: str) -> list[str]:
    """`argv` without `name VALUE` / `name=VALUE`."""
    out, skip = [], False
    for a in argv:
        if skip:
            skip = False
        elif a == name:
            skip = True
        elif not a.startswith(name + "="):
            out.append(a)
    return out


LAUNCHER_PID = "AUGMENTOR_LAUNCHER_PID"  # set for ranks started by `launch`: they die with it
LOCK_HELD = "AUGMENTOR_LOCK_HELD"  # the output folder whose lock the launcher holds for the whole job
ERROR_DIR = "AUGMENTOR_RANK_ERRORS"  # where ranks leave their one-line error for the launcher


def launch(argv: list[str], nproc: int, device: str, run_dir: str | os.PathLike) -> None:
    """Run `augmentor <argv>` in `nproc` processes under torch's elastic launcher (one host,
    in this process: no separate torchrun to orphan). On CPU each rank gets cores // nproc
    threads so they do not oversubscribe the machine.

    The launcher holds the run folder's lock for the whole job (rank 0 does not take it again)
    and every rank dies with the launcher (`die_with_launcher`), so a killed job leaves no
    process writing into the folder. A failure is one line: the first rank's own error
    message, or the rank and exit code of a crash; never torch's ChildFailedError traceback."""
    import logging
    import tempfile
    import uuid

    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.launcher.api import LaunchConfig, elastic_launch

    from ..core.errors import AugmentorError
    from ..core.outputs import output_lock

    saved = dict(os.environ)
    quiet = [logging.getLogger(n) for n in ("torch.distributed.elastic", "torch.distributed.launcher")]
    levels = [lg.level for lg in quiet]
    with output_lock(run_dir), tempfile.TemporaryDirectory(prefix="augmentor-ranks-") as errors:
        os.environ.update({LAUNCHER_PID: str(os.getpid()), LOCK_HELD: str(Path(run_dir).resolve()),
                           ERROR_DIR: errors})
        if device != "cuda":
            os.environ.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
        config = LaunchConfig(min_nodes=1, max_nodes=1, nproc_per_node=nproc, run_id=str(uuid.uuid4()),
                              rdzv_backend="c10d", rdzv_endpoint="localhost:0", max_restarts=0,
                              monitor_interval=0.2)
        try:
            for lg in quiet:
                lg.setLevel(logging.CRITICAL)
            elastic_launch(config, sys.executable)("-m", "augmentor.cli", *argv)
        except ChildFailedError as e:
            messages = sorted(Path(errors).glob("rank-*.txt"), key=lambda p: int(p.stem.split("-")[1]))
            if messages:
                raise AugmentorError(messages[0].read_text().strip()) from None
            rank, failure = min(e.failures.items())
            raise AugmentorError(f"distributed training failed: rank {rank} exited with code "
                                 f"{failure.exitcode} (its messages are above)") from None
        finally:
            for lg, level in zip(quiet, levels):
                lg.setLevel(level)
            os.environ.clear()
            os.environ.update(saved)


def die_with_launcher() -> None:
    """In a rank started by `launch`: ask the kernel to SIGKILL this process when its parent
    (the launcher) dies, and exit at once if it already has (Linux; elsewhere a no-op)."""
    pid = os.environ.get(LAUNCHER_PID)
    if not pid:
        return
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    if str(os.getppid()) != pid:
        os._exit(1)


def report_rank_error(message: str) -> bool:
    """In a rank started by `launch`: leave `message` for the launcher to print once.
    True when it was left (the rank then exits quietly)."""
    folder, rank = os.environ.get(ERROR_DIR), os.environ.get("RANK")
    if not folder or rank is None or not os.path.isdir(folder):
        return False
    Path(folder, f"rank-{int(rank)}.txt").write_text(message + "\n")
    return True
