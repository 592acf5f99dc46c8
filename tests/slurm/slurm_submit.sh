#!/usr/bin/env bash
# slurm_submit: the l96-closure pipeline at tiny size submitted with gyre submit to a throwaway
# single-node Slurm (fixture.sh): every job (the truth ensemble array's 2 tasks, held-out truth,
# train, hybrid, twin, compare, report) ends COMPLETED; the report (index.html, report.md,
# PNGs) is produced; the array's member files are distinct and each one's provenance names
# its job id, array index, node list and launcher; gyre submit -status says all completed.
# Then the same for runs/ns2d-fno.opts (its ranks started by srun --mpi=pmix: -slurm_launcher
# srun -slurm_launcher_args; an ensemble array of 3, train, physics, the FNO
# emulator's rollouts, compare, report).
# Skipped (77) where Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/fixture.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/submit_common.sh"
submit_cluster_start
pipe=$work/pipe
t0=$SECONDS
"$GYRE" submit "$GYRE_SOURCE_DIR/runs/l96-closure.opts" -size tiny -dir "$pipe" \
  -slurm_env_file "$work/site.env" -slurm_python "$PYTHON" > submit.txt 2>&1 ||
  { cat submit.txt; fail "gyre submit failed"; }
cat submit.txt
grep -q "^follow: gyre submit -status $pipe" submit.txt || fail "no line telling how to follow"
mapfile -t ids < <(pipeline_ids "$pipe")
[ ${#ids[@]} -eq 7 ] || fail "expected 7 jobs in $pipe/jobs.txt, got ${#ids[@]}"

(slurm_wait 480 "${ids[@]}") || { show_logs "$pipe"; fail "the pipeline did not end in 480 s"; }
for id in "${ids[@]}"; do slurm_job_states "$id"; done > states.txt
cat states.txt
if [ "$(grep -c 'JobState=COMPLETED$' states.txt)" -ne 8 ]; then
  show_logs "$pipe"
  "$GYRE" submit -status "$pipe" || true
  fail "not every job (8, the array's 2 tasks counted) COMPLETED"
fi
echo "pipeline COMPLETED in $((SECONDS - t0)) s"

# the report
for f in index.html report.md; do [ -s "$pipe/report/$f" ] || fail "no $pipe/report/$f"; done
ls "$pipe"/report/*.png > /dev/null 2>&1 || fail "no PNG in $pipe/report"
grep -q "^## The l96-closure experiment" "$pipe/report/report.md" ||
  fail "report.md lacks the experiment's goals section"

# the ensemble array: distinct members, provenance naming job id and array index
truth=$(pipeline_id "$pipe" truth)
for k in 0 1; do
  f=$pipe/truth_m00$k.nc
  [ -f "$f" ] || fail "no member file $f"
  task_job=$(slurm_job_states "$truth" | awk -v k="$k" '$2 == "ArrayTaskId=" k { sub(/JobId=/, "", $1); print $1 }')
  ncdump -h "$f" > "h$k.txt"
  grep -q "slurm_job_id = \"$task_job\"" "h$k.txt" || fail "$f: slurm_job_id is not $task_job"
  grep -q "slurm_array_task_id = \"$k\"" "h$k.txt" || fail "$f: slurm_array_task_id is not $k"
  grep -q "slurm_array_job_id = \"$truth\"" "h$k.txt" || fail "$f: slurm_array_job_id is not $truth"
  grep -q 'slurm_nodelist = "localhost"' "h$k.txt" || fail "$f: slurm_nodelist is not localhost"
  grep -q 'launcher = "mpiexec (Open MPI)"' "h$k.txt" || fail "$f: launcher is not Open MPI's"
done
"$PYTHON" - "$pipe/truth_m000.nc" "$pipe/truth_m001.nc" << 'PY'
import sys

import netCDF4
import numpy as np
a, b = (np.asarray(netCDF4.Dataset(p)["X"][:]) for p in sys.argv[1:])
assert a.shape == b.shape and a.ndim == 2, (a.shape, b.shape)
assert not np.allclose(a, b), "the two members are the same run"
print(f"members distinct: max |X0 - X1| = {np.abs(a - b).max():.3f}")
PY
grep -q "truth_m\*.nc" "$pipe/closure.info" || grep -q "truth_m00" "$pipe/closure.info" ||
  fail "closure.nc does not name the member files it was trained on"

"$GYRE" submit -status "$pipe" > status.txt || { cat status.txt; fail "-status exit status"; }
cat status.txt
grep -q "^all 8 job(s) COMPLETED" status.txt || fail "-status does not say all completed"
echo "gyre submit: l96-closure tiny COMPLETED with its report"

# the other experiment: ns2d-fno, its training ensemble an array of 3; its ranks started by
# srun (Slurm's PMIx plugin, -slurm_launcher_args) instead of mpiexec
pipe2=$work/pipe2
"$GYRE" submit "$GYRE_SOURCE_DIR/runs/ns2d-fno.opts" -size tiny -dir "$pipe2" \
  -slurm_launcher srun -slurm_launcher_args "--mpi=pmix" \
  -slurm_env_file "$work/site.env" -slurm_python "$PYTHON" > submit2.txt 2>&1 ||
  { cat submit2.txt; fail "gyre submit (ns2d-fno) failed"; }
cat submit2.txt
mapfile -t ids < <(pipeline_ids "$pipe2")
(slurm_wait 300 "${ids[@]}") || { show_logs "$pipe2"; fail "ns2d-fno did not end in 300 s"; }
"$GYRE" submit -status "$pipe2" > status2.txt || { cat status2.txt; show_logs "$pipe2"; fail "ns2d-fno: a job failed"; }
cat status2.txt
grep -q "^all 8 job(s) COMPLETED" status2.txt || fail "ns2d-fno: not all 8 jobs COMPLETED"
grep -rq "the first run: srun --ntasks=[0-9]* --mpi=pmix .*gyre simulate" "$pipe2"/logs/ ||
  { show_logs "$pipe2"; fail "ns2d-fno: the ranks were not started by srun --mpi=pmix"; }
[ -s "$pipe2/report/index.html" ] || fail "ns2d-fno: no report/index.html"
grep -q "relative L2 error of the vorticity" "$pipe2/logs/report-$(pipeline_id "$pipe2" report).out" ||
  fail "ns2d-fno: the report job printed no summary"
echo "gyre submit: ns2d-fno tiny COMPLETED with its report"
