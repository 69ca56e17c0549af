"""The models of the signal modality (signals.py): the class-conditional 1-D GAN and its
DiffAugment, the six classic transformations of Iwana & Uchida (2021), the small 1-D CNN and the
MiniRocket learner, and the evaluation entry that ties them together."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

from .errors import InvalidDataError

if TYPE_CHECKING:
    from .signals import SignalData

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

    def forward(self, x: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        h = self.features(x).sum(dim=2)
        return self.head(h).squeeze(1) + (self.embed(label) * h).sum(1)


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


# --- classic augmentation (Iwana & Uchida 2021) -------------------------------------------------

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


# --- learners ------------------------------------------------------------------------------------

class SmallCNN1d(nn.Module):
    """Three conv1d layers (32, 64, 128; kernel 7) with batch norm, max pooling, global average
    pooling, dropout, a linear head. Each channel enters twice: z-normalised per series (its shape),
    and as log(1 + its sd / the training split's sd) (its level: PLAID's appliances differ by orders
    of magnitude in current). On PLAID's validation split (280 steps) this read 0.74 balanced
    accuracy, against 0.64 with the shape alone and 0.34 with the series divided by the training sd."""

    def __init__(self, channels: int, n_classes: int, scale: np.ndarray) -> None:
        super().__init__()
        self.register_buffer("scale", torch.as_tensor(np.asarray(scale, np.float32)).view(1, -1, 1))
        self.features = nn.Sequential(
            nn.Conv1d(2 * channels, 32, 7, padding=3), nn.BatchNorm1d(32), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(32, 64, 7, padding=3), nn.BatchNorm1d(64), nn.ReLU(), nn.MaxPool1d(2),
            nn.Conv1d(64, 128, 7, padding=3), nn.BatchNorm1d(128), nn.ReLU(),
            nn.AdaptiveAvgPool1d(1), nn.Flatten())
        self.head = nn.Sequential(nn.Dropout(0.3), nn.Linear(128, n_classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.embed(x))

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        sd = x.std(2, keepdim=True)
        shape = (x - x.mean(2, keepdim=True)) / (sd + 1e-6)
        return self.features(torch.cat([shape, torch.log1p(sd / self.scale).expand_as(x)], 1))


def channel_scale(x: np.ndarray) -> np.ndarray:
    sd = x.std(axis=(0, 2)).astype(np.float32)
    return np.where(sd > 0, sd, 1.0)


class Cnn1dLearner:
    """Signals: the small 1-D CNN, the same step budget for every arm (as the image CNN)."""

    def __init__(self, n_classes: int, steps: int, batch_size: int, lr: float, device: str, scale: np.ndarray) -> None:
        self.name, self.n_classes, self.steps = "SmallCNN1d", n_classes, steps
        self.batch_size, self.lr, self.device, self.scale = batch_size, lr, device, scale
        self.models: dict = {}

    def network(self, shape: tuple[int, ...], n_classes: int) -> nn.Module:
        return SmallCNN1d(shape[0], n_classes, self.scale)

    def fit_predict(self, arm, x, y, seed: int, evals) -> list[np.ndarray]:
        from .classifiers import fit_cnn, predict_proba

        model = fit_cnn(x, y, self.n_classes, steps=self.steps, batch_size=self.batch_size, lr=self.lr, seed=seed,
                        device=self.device, augment=classic_signal_augmentation(arm.classic) if arm.classic else None,
                        loss=arm.loss, mixup=arm.mixup, network=self.network)
        return [predict_proba(model, e).argmax(1) for e in evals]


class MiniRocketLearner:
    """MiniRocket features (Dempster et al. 2021, sktime) and a ridge classifier with its usual
    alpha search. The one loss-side fix a ridge takes is class weights (every loss arm uses
    'balanced'); classic augmentation adds one transformed copy of every training series; mixup
    adds one mixed copy of every series whose label is the larger share's (lambda ~ Beta(a, a))."""

    name = "MiniRocket"

    def __init__(self, n_classes: int) -> None:
        self.n_classes = n_classes

    def fit_predict(self, arm, x, y, seed: int, evals) -> list[np.ndarray]:
        from sklearn.linear_model import RidgeClassifierCV
        from sklearn.pipeline import make_pipeline
        from sklearn.preprocessing import StandardScaler

        x, y = np.asarray(x, np.float32), np.asarray(y)
        rng = np.random.default_rng(seed)
        if arm.classic:
            with torch.random.fork_rng(devices=[]):
                torch.manual_seed(seed)
                extra = classic_signal_augmentation(arm.classic)(torch.from_numpy(x)).numpy()
            x, y = np.concatenate([x, extra]), np.concatenate([y, y])
        if arm.mixup:
            perm = rng.permutation(len(x))
            lam = rng.beta(arm.mixup, arm.mixup, len(x)).astype(np.float32)
            mixed = lam[:, None, None] * x + (1 - lam[:, None, None]) * x[perm]
            x, y = np.concatenate([x, mixed]), np.concatenate([y, np.where(lam >= 0.5, y, y[perm])])
        rocket = minirocket(seed)
        feats = rocket.fit_transform(x.astype(np.float64))
        clf = make_pipeline(StandardScaler(), RidgeClassifierCV(alphas=np.logspace(-3, 3, 10),
                                                                class_weight="balanced" if arm.loss != "ce" else None))
        clf.fit(np.asarray(feats), y)
        return [clf.predict(np.asarray(rocket.transform(np.asarray(e, np.float64)))) for e in evals]


