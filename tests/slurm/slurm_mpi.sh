#!/usr/bin/env bash
# slurm_mpi: through a throwaway single-node Slurm (fixture.sh) whose node declares 4 CPUs:
# an sbatch job with --ntasks=4 runs gyre simulate on 4 MPI ranks (on however few cores the
# machine has), ends COMPLETED and its output is a readable NetCDF file. Skipped (77) where
# Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
source "$GYRE_SOURCE_DIR/tests/slurm/fixture.sh"
slurm_start

# Open MPI 4.1 (Debian 12) inside a Slurm allocation: plain mpiexec works on this one-node
# cluster (it reads the allocation, 4 slots on localhost, and starts the ranks itself; no
# srun, so neither OMPI_MCA_plm=isolated nor srun --mpi=pmix is needed, though both work
# too). What matters is OMPI_MCA_mpi_yield_when_idle=1: Open MPI believes Slurm's 4 slots
# are 4 cores, so it does not see that it is oversubscribed and its ranks busy-poll; on
# 2 cores this run then takes about 60 s instead of about 1 s (measured both ways).
# As root, Open MPI needs the two OMPI_ALLOW_RUN_AS_ROOT variables.
cat > mpi_job.sh << 'EOS'
#!/bin/bash
set -euo pipefail
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMPI_MCA_mpi_yield_when_idle=1
echo "job $SLURM_JOB_ID: $SLURM_NTASKS tasks on $SLURM_JOB_NODELIST, $(nproc) cores"
mpiexec -n "$SLURM_NTASKS" --oversubscribe "$GYRE" simulate -model l96 -ts_max_time 0.1 \
  -quiet -output x.nc
EOS
job=$(sbatch --parsable -J gyre-mpi --ntasks=4 -o mpi_job.out mpi_job.sh)
echo "submitted job $job"
slurm_wait 50 "$job"
cat mpi_job.out
slurm_job_states "$job" > states.txt
grep -q 'JobState=COMPLETED$' states.txt || { cat states.txt; fail "job $job did not complete"; }
scontrol show job -o "$job" > job.txt
grep -q 'NumTasks=4 ' job.txt || { cat job.txt; fail "job $job did not get 4 tasks"; }
[ -f x.nc ] || fail "job $job wrote no x.nc"
"$GYRE" info x.nc > info.txt || { cat info.txt; fail "gyre info x.nc failed"; }
head -n 3 info.txt
# the provenance names the job, its nodes and the launcher
ncdump -h x.nc > header.txt
grep -q "slurm_job_id = \"$job\"" header.txt || fail "x.nc's slurm_job_id is not $job"
grep -q 'slurm_nodelist = "localhost"' header.txt || fail "x.nc's slurm_nodelist is not localhost"
grep -q 'launcher = "mpiexec (Open MPI)"' header.txt || fail "x.nc's launcher is not Open MPI's"
echo "4-task MPI job $job COMPLETED on $(nproc) cores"
