#!/usr/bin/env bash
# slurm_templates: the batch templates of runs/slurm/, by hand, through a throwaway single-node
# Slurm (fixture.sh), chained with afterok as a user would: an ensemble array of 3
# (ensemble.sbatch: 3 distinct member files, each naming its job id and array index), a
# 2-rank simulation (simulate.sbatch), training on the members (train.sbatch), a hybrid run
# (hybrid.sbatch) and its physics twin, compare.sbatch and report.sbatch: every job
# COMPLETED, the report produced. Skipped (77) where Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/fixture.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/submit_common.sh"
submit_cluster_start
export GYRE_SITE_ENV=$work/site.env GYRE_SLURM_DIR=$GYRE_SOURCE_DIR/runs/slurm
t=$GYRE_SOURCE_DIR/runs/slurm
sub() { sbatch --parsable "$@"; }
l96=(-model l96 -quiet -ts_max_time 0.5)
ens=$(sub -J ens --array=0-2 --ntasks=1 -o 'ens-%A_%a.out' "$t/ensemble.sbatch" member 1 \
  "${l96[@]}" -l96_mode two_scale -output_every 0.005)
truth=$(sub -J truth --ntasks=2 -o 'truth-%j.out' "$t/simulate.sbatch" "${l96[@]}" \
  -l96_mode two_scale -seed 100 -output truth.nc -checkpoint truth.ckpt.nc)
train=$(sub -J train --ntasks=2 -o 'train-%j.out' -d "afterok:$ens" --kill-on-invalid-dep=yes \
  "$t/train.sbatch" -train_data 'member_m*.nc' -train_inputs X -train_targets coupling \
  -net mlp -net_width 8 -train_epochs 1 -train_batch 64 -quiet -train_out closure.nc)
fc=(-model l96 -l96_mode one_scale -quiet -initial_file truth.nc -initial_time 0.25
  -ts_max_time 0.5 -output_every 0.05)
hybrid=$(sub -J hybrid --ntasks=1 -o 'hybrid-%j.out' -d "afterok:$train:$truth" \
  --kill-on-invalid-dep=yes "$t/hybrid.sbatch" closure.nc "${fc[@]}" -output hybrid.nc \
  -checkpoint hybrid.ckpt.nc)
twin=$(sub -J twin --ntasks=1 -o 'twin-%j.out' -d "afterok:$truth" --kill-on-invalid-dep=yes \
  "$t/simulate.sbatch" "${fc[@]}" -output twin.nc -checkpoint twin.ckpt.nc)
compare=$(sub -J compare --ntasks=1 -o 'compare-%j.out' -d "afterok:$hybrid:$twin" \
  --kill-on-invalid-dep=yes "$t/compare.sbatch" twin.nc hybrid.nc -compare_vars X \
  -output metrics.nc)
report=$(sub -J report -o 'report-%j.out' -d "afterok:$compare" --kill-on-invalid-dep=yes \
  "$t/report.sbatch" metrics.nc report)
ids=("$ens" "$truth" "$train" "$hybrid" "$twin" "$compare" "$report")
(slurm_wait 240 "${ids[@]}") || { tail -n 20 ./*.out; fail "the jobs did not end in 240 s"; }
for id in "${ids[@]}"; do slurm_job_states "$id"; done > states.txt
cat states.txt
[ "$(grep -c 'JobState=COMPLETED$' states.txt)" -eq 9 ] ||
  { tail -n 20 ./*.out; fail "not every job (9, the array's 3 tasks counted) COMPLETED"; }
[ -s report/index.html ] || fail "report.sbatch wrote no report/index.html"
for k in 0 1 2; do
  ncdump -h "member_m00$k.nc" > "h$k.txt"
  grep -q "slurm_array_task_id = \"$k\"" "h$k.txt" || fail "member $k: array index not $k"
  grep -q "seed = $((1 + k))" "h$k.txt" || grep -q "seed = \"$((1 + k))\"" "h$k.txt" ||
    { grep -i seed "h$k.txt"; fail "member $k: seed not $((1 + k))"; }
done
"$PYTHON" - member_m000.nc member_m001.nc member_m002.nc << 'PY'
import sys

import netCDF4
import numpy as np
x = [np.asarray(netCDF4.Dataset(p)["X"][:]) for p in sys.argv[1:]]
for i in range(3):
    for j in range(i):
        assert not np.allclose(x[i], x[j]), f"members {i} and {j} are the same run"
print("3 distinct members")
PY
# an array task's first log line names it as squeue does (ARRAYJOBID_TASKID), its own id after
for k in 0 1 2; do
  grep -q "^\[job\] ens job ${ens}_$k (job id [0-9]*):" "ens-${ens}_$k.out" ||
    { head -n 3 "ens-${ens}_$k.out"; fail "array task $k: the first log line names no ${ens}_$k"; }
done
grep -q 'launcher = "mpiexec (Open MPI)"' <(ncdump -h truth.nc) || fail "truth.nc: launcher"
grep -q 'gyre_surrogate' <(ncdump -h hybrid.nc) || fail "hybrid.nc names no surrogate"
echo "the templates: 7 jobs (9 with the array's tasks) COMPLETED, the report produced"
