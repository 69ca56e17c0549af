"""Tables: loading and validation, the codec, the whole pipeline on a mixed CSV, ONNX
parity, reproducibility, and GANResampler inside imbalanced-learn."""

from __future__ import annotations

import hashlib
import json
import re

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from augmentor.cli import cli
from augmentor.config.recipe import SynthesizeConfig, recipe_from_dict
from augmentor.core.errors import InvalidDataError, UnsafeArtifactError
from augmentor.core.gaps import plan_gaps
from augmentor.core.outputs import read_manifest
from augmentor.gan.train import train
from augmentor.registry import export_onnx, fill_gaps, load_dataset, read_model_info
from augmentor.table.codec import TableCodec
from augmentor.table.data import load_table

pytestmark = pytest.mark.xdist_group("tables")  # one worker: the module's fixtures are built once


def mixed_frame(n: int = 120, seed: int = 0) -> pd.DataFrame:
    """Float, integer, string and boolean columns; class-dependent so there is signal."""
    rng = np.random.default_rng(seed)
    y = rng.choice(["low", "mid", "high"], n, p=[0.6, 0.3, 0.1])
    shift = pd.Series(y).map({"low": 0, "mid": 10, "high": 25}).to_numpy()
    return pd.DataFrame({
        "age": rng.integers(18, 80, n) + shift,
        "income": rng.lognormal(10, 0.5, n) * (1 + shift / 10),
        "city": rng.choice(["north", "south", "east"], n),
        "member": rng.random(n) > 0.5,
        "target": y,
    })


@pytest.fixture
def mixed_csv(tmp_path):
    path = tmp_path / "mixed.csv"
    mixed_frame().to_csv(path, index=False)
    return path


TABLE_RECIPE = {"model": {"z_dim": 8, "g_channels": 32, "d_channels": 32},
                "train": {"epochs": 2, "batch_size": 32, "checkpoint_every": 100, "log_every": 5}}


@pytest.fixture(scope="module")
def table_model(tmp_path_factory):
    root = tmp_path_factory.mktemp("table")
    path = root / "mixed.csv"
    mixed_frame().to_csv(path, index=False)
    data = load_table(path, label="target")
    train(data, root / "run", recipe_from_dict(TABLE_RECIPE), progress=False)
    return data, export_onnx(root / "run")


def test_column_kinds_are_detected_and_overridable(mixed_csv):
    d = load_table(mixed_csv, label="target")
    assert d.categorical == ("city", "member")
    assert d.integer == ("age",)
    assert d.counts() == mixed_frame()["target"].value_counts().sort_index().to_dict()
    d2 = load_table(mixed_csv, label="target", categorical=["age"])
    assert "age" in d2.categorical


def test_missing_label_column_lists_the_columns(mixed_csv):
    with pytest.raises(InvalidDataError, match=r"no label column 'label'.*age, income, city, member, target"):
        load_dataset(mixed_csv)


def test_missing_values_name_columns_and_rows_or_are_imputed(tmp_path):
    df = mixed_frame()
    df.loc[[3, 5], "income"] = np.nan
    df.loc[7, "city"] = None
    path = tmp_path / "holes.csv"
    df.to_csv(path, index=False)
    with pytest.raises(InvalidDataError, match=r"'income' \(2 rows\), 'city' \(1 row\).*impute"):
        load_table(path, label="target")
    d = load_table(path, label="target", impute="median")
    assert not d.x.isna().any().any()
    assert d.x.loc[7, "city"] in {"north", "south", "east"}


def test_inf_and_non_numeric_values_are_named(tmp_path):
    df = mixed_frame()
    df.loc[4, "income"] = np.inf
    df.to_csv(tmp_path / "inf.csv", index=False)
    with pytest.raises(InvalidDataError, match=r"'income' holds inf in 1 row"):
        load_table(tmp_path / "inf.csv", label="target")
    df = mixed_frame()
    df["city"] = df["city"].astype(object)
    df.to_csv(tmp_path / "words.csv", index=False)
    with pytest.raises(InvalidDataError, match=r"'city' is declared numeric but 120 value"):
        load_table(tmp_path / "words.csv", label="target", numeric=["city"])


