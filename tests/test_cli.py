"""The whole pipeline through the CLI on tiny real data, and each stage alone."""

import hashlib
import json

import numpy as np
import pytest
from click.testing import CliRunner

from augmentor.cli import cli
from augmentor.core.outputs import read_manifest
from augmentor.registry import load_dataset


def invoke(*args):
    result = CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)
    return result


def tree_hash(root):
    h = hashlib.sha256()
    for p in sorted(root.rglob("*")):
        if p.is_file():
            h.update(str(p.relative_to(root)).encode() + p.read_bytes())
    return h.hexdigest()


TINY_TOML = """
name = "tiny"
[data]
train = "builtin:digits"
test_fraction = 0.5     # a smaller training split: the plumbing of every stage, not the model
[data.imbalance]
profile = "step"
classes = ["0", "1"]
keep = 0.1
[model]
z_dim = 8
g_channels = 32
d_channels = 16
[train]
epochs = 1
batch_size = 128
[evaluate]
seeds = 2
gan_seeds = 2           # two GANs: compared at the GAN level, too few for a verdict word
confirm_seeds = 3
confirm_power = 0        # exactly confirm_seeds (the seed plan: test_seed_plan.py)
epochs = 1
batch_size = 128        # 9 steps a fit: the plumbing of every arm, not the model
doses = [0.5]
filter_threshold = 0.000001  # any p > 0 passes: checks the plumbing, not the model
rebalancing = ["none", "oversample", "logit-adjust"]
fold_below = 0          # choices on the validation split (the k-fold path has its own test in test_evaluation.py)
mixup = [0.2]
"""


