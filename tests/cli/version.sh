#!/usr/bin/env bash
# gyre version: one feature a line — the version and commit, whether CUDA was built (and the
# GPU it sees, NCCL), the backends, the MPI, PETSc and NetCDF (parallel or not) — and it agrees
# with this build's configuration (GYRE_EXPECT_CUDA: ON or OFF, from CMake).
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
"$GYRE" version > version.txt
cat version.txt
for key in "gyre [0-9]" "cuda: " "gpu: " "nccl: " "backends: cpu" "mpi: " "petsc: " \
  "netcdf: .*(parallel: "; do
  grep -q "^$key" version.txt || fail "gyre version: no line starting '$key'"
done
if [ "${GYRE_EXPECT_CUDA:-}" = ON ]; then
  grep -q "^cuda: built (nvcc" version.txt || fail "CUDA was configured but version says otherwise"
  grep -q "^backends: cpu, cuda" version.txt || fail "the cuda backend is not listed"
else
  grep -q "^cuda: not built" version.txt || fail "CUDA was not configured but version says built"
fi
# the command line itself: gyre alone is a usage error (exit 2), gyre version -help its usage
# (not the version), an option a command does not have a warning naming it
set +e
"$GYRE" > none.txt 2>&1
rc=$?
set -e
[ $rc = 2 ] && grep -q "gyre: error: no command given" none.txt && grep -q "^commands:" none.txt ||
  { cat none.txt; fail "gyre without a command: exit $rc"; }
"$GYRE" help | grep -q "^commands:" || fail "gyre help prints no usage"
"$GYRE" version -help > vhelp.txt 2>&1 || fail "gyre version -help failed"
grep -q "^usage: gyre version" vhelp.txt && ! grep -q "^gyre [0-9]" vhelp.txt ||
  { cat vhelp.txt; fail "gyre version -help does not print its usage alone"; }
"$GYRE" version -x > vx.txt 2> vx.err || fail "gyre version -x failed"
grep -q "option -x was not used (misspelt, or not an option of gyre version?)" vx.err ||
  { cat vx.err; fail "gyre version ignored -x in silence"; }
echo "version: passed"
