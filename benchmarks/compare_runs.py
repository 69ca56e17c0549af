"""Do two runs of the same recipes give the same numbers? Per-seed scores of every arm, learner and split.

    python benchmarks/compare_runs.py BEFORE_DIR AFTER_DIR digits wine japanese-vowels-longtail \
        --out reports/refactor-identity.json

Each DIR holds one report folder per name (`DIR/NAME/results.json`, as `augmentor run --report`
writes). For every classifier, arm and seed it compares the validation and test metrics (accuracy,
balanced accuracy, macro F1, per-class recall) and the headline; it prints and writes how many
per-seed scores were compared and how many differ (exactly, as floats). Exit status 1 when any differ.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path


def per_seed_scores(results: dict) -> dict[str, float]:
    """Flat {key: value} of every per-seed metric, keyed by learner / arm / seed / split / metric."""
    out: dict[str, float] = {}
    for learner, block in results["classifiers"].items():
        for arm, a in block["arms"].items():
            for run in a["runs"]:
                for split in ("validation", "test"):
                    for metric, value in run[split].items():
                        values = value if isinstance(value, list) else [value]
                        for i, v in enumerate(values):
                            out[f"{learner}/{arm}/seed {run['seed']}/{split}/{metric}[{i}]"] = v
    return out


def compare(before: dict, after: dict) -> dict:
    a, b = per_seed_scores(before), per_seed_scores(after)
    differ = sorted(k for k in a.keys() & b.keys() if a[k] != b[k])
    only = sorted(a.keys() ^ b.keys())
    same_headline = json.dumps(before.get("headline"), sort_keys=True) == json.dumps(after.get("headline"),
                                                                                    sort_keys=True)
    return {"scores_compared": len(a.keys() & b.keys()), "scores_differing": len(differ),
            "examples_differing": differ[:5], "keys_in_one_only": only[:5], "n_keys_in_one_only": len(only),
            "headline_identical": same_headline, "identical": not differ and not only and same_headline}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("before", type=Path)
    ap.add_argument("after", type=Path)
    ap.add_argument("names", nargs="+")
    ap.add_argument("--out", type=Path, default=None, help="write the comparison as JSON here")
    args = ap.parse_args()
    report = {}
    for name in args.names:
        before = json.loads((args.before / name / "results.json").read_text())
        after = json.loads((args.after / name / "results.json").read_text())
        report[name] = compare(before, after)
        r = report[name]
        print(f"{name}: {r['scores_compared']} per-seed scores compared, {r['scores_differing']} differ, "
              f"headline {'identical' if r['headline_identical'] else 'DIFFERS'}")
    if args.out:
        args.out.write_text(json.dumps(report, indent=2) + "\n")
    return 0 if all(r["identical"] for r in report.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
