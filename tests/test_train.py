import pickle
import re
import shutil
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from augmentor.config.recipe import with_overrides
from augmentor.core.errors import OutputExistsError, UnsafeArtifactError
from augmentor.gan.checkpoint import list_checkpoints, load_checkpoint
from augmentor.gan.train import train
from augmentor.registry import export_onnx, load_dataset

PACKAGE = Path(__file__).resolve().parents[1] / "augmentor"


def _weights(path):
    return load_file(str(path))


def _assert_same(a: dict, b: dict):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def test_training_writes_log_grid_and_checkpoints(tmp_path, image_folder, tiny_recipe):
    d = load_dataset(image_folder)
    last = train(d, tmp_path / "run", with_overrides(tiny_recipe, {"train.epochs": 12}), progress=False).checkpoint
    assert last.name == "step-0000012.safetensors"
    assert [p.name for p in list_checkpoints(tmp_path / "run")] == ["step-0000010.safetensors",
                                                                    "step-0000012.safetensors"]
    log = (tmp_path / "run" / "log.csv").read_text().splitlines()
    assert log[0].startswith("step,") and len(log) == 1 + 3  # steps 5, 10, 12
    assert (tmp_path / "run" / "samples" / "step-0000012.png").is_file()
    _, state = load_checkpoint(last)
    assert state["step"] == 12 and state["classes"] == ["cat", "dog", "eel"]


def test_same_seed_same_weights(tmp_path, image_folder, tiny_recipe):
    d = load_dataset(image_folder)
    a = train(d, tmp_path / "a", tiny_recipe, progress=False).checkpoint
    b = train(d, tmp_path / "b", tiny_recipe, progress=False).checkpoint
    _assert_same(_weights(a), _weights(b))
    c = train(d, tmp_path / "c", with_overrides(tiny_recipe, {"train.seed": 1}), progress=False).checkpoint
    assert not torch.equal(_weights(a)["ema.fc.weight"], _weights(c)["ema.fc.weight"])


def test_resume_equals_continuing(tmp_path, image_folder, tiny_recipe):
    d = load_dataset(image_folder)
    full = train(d, tmp_path / "full", with_overrides(tiny_recipe, {"train.epochs": 8}), progress=False).checkpoint
    train(d, tmp_path / "part", with_overrides(tiny_recipe, {"train.epochs": 3}), progress=False)
    resumed = train(d, tmp_path / "part", with_overrides(tiny_recipe, {"train.epochs": 8}),
                    resume=True, progress=False).checkpoint
    assert resumed.name == full.name
    _assert_same(_weights(full), _weights(resumed))


def test_existing_run_is_not_overwritten(tmp_path, image_folder, tiny_recipe):
    d = load_dataset(image_folder)
    train(d, tmp_path / "run", tiny_recipe, progress=False)
    with pytest.raises(OutputExistsError, match="--resume"):
        train(d, tmp_path / "run", tiny_recipe, progress=False)


def test_resume_on_other_data_is_refused(tmp_path, image_folder, tiny_recipe):
    train(load_dataset(image_folder), tmp_path / "run", tiny_recipe, progress=False)
    other = load_dataset(image_folder, image_size=8, channels=3)
    with pytest.raises(UnsafeArtifactError):
        train(other, tmp_path / "run", tiny_recipe, resume=True, progress=False)


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (Path(self.marker), "pwned"))


def test_pickled_checkpoint_is_refused_and_never_runs(tmp_path, image_folder, tiny_recipe):
    marker = tmp_path / "marker"
    ckpt = tmp_path / "run" / "checkpoints" / "step-0000099.safetensors"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(pickle.dumps(_Payload(str(marker))))
    torch.save({"payload": _Payload(str(marker))}, tmp_path / "run" / "checkpoints" / "x.pt")
    with pytest.raises(UnsafeArtifactError, match="pickled files are never loaded"):
        train(load_dataset(image_folder), tmp_path / "run", tiny_recipe, resume=True, progress=False)
    with pytest.raises(UnsafeArtifactError):
        export_onnx(tmp_path / "run")
    with pytest.raises(UnsafeArtifactError):
        load_checkpoint(tmp_path / "run" / "checkpoints" / "x.pt")
    assert not marker.exists()


def test_source_never_unpickles():
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        for call in re.findall(r"torch\.load\([^)]*\)", text):
            assert "weights_only=True" in call, f"{path}: {call}"
        assert not re.search(r"\bpickle\.loads?\(|\bdill\.", text), path


def test_guidance_weight_is_off_then_ramps_to_full(tiny_recipe):
    from augmentor.gan.train import guidance_weight

    cfg = with_overrides(tiny_recipe, {"train.class_guidance": 0.4, "train.guidance_start": 0.5}).train
    weights = [guidance_weight(cfg, s, 100) for s in (0, 49, 50, 60, 75, 99)]
    assert weights[:3] == [0.0, 0.0, 0.0]
    assert weights[3] == pytest.approx(0.4 * 10 / 25) and weights[4] == weights[5] == pytest.approx(0.4)
    assert guidance_weight(tiny_recipe.train, 99, 100) == 0.0  # off by default


