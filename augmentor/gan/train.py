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
import math
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from ..config.recipe import DIFFAUGMENT, Recipe, TrainConfig, recipe_to_dict
from ..core.data import fingerprint
from ..core.devices import torch_device
from ..core.errors import RecipeError
from ..core.outputs import output_lock
from .checkpoint import latest_checkpoint, list_checkpoints, restore_training, save_training
from .distributed import barrier, gather, init_from_env, world
from .run_folder import append_log, prepare_run_dir, save_grid, truncate_log


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


@dataclass
class _Session:
    """Everything the loop works with, made by `_set_up`: the models (and their DDP wrappers), optimisers,
    the one generator every draw comes from, the data on the device, the step reached, and the checkpoint's state."""

    kind: object
    cfg: TrainConfig
    rank: int
    g: nn.Module
    d: nn.Module
    ema: nn.Module
    g_step: nn.Module
    d_step: nn.Module
    opt_g: torch.optim.Optimizer
    opt_d: torch.optim.Optimizer
    gen: torch.Generator
    step: int
    guide: object
    steps_per_epoch: int
    total: int
    x_all: torch.Tensor
    y_all: torch.Tensor
    x_pool: torch.Tensor | None
    weights: torch.Tensor
    state: dict
    log_path: Path | None
    fixed_z: torch.Tensor
    fixed_y: torch.Tensor


def _train(data, run_dir: Path | None, recipe: Recipe, dev: torch.device, *,
           resume: bool, progress: bool, unlabelled=None) -> TrainResult:
    """Set up (or restore), then the loop: one discriminator and generator step per batch, the EMA, and the
    step's log row and checkpoint (`_record`)."""
    s = _set_up(data, run_dir, recipe, dev, resume=resume, unlabelled=unlabelled)
    cfg, kind, z_dim, n_classes = s.cfg, s.kind, recipe.model.z_dim, len(data.classes)
    s.g.train()
    s.d.train()
    last = None
    bar = tqdm(total=s.total, initial=s.step, desc="train", unit="step", disable=not progress, dynamic_ncols=True)
    t0 = time.perf_counter()
    while s.step < s.total:
        idx = torch.multinomial(s.weights, cfg.batch_size, replacement=True, generator=s.gen).to(dev)
        x_real, y_real = s.x_all[idx], s.y_all[idx]
        z = torch.randn(cfg.batch_size, z_dim, generator=s.gen).to(dev)
        if cfg.condition_ramp > 0:
            kind.condition(min(1.0, s.step / (cfg.condition_ramp * s.total)), s.g, s.ema, s.d)
        pool = {}
        if s.x_pool is not None:  # a batch of the unlabelled pool, uniformly
            pool = {"unlabelled": s.x_pool[torch.randint(len(s.x_pool), (cfg.batch_size,), generator=s.gen).to(dev)]}
        loss_d, loss_g, d_real, d_fake = kind.step(s.g_step, s.d_step, s.opt_d, x_real, y_real, z, s.gen, cfg,
                                                   n_classes, s.guide, guidance_weight(cfg, s.step, s.total), **pool)
        if cfg.gsr > 0:
            loss_g = loss_g + cfg.gsr * kind.penalty(s.g)
        s.opt_g.zero_grad(set_to_none=True)
        loss_g.backward()
        s.opt_g.step()
        _update_ema(s.ema, s.g, cfg.ema_decay, s.step)
        s.step += 1
        bar.update(1)
        last = _record(s, run_dir, bar, t0, (loss_d, loss_g, d_real, d_fake)) or last
    bar.close()
    barrier()  # the last checkpoint is on disk before any rank returns
    if run_dir is not None and last is None:
        last = latest_checkpoint(run_dir)
    return TrainResult(last, s.ema.eval(), {**s.state, "step": s.step})