def test_class_problems_are_named(tmp_path):
    df = mixed_frame()
    df.loc[0, "target"] = "lonely"
    df.to_csv(tmp_path / "one.csv", index=False)
    with pytest.raises(InvalidDataError, match="class 'lonely' has 1 sample"):
        load_table(tmp_path / "one.csv", label="target")
    df["target"] = "same"
    df.to_csv(tmp_path / "single.csv", index=False)
    with pytest.raises(InvalidDataError, match="at least 2 classes"):
        load_table(tmp_path / "single.csv", label="target")
    (tmp_path / "empty.csv").write_bytes(b"")
    with pytest.raises(InvalidDataError, match="empty"):
        load_table(tmp_path / "empty.csv")


def test_parquet_and_builtins(tmp_path, mixed_csv):
    mixed_frame().to_parquet(tmp_path / "mixed.parquet")
    pq, csv_ = load_dataset(tmp_path / "mixed.parquet", label="target"), load_dataset(mixed_csv, label="target")
    assert pq.categorical == csv_.categorical and pq.counts() == csv_.counts()
    np.testing.assert_allclose(pq.x["income"], csv_.x["income"])
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 not really")
    with pytest.raises(InvalidDataError, match="cannot read as parquet"):
        load_dataset(tmp_path / "bad.parquet")
    d = load_dataset("builtin:breast_cancer")
    assert d.modality == "table" and d.counts() == {"benign": 357, "malignant": 212}
    assert load_dataset("builtin:wine").x.shape == (178, 13)


@settings(max_examples=120, deadline=None)
@given(st.binary(max_size=400) | st.text(max_size=400).map(str.encode))
def test_fuzz_csv_bytes(tmp_path_factory, blob):
    """Arbitrary bytes: a documented error or a valid dataset, never another exception."""
    path = tmp_path_factory.mktemp("fuzz") / "t.csv"
    path.write_bytes(blob)
    try:
        d = load_table(path)
    except InvalidDataError:
        return
    assert len(d.classes) >= 2 and min(d.counts().values()) >= 2


def test_codec_roundtrip_keeps_values_dtypes_and_categories(mixed_csv):
    d = load_table(mixed_csv, label="target")
    codec = TableCodec.fit(d.x, d.categorical, "target")
    back = codec.decode(codec.encode(d.x))
    assert back.dtypes.to_dict() == d.x.dtypes.to_dict()
    pd.testing.assert_series_equal(back["age"], d.x["age"])
    pd.testing.assert_series_equal(back["city"], d.x["city"])
    np.testing.assert_allclose(back["income"], d.x["income"], rtol=1e-5)  # float32 model space
    assert TableCodec.from_json(json.loads(json.dumps(codec.to_json()))).columns == codec.columns
    # anything the generator can emit decodes to seen categories and in-range values
    noise = np.random.default_rng(0).uniform(-3, 3, (500, codec.width))
    out = codec.decode(noise)
    assert set(out["city"]) <= set(d.x["city"])
    assert out["income"].between(d.x["income"].min(), d.x["income"].max()).all()
    assert (out["age"] == out["age"].round()).all()


def test_table_onnx_parity_and_metadata(table_model):
    data, model = table_model
    info = read_model_info(model)
    assert info.modality == "table" and info.shape == (TableCodec.fit(data.x, data.categorical).width,)
    assert info.metadata["batchnorm_folded"] == "false"
    fp16 = export_onnx(model.parent, model.parent / "g16.onnx", fp16=True)  # parity checked inside
    assert read_model_info(fp16).metadata["precision"] == "fp16"


def test_malformed_table_codec_is_refused(table_model, tmp_path):
    import onnx

    _, model = table_model
    m = onnx.load(str(model))
    for p in m.metadata_props:
        if p.key == "augmentor.codec":
            spec = json.loads(p.value)
            spec["columns"][0]["values"] = ["not", "numbers"]
            p.value = json.dumps(spec)
    onnx.save(m, str(tmp_path / "bad.onnx"))
    with pytest.raises(UnsafeArtifactError, match="malformed table codec"):
        read_model_info(tmp_path / "bad.onnx")


