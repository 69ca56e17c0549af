import hashlib
import json

import numpy as np
import onnx
import pytest

from augmentor.config.recipe import SynthesizeConfig
from augmentor.core.errors import DeviceError, UnsafeArtifactError
from augmentor.core.outputs import read_manifest
from augmentor.gan.checkpoint import latest_checkpoint
from augmentor.registry import generate_to_folder, generator_from_checkpoint, open_generator, read_model_info
from augmentor.synthesis.export import verify_onnx


def test_onnx_contract(tiny_model):
    _, path = tiny_model
    m = onnx.load(str(path))
    assert [i.name for i in m.graph.input] == ["z", "label"]
    assert [o.name for o in m.graph.output] == ["x"]
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert m.graph.input[1].type.tensor_type.elem_type == onnx.TensorProto.INT64
    for value in [*m.graph.input, *m.graph.output]:  # one symbolic batch axis, the rest fixed
        dims = value.type.tensor_type.shape.dim
        assert dims[0].dim_param and not dims[0].dim_value
        assert all(d.dim_value > 0 for d in dims[1:])
    info = read_model_info(path)
    assert info.classes == tuple(str(i) for i in range(10))
    assert info.shape == (1, 8, 8) and info.z_dim == 8
    assert len(info.data_fingerprint) == 64
    raw = path.read_bytes()  # no stack traces with this checkout's paths: same weights, same bytes anywhere
    assert b"stack_trace" not in raw and b"augmentor/models.py" not in raw


def test_parity_with_pytorch_over_every_class(tiny_model):
    run, path = tiny_model
    g, _ = generator_from_checkpoint(latest_checkpoint(run))
    worst = verify_onnx(path, g, batch_sizes=(1, 7, 64))
    assert worst["max_abs"] < 1e-4


def test_a_torch_without_the_torchscript_exporter_gets_the_dynamo_one(tiny_model, tmp_path, monkeypatch, caplog):
    """The fallback path, taken for real: the dynamo exporter's file passes the same verification and computes
    what the TorchScript one does."""
    import torch

    from augmentor.synthesis import export

    run, path = tiny_model
    g, _ = generator_from_checkpoint(latest_checkpoint(run))
    real = torch.onnx.export

    def without_torchscript(*args, dynamo=True, **kwargs):
        if not dynamo:
            raise RuntimeError("the TorchScript exporter was removed")
        return real(*args, dynamo=dynamo, **kwargs)

    monkeypatch.setattr(torch.onnx, "export", without_torchscript)
    out = tmp_path / "dynamo.onnx"
    with caplog.at_level("WARNING"):
        export._torch_export(g.eval().folded(), out, opset=18)
    assert "using the dynamo exporter" in caplog.text
    verify_onnx(out, g)
    z, label = np.random.default_rng(0).standard_normal((7, 8)).astype(np.float32), np.arange(7)
    import onnxruntime as ort

    got = [ort.InferenceSession(str(p)).run(["x"], {"z": z, "label": label})[0] for p in (path, out)]
    np.testing.assert_allclose(got[0], got[1], rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="exporter must be"):
        export._torch_export(g, out, opset=18, exporter="jit")


def test_dynamic_batch_and_exact_counts(tiny_model):
    gen = open_generator(tiny_model[1])
    assert gen.provider == "CPUExecutionProvider"
    x, y = gen.generate({"3": 5, "7": 300}, seed=1, batch_size=128)
    assert x.shape == (305, 1, 8, 8) and np.bincount(y, minlength=10)[[3, 7]].tolist() == [5, 300]
    assert 0 <= x.min() and x.max() <= 1


def test_noise_is_per_class_and_extends(tiny_model):
    gen = open_generator(tiny_model[1])
    a, _ = gen.generate({"3": 10}, seed=4)
    b, _ = gen.generate({"1": 50, "3": 20}, seed=4, batch_size=7)
    assert np.allclose(a, b[50:60], atol=1e-6)


