#!/usr/bin/env bash
# How long a contributor waits for `make test` on a fresh clone: the .venv set-up, then ruff and pytest,
# then the fast tier (`pytest -m "not slow"`) with the same .venv. Writes reports/test-suite.json.
#   bash benchmarks/time_make_test.sh            (from the repository root; takes about 7 minutes)
set -euo pipefail
repo=$(pwd)
work=$(mktemp -d)
# on failure the logs are kept in /tmp/time-make-test-logs (the clone is removed either way)
trap 'status=$?; if [ $status -ne 0 ]; then mkdir -p /tmp/time-make-test-logs; cp "$work"/*.log /tmp/time-make-test-logs/ 2>/dev/null; echo "failed ($status): logs in /tmp/time-make-test-logs" >&2; fi; rm -rf "$work"' EXIT
git clone -q "$repo" "$work/clone"
cd "$work/clone"
t0=$(date +%s.%N)
make .venv/.installed > "$work/venv.log" 2>&1
t1=$(date +%s.%N)
make test > "$work/test.log" 2>&1
t2=$(date +%s.%N)
.venv/bin/python -m pytest -q -p no:cacheprovider -m "not slow" > "$work/fast.log" 2>&1
t3=$(date +%s.%N)
summary=$(grep -E "passed|failed" "$work/test.log" | tail -1)
fast=$(grep -E "passed|failed" "$work/fast.log" | tail -1)
python3 - "$t0" "$t1" "$t2" "$t3" "$summary" "$fast" "$(nproc)" "$(git -C "$repo" rev-parse --short HEAD)" <<'PY' | tee "$repo/reports/test-suite.json"
import json, sys
t0, t1, t2, t3 = map(float, sys.argv[1:5])
print(json.dumps({"commit": sys.argv[8], "cores": int(sys.argv[7]), "venv_s": round(t1 - t0, 1),
                  "ruff_and_pytest_s": round(t2 - t1, 1), "make_test_s": round(t2 - t0, 1),
                  "pytest_summary": sys.argv[5], "fast_tier_s": round(t3 - t2, 1), "fast_tier_summary": sys.argv[6]},
                 indent=2))
PY
