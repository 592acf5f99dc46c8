# Shared by the script tests (simulate_*, train_*): a scratch directory, the gyre command,
# the comparer, expect_error.
set -euo pipefail
: "${GYRE:?GYRE must point to the gyre executable}"
: "${GYRE_SOURCE_DIR:?}"
PYTHON=${PYTHON:-/usr/bin/python3}
work=$(mktemp -d "${TMPDIR:-/tmp}/gyre-test.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"
mpirun_n() { local n=$1; shift; mpiexec -n "$n" --oversubscribe "$@"; }
ncdiff() { "$PYTHON" "$GYRE_SOURCE_DIR/tests/solvers/ncdiff.py" "$@"; }
fail() { echo "FAIL: $*"; exit 1; }
# expect_error "what" "pattern" command...: the command fails with exactly one
# "gyre: error:" line on stderr, which contains pattern.
expect_error() {
  local what=$1 pattern=$2; shift 2
  set +e
  "$@" > out.txt 2> err.txt
  local status=$?
  set -e
  [ $status -ne 0 ] || fail "$what: exit status 0"
  local n
  n=$(grep -c "^gyre: error:" err.txt || true)
  [ "$n" -eq 1 ] || { cat err.txt; fail "$what: $n error lines, expected 1"; }
  grep -q -- "$pattern" err.txt || { cat err.txt; fail "$what: message lacks '$pattern'"; }
  echo "$what: $(grep '^gyre: error:' err.txt)"
}
# signal_ranks PID SIG: sends SIG to the ranks of the mpiexec PID (as Slurm does: mpiexec
# itself would turn SIGTERM into a kill), waits for it and fails unless it exits 75 (the
# checkpointed code).
signal_ranks() {
  local pid=$1 sig=$2 ranks status
  ranks=$(pgrep -P "$pid" || true)
  [ -n "$ranks" ] || fail "the run finished before it could be signalled: make it longer"
  kill -"$sig" $ranks
  set +e
  wait "$pid"
  status=$?
  set -e
  [ $status -eq 75 ] || fail "exit status after SIG$sig was $status, expected 75"
}
