#!/usr/bin/env bash
# gyre simulate -surrogate model.nc -surrogate_mode emulator on l96 (one-scale, K = 8): tiny
# emulators (2 past states -> the state one record later) trained on a one-scale ensemble, a
# CNN (on each rank's sectors with a halo) and an FNO (gathered on one rank). Required: the run
# completes with the physics run's variables and times and a provenance naming the emulator;
# the history is filled by physics (said on the log), also after a restart; the cost is a
# -log_view event; 1 and 2 ranks agree (CNN and FNO);
# -surrogate_physics_every 1 is the physics run; a stride that does not fit the run, a closure
# model, another grid: one error line each; a network that makes Inf/NaN falls back to physics
# with every event recorded.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 10 -output_every 0.05 \
  -ensemble_size 4 -seed 3 -output truth.nc -quiet
train=(-train_data truth.nc -train_mode emulator -train_inputs X -train_history 2
       -train_batch 32 -train_epochs 3 -quiet)
mpirun_n 2 "$GYRE" train "${train[@]}" -net cnn -net_depth 2 -cnn_channels 16 -cnn_kernels 3,3 \
  -train_out cnn.nc
mpirun_n 2 "$GYRE" train "${train[@]}" -net fno -fno_modes 3 -net_width 8 -net_depth 2 \
  -train_out fno.nc

# the model file's global attributes keep clear of CF's (history, units), and a file of the
# names before (history, units) still loads
"$PYTHON" - <<'PY' || fail "the model file's attributes"
import netCDF4, shutil
d = netCDF4.Dataset("cnn.nc")
a = d.ncattrs()
assert "history" not in a and "units" not in a and d.history_frames == 2, a
d.close()
shutil.copy("cnn.nc", "cnn_old.nc")
d = netCDF4.Dataset("cnn_old.nc", "a")
d.renameAttribute("history_frames", "history"); d.renameAttribute("field_units", "units")
d.close()
PY
"$GYRE" info cnn_old.nc > old_info.txt || fail "a model file of the older names does not load"
grep -q "history 2, lead 1" old_info.txt && grep -q "units: X: " old_info.txt ||
  { cat old_info.txt; fail "a model file of the older names read otherwise"; }

run=(-model l96 -l96_mode one_scale -ts_max_time 2 -output_every 0.1 -ensemble_size 2 -seed 11
     -quiet)
mpirun_n 2 "$GYRE" simulate "${run[@]}" -output physics.nc
for np in 1 2; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
    -output cnn$np.nc > cnn$np.log
  mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate fno.nc -surrogate_mode emulator \
    -output fno$np.nc > fno$np.log
done
grep -q "^surrogate: emulator 'cnn.nc' advances by 0.05 (10 steps of dt = 0.005) from 2 past" \
  cnn2.log || { cat cnn2.log; fail "no log line on the emulator's stride"; }
grep -q "the first 1 advance(s) are physics advances" cnn2.log ||
  fail "the log does not say the history is filled by physics"
grep -q "^surrogate: FNO needs the whole field: gathered on 1 rank (of 2)" fno2.log ||
  fail "no log line saying the FNO is gathered"
ncdiff cnn1.nc cnn2.nc --vars X --rtol 1e-12 || fail "CNN emulator: 2 ranks differ from 1"
ncdiff fno1.nc fno2.nc --vars X --rtol 1e-12 || fail "FNO emulator: 2 ranks differ from 1"
"$PYTHON" - <<'PY'
import netCDF4
import numpy as np
p = netCDF4.Dataset("physics.nc")
for name in ("cnn2.nc", "fno2.nc"):
    e = netCDF4.Dataset(name)
    assert set(e.variables) == set(p.variables), f"{name}: variables {set(e.variables)}"
    assert np.array_equal(e["time"][:], p["time"][:]), f"{name}: times {e['time'][:]}"
    assert np.isfinite(e["X"][:]).all(), f"{name}: non-finite X"
    # the first advance is physics (history 2), the next ones the network's
    assert np.array_equal(e["X"][0], p["X"][0]), f"{name}: another initial state"
    assert not np.allclose(e["X"][-1], p["X"][-1]), f"{name}: the emulator changed nothing"
    mode, model = e.getncattr("gyre_surrogate_mode"), e.getncattr("gyre_surrogate")
    model_in = name[:3] + ".nc sha256:"
    assert mode.startswith("emulator (advance 0.05 = 10 steps, history 2"), mode
    assert model == name[:3] + ".nc" and model_in in e.getncattr("input_files"), model
    print(f"{name}: {len(e['time'])} records as the physics run; {model}: {mode}")
