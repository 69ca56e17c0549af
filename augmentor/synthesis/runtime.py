"""ONNX Runtime inference for exported generators: `OnnxGenerator(path, codecs=...)` (`augmentor.open_generator(path)`).

Needs the `.onnx` file alone: classes, shape, latent size and codec come from its
metadata, which is checked against the graph before use. Noise is drawn per class from
`numpy.random.default_rng([seed, class_index])`, so the same model, seed and counts
give identical samples, and asking for more of a class extends, not reshuffles, it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ..core.errors import DeviceError, InvalidDataError, UnsafeArtifactError
from ..core.names import check_class_names

log = logging.getLogger(__name__)
META_PREFIX = "augmentor."
FORMAT_VERSION = "1"
REQUIRED = ("format_version", "modality", "classes", "shape", "z_dim", "codec", "data_fingerprint")
# A model file is untrusted input: everything it declares is bounded before it is used.
MAX_META_BYTES = 4 << 20  # all metadata values together
MAX_JSON_DEPTH = 32
MAX_CLASSES = 10_000
MAX_Z_DIM = 4096


@dataclass(frozen=True)
class ModelInfo:
    path: Path
    classes: tuple[str, ...]
    shape: tuple[int, ...]
    z_dim: int
    codec: object  # the modality's codec (`codec.MODALITY` is its Modality)
    data_fingerprint: str
    sha256: str
    metadata: dict[str, str]

    @property
    def modality(self) -> str:
        return self.codec.kind


def file_sha256(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def read_model_info(path: str | Path, codecs: Callable[[dict], object]) -> ModelInfo:
    """Parse and check an augmentor ONNX model's metadata against its graph. `codecs` builds the
    codec its metadata describes (the registry's `for_codec`; an unknown kind is refused there)."""
    import onnx

    path = Path(path)
    if not path.is_file():
        raise UnsafeArtifactError(f"model not found: {path}")
    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception as e:  # onnx raises DecodeError and others for a non-ONNX file
        raise UnsafeArtifactError(f"{path}: not an ONNX model ({type(e).__name__}: {e})") from None
    _refuse_external_data(path, model)
    meta = {p.key[len(META_PREFIX):]: p.value for p in model.metadata_props
            if p.key.startswith(META_PREFIX)}
    if sum(len(v) for v in meta.values()) > MAX_META_BYTES:
        raise UnsafeArtifactError(f"{path}: augmentor metadata larger than {MAX_META_BYTES} bytes")
    missing = [k for k in REQUIRED if k not in meta]
    if missing:
        raise UnsafeArtifactError(
            f"{path}: missing augmentor metadata {missing}; export models with `augmentor export`"
        )
    if meta["format_version"] != FORMAT_VERSION:
        raise UnsafeArtifactError(f"{path}: model format {meta['format_version']!r} is not "
                                  f"supported (expected {FORMAT_VERSION})")
    try:
        raw_classes = _bounded_json(meta["classes"])
        if not isinstance(raw_classes, list) or len(raw_classes) > MAX_CLASSES:
            raise ValueError(f"classes must be a list of at most {MAX_CLASSES} names")
        classes = check_class_names(raw_classes, f"{path} (metadata)",
                                    "re-export the model from data with safe class names")
        shape = tuple(int(s) for s in _bounded_json(meta["shape"]))
        z_dim = int(meta["z_dim"])
        codec = codecs(_bounded_json(meta["codec"]))
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError, InvalidDataError) as e:
        raise UnsafeArtifactError(f"{path}: malformed augmentor metadata ({str(e)[:300]})") from None
    modality = meta["modality"]
    if len(classes) < 2 or not 1 <= z_dim <= MAX_Z_DIM or modality != codec.kind or not codec.valid_shape(shape):
        raise UnsafeArtifactError(f"{path}: malformed augmentor metadata (modality {modality}, codec "
                                  f"{codec.kind}, {len(classes)} classes, shape {list(shape)}, z_dim "
                                  f"{z_dim}); {codec.shape_rule}")
    _check_graph(path, model.graph, z_dim, shape)
    return ModelInfo(path, classes, shape, z_dim, codec, meta["data_fingerprint"],
                     file_sha256(path), meta)


def _bounded_json(text: str):
    """json.loads, refusing nesting deeper than MAX_JSON_DEPTH before parsing."""
    depth, in_string, escaped = 0, False, False
    for ch in text:
        if in_string:
            escaped, in_string = (False, True) if escaped else (ch == "\\", ch != '"')
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            if depth > MAX_JSON_DEPTH:
                raise ValueError(f"JSON nested deeper than {MAX_JSON_DEPTH} levels")
        elif ch in "]}":
            depth -= 1
    return json.loads(text)


