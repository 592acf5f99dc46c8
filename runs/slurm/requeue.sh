# shellcheck shell=bash
# runs/slurm/requeue.sh — preemption and requeue for gyre's Slurm batch scripts.
#
# Source it from a batch script and run the long step through gyre_requeueable:
#
#   #!/bin/bash
#   #SBATCH --signal=B:USR1@120      # USR1 to the batch shell (B:) 120 s before the time limit
#   #SBATCH --requeue                # the job may be requeued (scontrol requeue needs it)
#   #SBATCH --open-mode=append       # a requeued run appends to the same log, not truncates it
#   set -euo pipefail
#   source "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh"
#   gyre_requeueable srun gyre simulate -options_file run.opts \
#     -output run.nc -checkpoint run.ckpt -restart auto
#   echo "finished"   # reached only by the run that completes (set -e: 75 ends the script)
#
# Without `set -e`, write `gyre_requeueable ... || exit $?`: the script must exit with the
# status, never 0 after a checkpointed run.
#
# gyre_requeueable COMMAND...
#   Runs COMMAND (srun ..., mpiexec -n N ..., or a plain gyre command) in the background and
#   waits for it (polling once a second). On SIGUSR1 or SIGTERM the batch shell forwards
#   SIGUSR1 to COMMAND, whatever it received (gyre treats both alike; Open MPI's mpiexec turns
#   a SIGTERM into a kill of its ranks but forwards SIGUSR1 to them; srun and MPICH's mpiexec
#   forward SIGUSR1 to their tasks too), and keeps waiting until COMMAND has exited: gyre
#   writes its checkpoint after the current step and exits 75 ("checkpointed").
#   - COMMAND exits 75 while Slurm is ending the job (the batch shell got SIGTERM, or
#     `scontrol show job` no longer says RUNNING: scancel, the time limit, preemption, a
#     requeue from outside): not requeued here (that would bring a cancelled job back), one
#     line says so, and gyre_requeueable returns 75.
#   - COMMAND exits 75 otherwise (the USR1 warning; a signal sent to the step itself, e.g.
#     scancel --signal=USR1 JOBID): one line in the log, `scontrol requeue` of this job (an
#     array task as ARRAYJOBID_TASKID: one task's SLURM_JOB_ID equals SLURM_ARRAY_JOB_ID, and
#     that id names the whole array to scontrol), and gyre_requeueable returns 75. Under
#     `set -e` the script then exits 75, so a checkpointed run never counts as success for an
#     afterok dependant; the requeued job keeps its job id, so dependants wait for its final
#     run.
#   - otherwise it returns COMMAND's status (0 when the run is done).
#   Outside Slurm (no SLURM_JOB_ID) it runs COMMAND in the foreground and returns its status
#   (75 included): nothing is requeued.
#   The log lines start with "gyre_requeueable:" and go to stderr (the job's log); each names
#   the job, SLURM_RESTART_COUNT (0 in the first run, 1 after one requeue, ...).
#
# The launchers, as measured (Open MPI 4.1, MPICH 4.0 Hydra, Slurm 22.05): Open MPI's mpiexec
# prints "Forwarding signal 10 to job" and exits 75 when its ranks do, but on SIGTERM it kills
# its ranks and exits 1 — hence SIGUSR1 is what is forwarded; srun forwards SIGUSR1 (and
# SIGTERM) to its tasks and exits 75; MPICH's mpiexec.hydra forwards SIGUSR1 and exits 75.
# A step's first seconds: before the launcher and gyre have installed their handlers a
# SIGUSR1 kills the step (Open MPI's mpiexec died of one in its first ~0.5 s: status 138, and
# the job failed), so a warning (USR1) that comes while the step is younger than
# GYRE_REQUEUE_HOLD seconds (a whole number, default 3; 0: no hold) is held and forwarded once
# the step is that old (within the next second); one
# held when the step ends by itself is remembered as between steps (below). A SIGTERM is
# forwarded at once: Slurm is ending the job and kills what is left after KillWait.
#
# What a requeue does: Slurm ends this run (the batch shell gets SIGTERM; the trap is quiet by
# then) and puts the job back in the queue as PENDING with the same job id; when it starts
# again it runs this same script from the top, with SLURM_RESTART_COUNT one higher, appending
# to the same log (--open-mode=append). It may start again no sooner than the requeue's time +
# cred_expire + 1 s (slurm.conf's AuthInfo=...,cred_expire=, 120 s by default; `scontrol show
# job` says Reason=BeginTime meanwhile), so leave the warning time (USR1@120) plus that much
# before a reservation or maintenance ends. The same gyre command line resumes it:
#   gyre simulate ... -checkpoint F -restart auto: resumes from F when F exists, else starts;
#   gyre train ... -train_resume auto [-train_checkpoint F]: the same for training.
# A resumed run finishes with the result of an uninterrupted one (bitwise; tests/slurm/
# slurm_requeue.sh). A checkpoint that exists but is unreadable or from another run, or one
# that is gone while the output (model file) it continues exists, is a one-line "gyre: error:"
# naming the file, and the job fails: a requeued run never silently starts afresh.
# A `scontrol requeue JOBID` from outside (an operator, preemption with PreemptMode=REQUEUE)
# sends SIGTERM to every process of the job: gyre checkpoints within KillWait and the job runs
# again the same way. A cancelled job (scancel) checkpoints the same way and stays cancelled
# (tested too): resubmitting the same script later resumes it.

