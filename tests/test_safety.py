"""Untrusted models and ordinary mistakes: nothing is written outside the output, nothing of
the user's is removed, and every bad input is one line with exit code 2."""

import csv
import json
import os
import signal
import struct
import subprocess
import sys
import time
import zlib

import numpy as np
import onnx
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from augmentor.cli import cli
from augmentor.config.recipe import RULES, SynthesizeConfig, recipe_from_dict
from augmentor.core.errors import InvalidDataError, RecipeError, UnsafeArtifactError
from augmentor.core.names import check_class_names
from augmentor.core.outputs import output_lock, split_ref
from augmentor.image.writer import read_samples
from augmentor.registry import generate_to_folder, load_dataset, open_generator, read_model_info

from .conftest import make_image_folder, tree_hash, tree_listing


def run_cli(*args):
    """In-process CLI; a traceback would surface as result.exception with exit code 1."""
    return CliRunner().invoke(cli, [str(a) for a in args])


def assert_user_error(result, *words):
    assert result.exit_code == 2, (result.exit_code, result.output, result.exception)
    assert "Traceback" not in result.output
    for w in words:
        assert w in result.output, result.output


def with_meta(src, dst, **values):
    """A copy of model `src` with augmentor metadata keys replaced (a crafted model)."""
    m = onnx.load(str(src))
    for p in m.metadata_props:
        key = p.key.removeprefix("augmentor.")
        if key in values:
            p.value = values[key] if isinstance(values[key], str) else json.dumps(values[key])
    onnx.save(m, str(dst))
    return dst


def digit_names(first):
    return [first] + [str(i) for i in range(1, 10)]


# --- class names are data, never paths --------------------------------------------------------

@pytest.mark.parametrize("bad", ["", ".", "..", "a/b", "../../escaped", "/tmp/x/escaped", "x/", "a\\b",
                                 "nul\x00", "tab\there", "é" * 101, ".hidden", " padded"])
def test_unsafe_class_names_are_refused(bad):
    with pytest.raises(InvalidDataError, match="class name"):
        check_class_names(["ok", bad], "where")


def test_names_that_differ_only_in_case_are_refused():
    with pytest.raises(InvalidDataError, match="differ only in case"):
        check_class_names(["Cat", "cat"], "where")
    with pytest.raises(InvalidDataError, match="twice"):
        check_class_names(["a", "a"], "where")
    assert check_class_names(["C#", "x y", "état", "1=2"], "where") == ("C#", "x y", "état", "1=2")


@pytest.mark.parametrize("evil", ["ABS", "../../escaped", "x/"])
def test_crafted_class_name_models_write_nothing_outside_out(tiny_model, tmp_path, evil):
    work = tmp_path / "work"
    work.mkdir()
    (work / "victim").mkdir()  # an empty folder a model might name, beside --out
    name = str(tmp_path / "escaped") if evil == "ABS" else evil
    model = with_meta(tiny_model[1], work / "evil.onnx", classes=digit_names(name))
    data = make_image_folder(work / "imgs", {"1": 3, "2": 3})
    before = tree_listing(tmp_path)
    r = run_cli("generate", model, "--counts", f"{name}=2,1=1", "--out", work / "o" / "g")
    assert_user_error(r, "class name")
    r = run_cli("synthesize", model, "--data", data, "--out", work / "o" / "s")
    assert_user_error(r, "class name")
    with pytest.raises(UnsafeArtifactError, match="class name"):
        open_generator(model)
    assert tree_listing(tmp_path) == before
    assert (work / "victim").is_dir()


def test_a_class_nobody_asked_for_gets_no_folder(tiny_model, tmp_path):
    res = generate_to_folder(tiny_model[1], {"3": 2}, tmp_path / "o", progress=False)
    assert sorted(p.name for p in res.out.iterdir() if p.is_dir()) == ["3"]


def test_hash_in_a_class_name_round_trips_and_resumes(tiny_model, tmp_path):
    model = with_meta(tiny_model[1], tmp_path / "m.onnx", classes=digit_names("C#0"))
    assert split_ref("C#0/syn-s0-000001.png") == ("C#0/syn-s0-000001.png", None)
    assert split_ref("shard-00002.npz#17") == ("shard-00002.npz", 17)
    for fmt in ("png", "npz"):
        out = tmp_path / fmt
        generate_to_folder(model, {"C#0": 3, "1": 2}, out, SynthesizeConfig(format=fmt), progress=False)
        back = read_samples(out, tuple(digit_names("C#0")))
        assert np.bincount(back.y).tolist() == [3, 2]