def _refuse_external_data(path: Path, model) -> None:
    """A model must carry its weights: an external-data reference would make ONNX Runtime
    open a file path named inside the model."""
    from onnx import TensorProto

    def tensors(graph):
        yield from graph.initializer
        for sparse in graph.sparse_initializer:
            yield sparse.values
            yield sparse.indices
        for node in graph.node:
            for attr in node.attribute:
                if attr.HasField("t"):
                    yield attr.t
                yield from attr.tensors
                for sub in ([attr.g] if attr.HasField("g") else []) + list(attr.graphs):
                    yield from tensors(sub)

    for t in tensors(model.graph):
        if t.data_location == TensorProto.EXTERNAL or len(t.external_data):
            raise UnsafeArtifactError(f"{path}: tensor {t.name!r} refers to external data; augmentor "
                                      "models carry their weights inside the .onnx file")


def _check_graph(path: Path, graph, z_dim: int, shape: tuple[int, ...]) -> None:
    def dims(value_info) -> list:
        return [d.dim_value if d.HasField("dim_value") else None
                for d in value_info.type.tensor_type.shape.dim]

    inputs = {i.name: i for i in graph.input}
    outputs = {o.name: o for o in graph.output}
    if set(inputs) != {"z", "label"} or "x" not in outputs:
        raise UnsafeArtifactError(f"{path}: graph inputs {sorted(inputs)} / outputs "
                                  f"{sorted(outputs)} are not z, label -> x")
    z_dims, x_dims = dims(inputs["z"]), dims(outputs["x"])
    if len(z_dims) != 2 or z_dims[1] != z_dim:
        raise UnsafeArtifactError(f"{path}: metadata says z_dim={z_dim} but graph input z is {z_dims}")
    if len(x_dims) != 1 + len(shape) or any(g is not None and g != s for g, s in zip(x_dims[1:], shape)):
        raise UnsafeArtifactError(f"{path}: metadata says shape={list(shape)} but graph output x is {x_dims}")


def noise_stream(seed: int, label: int, z_dim: int, skip: int = 0) -> Callable[[int], np.ndarray]:
    """The noise of class `label`: `draw(n)` returns its next n latent vectors. Each sample's
    noise depends only on (seed, class, index within the class), so asking for more of a class
    extends its samples, and `skip` resumes the stream after the first `skip` of them."""
    rng = np.random.default_rng([seed, label])
    for done in range(0, skip, 65536):  # chunks keep memory flat for huge skips
        rng.standard_normal((min(65536, skip - done), z_dim), dtype=np.float32)
    return lambda n: rng.standard_normal((n, z_dim), dtype=np.float32)


def physical_cores() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not Linux
        return max(1, os.cpu_count() or 1)


