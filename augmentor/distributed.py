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
import subprocess
import sys

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


def launch(argv: list[str], nproc: int, device: str) -> int:
    """Run `augmentor <argv>` in `nproc` processes under torch.distributed.run (one host);
    on CPU each process gets cores // nproc threads so they do not oversubscribe the machine."""
    env = dict(os.environ)
    if device != "cuda":
        env.setdefault("OMP_NUM_THREADS", str(max(1, (os.cpu_count() or 1) // nproc)))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc-per-node={nproc}",
           "-m", "augmentor.cli", *argv]
    return subprocess.run(cmd, env=env).returncode