# --- one overlap check before any work; --overwrite only replaces augmentor's outputs --------

def _dataset_in(root):
    return make_image_folder(root / "data", {"0": 3, "1": 3})


def test_run_resume_with_report_around_the_data_is_refused(tmp_path):
    d = tmp_path / "d"
    _dataset_in(d)
    recipe = tmp_path / "r.toml"
    recipe.write_text(f'[data]\ntrain = "{d / "data"}"\n[train]\nepochs = 1\n')
    before = tree_hash(d)
    r = run_cli("run", recipe, "--resume", "--out", tmp_path / "run", "--report", d)
    assert_user_error(r, "overlaps the input")
    assert tree_hash(d) == before
    assert not (tmp_path / "run").exists()


def test_evaluate_report_over_the_data_is_refused(tmp_path):
    d = tmp_path / "d"
    data = _dataset_in(d)
    before = tree_hash(d)
    r = run_cli("evaluate", "--train", data, "--test", data, "--report", d, "--overwrite")
    assert_user_error(r, "overlaps the input")
    assert tree_hash(d) == before


def test_symlinked_class_folder_is_protected(tiny_model, tmp_path):
    real = make_image_folder(tmp_path / "real", {"0": 3, "1": 3})
    data = tmp_path / "data"
    data.mkdir()
    (data / "0").symlink_to(real / "0")
    (data / "1").symlink_to(real / "1")
    before = tree_hash(real)
    r = run_cli("synthesize", tiny_model[1], "--data", data, "--out", real / "0", "--overwrite")
    assert_user_error(r, "overlaps the input", "through")
    r = run_cli("synthesize", tiny_model[1], "--data", data, "--out", real, "--overwrite")
    assert_user_error(r, "overlaps the input")
    assert tree_hash(real) == before


def test_train_into_the_data_is_refused(tmp_path):
    data = _dataset_in(tmp_path / "d")
    before = tree_hash(data)
    assert_user_error(run_cli("train", data, "--out", data), "overlaps the input")
    assert_user_error(run_cli("train", data, "--out", data / "0" / "run"), "overlaps the input")
    assert tree_hash(data) == before
    assert load_dataset(data).classes == ("0", "1")


def test_overwrite_never_replaces_a_file_or_a_folder_augmentor_did_not_write(tiny_model, tmp_path):
    afile = tmp_path / "afile.txt"
    afile.write_text("mine")
    r = run_cli("generate", tiny_model[1], "--counts", "1=2", "--out", afile, "--overwrite")
    assert_user_error(r, "not a folder")
    assert afile.read_text() == "mine"
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "notes.txt").write_text("keep")
    r = run_cli("generate", tiny_model[1], "--counts", "1=2", "--out", mine, "--overwrite")
    assert_user_error(r, "not written by augmentor")
    assert (mine / "notes.txt").read_text() == "keep"
    assert sorted(os.listdir(tmp_path)) == ["afile.txt", "mine"]  # no .old, no lock left behind
    # augmentor's own output is replaced with --overwrite, and only with it
    out = tmp_path / "ours"
    assert run_cli("generate", tiny_model[1], "--counts", "1=2", "--out", out).exit_code == 0
    assert_user_error(run_cli("generate", tiny_model[1], "--counts", "1=3", "--out", out), "--overwrite")
    assert run_cli("generate", tiny_model[1], "--counts", "1=3", "--out", out, "--overwrite").exit_code == 0
    assert len(read_samples(out, tuple(digit_names("0")))) == 3