# The pid of the running COMMAND, for the signal handler; _term: 1 once the batch shell got
# SIGTERM; _start: $SECONDS when COMMAND started; _held: 1 while a forward waits for the
# step to be GYRE_REQUEUE_HOLD seconds old.
_gyre_requeue_pid=""
_gyre_requeue_term=0
_gyre_requeue_start=0
_gyre_requeue_held=0

# A warning (USR1) that reaches the batch shell while it runs something other than a step of
# gyre_requeueable (a python fit, gyre info) would take USR1's default action and kill the
# shell, failing the job: from the moment this file is sourced it is remembered instead, and
# the next gyre_requeueable requeues the job rather than starting its step (the requeued run
# goes through the script again: finished commands resume from their final checkpoints).
_gyre_requeue_pending=0
trap '_gyre_requeue_pending=1' USR1

_gyre_requeue_log() {
  echo "gyre_requeueable: job ${_gyre_requeue_id:-?} (restart ${SLURM_RESTART_COUNT:-0}): $*" >&2
}

# The handler of USR1 and TERM while COMMAND runs: forward SIGUSR1 (a USR1 held while the step
# is younger than GYRE_REQUEUE_HOLD seconds); remember a SIGTERM.
_gyre_requeue_forward() {
  [ "$1" != TERM ] || _gyre_requeue_term=1
  # a SIGTERM is never held: Slurm is ending the job and kills it after KillWait anyway
  if [ "$1" = USR1 ] && ! _gyre_requeue_old_enough; then
    _gyre_requeue_held=1
    _gyre_requeue_log "SIG$1 received: held until the step (pid $_gyre_requeue_pid) is" \
      "$(_gyre_requeue_hold) s old (its signal handlers may not exist yet)"
    return
  fi
  _gyre_requeue_held=0 # forwarded now: a held one is not sent again
  _gyre_requeue_log "SIG$1 received: forwarding SIGUSR1 to the step (pid $_gyre_requeue_pid)"
  kill -USR1 "$_gyre_requeue_pid" 2> /dev/null || true
}

# GYRE_REQUEUE_HOLD, a whole number of seconds (default 3; anything else is taken as 3)
_gyre_requeue_hold() {
  local h=${GYRE_REQUEUE_HOLD:-3}
  [[ $h =~ ^[0-9]+$ ]] || h=3
  echo "$h"
}
# Whether the step is at least GYRE_REQUEUE_HOLD s old. SECONDS counts whole seconds, so a
# difference of HOLD + 1 guarantees HOLD (HOLD alone could be HOLD - 1 and a bit).
_gyre_requeue_old_enough() {
  local h
  h=$(_gyre_requeue_hold)
  [ "$h" -eq 0 ] || [ $((SECONDS - _gyre_requeue_start)) -ge $((h + 1)) ]
}

