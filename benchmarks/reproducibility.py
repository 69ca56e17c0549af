"""What a seed reproduces: compare two runs of the same recipe (e.g. with different thread counts).

    OMP_NUM_THREADS=1 augmentor run recipes/digits.toml --out runs/digits-1thread \
        --report runs/digits-1thread-report --overwrite
    python benchmarks/reproducibility.py reports/digits/results.json runs/digits-1thread-report/results.json

Writes reports/reproducibility.md and .json (`--out NAME`: reports/NAME.md and .json): per arm,
whether every seed's test predictions summary is bit-identical, the largest difference in mean
balanced accuracy, and whether the validation choices and the confirmatory verdicts agree.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def per_run(arm: dict) -> list[float]:
    return [r["test"]["balanced_accuracy"] for r in arm["runs"]]


def compare(a: dict, b: dict) -> dict:
    clf = next(iter(a["classifiers"]))
    arms_a, arms_b = a["classifiers"][clf]["arms"], b["classifiers"][clf]["arms"]
    rows = {}
    for name in arms_a:
        if name not in arms_b:
            rows[name] = {"in_both": False}
            continue
        ra, rb = per_run(arms_a[name]), per_run(arms_b[name])
        rows[name] = {"in_both": True, "identical": ra == rb,
                      "max_seed_difference_points": max(abs(x - y) for x, y in zip(ra, rb)) * 100,
                      "mean_difference_points": (sum(ra) / len(ra) - sum(rb) / len(rb)) * 100}
    ha, hb = a.get("headline") or {}, b.get("headline") or {}
    return {
        "threads": [a.get("versions", {}).get("device"), b.get("versions", {}).get("device")],
        "arms": rows,
        "same_choices": {
            "search": (a["classifiers"][clf].get("search") or {}).get("chosen")
            == (b["classifiers"][clf].get("search") or {}).get("chosen"),
            "reference": a["classifiers"][clf]["reference"]["name"] == b["classifiers"][clf]["reference"]["name"],
            "headline_arms": (ha.get("gan_arm"), ha.get("best_non_gan_arm")) == (hb.get("gan_arm"),
                                                                              hb.get("best_non_gan_arm"))},
        "verdicts": [[ha.get("verdict"), (ha.get("vs_real") or {}).get("verdict")],
                     [hb.get("verdict"), (hb.get("vs_real") or {}).get("verdict")]],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("first", type=Path)
    ap.add_argument("second", type=Path)
    ap.add_argument("--out", default="reproducibility", help="report name under reports/ (default: %(default)s)")
    args = ap.parse_args()
    a, b = (json.loads(p.read_text()) for p in (args.first, args.second))
    out = {"first": str(args.first), "second": str(args.second), **compare(a, b)}
    (ROOT / "reports" / f"{args.out}.json").write_text(json.dumps(out, indent=2) + "\n")
    same = sum(r.get("identical", False) for r in out["arms"].values())
    worst = max((r["max_seed_difference_points"] for r in out["arms"].values() if r["in_both"]), default=0)
    lines = ["# Reproducibility: the same recipe and seeds, run twice", "",
             f"First: `{out['first']}` ({out['threads'][0]}); second: `{out['second']}` ({out['threads'][1]}).", "",
             f"Arms with bit-identical per-seed test balanced accuracy: {same} of {len(out['arms'])}; largest "
             f"per-seed difference {worst:.2f} points.", "",
             f"Same validation choices: search winner {out['same_choices']['search']}, reference "
             f"{out['same_choices']['reference']}, headline arms {out['same_choices']['headline_arms']}. "
             f"Confirmatory verdicts (vs best non-GAN, vs real): {out['verdicts'][0]} and {out['verdicts'][1]}.", "",
             "| arm | identical | largest per-seed difference (points) | difference of means (points) |",
             "|---|---|---:|---:|"]
    for name, r in out["arms"].items():
        if r["in_both"]:
            lines.append(f"| {name} | {'yes' if r['identical'] else 'no'} | {r['max_seed_difference_points']:.2f} | "
                         f"{r['mean_difference_points']:+.2f} |")
        else:
            lines.append(f"| {name} | only in the first run | — | — |")
    (ROOT / "reports" / f"{args.out}.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