def test_out_dot_is_refused(tiny_model, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert_user_error(run_cli("generate", tiny_model[1], "--counts", "1=2", "--out", "."), "--out")
    assert os.listdir(tmp_path) == []


# --- a lock on each output --------------------------------------------------------------------

@pytest.mark.slow
def test_a_second_process_on_a_locked_output_gets_a_clear_error(tiny_model, tmp_path):
    out = tmp_path / "o"
    with output_lock(out):
        r = subprocess.run([sys.executable, "-m", "augmentor.cli", "generate", str(tiny_model[1]),
                            "--counts", "1=2", "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 2 and "another augmentor process" in r.stderr, r.stderr
    assert not out.exists()


@pytest.mark.slow
def test_two_concurrent_generates_one_wins_whole(tiny_model, tmp_path):
    out = tmp_path / "o"
    lock = tmp_path / ".o.lock"
    first = subprocess.Popen([sys.executable, "-m", "augmentor.cli", "generate", str(tiny_model[1]),
                              "--counts", "1=6000,2=6000", "--workers", "0", "-q", "--out", str(out)])
    deadline = time.time() + 60
    while not lock.exists() and time.time() < deadline:
        time.sleep(0.01)
    second = run_cli("generate", tiny_model[1], "--counts", "3=5", "--out", out)
    assert first.wait(120) == 0
    assert first.returncode == 0
    assert_user_error(second, "another augmentor process")
    with (out / "manifest.csv").open() as f:
        rows = list(csv.DictReader(f))
    assert len(rows) == 12000 and {r["class"] for r in rows} == {"1", "2"}
    assert sorted(r["file"] for r in rows) == sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))


# --- untrusted ONNX, bounded ------------------------------------------------------------------

def test_model_shape_outside_8_to_64_px_is_refused(tiny_model, tmp_path):
    m = onnx.load(str(tiny_model[1]))
    for d in m.graph.output[0].type.tensor_type.shape.dim[2:]:
        d.Clear()
        d.dim_param = "side"  # dynamic output dims, so only the metadata speaks
    for p in m.metadata_props:
        if p.key == "augmentor.shape":
            p.value = "[1, 100000, 100000]"
    onnx.save(m, str(tmp_path / "huge.onnx"))
    with pytest.raises(UnsafeArtifactError, match="8..64"):
        read_model_info(tmp_path / "huge.onnx")
    for p in m.metadata_props:
        if p.key == "augmentor.shape":
            p.value = "[1, 16, 16]"  # in range, but not what the graph makes
    onnx.save(m, str(tmp_path / "liar.onnx"))
    with pytest.raises(UnsafeArtifactError, match="the graph returns"):
        open_generator(tmp_path / "liar.onnx")


def test_more_classes_than_the_graph_holds_are_refused(tiny_model, tmp_path):
    model = with_meta(tiny_model[1], tmp_path / "m.onnx", classes=[str(i) for i in range(12)])
    with pytest.raises(UnsafeArtifactError, match="graph fails for classes"):
        open_generator(model)
    assert_user_error(run_cli("generate", model, "--counts", "11=1", "--out", tmp_path / "o"), "graph fails")


def test_external_data_and_deep_codec_json_are_refused(tiny_model, tmp_path):
    m = onnx.load(str(tiny_model[1]))
    init = m.graph.initializer[0]
    init.data_location = onnx.TensorProto.EXTERNAL
    entry = init.external_data.add()
    entry.key, entry.value = "location", "../../secret.bin"
    (tmp_path / "ext.onnx").write_bytes(m.SerializeToString())  # onnx.save would refuse it too
    assert_user_error(run_cli("generate", tmp_path / "ext.onnx", "--counts", "1=1", "--out", tmp_path / "o"),
                      "external data")
    deep = with_meta(tiny_model[1], tmp_path / "deep.onnx", codec="[" * 100_000 + "]" * 100_000)
    assert_user_error(run_cli("generate", deep, "--counts", "1=1", "--out", tmp_path / "o"), "nested deeper")


# --- resource limits --------------------------------------------------------------------------

def _forged_png(path, width, height):
    """A valid 8x8 PNG whose header claims width x height (CRC fixed): a decompression bomb."""
    Image.new("L", (8, 8)).save(path)
    b = bytearray(path.read_bytes())
    b[16:24] = struct.pack(">II", width, height)
    b[29:33] = struct.pack(">I", zlib.crc32(bytes(b[12:29])))
    path.write_bytes(bytes(b))


@pytest.mark.parametrize("side", [10_000, 20_000])
def test_pixel_bombs_are_refused_before_decoding(tmp_path, side):
    data = make_image_folder(tmp_path / "d", {"a": 2, "b": 2})
    _forged_png(data / "a" / "bomb.png", side, side)
    with pytest.raises(InvalidDataError, match="bomb.png"):
        load_dataset(data)
    assert_user_error(run_cli("inspect", data), "bomb.png")


def test_synthesize_has_a_sample_cap(tiny_model, tmp_path):
    data = make_image_folder(tmp_path / "d", {"1": 3, "2": 9})
    assert_user_error(run_cli("synthesize", tiny_model[1], "--data", data, "--out", tmp_path / "o",
                              "--strategy", "1000000000000"), "1000000000000")
    assert_user_error(run_cli("synthesize", tiny_model[1], "--data", data, "--out", tmp_path / "o",
                              "--strategy", "auto", "--max-samples", "5"), "plans 6 samples", "limit of 5")
    assert not (tmp_path / "o").exists()


def test_generation_larger_than_the_free_disk_is_refused(tiny_model, tmp_path, monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "disk_usage", lambda p: shutil._ntuple_diskusage(10**9, 10**9 - 1000, 1000))
    assert_user_error(run_cli("generate", tiny_model[1], "--counts", "1=100", "--out", tmp_path / "o"), "GB free")
    assert not (tmp_path / "o").exists()


@pytest.mark.slow
def test_sigkill_of_generate_leaves_no_worker_behind(tiny_model, tmp_path):
    proc = subprocess.Popen([sys.executable, "-m", "augmentor.cli", "generate", str(tiny_model[1]),
                             "--counts", "1=200000", "--workers", "2", "-q", "--out", str(tmp_path / "o")])
    children: set[int] = set()
    deadline = time.time() + 60
    while len(children) < 2 and time.time() < deadline:
        children = _children(proc.pid)
        time.sleep(0.05)
    assert len(children) >= 2, "the encoder workers never started"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    deadline = time.time() + 5
    while any(_alive(c) for c in children) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(_alive(c) for c in children)


def _children(pid):
    found = set()
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    if int(f.read().rsplit(")", 1)[1].split()[1]) == pid:
                        found.add(int(entry))
            except (OSError, IndexError, ValueError):
                pass
    return found


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


# --- decode correctly or refuse ---------------------------------------------------------------

def test_16_bit_png_loads_to_the_right_values(tmp_path):
    for name, values in {"a": [0, 65535, 32768, 1000], "b": [65535, 0, 16384, 60000]}.items():
        (tmp_path / "d" / name).mkdir(parents=True)
        for i, v in enumerate(values):
            Image.fromarray(np.full((8, 8), v, np.uint16)).save(tmp_path / "d" / name / f"{i}.png")
    d = load_dataset(tmp_path / "d")
    assert d.shape == (1, 8, 8)
    np.testing.assert_allclose(d.x[:, 0, 0, 0], np.array([0, 65535, 32768, 1000, 65535, 0, 16384, 60000]) / 65535,
                               atol=1e-6)


@pytest.mark.parametrize("y, classes, words", [
    (np.array([0.0, 0.5] * 3), None, "float"),
    (np.array([0, np.nan] * 3), None, "float"),
    (np.array([0, 1] * 3), np.array(["a", "a"]), "twice"),
    (np.array(["a/b", "c"] * 3), None, "separator"),
    (np.array(["x" * 300, "c"] * 3), None, "200 bytes"),
])
def test_npz_labels_must_be_integers_or_safe_names(tmp_path, y, classes, words):
    arrays = {"x": np.zeros((6, 8, 8), np.uint8), "y": y}
    if classes is not None:
        arrays["classes"] = classes
    np.savez(tmp_path / "d.npz", **arrays)
    with pytest.raises(InvalidDataError, match=words):
        load_dataset(tmp_path / "d.npz")
    assert_user_error(run_cli("inspect", tmp_path / "d.npz"), "d.npz")


def test_nested_parquet_columns_are_refused(tmp_path):
    df = pd.DataFrame({"a": [[1, 2], [3]] * 3, "b": [1.0] * 6, "label": ["x", "y"] * 3})
    df.to_parquet(tmp_path / "t.parquet")
    assert_user_error(run_cli("inspect", tmp_path / "t.parquet"), "'a'", "nested")
    df = pd.DataFrame({"s": [{"k": 1}, {"k": 2}] * 3, "b": [1.0] * 6, "label": ["x", "y"] * 3})
    df.to_parquet(tmp_path / "u.parquet")
    assert_user_error(run_cli("inspect", tmp_path / "u.parquet"), "'s'", "nested")


def test_counts_naming_a_class_twice_are_refused(tiny_model, tmp_path):
    assert_user_error(run_cli("generate", tiny_model[1], "--counts", "1=2,1=3", "--out", tmp_path / "o"), "twice")


def test_counts_with_a_control_character_in_a_class_name_are_refused_not_trimmed(tiny_model, tmp_path):
    for counts in ("0\n=3", "\t1=2", "1=2,2\r=1"):
        assert_user_error(run_cli("generate", tiny_model[1], "--counts", counts, "--out", tmp_path / "o"),
                          "control character")
    assert not (tmp_path / "o").exists()


def test_more_training_processes_than_cores_is_one_line_naming_the_cause(tmp_path):
    assert_user_error(run_cli("train", "builtin:digits", "--nproc", "1024", "--epochs", "1", "--out", tmp_path / "d"),
                      "--nproc 1024", "cores")
    assert not (tmp_path / "d").exists()


@pytest.mark.parametrize("address, words", [
    ("127.0.0.1:1", ["no Ray cluster answers", "ray start --head"]),  # unreachable: refused fast, no retries
    ("http://[::1", ["is not HOST:PORT"]),  # malformed: one line, no ValueError traceback
    ("10.0.0.5", ["is not HOST:PORT"]),
])
def test_ray_addresses_that_cannot_work_are_one_line_errors(tiny_model, tmp_path, address, words):
    pytest.importorskip("ray", reason="augmentor[ray] is installed by make test")
    t = time.perf_counter()
    result = run_cli("generate", tiny_model[1], "--counts", "0=50", "--format", "npz", "--engine", "ray",
                     "--address", address, "--out", tmp_path / "x")
    assert_user_error(result, *words)
    assert time.perf_counter() - t < 30 and not (tmp_path / "x").exists()


def test_a_local_ray_cluster_gets_no_more_workers_than_cores(tiny_model, tmp_path):
    assert_user_error(run_cli("generate", tiny_model[1], "--counts", "1=2", "--engine", "ray", "--num-workers",
                              "100000", "--out", tmp_path / "o"), "cores", "--address")


# --- every value checked before any work ------------------------------------------------------

@pytest.mark.parametrize("args", [
    ["generate", "MODEL", "--counts", "1=2", "--batch-size", "0", "--out", "OUT"],
    ["generate", "MODEL", "--counts", "1=2", "--seed", "-1", "--out", "OUT"],
    ["generate", "MODEL", "--counts", "1=2", "--workers", "-5", "--out", "OUT"],
    ["synthesize", "MODEL", "--data", "builtin:digits", "--filter", "2.0", "--out", "OUT"],
    ["inspect", "builtin:digits", "--image-size", "-8"],
    ["evaluate", "--train", "builtin:digits", "--test", "builtin:digits", "--epochs", "0", "--report", "OUT"],
    ["evaluate", "--train", "builtin:digits", "--test", "builtin:digits", "--seeds", "0", "--report", "OUT"],
    ["train", "builtin:digits", "--epochs", "0", "--out", "OUT"],
    ["train", "builtin:digits", "--image-size", "7", "--out", "OUT"],
])
def test_bad_cli_values_are_one_line_exit_2(tiny_model, tmp_path, args):
    args = [tiny_model[1] if a == "MODEL" else tmp_path / "o" if a == "OUT" else a for a in args]
    r = run_cli(*args)
    assert r.exit_code == 2 and (r.exception is None or isinstance(r.exception, SystemExit)), r.output
    assert not (tmp_path / "o").exists()


BAD_RECIPE_VALUES = [
    ("evaluate", "classic", '"bogus"'), ("evaluate", "seeds", "0"), ("train", "epochs", "0"),
    ("evaluate", "fidelity_k", "0"), ("evaluate", "filter_threshold", "2.0"),
    ("synthesize", "batch_size", "0"), ("synthesize", "strategy", '"bogus"'), ("evaluate", "doses", "[-1]"),
    ("model", "z_dim", "0"), ("model", "g_channels", "0"), ("train", "lr_g", "-1"),
    ("evaluate", "gan_seeds", "0"), ("train", "lr_d", "nan"), ("data", "image_size", "-8"),
]


@pytest.mark.parametrize("table, key, value", BAD_RECIPE_VALUES)
def test_bad_recipe_values_fail_before_any_work(tmp_path, table, key, value):
    recipe = tmp_path / "r.toml"
    recipe.write_text(f"[{table}]\n{key} = {value}\n")
    start = time.perf_counter()
    r = run_cli("run", recipe, "--out", tmp_path / "run", "--report", tmp_path / "rep")
    assert_user_error(r, f"{table}.{key}")
    assert time.perf_counter() - start < 10
    assert not (tmp_path / "run").exists() and not (tmp_path / "rep").exists()


_values = st.one_of(st.none(), st.booleans(), st.integers(-2**40, 2**40), st.floats(allow_nan=True),
                    st.text(max_size=12), st.lists(st.one_of(st.text(max_size=6), st.floats()), max_size=3))


@settings(max_examples=300, deadline=None)
@given(st.dictionaries(st.sampled_from(sorted(RULES)), _values, max_size=4))
def test_fuzz_recipe_values_are_valid_or_a_recipe_error(values):
    table: dict = {}
    for dotted, v in values.items():
        if v is None:
            continue
        *parents, leaf = dotted.split(".")
        node = table
        for p in parents:
            node = node.setdefault(p, {})
        node[leaf] = v
    try:
        recipe = recipe_from_dict(table)
    except RecipeError:
        return
    for dotted, (ok, _) in RULES.items():  # what was accepted is in range
        value = recipe
        for part in dotted.split("."):
            value = getattr(value, part)
        assert ok(value), dotted


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=st.sampled_from(["0", "-1", "1", "7", "x", "99999999999"]),
       seed=st.sampled_from(["-1", "0", "5", "4294967296", "1.5"]),
       counts=st.sampled_from(["1=2", "1=-2", "1=2,1=3", "zz=1", "=", "1=1e3", "", "1=20000000", "1=0"]),
       fmt=st.sampled_from(["png", "npz", "csv", "gif"]),
       workers=st.sampled_from(["-2", "-1", "0", "2"]))
