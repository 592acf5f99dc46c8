#!/usr/bin/env bash
# requeue_lib: runs/slurm/requeue.sh's gyre_requeueable without a Slurm cluster (a stand-in
# scontrol on PATH records its arguments; a stand-in step records the signals it gets and
# exits 75 on one, as gyre does), so it runs wherever bash does:
#  - outside Slurm (no SLURM_JOB_ID) COMMAND's status comes back, 75 included, no requeue;
#  - USR1 to the batch shell reaches the step as USR1; 75 -> `scontrol requeue JOBID`, the
#    script (set -e) exits 75; an array task is requeued as ARRAYJOBID_TASKID;
#  - TERM to the batch shell (Slurm ending the job: scancel, time limit, requeue from outside)
#    reaches the step as USR1 and the script exits 75 without a requeue; so does a job whose
#    JobState is no longer RUNNING (a cancelled job);
#  - the step's own status comes back after a signal: a step that exits at once on it (also
#    when it gets SIGTERM together with the shell, as from Slurm, 20 times: a blocking wait
#    lost that status 1 time in 20), and one that ignores it and ends later;
#  - a step that exits 0 or 3 gives 0 or 3, and the caller's USR1/TERM handlers come back;
#  - a USR1 between steps does not kill the batch shell: the next step is not started and the
#    job is requeued;
#  - a USR1 in a step's first second (before its handlers exist) is held until the step is
#    GYRE_REQUEUE_HOLD s old, then reaches it (forwarded at once it would kill the step); one
#    held while the step ends by itself requeues the job at the next step.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

mkdir bin
cat > bin/scontrol << 'EOS'
#!/bin/bash
if [ "$1" = show ]; then
  echo "JobId=$4 JobName=job JobState=${STUB_STATE:-RUNNING} Reason=None Restarts=${STUB_RESTARTS:-0}"
else
  echo "$*" >> scontrol.txt
  # the requeue's SIGTERM to every process of the job, scontrol included, before it reports
  [ -z "${STUB_REQUEUE_KILLS:-}" ] || { kill -TERM "$PPID"; kill -TERM $$; }
fi
EOS
chmod +x bin/scontrol
export PATH=$PWD/bin:$PATH
# step.sh MODE: "stop" exits 75 on USR1/TERM, "quick" the same at once (no handler delay),
# "ignore" logs the signal and carries on, "late" is "stop" with its handlers installed only
# after LATE s (default 1: a launcher's and gyre's start-up; a signal before then kills it);
# after 2 s (STEP_TICKS tenths) without a signal it exits $2 (default 0).
cat > step.sh << 'EOS'
#!/bin/bash
mode=$1
if [ "$mode" = late ]; then
  echo $$ > started
  sleep "${LATE:-1}"
fi
got() {
  echo "$1" >> signals.txt
  [ "$mode" = ignore ] || exit 75
}
trap 'got USR1' USR1
trap 'got TERM' TERM
echo $$ > started
if [ "$mode" = quick ]; then
  while :; do # a wait, which the signal interrupts at once (a sleep would finish first)
    sleep 0.05 &
    wait $!
  done
fi
for _ in $(seq "${STEP_TICKS:-20}"); do sleep 0.1; done
exit "${2:-0}"
EOS
chmod +x step.sh
# The batch script: set -e, the library, one step; it records the caller's traps afterwards.
cat > job.sh << 'EOS'
#!/bin/bash
set -euo pipefail
source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
trap 'echo caller-usr1' USR1
gyre_requeueable ./step.sh "$@"
trap -p USR1 > traps_after.txt
EOS

