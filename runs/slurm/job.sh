# shellcheck shell=bash
# runs/slurm/job.sh — sourced first by every gyre batch script: the templates of this folder
# and the scripts `gyre submit` writes. It
#   - stops the job at the first failing command (set -euo pipefail);
#   - sources the site's environment file, $GYRE_SITE_ENV, when set (the `module load ...`
#     that puts the site's PETSc, MPI and NetCDF on the paths);
#   - finds gyre: $GYRE (default: gyre on PATH);
#   - sets the array `launch`, the command that starts $SLURM_NTASKS MPI ranks in this
#     allocation, from $GYRE_LAUNCHER: mpiexec (default; Open MPI's and MPICH's read the
#     allocation), srun, or none (one process), then the words of $GYRE_LAUNCHER_ARGS;
#   - sources requeue.sh (preemption: gyre_requeueable COMMAND... runs COMMAND, forwards
#     Slurm's USR1/TERM to it, and requeues the job when it exits 75, checkpointed).
set -euo pipefail

if [ -n "${GYRE_SITE_ENV:-}" ]; then
  [ -r "$GYRE_SITE_ENV" ] || {
    echo "gyre: error: site environment file '$GYRE_SITE_ENV' not readable" >&2
    exit 1
  }
  # shellcheck disable=SC1090 # the site's file
  source "$GYRE_SITE_ENV"
fi
GYRE=${GYRE:-gyre}
GYRE_PYTHON=${GYRE_PYTHON:-python3}
command -v "$GYRE" > /dev/null || {
  echo "gyre: error: gyre executable '$GYRE' not found (set GYRE, or put it on PATH)" >&2
  exit 1
}

ntasks=${SLURM_NTASKS:-1}
# shellcheck disable=SC2034 # launch: used by the script that sources this file
case ${GYRE_LAUNCHER:-mpiexec} in
  mpiexec) launch=(mpiexec -n "$ntasks") ;;
  srun) launch=(srun --ntasks="$ntasks") ;;
  none) launch=() ;;
  *)
    echo "gyre: error: GYRE_LAUNCHER '$GYRE_LAUNCHER': expected mpiexec, srun or none" >&2
    exit 1
    ;;
esac
# GYRE_LAUNCHER_ARGS: more words for the launcher (e.g. --mpi=pmix --cpu-bind=cores), split
# at blanks, never evaluated
if [ -n "${GYRE_LAUNCHER_ARGS:-}" ]; then
  [ ${#launch[@]} -gt 0 ] || {
    echo "gyre: error: GYRE_LAUNCHER_ARGS '$GYRE_LAUNCHER_ARGS' given with no launcher" >&2
    exit 1
  }
  read -r -a launcher_args <<< "$GYRE_LAUNCHER_ARGS"
  launch+=("${launcher_args[@]}")
fi

requeue_sh=$(dirname "${BASH_SOURCE[0]}")/requeue.sh
[ -r "$requeue_sh" ] || {
  echo "gyre: error: '$requeue_sh' not found (gyre_requeueable: preemption and requeue)" >&2
  exit 1
}
# shellcheck source=runs/slurm/requeue.sh
source "$requeue_sh"

# an array task by the id squeue and requeue.sh show (ARRAYJOBID_TASKID), its own id after it
job_id=${SLURM_JOB_ID:-none}
if [ -n "${SLURM_ARRAY_JOB_ID:-}" ] && [ -n "${SLURM_ARRAY_TASK_ID:-}" ]; then
  job_id="${SLURM_ARRAY_JOB_ID}_${SLURM_ARRAY_TASK_ID} (job id ${SLURM_JOB_ID:-none})"
fi
echo "[job] ${SLURM_JOB_NAME:-gyre} job $job_id${SLURM_RESTART_COUNT:+ restart \
$SLURM_RESTART_COUNT}: $ntasks task(s) on ${SLURM_JOB_NODELIST:-$(hostname)}, $(date -u +%FT%TZ)"