def test_fuzz_generate_arguments_exit_0_or_2(tiny_model, tmp_path_factory, batch, seed, counts, fmt, workers):
    out = tmp_path_factory.mktemp("g") / "o"
    r = run_cli("generate", tiny_model[1], "--counts", counts, "--batch-size", batch, "--seed", seed,
                "--format", fmt, "--workers", workers, "--out", out, "-q")
    assert r.exit_code in (0, 2), (r.output, r.exception)
    assert r.exception is None or isinstance(r.exception, SystemExit), r.exception


@pytest.mark.slow
def test_table_output_never_overwrites_a_user_column(tmp_path):
    from augmentor.gan.train import train
    from augmentor.registry import export_onnx

    rng = np.random.default_rng(0)
    df = pd.DataFrame({"source": rng.random(20), "augmentor_source": rng.random(20),
                       "label": ["a", "b"] * 10})
    df.to_csv(tmp_path / "t.csv", index=False)
    data = load_dataset(tmp_path / "t.csv")
    recipe = recipe_from_dict({"model": {"z_dim": 4, "g_channels": 16, "d_channels": 16},
                    "train": {"epochs": 1, "batch_size": 8}})
    train(data, tmp_path / "run", recipe, progress=False)
    model = export_onnx(tmp_path / "run")
    res = generate_to_folder(model, {"a": 3}, tmp_path / "o", real=data, progress=False)
    frame = pd.read_csv(res.out / "samples.csv")
    assert list(frame.columns[:3]) == ["source", "augmentor_source", "label"]
    assert "augmentor_source_2" in frame.columns
    np.testing.assert_allclose(frame["source"][:20], df["source"], rtol=1e-6)