gyre_requeueable() {
  if [ $# -eq 0 ]; then
    echo "gyre_requeueable: no command given" >&2
    return 2
  fi
  local status=0
  if [ -z "${SLURM_JOB_ID:-}" ]; then
    "$@" || status=$?
    return $status
  fi

  # The id that names this job alone: an array task is ARRAYJOBID_TASKID.
  if [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
    _gyre_requeue_id=${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID}
  else
    _gyre_requeue_id=$SLURM_JOB_ID
  fi
  if [ "${SLURM_RESTART_COUNT:-0}" -gt 0 ]; then
    _gyre_requeue_log "a requeued run, resuming from the checkpoint if there is one: $*"
  else
    _gyre_requeue_log "the first run: $*"
  fi

  # The caller's handlers, put back afterwards.
  local old_usr1 old_term
  old_usr1=$(trap -p USR1)
  old_term=$(trap -p TERM)
  _gyre_requeue_term=0
  _gyre_requeue_held=0
  _gyre_requeue_start=$SECONDS
  [[ ${GYRE_REQUEUE_HOLD:-3} =~ ^[0-9]+$ ]] ||
    _gyre_requeue_log "GYRE_REQUEUE_HOLD '$GYRE_REQUEUE_HOLD' is not a whole number of seconds:" \
      "holding early warnings 3 s"
  trap '_gyre_requeue_forward USR1' USR1
  trap '_gyre_requeue_forward TERM' TERM
  if [ "$_gyre_requeue_pending" = 1 ]; then
    _gyre_requeue_pending=0
    _gyre_requeue_log "SIGUSR1 came between steps: not starting this step (as if it had" \
      "checkpointed)"
    ( exit 75 ) &
  else
    "$@" &
  fi
  _gyre_requeue_pid=$!
  # Poll, then wait for the exit status once COMMAND has ended. Not a blocking `wait`: a trap
  # interrupts it (status 128 + signal) and, when COMMAND ends at that moment (Slurm signals
  # every process of a job at once), bash 5.2 can lose COMMAND's status: `wait` returned -1
  # from then on (seen 1 in 20 runs; tests/slurm/requeue_lib.sh). A trap runs once the
  # `sleep` ends, within 1 s; `|| true`: Slurm's SIGTERM ends the sleep too.
  while kill -0 "$_gyre_requeue_pid" 2> /dev/null; do
    sleep 1 || true
    if [ "$_gyre_requeue_held" = 1 ] && _gyre_requeue_old_enough; then
      _gyre_requeue_held=0
      _gyre_requeue_log "forwarding the held SIGUSR1 to the step (pid $_gyre_requeue_pid)"
      kill -USR1 "$_gyre_requeue_pid" 2> /dev/null || true
    fi
  done
  status=0
  wait "$_gyre_requeue_pid" || status=$?
  if [ $status -lt 0 ] || [ $status -gt 255 ]; then
    _gyre_requeue_log "the step's exit status is lost (wait gave $status): taken as 1"
    status=1
  fi
  _gyre_requeue_pid=""

  if [ $status -ne 75 ]; then
    trap - USR1 TERM
    eval "$old_usr1"
    eval "$old_term"
    _gyre_requeue_log "the step exited with status $status"
    if [ "$_gyre_requeue_held" = 1 ]; then # a warning it never got: for the next step
      _gyre_requeue_held=0
      _gyre_requeue_pending=1
      _gyre_requeue_log "the held SIGUSR1 is kept: the next gyre_requeueable requeues the job"
    fi
    return $status
  fi
  # Checkpointed. Requeue only a job that Slurm still counts as RUNNING: a SIGTERM to the
  # batch shell, or another state (COMPLETING after scancel, the time limit or preemption;
  # PENDING after a requeue from outside), is Slurm ending the job, and Slurm decides what
  # comes next: a requeue here would bring a cancelled job back (Slurm accepts it). The
  # state, not only the SIGTERM: slurmd may signal the step before the batch shell.
  local info state=""
  info=$(scontrol show job -o "$_gyre_requeue_id" 2>&1) || info=""
  if [[ $info =~ JobState=([A-Z_]+) ]]; then state=${BASH_REMATCH[1]}; fi
  if [ "$_gyre_requeue_term" = 1 ] || { [ -n "$state" ] && [ "$state" != RUNNING ]; }; then
    local why="JobState=${state:-?}"
    [ "$_gyre_requeue_term" = 0 ] || why="$why, SIGTERM received"
    _gyre_requeue_log "checkpointed (exit 75) while Slurm ends the job ($why: scancel, time" \
      "limit or preemption; a job requeued from outside runs again): not requeued"
    return 75
  fi
  # The requeue ends this run with a SIGTERM to the batch shell: a quiet trap
  # (not an ignored signal, which scontrol would inherit) lets this shell exit 75 itself.
  trap ':' USR1 TERM
  local out rc=0 restarts=""
  out=$(scontrol requeue "$_gyre_requeue_id" 2>&1) || rc=$?
  # The requeue's SIGTERM goes to every process of the job, scontrol too: it may die of it
  # (128 + 15, nothing said) after the requeue was made. The job's restart count (past this
  # run's) or a REQUEUE state says so.
  if [ $rc -gt 128 ]; then
    info=$(scontrol show job -o "$_gyre_requeue_id" 2>&1) || info=""
    if [[ $info =~ Restarts=([0-9]+) ]]; then restarts=${BASH_REMATCH[1]}; fi
    if [[ $info =~ JobState=REQUEUE ]] ||
      { [ -n "$restarts" ] && [ "$restarts" -gt "${SLURM_RESTART_COUNT:-0}" ]; }; then
      rc=0
    fi
  fi
  if [ $rc = 0 ]; then
    _gyre_requeue_log "checkpointed (exit 75): requeued (scontrol requeue $_gyre_requeue_id)"
  else
    _gyre_requeue_log "checkpointed (exit 75): scontrol requeue $_gyre_requeue_id refused" \
      "(${out//$'\n'/ }): a job requeued from outside runs again anyway; otherwise (cancelled," \
      "or no --requeue) it ends here with status 75"
  fi
  return 75
}
