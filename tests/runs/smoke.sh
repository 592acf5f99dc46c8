#!/usr/bin/env bash
# smoke.sh EXPERIMENT LINE...: runs/EXPERIMENT.sh at its tiny size in a scratch directory;
# required: it succeeds, its report directory holds report.md (with the experiment's own
# section) and PNG files that decode, and its output has a line containing each LINE.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
exp=$1
shift
build=$(dirname "$(dirname "$GYRE")")
GYRE_RUN_DIR="$work/$exp" bash "$GYRE_SOURCE_DIR/runs/$exp.sh" "$build" tiny > run.log 2>&1 ||
  { cat run.log; fail "runs/$exp.sh tiny failed"; }
cat run.log
report="$work/$exp/report"
[ -s "$report/report.md" ] || fail "no $report/report.md"
grep -q "^## The $exp experiment" "$report/report.md" ||
  fail "report.md lacks the section '## The $exp experiment ...'"
for line in "$@"; do
  grep -qF -- "$line" run.log || fail "runs/$exp.sh printed no line with '$line'"
done
grep -q "^report: $report/report.md" run.log || fail "runs/$exp.sh did not say where the report is"
"$PYTHON" - "$report" <<'PY'
import glob
import sys

import matplotlib.image as mpimg
pngs = sorted(glob.glob(sys.argv[1] + "/*.png"))
assert pngs, "no PNG in the report"
for p in pngs:
    img = mpimg.imread(p)
    assert img.ndim == 3 and min(img.shape[:2]) > 100, f"{p}: shape {img.shape}"
    assert img.std() > 0, f"{p} is blank"
print(f"{len(pngs)} PNGs decode:", ", ".join(p.split("/")[-1] for p in pngs))
PY
echo "runs ($exp, tiny): passed"
