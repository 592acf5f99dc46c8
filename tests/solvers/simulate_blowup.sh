#!/usr/bin/env bash
# Blow-up: a NaN/Inf or an exceeded bound stops the run with an error naming the step and the
# variable, keeps the output written so far and the last good checkpoint, exits non-zero.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 \
  -ts_max_time 5 -output_every 0.005 -checkpoint_every 0.005 -checkpoint b.ckpt -quiet \
  -output b.nc 2> err.txt
status=$?
set -e
cat err.txt
[ $status -ne 0 ] || fail "blow-up exited 0"
grep -q "blow-up at step [0-9]* (t = .*variable X" err.txt || fail "message does not name step and variable"
"$PYTHON" - <<'PY' || fail "output or checkpoint unusable after blow-up"
import netCDF4, numpy as np
d = netCDF4.Dataset("b.nc")
x = d.variables["X"][:]
print("records kept:", x.shape[0])
assert x.shape[0] >= 1 and np.all(np.isfinite(x))
c = netCDF4.Dataset("b.ckpt")
assert np.all(np.isfinite(c.variables["state"][:]))
print("checkpoint at t =", c.getncattr("gyre_checkpoint_time"))
PY
echo "simulate_blowup: ok"
