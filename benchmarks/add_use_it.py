"""Add the "Use it" section to a committed report written before the section existed: the code is built
from the report's own record of each learner's winning arm and the recipe's splits (no fit is run), and
report.md is re-rendered from results.json. Reports run with the current code carry it already.

    python benchmarks/add_use_it.py digits japanese-vowels-longtail
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from augmentor.arms import cell_arm
from augmentor.atomic import write_bytes
from augmentor.gaps import parse_strategy, plan_gaps
from augmentor.pipeline import prepare_splits
from augmentor.recipe import load_recipe
from augmentor.report import rerender


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("recipes", nargs="+", help="recipe names under recipes/")
    args = ap.parse_args()
    for name in args.recipes:
        recipe = load_recipe(f"recipes/{name}.toml")
        path = recipe.report_dir / "results.json"
        results = json.loads(path.read_text())
        train, _, _ = prepare_splits(recipe)
        counts = train.counts()
        plan = plan_gaps(counts, parse_strategy(recipe.synthesize.strategy))
        target = np.array([counts[c] + plan.get(c, 0) for c in train.classes])
        kind = train.MODALITY.evaluation
        learners, _ = kind.learners(train, recipe.evaluate, "cpu")
        results["use_it"] = {}
        for lr in learners:
            res = results["classifiers"][lr.name]
            entry = res["arms"][res["search"]["chosen"]]
            arm = cell_arm(train, target, entry["rebalance"], entry["classic_augmentation"], entry["mixup"])
            results["use_it"][lr.name] = kind.use_it(lr, arm, train, target)
            getattr(lr, "close", lambda: None)()
        write_bytes(path, (json.dumps(results, indent=2) + "\n").encode())
        rerender(recipe.report_dir)
        print(f"{name}: Use it for {', '.join(results['use_it'])}")


if __name__ == "__main__":
    main()
