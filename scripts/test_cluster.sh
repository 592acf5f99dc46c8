#!/usr/bin/env bash
# scripts/test_cluster.sh [COMMAND...] — a throwaway single-node Slurm cluster on this machine
# (tests/slurm/fixture.sh: Debian's slurmctld, slurmd and munge, private ports, everything in
# one temporary directory), for trying runs/slurm and `gyre submit` by hand as README's worked
# example does. Without COMMAND: an interactive shell with SLURM_CONF exported, so sbatch,
# squeue and scontrol talk to this cluster only; the daemons stop when that shell exits. With
# COMMAND: runs it there, stops the daemons and exits with its status. The daemons run as the
# current user (root, or a user whose slurmd can start); exit status 77 with the reason where
# they cannot (scripts/setup.sh installs the packages).
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
fail() {
  echo "test_cluster: $*" >&2
  exit 1
}
# shellcheck source=tests/slurm/fixture.sh
source "$root/tests/slurm/fixture.sh"
slurm_start
echo "test_cluster: Slurm is up (SLURM_CONF=$SLURM_CONF): 1 node, 4 CPUs; its files in $SLURM_DIR"
if [ $# -gt 0 ]; then
  status=0
  "$@" || status=$?
  exit $status
fi
echo "test_cluster: a shell on it; 'exit' stops the daemons"
status=0
PS1='(gyre test cluster) \w\$ ' bash --norc -i || status=$?
exit $status
