"""How images are evaluated: the SmallCNN learner, classic-augmentation candidates, the loss fixes,
fidelity features, memorisation; SMOTE on pixels; the frozen classifier of `train.class_guidance`."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from ..config.recipe import EvaluateConfig, TrainConfig
from ..evaluation.arms import steps_for
from ..evaluation.stage import memorisation_section
from ..evaluation.steps_plan import floor_steps
from ..evaluation.use_it import resampling_lines
from ..gan.checkpoint import unprefixed
from .data import LabelledData
from .learners import CnnLearner, SmallCNN, classic_augmentation, classic_candidates, embed, fit_cnn, small_cnn

Dataset = LabelledData


class ImageEvaluation:
    """Images: the SmallCNN (same step budget every arm), classic-augmentation arms, both loss
    fixes; fidelity in the penultimate layer of a SmallCNN trained on the training split."""

    losses, classic = ("reweight", "logit-adjust", "drw"), True
    ray = True  # its fits can run as Ray tasks (evaluate.ray)
    augment_path = "augmentor.image.learners:classic_augmentation"  # for a learner object (evaluation/user_learner.py)

    def classic_candidates(self, train: Dataset, ev: EvaluateConfig) -> tuple[str, ...]:
        return ev.classic or classic_candidates(train.shape[0])

    def mixup(self, ev: EvaluateConfig) -> tuple[float, ...]:
        return ev.mixup

    def specs(self, ev: EvaluateConfig) -> tuple[str, ...]:
        """The networks a recipe names, or the SmallCNN."""
        return tuple(ev.learners) or ("smallcnn",)

    def learners(self, train: Dataset, ev: EvaluateConfig, device: str) -> tuple[list, dict]:
        steps = floor_steps(steps_for(len(train), ev.epochs, ev.batch_size), ev.min_steps)
        learners = [CnnLearner(len(train.classes), steps, ev.batch_size, ev.lr, device, workers=ev.workers,
                               network=spec, ray=ev.ray) for spec in self.specs(ev)]
        learner = learners[0]
        return learners, {"learners": {lr.name: lr.network for lr in learners}, "epochs": ev.epochs,
                          "steps_per_arm": steps, "batch_size": ev.batch_size, "lr": ev.lr,
                          "workers": learner.workers, **({"fits_on": f"Ray tasks ({ev.ray})"} if ev.ray else {}),
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

    def use_it(self, learner: CnnLearner, arm, train: Dataset, target) -> str:
        """The arm as calls of the product's tested pieces, for the user's own code (seed 0)."""
        k = len(train.classes)
        lines = [f"# {learner.name}'s best arm without a GAN on this data: {arm.name}. x: float32 images "
                 f"(N, C, H, W) in [0, 1]; y: class indices 0..{k - 1} for {list(train.classes)}.",
                 "import numpy as np", "from augmentor.image.learners import classic_augmentation, fit_cnn, "
                 "predict_proba"]
        lines += resampling_lines(arm, target, train.shape)
        network = "" if learner.network == "smallcnn" else \
            f", network=network_factory({learner.network!r}, small_cnn)"
        if network:
            lines.insert(3, "from augmentor.image.learners import small_cnn")
            lines.insert(3, "from augmentor.image.networks import network_factory")
        augment = f"classic_augmentation({arm.classic!r})" if arm.classic else "None"
        lines += [f"model = fit_cnn(x, y, {k}, steps={learner.steps}, batch_size={learner.batch_size}, "
                  f"lr={learner.lr}, seed=0, augment={augment}, loss={arm.loss!r}, mixup={arm.mixup}{network})",
                  "predictions = predict_proba(model, x_new).argmax(1)"]
        return "\n".join(lines)

    def recipe_defaults(self, train: Dataset) -> dict:
        """`augmentor run DATA`: about 1,500 GAN steps; the grid of recipes/digits.toml with the first
        classic candidate for this kind of image."""
        per_epoch = max(1, -(-len(train) // 64))
        return {"train.epochs": max(1, -(-1500 // per_epoch)), "evaluate.rebalancing": ["oversample", "logit-adjust",
                                                                                       "drw"],
                "evaluate.classic": list(classic_candidates(train.shape[0])[:1]), "evaluate.mixup": [0.4],
                "evaluate.step_multipliers": [1, 2, 4]}

    def check(self, train: Dataset, ev: EvaluateConfig, losses: bool) -> None:
        """Every network the recipe names, built and run on two images before any training."""
        from .networks import check_network

        for spec in ev.learners:
            check_network(spec, tuple(train.shape), len(train.classes), small_cnn)

    def extra_sections(self, train: Dataset, sets: dict, validation: Dataset) -> dict:
        return {"memorisation": memorisation_section(train, sets, validation)}


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

