"""One device resolver: what `--device` means for torch (training, the evaluation classifier)
and for ONNX Runtime (generation; its providers are chosen in synthesis/runtime.py)."""

from __future__ import annotations

from .errors import DeviceError


def torch_device(device: str) -> str:
    """'auto' -> 'cuda' when torch sees one, else 'cpu'; 'cuda[:i]' without CUDA is an error."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.split(":")[0] not in ("cpu", "cuda"):
        raise DeviceError(f"unknown device '{device}'; use auto, cpu or cuda")
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise DeviceError(f"--device {device} was requested but no CUDA device is available")
    return device


def ort_device(device: str) -> str:
    """A torch-style device name as an ONNX Runtime device: 'cuda:1' -> 'cuda'."""
    return "cuda" if device.startswith("cuda") else device