# #26 point 4: odd inputs, each a clear outcome


def _pngs(folder, n=3, size=8):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        Image.fromarray((rng.random((size, size)) * 255).astype(np.uint8)).save(folder / f"{i}.png")


def test_a_one_pixel_image_among_64_px_ones_is_named_not_upscaled(tmp_path):
    _pngs(tmp_path / "d" / "a", size=64)
    _pngs(tmp_path / "d" / "b", size=64)
    Image.fromarray(np.zeros((1, 1), np.uint8)).save(tmp_path / "d" / "a" / "tiny.png")
    assert_user_error(run_cli("inspect", tmp_path / "d", "--image-size", "32"), "tiny.png", "1x1", "8 px")


def test_a_png_with_an_oversized_palette_is_a_corrupt_image(tmp_path):
    def chunk(t, d):
        return struct.pack(">I", len(d)) + t + d + struct.pack(">I", zlib.crc32(t + d) & 0xFFFFFFFF)

    _pngs(tmp_path / "d" / "a")
    _pngs(tmp_path / "d" / "b")
    raw = b"".join(b"\x00" + bytes([i] * 8) for i in range(8))
    png = (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", 8, 8, 8, 3, 0, 0, 0))
           + chunk(b"PLTE", bytes(3 * 100_000)) + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))
    (tmp_path / "d" / "a" / "palette.png").write_bytes(png)
    assert_user_error(run_cli("inspect", tmp_path / "d"), "palette.png", "palette")