PY

# a closure's option with an emulator: said to apply to closures, not "misspelt"
"$GYRE" simulate "${run[@]}" -ts_max_time 0.2 -surrogate cnn.nc -surrogate_mode emulator \
  -surrogate_closure_eval step -output w.nc 2> warn.txt || fail "an emulator run failed"
grep -q "option -surrogate_closure_eval step was not used: it applies only with -surrogate and -surrogate_mode closure (the default)" \
  warn.txt || { cat warn.txt; fail "a closure's option with an emulator was called misspelt"; }
"$GYRE" simulate "${run[@]}" -ts_max_time 0.2 -surrogate cnn.nc -surrogate_mode emulator \
  -guard_fallback polynomial -output w2.nc 2> warn.txt || fail "an emulator run failed"
grep -q "option -guard_fallback polynomial was not used: it applies only with -surrogate and -surrogate_mode closure" \
  warn.txt || { cat warn.txt; fail "-guard_fallback with an emulator was called misspelt"; }
# the network's cost is the GyreSurrogate event of -log_view; a restart from a checkpoint (which
# does not hold the history: it is filled by physics again) completes the same records
mpirun_n 2 "$GYRE" simulate "${run[@]}" -ts_max_time 1 -surrogate cnn.nc -surrogate_mode emulator \
  -checkpoint ck.nc -output restarted.nc -log_view > first.log
grep -q "^GyreSurrogate " first.log || fail "no GyreSurrogate event in -log_view"
mpirun_n 2 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
  -checkpoint ck.nc -restart auto -output restarted.nc > /dev/null
"$PYTHON" - <<'PY'
import netCDF4
import numpy as np
r, p = netCDF4.Dataset("restarted.nc"), netCDF4.Dataset("physics.nc")
assert np.array_equal(r["time"][:], p["time"][:]), f"restarted: times {r['time'][:]}"
assert r.getncattr("end_time") != "interrupted" and np.isfinite(r["X"][:]).all()
PY
# an emulator's checkpoint continued by physics (or by a closure) is another run: named so
expect_error "an emulator's checkpoint continued by physics" \
  "checkpoint 'ck.nc' belongs to another run: surrogate emulator in the checkpoint, none in this run" \
  "$GYRE" simulate "${run[@]}" -checkpoint ck.nc -restart auto -output restarted_physics.nc

# every advance a physics advance: the physics run (to round-off); every second: neither
mpirun_n 2 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
  -surrogate_physics_every 1 -output every1.nc > /dev/null
ncdiff physics.nc every1.nc --vars X --rtol 1e-12 || fail "physics_every 1 is not the physics run"
mpirun_n 2 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
  -surrogate_physics_every 2 -output every2.nc > /dev/null
if ncdiff physics.nc every2.nc --vars X --rtol 1e-6 > /dev/null ||
  ncdiff cnn2.nc every2.nc --vars X --rtol 1e-6 > /dev/null; then
  fail "physics_every 2 equals the physics or the emulator run"
fi

# an emulator's output field is one of its inputs: gyre info names its units once
"$GYRE" info cnn.nc > info.txt
grep -q "^  units: X: 1$" info.txt || { cat info.txt; fail "gyre info: the units of X twice"; }

# mismatches: one error line each, naming both sides
expect_error "output interval not a multiple of the stride" \
  "-output_every 0.075 is not a whole number of the emulator's advances (surrogate 'cnn.nc' advances by 0.05 = 10 steps of dt = 0.005, lead 1 x record spacing 0.05 of its training data): give 0.05 or 0.1$" \
  "$GYRE" simulate "${run[@]}" -output_every 0.075 -surrogate cnn.nc -surrogate_mode emulator \
  -output x1.nc
expect_error "dt that does not divide the stride" \
  "the run's time step dt = 0.003 does not divide it: give -ts_dt 0.00294117647 (or leave" \
  "$GYRE" simulate "${run[@]}" -ts_dt 0.003 -output_every 0.15 -ts_max_time 1.5 \
  -surrogate cnn.nc -surrogate_mode emulator -output x2.nc
expect_error "run length not a multiple of the stride" \
  "-ts_max_time 2.025 is not a whole number of the emulator's advances (.*): give 2 or 2.05$" \
  "$GYRE" simulate "${run[@]}" -output_every 0.05 -ts_max_time 2.025 -ts_dt 0.0025 \
  -surrogate cnn.nc -surrogate_mode emulator -output x3.nc
