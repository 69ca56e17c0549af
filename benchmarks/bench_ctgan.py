"""augmentor's table GAN against CTGAN (sdv-dev/ctgan) on the same data, epochs and classifiers.

For each recipe (breast-cancer, wine): the recipe's training split (made imbalanced the
same way), the same number of epochs for both, a batch size as close as CTGAN's packing
allows (a multiple of pac=10). Measured: fit time, time to sample the gap-filling rows,
how many sampled rows carry the class they were asked for, and the downstream balanced
accuracy of `real + synthetic` with the recipe's classifiers and seeds (seed s draws the
synthetic rows of both methods and seeds the classifier), tested on the real test split.

CTGAN pins pandas < 3, so this runs in its own environment: `make bench-ctgan`.

    python benchmarks/bench_ctgan.py [--recipes breast-cancer wine] [--epochs N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from augmentor.config.recipe import load_recipe, with_overrides
from augmentor.core.gaps import parse_strategy, plan_gaps
from augmentor.evaluation.arms import Arm, concat, grid_arms
from augmentor.evaluation.engine import evaluate
from augmentor.gan.train import train
from augmentor.pipeline import prepare_splits, variance_sources, versions
from augmentor.registry import export_onnx, open_generator
from augmentor.table.data import TableData
from augmentor.table.evaluation import TableLearner, synthetic_validity


def run_augmentor(recipe, train_data: TableData, plan: dict[str, int], seeds: int) -> tuple[dict, list]:
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        train(train_data, tmp, recipe, progress=False)
        fit_s = time.perf_counter() - t
        t = time.perf_counter()
        model = export_onnx(tmp)
        export_s = time.perf_counter() - t
        gen = open_generator(model)
        sets, sample_s = [], []
        for s in range(seeds):
            t = time.perf_counter()
            x, y = gen.generate(plan, seed=s)
            sample_s.append(time.perf_counter() - t)
            sets.append(TableData(x, y, gen.classes, "augmentor", train_data.label, train_data.categorical))
    return {"fit_s": fit_s, "export_s": export_s, "sample_s": float(np.median(sample_s)),
            "label_match": 1.0}, sets


def run_ctgan(recipe, train_data: TableData, plan: dict[str, int], seeds: int) -> tuple[dict, list]:
    from ctgan import CTGAN

    frame = train_data.frame()
    label = train_data.label
    batch = max(10, round(recipe.train.batch_size / 10) * 10)
    model = CTGAN(epochs=recipe.train.epochs, batch_size=batch, pac=10, verbose=False)
    model.set_random_state(0)
    t = time.perf_counter()
    model.fit(frame, discrete_columns=[*train_data.categorical, label])
    fit_s = time.perf_counter() - t
    sets, sample_s, asked, matched = [], [], 0, 0
    for s in range(seeds):
        model.set_random_state(s)
        t = time.perf_counter()
        parts = [model.sample(n, condition_column=label, condition_value=c) for c, n in plan.items() if n]
        sample_s.append(time.perf_counter() - t)
        rows = pd.concat(parts, ignore_index=True)
        wanted = np.concatenate([np.full(n, c, dtype=object) for c, n in plan.items() if n])
        asked += len(rows)
        matched += int((rows[label].astype(str).to_numpy() == wanted).sum())
        # Rows keep the class CTGAN generated for them (the condition only makes it likely).
        y = np.array([train_data.classes.index(str(v)) for v in rows[label]], np.int64)
        x = rows.drop(columns=[label]).astype(train_data.x.dtypes.to_dict())
        sets.append(TableData(x, y, train_data.classes, "ctgan", label, train_data.categorical))
    return {"fit_s": fit_s, "export_s": 0.0, "sample_s": float(np.median(sample_s)),
            "label_match": matched / asked if asked else 1.0}, sets


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", default=["breast-cancer", "wine"])
    ap.add_argument("--epochs", type=int, default=None, help="override both methods' epochs")
    ap.add_argument("--seeds", type=int, default=None)
    ap.add_argument("--out", default="reports")
    ap.add_argument("--render-only", action="store_true", help="rewrite the markdown from the saved JSON")
    args = ap.parse_args()
    if args.render_only:
        saved = json.loads((Path(args.out) / "tabular-vs-ctgan.json").read_text())
        (Path(args.out) / "tabular-vs-ctgan.md").write_text(render(saved))
        return
    import ctgan

    results = {"versions": {**versions("cpu"), "ctgan": ctgan.__version__}, "recipes": {}}
    for name in args.recipes:
        recipe = with_overrides(load_recipe(Path("recipes") / f"{name}.toml"),
                                {"train.epochs": args.epochs, "evaluate.seeds": args.seeds})
        train_data, validation, test = prepare_splits(recipe)
        plan = plan_gaps(train_data.counts(), parse_strategy(recipe.synthesize.strategy))
        seeds, clfs = recipe.evaluate.seeds, recipe.evaluate.classifiers
        entry = {"epochs": recipe.train.epochs, "train_counts": train_data.counts(),
                 "validation_counts": validation.counts(), "plan": plan, "seeds": seeds,
                 "classifiers": list(clfs), "methods": {}}
        # The baselines' targets come from the plan, never from a method's realised class mix, and
        # every arm (both methods' included) is fitted once, in one evaluation and one Holm family.
        target = np.array([train_data.counts()[c] + plan.get(c, 0) for c in train_data.classes])
        grid = grid_arms(train_data, target, ("none", "oversample", "smote", "reweight"), (), ())
        arms: list[Arm] = []  # the two methods' rows, plain (not on top of the search's winner)
        for method, fn in (("augmentor", run_augmentor), ("ctgan", run_ctgan)):
            print(f"{name}: {method} ...", flush=True)
            timing, sets = fn(recipe, train_data, plan, seeds)
            arms.append(Arm(f"real+{method}", f"real + {method} rows filling the gaps (drawn afresh each seed)",
                            lambda s, sets=sets, data=train_data: concat(data, sets[s % len(sets)]), "gan"))
            entry["methods"][method] = {**timing, "validity": synthetic_validity(train_data, sets[0])}
        numeric = [c for c in train_data.x.columns if c not in train_data.categorical]
        learners = [TableLearner(c, list(train_data.categorical), numeric) for c in clfs]
        ev = evaluate(train_data, validation, test, grid, learners,
                      gan=lambda best, soft, learner=None, arms=arms: arms, seeds=seeds, progress=False,
                      sources=variance_sources(seeds, fresh_draws=True, gan_seeds=1))
        for method in entry["methods"]:
            arm = {c: ev["classifiers"][c]["arms"][f"real+{method}"] for c in clfs}
            entry["methods"][method].update({
                "balanced_accuracy": {c: a["summary"]["balanced_accuracy"] for c, a in arm.items()},
                "vs_real": {c: a["vs_real"] for c, a in arm.items()},
                "vs_reference": {c: a["vs_reference"] for c, a in arm.items()}})
        entry["real"] = {c: ev["classifiers"][c]["arms"]["real"]["summary"]["balanced_accuracy"] for c in clfs}
        entry["reference"] = {c: {"arm": ev["classifiers"][c]["reference"]["name"],
                                  **ev["classifiers"][c]["arms"][ev["classifiers"][c]["reference"]["name"]]
                                  ["summary"]["balanced_accuracy"]} for c in clfs}
        entry["statistics"] = ev["statistics"]["method"]
        results["recipes"][name] = entry
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tabular-vs-ctgan.json").write_text(json.dumps(results, indent=2) + "\n")
    (out / "tabular-vs-ctgan.md").write_text(render(results))
    print(render(results))


def render(results: dict) -> str:
    def pm(s: dict) -> str:
        return f"{s['mean'] * 100:.1f} ± {s['std'] * 100:.1f}"

    def ci(d: dict) -> str:
        if d.get("low") is None:
            return f"{d['mean'] * 100:+.1f}"
        return f"{d['mean'] * 100:+.1f} [{d['low'] * 100:+.1f}, {d['high'] * 100:+.1f}]"

    def valid(v: dict) -> str:
        if v["valid"]:
            return "yes"
        bad = {"outside the training range": v["out_of_range"], "non-integral": v["non_integral"],
               "unseen categories": v["unseen_categories"]}
        return "no: " + "; ".join(f"{sum(cols.values())} values {what} in {len(cols)} columns"
                                  for what, cols in bad.items() if cols) + f" (of {v['rows']} rows, first draw)"

    lines = ["# augmentor's table GAN vs CTGAN", "",
             "Made by `make bench-ctgan` (`benchmarks/bench_ctgan.py`). Same training split, epochs, "
             "classifiers and seeds for both; CTGAN batch size rounded to its packing (pac = 10). "
             "Synthetic rows fill each recipe's gaps; balanced accuracy (percent, mean ± std over seeds) "
             "of a classifier trained on real + synthetic rows, tested on the real held-out split.", ""]
    for name, e in results["recipes"].items():
        m = e["methods"]
        lines += [f"## {name} ({e['epochs']} epochs, {sum(e['plan'].values())} rows to add: {e['plan']})", "",
                  "| | augmentor | CTGAN |", "|---|---:|---:|",
                  f"| fit time (s) | {m['augmentor']['fit_s']:.1f} (+ ONNX export {m['augmentor']['export_s']:.1f}) "
                  f"| {m['ctgan']['fit_s']:.1f} |",
                  f"| sampling time for the gap rows (s, median) | {m['augmentor']['sample_s']:.3f} | "
                  f"{m['ctgan']['sample_s']:.3f} |",
                  f"| sampled rows carrying the requested class | {m['augmentor']['label_match']:.1%} | "
                  f"{m['ctgan']['label_match']:.1%} |",
                  f"| rows valid (seen categories, in range, integers integral) | "
                  f"{valid(m['augmentor']['validity'])} | {valid(m['ctgan']['validity'])} |"]
        for c in e["classifiers"]:
            va, vc = m["augmentor"]["vs_real"][c], m["ctgan"]["vs_real"][c]
            lines.append(f"| {c}: real + synthetic (real alone {pm(e['real'][c])}) | "
                         f"{pm(m['augmentor']['balanced_accuracy'][c])} ({ci(va)}) | "
                         f"{pm(m['ctgan']['balanced_accuracy'][c])} ({ci(vc)}) |")
        lines += ["", "Reference (the best non-GAN arm on the validation split) per classifier: " + "; ".join(
            f"{c} {b['arm']} {b['mean'] * 100:.1f}" for c, b in e["reference"].items()), "",
            f"Intervals: {e['statistics']}.", ""]
    lines += ["Differences in the table (points, 95 % interval; exploratory) compare with real data alone. "
              "CTGAN's conditional sampling only makes "
              "the requested class likely; its rows keep the class it generated, so its class counts are not "
              "exactly the plan (the baselines' targets come from the plan).", "",
              "Versions: " + ", ".join(f"{k} {v}" for k, v in results["versions"].items())]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
