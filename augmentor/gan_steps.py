"""The GAN's loss steps and DiffAugment, shared by every modality's training (train.py runs the loop).

image_step: hinge loss with DiffAugment (Zhao et al., 2020: the same random transform for real and
fake), optional LeCam regulariser and classifier guidance; 1-D signals pass their own augment function.
table_step: WGAN loss with a gradient penalty for tables.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from .models import base_factor, coarse

# --- DiffAugment (Zhao et al., 2020): the same random transform for real and fake ----------

def translate(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.125) -> torch.Tensor:
    b, _, h, w = x.shape
    sh, sw = max(1, int(h * ratio + 0.5)), max(1, int(w * ratio + 0.5))
    tx = torch.randint(-sh, sh + 1, (b, 1, 1), generator=gen).to(x.device)
    ty = torch.randint(-sw, sw + 1, (b, 1, 1), generator=gen).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(h, device=x.device),
                                torch.arange(w, device=x.device), indexing="ij")
    gx = (gx + tx + 1).clamp(0, h + 1)
    gy = (gy + ty + 1).clamp(0, w + 1)
    padded = F.pad(x, [1, 1, 1, 1])
    return padded.permute(0, 2, 3, 1)[gb, gx, gy].permute(0, 3, 1, 2)


def cutout(x: torch.Tensor, gen: torch.Generator, ratio: float = 0.5) -> torch.Tensor:
    b, _, h, w = x.shape
    ch, cw = int(h * ratio + 0.5), int(w * ratio + 0.5)
    ox = torch.randint(0, h + (1 - ch % 2), (b, 1, 1), generator=gen).to(x.device)
    oy = torch.randint(0, w + (1 - cw % 2), (b, 1, 1), generator=gen).to(x.device)
    gb, gx, gy = torch.meshgrid(torch.arange(b, device=x.device), torch.arange(ch, device=x.device),
                                torch.arange(cw, device=x.device), indexing="ij")
    gx = (gx + ox - ch // 2).clamp(0, h - 1)
    gy = (gy + oy - cw // 2).clamp(0, w - 1)
    mask = torch.ones(b, h, w, device=x.device, dtype=x.dtype)
    mask[gb, gx, gy] = 0
    return x * mask.unsqueeze(1)


def color(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b = x.shape[0]
    brightness = (torch.rand(b, 1, 1, 1, generator=gen) - 0.5).to(x.device)
    x = x + brightness
    mean = x.mean(dim=(1, 2, 3), keepdim=True)
    contrast = (torch.rand(b, 1, 1, 1, generator=gen) + 0.5).to(x.device)
    return (x - mean) * contrast + mean


AUGMENTS = {"translation": translate, "cutout": cutout, "color": color}


def diff_augment(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    for name in policy:
        x = AUGMENTS[name](x, gen)
    return x


def image_step(g, d, opt_d, x_real, y_real, z, gen, policy, n_classes, lecam: float = 0.0,
                lecam_decay: float = 0.99, guide: nn.Module | None = None, guidance: float = 0.0, augment=None,
                uncond_low: float = 0.0):
    """Hinge loss with DiffAugment (and LeCam when `lecam` > 0; classifier guidance when `guide`
    is given: `guidance` x the frozen classifier's cross-entropy of G's samples against their
    conditioned class is added to G's loss); returns (loss_d, loss_g, d_real, d_fake), G not
    stepped. D's weights are frozen while G's loss is built, so G's backward pass computes no
    discriminator weight gradients (they were discarded anyway). `augment` replaces DiffAugment's image
    transforms (1-D signals use their own, signals.diff_augment_1d). With `uncond_low` > 0 (UTLO, Khorram et
    al. 2024) D also scores the base-resolution versions of the same real and fake images without
    the class projection, and that unconditional hinge loss, times `uncond_low`, joins both losses:
    a thin class's coarse shape is judged against every class's."""
    diff_augment_ = augment or diff_augment
    plain = getattr(d, "module", d)  # under DDP: the wrapped discriminator
    y_fake = torch.randint(n_classes, (len(z),), generator=gen).to(z.device)
    fake = g(z, y_fake)
    x_r, x_f = diff_augment_(x_real, policy, gen), diff_augment_(fake.detach(), policy, gen)
    if uncond_low > 0:  # one pass: conditional full-resolution and unconditional coarse images
        factor = base_factor(*x_real.shape[-2:])
        n = len(x_r)
        mask = torch.cat([torch.ones(2 * n), torch.zeros(2 * n)]).to(x_r.device)
        out = d(torch.cat([x_r, x_f, coarse(x_r, factor), coarse(x_f, factor)]),
                torch.cat([y_real, y_fake, y_real, y_fake]), mask)
        d_real, d_fake, low_real, low_fake = out[:n], out[n:2 * n], out[2 * n:3 * n], out[3 * n:]
    elif plain is d:
        d_real, d_fake = d(x_r, y_real), d(x_f, y_fake)
    else:  # DDP reduces gradients once per forward: real and fake go through in one pass
        both = d(torch.cat([x_r, x_f]), torch.cat([y_real, y_fake]))
        d_real, d_fake = both[:len(x_r)], both[len(x_r):]
    loss_d = F.relu(1 - d_real).mean() + F.relu(1 + d_fake).mean()
    if uncond_low > 0:
        loss_d = loss_d + uncond_low * (F.relu(1 - low_real).mean() + F.relu(1 + low_fake).mean())
    if lecam > 0:  # Tseng et al. 2021: pull D(real) towards the fake anchor and D(fake) towards the real one
        with torch.no_grad():
            plain.ema_real.lerp_(d_real.mean(), 1 - lecam_decay)
            plain.ema_fake.lerp_(d_fake.mean(), 1 - lecam_decay)
        loss_d = loss_d + lecam * (F.relu(d_real - plain.ema_fake).pow(2).mean()
                                   + F.relu(plain.ema_real - d_fake).pow(2).mean())
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    plain.requires_grad_(False)
    try:
        x_g = diff_augment_(fake, policy, gen)
        if uncond_low > 0:
            n = len(x_g)
            out = plain(torch.cat([x_g, coarse(x_g, factor)]), torch.cat([y_fake, y_fake]),
                        torch.cat([torch.ones(n), torch.zeros(n)]).to(x_g.device))
            loss_g = -out[:n].mean() - uncond_low * out[n:].mean()
        else:
            loss_g = -plain(x_g, y_fake).mean()
    finally:
        plain.requires_grad_(True)
    if guide is not None and guidance > 0:  # the classifier sees pixels in [0, 1]
        loss_g = loss_g + guidance * F.cross_entropy(guide((fake + 1) / 2), y_fake)
    return loss_d, loss_g, d_real, d_fake


def table_step(g, d, opt_d, x_real, y_real, z, gen, gp_weight: float = 10.0):
    """WGAN-GP for tables; fake rows get the real batch's classes so pairs interpolate."""
    u = torch.rand(len(z), g.shape[0], generator=gen).clamp_(1e-10, 1 - 1e-10).to(z.device)
    fake = g.activate(g.logits(z, y_real), gumbel=-torch.log(-torch.log(u)))
    d_real, d_fake = d(x_real, y_real), d(fake.detach(), y_real)
    alpha = torch.rand(len(z), 1, generator=gen).to(z.device)
    mix = (alpha * x_real + (1 - alpha) * fake.detach()).requires_grad_(True)
    grad, = torch.autograd.grad(d(mix, y_real).sum(), mix, create_graph=True)
    penalty = ((grad.norm(2, dim=1) - 1) ** 2).mean()
    loss_d = d_fake.mean() - d_real.mean() + gp_weight * penalty
    opt_d.zero_grad(set_to_none=True)
    loss_d.backward()
    opt_d.step()
    d.requires_grad_(False)
    try:
        loss_g = -d(fake, y_real).mean()
    finally:
        d.requires_grad_(True)
    return loss_d, loss_g, d_real, d_fake


@dataclass(frozen=True)
class Training:
    """What differs between modalities in the loop: the codec, the loss step, sample grids."""

    fit_codec: Callable[[object], object]  # training data -> its codec
    step: Callable[..., tuple]  # (g, d, opt_d, x_real, y_real, z, gen, cfg, n_classes, guide, weight) -> losses
    preview: bool
    generator: Callable[[dict], nn.Module]  # checkpoint state -> an untrained generator
    models: Callable[..., tuple]  # (n_classes, shape, z_dim, g_width, d_width, codec) -> (G, D), untrained