def test_class_guidance_changes_g_stores_its_classifier_and_resumes_exactly(tmp_path, image_folder, tiny_recipe):
    d = load_dataset(image_folder)
    # the guidance schedule depends on the run's total steps: resume the same recipe from a mid-run checkpoint
    guided = with_overrides(tiny_recipe, {"train.class_guidance": 1.0, "train.guidance_start": 0.25,
                                          "train.guidance_steps": 20, "train.epochs": 8,
                                          "train.checkpoint_every": 3})
    full = train(d, tmp_path / "full", guided, progress=False).checkpoint
    plain = train(d, tmp_path / "plain", with_overrides(tiny_recipe, {"train.epochs": 8}), progress=False).checkpoint
    weights = _weights(full)
    assert any(k.startswith("cls.") for k in weights)  # the classifier travels with the run
    assert not torch.equal(weights["g.fc.weight"], _weights(plain)["g.fc.weight"])
    shutil.copytree(tmp_path / "full", tmp_path / "part")
    for later in list_checkpoints(tmp_path / "part")[1:]:  # keep step 3 only: an interrupted run
        later.unlink()
    resumed = train(d, tmp_path / "part", guided, resume=True, progress=False).checkpoint
    assert resumed.name == full.name
    _assert_same(weights, _weights(resumed))


def test_group_spectral_penalty_is_zero_at_init_and_shrinks_a_collapsed_class(tmp_path, image_folder, tiny_recipe):
    from augmentor.image.models import ConditionalBatchNorm2d, build_models, group_spectral_penalty

    g, _ = build_models(3, (1, 16, 16), 16, 16, 16)
    assert float(group_spectral_penalty(g).detach()) == 0.0  # gains 1, biases 0: no deviation to penalise
    cbn = next(m for m in g.modules() if isinstance(m, ConditionalBatchNorm2d))
    with torch.no_grad():
        cbn.gain.weight[2] += 0.5  # one class's gains all move together: a rank-one, collapsed direction
    before = float(group_spectral_penalty(g).detach())
    assert before > 0
    opt = torch.optim.SGD(g.parameters(), lr=0.1)
    group_spectral_penalty(g).backward()
    opt.step()
    assert float(group_spectral_penalty(g).detach()) < before
    assert torch.equal(cbn.gain.weight[0], torch.ones_like(cbn.gain.weight[0]))  # other classes untouched
    # the option trains on images and changes G
    d = load_dataset(image_folder)
    plain = train(d, tmp_path / "a", with_overrides(tiny_recipe, {"train.epochs": 2}), progress=False).checkpoint
    gsr = train(d, tmp_path / "b", with_overrides(tiny_recipe, {"train.epochs": 2, "train.gsr": 1.0}),
                progress=False).checkpoint
    assert any(not torch.equal(a, b) for a, b in zip(_weights(plain).values(), _weights(gsr).values()))


def test_uncond_low_scores_coarse_images_without_the_class_and_keeps_the_base_norm_unconditional(
        tmp_path, image_folder, tiny_recipe):
    from augmentor.image.models import base_factor, build_models, coarse

    assert base_factor(28, 28) == 4 and base_factor(16, 16) == 4 and base_factor(32, 32) == 8
    x = torch.arange(16.0).reshape(1, 1, 4, 4)
    low = coarse(x, 2)
    assert low.shape == x.shape and torch.equal(low[0, 0, :2, :2], torch.full((2, 2), 2.5))  # mean of 0, 1, 4, 5
    _, d = build_models(3, (1, 16, 16), 16, 16, 16)
    d.eval()  # no spectral-norm power iteration between the calls
    imgs = torch.randn(4, 1, 16, 16)
    off = torch.zeros(4)
    # without the projection the score cannot depend on the class; with it, it does
    assert torch.allclose(d(imgs, torch.zeros(4, dtype=torch.long), off), d(imgs, torch.full((4,), 2), off))
    with torch.no_grad():
        d.embed.parametrizations.weight.original.normal_()
    assert not torch.allclose(d(imgs, torch.zeros(4, dtype=torch.long)), d(imgs, torch.full((4,), 2)))
    data = load_dataset(image_folder)
    plain = train(data, tmp_path / "a", with_overrides(tiny_recipe, {"train.epochs": 2}), progress=False).checkpoint
    utlo = train(data, tmp_path / "b", with_overrides(tiny_recipe, {"train.epochs": 2, "train.uncond_low": 1.0}),
                 progress=False)
    weights = _weights(utlo.checkpoint)
    assert any(not torch.equal(weights[k], v) for k, v in _weights(plain).items() if k in weights)
    base = utlo.generator.blocks[0].norm1  # fixed at the unconditional (1, 0) for every class
    assert torch.equal(base.gain.weight, torch.ones_like(base.gain.weight))
    assert torch.equal(base.bias.weight, torch.zeros_like(base.bias.weight))
    later = utlo.generator.blocks[0].norm2  # the next one still learns per class
    assert not torch.equal(later.gain.weight, torch.ones_like(later.gain.weight))