@pytest.mark.slow
def test_run_whole_pipeline(tmp_path):
    recipe = tmp_path / "tiny.toml"
    recipe.write_text(TINY_TOML)
    r = invoke("run", recipe, "--out", tmp_path / "run", "--report", tmp_path / "report", "-q")
    assert r.exit_code == 0, r.output
    report = tmp_path / "report"
    for name in ("report.md", "report.html", "results.json", "per_class.csv", "forest-0.png", "recall-0.png",
                 "search-0.png", "samples.png", "real-vs-gan.png", ".augmentor-output"):
        assert (report / name).is_file(), name
    assert "The answer" in (report / "report.html").read_text() and "open: " in r.output
    results = json.loads((report / "results.json").read_text())
    arms = results["classifiers"]["SmallCNN"]["arms"]
    names = list(arms)
    search = results["classifiers"]["SmallCNN"]["search"]
    w = search["chosen"]
    # the declared grid: rebalancing x classic {none, affine, pad-crop} (the default candidates) x mixup {0, 0.2}
    grid = results["protocol"]["grid"]
    assert grid == {"rebalancing": ["none", "oversample", "logit-adjust"], "classic": ["affine", "pad-crop"],
                    "mixup": [0.2]}
    assert search["cells"] == 3 * 3 * 2 and names[0] == "real"
    for name in ("real+oversampled", "real+classic (affine)+logit-adjusted",
                 "real+classic (pad-crop)+oversampled+mixup 0.2", "real+classic (affine)+mixup 0.2",
                 "real+synthetic" + w[4:],
                 "real+synthetic x0.5" + w[4:], "real+synthetic (filtered)" + w[4:], "real+online-synthetic" + w[4:],
                 "synthetic-only"):
        assert name in arms or name in search["stages"][0]["balanced_accuracy"], name
    teacher = [n for n in names if n.startswith("real+synthetic (teacher)")]
    assert len(teacher) == 1 and arms[teacher[0]]["loss"] in ("ce", "logit-adjust", "drw")
    h = results["headline"]
    confirmatory = {h["gan_arm"], h["best_non_gan_arm"], "real"}
    if "(teacher" in h["gan_arm"]:  # a teacher arm's teacher is fitted on the same (confirmatory) seeds
        confirmatory.add("real" + h["gan_arm"].split(")", 1)[1])
    stage2 = search["stages"][-1]["balanced_accuracy"]
    assert all(a["seeds"] == (3 if n in confirmatory else 2 if n in stage2 or a["uses_gan"] else 1)
               for n, a in arms.items()), {n: a["seeds"] for n, a in arms.items()}
    d = h["difference"]  # at the GAN level: 2 GANs, the 3 seeds grouped by GAN; too few GANs for a verdict word
    assert d["n"] == 2 and d["seeds"] == 3 and d["gan_trainings"] == 2 and d["role"] == "confirmatory"
    assert [g["seeds"] for g in d["per_gan_seed"]] == [2, 1] and d["verdict"] == "not enough evidence"
    assert "2 GAN trainings" in d["verdict_reason"]
    assert all("verdict" not in a["vs_real"] for n, a in arms.items() if n != "real")  # exploratory: no word
    assert sum(results["validation_counts"]) > 0 and results["variance_sources"]["test-set sampling"] is True
    assert results["variance_sources"]["GAN training (2 GANs; the seeds grouped by GAN)"] is True
    assert (tmp_path / "run" / "gan-1" / "generator.onnx").is_file()
    ref = results["classifiers"]["SmallCNN"]["reference"]["name"]
    assert arms["real+synthetic" + w[4:]]["vs_reference"]["reference"] == ref == w
    assert set(results["fidelity"]) == {"synthetic (gap-filling)", "synthetic (filtered)", "synthetic-only"}
    assert {"0", "1"} <= set(results["quality_filter"]["per_class"])
    # the gap-filling GAN arm fills every class to the majority (with the winner's resampling or loss on top)
    assert len(set(arms["real+synthetic" + w[4:]]["train_counts"])) == 1
    md = (report / "report.md").read_text()
    assert "Non-GAN search for SmallCNN" in md and "Best without a GAN for SmallCNN" in md
    assert md.splitlines()[2] == "## The answer" and "real+oversampled" in md and "Target" not in md
    assert "## Fidelity" in md and "## Quality filter" in md and "## Splits" in md and "Holm" in md
    assert "## Memorisation" in md and "## Estimates: SmallCNN" in md
    assert results["headline"]["best_non_gan_arm"] == ref and set(results["memorisation"]) == set(results["fidelity"])
    # report.md is made from the typed results alone: re-rendering from results.json gives the same text
    from augmentor.report.render import rerender

    rerender(report)
    assert (report / "report.md").read_text() == md
    # re-running over an existing run is refused, not silently overwritten
    r = invoke("run", recipe, "--out", tmp_path / "run", "--report", tmp_path / "report", "-q")
    assert r.exit_code == 2 and "--overwrite" in r.output


