#!/usr/bin/env bash
# Memory errors: short l96 and ns2d runs (output, checkpoint, restart) under valgrind memcheck
# on one rank; any invalid read/write or use of uninitialised memory fails the test. Leaks are
# left to the ASan build (make test-sanitize): Open MPI's start-up holds memory until exit.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
command -v valgrind >/dev/null || { echo "SKIP: valgrind not installed"; exit 77; }
supp=()
[ -f /usr/share/openmpi/openmpi-valgrind.supp ] && supp=(--suppressions=/usr/share/openmpi/openmpi-valgrind.supp)
supp+=(--suppressions="$GYRE_SOURCE_DIR/tests/common/cuda-valgrind.supp") # CUDA libraries' loading
vg() { valgrind -q --error-exitcode=3 --leak-check=no "${supp[@]}" "$@"; }
vg "$GYRE" simulate -model l96 -ts_max_time 0.02 -quiet -output l96.nc -checkpoint l96.ckpt
vg "$GYRE" simulate -model l96 -ts_max_time 0.04 -quiet -output l96.nc -checkpoint l96.ckpt -restart auto
vg "$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -output_stride 2 -ts_dt 0.01 \
  -ts_max_time 0.05 -output_every 0.01 -quiet -output ns.nc
vg "$GYRE" info ns.nc > /dev/null
echo "simulate_valgrind: ok"
