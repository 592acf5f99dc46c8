#!/usr/bin/env bash
# -initial_file/-initial_time: a forecast started from the state a truth run stored at t = 0.5
# reproduces the truth run from there on (bitwise for l96, whose state is stored in double),
# its time axis starts at 0.5, and the truth file is named, with its hash, in the provenance.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
mpirun_n 2 "$GYRE" simulate -model l96 -seed 4 -ts_max_time 1 -quiet -output truth.nc
mpirun_n 2 "$GYRE" simulate -model l96 -seed 99 -ts_max_time 1 -quiet -output fc.nc \
  -initial_file truth.nc -initial_time 0.5
"$PYTHON" - <<'PY' || fail "forecast differs from the truth run"
import netCDF4, numpy as np, hashlib
t = netCDF4.Dataset("truth.nc"); f = netCDF4.Dataset("fc.nc")
tt, ft = t["time"][:], f["time"][:]
assert abs(ft[0] - 0.5) < 1e-12 and abs(ft[-1] - 1.0) < 1e-12, (ft[0], ft[-1])
i0 = int(np.argmin(np.abs(tt - 0.5)))
assert np.array_equal(tt[i0:], ft), "times differ"
for v in ("X", "Y"):
    a, b = t[v][i0:], f[v][:]
    d = float(np.max(np.abs(a - b)))
    print(f"{v}: max |forecast - truth| over t in [0.5, 1] = {d}")
    assert d == 0.0
h = hashlib.sha256(open("truth.nc", "rb").read()).hexdigest()
assert h in f.getncattr("input_files"), f.getncattr("input_files")
print("provenance:", f.getncattr("input_files"))
PY
# a time the file does not hold
if "$GYRE" simulate -model l96 -ts_max_time 1 -quiet -output bad.nc -initial_file truth.nc \
     -initial_time 0.503 2> err.txt; then fail "a missing initial time was accepted"; fi
grep -q "0.503" err.txt || { cat err.txt; fail "message does not name the time"; }
echo "simulate_initial: ok"
