"""Downstream classifiers that judge the synthetic data: a small CNN for images.

Every arm of an evaluation trains the same network for the same number of gradient
steps (its budget), so an arm with more samples sees each one less often rather than
getting more compute.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn


class SmallCNN(nn.Module):
    def __init__(self, channels: int, n_classes: int) -> None:
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(channels, 32, 3, padding=1), nn.BatchNorm2d(32), nn.ReLU(),
            nn.Conv2d(32, 64, 3, padding=1), nn.BatchNorm2d(64), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3, padding=1), nn.BatchNorm2d(128), nn.ReLU(),
            nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features((x - 0.5) / 0.5))


def fit_cnn(x: np.ndarray, y: np.ndarray, n_classes: int, *, steps: int, batch_size: int = 64,
            lr: float = 1e-3, seed: int = 0, device: str = "cpu") -> SmallCNN:
    """Train a SmallCNN on pixels in [0, 1] for exactly `steps` Adam steps (seeded)."""
    gen = torch.Generator().manual_seed(seed)
    with torch.random.fork_rng(devices=[]):  # dropout draws from the global RNG: seed it, restore it
        torch.manual_seed(seed)
        model = SmallCNN(x.shape[1], n_classes).to(device)
        opt = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=1e-4)
        sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr, total_steps=steps)
        xt, yt = torch.from_numpy(x).to(device), torch.from_numpy(y).to(device)
        model.train()
        order, pos = torch.randperm(len(xt), generator=gen), 0
        for _ in range(steps):
            if pos + batch_size > len(order):
                order, pos = torch.randperm(len(xt), generator=gen), 0
            idx = order[pos:pos + batch_size].to(device)
            pos += batch_size
            loss = F.cross_entropy(model(xt[idx]), yt[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
    return model.eval()


@torch.no_grad()
def predict_proba(model: SmallCNN, x: np.ndarray, batch_size: int = 1024) -> np.ndarray:
    device = next(model.parameters()).device
    out = [F.softmax(model(torch.from_numpy(x[i:i + batch_size]).to(device)), dim=1).cpu().numpy()
           for i in range(0, len(x), batch_size)]
    return np.concatenate(out)
