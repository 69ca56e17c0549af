"""Checkpoints: one safetensors file per checkpoint, with the JSON state in its header.

A checkpoint holds the generator, discriminator, EMA generator, both optimizers and
the training RNG, so a resumed run continues exactly where the saved one stopped.
Files are written to a temporary name and renamed; nothing is ever unpickled.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import save_file
from torch import nn

from ..core.atomic import atomic_path
from ..core.errors import RecipeError, UnsafeArtifactError
from ..core.modality import Modality
from .distributed import world

FORMAT = "augmentor-checkpoint"
VERSION = "1"
NAME = re.compile(r"^step-(\d{7,})\.safetensors$")


def checkpoint_dir(run_dir: str | Path) -> Path:
    return Path(run_dir) / "checkpoints"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Checkpoint files of a run, oldest first (by step)."""
    d = checkpoint_dir(run_dir)
    if not d.is_dir():
        return []
    found = [(int(m.group(1)), p) for p in d.iterdir() if (m := NAME.match(p.name))]
    return [p for _, p in sorted(found)]


def save_checkpoint(run_dir: str | Path, step: int, tensors: dict[str, torch.Tensor],
                    state: dict[str, Any], keep: int = 3) -> Path:
    """Write `step-NNNNNNN.safetensors` atomically; keep the newest `keep` checkpoints."""
    path = checkpoint_dir(run_dir) / f"step-{step:07d}.safetensors"
    meta = {"format": FORMAT, "version": VERSION, "state": json.dumps(state)}
    with atomic_path(path) as tmp:
        save_file({k: v.detach().cpu().contiguous() for k, v in tensors.items()}, str(tmp), meta)
    for old in list_checkpoints(run_dir)[:-keep]:
        old.unlink(missing_ok=True)
    return path


def load_checkpoint(path: str | Path, tensors: bool = True) -> tuple[dict[str, torch.Tensor], dict[str, Any]]:
    """Read a checkpoint written by `save_checkpoint`; anything else is refused. `tensors=False`
    reads the JSON state alone (the tensors dict is then empty)."""
    path = Path(path)
    try:
        with safe_open(str(path), framework="pt") as f:
            meta = f.metadata() or {}
            if meta.get("format") != FORMAT:
                raise UnsafeArtifactError(
                    f"{path}: not an augmentor checkpoint (format {meta.get('format')!r})"
                )
            if meta.get("version") != VERSION:
                raise UnsafeArtifactError(f"{path}: checkpoint version {meta.get('version')!r} "
                                          f"is not supported (expected {VERSION})")
            loaded = {k: f.get_tensor(k) for k in f.keys()} if tensors else {}
        state = json.loads(meta["state"])
    except (SafetensorError, OSError, ValueError, KeyError) as e:
        raise UnsafeArtifactError(
            f"{path}: not a readable augmentor checkpoint ({e}). Checkpoints are safetensors "
            "files written by `augmentor train`; pickled files are never loaded"
        ) from None
    return loaded, state


def latest_checkpoint(run_dir: str | Path) -> Path:
    found = list_checkpoints(run_dir)
    if not found:
        raise UnsafeArtifactError(
            f"{run_dir}: no checkpoint found in {checkpoint_dir(run_dir)}; run `augmentor train` first"
        )
    return found[-1]


def prefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {f"{prefix}.{k}": v for k, v in tensors.items()}


def unprefixed(prefix: str, tensors: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    start = prefix + "."
    return {k[len(start):]: v for k, v in tensors.items() if k.startswith(start)}


def optimizer_tensors(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    """Split an optimizer's state into flat tensors and JSON-able param groups."""
    sd = opt.state_dict()
    flat = {f"{i}.{name}": t for i, st in sd["state"].items() for name, t in st.items()}
    return flat, sd["param_groups"]


def restore_optimizer(opt: torch.optim.Optimizer, flat: dict[str, torch.Tensor],
                      groups: list) -> None:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for key, t in flat.items():
        i, name = key.split(".", 1)
        state.setdefault(int(i), {})[name] = t
    opt.load_state_dict({"state": state, "param_groups": groups})


# --- a training run's checkpoint: models, optimisers and every rank's RNG ------------------------

def save_training(run_dir: Path, step: int, g: nn.Module, d: nn.Module, ema: nn.Module,
          opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer, rngs: list[torch.Tensor],
          state: dict, guide: nn.Module | None = None) -> Path:
    """`rngs`: every rank's generator state (rank 0's is "rng", as in a single-process run);
    `guide`: the guidance classifier, stored so that resume continues with it."""
    og, og_groups = optimizer_tensors(opt_g)
    od, od_groups = optimizer_tensors(opt_d)
    tensors = {**prefixed("g", g.state_dict()), **prefixed("d", d.state_dict()),
               **prefixed("ema", ema.state_dict()), **prefixed("opt_g", og),
               **prefixed("opt_d", od), "rng": rngs[0], **{f"rng.{r}": t for r, t in enumerate(rngs) if r},
               **(prefixed("cls", guide.state_dict()) if guide is not None else {})}
    return save_checkpoint(run_dir, step, tensors,
                           {**state, "step": step, "opt_g_groups": og_groups,
                            "opt_d_groups": od_groups})


def restore_training(path: Path, data_print: str, g: nn.Module, d: nn.Module,
             ema: nn.Module, opt_g: torch.optim.Optimizer, opt_d: torch.optim.Optimizer,
             gen: torch.Generator) -> tuple[int, dict]:
    """Load a checkpoint into the models, optimizers and RNG; return its step and its tensors."""
    tensors, state = load_checkpoint(path)
    if state.get("data_fingerprint") != data_print:
        raise UnsafeArtifactError(
            f"{path}: this checkpoint was trained on different data; resume with the same "
            "dataset, or start a new run with --overwrite"
        )
    rank, world_size = world()
    check_world_size(path, state, world_size)
    try:
        g.load_state_dict(unprefixed("g", tensors))
        d.load_state_dict(unprefixed("d", tensors))
        ema.load_state_dict(unprefixed("ema", tensors))
        restore_optimizer(opt_g, unprefixed("opt_g", tensors), state["opt_g_groups"])
        restore_optimizer(opt_d, unprefixed("opt_d", tensors), state["opt_d_groups"])
        gen.set_state(tensors["rng" if rank == 0 else f"rng.{rank}"])
    except (RuntimeError, KeyError, ValueError) as e:
        raise UnsafeArtifactError(
            f"{path}: checkpoint does not match this model configuration ({e})"
        ) from None
    return int(state["step"]), tensors


def check_world_size(path: Path, state: dict, world_size: int) -> None:
    """A run resumes with the number of processes it was trained with, or not at all."""
    trained = int(state.get("world_size", 1))
    if trained != world_size:
        raise RecipeError(f"{path}: this run was trained with {trained} process(es) and is resumed with "
                          f"{world_size}; resume with --nproc {trained} (the batches each rank draws depend on "
                          "the world size)")


def generator_from_checkpoint(path: str | Path, registry: Callable[[str], Modality]) -> tuple[nn.Module, dict]:
    """The EMA generator (eval mode) and the JSON state of a checkpoint; `registry` gives the
    Modality its state names (runs written before modalities were recorded are image runs)."""
    tensors, state = load_checkpoint(path)
    try:
        g = registry(state.get("modality", "image")).training.generator(state)
        g.load_state_dict(unprefixed("ema", tensors))
    except (RuntimeError, KeyError, TypeError, AttributeError) as e:
        raise UnsafeArtifactError(f"{path}: checkpoint is inconsistent ({e})") from None
    return g.eval(), state