class OnnxGenerator:
    """Batch inference of an exported generator with ONNX Runtime.

    `device`: "cpu", "cuda", "tensorrt" (TensorRT EP with an engine cache, CUDA as its
    fallback for unsupported nodes) or "auto" (CUDA when ONNX Runtime can start it). An
    explicitly requested GPU provider that does not start is an error, never a silent
    CPU run. `spinning=False` stops ORT's worker threads from busy-waiting between runs,
    which matters when torch or writer processes share the cores.
    """

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0,
                 spinning: bool = True, trt_cache: str | Path | None = None, *,
                 codecs: Callable[[dict], object] | None) -> None:
        import onnxruntime as ort

        if codecs is None:
            raise TypeError("OnnxGenerator needs `codecs` (augmentor.registry.for_codec), or use "
                            "augmentor.open_generator(path)")
        self.info = read_model_info(path, codecs)
        opts = ort.SessionOptions()
        opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        opts.intra_op_num_threads = threads or physical_cores()
        opts.inter_op_num_threads = 1
        opts.log_severity_level = 3
        if not spinning:
            opts.add_session_config_entry("session.intra_op.allow_spinning", "0")
        providers = self._providers(device, ort.get_available_providers(), trt_cache)
        try:
            self.session = ort.InferenceSession(str(self.info.path), opts, providers=providers)
        except Exception as e:  # ORT raises its own Fail / InvalidGraph / RuntimeException types
            raise UnsafeArtifactError(f"{self.info.path}: ONNX Runtime cannot load the model "
                                      f"({type(e).__name__}: {str(e)[:300]})") from None
        outputs = [o.name for o in self.session.get_outputs()]
        if outputs != ["x"] or [i.name for i in self.session.get_inputs()] != ["z", "label"]:
            raise UnsafeArtifactError(f"{self.info.path}: the graph has inputs "
                                      f"{[i.name for i in self.session.get_inputs()][:5]} and outputs {outputs[:5]}; "
                                      "an augmentor generator has inputs z, label and the one output x")
        self.provider = self.session.get_providers()[0]
        wanted = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}.get(device)
        if wanted and self.provider != wanted:
            raise DeviceError(f"--device {device} was requested but ONNX Runtime could not start "
                              f"{wanted} (running providers: {self.session.get_providers()}); "
                              "refusing to fall back to CPU silently")
        self._on_gpu = self.provider != "CPUExecutionProvider"
        log.info("ONNX Runtime provider: %s", self.provider)
        self._probe()

    def _probe(self) -> None:
        """Run every declared class through the graph once and check what comes out, so a
        model whose metadata and graph disagree is refused before any sample is written."""
        k, where = len(self.classes), self.info.path
        for first in range(0, k, 256):
            labels = np.arange(first, min(k, first + 256), dtype=np.int64)
            try:
                x = self.run(np.zeros((len(labels), self.info.z_dim), np.float32), labels)
            except Exception as e:
                raise UnsafeArtifactError(f"{where}: the graph fails for classes {first}..{labels[-1]} of "
                                          f"the {k} its metadata declares ({type(e).__name__}: "
                                          f"{str(e)[:200]})") from None
            if x.shape != (len(labels), *self.info.shape) or x.dtype != np.float32:
                raise UnsafeArtifactError(f"{where}: the graph returns {x.dtype} {list(x.shape)} for a batch "
                                          f"of {len(labels)}, but its metadata declares float32 "
                                          f"{[len(labels), *self.info.shape]}")

    def _providers(self, device: str, available: list[str], trt_cache: str | Path | None) -> list:
        cuda = ("CUDAExecutionProvider", {"cudnn_conv_algo_search": "EXHAUSTIVE",
                                          "do_copy_in_default_stream": "1"})
        if device == "cpu":
            return ["CPUExecutionProvider"]
        if device == "auto":
            return ([cuda] if "CUDAExecutionProvider" in available else []) + ["CPUExecutionProvider"]
        need = {"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}.get(device)
        if need is None:
            raise DeviceError(f"unknown device '{device}'; use cpu, cuda, tensorrt or auto")
        if need not in available:
            raise DeviceError(f"--device {device} was requested but this onnxruntime has no {need} "
                              f"(available: {available}); install onnxruntime-gpu")
        if device == "cuda":
            return [cuda, "CPUExecutionProvider"]
        cache = Path(trt_cache or self.info.path.parent / "trt-cache")
        trt = ("TensorrtExecutionProvider", {"trt_engine_cache_enable": "1",
                                             "trt_engine_cache_path": str(cache),
                                             "trt_fp16_enable": "0"})
        return [trt, cuda, "CPUExecutionProvider"]

    @property
    def classes(self) -> tuple[str, ...]:
        return self.info.classes

    def run(self, z: np.ndarray, label: np.ndarray) -> np.ndarray:
        """One forward pass: model-space outputs for noise `z` and integer labels."""
        z = np.ascontiguousarray(z, np.float32)
        label = np.ascontiguousarray(label, np.int64)
        if not self._on_gpu:
            x = self.session.run(["x"], {"z": z, "label": label})[0]
        else:
            # On a GPU, bind inputs/outputs so ORT allocates the output on the device and
            # copies it back once, instead of staging through its own host buffers.
            binding = self.session.io_binding()
            binding.bind_cpu_input("z", z)
            binding.bind_cpu_input("label", label)
            binding.bind_output("x", "cuda")
            self.session.run_with_iobinding(binding)
            x = binding.copy_outputs_to_cpu()[0]
        if x.dtype.kind == "f" and not np.isfinite(x).all():  # NaN would quantize to arbitrary pixels or rows
            bad = np.unique(label[~np.isfinite(x).reshape(len(x), -1).all(1)])
            names = [self.info.classes[i] for i in bad[:10] if 0 <= i < len(self.info.classes)]
            raise UnsafeArtifactError(f"{self.info.path}: the graph returned NaN or infinite values for classes "
                                      f"{names}; the model is broken (re-export it from a healthy checkpoint)")
        return x

    def class_index(self, name: str) -> int:
        try:
            return self.info.classes.index(str(name))
        except ValueError:
            raise UnsafeArtifactError(f"class '{name}' is not in the model; its classes are: "
                                      f"{', '.join(self.info.classes)}") from None

    def iter_batches(self, counts: Mapping[str, int], seed: int = 0, batch_size: int = 256,
                     skip: Mapping[str, int] | None = None) -> Iterator[tuple[str, int, np.ndarray]]:
        """Yield (class name, index of the batch's first sample, model-space batch).

        `skip[c]` samples of class c are passed over (their noise is drawn and dropped), so
        a resumed job continues each class's stream exactly where it stopped."""
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1, got {batch_size}")
        for name, n in counts.items():
            label = self.class_index(name)
            first = min((skip or {}).get(name, 0), n)
            draw = noise_stream(seed, label, self.info.z_dim, skip=first)
            for start in range(first, n, batch_size):
                size = min(batch_size, n - start)
                yield name, start, self.run(draw(size), np.full(size, label, np.int64))

    def generate(self, counts: Mapping[str, int], seed: int = 0, batch_size: int = 256,
                 stored: bool = False) -> tuple[np.ndarray | pd.DataFrame, np.ndarray]:
        """All requested samples in memory, decoded: (pixels in [0, 1] or a DataFrame of
        rows in the training columns' dtypes, label indices). `stored`: exactly as written
        to disk (images quantized to 8 bits)."""
        xs, ys = [], []
        for name, _, x in self.iter_batches(counts, seed, batch_size):
            xs.append(x)
            ys.append(np.full(len(x), self.class_index(name), np.int64))
        x = np.concatenate(xs) if xs else np.zeros((0, *self.info.shape), np.float32)
        codec = self.info.codec
        return (codec.stored(x) if stored else codec.decode(x)), np.concatenate(ys) if ys else np.zeros(0, np.int64)
