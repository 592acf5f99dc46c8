#!/usr/bin/env bash
# slurm_requeue: preemption and requeue through a throwaway single-node Slurm (fixture.sh). The
# batch scripts are set up as runs/slurm/requeue.sh says (--signal=B:USR1@..., --requeue,
# --open-mode=append) and run one gyre command line, with -restart auto / -train_resume auto,
# through gyre_requeueable; that line starts the first run and resumes a requeued one.
#  (a) a 2-rank gyre simulate of an ensemble of 2 gets Slurm's warning signal mid-run (SIGUSR1
#      to the batch shell only, as --signal=B:USR1@120 sends it before the time limit; here
#      scancel --signal=USR1 --batch): the ranks checkpoint and exit 75, the script requeues
#      the job, which runs again (SLURM_RESTART_COUNT=1), resumes from the checkpoint, ends
#      COMPLETED (Restarts=1) and its output equals, bitwise in every data variable, the same
#      command run outside Slurm without interruption; its log shows the restart and the resume.
#  (b) the same job launched with srun instead of mpiexec, requeued from outside mid-run
#      (scontrol requeue, which sends SIGTERM to every process of the job): the same, bitwise.
#  (c) an afterok dependant of (a) stays PENDING while (a) is checkpointed and requeued, and
#      starts only once (a) has COMPLETED, as its record of (a)'s state shows.
#  (d) gyre train (one process, no launcher) warned the same way: after the requeue its
#      checkpoint (weights, optimiser state, learning curve) and best model equal, bitwise,
#      an uninterrupted training's.
#  (e) an array task that checkpoints requeues itself alone (ARRAYJOB_TASK), not the array;
#  (f) a job cancelled mid-run (scancel) whose step checkpoints stays CANCELLED.
# Skipped (77) where Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/fixture.sh"
slurm_start
t_start=$SECONDS