def _tree_hash(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode())
            h.update(p.read_bytes())
    return h.hexdigest()


def test_same_seed_byte_identical_files(tiny_model, tmp_path):
    counts = {"0": 20, "4": 3}
    generate_to_folder(tiny_model[1], counts, tmp_path / "a", SynthesizeConfig(seed=3), progress=False)
    generate_to_folder(tiny_model[1], counts, tmp_path / "b", SynthesizeConfig(seed=3), progress=False)
    generate_to_folder(tiny_model[1], counts, tmp_path / "c", SynthesizeConfig(seed=4), progress=False)
    assert _tree_hash(tmp_path / "a") == _tree_hash(tmp_path / "b")
    assert _tree_hash(tmp_path / "a") != _tree_hash(tmp_path / "c")
    rows = read_manifest(tmp_path / "a")
    assert len(rows) == 23 and {r["source"] for r in rows} == {"synthetic"}
    sha = hashlib.sha256(tiny_model[1].read_bytes()).hexdigest()
    assert {r["model_sha256"] for r in rows} == {sha}
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == [".augmentor-output", "0", "4", "manifest.csv",
                                                             "model.json"]
    assert json.loads((tmp_path / "a" / "model.json").read_text())["model_sha256"] == sha


def _tampered(src, dst, edit):
    m = onnx.load(str(src))
    edit(m)
    onnx.save(m, str(dst))
    return dst


def test_bad_models_are_refused(tiny_model, tmp_path):
    src = tiny_model[1]

    def drop_meta(m):
        del m.metadata_props[:]

    def wrong_z(m):
        for p in m.metadata_props:
            if p.key == "augmentor.z_dim":
                p.value = "16"

    def bad_json(m):
        for p in m.metadata_props:
            if p.key == "augmentor.classes":
                p.value = "[not json"

    with pytest.raises(UnsafeArtifactError, match="missing augmentor metadata"):
        read_model_info(_tampered(src, tmp_path / "a.onnx", drop_meta))
    with pytest.raises(UnsafeArtifactError, match="z_dim=16"):
        read_model_info(_tampered(src, tmp_path / "b.onnx", wrong_z))
    with pytest.raises(UnsafeArtifactError, match="malformed"):
        read_model_info(_tampered(src, tmp_path / "c.onnx", bad_json))
    (tmp_path / "d.onnx").write_bytes(b"definitely not onnx")
    with pytest.raises(UnsafeArtifactError, match="not an ONNX model"):
        open_generator(tmp_path / "d.onnx")


def test_models_with_an_extra_output_or_nan_output_are_refused(tiny_model, tmp_path):
    from onnx import TensorProto, helper

    src = tiny_model[1]

    def extra_output(m):
        m.graph.output.append(helper.make_tensor_value_info("z_copy", TensorProto.FLOAT, None))
        m.graph.node.append(helper.make_node("Identity", ["z"], ["z_copy"]))

    def nan_output(m):
        for node in m.graph.node:
            node.output[:] = ["x_raw" if o == "x" else o for o in node.output]
        m.graph.initializer.append(helper.make_tensor("nan", TensorProto.FLOAT, [], [float("nan")]))
        m.graph.node.append(helper.make_node("Mul", ["x_raw", "nan"], ["x"]))

    with pytest.raises(UnsafeArtifactError, match="one output x"):
        open_generator(_tampered(src, tmp_path / "extra.onnx", extra_output))
    with pytest.raises(UnsafeArtifactError, match="NaN"):
        open_generator(_tampered(src, tmp_path / "nan.onnx", nan_output))


def test_cuda_request_never_falls_back_silently(tiny_model):
    try:
        gen = open_generator(tiny_model[1], device="cuda")
    except DeviceError as e:
        assert "cuda" in str(e).lower()
    else:  # a machine with a working GPU
        assert gen.provider == "CUDAExecutionProvider"


