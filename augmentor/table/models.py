"""The table GAN (CTGAN-like): a residual MLP generator on [z, embed(label)] whose output has one
tanh unit per numeric column and a softmax head per categorical column (the layout of
`TableCodec.spans`); an MLP critic with a projection head, trained with a gradient penalty
(`table_step`). The class is an input, so a requested class count is exact.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class Residual(nn.Module):
    def __init__(self, width: int) -> None:
        super().__init__()
        self.fc = nn.Linear(width, width)
        self.norm = nn.LayerNorm(width)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + F.relu(self.norm(self.fc(h)))


class TableGenerator(nn.Module):
    """G(z, label) -> encoded row: tanh per numeric column, softmax per categorical column."""

    modality = "table"
    foldable = False

    def __init__(self, n_classes: int, spans: list[tuple[str, int]], z_dim: int = 64,
                 width: int = 256, depth: int = 2) -> None:
        super().__init__()
        self.n_classes, self.z_dim, self.spans = n_classes, z_dim, [tuple(s) for s in spans]
        self.shape = (sum(w for _, w in self.spans),)
        self.embed = nn.Embedding(n_classes, z_dim)
        self.inp = nn.Sequential(nn.Linear(2 * z_dim, width), nn.LayerNorm(width), nn.ReLU())
        self.body = nn.Sequential(*[Residual(width) for _ in range(depth)])
        self.head = nn.Linear(width, self.shape[0])

    def logits(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.head(self.body(self.inp(torch.cat([z, self.embed(label)], dim=1))))

    def activate(self, raw: torch.Tensor, gumbel: torch.Tensor | None = None,
                 tau: float = 0.2) -> torch.Tensor:
        """tanh for numeric units; softmax per categorical block. With `gumbel` noise
        (training), a Gumbel-softmax at temperature `tau` so fake one-hots look like real ones."""
        parts, pos = [], 0
        for kind, w in self.spans:
            block = raw[:, pos:pos + w]
            if kind == "numeric":
                parts.append(torch.tanh(block))
            elif gumbel is None:
                parts.append(torch.softmax(block, dim=1))
            else:
                parts.append(torch.softmax((block + gumbel[:, pos:pos + w]) / tau, dim=1))
            pos += w
        return torch.cat(parts, dim=1)

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.activate(self.logits(z, label))


class TableCritic(nn.Module):
    """D(x, label) -> one unbounded score per row (WGAN-GP), with a projection head."""

    def __init__(self, n_classes: int, n_features: int, width: int = 256) -> None:
        super().__init__()
        self.features = nn.Sequential(nn.Linear(n_features, width), nn.LeakyReLU(0.2),
                                      nn.Linear(width, width), nn.LeakyReLU(0.2))
        self.head = nn.Linear(width, 1)
        self.embed = nn.Embedding(n_classes, width)

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.features(x)
        return self.head(h).squeeze(1) + (self.embed(label) * h).sum(1) / h.shape[1] ** 0.5


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
