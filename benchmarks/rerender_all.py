"""Re-render every committed report from its results.json in a copy and compare each file byte for byte.

    python benchmarks/rerender_all.py            # prints each report folder: identical | DIFFERS: files

A move of code (issue 46) must change no report: every folder under reports/ holding a results.json is
copied to a temporary folder, `rerender` rewrites report.md, report.html, results.json, per_class.csv and
the figures there from the typed results alone, and each file is compared with the committed one.
Exits 1 when any differs. About 20-30 s on 2 cores.
"""

from __future__ import annotations

import filecmp
import shutil
import sys
import tempfile
from pathlib import Path

from augmentor.report.render import rerender

ROOT = Path(__file__).resolve().parent.parent


def main() -> int:
    differing = 0
    with tempfile.TemporaryDirectory(prefix="augmentor-rerender-") as tmp:
        for results in sorted(ROOT.glob("reports/**/results.json")):
            src = results.parent
            dst = Path(tmp) / src.relative_to(ROOT)
            shutil.copytree(src, dst)
            rerender(dst)
            diff = sorted(p.name for p in src.iterdir()
                          if p.is_file() and not filecmp.cmp(p, dst / p.name, shallow=False))
            differing += bool(diff)
            print(f"{src.relative_to(ROOT)}: {'identical' if not diff else 'DIFFERS: ' + ', '.join(diff)}")
    print(f"{differing} report folder(s) differ")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
