"""The hinge-loss GAN step shared by the array modalities (images, 1-D signals); train.py runs the loop.

hinge_step: hinge loss with the modality's DiffAugment (Zhao et al., 2020: the same random transform
for real and fake), optional LeCam regulariser, classifier guidance and UTLO's unconditional
low-resolution term.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


def hinge_step(g, d, opt_d, x_real, y_real, z, gen, policy, n_classes, lecam: float = 0.0,
               lecam_decay: float = 0.99, guide: nn.Module | None = None, guidance: float = 0.0, *, augment,
               uncond_low: float = 0.0, coarsen=None, unlabelled: torch.Tensor | None = None,
               unlabelled_weight: float = 0.0):
    """Hinge loss with DiffAugment (and LeCam when `lecam` > 0; classifier guidance when `guide`
    is given: `guidance` x the frozen classifier's cross-entropy of G's samples against their
    conditioned class is added to G's loss); returns (loss_d, loss_g, d_real, d_fake), G not
    stepped. D's weights are frozen while G's loss is built, so G's backward pass computes no
    discriminator weight gradients (they were discarded anyway). `augment(x, policy, gen)` is the
    modality's DiffAugment. With `uncond_low` > 0 (UTLO, Khorram et al. 2024) D also scores
    `coarsen(x)`, the base-resolution versions of the same real and fake images, without the class
    projection, and that unconditional hinge loss, times `uncond_low`, joins both losses:
    a thin class's coarse shape is judged against every class's. With `unlabelled` (a batch of the
    unlabelled pool) and `unlabelled_weight` > 0, D also scores those images and the fakes without the
    class projection (S3GAN-style: the pool teaches D what real images look like, the projection term
    stays on labelled ones), and that unconditional hinge loss, times the weight, joins both losses."""
    diff_augment_ = augment
    plain = getattr(d, "module", d)  # under DDP: the wrapped discriminator
    y_fake = torch.randint(n_classes, (len(z),), generator=gen).to(z.device)
    fake = g(z, y_fake)
    x_r, x_f = diff_augment_(x_real, policy, gen), diff_augment_(fake.detach(), policy, gen)
    if uncond_low > 0:  # one pass: conditional full-resolution and unconditional coarse images
        n = len(x_r)
        mask = torch.cat([torch.ones(2 * n), torch.zeros(2 * n)]).to(x_r.device)
        out = d(torch.cat([x_r, x_f, coarsen(x_r), coarsen(x_f)]),
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
    pooled = unlabelled is not None and unlabelled_weight > 0
    if pooled:  # the pool (real) against the same fakes, unconditional
        x_u = diff_augment_(unlabelled, policy, gen)
        nu = len(x_u)
        out_u = d(torch.cat([x_u, x_f]), torch.cat([torch.zeros(nu, dtype=y_fake.dtype, device=y_fake.device),
                                                     y_fake]), torch.zeros(nu + len(x_f), device=x_u.device))
        loss_d = loss_d + unlabelled_weight * (F.relu(1 - out_u[:nu]).mean() + F.relu(1 + out_u[nu:]).mean())
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
            out = plain(torch.cat([x_g, coarsen(x_g)]), torch.cat([y_fake, y_fake]),
                        torch.cat([torch.ones(n), torch.zeros(n)]).to(x_g.device))
            loss_g = -out[:n].mean() - uncond_low * out[n:].mean()
        else:
            loss_g = -plain(x_g, y_fake).mean()
        if pooled:
            loss_g = loss_g - unlabelled_weight * plain(x_g, y_fake, torch.zeros(len(x_g), device=x_g.device)).mean()
    finally:
        plain.requires_grad_(True)
    if guide is not None and guidance > 0:  # the classifier sees pixels in [0, 1]
        loss_g = loss_g + guidance * F.cross_entropy(guide((fake + 1) / 2), y_fake)
    return loss_d, loss_g, d_real, d_fake