# state_of ID: a job's JobState.
state_of() {
  slurm_job_states "$1" > st.txt
  awk '{ sub(/^JobState=/, "", $3); print $3 }' st.txt
}
# wait_until SECONDS WHAT COMMAND...: polls COMMAND every 0.2 s until it succeeds.
wait_until() {
  local limit=$1 what=$2 t0=$SECONDS
  shift 2
  until "$@"; do
    if [ $((SECONDS - t0)) -ge "$limit" ]; then
      tail -n 20 ./*.out
      fail "not $what after $limit s"
    fi
    sleep 0.2
  done
}
# restarted LOG: the job logging to LOG (appended) has started its second run.
restarted() { grep -q 'SLURM_RESTART_COUNT=1$' "$1"; }
# expect_in FILE PATTERN WHAT
expect_in() { grep -q -- "$2" "$1" || { cat "$1"; fail "$3"; }; }

# Open MPI believes Slurm's slots are cores: on 2 cores its ranks must yield (slurm_mpi.sh).
export OMPI_MCA_mpi_yield_when_idle=1
# Long enough to be interrupted once its first periodic checkpoint exists (the sign that the
# run is under way; the output's records are not on disk before it closes or checkpoints).
sim=(-model l96 -seed 3 -ensemble_size 2 -ts_max_time 100 -output_every 0.5 -checkpoint_every 10)
# The batch script: $1 names the run's files, $2 is the launcher (mpiexec, or srun with
# Slurm's PMIx plugin: Open MPI's ranks then are srun's tasks and srun forwards the signal).
# Options go in verbatim: no spaces in them.
cat > sim_job.sh << EOS
#!/bin/bash
#SBATCH --ntasks=2
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
source "\$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
echo "job \$SLURM_JOB_ID: SLURM_RESTART_COUNT=\${SLURM_RESTART_COUNT:-0}"
if [ "\$2" = srun ]; then launch=(srun --mpi=pmix); else launch=(mpiexec -n 2); fi
gyre_requeueable "\${launch[@]}" "\$GYRE" simulate ${sim[*]} -output "\$1.nc" \\
  -checkpoint "\$1.ckpt" -restart auto
echo "job \$SLURM_JOB_ID: done"
EOS

# The same command outside Slurm, uninterrupted, is the reference; (a) and (b) run alongside.
mpirun_n 2 "$GYRE" simulate "${sim[@]}" -output full.nc -checkpoint full.ckpt -restart auto \
  > full.log 2>&1 &
full_pid=$!
a=$(sbatch --parsable -J warned -t 10 -o a.out sim_job.sh a mpiexec)
dep=$(sbatch --parsable -J dependant -o dep.out --dependency="afterok:$a" \
  --kill-on-invalid-dep=yes \
  --wrap "scontrol show job -o $a > dep_saw.txt")
b=$(sbatch --parsable -J requeued -t 10 -o b.out sim_job.sh b srun)
echo "submitted: job $a (warned), its afterok dependant $dep, job $b (scontrol requeue)"

# (a) the warning and (b) the requeue from outside, each once its run is under way
wait_until 120 "under way (a.ckpt)" test -s a.ckpt
scancel --signal=USR1 --batch "$a"
t_a=$SECONDS
wait_until 120 "under way (b.ckpt)" test -s b.ckpt
[ "$(state_of "$b")" = RUNNING ] || fail "job $b is not running before its requeue"
scontrol requeue "$b"
t_b=$SECONDS
wait_until 60 "requeued and restarted" restarted a.out
echo "job $a: warned at $((t_a - t_start)) s, running again $((SECONDS - t_a)) s later"
# (c): the dependant waits
s=$(state_of "$dep")
[ "$s" = PENDING ] || fail "dependant $dep is $s while job $a runs again after its requeue"
wait_until 60 "requeued and restarted" restarted b.out
echo "job $b: requeued at $((t_b - t_start)) s, running again $((SECONDS - t_b)) s later"

wait "$full_pid" || { cat full.log; fail "the uninterrupted run failed"; }
slurm_wait 180 "$a" "$dep" "$b"
for j in a b; do
  id=${!j}
  echo "--- $j.out"
  grep -v '^\[simulate\] step ' "$j.out" # without the progress lines
  s=$(state_of "$id")
  [ "$s" = COMPLETED ] || fail "job $id ended $s, expected COMPLETED"
  scontrol show job -o "$id" > "$j.job"
  expect_in "$j.job" ' Restarts=1 ' "job $id: not Restarts=1"
  expect_in "$j.out" '^\[simulate\] resuming at step ' "job $id: no resume in its log"
  expect_in "$j.out" "gyre_requeueable: job $id (restart 1): a requeued run" \
    "job $id: its second run does not log restart 1"
  ncdiff full.nc "$j.nc" --rtol 0 || fail "job $id's output differs from the uninterrupted run"
done
# the launchers were the ones asked for (the provenance says)
ncdump -h a.nc > a.hdr
ncdump -h b.nc > b.hdr
expect_in a.hdr 'launcher = "mpiexec (Open MPI)"' "job $a: not launched by mpiexec"
expect_in b.hdr 'launcher = "srun"' "job $b: not launched by srun"
# (b)'s first run was stopped mid-run by the requeue, and its script left the requeue to Slurm.
# The requeue's SIGTERM reaches the ranks twice, racing: from slurmstepd directly, and as the
# SIGUSR1 the batch shell's trap forwards through srun; whichever comes first stops gyre.
expect_in b.out '^\[simulate\] signal \(15\|10\) at step' \
  "job $b: gyre did not see the requeue (neither its SIGTERM nor the forwarded SIGUSR1)"
expect_in b.out "gyre_requeueable: job $b (restart 0): checkpointed (exit 75)" \
  "job $b: no line for the checkpointed exit"
# (a)'s first run was warned: checkpointed (75) and requeued itself
expect_in a.out '^\[simulate\] signal 10 at step' "job $a: gyre did not see the warning"
expect_in a.out "gyre_requeueable: job $a (restart 0): checkpointed (exit 75): requeued" \
  "job $a: not requeued by its script"
# (c): the dependant ran, after (a) had completed
s=$(state_of "$dep")
[ "$s" = COMPLETED ] || fail "dependant $dep ended $s, expected COMPLETED"
expect_in dep_saw.txt 'JobState=COMPLETED ' "dependant $dep started before job $a completed"
echo "simulate: warned job $a and requeued job $b resumed to the uninterrupted result; $dep waited"

# (d) training
mpirun_n 1 "$GYRE" simulate -model l96 -l96_mode two_scale -ts_max_time 4 -ensemble_size 3 \
  -seed 5 -output d.nc -quiet
# (40 epochs: the warning must find the training under way past the wrapper's 3 s hold; 12
# epochs took 2.4 s in all on a fast core, and the job completed without being requeued)
train=(-train_data d.nc -train_inputs X -train_targets coupling -net_width 48 -train_epochs 40
  -train_batch 16 -train_lr 1e-3)
cat > train_job.sh << EOS
#!/bin/bash
#SBATCH --signal=B:USR1@60
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
source "\$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
echo "job \$SLURM_JOB_ID: SLURM_RESTART_COUNT=\${SLURM_RESTART_COUNT:-0}"
gyre_requeueable "\$GYRE" train ${train[*]} -train_out t.nc -train_resume auto
EOS
"$GYRE" train "${train[@]}" -train_out tfull.nc -train_resume auto > tfull.log 2>&1 &
full_pid=$!
t=$(sbatch --parsable -J train -t 10 -o t.out train_job.sh)
# (e) alongside: an array of 2 whose task with SLURM_JOB_ID = SLURM_ARRAY_JOB_ID (a plain
# `scontrol requeue SLURM_JOB_ID` would requeue the whole array) checkpoints in its first run;
# the step here is a stand-in for gyre that exits 75 then, and 0 after 4 s otherwise. Only
# that task must run twice.
cat > array_job.sh << 'EOS'
#!/bin/bash
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
echo "task $SLURM_ARRAY_TASK_ID (job $SLURM_JOB_ID) run ${SLURM_RESTART_COUNT:-0}" \
  >> "runs_$SLURM_ARRAY_TASK_ID.txt"
# shellcheck disable=SC2016 # expanded by the step
gyre_requeueable bash -c 'if [ "$SLURM_JOB_ID" = "$SLURM_ARRAY_JOB_ID" ] &&
  [ "${SLURM_RESTART_COUNT:-0}" = 0 ]; then exit 75; fi; sleep 4'
EOS
arr=$(sbatch --parsable -J array --array=0-1 -t 5 -o 'array_%a.out' array_job.sh)
# (f) alongside: a job cancelled mid-run (scancel: SIGTERM to all its processes) whose step
# checkpoints (exit 75) is not requeued by its script; it stays CANCELLED.
cat > cancel_job.sh << 'EOS'
#!/bin/bash
#SBATCH --requeue
#SBATCH --open-mode=append
set -euo pipefail
source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
echo "run ${SLURM_RESTART_COUNT:-0}"
# shellcheck disable=SC2016 # expanded by the step
gyre_requeueable bash -c 'trap "exit 75" TERM USR1; touch cancel_started; sleep 60 & wait'
EOS
c=$(sbatch --parsable -J cancelled -t 5 -o c.out cancel_job.sh)
echo "submitted: training job $t, array $arr, job $c (to be cancelled)"
wait_until 60 "started (job $c)" test -e cancel_started
scancel "$c"
t_cancel=$SECONDS
wait_until 120 "under way (t.ckpt.nc)" test -s t.ckpt.nc
scancel --signal=USR1 --batch "$t"
wait_until 60 "requeued and restarted" restarted t.out
wait "$full_pid" || { cat tfull.log; fail "the uninterrupted training failed"; }
slurm_wait 120 "$t"
cat t.out
s=$(state_of "$t")
[ "$s" = COMPLETED ] || fail "training job $t ended $s, expected COMPLETED"
expect_in t.out '^train: stopped by signal 10 (.*) in epoch' "job $t: gyre train did not see the warning"
expect_in t.out '^train: resumed from ' "job $t: no resume in its log"
ncdiff tfull.ckpt.nc t.ckpt.nc || fail "job $t's training differs from the uninterrupted one"
ncdiff tfull.nc t.nc || fail "job $t's best model differs from the uninterrupted one's"
# (e) the array: both tasks COMPLETED, the one that checkpointed ran twice, the other once
slurm_wait 60 "$arr"
cat array_0.out array_1.out > array.out
cat array.out runs_*.txt
slurm_job_states "$arr" > arr.txt
n=$(grep -c 'JobState=COMPLETED$' arr.txt || true)
[ "$n" -eq 2 ] || { cat arr.txt; fail "array $arr: $n tasks COMPLETED, expected 2"; }
cat runs_0.txt runs_1.txt > runs.txt
[ "$(grep -c . runs.txt)" -eq 3 ] || fail "array $arr: not 3 runs (one task twice, one once)"
expect_in runs.txt "(job $arr) run 1" \
  "array $arr: the task with the array's job id did not run again"
expect_in array.out "requeued (scontrol requeue ${arr}_" "array $arr: not requeued as ${arr}_TASK"
# (f) still cancelled once a requeued job could have started again (cred_expire 10 s + 1 s)
while [ $((SECONDS - t_cancel)) -lt 16 ]; do sleep 1; done
cat c.out
s=$(state_of "$c")
[ "$s" = CANCELLED ] || fail "cancelled job $c is $s"
expect_in c.out "checkpointed (exit 75) while Slurm ends the job (JobState=.*not requeued" \
  "job $c: no line for the cancel"
[ "$(grep -c '^run ' c.out)" -eq 1 ] || fail "cancelled job $c ran again"
echo "slurm_requeue: passed in $((SECONDS - t_start)) s"