# run_job SIGNAL ARGS...: runs job.sh ARGS in the background, sends SIGNAL (or none) to it once
# the step has started, and sets $status to its exit status; job.log holds its stderr.
run_job() {
  local sig=$1
  shift
  rm -f started signals.txt scontrol.txt traps_after.txt
  bash job.sh "$@" 2> job.log &
  local pid=$!
  if [ "$sig" != none ]; then
    for _ in $(seq 400); do # its pid written: its handlers are in place
      [ -s started ] && break
      sleep 0.05
    done
    [ -s started ] || { cat job.log; fail "the step did not start within 20 s"; }
    if [ "$sig" = USR1-TERM ]; then # a warning, then Slurm ending the job
      kill -USR1 "$pid"
      sleep 0.5
      kill -TERM "$pid"
    elif [ "$sig" = TERM-all ]; then # Slurm ending a job signals every process at once
      local all
      all="$pid $(cat started) $(pgrep -P "$(cat started)" || true)"
      # shellcheck disable=SC2086 # a list of pids
      kill -CONT $all 2> /dev/null || true
      # shellcheck disable=SC2086
      kill -TERM $all 2> /dev/null || true
    else
      kill -"$sig" "$pid"
    fi
  fi
  status=0
  wait "$pid" || status=$?
}
expect() { # expect WHAT STATUS SIGNALS SCONTROL
  local signals="" requeue=""
  [ ! -e signals.txt ] || signals=$(paste -sd, signals.txt)
  [ ! -e scontrol.txt ] || requeue=$(paste -sd, scontrol.txt)
  [ "$3" != "*" ] || signals="*" # any
  if [ "$status" != "$2" ] || [ "$signals" != "$3" ] || [ "$requeue" != "$4" ]; then
    cat job.log
    fail "$1: status $status, step signals '$signals', scontrol '$requeue'; expected $2, '$3', '$4'"
  fi
  [ -n "${quiet:-}" ] || echo "$1: status $status, step signals '$signals', scontrol '$requeue'"
}

unset SLURM_JOB_ID SLURM_ARRAY_JOB_ID SLURM_ARRAY_TASK_ID SLURM_RESTART_COUNT
run_job none stop 3
expect "outside Slurm, exit 3" 3 "" ""
run_job none stop 75
expect "outside Slurm, exit 75" 75 "" ""

export SLURM_JOB_ID=42
export GYRE_REQUEUE_HOLD=0 # forwarded at once (the hold has its own cases below)
run_job none stop
expect "in Slurm, done" 0 "" ""
grep -q "caller-usr1" traps_after.txt ||
  { cat traps_after.txt; fail "the caller's USR1 handler is lost"; }
run_job none stop 3
expect "in Slurm, exit 3" 3 "" ""
run_job USR1 stop
expect "USR1 warning" 75 USR1 "requeue 42"
grep -q '^gyre_requeueable: job 42 (restart 0): checkpointed (exit 75): requeued' job.log ||
  { cat job.log; fail "no requeue line in the log"; }
run_job USR1 quick
expect "USR1, the step exits at once" 75 USR1 "requeue 42"
# the requeue's own SIGTERM ends scontrol (and reaches the batch shell) before it reports:
# requeued all the same, as the job's restart count says; refused where the count is unchanged
STUB_REQUEUE_KILLS=1 STUB_RESTARTS=1 run_job USR1 stop
expect "USR1, scontrol ended by its requeue's SIGTERM" 75 USR1 "requeue 42"
grep -q '^gyre_requeueable: job 42 (restart 0): checkpointed (exit 75): requeued' job.log ||
  { cat job.log; fail "scontrol ended by the requeue's SIGTERM: no requeue line in the log"; }
STUB_REQUEUE_KILLS=1 run_job USR1 stop
expect "USR1, scontrol killed, no requeue" 75 USR1 "requeue 42"
grep -q 'checkpointed (exit 75): scontrol requeue 42 refused' job.log ||
  { cat job.log; fail "scontrol killed without a requeue: no refused line"; }
run_job USR1 ignore 5
expect "USR1 ignored, the step ends later" 5 USR1 ""
run_job TERM stop
expect "TERM (Slurm ends the job)" 75 USR1 ""
grep -q 'while Slurm ends the job (JobState=RUNNING, SIGTERM received' job.log ||
  { cat job.log; fail "no TERM line"; }
STUB_STATE=CANCELLED run_job USR1 stop
expect "USR1 to a job already CANCELLED" 75 USR1 ""
# the race that lost the step's status to a blocking wait, 1 time in 20: 20 tries
for _ in $(seq 20); do
  run_job TERM-all quick
  quiet=1 expect "TERM to the shell and the step at once" 75 "*" ""
