"""The signal GAN: a class-conditional 1-D generator and projection discriminator, and 1-D DiffAugment."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

# --- the 1-D GAN ------------------------------------------------------------------------------

def upsampling_plan(length: int) -> tuple[int, int]:
    """(n_up, start length): halve while even and the half stays >= 8 (up to 5 times)."""
    n_up, n = 0, length
    while n_up < 5 and n % 2 == 0 and n // 2 >= 8:
        n, n_up = n // 2, n_up + 1
    return n_up, n


class ConditionalBatchNorm1d(nn.Module):
    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.bn = nn.BatchNorm1d(channels, affine=False)
        self.gain = nn.Embedding(n_classes, channels)
        self.bias = nn.Embedding(n_classes, channels)
        nn.init.ones_(self.gain.weight)
        nn.init.zeros_(self.bias.weight)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.bn(x) * self.gain(label)[:, :, None] + self.bias(label)[:, :, None]


class _GBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, n_classes: int) -> None:
        super().__init__()
        self.norm1, self.conv1 = ConditionalBatchNorm1d(c_in, n_classes), nn.Conv1d(c_in, c_out, 5, padding=2)
        self.norm2, self.conv2 = ConditionalBatchNorm1d(c_out, n_classes), nn.Conv1d(c_out, c_out, 5, padding=2)

    def forward(self, h: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.conv1(F.interpolate(F.relu(self.norm1(h, label)), scale_factor=2.0, mode="nearest"))
        return self.conv2(F.relu(self.norm2(h, label)))


class SignalGenerator(nn.Module):
    """G(z, label) -> series in [-1, 1], shape (B, C, L)."""

    modality = "signal"
    foldable = False  # batch norm runs in inference mode in the exported graph

    def __init__(self, n_classes: int, shape: tuple[int, int], z_dim: int = 64, width: int = 64) -> None:
        super().__init__()
        self.n_classes, self.shape, self.z_dim = n_classes, tuple(shape), z_dim
        n_up, self.l0 = upsampling_plan(shape[1])
        self.c0 = width * 2
        self.fc = nn.Linear(z_dim, self.c0 * self.l0)
        blocks, c = [], self.c0
        for _ in range(n_up):
            blocks.append(_GBlock(c, max(c // 2, 16), n_classes))
            c = max(c // 2, 16)
        self.blocks = nn.ModuleList(blocks)
        self.norm_out = ConditionalBatchNorm1d(c, n_classes)
        self.conv_out = nn.Conv1d(c, shape[0], 5, padding=2)

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.fc(z).view(z.shape[0], self.c0, self.l0)
        for block in self.blocks:
            h = block(h, label)
        return torch.tanh(self.conv_out(F.relu(self.norm_out(h, label))))


class SignalDiscriminator(nn.Module):
    """D(x, label) -> one score per series: spectral-norm conv blocks (one kernel-5 conv, average
    pooling; channels double up to 4 x width), sum pooling, projection head."""

    def __init__(self, n_classes: int, shape: tuple[int, int], width: int = 32) -> None:
        super().__init__()
        n_down, _ = upsampling_plan(shape[1])
        layers: list[nn.Module] = []
        c_in, c = shape[0], width
        for _ in range(n_down):
            layers += [spectral_norm(nn.Conv1d(c_in, c, 5, padding=2)), nn.LeakyReLU(0.2), nn.AvgPool1d(2)]
            c_in, c = c, min(c * 2, 4 * width)
        layers += [spectral_norm(nn.Conv1d(c_in, c_in, 3, padding=1)), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.head = spectral_norm(nn.Linear(c_in, 1))
        self.embed = spectral_norm(nn.Embedding(n_classes, c_in))
        self.register_buffer("ema_real", torch.zeros(()))  # LeCam anchors, as in the image discriminator
        self.register_buffer("ema_fake", torch.zeros(()))

    def forward(self, x: torch.Tensor, label: torch.Tensor, conditional: torch.Tensor | None = None) -> torch.Tensor:
        """`conditional` (one value per series, 1 or 0): 0 drops the class projection, the score of an
        unlabelled series (`train.unlabelled_weight`)."""
        h = self.features(x).sum(dim=2)
        proj = (self.embed(label) * h).sum(1)
        return self.head(h).squeeze(1) + (proj if conditional is None else conditional * proj)


# 1-D DiffAugment: the recipe's names keep their image meaning along time (translation: a shift of up
# to 1/8 of the length, zero-filled; cutout: a zeroed window of 1/4 of it; color: amplitude scale 0.75-1.25).
def _shift(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b, _, n = x.shape
    s = max(1, n // 8)
    t = torch.randint(-s, s + 1, (b, 1, 1), generator=gen).to(x.device)
    idx = torch.arange(n, device=x.device).view(1, 1, n) - t
    valid = (idx >= 0) & (idx < n)
    return torch.gather(x, 2, idx.clamp(0, n - 1).expand_as(x)) * valid


def _cutout(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    b, _, n = x.shape
    w = max(1, n // 4)
    start = torch.randint(0, n - w + 1, (b, 1, 1), generator=gen).to(x.device)
    pos = torch.arange(n, device=x.device).view(1, 1, n)
    return x * ~((pos >= start) & (pos < start + w))


def _amplitude(x: torch.Tensor, gen: torch.Generator) -> torch.Tensor:
    return x * (0.75 + 0.5 * torch.rand(len(x), 1, 1, generator=gen)).to(x.device)


SIGNAL_AUGMENTS = {"translation": _shift, "cutout": _cutout, "color": _amplitude}


def diff_augment_1d(x: torch.Tensor, policy: tuple[str, ...], gen: torch.Generator) -> torch.Tensor:
    for name in policy:
        x = SIGNAL_AUGMENTS[name](x, gen)
    return x