def _set_up(data, run_dir: Path | None, recipe: Recipe, dev: torch.device, *, resume: bool,
            unlabelled) -> _Session:
    """The models from the seed (or the latest checkpoint when resuming), optimisers, the draw generator (each rank
    its own stream; rank 0's is the single-process one), the data encoded on the device and the state every
    checkpoint records."""
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
    gen = torch.Generator().manual_seed(cfg.seed if rank == 0 else
                                        int(np.random.SeedSequence([cfg.seed, rank]).generate_state(1)[0]))
    g_step, d_step = g, d
    if world_size > 1:  # see distributed.py for what DDP changes in the step
        from torch.nn.parallel import DistributedDataParallel

        ids = [dev.index] if dev.type == "cuda" else None
        g_step, d_step = DistributedDataParallel(g, device_ids=ids), DistributedDataParallel(d, device_ids=ids)
    data_print = fingerprint(data)
    step, guide, stored = 0, None, {}
    if resume and list_checkpoints(run_dir):
        step, stored = restore_training(latest_checkpoint(run_dir), data_print, g, d, ema, opt_g, opt_d, gen)
    if cfg.class_guidance > 0:
        guide = kind.guidance(data, cfg, dev, stored)

    steps_per_epoch = math.ceil(len(data) / (cfg.batch_size * world_size))
    x_all = torch.from_numpy(codec.encode(data.x)).to(dev)
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
        truncate_log(log_path, step)
    fixed_z = torch.randn(n_classes * 10, recipe.model.z_dim,
                          generator=torch.Generator().manual_seed(cfg.seed + 1)).to(dev)
    return _Session(
        kind=kind, cfg=cfg, rank=rank, g=g, d=d, ema=ema, g_step=g_step, d_step=d_step, opt_g=opt_g, opt_d=opt_d,
        gen=gen, step=step, guide=guide, steps_per_epoch=steps_per_epoch, total=cfg.epochs * steps_per_epoch,
        x_all=x_all, y_all=torch.from_numpy(data.y).to(dev),
        x_pool=torch.from_numpy(codec.encode(unlabelled.x)).to(dev) if unlabelled is not None else None,
        weights=_sampling_weights(data.y, n_classes, cfg.balanced_sampling), state=state, log_path=log_path,
        fixed_z=fixed_z, fixed_y=torch.arange(n_classes).repeat_interleave(10).to(dev))


def _record(s: _Session, run_dir: Path | None, bar, t0: float, losses: tuple) -> Path | None:
    """After a step: the log row every `log_every` steps, the sample grid every `sample_every`, and a checkpoint
    every `checkpoint_every` (and at the last step); returns the checkpoint written, if one was."""
    cfg, step = s.cfg, s.step
    if step % cfg.log_every == 0 or step == s.total:
        loss_d, loss_g, d_real, d_fake = losses
        row = {"step": step, "epoch": f"{step / s.steps_per_epoch:.2f}",
               "loss_d": f"{loss_d.item():.4f}", "loss_g": f"{loss_g.item():.4f}",
               "d_real": f"{d_real.mean().item():.4f}", "d_fake": f"{d_fake.mean().item():.4f}",
               "seconds": f"{time.perf_counter() - t0:.1f}"}
        if s.log_path is not None:
            append_log(s.log_path, row)
        bar.set_postfix(loss_d=row["loss_d"], loss_g=row["loss_g"])
    if run_dir is None:
        return None
    if s.rank == 0 and s.kind.preview and (step % cfg.sample_every == 0 or step == s.total):
        save_grid(s.ema, s.fixed_z, s.fixed_y, run_dir / "samples" / f"step-{step:07d}.png")
    if step % cfg.checkpoint_every == 0 or step == s.total:
        rngs = gather(s.gen.get_state())  # collective: every rank, same steps
        if s.rank == 0:
            return save_training(run_dir, step, s.g, s.d, s.ema, s.opt_g, s.opt_d, rngs, s.state, s.guide)
    return None


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


