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
# more members than the file holds: the option named, and what fits
"$GYRE" simulate -model l96 -ensemble_size 2 -ts_max_time 0.5 -quiet -output ens2.nc
expect_error "more members than the initial file's" \
  "ens2.nc: variable X has 2 members, this run -ensemble_size 3 (member m starts from the file's member m): give -ensemble_size 2 at most" \
  mpirun_n 2 "$GYRE" simulate -model l96 -ensemble_size 3 -ts_max_time 1 -quiet -output bad.nc \
  -initial_file ens2.nc -initial_time 0.5
[ ! -e bad.nc ] || fail "a refused run made its output"
# one state for several members: said once (the members stay identical)
mpirun_n 2 "$GYRE" simulate -model l96 -ensemble_size 3 -ts_max_time 1 -quiet -output same.nc \
  -initial_file truth.nc -initial_time 0.5 2> warn.txt
[ "$(grep -c "warning: -initial_file 'truth.nc' holds one state: all 3 members start from it" warn.txt)" = 1 ] ||
  { cat warn.txt; fail "one initial state for 3 members not said once"; }
# a model-chosen dt (ns2d's CFL step) divides the output interval and, where that alone does
# not divide them, the initial and end times too: output 0.07 from 0.25 to 0.98 steps 0.01
# (0.07/5 = 0.014, the CFL-rounded step for the output alone, divides neither 0.25 nor 0.98)
ns=(-model ns2d -grid_nx 32 -grid_ny 32 -quiet)
"$GYRE" simulate "${ns[@]}" -ts_max_time 1 -output_every 0.25 -output ns_truth.nc
mpirun_n 2 "$GYRE" simulate "${ns[@]}" -ts_max_time 0.98 -output_every 0.07 -output ns_fc.nc \
  -initial_file ns_truth.nc -initial_time 0.25
"$PYTHON" - <<'PY' || fail "a model-chosen dt does not divide the run's times"
import netCDF4, numpy as np
f = netCDF4.Dataset("ns_fc.nc")
dt, t = float(f.getncattr("gyre_dt")), f["time"][:]
assert abs(dt - 0.01) < 1e-15, dt
assert np.allclose(t, 0.25 + 0.07 * np.arange(11), rtol=0, atol=1e-12), t
print("ns2d from 0.25 to 0.98 every 0.07: dt", dt, "outputs", t[0], "...", t[-1])
PY
# the same from 0 to 1 (0.07 and 1: dt 0.01); an end time no dt of at most ten times the
# steps divides (1.0000001) still gets the times that fit the output interval's dt
"$GYRE" simulate "${ns[@]}" -ts_max_time 1 -output_every 0.07 -output ns_one.nc
[ "$("$GYRE" info ns_one.nc | awk '$1 == "gyre_dt" { print $3 }')" = 0.01 ] ||
  fail "-output_every 0.07 -ts_max_time 1: dt is not 0.01"
expect_error "an end time that fits no coarse dt" \
  "-ts_max_time 1.0000001 is not a whole number of time steps dt = 0.014000000000000002: give 0.994 or 1.008 (dt chosen by the model" \
  "$GYRE" simulate "${ns[@]}" -ts_max_time 1.0000001 -output_every 0.07 -output ns_bad.nc
# a time no coarse dt divides is the one named, with times that fit the others' dt
expect_error "the end time, not the initial time, is named" \
  "-ts_max_time 0.9999 is not a whole number of time steps dt = 0.01: give 0.99 or 1 (dt chosen" \
  "$GYRE" simulate "${ns[@]}" -ts_max_time 0.9999 -output_every 0.07 -output ns_bad.nc \
  -initial_file ns_truth.nc -initial_time 0.25
expect_error "the checkpoint interval, not the end time, is named" \
  "-checkpoint_every 0.0999 is not a whole number of time steps dt = 0.01: give 0.09 or 0.1 (dt" \
  "$GYRE" simulate "${ns[@]}" -ts_max_time 1 -output_every 0.07 -output ns_bad.nc \
  -checkpoint_every 0.0999 -checkpoint ns_bad.ckpt
# a restart continues at its checkpoint's dt and output interval: a run to 1 (dt 0.01, for 0.07
# and 1) extended to 1.4 (0.07 and 1.4 alone would choose 0.014; no -output_every: not the
# model's default 0.1 either) equals the run to 1.4 at -ts_dt 0.01
"$GYRE" simulate "${ns[@]}" -ts_max_time 1 -output_every 0.07 -output ns_leg.nc \
  -checkpoint ns_leg.ckpt
mpirun_n 2 "$GYRE" simulate "${ns[@]}" -ts_max_time 1.4 -output ns_leg.nc \
  -checkpoint ns_leg.ckpt -restart auto
"$GYRE" simulate "${ns[@]}" -ts_max_time 1.4 -output_every 0.07 -ts_dt 0.01 -output ns_whole.nc
expect_error "a restart's end time off its checkpoint's dt" \
  "-ts_max_time 1.455 is not a whole number of time steps dt = 0.01: give 1.45 or 1.46 (dt of the checkpoint this run continues)" \
  "$GYRE" simulate "${ns[@]}" -ts_max_time 1.455 -output_every 0.07 -output ns_leg.nc \
  -checkpoint ns_leg.ckpt -restart auto