def minirocket(seed: int):
    """sktime's MiniRocket (multivariate form, which takes one channel too), seeded."""
    try:
        from sktime.transformations.panel.rocket import MiniRocketMultivariate
    except ImportError:
        raise InvalidDataError("the MiniRocket learner needs sktime and numba; pip install 'augmentor[signals]'") \
            from None
    return MiniRocketMultivariate(random_state=seed)


def has_minirocket() -> bool:
    try:
        import numba  # noqa: F401
        import sktime  # noqa: F401
    except ImportError:
        return False
    return True


class SignalEvaluation:
    """Signals: the 1-D CNN (and MiniRocket when sktime is installed), the six classic transforms as
    candidates, the three loss fixes and mixup; fidelity in the 1-D CNN's penultimate layer."""

    losses, classic = ("reweight", "logit-adjust", "drw"), True
    headline_every_learner = True  # the field's two learners answer separately: a headline for each

    def classic_candidates(self, train: SignalData, ev) -> tuple[str, ...]:
        return tuple(c for c in ev.classic if c in CLASSIC) or CLASSIC

    def mixup(self, ev) -> tuple[float, ...]:
        return ev.mixup

    def learners(self, train: SignalData, ev, device: str) -> tuple[list, dict]:
        from .arms import steps_for

        steps = steps_for(len(train), ev.epochs, ev.batch_size)
        learners: list = [Cnn1dLearner(len(train.classes), steps, ev.batch_size, ev.lr, device,
                                       channel_scale(train.x))]
        if has_minirocket():
            learners.append(MiniRocketLearner(len(train.classes)))
        return learners, {"epochs": ev.epochs, "steps_per_arm": steps, "batch_size": ev.batch_size, "lr": ev.lr,
                          "classic_candidates": list(self.classic_candidates(train, ev)),
                          "mixup_alphas": list(ev.mixup), "device": device, "length_fit": train.fitted or "none",
                          "minirocket": "sktime MiniRocketMultivariate + RidgeClassifierCV" if has_minirocket() else
                          "not installed (pip install 'augmentor[signals]')"}

    def features(self, train: SignalData, ev, device: str, learners=()):
        from .arms import steps_for
        from .classifiers import embed, fit_cnn

        scale = channel_scale(train.x)
        model = fit_cnn(train.x, train.y, len(train.classes), steps=steps_for(len(train), ev.epochs, ev.batch_size),
                        batch_size=ev.batch_size, lr=ev.lr, seed=0, device=device,
                        network=lambda shape, k: SmallCNN1d(shape[0], k, scale))
        return lambda x: embed(model, x)

    def extra_sections(self, train: SignalData, sets: dict, validation: SignalData) -> dict:
        from .labels import align_classes
        from .study import memorisation_section

        out = {"memorisation": memorisation_section(train, sets, validation)}
        if has_minirocket():
            val = align_classes(validation, train.classes)
            out["two_sample_test"] = {name: two_sample_test(val.x, s.x) for name, s in sets.items() if len(s)}
        return out


def two_sample_test(real: np.ndarray, synthetic: np.ndarray, seed: int = 0) -> dict:
    """A classifier two-sample test (Lopez-Paz & Oquab 2017) on MiniRocket features: real validation series
    against as many synthetic ones (drawn without replacement), logistic regression, 5-fold cross-validated
    accuracy. 0.5: the classifier cannot tell them apart; 1.0: every synthetic series is recognisable."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rng = np.random.default_rng(seed)
    n = min(len(real), len(synthetic))
    x = np.concatenate([real[rng.choice(len(real), n, replace=False)],
                        synthetic[rng.choice(len(synthetic), n, replace=False)]]).astype(np.float64)
    y = np.repeat([0, 1], n)
    feats = np.asarray(minirocket(seed).fit_transform(x))
    folds = StratifiedKFold(5, shuffle=True, random_state=seed) if n >= 5 else 2
    acc = cross_val_score(make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000)), feats, y, cv=folds)
    return {"accuracy": float(acc.mean()), "sd_over_folds": float(acc.std()), "per_side": int(n),
            "features": "MiniRocket (fitted on the pooled series)", "chance": 0.5}
