#!/usr/bin/env bash
# scripts/test_cluster.sh COMMAND (README's worked example starts its cluster so): COMMAND runs
# with SLURM_CONF set, a job submitted there completes, the script exits with COMMAND's status
# and leaves no daemon and no directory behind. Skipped (77) where Slurm cannot start.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
script=$GYRE_SOURCE_DIR/scripts/test_cluster.sh
cat > inside.sh << 'EOS'
#!/bin/bash
set -euo pipefail
echo "$SLURM_CONF" > conf.txt
sbatch --wait -o job.out --wrap 'echo job ran on $(hostname)' > /dev/null
exit 3
EOS
status=0
bash "$script" bash inside.sh > out.txt 2>&1 || status=$?
[ $status -ne 77 ] || { cat out.txt; exit 77; }
cat out.txt
[ $status -eq 3 ] || fail "test_cluster.sh exited $status, expected the command's 3"
grep -q "^job ran on " job.out || fail "the job did not run"
dir=$(dirname "$(cat conf.txt)")
[ ! -e "$dir" ] || fail "the cluster's directory $dir is left behind"
if pgrep -f "$dir" > /dev/null; then
  pgrep -af "$dir"
  fail "daemons of $dir still run"
fi
echo "test_cluster.sh: the job ran, status 3 came back, nothing left behind"