# another output interval is refused first, with the checkpoint's (not times that fit its dt),
# the output it continues and the checkpoint left as they were
sums=$(sha256sum ns_leg.nc ns_leg.ckpt)
for o in "-output_every 0.05" "-output_every_steps 10"; do
  read -r -a oo <<< "$o"
  expect_error "a restart's output interval ($o)" \
    "$o: checkpoint 'ns_leg.ckpt' continues a run with an output record every 0.07 (7 steps of dt = 0.01); a restart keeps that: give -output_every 0.07 (or -output_every_steps 7), or leave it out" \
    mpirun_n 2 "$GYRE" simulate "${ns[@]}" -ts_max_time 1.6 "${oo[@]}" -output ns_leg.nc \
    -checkpoint ns_leg.ckpt -restart auto
done
echo "$sums" | sha256sum -c --quiet || fail "a refused restart changed its output or checkpoint"
# the same with -ts_dt at the checkpoint's dt: without an interval the records continue (it
# took the model's default, refused as "steps between outputs 7 in the checkpoint, 10 in this
# run"), and another interval is refused naming the checkpoint's
"$GYRE" simulate "${ns[@]}" -ts_dt 0.01 -ts_max_time 0.7 -output_every 0.07 -output ns_dt.nc \
  -checkpoint ns_dt.ckpt
dtsums=$(sha256sum ns_dt.nc ns_dt.ckpt)
expect_error "a restart's output interval with -ts_dt" \
  "-output_every 0.05: checkpoint 'ns_dt.ckpt' continues a run with an output record every 0.07 (7 steps of dt = 0.01); a restart keeps that: give -output_every 0.07 (or -output_every_steps 7), or leave it out" \
  "$GYRE" simulate "${ns[@]}" -ts_dt 0.01 -ts_max_time 0.98 -output_every 0.05 -output ns_dt.nc \
  -checkpoint ns_dt.ckpt -restart auto
echo "$dtsums" | sha256sum -c --quiet || fail "a refused restart (-ts_dt) changed its files"
"$GYRE" simulate "${ns[@]}" -ts_dt 0.01 -ts_max_time 0.98 -output ns_dt.nc -checkpoint ns_dt.ckpt \
  -restart auto
"$PYTHON" - <<'PY' || fail "a restart with -ts_dt did not continue its checkpoint's records"
import netCDF4, numpy as np
t = netCDF4.Dataset("ns_dt.nc")["time"][:]
assert np.allclose(t, 0.07 * np.arange(15), rtol=0, atol=1e-12), t
print("restart with -ts_dt 0.01 and no -output_every: records every 0.07 to", t[-1])
PY
# another model's checkpoint is named as such (its dt is not taken: 0.07 does not fit l96's)
"$GYRE" simulate -model l96 -ts_dt 0.003 -output_every 0.09 -ts_max_time 0.9 -quiet \
  -output l96_leg.nc -checkpoint l96_leg.ckpt
expect_error "another model's checkpoint" \
  "checkpoint 'l96_leg.ckpt' belongs to another run: model l96" \
  "$GYRE" simulate "${ns[@]}" -ts_max_time 1.4 -output_every 0.07 -output ns_other.nc \
  -restart l96_leg.ckpt
# l96 (no stable-dt rule: its default dt 0.005) continues at the checkpoint's dt and records
# too, with or without -ts_dt (it took dt 0.005 and the default interval): another interval is
# refused naming the checkpoint's
l96sums=$(sha256sum l96_leg.nc l96_leg.ckpt)
expect_error "an l96 restart's output interval" \
  "-output_every 0.06: checkpoint 'l96_leg.ckpt' continues a run with an output record every 0.09 (30 steps of dt = 0.003); a restart keeps that: give -output_every 0.09 (or -output_every_steps 30), or leave it out" \
  "$GYRE" simulate -model l96 -ts_dt 0.003 -output_every 0.06 -ts_max_time 1.8 -quiet \
  -output l96_leg.nc -checkpoint l96_leg.ckpt -restart auto
echo "$l96sums" | sha256sum -c --quiet || fail "a refused l96 restart changed its files"
"$GYRE" simulate -model l96 -ts_max_time 1.8 -quiet -output l96_leg.nc -checkpoint l96_leg.ckpt \
  -restart auto
"$PYTHON" - <<'PY' || fail "an l96 restart did not continue its checkpoint's dt and records"
import netCDF4, numpy as np
d = netCDF4.Dataset("l96_leg.nc")
t = d["time"][:]
assert float(d.getncattr("gyre_dt")) == 0.003, d.getncattr("gyre_dt")
assert np.allclose(t, 0.09 * np.arange(21), rtol=0, atol=1e-12), t
print("l96 restart without -ts_dt: dt 0.003, records every 0.09 to", t[-1])
PY
"$PYTHON" - <<'PY' || fail "a restart to a later end time differs from the whole run"
import netCDF4, numpy as np
a, b = netCDF4.Dataset("ns_leg.nc"), netCDF4.Dataset("ns_whole.nc")
assert float(a.getncattr("gyre_dt")) == 0.01 and a["time"].shape == b["time"].shape == (21,)
d = float(np.max(np.abs(a["vorticity"][:] - b["vorticity"][:])))
print("restart to 1.4 against the whole run: max |d vorticity| =", d)
assert d <= 1e-6 * float(np.max(np.abs(b["vorticity"][:]))), d
PY
echo "simulate_initial: ok"