done
echo "TERM to the shell and the step at once: status 75, 20 times out of 20"
SLURM_RESTART_COUNT=2 SLURM_ARRAY_JOB_ID=40 SLURM_ARRAY_TASK_ID=2 SLURM_JOB_ID=40 \
  run_job USR1 stop
expect "array task 2 of 40" 75 USR1 "requeue 40_2"
grep -q '^gyre_requeueable: job 40_2 (restart 2): a requeued run' job.log ||
  { cat job.log; fail "no restart count in the log"; }
# a warning between steps (the batch script busy with something else): the shell survives,
# the next step is not started, the job is requeued
cat > between.sh << 'EOS'
#!/bin/bash
set -euo pipefail
source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
kill -USR1 $$ # as Slurm's warning would, while the script runs a python fit
echo "alive after USR1" > alive.txt
gyre_requeueable ./step.sh stop
EOS
rm -f started signals.txt scontrol.txt alive.txt
status=0
bash between.sh 2> job.log || status=$?
expect "USR1 between steps" 75 "" "requeue 42"
[ -e alive.txt ] || { cat job.log; fail "USR1 between steps killed the batch shell"; }
[ ! -e started ] || fail "the step after a warning between steps was started"
grep -q 'SIGUSR1 came between steps' job.log || { cat job.log; fail "no between-steps line"; }
# a warning in a step's first seconds, before its handlers exist: forwarded at once (within
# the poll's second) it kills the step (status 138: the job would fail); held until the step
# is GYRE_REQUEUE_HOLD s old, it reaches the step's handler and the job is requeued. (The
# margins: handlers at 4 s against a forward within ~1 s; handlers at 1 s against a forward
# at 2-4 s, the step running 6 s.)
LATE=4 run_job USR1 late
expect "USR1 before the step's handlers, no hold" 138 "" ""
LATE=1 STEP_TICKS=60 GYRE_REQUEUE_HOLD=2 run_job USR1 late
expect "USR1 before the step's handlers, held 2 s" 75 USR1 "requeue 42"
grep -q 'held until the step .* is 2 s old' job.log || { cat job.log; fail "no held line"; }
grep -q 'forwarding the held SIGUSR1' job.log || { cat job.log; fail "no held forward line"; }
# a hold that is no whole number: one line says it is taken as 3 s; the run goes on
GYRE_REQUEUE_HOLD=2.5 run_job none stop
expect "GYRE_REQUEUE_HOLD 2.5" 0 "" ""
[ "$(grep -c "GYRE_REQUEUE_HOLD '2.5' is not a whole number of seconds: holding early warnings 3 s" \
  job.log)" -eq 1 ] || { cat job.log; fail "no (or more than one) line for GYRE_REQUEUE_HOLD 2.5"; }
# held, then a TERM (Slurm ending the job): forwarded once, not again when the hold ends
GYRE_REQUEUE_HOLD=1 STEP_TICKS=40 run_job USR1-TERM ignore 5
expect "USR1 held, then TERM" 5 USR1 ""
# held while the step ends by itself: kept for the next step, which is not started
cat > held.sh << 'EOS'
#!/bin/bash
set -euo pipefail
source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
GYRE_REQUEUE_HOLD=30 gyre_requeueable ./step.sh ignore
mv started started1
gyre_requeueable ./step.sh stop
EOS
rm -f started started1 signals.txt scontrol.txt
bash held.sh 2> job.log &
pid=$!
for _ in $(seq 400); do
  [ -s started ] && break
  sleep 0.05
done
kill -USR1 $pid
status=0
wait $pid || status=$?
expect "USR1 held while the step ends by itself" 75 "" "requeue 42"
[ ! -e started ] || { cat job.log; fail "the step after a held warning was started"; }
grep -q 'the held SIGUSR1 is kept' job.log || { cat job.log; fail "no kept line"; }
# no command: one line, status 2
status=0
bash -c 'source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"; gyre_requeueable' 2> noarg.log ||
  status=$?
if [ "$status" != 2 ] || ! grep -q "gyre_requeueable: no command given" noarg.log; then
  cat noarg.log
  fail "gyre_requeueable without a command: status $status"
fi
echo "requeue_lib: passed"
