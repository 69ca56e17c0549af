"""The image GAN: class-conditional images of 8-64 px with 1 or 3 channels.

Generator: z -> linear -> [CBN, ReLU, upsample x2, conv, CBN, ReLU, conv] x n -> CBN, ReLU,
conv, tanh. Class-conditional batch norm (CBN) gives every class its own gain and bias.
Each CBN directly follows a linear map (a conv, or a conv then nearest upsampling),
so its normalisation can be folded into that map for inference.

Discriminator: spectral-normalised conv blocks with average pooling, global sum
pooling, and a projection head (Miyato & Koyama, 2018): D(x, y) = w.h + embed(y).h.

Only standard ops (Gemm, Conv, Gather, Resize, Tanh, Softmax), so all export to ONNX.
"""

from __future__ import annotations

import copy

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from ..core.errors import InvalidDataError


def upsampling_plan(height: int, width: int) -> tuple[int, int, int]:
    """(n_up, start_h, start_w): halve the side while it stays even and >= 4 (up to 4 times)."""
    n_up, h, w = 0, height, width
    while n_up < 4 and h % 2 == 0 and w % 2 == 0 and min(h, w) // 2 >= 4:
        h, w, n_up = h // 2, w // 2, n_up + 1
    if n_up == 0:
        raise InvalidDataError(
            f"images of {height}x{width} px cannot be built by upsampling; "
            "use an even size such as 8, 16, 28, 32 or 64 ([data].image_size)"
        )
    return n_up, h, w


class ConditionalBatchNorm2d(nn.Module):
    """Batch norm without its own affine; per-class gain and bias instead."""

    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm2d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)
        self.cond = 1.0  # conditioning strength (train.condition_ramp); 1 outside training

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        gain, bias = self.gain(label), self.bias(label)
        if self.cond != 1.0:  # a class's gain and bias blend in from the unconditional (1, 0)
            gain, bias = 1 + self.cond * (gain - 1), self.cond * bias
        return self.bn(x) * gain[:, :, None, None] + bias[:, :, None, None]