# a lead-2 emulator (stride 0.1): the suggestions are whole strides, not only whole steps of dt,
# and each is accepted given back (a dt that divides it, then an output interval)
mpirun_n 2 "$GYRE" train "${train[@]}" -train_lead 2 -net cnn -net_depth 2 -cnn_channels 16 \
  -cnn_kernels 3,3 -train_epochs 1 -train_out lead2.nc
lead2=(-model l96 -l96_mode one_scale -ts_max_time 0.4 -surrogate lead2.nc
       -surrogate_mode emulator -quiet)
expect_error "lead 2: a dt that does not divide the stride" \
  "advances by 0.1, lead 2 x record spacing 0.05 of its training data; the run's time step dt = 0.0029 does not divide it: give -ts_dt 0.00277777778 (or" \
  "$GYRE" simulate "${lead2[@]}" -ts_dt 0.0029 -output_every 0.2 -output l2.nc
# the suggested dt (0.05/18: it divides the record spacing, so the data's times are initial
# times) is taken as the stride over 36 steps exactly: long runs and any whole-stride interval
# pass, the output times are whole strides, a run from record 1 (t = 0.05) starts
"$GYRE" simulate "${lead2[@]}" -ts_dt 0.00277777778 -output_every 0.5 -ts_max_time 2 \
  -output l2.nc > l2.log || fail "the suggested -ts_dt is refused"
grep -q "advances by 0.1 (36 steps of dt = 0.00277778)" l2.log || fail "lead 2: $(cat l2.log)"
"$PYTHON" - <<'PY'
import netCDF4
t = list(netCDF4.Dataset("l2.nc")["time"][:])
assert t == [0, 0.5, 1, 1.5, 2], t
PY
"$GYRE" simulate "${lead2[@]}" -ts_dt 0.00277777778 -output_every 0.1 -initial_file truth.nc \
  -initial_time 0.05 -ts_max_time 0.35 -output l2.nc -output_overwrite ||
  fail "the suggested -ts_dt refuses an initial time of the training data"
# an end time off even the steps of dt: the suggestions are whole strides from the initial
# time (they were whole steps, then refused in their turn), and one given back is accepted
expect_error "lead 2: an end time off the steps" \
  "-ts_max_time 0.3333 is not the initial time 0.05 plus a whole number of the emulator's advances (.*): give 0.25 or 0.35$" \
  "$GYRE" simulate "${lead2[@]}" -output_every 0.1 -initial_file truth.nc -initial_time 0.05 \
  -ts_max_time 0.3333 -output l2.nc -output_overwrite
"$GYRE" simulate "${lead2[@]}" -output_every 0.1 -initial_file truth.nc -initial_time 0.05 \
  -ts_max_time 0.25 -output l2.nc -output_overwrite || fail "a suggested end time is refused"
expect_error "lead 2: an output interval of whole steps but not whole strides" \
  "-output_every 0.15 is not a whole number of the emulator's advances (surrogate 'lead2.nc' advances by 0.1 = 20 steps of dt = 0.005, lead 2 x record spacing 0.05 of its training data): give 0.1 or 0.2$" \
  "$GYRE" simulate "${lead2[@]}" -output_every 0.15 -output l2.nc -output_overwrite
"$GYRE" simulate "${lead2[@]}" -output_every 0.2 -output l2.nc -output_overwrite ||
  fail "the suggested -output_every 0.2 is refused"
expect_error "lead 2: an output interval in steps" \
  "-output_every_steps 30 is not a whole number of the emulator's advances (20 steps each): give 20 or 40$" \
  "$GYRE" simulate "${lead2[@]}" -output_every_steps 30 -output l2.nc -output_overwrite
expect_error "lead 2: a run length from the initial time" \
  "-ts_max_time 0.4 is not the initial time 0.05 plus a whole number of the emulator's advances (.*): give 0.35 or 0.45$" \
  "$GYRE" simulate "${lead2[@]}" -output_every 0.1 -initial_file truth.nc -initial_time 0.05 \
  -output l2.nc -output_overwrite
# a restart continues from the checkpoint's initial time (0.05 here), not -initial_time's 0
"$GYRE" simulate "${lead2[@]}" -output_every 0.1 -initial_file truth.nc -initial_time 0.05 \
  -ts_max_time 0.25 -checkpoint l2r.ckpt -output l2r.nc
