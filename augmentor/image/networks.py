"""The image learner's network, by name: `smallcnn` (the default), a torchvision ResNet trained from
scratch with a stem for small images, or a user's factory by import path.

- `smallcnn`: learners.SmallCNN.
- `resnet18`, `resnet34`, `resnet50`: torchvision's architecture, no pretrained weights (nothing is
  downloaded); at 64 px or less its 7x7 stride-2 stem and max-pool become a 3x3 stride-1 convolution
  (the usual CIFAR-style stem), so an 8x8 or 28x28 image is not pooled away.
- `"package.module:factory"` or `"package.module:factory(key=value)"`: `factory(channels, n_classes,
  size, **kwargs)` returns an `nn.Module` mapping (N, channels, size, size) images in [0, 1] to
  (N, n_classes) logits.
- any of them with `weights='path'` (e.g. `"resnet18(weights='resnet18-imagenet.safetensors')"`): each fit
  starts from that local file and fine-tunes, instead of starting from scratch. A safetensors file, or a
  PyTorch state dict read with `torch.load(weights_only=True)` (no pickled code runs). Every tensor whose
  name and shape match the network is loaded; the rest (a new head for these classes, the small-image
  stem) start fresh. A file of which fewer than half the network's weights fit is refused. Nothing is
  downloaded.

`check_network` builds the network once (with its weights) and runs two images through it before any
training.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from ..core.errors import RecipeError
from ..evaluation.learner_spec import check_size, resolve_factory, short_name, shown

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


MIN_LOADED = 0.5  # a weights file must fit at least this share of the network's weights (by count of values)
_REPORTED: set = set()  # (spec, weights) whose partial match was reported once
MIN_USED = 0.8  # and at least this share of the file's own values must find a place (another architecture: less)


def split_weights(spec: str) -> tuple[str, str]:
    """`"resnet18(weights='w.safetensors')"` -> ("resnet18", "w.safetensors"); a factory's other arguments
    stay in the spec; ("spec", "") when it names no weights."""
    check_size(spec)
    head, sep, rest = spec.partition("(")
    if not sep:
        return spec, ""
    try:
        call = ast.parse(f"f({rest}", mode="eval").body
        kwargs = {k.arg: ast.literal_eval(k.value) for k in call.keywords}
    except (SyntaxError, ValueError, AttributeError, TypeError, MemoryError, RecursionError) as e:
        raise RecipeError(f"learner '{shown(spec)}': its arguments must be key=literal pairs "
                          f"({type(e).__name__})") from None
    weights = kwargs.pop("weights", "")
    if not isinstance(weights, str):
        raise RecipeError(f"learner '{spec}': weights must be a path string, e.g. weights='resnet18.safetensors'")
    if ":" not in head and kwargs:
        raise RecipeError(f"learner '{spec}': a built-in network takes only weights='path'; its other "
                          f"arguments {sorted(kwargs)} are not known")
    args = ", ".join(f"{k}={v!r}" for k, v in kwargs.items())
    return (f"{head.strip()}({args})" if args else head.strip()), weights


@functools.lru_cache(maxsize=4)
def read_weights(path: str) -> dict[str, torch.Tensor]:
    """A state dict from a local safetensors file or a `torch.save`d dict of tensors (weights_only=True)."""
    file = Path(path).expanduser()
    if not file.is_file():
        raise RecipeError(f"weights file '{path}' does not exist; name a local .safetensors or state-dict file "
                          "(nothing is downloaded)")
    if file.suffix == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load_file

        try:
            return _finite(load_file(str(file)), path)
        except (SafetensorError, OSError, ValueError) as e:
            raise RecipeError(f"weights file '{path}' is not a readable safetensors file ({e})") from None
    try:
        state = torch.load(file, map_location="cpu", weights_only=True)
    except Exception as e:  # weights_only refuses any pickled code or object other than tensors
        raise RecipeError(f"weights file '{path}' holds pickled code or objects other than tensors, or is not a "
                          f"PyTorch file ({type(e).__name__}); save model.state_dict() with torch.save, or as "
                          "safetensors") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise RecipeError(f"weights file '{path}' is not a state dict (name -> tensor); save model.state_dict()")
    return _finite(state, path)


def _finite(state: dict[str, torch.Tensor], path: str) -> dict[str, torch.Tensor]:
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise RecipeError(f"weights file '{path}': {len(bad)} of its {len(state)} tensors hold NaN or inf values "
                          f"(e.g. '{bad[0]}'); it was saved from a diverged model. Name a file of finite weights")
    return state


def load_matching(net: nn.Module, state: dict[str, torch.Tensor], spec: str, path: str) -> float:
    """Load every tensor of `state` whose name and shape match `net`; the share of the network's values
    loaded. Refuses a file that fits less than MIN_LOADED of them."""
    own = net.state_dict()
    fit = {k: v for k, v in state.items() if k.removeprefix("module.") in own
           and tuple(v.shape) == tuple(own[k.removeprefix("module.")].shape)}
    fit = {k.removeprefix("module."): v for k, v in fit.items()}
    total = sum(v.numel() for k, v in own.items() if v.is_floating_point())
    share = sum(v.numel() for k, v in fit.items() if own[k].is_floating_point()) / max(total, 1)
    in_file = sum(v.numel() for v in state.values() if v.is_floating_point())
    used = sum(v.numel() for v in fit.values() if v.is_floating_point()) / max(in_file, 1)
    if share >= MIN_LOADED and used < MIN_USED:
        raise RecipeError(f"learner '{spec}': weights file '{path}' fills {share:.0%} of the network's weights but "
                          f"only {used:.0%} of the file's values find a place: it was saved from a larger or "
                          "another architecture (e.g. resnet34 for resnet18). Name the matching network")
    if share < MIN_LOADED:
        example = next(iter(own))
        raise RecipeError(f"learner '{spec}': weights file '{path}' fits {share:.0%} of the network's weights "
                          f"(names and shapes, e.g. '{example}' {tuple(own[example].shape)}); it was saved from "
                          "another architecture. Name the matching network, or a file saved from it")
    if (share < 1.0 or used < 1.0) and (spec, path) not in _REPORTED:
        import logging

        _REPORTED.add((spec, path))
        logging.getLogger(__name__).warning(
            "learner %s: weights file %s filled %.1f%% of the network's values (%.1f%% of the file's); the rest "
            "keep their fresh initialisation", spec, path, 100 * share, 100 * used)
    net.load_state_dict({**own, **{k: v.to(own[k].dtype) for k, v in fit.items()}})
    return share


def network_factory(spec: str, smallcnn: Callable | None = None) -> Callable[[tuple[int, ...], int], nn.Module]:
    """`(shape (C, H, W), n_classes) -> nn.Module` for the learner `spec` (`smallcnn`: the given builder)."""
    base, weights = split_weights(spec)
    if weights:
        make = network_factory(base, smallcnn)

        def fine_tuned(shape: tuple[int, ...], k: int) -> nn.Module:
            net = make(shape, k)
            load_matching(net, read_weights(weights), spec, weights)
            return net

        return fine_tuned
    if spec == "smallcnn":
        if smallcnn is None:
            raise ValueError("network_factory('smallcnn', ...) needs the SmallCNN builder (image.learners.small_cnn)")
        return smallcnn
    if spec in RESNETS:
        return lambda shape, k: small_stem_resnet(spec, shape[0], k, min(shape[1:]))
    if ":" not in spec:
        raise RecipeError(f"unknown image learner '{shown(spec)}'; choose smallcnn, {', '.join(RESNETS)}, or name a "
                          "factory by import path ('package.module:factory', called with channels, n_classes, size)")
    factory, kwargs = resolve_factory(spec)

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


def check_network(spec: str, shape: tuple[int, ...], n_classes: int, smallcnn: Callable | None = None) -> None:
    """Build the network and run two images through it: the wrong output shape is one line, before training."""
    if spec == "smallcnn":
        return  # the product's own network
    name = short_name(spec)
    net = network_factory(spec, smallcnn)(shape, n_classes)
    params = [p for p in net.parameters() if p.requires_grad]
    if not params:
        raise RecipeError(f"learner '{shown(name)}': its network has no trainable parameters; a learner must "
                          "have weights to fit")
    try:
        with torch.no_grad():
            out = net.eval()(torch.zeros(2, *shape))
    except Exception as e:
        raise RecipeError(f"learner '{shown(name)}': a batch of {tuple(shape)} images raised "
                          f"{type(e).__name__}: {shown(str(e), 200)}") from None
    if tuple(out.shape) != (2, n_classes):
        raise RecipeError(f"learner '{shown(name)}': it maps 2 images of {tuple(shape)} to "
                          f"{tuple(out.shape)}, not (2, {n_classes}) logits; make its last layer output "
                          f"n_classes = {n_classes}")
    try:  # one training step, as the evaluation takes them: a backward pass and an optimiser step
        net.train()
        optimiser = torch.optim.AdamW(params, lr=1e-3)
        loss = nn.functional.cross_entropy(net(torch.rand(2, *shape)), torch.tensor([0, n_classes - 1]))
        loss.backward()
        optimiser.step()
    except Exception as e:
        raise RecipeError(f"learner '{shown(name)}': one training step (forward, backward, optimiser) raised "
                          f"{type(e).__name__}: {shown(str(e), 200)}") from None
    if not torch.isfinite(loss):
        raise RecipeError(f"learner '{shown(name)}': its loss on a batch of 2 images is {loss.item()}; the "
                          "network's outputs are not finite")