def group_top_singular_values(w: torch.Tensor, groups: int = 4) -> torch.Tensor:
    """Per row of `w` (classes x channels), the top singular value of the row reshaped into a
    `groups` x (channels / groups) matrix (one group when the channels do not divide)."""
    k, c = w.shape
    n = groups if c % groups == 0 else 1
    return torch.linalg.matrix_norm(w.reshape(k, n, c // n), ord=2)


def group_spectral_penalty(g: nn.Module, groups: int = 4) -> torch.Tensor:
    """gSR (Rangwani et al., ECCV 2022): for every class-conditional batch norm and every class,
    its gain deviation (gain - 1) and its bias as grouped matrices (`group_top_singular_values`);
    the squared top singular value of each, averaged over classes and summed over layers.
    Penalising it counters the spectral collapse of thin classes' conditional parameters that goes
    with their mode collapse. 0 for a generator without conditional norms."""
    terms = [group_top_singular_values(w, groups).pow(2).mean() for m in g.modules()
             if isinstance(m, ConditionalBatchNorm2d) for w in (m.gain.weight - 1, m.bias.weight)]
    return torch.stack(terms).sum() if terms else torch.zeros(())


class GeneratorBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, n_classes: int) -> None:
        super().__init__()
        self.norm1 = ConditionalBatchNorm2d(c_in, n_classes)
        self.conv1 = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.norm2 = ConditionalBatchNorm2d(c_out, n_classes)
        self.conv2 = nn.Conv2d(c_out, c_out, 3, padding=1)

    def forward(self, h: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = F.relu(self.norm1(h, label))
        h = self.conv1(F.interpolate(h, scale_factor=2.0, mode="nearest"))
        return self.conv2(F.relu(self.norm2(h, label)))


class ImageGenerator(nn.Module):
    """G(z, label) -> image in [-1, 1], shape (B, C, H, W)."""

    modality = "image"
    foldable = True  # conditional batch norm whose statistics export folds into the convolutions

    def __init__(self, n_classes: int, shape: tuple[int, int, int], z_dim: int = 64,
                 width: int = 128) -> None:
        super().__init__()
        self.n_classes, self.shape, self.z_dim = n_classes, tuple(shape), z_dim
        channels, height, width_px = shape
        n_up, self.h0, self.w0 = upsampling_plan(height, width_px)
        self.c0 = width
        self.fc = nn.Linear(z_dim, width * self.h0 * self.w0)
        blocks, c = [], width
        for _ in range(n_up):
            blocks.append(GeneratorBlock(c, max(c // 2, 32), n_classes))
            c = max(c // 2, 32)
        self.blocks = nn.ModuleList(blocks)
        self.norm_out = ConditionalBatchNorm2d(c, n_classes)
        self.conv_out = nn.Conv2d(c, channels, 3, padding=1)

    def folded(self) -> ImageGenerator:
        """A copy for inference with every batch norm's statistics folded in (`fold_batchnorm`)."""
        return fold_batchnorm(self)

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.c0, self.h0, self.w0)
        for block in self.blocks:
            h = block(h, label)
        return torch.tanh(self.conv_out(F.relu(self.norm_out(h, label))))


class ImageDiscriminator(nn.Module):
    """D(x, label) -> one unbounded score per image (hinge loss)."""

    def __init__(self, n_classes: int, shape: tuple[int, int, int], width: int = 64) -> None:
        super().__init__()
        channels, height, width_px = shape
        n_down, _, _ = upsampling_plan(height, width_px)
        layers: list[nn.Module] = []
        c_in, c = channels, width
        for _ in range(n_down):
            layers += [spectral_norm(nn.Conv2d(c_in, c, 3, padding=1)), nn.LeakyReLU(0.2),
                       spectral_norm(nn.Conv2d(c, c, 3, padding=1)), nn.LeakyReLU(0.2),
                       nn.AvgPool2d(2)]
            c_in, c = c, min(c * 2, 512)
        layers += [spectral_norm(nn.Conv2d(c_in, c_in, 3, padding=1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(c_in, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, c_in))
        # LeCam anchors: moving averages of D's mean output on real and on fake images
        # (buffers, so they are checkpointed and a resumed run continues exactly).
        self.register_buffer("ema_real", torch.zeros(()))
        self.register_buffer("ema_fake", torch.zeros(()))
        self.cond = 1.0  # weight of the class projection (train.condition_ramp)

    def forward(self, x: torch.Tensor, label: torch.Tensor, conditional: torch.Tensor | None = None) -> torch.Tensor:
        """`conditional` (one 0/1 per image, optional) switches the class projection off per image:
        at 0 the score is the unconditional head alone (`train.uncond_low`)."""
        h = self.features(x).sum(dim=(2, 3))
        projection = (self.embed(label) * h).sum(1)
        if conditional is not None:
            projection = projection * conditional
        return self.head(h).squeeze(1) + self.cond * projection


def set_conditioning(strength: float, *modules: nn.Module) -> None:
    """Transitional conditioning (Shahbazi et al., ICLR 2022): at strength 0 the image GAN is
    unconditional (G's class gains and biases are (1, 0), D's projection term is off), at 1
    fully conditional; thin classes start from structure learnt on every class."""
    for m in modules:
        for sub in m.modules():
            if isinstance(sub, (ConditionalBatchNorm2d, ImageDiscriminator)):
                sub.cond = float(strength)


def base_factor(height: int, width: int) -> int:
    """How many times the generator's base resolution fits into the image side (2 ** upsamplings)."""
    return 2 ** upsampling_plan(height, width)[0]


def coarse(x: torch.Tensor, factor: int) -> torch.Tensor:
    """`x` averaged over `factor` x `factor` cells and blown back up (nearest): the low-resolution
    version of an image at the original size, so one discriminator scores both."""
    return F.interpolate(F.avg_pool2d(x, factor), scale_factor=float(factor), mode="nearest")


def unconditional_base(g: nn.Module) -> None:
    """UTLO (Khorram et al., CVPR 2024), on G's side: the class norm at the base resolution is fixed to
    the unconditional (gain 1, bias 0) and frozen, so classes first differ one upsampling later and the
    coarse layout every class draws from is learnt on all of them."""
    if isinstance(g, ImageGenerator):
        norm = g.blocks[0].norm1
        with torch.no_grad():
            norm.gain.weight.fill_(1.0)
            norm.bias.weight.zero_()
        norm.gain.weight.requires_grad_(False)
        norm.bias.weight.requires_grad_(False)


def build_models(n_classes: int, shape: tuple[int, ...], z_dim: int, g_width: int,
                 d_width: int) -> tuple[nn.Module, nn.Module]:
    """Image generator and discriminator (channels-last from 16 px)."""
    g, d = ImageGenerator(n_classes, shape, z_dim, g_width), ImageDiscriminator(n_classes, shape, d_width)
    if min(shape[1:]) >= 16:  # channels-last convolutions: a 28x28 step 0.52 s instead of 0.59 s on 2 CPU cores
        g, d = g.to(memory_format=torch.channels_last), d.to(memory_format=torch.channels_last)
    return g, d


# --- export: batch-norm statistics folded in ---------------------------------------------------
# At inference a class-conditional batch norm is `(h - mean) / sqrt(var + eps) * gain[y] + bias[y]`.
# The first part is a per-channel affine map, and every CBN in `ImageGenerator` directly follows a
# linear map (the first linear layer, or a conv possibly followed by nearest upsampling, which
# commutes with per-channel affine maps), so the normalisation folds into that map's weight and
# bias, leaving only the per-class gain and bias.

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