def test_a_symlink_loop_as_a_class_folder_is_one_line(tmp_path):
    _pngs(tmp_path / "d" / "a")
    _pngs(tmp_path / "d" / "b")
    (tmp_path / "d" / "a" / "up").symlink_to("..")
    (tmp_path / "d" / "c").symlink_to(tmp_path / "d")
    t = time.monotonic()
    assert_user_error(run_cli("inspect", tmp_path / "d"), "'c'")
    assert time.monotonic() - t < 30


@pytest.mark.slow
def test_ten_thousand_one_image_classes_are_one_line_naming_a_class(tmp_path):
    im = Image.fromarray(np.zeros((8, 8), np.uint8))
    for i in range(10_000):
        (tmp_path / "d" / f"c{i}").mkdir(parents=True)
        im.save(tmp_path / "d" / f"c{i}" / "0.png")
    result = run_cli("inspect", tmp_path / "d")
    assert_user_error(result, "has 1 sample", "at least 2")
    assert len(result.output.strip().splitlines()) == 1


def test_a_100_mb_recipe_is_refused_before_it_is_read(tmp_path):
    path = tmp_path / "big.toml"
    with path.open("w") as f:
        f.write('name = "')
        f.write("x" * 100_000_000)
        f.write('"\n')
    t = time.monotonic()
    result = run_cli("run", path)
    assert_user_error(result, "big.toml", "bytes is not a recipe")
    assert len(result.output) < 500 and time.monotonic() - t < 30
    small = tmp_path / "long-name.toml"
    small.write_text(f'name = "{"y" * 5000}"\n')  # a long bad value is cut in the message
    result = run_cli("run", small)
    assert_user_error(result, "name must be", "5,002 characters")
    assert len(result.output) < 500


