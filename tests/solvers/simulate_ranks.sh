#!/usr/bin/env bash
# The same output whatever the rank count: l96 bitwise, ns2d to 1e-10 relative (double).
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
for n in 1 2 4; do
  mpirun_n $n "$GYRE" simulate -model l96 -ts_max_time 0.5 -seed 3 -quiet -output l96_$n.nc
  mpirun_n $n "$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -ts_dt 0.01 -ts_max_time 0.5 \
    -output_every 0.1 -output_precision double -seed 5 -quiet -output ns2d_$n.nc
done
for n in 2 4; do
  echo "l96 on $n ranks vs 1 rank:"
  ncdiff l96_1.nc l96_$n.nc --vars time,X,Y,coupling --rtol 0 || fail "l96 differs on $n ranks"
  echo "ns2d on $n ranks vs 1 rank:"
  ncdiff ns2d_1.nc ns2d_$n.nc --vars time,vorticity --rtol 1e-10 || fail "ns2d differs on $n ranks"
done
echo "simulate_ranks: ok"
