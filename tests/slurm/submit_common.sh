# shellcheck shell=bash
# Shared by the gyre submit tests (slurm_submit*.sh, tests/cli/submit.sh): a site environment file for the jobs
# and helpers over a pipeline's jobs.txt. Source after fixture.sh.

# The site's environment file, as a cluster's would hold `module load ...`: here Open MPI's
# settings for root in a container and for a node whose 4 declared CPUs are 2 cores
# (slurm_mpi.sh says why yield_when_idle matters).
write_site_env() {
  cat > "$1" << 'EOS'
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_rmaps_base_oversubscribe=1 OMPI_MCA_mpi_yield_when_idle=1
export OMPI_MCA_btl_vader_single_copy_mechanism=none
EOS
}

# append_injections FILE: option values that would run a command (touch PWNED1..6) if they
# reached a shell unquoted: ; $() backticks quotes, in a stage's option and in -slurm_extra.
# (The tests add PWNED7, PWNED8 in the pipeline directory's name.)
append_injections() {
  cat >> "$1" << 'EOS'
-heldout_note "x; touch PWNED1"
-heldout_note2 $(touch PWNED2) `touch PWNED3`
-heldout_note3 it's a 'quote "and; touch PWNED4"
-slurm_extra "--comment=$(touch PWNED5); touch PWNED6"
EOS
}

# submit_cluster_start: the test cluster (fixture.sh's slurm_start) and $work/site.env. The
# jobs source runs/slurm/requeue.sh (gyre_requeueable); without it every job would fail, so
# that is said at once.
submit_cluster_start() {
  [ -r "$GYRE_SOURCE_DIR/runs/slurm/requeue.sh" ] ||
    fail "runs/slurm/requeue.sh is missing (gyre_requeueable: preemption and requeue)"
  slurm_start
  write_site_env "${work:?}/site.env"
}

# pipeline_ids DIR: the job ids of DIR/jobs.txt, one a line.
pipeline_ids() { awk '!/^#/ { print $2 }' "$1/jobs.txt"; }

# pipeline_id DIR JOB: the id of job JOB.
pipeline_id() { awk -v j="$2" '$1 == j { print $2 }' "$1/jobs.txt"; }

# job_state ID: the state of a (non-array) job.
job_state() { slurm_job_states "$1" | awk '{ sub(/JobState=/, "", $3); print $3 }'; }

# show_logs DIR: every log of the pipeline, for a failure.
show_logs() { tail_logs 20 "$1"/logs/*; }
