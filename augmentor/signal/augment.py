"""Classic augmentation of 1-D signals: the six transformations of Iwana & Uchida (2021)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

CLASSIC = ("jitter", "scaling", "magnitude-warp", "time-warp", "window-slice", "window-warp")


def _smooth_curve(n: int, length: int, sigma: float, knots: int = 4) -> torch.Tensor:
    """n random smooth curves around 1 (cubic-ish interpolation of `knots` + 2 random knots)."""
    k = 1 + sigma * torch.randn(n, 1, knots + 2)
    return F.interpolate(k, size=length, mode="linear", align_corners=True)[:, 0]


def _resample_rows(x: torch.Tensor, positions: torch.Tensor) -> torch.Tensor:
    """Each row of x (B x C x L) read at fractional `positions` (B x L) by linear interpolation."""
    n = x.shape[2]
    p = positions.clamp(0, n - 1)
    lo = p.floor().long()
    hi = (lo + 1).clamp(max=n - 1)
    w = (p - lo).unsqueeze(1)
    lo, hi = lo.unsqueeze(1).expand(-1, x.shape[1], -1), hi.unsqueeze(1).expand(-1, x.shape[1], -1)
    return torch.gather(x, 2, lo) * (1 - w) + torch.gather(x, 2, hi) * w


def classic_signal_augmentation(kind: str):
    """A batch transform (CPU, B x C x L, global torch RNG seeded by the caller): the six
    transformations of Iwana & Uchida (2021), with their usual settings.

    jitter: Gaussian noise, sd 0.03 x the series' sd; scaling: one factor ~ N(1, 0.1) per series;
    magnitude-warp: a smooth random curve (sd 0.2) times the series; time-warp: time runs along a
    smooth random curve (sd 0.2); window-slice: a random 90 % window stretched back to length;
    window-warp: a random 10 % window sped up or slowed down 2x, the series resampled to length.
    """
    if kind not in CLASSIC:
        raise ValueError(f"unknown signal augmentation '{kind}'; use one of {', '.join(CLASSIC)}")

    def apply(x: torch.Tensor) -> torch.Tensor:
        b, _, n = x.shape
        t = torch.arange(n, dtype=torch.float32).expand(b, n)
        if kind == "jitter":
            return x + 0.03 * x.std(dim=2, keepdim=True) * torch.randn_like(x)
        if kind == "scaling":
            return x * (1 + 0.1 * torch.randn(b, 1, 1))
        if kind == "magnitude-warp":
            return x * _smooth_curve(b, n, 0.2).unsqueeze(1)
        if kind == "time-warp":
            speed = _smooth_curve(b, n, 0.2).clamp(min=0.1)
            warped = torch.cumsum(speed, 1)
            warped = (warped - warped[:, :1]) / (warped[:, -1:] - warped[:, :1]) * (n - 1)
            return _resample_rows(x, warped)
        if kind == "window-slice":
            start = torch.rand(b, 1) * 0.1 * (n - 1)
            return _resample_rows(x, start + t * 0.9)
        w = max(2, n // 10)  # window-warp
        start = (torch.rand(b, 1) * (n - w)).floor()
        factor = torch.where(torch.rand(b, 1) < 0.5, 0.5, 2.0)
        # the warped series' own time axis: the window takes factor x w steps, then everything is resampled to n
        total = n - w + factor * w
        u = t / (n - 1) * (total - 1)
        src = torch.where(u < start, u, torch.where(u < start + factor * w, start + (u - start) / factor,
                                                     u - factor * w + w))
        return _resample_rows(x, src)

    return apply