expect_error "lead 2: a restart's length from the checkpoint's initial time" \
  "-ts_max_time 0.5 is not the initial time 0.05 plus a whole number of the emulator's advances (.*): give 0.45 or 0.55$" \
  "$GYRE" simulate "${lead2[@]}" -output_every 0.1 -ts_max_time 0.5 -restart l2r.ckpt -output l2r.nc
"$GYRE" simulate "${lead2[@]}" -output_every 0.1 -ts_max_time 0.45 -restart l2r.ckpt \
  -output l2r.nc || fail "a restart from a run that began at 0.05 is refused"
"$PYTHON" - <<'PY'
import netCDF4, numpy as np
t = netCDF4.Dataset("l2r.nc")["time"][:]
assert np.allclose(t, [0.05, 0.15, 0.25, 0.35, 0.45]), t
PY
# without -output_every an emulator writes every whole stride at least the model's default
"$GYRE" simulate "${lead2[@]}" -output l2d.nc || fail "the default output interval is refused"
"$PYTHON" - <<'PY'
import netCDF4, numpy as np
t = netCDF4.Dataset("l2d.nc")["time"][:]
assert np.allclose(t, [0, 0.1, 0.2, 0.3, 0.4]), t
PY
# a stride that is not exact in binary (lead 3 x 0.05 = 0.15000000000000002): a -ts_dt that
# divides it to round-off (0.005) is kept bit for bit, so -surrogate_physics_every 1 is the
# physics run at that -ts_dt exactly
mpirun_n 2 "$GYRE" train "${train[@]}" -train_lead 3 -net cnn -net_depth 2 -cnn_channels 4 \
  -cnn_kernels 3,3 -train_epochs 1 -train_out lead3.nc
p3=(-model l96 -l96_mode one_scale -ts_max_time 0.9 -output_every 0.15 -ensemble_size 2 -seed 11
    -ts_dt 0.005 -quiet)
"$GYRE" simulate "${p3[@]}" -output p3.nc
"$GYRE" simulate "${p3[@]}" -surrogate lead3.nc -surrogate_mode emulator \
  -surrogate_physics_every 1 -output e3.nc > /dev/null
ncdiff p3.nc e3.nc --vars X --rtol 0 || fail "lead 3: physics_every 1 is not the physics run"
expect_error "lead 2: a checkpoint interval" \
  "-checkpoint_every 0.05 is not a whole number of the emulator's advances (.*): give 0.1$" \
  "$GYRE" simulate "${lead2[@]}" -output_every 0.1 -checkpoint l2.ckpt -checkpoint_every 0.05 \
  -output l2.nc -output_overwrite
expect_error "another grid" "trained on a 8 x 1 grid, the run's grid is 16 x 1" \
  "$GYRE" simulate "${run[@]}" -l96_K 16 -surrogate cnn.nc -surrogate_mode emulator -output x4.nc
expect_error "an emulator as a closure" "trained as an emulator, not a closure" \
  "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -output x5.nc
expect_error "negative physics_every" "-surrogate_physics_every -1" \
  "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
  -surrogate_physics_every -1 -output x6.nc
mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs X -train_targets X -net mlp \
  -train_epochs 1 -train_batch 64 -train_out closure.nc -quiet
expect_error "a closure as an emulator" "trained as a closure, not an emulator" \
  "$GYRE" simulate "${run[@]}" -surrogate closure.nc -surrogate_mode emulator -output x7.nc

# the guard: a network that makes Inf/NaN; every advance with it is redone with physics
"$PYTHON" "$GYRE_SOURCE_DIR/tests/coupling/nan_model.py" cnn.nc
mpirun_n 2 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
  -guard_cooldown 3 -output nan.nc > nan.log
grep -q "^\[guard\] t = 0.1, step 20, member 0: output_nan_or_inf; advance redone with physics" \
  nan.log || { cat nan.log; fail "no [guard] event line on the log"; }
ncdiff physics.nc nan.nc --vars X --rtol 1e-12 || fail "the fallback is not the physics run"
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("nan.nc")
summary, events = d.getncattr("guard_summary"), d.getncattr("guard_events")
print(f"nan.nc: {summary}\n  events: {events[:120]}")
# 40 advances: the first is physics (history), then a trip at advance 2, 6, ..., 38 (cooldown
# 3: off for the 3 advances after each trip): 10 per member
assert summary.startswith("20 events: 20 output NaN/Inf"), summary
assert "cooldown 3 advances" in summary and "t=0.1 step=20 member=1" in events, events
PY
echo "simulate_emulator: passed"
