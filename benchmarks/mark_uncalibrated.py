"""Record why a committed report has no calibration of its own, and re-render it.

`augmentor calibrate RECIPE` writes a report's calibration; where it was not run (its cost on 2 cores, or
a learner the recipe cannot rebuild), this writes results.json `calibration = {"none": REASON}` so the
report and reports/verdict-calibration.md say why instead of only that it is missing.

    python benchmarks/mark_uncalibrated.py reports/digits-longtail-resnet18 "reason"
"""

from __future__ import annotations

import argparse
from pathlib import Path

from augmentor.calibrate import attach


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("report", type=Path)
    ap.add_argument("reason")
    args = ap.parse_args()
    attach(args.report, {"none": args.reason})
    print(f"{args.report}: calibration none: {args.reason}")


if __name__ == "__main__":
    main()
