#!/usr/bin/env bash
# The guard of a learned closure: (1) a closure trained at F = 20 run at F = 60 (inputs far
# outside the training regime) and (2) a model whose last layer makes Inf/NaN: both runs
# complete with finite states, every trip is redone without the surrogate (no closure, or the
# polynomial closure with -guard_fallback polynomial), and the events
# (time, step, member, reason) are on the log and in the output file with a summary.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

source "$GYRE_SOURCE_DIR/tests/coupling/l96_closure.sh"
l96_closure 3 3 16 3

check_events() { # file reason: the run completed, its X is finite, events of that reason
  "$PYTHON" - "$@" <<'PY'
import sys
import netCDF4
import numpy as np
d = netCDF4.Dataset(sys.argv[1])
summary, events = d.getncattr("guard_summary"), d.getncattr("guard_events")
print(f"{sys.argv[1]}: {summary}")
print("  first events:", events[:160])
assert d.getncattr("end_time") != "interrupted"
assert np.isfinite(d["X"][:]).all(), "non-finite X in the output"
# the stored closure term is the one the run uses: the fallback's where the surrogate trips
assert np.isfinite(d["coupling"][:]).all(), "non-finite coupling in the output"
if len(sys.argv) > 3:  # every evaluation trips: the term is the fallback's, none (0)
    assert (d["coupling"][:] == 0).all(), "a tripped surrogate's term in the output"
n = int(summary.split()[0])
assert n > 0 and sys.argv[2] in events, f"no {sys.argv[2]} event"
PY
}

# (1) far outside the training regime
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 60 -ts_max_time 2 \
  -ensemble_size 2 -surrogate closure.nc -output f60.nc -quiet > f60.log
grep -q "^\[guard\] t = .*member .*: .*_out_of_" f60.log || fail "no [guard] event line on the log"
grep -q "^\[guard\] [0-9]* events:" f60.log || fail "no [guard] summary on the log"
check_events f60.nc out_of_range
# a restart continues the guard: the members' cooldowns and the events so far are in the
# checkpoint, so two legs give the uninterrupted run bitwise, its events all counted
leg=(-model l96 -l96_mode one_scale -l96_F 60 -ensemble_size 2 -surrogate closure.nc -quiet
  -output f60_legs.nc -checkpoint f60_legs.ckpt)
mpirun_n 2 "$GYRE" simulate "${leg[@]}" -ts_max_time 1.05 > /dev/null
mpirun_n 2 "$GYRE" simulate "${leg[@]}" -ts_max_time 2 -restart auto > /dev/null
"$PYTHON" - <<'PY' || fail "a restarted guarded run differs from the uninterrupted one"
import netCDF4, numpy as np
a, b = netCDF4.Dataset("f60.nc"), netCDF4.Dataset("f60_legs.nc")
for v in ("X", "coupling"):
    assert np.array_equal(a[v][:], b[v][:]), f"{v} differs: max {np.abs(a[v][:] - b[v][:]).max()}"
for att in ("guard_summary", "guard_events"):
    assert a.getncattr(att) == b.getncattr(att), (att, a.getncattr(att)[:80], b.getncattr(att)[:80])
print("two legs:", b.getncattr("guard_summary"))
PY
# ... and only with the model it began with (by content: a copy that was changed is another)
cp closure.nc closure_copy.nc
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("closure_copy.nc", "a"); d.setncattr("note", "another model"); d.close()
PY
sum=$(sha256sum f60_legs.nc f60_legs.ckpt)
expect_error "a restart with another model" "surrogate 'closure.nc' (sha256 .*) in the checkpoint, 'closure_copy.nc' (sha256 .*) in this run" \
  mpirun_n 2 "$GYRE" simulate "${leg[@]/closure.nc/closure_copy.nc}" -ts_max_time 3 -restart auto
echo "$sum" | sha256sum -c --quiet || fail "a refused restart changed the output or checkpoint"
# a checkpoint whose guard events are corrupt (a reason no guard gives) is one error
cp f60_legs.ckpt bad_guard.ckpt
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("bad_guard.ckpt", "a"); d["guard_event"][0, 3] = 9; d.close()
PY
expect_error "corrupt guard events in a checkpoint" "checkpoint 'bad_guard.ckpt': guard event 0 has no reason 9" \
  mpirun_n 2 "$GYRE" simulate "${leg[@]}" -ts_max_time 3 -restart bad_guard.ckpt
echo "$sum" | sha256sum -c --quiet || fail "a refused restart changed the output or checkpoint"
# ... and with its guard's settings (another would be another run, its summary wrong)
expect_error "a restart with the guard off" "guard sigma 6 band 0.5 cooldown 10 in the checkpoint, off in this run" \
  mpirun_n 2 "$GYRE" simulate "${leg[@]}" -ts_max_time 3 -restart auto -guard 0
expect_error "a restart with another cooldown" "cooldown 10 in the checkpoint, sigma 6 band 0.5 cooldown 3 in this run" \
  mpirun_n 2 "$GYRE" simulate "${leg[@]}" -ts_max_time 3 -restart auto -guard_cooldown 3