@pytest.mark.slow
def test_stages_one_by_one(tmp_path, image_folder):
    before = tree_hash(image_folder)
    recipe = tmp_path / "r.toml"
    recipe.write_text("[model]\nz_dim = 8\ng_channels = 32\nd_channels = 16\n"
                      "[train]\nbatch_size = 8\ncheckpoint_every = 4\n")
    r = invoke("inspect", image_folder)
    assert r.exit_code == 0 and "cat" in r.output and "+minority" in r.output
    r = invoke("train", image_folder, "--out", tmp_path / "run", "--recipe", recipe, "--epochs", 3, "-q")
    assert r.exit_code == 0, r.output
    r = invoke("export", tmp_path / "run", "-q")
    assert r.exit_code == 0, r.output
    model = tmp_path / "run" / "generator.onnx"

    r = invoke("generate", model, "--counts", "dog=5,eel=2", "--out", tmp_path / "gen", "-q")
    assert r.exit_code == 0, r.output
    assert len(list((tmp_path / "gen" / "dog").glob("*.png"))) == 5

    r = invoke("synthesize", model, "--data", image_folder, "--out", tmp_path / "syn", "-q")
    assert r.exit_code == 0, r.output
    rows = read_manifest(tmp_path / "syn")
    assert {c: sum(r["class"] == c for r in rows) for c in ("dog", "eel")} == {"dog": 2, "eel": 3}

    r = invoke("synthesize", model, "--data", image_folder, "--out", tmp_path / "merged",
               "--include-real", "--strategy", "cat=8,dog=8,eel=8", "-q")
    assert r.exit_code == 0, r.output
    merged = load_dataset(tmp_path / "merged")
    assert merged.counts() == {"cat": 8, "dog": 8, "eel": 8}
    assert sum(r["source"] == "real" for r in read_manifest(tmp_path / "merged")) == 13

    # existing output is refused; output inside the data is refused
    r = invoke("synthesize", model, "--data", image_folder, "--out", tmp_path / "syn", "-q")
    assert r.exit_code == 2 and "--overwrite" in r.output
    r = invoke("synthesize", model, "--data", image_folder, "--out", image_folder / "cat" / "x", "-q")
    assert r.exit_code == 2 and "overlaps the input" in r.output

    # the GAN was trained on image_folder: validation carved out of it would judge the GAN on its own data
    args = ("evaluate", "--train", image_folder, "--test", image_folder, "--synthetic", tmp_path / "syn",
            "--synthetic-only", tmp_path / "gen", "--report", tmp_path / "rep", "--seeds", 2, "--epochs", 1, "-q")
    r = invoke(*args)
    assert r.exit_code == 2 and "--validation" in r.output and "Traceback" not in r.output
    assert len(r.output.strip().splitlines()) == 1 and not (tmp_path / "rep").exists()
    r = invoke(*args, "--validation", image_folder, "--confirm-seeds", 3)
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "report.md").is_file()
    assert tree_hash(image_folder) == before


def test_bad_input_is_a_clear_error_with_exit_code_2(tmp_path, image_folder):
    (image_folder / "cat" / "000.png").write_bytes(b"")
    r = invoke("inspect", image_folder)
    assert r.exit_code == 2
    assert "000.png" in r.output and "Traceback" not in r.output
    r = invoke("generate", tmp_path / "missing.onnx", "--counts", "a=1", "--out", tmp_path / "o")
    assert r.exit_code == 2 and "model not found" in r.output


def test_help_has_examples():
    for cmd in ("inspect", "train", "export", "generate", "synthesize", "evaluate", "run", "calibrate"):
        r = invoke(cmd, "--help")
        assert r.exit_code == 0 and "Example" in r.output, cmd


def test_synthesize_loads_data_at_model_resolution(tiny_model, tmp_path):
    x = (np.random.default_rng(0).random((6, 16, 16)) * 255).astype(np.uint8)
    np.savez(tmp_path / "d.npz", x=x, y=np.array([0, 0, 0, 1, 1, 1]), classes=np.array(["3", "5"]))
    r = invoke("synthesize", tiny_model[1], "--data", tmp_path / "d.npz", "--out", tmp_path / "o",
               "--strategy", "3=5,5=4", "-q")
    assert r.exit_code == 0, r.output
    assert len(read_manifest(tmp_path / "o")) == 3


def test_generation_and_help_never_import_torch():
    import subprocess
    import sys

    for code in ("import augmentor.synthesis.runtime", "import augmentor.synthesis.synthesize", "import augmentor.cli"):
        r = subprocess.run([sys.executable, "-X", "importtime", "-c", code], capture_output=True, text=True,
                           check=True)
        imported = {line.rsplit("|", 1)[-1].strip() for line in r.stderr.splitlines()}
        assert "torch" not in imported, code


def test_evaluate_cli_defaults_to_the_calibrated_confirmatory_seeds():
    from augmentor.config.recipe import EvaluateConfig

    option = next(p for p in cli.commands["evaluate"].params if p.name == "confirm_seeds")
    assert option.default == EvaluateConfig().confirm_seeds == 6  # verdict-calibration-mnist-smallcnn.md
