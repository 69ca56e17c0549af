"""The image learner's network, by name: `smallcnn` (the default), a torchvision ResNet trained from
scratch with a stem for small images, or a user's factory by import path.

- `smallcnn`: learners.SmallCNN.
- `resnet18`, `resnet34`, `resnet50`: torchvision's architecture, no pretrained weights (nothing is
  downloaded); at 64 px or less its 7x7 stride-2 stem and max-pool become a 3x3 stride-1 convolution
  (the usual CIFAR-style stem), so an 8x8 or 28x28 image is not pooled away.
- `"package.module:factory"` or `"package.module:factory(key=value)"`: `factory(channels, n_classes,
  size, **kwargs)` returns an `nn.Module` mapping (N, channels, size, size) images in [0, 1] to
  (N, n_classes) logits.

`check_network` builds the network once and runs two images through it before any training.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn

from ..errors import RecipeError
from ..learner_spec import resolve, short_name

RESNETS = ("resnet18", "resnet34", "resnet50")


def small_stem_resnet(name: str, channels: int, n_classes: int, size: int) -> nn.Module:
    from torchvision import models

    net = getattr(models, name)(weights=None, num_classes=n_classes)
    if size <= 64:
        net.conv1 = nn.Conv2d(channels, 64, 3, 1, 1, bias=False)
        net.maxpool = nn.Identity()
    elif channels != 3:
        net.conv1 = nn.Conv2d(channels, 64, 7, 2, 3, bias=False)
    return net


def network_factory(spec: str, smallcnn: Callable | None = None) -> Callable[[tuple[int, ...], int], nn.Module]:
    """`(shape (C, H, W), n_classes) -> nn.Module` for the learner `spec` (`smallcnn`: the given builder)."""
    if spec == "smallcnn" and smallcnn is not None:
        return smallcnn
    if spec in RESNETS:
        return lambda shape, k: small_stem_resnet(spec, shape[0], k, min(shape[1:]))
    if ":" not in spec:
        raise RecipeError(f"unknown image learner '{spec}'; choose smallcnn, {', '.join(RESNETS)}, or name a "
                          "factory by import path ('package.module:factory', called with channels, n_classes, size)")
    factory, kwargs = resolve(spec)

    def build(shape: tuple[int, ...], k: int) -> nn.Module:
        try:
            net = factory(shape[0], k, min(shape[1:]), **kwargs)
        except Exception as e:  # the user's factory: any failure is theirs to fix
            raise RecipeError(f"learner '{short_name(spec)}': its factory raised {type(e).__name__}: {e}") from None
        if not isinstance(net, nn.Module):
            raise RecipeError(f"learner '{short_name(spec)}': its factory returned {type(net).__name__}, not an "
                              "nn.Module")
        return net

    return build


def check_network(spec: str, shape: tuple[int, ...], n_classes: int) -> None:
    """Build the network and run two images through it: the wrong output shape is one line, before training."""
    if spec == "smallcnn":
        return  # the product's own network
    net = network_factory(spec)(shape, n_classes)
    try:
        with torch.no_grad():
            out = net.eval()(torch.zeros(2, *shape))
    except Exception as e:
        raise RecipeError(f"learner '{short_name(spec)}': a batch of {tuple(shape)} images raised "
                          f"{type(e).__name__}: {e}") from None
    if tuple(out.shape) != (2, n_classes):
        raise RecipeError(f"learner '{short_name(spec)}': it maps 2 images of {tuple(shape)} to "
                          f"{tuple(out.shape)}, not (2, {n_classes}) logits; make its last layer output "
                          f"n_classes = {n_classes}")
