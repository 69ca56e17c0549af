"""Export the EMA generator to ONNX and verify the file before anyone uses it.

`export_onnx(run_dir)` writes `generator.onnx`: inputs `z: float32[B, Z]` and
`label: int64[B]`, output `x: float32[B, C, H, W]` (images) or `float32[B, F]` (tables:
the encoded row, see `codec.TableCodec`) in the codec's model space, a dynamic
batch axis, and `metadata_props` that carry everything a consumer needs (see
`runtime.read_model_info`). `verify_onnx` runs onnx's full checker and compares
ONNX Runtime with PyTorch at batch sizes 1 and 7 over every class.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import onnx
import torch
from torch import nn

from ..core.atomic import atomic_path
from ..core.errors import ExportError, OutputExistsError
from ..core.modality import Modality
from ..gan.checkpoint import generator_from_checkpoint, latest_checkpoint
from .runtime import FORMAT_VERSION, META_PREFIX

log = logging.getLogger(__name__)
# (rtol, atol) per precision. fp16 keeps float32 inputs/outputs; its tolerance is about one
# 8-bit pixel level (2/255 in [-1, 1] model space), the finest step the outputs are written at.
PARITY = {"fp32": (1e-3, 1e-5), "fp16": (1e-2, 1e-2)}


class HalfPrecision(nn.Module):
    """float32 in, float16 inside, float32 out: a drop-in replacement for the fp32 model."""

    def __init__(self, g: nn.Module) -> None:
        super().__init__()
        self.g = copy.deepcopy(g).half()
        self.z_dim, self.n_classes = g.z_dim, g.n_classes

    def forward(self, z: torch.Tensor, label: torch.Tensor) -> torch.Tensor:
        return self.g(z.half(), label).float()


def export_onnx(run_dir: str | Path, out: str | Path | None = None,
                checkpoint: str | Path | None = None, opset: int = 18, fold: bool = True,
                fp16: bool = False, *, registry: Callable[[str], Modality]) -> Path:
    """Export the run's latest (or the given) checkpoint; verify; return the .onnx path.

    With `fold`, batch-norm statistics are folded into the preceding layers first; parity
    is always checked against the unfolded PyTorch generator. `registry` gives the Modality
    the checkpoint names (its generator). With `fp16`, weights and
    activations are float16 while inputs and outputs stay float32.
    """
    ckpt = Path(checkpoint) if checkpoint else latest_checkpoint(run_dir)
    out = Path(out) if out else Path(run_dir) / "generator.onnx"
    _check_model_path(out, ckpt)
    g, state = generator_from_checkpoint(ckpt, registry)
    export_generator(g, out, classes=state["classes"], codec=state["codec"],
                     data_fingerprint=state["data_fingerprint"], train_step=state["step"],
                     opset=opset, fold=fold, fp16=fp16)
    log.info("exported %s (step %s) to %s", ckpt.name, state["step"], out)
    return out


def _check_model_path(out: Path, checkpoint: Path) -> None:
    """The model goes to a `.onnx` path that is not the checkpoint, a folder or a link; an
    existing `.onnx` there is replaced (atomically), anything else is refused."""
    if out.suffix.lower() != ".onnx":
        raise OutputExistsError(f"--out {out}: a model path must end in .onnx")
    if out.is_symlink() or (out.exists() and not out.is_file()):
        raise OutputExistsError(f"--out {out} exists and is not a regular file; choose another path")
    if out.exists() and out.resolve() == checkpoint.resolve():
        raise OutputExistsError(f"--out {out} is the checkpoint being exported; choose another path")


def export_generator(g: nn.Module, out: str | Path, *, classes: list[str], codec: dict,
                     data_fingerprint: str, train_step: int = 0, opset: int = 18,
                     fold: bool = True, fp16: bool = False) -> Path:
    """Write `g` as a verified augmentor ONNX model with its metadata, atomically."""
    meta = {
        "format_version": FORMAT_VERSION,
        "modality": g.modality,
        "classes": json.dumps(list(classes)),
        "shape": json.dumps(list(g.shape)),
        "z_dim": str(g.z_dim),
        "codec": json.dumps(codec),
        "data_fingerprint": data_fingerprint,
        "train_step": str(train_step),
        "precision": "fp16" if fp16 else "fp32",
        "batchnorm_folded": str(fold and g.foldable).lower(),
    }
    g = g.eval()
    with atomic_path(out) as tmp:
        # Only the image generator has batch norm; the table generator uses layer norm.
        to_export: nn.Module = g.folded() if fold and g.foldable else g
        _torch_export(HalfPrecision(to_export) if fp16 else to_export, tmp, opset)
        model = onnx.load(str(tmp))
        _strip_trace_metadata(model.graph)
        for key, value in meta.items():
            entry = model.metadata_props.add()
            entry.key, entry.value = META_PREFIX + key, value
        model.producer_name = "augmentor"
        onnx.save(model, str(tmp))
        verify_onnx(tmp, g, meta["precision"])
    return Path(out)


def _strip_trace_metadata(graph) -> None:
    """torch.onnx records each node's Python stack trace (with this checkout's file paths):
    dropped, so the same weights give the same model bytes wherever augmentor is installed."""
    for node in graph.node:
        del node.metadata_props[:]
        for attr in node.attribute:
            for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                _strip_trace_metadata(sub)
    for value in [*graph.input, *graph.output, *graph.value_info]:
        del value.metadata_props[:]


def _torch_export(g: nn.Module, path: Path, opset: int, exporter: str = "torchscript") -> None:
    """Trace `g` to ONNX with a dynamic batch axis.

    torch's TorchScript exporter first: it writes these generators (convolutions, embeddings,
    norms; no data-dependent control flow) in about 0.05 s where the dynamo exporter takes 1.5-3 s
    warm and 8-9 s in a fresh process (`benchmarks/bench_export.py`, `reports/export.md`), and
    ONNX Runtime gives the same outputs from both files. Where a torch release no longer has it
    (deprecated since torch 2.9), the dynamo exporter writes the same contract, with a warning
    in the log. Either file passes `verify_onnx` before anyone uses it.
    """
    z = torch.zeros(2, g.z_dim)
    label = torch.zeros(2, dtype=torch.int64)
    names = {"input_names": ["z", "label"], "output_names": ["x"], "opset_version": opset}
    if exporter == "torchscript":
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                torch.onnx.export(g, (z, label), str(path), dynamo=False, **names,
                                  dynamic_axes={"z": {0: "batch"}, "label": {0: "batch"}, "x": {0: "batch"}})
            return
        except Exception as e:  # noqa: BLE001 - a torch without the TorchScript exporter
            log.warning("torch's TorchScript ONNX exporter failed (%s: %s); using the dynamo exporter",
                        type(e).__name__, e)
    elif exporter != "dynamo":
        raise ValueError(f"exporter must be 'torchscript' or 'dynamo', not {exporter!r}")
    batch = torch.export.Dim("batch")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(g, (z, label), str(path), dynamo=True, external_data=False, verbose=False,
                          dynamic_shapes={"z": {0: batch}, "label": {0: batch}}, **names)


def verify_onnx(path: str | Path, g: nn.Module, precision: str = "fp32",
                batch_sizes: tuple[int, ...] = (1, 7), seed: int = 0) -> dict[str, float]:
    """Full onnx check, then ORT-vs-PyTorch parity over every class; ExportError if off."""
    import onnxruntime as ort

    try:
        onnx.checker.check_model(str(path), full_check=True)
    except onnx.checker.ValidationError as e:
        raise ExportError(f"{path}: onnx checker failed: {e}") from None
    rtol, atol = PARITY[precision]
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    rng = np.random.default_rng(seed)
    worst = {"max_abs": 0.0, "max_rel": 0.0}
    g = g.eval()
    for bs in batch_sizes:
        for b in range(math.ceil(g.n_classes / bs)):
            label = (np.arange(bs) + b * bs) % g.n_classes
            z = rng.standard_normal((bs, g.z_dim)).astype(np.float32)
            got = session.run(["x"], {"z": z, "label": label.astype(np.int64)})[0]
            with torch.no_grad():
                want = g(torch.from_numpy(z), torch.from_numpy(label)).numpy()
            if got.shape != want.shape:
                raise ExportError(f"{path}: ONNX output shape {got.shape} != PyTorch {want.shape}")
            diff = np.abs(got - want)
            worst["max_abs"] = max(worst["max_abs"], float(diff.max()))
            worst["max_rel"] = max(worst["max_rel"], float((diff / (np.abs(want) + 1e-12)).max()))
            if not np.allclose(got, want, rtol=rtol, atol=atol):
                bad = int((diff > atol + rtol * np.abs(want)).sum())
                raise ExportError(
                    f"{path}: ONNX Runtime differs from PyTorch at batch size {bs}, classes "
                    f"{label.tolist()}: {bad} of {diff.size} values outside rtol={rtol}, "
                    f"atol={atol}; max abs diff {diff.max():.3g}"
                )
    return worst