expect_error "a restart with a fallback" "cooldown 10 in the checkpoint, sigma 6 band 0.5 cooldown 10 fallback polynomial 0,1 in this run" \
  mpirun_n 2 "$GYRE" simulate "${leg[@]}" -ts_max_time 3 -restart auto -guard_fallback polynomial \
  -closure_coeffs 0,1
echo "$sum" | sha256sum -c --quiet || fail "a refused restart changed the output or checkpoint"
# the same with an analytic fallback (a polynomial closure while the surrogate is off)
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 60 -ts_max_time 2 \
  -ensemble_size 2 -surrogate closure.nc -guard_fallback polynomial \
  -closure_coeffs -0.2,-0.8 -output f60p.nc -quiet > /dev/null
check_events f60p.nc out_of_range
if ncdiff f60.nc f60p.nc --vars X > /dev/null; then fail "the polynomial fallback changed nothing"; fi
# checked before the output is made: a good file given with -output_overwrite is left as it was
"$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.05 -output keep.nc -quiet
keepsum=$(sha256sum keep.nc)
expect_error "impossible guard option" "-guard_sigma" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -surrogate closure.nc \
  -guard_sigma 0 -output keep.nc -output_overwrite
echo "$keepsum" | sha256sum -c --quiet || fail "a refused -guard_sigma changed keep.nc"
expect_error "unknown fallback" "-guard_fallback bogus" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -surrogate closure.nc \
  -guard_fallback bogus -output x.nc
expect_error "a polynomial fallback without coefficients" \
  "-guard_fallback polynomial needs its coefficients: -closure_coeffs" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -surrogate closure.nc \
  -guard_fallback polynomial -output x.nc

# (3) the range checks' threshold, exactly: one Euler step (one evaluation, on the initial
# state of -seed S) at the smallest -guard_sigma that passes every input and output
# (|v - mean| <= sigma std in double, v the network's float input or output) records no event;
# one double below, one event, of the reason whose values need the larger sigma (the band
# widened out of the way). Initial states are tried until each reason has been seen.
one=(-model l96 -l96_mode one_scale -ts_type euler -ts_max_time 0.005 -surrogate closure.nc
  -guard_band 100 -quiet -output_overwrite)
seen=""
for seed in $(seq 1 40); do
  "$GYRE" simulate "${one[@]}" -seed "$seed" -guard 0 -output s0.nc
  thresholds=$("$PYTHON" - <<'PY'
import netCDF4
import numpy as np
m, d = netCDF4.Dataset("closure.nc"), netCDF4.Dataset("s0.nc")
def need(name, var):  # the smallest double sigma with |v - mean| <= sigma * std for every v
    mean, std = float(m[f"norm_{name}_mean"][0]), float(m[f"norm_{name}_std"][0])
    v = np.asarray(d[var][0], dtype=np.float32).astype(np.float64).ravel()  # t = 0: X0, its term
    dev = float(np.max(np.abs(v - mean)))
    s = dev / std
    while s * std < dev:
        s = float(np.nextafter(s, np.inf))
    while float(np.nextafter(s, 0)) * std >= dev:
        s = float(np.nextafter(s, 0))
    return s
s_in, s_out = need("in", "X"), need("out", "coupling")
s = max(s_in, s_out)
print(repr(s), repr(float(np.nextafter(s, 0))), "output" if s_out > s_in else "input")
PY
  ) || fail "no thresholds from s0.nc (seed $seed)"
  read -r s_pass s_trip reason <<< "$thresholds"
  case " $seen " in *" $reason "*) continue ;; esac
  echo "seed $seed: sigma $s_pass passes, $s_trip trips ($reason out of range)"
  "$GYRE" simulate "${one[@]}" -seed "$seed" -guard_sigma "$s_pass" -output pass.nc
  "$GYRE" simulate "${one[@]}" -seed "$seed" -guard_sigma "$s_trip" -output trip.nc
  "$PYTHON" - "$reason" <<'PY' || fail "the range checks' threshold (seed $seed)"
import sys
import netCDF4
a, b = netCDF4.Dataset("pass.nc"), netCDF4.Dataset("trip.nc")
print("  pass:", a.getncattr("guard_summary"))
print("  trip:", b.getncattr("guard_events"))
assert a.getncattr("guard_summary").startswith("0 events"), a.getncattr("guard_summary")
assert b.getncattr("guard_summary").startswith("1 events"), b.getncattr("guard_summary")
assert b.getncattr("guard_events") == f"t=0.005 step=1 member=0 {sys.argv[1]}_out_of_range"
PY
  seen="$seen $reason"
  case "$seen" in *input*output* | *output*input*) break ;; esac
done
case "$seen" in *input*output* | *output*input*) ;;
  *) fail "the initial states of seeds 1-40 tried only:$seen out of range" ;;
esac

# (2) a network that makes Inf/NaN: its last layer's weights set to +-3e38 (checksum updated)
"$PYTHON" "$GYRE_SOURCE_DIR/tests/coupling/nan_model.py" closure.nc
"$GYRE" info closure.nc > /dev/null || fail "the modified model does not load"
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 1 -ensemble_size 2 \
  -surrogate closure.nc -output nan.nc -quiet > nan.log
check_events nan.nc output_nan_or_inf all
echo "simulate_surrogate_guard: passed"
