"""One training loop for every modality's class-conditional GAN, with EMA of G.

Each modality's loss step comes from the `Modality` its data carries (`data.MODALITY.training`;
the hinge step is in gan/steps.py, each package has its DiffAugment): images and signals a hinge
loss with DiffAugment, optional LeCam and (images) classifier guidance, a frozen class-balanced
classifier's cross-entropy on G's samples; tables a WGAN loss with a gradient penalty,
Gumbel-softmax for categorical columns, fake rows drawn for the same classes as the real batch.

`train(data, run_dir, recipe)` writes into `run_dir`:
  checkpoints/step-NNNNNNN.safetensors   weights, optimizers, RNG (see checkpoint.py)
  log.csv                                losses every `log_every` steps
  samples/step-NNNNNNN.png               EMA generator, one row per class

All randomness of the loop (batches, noise, augmentation) comes from one explicit
torch.Generator whose state is checkpointed, so on CPU a resumed run reproduces the
uninterrupted run's weights exactly.
"""

from __future__ import annotations

import copy
import csv
import io
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config.recipe import DIFFAUGMENT, Recipe, TrainConfig, recipe_to_dict
from ..core.atomic import write_bytes
from ..core.data import fingerprint
from ..core.devices import torch_device
from ..core.errors import OutputExistsError, RecipeError, UnsafeArtifactError
from ..core.modality import Modality
from ..core.outputs import MARKER, check_outputs, is_augmentor_output, output_lock, write_marker
from .checkpoint import (
    latest_checkpoint,
    list_checkpoints,
    load_checkpoint,
    optimizer_tensors,
    prefixed,
    restore_optimizer,
    save_checkpoint,
    unprefixed,
)
from .distributed import barrier, gather, init_from_env, world

LOG_FIELDS = ["step", "epoch", "loss_d", "loss_g", "d_real", "d_fake", "seconds"]


def resolve_device(device: str) -> torch.device:
    """'auto' -> cuda when present, else cpu. Asking for cuda without one is an error."""
    return torch.device(torch_device(device))


# --- the loop --------------------------------------------------------------------------------

@dataclass(frozen=True)
class TrainResult:
    """What training made: the last checkpoint written (None without a run folder), the EMA
    generator (eval mode) that export and sampling use, and the checkpoint's JSON state."""

    checkpoint: Path | None
    generator: nn.Module
    state: dict


GUIDED_ONLY = ("condition_ramp", "uncond_low", "gsr", "class_guidance")  # settings of the image GAN alone


def train(data, run_dir: str | Path | None, recipe: Recipe, *, device: str = "cpu",
          resume: bool = False, overwrite: bool = False, progress: bool = True,
          deterministic: bool = False, unlabelled=None) -> TrainResult:
    """Train (or resume) the class-conditional GAN on `data`; return the models and the last
    checkpoint. With `run_dir` None nothing is written (no checkpoints, log or sample grids).
    `unlabelled`: a pool like `data` without labels, for `train.unlabelled_weight` (images, signals)."""
    _check_config(recipe)
    dev = init_from_env(resolve_device(device))  # joins torchrun's process group, if there is one
    rank, world_size = world()
    kind = data.MODALITY
    if world_size > 1 and not kind.distributed:
        raise RecipeError(f"distributed training (--nproc / torchrun) is for images; {data.modality} data trains "
                          "in one process")
    for key in GUIDED_ONLY:
        if getattr(recipe.train, key) > 0 and not kind.guided:
            raise RecipeError(f"train.{key} is for images; set it to 0 for {data.modality} data")
    if recipe.train.unlabelled_weight > 0 and not kind.training.pooled:
        raise RecipeError(f"train.unlabelled_weight is for images and signals; {data.modality} data uses "
                          "data.unlabelled for the self-training arms only: set it to 0")
    if recipe.train.unlabelled_weight > 0 and unlabelled is None:
        raise RecipeError("train.unlabelled_weight needs an unlabelled pool: set data.unlabelled")
    if recipe.train.unlabelled_weight > 0 and world_size > 1:
        raise RecipeError("train.unlabelled_weight trains in one process; drop --nproc, or set it to 0")
    if recipe.train.unlabelled_weight == 0:
        unlabelled = None
    if deterministic:
        torch.use_deterministic_algorithms(True)
    if run_dir is None:
        if resume:
            raise RecipeError("resume needs a run folder")
        return _train(data, None, recipe, dev, resume=False, progress=progress, unlabelled=unlabelled)
    run_dir = Path(run_dir)
    if rank > 0:  # rank 0 checks and prepares the folder (and holds its lock); the others wait for it
        barrier()
        return _train(data, run_dir, recipe, dev, resume=resume, progress=False)
    with output_lock(run_dir):
        prepare_run_dir(run_dir, resume=resume, overwrite=overwrite,
                        inputs=[data.source] if data.source else [])
        barrier()
        return _train(data, run_dir, recipe, dev, resume=resume, progress=progress, unlabelled=unlabelled)


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


