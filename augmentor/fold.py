"""Fold the generator's batch-norm statistics into the linear map before each norm.

At inference a class-conditional batch norm is `(h - mean) / sqrt(var + eps) * gain[y] +
bias[y]`. The first part is a per-channel affine map, and every CBN in `ImageGenerator`
directly follows a linear map (the first linear layer, or a conv possibly followed by
nearest upsampling, which commutes with per-channel affine maps). So the normalisation can
be folded into that map's weight and bias, leaving only the per-class gain and bias.
"""

from __future__ import annotations

import copy

import torch
from torch import nn

from .models import ConditionalBatchNorm2d, ImageGenerator


@torch.no_grad()
def _fold_into(layer: nn.Module, norm: ConditionalBatchNorm2d, spatial: int = 1) -> None:
    bn = norm.bn
    scale = torch.rsqrt(bn.running_var + bn.eps)
    shift = -bn.running_mean * scale
    if isinstance(layer, nn.Conv2d):
        layer.weight.mul_(scale[:, None, None, None])
        layer.bias.mul_(scale).add_(shift)
    else:  # nn.Linear whose outputs are reshaped to (channels, h0, w0)
        scale_rows, shift_rows = scale.repeat_interleave(spatial), shift.repeat_interleave(spatial)
        layer.weight.mul_(scale_rows[:, None])
        layer.bias.mul_(scale_rows).add_(shift_rows)
    norm.bn = nn.Identity()


def fold_batchnorm(g: ImageGenerator) -> ImageGenerator:
    """An eval-mode copy of `g` with every CBN's running statistics folded away."""
    g = copy.deepcopy(g).eval()
    previous: nn.Module = g.fc
    spatial = g.h0 * g.w0
    for block in g.blocks:
        _fold_into(previous, block.norm1, spatial)
        _fold_into(block.conv1, block.norm2)
        previous, spatial = block.conv2, 1
    _fold_into(previous, g.norm_out, spatial)
    return g
