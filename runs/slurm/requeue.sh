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
#
# gyre_requeueable COMMAND...
#   Runs COMMAND (srun ..., mpiexec -n N ..., or a plain gyre command) in the background and
#   waits for it. On SIGUSR1 or SIGTERM the batch shell forwards SIGUSR1 to COMMAND, whatever
#   it received (gyre treats both alike, and Open MPI's mpiexec turns a SIGTERM into a kill of
#   its ranks while it forwards SIGUSR1 to them; srun and MPICH's mpiexec forward SIGUSR1 to
#   their tasks too), then waits again until COMMAND has exited: gyre writes its checkpoint
#   after the current step and exits 75 ("checkpointed").
#   - COMMAND exits 75: one line in the log, `scontrol requeue` of this job (an array task
#     as ARRAYJOBID_TASKID: the plain SLURM_JOB_ID of an array's first task names the whole
#     array), and gyre_requeueable returns 75. Under `set -e` the script then exits 75, so a
#     checkpointed run never counts as success for an afterok dependant; the requeued job stays
#     the same job id, so dependants wait for its final run.
#   - otherwise it returns COMMAND's status (0 when the run is done).
#   Outside Slurm (no SLURM_JOB_ID) it runs COMMAND in the foreground and returns its status
#   (75 included): nothing is requeued.
#   The log lines start with "gyre_requeueable:" and go to stderr (the job's log); each names
#   the job, SLURM_RESTART_COUNT (0 in the first run, 1 after one requeue, ...).
#
# What a requeue does: Slurm ends this run (the batch shell gets SIGTERM; the trap is quiet by
# then) and puts the job back in the queue as PENDING with the same job id; when it starts
# again it runs this same script from the top, with SLURM_RESTART_COUNT one higher, appending
# to the same log (--open-mode=append). The same gyre command line resumes it:
#   gyre simulate ... -checkpoint F -restart auto: resumes from F when F exists, else starts;
#   gyre train ... -train_resume auto [-train_checkpoint F]: the same for training.
# A resumed run finishes with the result of an uninterrupted one (bitwise; tests/slurm/
# slurm_requeue.sh). A checkpoint that exists but is unreadable or from another run is a
# one-line "gyre: error:" naming the file and the job fails; it is never silently restarted.
# A `scontrol requeue JOBID` from outside (an operator, preemption with PreemptMode=REQUEUE)
# sends SIGTERM to every process of the job: gyre checkpoints within KillWait and the job runs
# again the same way (the requeue this function then asks for is refused, which it logs).
# A cancelled job (scancel) is not requeued: Slurm refuses to requeue a cancelled job.

# The pid of the running COMMAND, for the signal handler.
_gyre_requeue_pid=""

_gyre_requeue_log() {
  echo "gyre_requeueable: job ${_gyre_requeue_id:-?} (restart ${SLURM_RESTART_COUNT:-0}): $*" >&2
}

# The handler of USR1 and TERM while COMMAND runs: forward SIGUSR1.
_gyre_requeue_forward() {
  _gyre_requeue_log "SIG$1 received: forwarding SIGUSR1 to the step (pid $_gyre_requeue_pid)"
  kill -USR1 "$_gyre_requeue_pid" 2> /dev/null || true
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
  trap '_gyre_requeue_forward USR1' USR1
  trap '_gyre_requeue_forward TERM' TERM
  "$@" &
  _gyre_requeue_pid=$!
  # A trapped signal interrupts `wait` (status > 128) while COMMAND still runs: wait again
  # until COMMAND has been reaped (kill -0 then fails; a zombie still answers it).
  while :; do
    status=0
    wait "$_gyre_requeue_pid" || status=$?
    kill -0 "$_gyre_requeue_pid" 2> /dev/null || break
  done
  _gyre_requeue_pid=""

  if [ $status -ne 75 ]; then
    trap - USR1 TERM
    eval "$old_usr1"
    eval "$old_term"
    _gyre_requeue_log "the step exited with status $status"
    return $status
  fi
  # Checkpointed. The requeue ends this run with a SIGTERM to the batch shell: a quiet trap
  # (not an ignored signal, which scontrol would inherit) lets this shell exit 75 itself.
  trap ':' USR1 TERM
  local out
  if out=$(scontrol requeue "$_gyre_requeue_id" 2>&1); then
    _gyre_requeue_log "checkpointed (exit 75): requeued (scontrol requeue $_gyre_requeue_id)"
  else
    _gyre_requeue_log "checkpointed (exit 75): scontrol requeue $_gyre_requeue_id refused" \
      "(${out//$'\n'/ }); a job requeued or cancelled from outside is already on its way"
  fi
  return 75
}
