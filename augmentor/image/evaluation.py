"""How images are evaluated: the SmallCNN learner, classic-augmentation candidates, the loss fixes,
fidelity features, memorisation; SMOTE on pixels; the frozen classifier of `train.class_guidance`."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from ..arms import steps_for
from ..checkpoint import unprefixed
from ..recipe import EvaluateConfig, TrainConfig
from ..study import memorisation_section
from .data import LabelledData
from .learners import CnnLearner, SmallCNN, classic_augmentation, classic_candidates, embed, fit_cnn

Dataset = LabelledData


class ImageEvaluation:
    """Images: the SmallCNN (same step budget every arm), classic-augmentation arms, both loss
    fixes; fidelity in the penultimate layer of a SmallCNN trained on the training split."""

    losses, classic = ("reweight", "logit-adjust", "drw"), True

    def classic_candidates(self, train: Dataset, ev: EvaluateConfig) -> tuple[str, ...]:
        return ev.classic or classic_candidates(train.shape[0])

    def mixup(self, ev: EvaluateConfig) -> tuple[float, ...]:
        return ev.mixup

    def learners(self, train: Dataset, ev: EvaluateConfig, device: str) -> tuple[list, dict]:
        steps = steps_for(len(train), ev.epochs, ev.batch_size)
        learners = [CnnLearner(len(train.classes), steps, ev.batch_size, ev.lr, device, workers=ev.workers,
                               network=spec) for spec in ev.learners or ("smallcnn",)]
        learner = learners[0]
        return learners, {"learners": {lr.name: lr.network for lr in learners}, "epochs": ev.epochs,
                          "steps_per_arm": steps, "batch_size": ev.batch_size, "lr": ev.lr,
                          "workers": learner.workers,
                           "classic_candidates": list(self.classic_candidates(train, ev)),
                           "mixup_alphas": list(ev.mixup), "device": device}

    def features(self, train: Dataset, ev: EvaluateConfig, device: str, learners: Sequence = ()):
        """The penultimate layer of a SmallCNN fitted on the training split (plain loss, seed 0): the
        `real` arm's seed-0 model when the evaluation kept it (the same fit), else fitted here."""
        kept = [lr.models[("real", 0)] for lr in learners
                if getattr(lr, "network", "") == "smallcnn" and ("real", 0) in getattr(lr, "models", {})]
        if kept:
            return lambda x: embed(kept[0], x)
        model = fit_cnn(train.x, train.y, len(train.classes), steps=steps_for(len(train), ev.epochs, ev.batch_size),
                        batch_size=ev.batch_size, lr=ev.lr, seed=0, device=device)
        return lambda x: embed(model, x)

    def check(self, train: Dataset, ev: EvaluateConfig, losses: bool) -> None:
        """Every network the recipe names, built and run on two images before any training."""
        from .networks import check_network

        for spec in ev.learners:
            check_network(spec, tuple(train.shape), len(train.classes))

    def extra_sections(self, train: Dataset, sets: dict, validation: Dataset) -> dict:
        return {"memorisation": memorisation_section(train, sets, validation)}


def smote_images(train: LabelledData, strategy: dict, k: int, seed: int) -> tuple:
    from imblearn.over_sampling import SMOTE

    x, y = SMOTE(sampling_strategy=strategy, k_neighbors=k, random_state=seed).fit_resample(
        train.x.reshape(len(train), -1), train.y)
    return x.reshape(-1, *train.shape).astype(np.float32), y


def guidance_classifier(data: LabelledData, cfg: TrainConfig, dev: torch.device,
                        stored: dict | None = None) -> nn.Module:
    """The frozen classifier of `train.class_guidance`: a SmallCNN fitted on the real training
    split with classic augmentation and the class-balanced loss (trained plainly on a long tail it
    would rarely predict a thin class), seeded by `train.seed`. On resume its stored weights are
    loaded instead, so a resumed run continues with exactly the same classifier."""
    n_classes = len(data.classes)
    weights = unprefixed("cls", stored or {})
    if weights:
        model = SmallCNN(data.shape[0], n_classes, min(data.shape[1:]))
        model.load_state_dict(weights)
    else:
        model = fit_cnn(data.x, data.y, n_classes, steps=cfg.guidance_steps, seed=cfg.seed, device=str(dev),
                        augment=classic_augmentation(), loss="reweight")
    return model.to(dev).eval().requires_grad_(False)