def _train(data, run_dir: Path | None, recipe: Recipe, dev: torch.device, *,
           resume: bool, progress: bool, unlabelled=None) -> TrainResult:
    cfg = recipe.train
    rank, world_size = world()
    barrier()

    n_classes = len(data.classes)
    kind = data.MODALITY.training
    codec = kind.fit_codec(data)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(cfg.seed)
        g, d = kind.models(n_classes, data.shape, recipe.model.z_dim, recipe.model.g_channels,
                           recipe.model.d_channels, codec)
    if cfg.uncond_low > 0:
        kind.freeze_base(g)
    ema = copy.deepcopy(g).requires_grad_(False)
    g, d, ema = g.to(dev), d.to(dev), ema.to(dev)
    opt_g = torch.optim.Adam(g.parameters(), cfg.lr_g, betas=(cfg.beta1, cfg.beta2))
    opt_d = torch.optim.Adam(d.parameters(), cfg.lr_d, betas=(cfg.beta1, cfg.beta2))
    # Each rank draws its own batches and noise; rank 0's stream is the single-process one.
    gen = torch.Generator().manual_seed(cfg.seed if rank == 0 else
                                        int(np.random.SeedSequence([cfg.seed, rank]).generate_state(1)[0]))
    g_step, d_step = g, d
    if world_size > 1:  # see distributed.py for what DDP changes in the step
        from torch.nn.parallel import DistributedDataParallel

        ids = [dev.index] if dev.type == "cuda" else None
        g_step, d_step = DistributedDataParallel(g, device_ids=ids), DistributedDataParallel(d, device_ids=ids)
    data_print = fingerprint(data)
    step = 0
    guide, stored = None, {}
    if resume and list_checkpoints(run_dir):
        step, stored = _restore(latest_checkpoint(run_dir), data_print, g, d, ema, opt_g, opt_d, gen)
    if cfg.class_guidance > 0:
        guide = kind.guidance(data, cfg, dev, stored)

    steps_per_epoch = math.ceil(len(data) / (cfg.batch_size * world_size))
    total = cfg.epochs * steps_per_epoch
    x_all = torch.from_numpy(codec.encode(data.x)).to(dev)
    y_all = torch.from_numpy(data.y).to(dev)
    x_pool = torch.from_numpy(codec.encode(unlabelled.x)).to(dev) if unlabelled is not None else None
    weights = _sampling_weights(data.y, n_classes, cfg.balanced_sampling)
    state = {
        "modality": data.modality, "classes": list(data.classes), "shape": list(x_all.shape[1:]),
        "z_dim": recipe.model.z_dim,
        "g_channels": recipe.model.g_channels, "d_channels": recipe.model.d_channels,
        "data_fingerprint": data_print, "data_source": data.source, "n_train": len(data),
        "counts": data.counts(), "codec": codec.to_json(), "recipe": recipe_to_dict(recipe),
        "world_size": world_size, "global_batch": cfg.batch_size * world_size,
        **({"unlabelled": {"source": unlabelled.source, "n": len(unlabelled),
                           "fingerprint": fingerprint(unlabelled)}} if unlabelled is not None else {}),
    }
    log_path = run_dir / "log.csv" if run_dir is not None and rank == 0 else None
    if log_path is not None:
        _truncate_log(log_path, step)
    fixed_z = torch.randn(n_classes * 10, recipe.model.z_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 1)).to(dev)
    fixed_y = torch.arange(n_classes).repeat_interleave(10).to(dev)

    g.train()
    d.train()
    last = None
    bar = tqdm(total=total, initial=step, desc="train", unit="step", disable=not progress,
               dynamic_ncols=True)
    t0 = time.perf_counter()
    while step < total:
        idx = torch.multinomial(weights, cfg.batch_size, replacement=True, generator=gen).to(dev)
        x_real, y_real = x_all[idx], y_all[idx]
        z = torch.randn(cfg.batch_size, recipe.model.z_dim, generator=gen).to(dev)
        if cfg.condition_ramp > 0:
            kind.condition(min(1.0, step / (cfg.condition_ramp * total)), g, ema, d)
        pool = {}
        if x_pool is not None:  # a batch of the unlabelled pool, uniformly
            pool = {"unlabelled": x_pool[torch.randint(len(x_pool), (cfg.batch_size,), generator=gen).to(dev)]}
        loss_d, loss_g, d_real, d_fake = kind.step(g_step, d_step, opt_d, x_real, y_real, z, gen, cfg, n_classes,
                                                   guide, guidance_weight(cfg, step, total), **pool)
        if cfg.gsr > 0:
            loss_g = loss_g + cfg.gsr * kind.penalty(g)
        opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        opt_g.step()
        _update_ema(ema, g, cfg.ema_decay, step)
        step += 1
        bar.update(1)

        if step % cfg.log_every == 0 or step == total:
            row = {"step": step, "epoch": f"{step / steps_per_epoch:.2f}",
                   "loss_d": f"{loss_d.item():.4f}", "loss_g": f"{loss_g.item():.4f}",
                   "d_real": f"{d_real.mean().item():.4f}", "d_fake": f"{d_fake.mean().item():.4f}",
                   "seconds": f"{time.perf_counter() - t0:.1f}"}
            if log_path is not None:
                _append_log(log_path, row)
            bar.set_postfix(loss_d=row["loss_d"], loss_g=row["loss_g"])
        if run_dir is None:
            continue
        if rank == 0 and kind.preview and (step % cfg.sample_every == 0 or step == total):
            _save_grid(ema, fixed_z, fixed_y, run_dir / "samples" / f"step-{step:07d}.png")
        if step % cfg.checkpoint_every == 0 or step == total:
            rngs = gather(gen.get_state())  # collective: every rank, same steps
            if rank == 0:
                last = _save(run_dir, step, g, d, ema, opt_g, opt_d, rngs, state, guide)
    bar.close()
    barrier()  # the last checkpoint is on disk before any rank returns
    if run_dir is not None and last is None:
        last = latest_checkpoint(run_dir)
    return TrainResult(last, ema.eval(), {**state, "step": step})