def test_synthesized_rows_are_exact_valid_and_reproducible(table_model, tmp_path):
    data, model = table_model
    outs = []
    for i, fmt in enumerate(["csv", "csv", "parquet"]):
        res = fill_gaps(model, data, tmp_path / f"s{i}", SynthesizeConfig(strategy="all", seed=3, format=fmt,
                                                                          batch_size=7), progress=False)
        outs.append(res.out)
    planned = plan_gaps(data.counts(), "all")
    rows = read_manifest(outs[0])
    assert {c: sum(r["class"] == c for r in rows) for c in planned} == planned
    a, b = (o / "samples.csv" for o in outs[:2])
    assert hashlib.sha256(a.read_bytes()).digest() == hashlib.sha256(b.read_bytes()).digest()
    csv_rows = pd.read_csv(a)
    pq_rows = pd.read_parquet(outs[2] / "samples.parquet")
    np.testing.assert_allclose(csv_rows["income"], pq_rows["income"], rtol=1e-12)
    assert (pq_rows["source"] == "synthetic").all() and list(pq_rows["target"]) == list(csv_rows["target"])


ET = "sklearn.ensemble:ExtraTreesClassifier(n_estimators=25)"  # seeded, a tenth of hgb's fit time


@pytest.mark.slow
def test_csv_through_augmentor_run(tmp_path, mixed_csv):
    """The acceptance path: a mixed CSV through `augmentor run`, exact counts, valid rows."""
    before = hashlib.sha256(mixed_csv.read_bytes()).hexdigest()
    recipe = tmp_path / "mixed.toml"
    recipe.write_text(f"""
name = "mixed"
[data]
train = "{mixed_csv}"
label = "target"
[model]
z_dim = 8
g_channels = 32
d_channels = 32
[train]
epochs = 2
batch_size = 32
[evaluate]
seeds = 2
confirm_seeds = 3
confirm_power = 0  # exactly 3 confirmatory seeds (the plan: test_seed_plan.py)
learners = ["logreg", "{ET}"]  # a seeded learner by import path, quick to fit
""")
    r = CliRunner().invoke(cli, ["run", str(recipe), "--out", str(tmp_path / "run"),
                                 "--report", str(tmp_path / "report"), "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert hashlib.sha256(mixed_csv.read_bytes()).hexdigest() == before
    assert (tmp_path / "report" / "real-vs-gan.png").is_file()  # the numeric columns' marginals, real and GAN
    train_rows = pd.read_csv(tmp_path / "run" / "data" / "train.csv")
    counts = train_rows["target"].value_counts().to_dict()
    planned = plan_gaps(counts, "auto")
    rows = pd.read_csv(tmp_path / "run" / "synthetic" / "samples.csv")
    assert rows["target"].value_counts().to_dict() == {c: n for c, n in planned.items() if n}
    assert set(rows["city"]) <= set(train_rows["city"])
    assert rows["member"].isin([True, False]).all()
    assert (rows["age"] == rows["age"].round()).all() and rows["age"].dtype == np.int64
    assert rows["age"].between(train_rows["age"].min(), train_rows["age"].max()).all()
    assert rows["income"].between(train_rows["income"].min(), train_rows["income"].max()).all()
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert set(results["classifiers"]) == {"logreg", ET}
    search = results["classifiers"][ET]["search"]
    assert set(search["stages"][0]["balanced_accuracy"]) == {"real", "real+oversampled", "real+SMOTE",
                                                              "real+reweighted"}
    w = search["chosen"]
    arms = results["classifiers"][ET]["arms"]
    assert {"real", w, "real+synthetic" + w[4:], "synthetic-only"} <= set(arms)
    assert all(len(a["runs"]) >= 2 for a in arms.values())
    assert results["validity"]["synthetic (gap-filling)"]["valid"] is True
    # every learner answers in one confirmatory family
    h = results["headline"]
    assert [h["classifier"], *(o["classifier"] for o in h["others"])] == ["logreg", ET]
    assert all(f"{c}: " in " ".join(h["family"]) for c in ("logreg", ET))
    md = (tmp_path / "report" / "report.md").read_text()
    assert "## The answer" in md and "has no calibration of its own" in md
    # augmentor calibrate: the report's own false-verdict rate and power, written into results.json and report.md
    r = CliRunner().invoke(cli, ["calibrate", str(recipe.with_name("mixed-report.toml")), "-q"])
    assert r.exit_code == 2 and "does not exist" in r.output
    recipe.with_name("mixed-report.toml").write_text(recipe.read_text().replace(
        'name = "mixed"', f'name = "mixed"\nout = "{tmp_path / "run"}"\nreport = "{tmp_path / "report"}"'))
    r = CliRunner().invoke(cli, ["calibrate", str(recipe.with_name("mixed-report.toml")), "--pool", "15",
                                 "--simulations", "200", "-q"])
    # the null chooses among the report's GAN arms and grid cells on disjoint seeds: it says the pool it needs
    assert r.exit_code == 2 and "GAN arm" in r.output and "grid cell" in r.output, r.output
    need = re.search(r"pass --pool (\d+)", r.output).group(1)
    r = CliRunner().invoke(cli, ["calibrate", str(recipe.with_name("mixed-report.toml")), "--pool", need,
                                 "--simulations", "200", "-q"], catch_exceptions=False)
    assert r.exit_code == 0, r.output
    assert "false-verdict rate" in r.output and "0.000 ± 0.000" not in r.output  # zero events: an upper bound
    cal = json.loads((tmp_path / "report" / "results.json").read_text())["calibration"]
    assert cal["family_size"] == results["statistics"]["family_size"] and cal["seeds"] == 3
    assert set(cal["per_learner"]) == {"logreg", ET} and 0 <= cal["false_verdict_rate"] <= 1
    assert "Calibration on this report's data and learners" in (tmp_path / "report" / "report.md").read_text()


def test_gan_over_sampler_in_an_imblearn_pipeline():
    from imblearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import cross_val_score
    from sklearn.preprocessing import StandardScaler

    from augmentor import GANOverSampler

    df = mixed_frame(200)
    y = df.pop("target")
    X = pd.get_dummies(df, columns=["city"], dtype=float).astype(float)
    sampler = GANOverSampler(epochs=2, width=32, random_state=0)
    X_res, y_res = sampler.fit_resample(X, y)
    assert isinstance(X_res, pd.DataFrame) and list(X_res.columns) == list(X.columns)
    assert (y_res.value_counts() == y.value_counts().max()).all()
    again, _ = GANOverSampler(epochs=2, width=32, random_state=0).fit_resample(X, y)
    pd.testing.assert_frame_equal(X_res, again)
    pipe = make_pipeline(GANOverSampler(epochs=2, width=32, random_state=0), StandardScaler(),
                         LogisticRegression(max_iter=2000))
    scores = cross_val_score(pipe, X, y, cv=3, scoring="balanced_accuracy")
    assert len(scores) == 3 and np.isfinite(scores).all()  # a failing fold would score NaN


def test_gan_resampler_is_the_over_sampler_under_its_former_name():
    from augmentor import GANOverSampler, GANResampler

    df = mixed_frame(150)
    y = df.pop("target").to_numpy()
    with pytest.warns(FutureWarning, match="GANOverSampler"):
        old = GANResampler(epochs=1, width=32, random_state=1)
    assert isinstance(old, GANOverSampler) and old.modality == "table"
    X_res, y_res = old.fit_resample(df, y)
    new_x, new_y = GANOverSampler(modality="table", epochs=1, width=32, random_state=1).fit_resample(df, y)
    pd.testing.assert_frame_equal(X_res, new_x)
    assert X_res.dtypes.to_dict() == df.dtypes.to_dict() and list(y_res) == list(new_y)
    assert set(X_res["city"]) <= set(df["city"]) and len(X_res) == len(y_res)


def _sampler_checks():
    from imblearn.utils.estimator_checks import _yield_sampler_checks

    from augmentor import GANOverSampler

    sampler = GANOverSampler(modality="table", epochs=1, width=16, random_state=0)
    return [pytest.param(sampler, check, id=check.__name__) for check in _yield_sampler_checks(sampler)]


@pytest.mark.parametrize("sampler, check", _sampler_checks())
def test_imblearn_sampler_checks(sampler, check):
    check(type(sampler).__name__, sampler)


def test_table_errors_exit_with_code_2(mixed_csv):
    r = CliRunner().invoke(cli, ["inspect", str(mixed_csv)])
    assert r.exit_code == 2
    assert "no label column 'label'" in r.output and "--label-column" in r.output
    r = CliRunner().invoke(cli, ["inspect", str(mixed_csv), "--label-column", "target"])
    assert r.exit_code == 0 and "city (categorical)" in r.output and "age (integer)" in r.output


def test_table_stages_through_the_cli(table_model, tmp_path):
    """synthesize --include-real, generate --format parquet and evaluate on tables, by CLI."""
    from augmentor.gan.checkpoint import latest_checkpoint
    from augmentor.registry import generator_from_checkpoint
    from augmentor.synthesis.export import verify_onnx

    data, model = table_model
    g, _ = generator_from_checkpoint(latest_checkpoint(model.parent))
    verify_onnx(model, g)  # raises past the stated tolerance

    src = tmp_path / "train.csv"
    data.frame().to_csv(src, index=False)
    runner = CliRunner()
    r = runner.invoke(cli, ["synthesize", str(model), "--data", str(src), "--label-column", "target",
                            "--out", str(tmp_path / "merged"), "--include-real", "-q"])
    assert r.exit_code == 0, r.output
    merged = pd.read_csv(tmp_path / "merged" / "samples.csv")
    assert (merged["source"] == "real").sum() == len(data)
    assert merged["target"].value_counts().nunique() == 1  # every class topped up to the majority
    r = runner.invoke(cli, ["generate", str(model), "--counts", "low=5,high=7", "--format", "parquet",
                            "--out", str(tmp_path / "gen"), "-q"])
    assert r.exit_code == 0, r.output
    assert pd.read_parquet(tmp_path / "gen" / "samples.parquet")["target"].tolist() == ["low"] * 5 + ["high"] * 7
    r = runner.invoke(cli, ["synthesize", str(model), "--data", str(src), "--label-column", "target",
                            "--out", str(tmp_path / "syn"), "-q"])
    assert r.exit_code == 0, r.output
    r = runner.invoke(cli, ["evaluate", "--train", str(src), "--test", str(src), "--validation", str(src),
                            "--label-column", "target",
                            "--synthetic", str(tmp_path / "syn"), "--classifier", "logreg", "--seeds", "2",
                            "--report", str(tmp_path / "report"), "-q"])
    assert r.exit_code == 0, r.output
    results = json.loads((tmp_path / "report" / "results.json").read_text())
    assert list(results["classifiers"]) == ["logreg"]
    w = results["classifiers"]["logreg"]["search"]["chosen"]
    assert "real+synthetic" + w.removeprefix("real") in results["classifiers"]["logreg"]["arms"]


def test_table_oversampling_arms_hit_the_target_counts_and_validity_flags_bad_rows(mixed_csv):
    from augmentor.evaluation.arms import oversample as oversample_table
    from augmentor.table.data import TableData
    from augmentor.table.evaluation import synthetic_validity

    d = load_table(mixed_csv, label="target")
    target = np.full(len(d.classes), max(d.counts().values()))
    for method in ("random", "smote"):  # SMOTENC here: city and member are categorical
        x, y = oversample_table(d, target, seed=0, method=method)
        assert np.bincount(y).tolist() == target.tolist()
        assert list(x.columns) == list(d.x.columns) and set(x["city"]) <= set(d.x["city"])
    assert synthetic_validity(d, d)["valid"]
    bad = d.x.head(3).copy()
    bad.loc[0, "income"] = d.x["income"].max() * 2
    bad.loc[1, "city"] = "atlantis"
    bad["age"] = bad["age"].astype(float)
    bad.loc[2, "age"] = 30.5
    v = synthetic_validity(d, TableData(bad, d.y[:3], d.classes, "", d.label, d.categorical))
    assert not v["valid"]
    assert v["out_of_range"] == {"income": 1} and v["unseen_categories"] == {"city": 1}
    assert v["non_integral"] == {"age": 1}
