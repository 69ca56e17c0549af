"""How long a bad learner takes to be refused (issue 45): `augmentor run` with a learner spec whose argument is
wrong, timed from the command's start to its one-line error, on the CLI a user runs. The acceptance: under 30 s on
2 cores, before any GAN step (no checkpoint written).

    python benchmarks/bench_refusal.py        # writes reports/learner-refusal.{md,json}
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

CASES = {
    "table, RandomForestClassifier(n_estimators='x')": ["builtin:wine", "--learner",
                                                         "sklearn.ensemble:RandomForestClassifier(n_estimators='x')"],
    "table, os:system (refused before import)": ["builtin:wine", "--learner", "os:system(command='touch PWNED')"],
    "signal, a function instead of a class": [str(Path("recipes/plaid.toml").resolve()), "--learner",
                                              "sklearn.utils:check_array"],
}


def main() -> None:
    exe = Path(sys.executable).with_name("augmentor")
    rows = []
    for name, args in CASES.items():
        with tempfile.TemporaryDirectory() as tmp:
            start = time.perf_counter()
            r = subprocess.run([str(exe), "run", *args, "--out", f"{tmp}/run", "--report", f"{tmp}/rep", "-q"],
                               capture_output=True, text=True, cwd=tmp)
            took = time.perf_counter() - start
            rows.append({"case": name, "seconds": round(took, 2), "exit_code": r.returncode,
                         "lines": len(r.stderr.strip().splitlines()) + len(r.stdout.strip().splitlines()),
                         "gan_step_taken": (Path(tmp) / "run" / "checkpoints").exists(),
                         "message": (r.stderr or r.stdout).strip()[:300]})
    out = Path("reports")
    (out / "learner-refusal.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = ["# How long a bad learner takes to be refused", "",
             "`augmentor run DATA --learner SPEC`, timed from start to its one-line error by "
             "`benchmarks/bench_refusal.py` (CPU, 2 cores). Issue 45 asks under 30 s, before any GAN step.", "",
             "| case | seconds | exit code | lines printed | a GAN step taken |", "|---|---|---|---|---|"]
    lines += [f"| {r['case']} | {r['seconds']} | {r['exit_code']} | {r['lines']} | {r['gan_step_taken']} |"
              for r in rows]
    lines += ["", "Messages:", ""] + [f"- {r['case']}: `{r['message']}`" for r in rows]
    (out / "learner-refusal.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