def guidance_weight(cfg: TrainConfig, step: int, total: int) -> float:
    """`train.class_guidance` at `step` of `total`: 0 before `guidance_start` x total, then a linear
    ramp to full weight over a quarter of the steps."""
    if cfg.class_guidance <= 0:
        return 0.0
    ramp = max(1.0, 0.25 * total)
    return cfg.class_guidance * min(1.0, max(0.0, (step - cfg.guidance_start * total) / ramp))


def _check_config(recipe: Recipe) -> None:
    cfg = recipe.train
    for key in ("epochs", "batch_size", "checkpoint_every", "sample_every", "log_every"):
        if getattr(cfg, key) < 1:
            raise RecipeError(f"train.{key} must be >= 1, got {getattr(cfg, key)}")
    unknown = [a for a in cfg.diffaugment if a not in DIFFAUGMENT]
    if unknown:
        raise RecipeError(f"train.diffaugment: unknown {unknown}; choose from {list(DIFFAUGMENT)}")
    if not 0 <= cfg.ema_decay < 1:
        raise RecipeError(f"train.ema_decay must be in [0, 1), got {cfg.ema_decay}")


def _sampling_weights(y: np.ndarray, n_classes: int, balanced: bool) -> torch.Tensor:
    if not balanced:
        return torch.ones(len(y), dtype=torch.float64)
    per_class = np.bincount(y, minlength=n_classes).astype(np.float64)
    return torch.from_numpy(1.0 / per_class[y])


@torch.no_grad()
def _update_ema(ema: nn.Module, g: nn.Module, decay: float, step: int) -> None:
    # Warm-up: early weights move fast, so a fixed 0.999 would average in the random init.
    decay = min(decay, (1 + step) / (10 + step))
    for p_ema, p in zip(ema.parameters(), g.parameters()):
        p_ema.lerp_(p, 1 - decay)
    for b_ema, b in zip(ema.buffers(), g.buffers()):
        b_ema.copy_(b)


def _save(run_dir: Path, step: int, g: nn.Module, d: nn.Module, ema: nn.Module,
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


def _restore(path: Path, data_print: str, g: nn.Module, d: nn.Module,
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


def _truncate_log(path: Path, step: int) -> None:
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


def _append_log(path: Path, row: dict) -> None:
    new = not path.exists()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", newline="") as f:
        w = csv.DictWriter(f, LOG_FIELDS)
        if new:
            w.writeheader()
        w.writerow(row)


@torch.no_grad()
def _save_grid(g: nn.Module, z: torch.Tensor, y: torch.Tensor, path: Path) -> None:
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
