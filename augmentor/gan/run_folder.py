"""A training run's folder, beside its checkpoints: the guard that checks it before any work, the loss log
(log.csv) and the EMA generator's sample grids (samples/step-NNNNNNN.png)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import numpy as np
import torch
from torch import nn

from ..core.atomic import write_bytes
from ..core.errors import OutputExistsError
from ..core.outputs import MARKER, check_outputs, is_augmentor_output, write_marker
from .checkpoint import list_checkpoints

LOG_FIELDS = ["step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "seconds"]



def prepare_run_dir(run_dir: Path, *, resume: bool, overwrite: bool, inputs: list) -> None:
    """Check the run folder before any work: it must not overlap the data, and a folder that
    holds anything must be an augmentor run (marker), continued with --resume or restarted
    with --overwrite (which removes only the checkpoints and log augmentor wrote)."""
    check_outputs({"--out": run_dir}, inputs)
    if run_dir.is_symlink() or (run_dir.exists() and not run_dir.is_dir()):
        raise OutputExistsError(f"--out {run_dir} exists and is not a folder; choose another path")
    is_run = is_augmentor_output(run_dir, "run") or list_checkpoints(run_dir)  # or one from before markers
    if run_dir.exists() and any(run_dir.iterdir()) and not is_run:
        raise OutputExistsError(f"--out {run_dir} is not empty and is not an augmentor run folder "
                                f"(no {MARKER} marker); choose a new or empty folder for the run")
    if list_checkpoints(run_dir) and not (resume or overwrite):
        raise OutputExistsError(
            f"{run_dir} already holds a training run; pass --resume to continue it "
            "or --overwrite to start again"
        )
    if overwrite and not resume:  # start again: only the checkpoints and log augmentor wrote go
        for old in list_checkpoints(run_dir):
            old.unlink()
        (run_dir / "log.csv").unlink(missing_ok=True)
        for kept in (run_dir / "fits").glob("*.npz"):  # the evaluation's kept fits (evaluation/fit_cache.py)
            kept.unlink()
    run_dir.mkdir(parents=True, exist_ok=True)
    write_marker(run_dir, "run")


def truncate_log(path: Path, step: int) -> None:
    """On resume, drop log rows written after the checkpoint we restart from."""
    if not path.exists():
        return
    with path.open(newline="") as f:
        rows = [r for r in csv.DictReader(f) if int(r["step"]) <= step]
    buf = io.StringIO()
    w = csv.DictWriter(buf, LOG_FIELDS)
    w.writeheader()
    w.writerows(rows)
    write_bytes(path, buf.getvalue().encode())


def append_log(path: Path, row: dict) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, LOG_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


@torch.no_grad()
def save_grid(g: nn.Module, z: torch.Tensor, y: torch.Tensor, path: Path) -> None:
    from PIL import Image
    from torchvision.utils import make_grid

    was_training = g.training
    g.eval()
    x = (g(z, y) + 1) / 2
    g.train(was_training)
    grid = make_grid(x.clamp(0, 1).cpu(), nrow=10, padding=1, pad_value=1.0)
    arr = (grid.numpy().transpose(1, 2, 0) * 255).round().astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(arr if arr.shape[2] == 3 else arr[:, :, 0]).save(buf, format="PNG")
    write_bytes(path, buf.getvalue())
