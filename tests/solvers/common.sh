# Shared by the simulate_* tests: a scratch directory, the gyre command, the comparer.
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