@pytest.mark.slow
def test_batchnorm_folding_keeps_outputs(tiny_model, tmp_path):
    import torch

    from augmentor.image.models import fold_batchnorm
    from augmentor.registry import export_onnx

    run, _ = tiny_model
    g, _ = generator_from_checkpoint(latest_checkpoint(run))
    folded = fold_batchnorm(g)
    z, y = torch.randn(33, g.z_dim), torch.arange(33) % 10
    with torch.no_grad():
        assert torch.allclose(folded(z, y), g(z, y), rtol=1e-4, atol=1e-5)
    assert not any(isinstance(m, torch.nn.BatchNorm2d) for m in folded.modules())
    plain = export_onnx(run, tmp_path / "plain.onnx", fold=False)
    ops = {n.op_type for n in onnx.load(str(plain)).graph.node}
    fused_ops = {n.op_type for n in onnx.load(str(tiny_model[1])).graph.node}
    assert "BatchNormalization" in ops and "BatchNormalization" not in fused_ops
    verify_onnx(tiny_model[1], g, batch_sizes=(1, 7, 64))  # folded file vs unfolded PyTorch


def test_fp16_export_keeps_float32_io_within_stated_tolerance(tiny_model, tmp_path):
    from augmentor.registry import export_onnx

    run, _ = tiny_model
    path = export_onnx(run, tmp_path / "half.onnx", fp16=True)  # verify_onnx ran with fp16 tolerance
    m = onnx.load(str(path))
    assert m.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert m.graph.output[0].type.tensor_type.elem_type == onnx.TensorProto.FLOAT
    assert any(t.data_type == onnx.TensorProto.FLOAT16 for t in m.graph.initializer)
    assert read_model_info(path).metadata["precision"] == "fp16"
    g, _ = generator_from_checkpoint(latest_checkpoint(run))
    worst = verify_onnx(path, g, "fp16", batch_sizes=(1, 7, 64))  # raises past the fp16 tolerance
    assert worst["max_abs"] > 0  # float16 arithmetic really happens inside


def test_npz_shards_hold_exactly_the_planned_samples(tiny_model, tmp_path):
    counts = {"2": 70, "5": 3, "9": 40}
    generate_to_folder(tiny_model[1], counts, tmp_path / "npz", SynthesizeConfig(seed=2, format="npz", shard_size=32),
                       progress=False)
    shards = sorted((tmp_path / "npz").glob("shard-*.npz"))
    assert len(shards) == 4  # 113 samples in shards of 32
    ys = np.concatenate([np.load(p)["y"] for p in shards])
    assert np.bincount(ys, minlength=10)[[2, 5, 9]].tolist() == [70, 3, 40] and len(ys) == 113
    # the same pixels as the PNG path, read back through the manifest
    generate_to_folder(tiny_model[1], counts, tmp_path / "png", SynthesizeConfig(seed=2), progress=False)
    from augmentor.image.writer import read_samples

    classes = tuple(str(i) for i in range(10))
    a, b = read_samples(tmp_path / "npz", classes), read_samples(tmp_path / "png", classes)
    assert np.array_equal(a.x, b.x) and np.array_equal(a.y, b.y)


def test_png_worker_processes_write_the_same_bytes(tiny_model, tmp_path):
    counts = {"1": 300, "8": 200}
    generate_to_folder(tiny_model[1], counts, tmp_path / "one", SynthesizeConfig(seed=5, workers=0), progress=False)
    generate_to_folder(tiny_model[1], counts, tmp_path / "two", SynthesizeConfig(seed=5, workers=2, batch_size=64),
                       progress=False)
    assert _tree_hash(tmp_path / "one") == _tree_hash(tmp_path / "two")


def test_max_samples_guard(tiny_model, tmp_path):
    from click.testing import CliRunner

    from augmentor.cli import cli

    r = CliRunner().invoke(cli, ["generate", str(tiny_model[1]), "--counts", "1=2000000",
                                 "--out", str(tmp_path / "o"), "--max-samples", "1000"])
    assert r.exit_code == 2 and "--max-samples" in r.output
    assert not (tmp_path / "o").exists()
