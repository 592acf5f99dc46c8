# Slurm (tests/slurm/fixture.sh starts a throwaway single-node cluster from Debian's packages:
# munged, slurmctld, slurmd under a temporary directory, on free ports; stopped by pid
# whatever the outcome; SKIPPED with the reason where it cannot start):
#   slurm_basic: a one-line job and an array of 3 COMPLETED (3 distinct member files); a job
#     that exits 3 FAILED and its afterok dependant CANCELLED (kill_invalid_depend).
gyre_add_script_test(slurm_basic "slurm;integration" ${CMAKE_CURRENT_LIST_DIR}/slurm_basic.sh)
#   slurm_mpi: an sbatch job with --ntasks=4 runs gyre simulate on 4 ranks (mpiexec inside the
#     allocation) on a 2-core machine: COMPLETED, x.nc readable by gyre info.
gyre_add_script_test(slurm_mpi "slurm;integration" ${CMAKE_CURRENT_LIST_DIR}/slurm_mpi.sh)
#   slurm_cluster_script: scripts/test_cluster.sh COMMAND (the worked example's cluster): a job
#     runs, COMMAND's status comes back, no daemon or directory is left.
gyre_add_script_test(slurm_cluster_script "slurm;integration"
                     ${CMAKE_CURRENT_LIST_DIR}/slurm_cluster_script.sh)
#   slurm_submit: gyre submit runs/l96-closure.opts -size tiny: all 7 jobs (8 with the truth
#     array's 2 tasks) COMPLETED, the report produced, the array's member files distinct with
#     their job id and array index in the provenance, gyre submit -status says so; then
#     runs/ns2d-fno.opts tiny the same way (8 jobs COMPLETED, the report and its summary).
gyre_add_script_test(slurm_submit "slurm;integration" ${CMAKE_CURRENT_LIST_DIR}/slurm_submit.sh)
#   slurm_submit_fail: a pipeline whose train stage fails (-fit_net nonesuch) and whose option
#     values try to run commands: -dry_run submits nothing; train FAILED, hybrid, compare and
#     report CANCELLED, the others COMPLETED; -status names the failed job and its log; no
#     injected command ran.
gyre_add_script_test(slurm_submit_fail "slurm;integration"
                     ${CMAKE_CURRENT_LIST_DIR}/slurm_submit_fail.sh)
#   slurm_templates: runs/slurm/*.sbatch by hand, chained with afterok: an ensemble array of 3
#     (3 distinct member files with their array index and seed), a 2-rank simulation, training
#     on the members, a hybrid run and its physics twin, compare and report: all COMPLETED.
gyre_add_script_test(slurm_templates "slurm;integration"
                     ${CMAKE_CURRENT_LIST_DIR}/slurm_templates.sh)
#   slurm_requeue: preemption and requeue with runs/slurm/requeue.sh's gyre_requeueable: a
#     2-rank gyre simulate (mpiexec) warned mid-run (USR1 to the batch shell) checkpoints,
#     requeues itself and resumes to COMPLETED with the output of an uninterrupted run
#     (bitwise); the same for an srun job requeued from outside (scontrol requeue) and for gyre
#     train (weights bitwise); an afterok dependant waits through the requeue and starts after
#     the final COMPLETED; an array task requeues itself alone (JOB_TASK). About 2 minutes.
gyre_add_script_test(slurm_requeue "slurm;integration" ${CMAKE_CURRENT_LIST_DIR}/slurm_requeue.sh)
#   requeue_lib: gyre_requeueable without a cluster (a stand-in scontrol and step): exit
#     statuses, USR1/TERM forwarded as USR1, the interrupted wait waited again, requeue ids
#     (array tasks as JOB_TASK), no requeue after a SIGTERM (Slurm ending the job).
gyre_add_script_test(requeue_lib "unit" ${CMAKE_CURRENT_LIST_DIR}/requeue_lib.sh)