def test_a_100000_column_csv_is_refused_from_its_header(tmp_path):
    path = tmp_path / "wide.csv"
    with path.open("w") as f:
        f.write(",".join(f"c{i}" for i in range(100_000)) + ",label\n")
        for r in range(4):
            f.write(",".join("1" for _ in range(100_000)) + f",{r % 2}\n")
    t = time.monotonic()
    assert_user_error(run_cli("inspect", path), "wide.csv", "100,001 columns", "10,000")
    assert time.monotonic() - t < 30


def test_disk_full_during_generate_is_one_line_and_nothing_complete_is_claimed(tiny_model, tmp_path, monkeypatch):
    import errno

    real_savez = np.savez

    def full(f, **arrays):  # the disk fills at the first shard
        raise OSError(errno.ENOSPC, "No space left on device", getattr(f, "name", "shard"))

    monkeypatch.setattr(np, "savez", full)
    out = tmp_path / "o"
    result = run_cli("generate", tiny_model[1], "--counts", "1=3000", "--format", "npz", "--out", out)
    assert_user_error(result, "no space left on the device", "--out")
    assert not out.exists()  # the partial folder is never renamed to the output's name
    monkeypatch.setattr(np, "savez", real_savez)
    result = run_cli("generate", tiny_model[1], "--counts", "1=3000", "--format", "npz", "--out", out)
    assert result.exit_code == 0, result.output
    assert sum(len(np.load(p)["y"]) for p in out.glob("shard-*.npz")) == 3000
