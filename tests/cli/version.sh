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
echo "version: passed"
