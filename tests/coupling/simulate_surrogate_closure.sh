#!/usr/bin/env bash
# gyre simulate -surrogate model.nc -surrogate_mode closure: a learned l96 closure (an MLP at
# each sector k on the stencil X_{k-2..k+2}, trained on two-scale truth runs) in one-scale
# forecasts from held-out truth states. Required: the forecast RMSE of X at lead 1 is cut by
# at least 30% against no closure; the same forecast on 1 and 2 ranks (bitwise: 1 rank gathers
# the stencils straight from the state, 2 ranks through the ghost exchange, and a sector's
# output does not depend on how many sectors a rank holds);
# the network's cost appears as the GyreSurrogate event of -log_view; mismatched models
# (grid, fields, mode) and a missing file give one error line each; a whole-field MLP (it needs
# the whole field) is gathered on one rank and gives the same run on 1 and 2 ranks; the closure
# evaluated once a step (-surrogate_closure_eval step).
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

source "$GYRE_SOURCE_DIR/tests/coupling/l96_closure.sh"
l96_closure 5 4 32 6
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode two_scale -ts_max_time 3 -ensemble_size 4 \
  -seed 77 -output heldout.nc -quiet
fc=(-model l96 -l96_mode one_scale -initial_file heldout.nc -initial_time 1 -ts_max_time 2
    -ensemble_size 4 -quiet)
mpirun_n 2 "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_mode closure \
  -output learned.nc -log_view > log.txt
grep -q "^GyreSurrogate " log.txt || fail "no GyreSurrogate event in -log_view"
grep "^GyreSurrogate " log.txt
mpirun_n 1 "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -output learned1.nc
mpirun_n 2 "$GYRE" simulate "${fc[@]}" -output none.nc
ncdiff learned1.nc learned.nc --vars X --rtol 0 || fail "1 and 2 ranks differ"
"$PYTHON" - <<'PY'
import netCDF4  # noqa: F401
import numpy as np
t, a, b = (netCDF4.Dataset(f) for f in ("heldout.nc", "learned.nc", "none.nc"))
i = int(np.argmin(abs(t["time"][:] - 2.0)))
j = int(np.argmin(abs(a["time"][:] - 2.0)))
rl = float(np.sqrt(((t["X"][i] - a["X"][j]) ** 2).mean()))
rn = float(np.sqrt(((t["X"][i] - b["X"][j]) ** 2).mean()))
print(f"lead 1: RMSE of X, learned closure {rl:.4f}, no closure {rn:.4f}, cut {1 - rl / rn:.1%}")
assert rl <= 0.7 * rn, "the learned closure cuts the lead-1 RMSE by less than 30%"
PY

# -surrogate_closure_eval step: the network once a time step, its term held through the step's
# four RK4 stages: a quarter of the stage mode's step evaluations (GyreSurrogate events: one a
# step, plus the output's coupling diagnostic in both modes, every step here), still the 30% cut
# at lead 1, the same on 1 and 2 ranks; with one stage a step (euler) the same run as stage's
mpirun_n 2 "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_closure_eval step \
  -output step.nc -log_view > step_log.txt
mpirun_n 1 "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_closure_eval step \
  -output step1.nc
ncdiff step1.nc step.nc --vars X --rtol 0 || fail "-surrogate_closure_eval step: 1 and 2 ranks differ"
ev_stage=$(awk '/^GyreSurrogate /{print $2}' log.txt)
ev_step=$(awk '/^GyreSurrogate /{print $2}' step_log.txt)
steps=$(awk '/^TSStep /{print $2}' step_log.txt)
echo "GyreSurrogate events: stage $ev_stage, step $ev_step, for $steps steps of each member"
[ "$ev_stage" -ge $((5 * steps)) ] && [ "$ev_step" -ge $((2 * steps)) ] &&
  [ "$ev_step" -le $((2 * steps + 8)) ] ||
  fail "-surrogate_closure_eval step: $ev_step evaluations for $steps steps (stage: $ev_stage)"
for m in stage step; do
  mpirun_n 2 "$GYRE" simulate "${fc[@]}" -ts_type euler -surrogate closure.nc \
    -surrogate_closure_eval $m -output euler_$m.nc
done
ncdiff euler_stage.nc euler_step.nc --vars X --rtol 0 || fail "euler: step and stage differ"
# an FSAL tableau (5dp: its first stage is the last one's, reused unless the TS restarts): member
# 0 alone and in the ensemble (which restarts every step) are the same run
for e in 1 4; do
  mpirun_n 2 "$GYRE" simulate "${fc[@]}" -ensemble_size $e -ts_type rk -ts_rk_type 5dp \
    -surrogate closure.nc -surrogate_closure_eval step -output fsal_$e.nc
done
"$PYTHON" - <<'PY'
import netCDF4  # noqa: F401
import numpy as np
a, b = (netCDF4.Dataset(f"fsal_{e}.nc")["X"][:] for e in (1, 4))  # (time, [member,] k)
d = float(abs(a - b[:, 0]).max())
print(f"5dp, once a step: member 0 alone against in an ensemble of 4: max |diff| {d:g}")
assert d == 0, "the FSAL run depends on the ensemble's size"
PY
"$PYTHON" - <<'PY'
import netCDF4  # noqa: F401
import numpy as np
t, a, b, c = (netCDF4.Dataset(f) for f in ("heldout.nc", "learned.nc", "step.nc", "none.nc"))
i = int(np.argmin(abs(t["time"][:] - 2.0)))
j = int(np.argmin(abs(a["time"][:] - 2.0)))
r = [float(np.sqrt(((t["X"][i] - d["X"][j]) ** 2).mean())) for d in (a, b, c)]
print(f"lead 1: RMSE of X, closure a stage {r[0]:.4f}, a step {r[1]:.4f}, none {r[2]:.4f}")
assert r[1] <= 0.7 * r[2], "the closure evaluated once a step cuts the RMSE by less than 30%"
assert float(abs(a["X"][:] - b["X"][:]).max()) > 0, "step and stage gave the same RK4 run"
PY
# refused before the output is made: a good file given with -output_overwrite stays as it was
sum=$(sha256sum step1.nc)
expect_error "bad -surrogate_closure_eval" "-surrogate_closure_eval often: expected stage or step" \
  "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_closure_eval often \
  -output step1.nc -output_overwrite
[ "$(sha256sum step1.nc)" = "$sum" ] || fail "a refused -surrogate_closure_eval changed step1.nc"
expect_error "threads out of range" "-surrogate_threads -2: expected 0 (OMP_NUM_THREADS) to 1024" \
  "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_threads -2 \
  -output step1.nc -output_overwrite
expect_error "scale not finite" "-surrogate_scale inf: not a finite number" \
  "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_scale inf \
  -output step1.nc -output_overwrite
# an option of the other mode, or of the guard turned off: said so, not "misspelt"
"$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_physics_every 2 -guard 0 \
  -guard_sigma 2 -output w.nc 2> warn.txt || fail "a run with options of another mode failed"
grep -q "option -surrogate_physics_every 2 was not used: it applies only with -surrogate and -surrogate_mode emulator" warn.txt &&
  grep -q "option -guard_sigma does nothing with -guard 0" warn.txt ||
  { cat warn.txt; fail "the warnings do not say when the options apply"; }
# a backend knob with a value it does not take (the default would run in silence), on 2 ranks
export GYRE_CPU_AVX512=yes
expect_error "a knob's unknown value" \
  "environment variable GYRE_CPU_AVX512=yes: it takes 0, 1 or 2 (unset: the default)" \
  mpirun_n 2 "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -output step1.nc -output_overwrite
unset GYRE_CPU_AVX512
[ "$(sha256sum step1.nc)" = "$sum" ] || fail "a refused option changed step1.nc"

# mismatches: one error line each
mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs X -train_targets coupling \
  -net mlp -train_per_point 0 -train_epochs 1 -train_batch 64 -train_out field.nc -quiet
# a whole-field MLP needs the whole field: gathered on one rank, the same run on 1 and 2 ranks
mpirun_n 1 "$GYRE" simulate "${fc[@]}" -surrogate field.nc -output wf1.nc > wf1.log
mpirun_n 2 "$GYRE" simulate "${fc[@]}" -surrogate field.nc -output wf2.nc > wf2.log
grep -q "whole-field MLP needs the whole field: gathered on 1 rank (of 2)" wf2.log ||
  fail "no log line saying the whole-field MLP is gathered"
ncdiff wf1.nc wf2.nc --vars X --rtol 1e-12 || fail "whole-field MLP: 1 and 2 ranks differ"
expect_error "grid mismatch" "trained on a 8 x 1 grid, the run's grid is 16 x 1" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -l96_K 16 -ts_max_time 0.1 -quiet \
  -surrogate closure.nc -output x2.nc
expect_error "missing model file" "nope.nc" \
  "$GYRE" simulate "${fc[@]}" -surrogate nope.nc -output x3.nc
expect_error "emulator mode" "emulator" \
  "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -surrogate_mode emulator -output x4.nc
expect_error "two closures" "one closure at a time" \
  "$GYRE" simulate "${fc[@]}" -surrogate closure.nc -closure polynomial -output x5.nc
mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs coupling -train_targets X \
  -train_epochs 1 -train_batch 64 -train_out wrongfield.nc -quiet
expect_error "input field not in the state" "input field 'coupling', which is not a state" \
  "$GYRE" simulate "${fc[@]}" -surrogate wrongfield.nc -output x6.nc
# a polynomial closure: its coefficients are required for a run, and -help lists them (exit 0)
expect_error "polynomial without coefficients" "-closure polynomial needs its coefficients" \
  "$GYRE" simulate "${fc[@]}" -closure polynomial -output x7.nc
"$GYRE" simulate -model l96 -l96_mode one_scale -closure polynomial -help > poly_help.txt ||
  fail "-closure polynomial -help failed"
grep -q -- "-closure_coeffs <" poly_help.txt || fail "-closure polynomial -help lacks -closure_coeffs"
# -help lists each of -surrogate and -surrogate_mode once (the emulator's and the surrogate
# closure's blocks listed them again, described otherwise), also with a model file given
for a in "-model ns2d" "-model l96 -l96_mode one_scale -surrogate closure.nc"; do
  # shellcheck disable=SC2086
  "$GYRE" simulate $a -help > s_help.txt 2>&1 || fail "$a -help failed"
  for o in surrogate surrogate_mode; do
    [ "$(grep -c -- "^  -$o <" s_help.txt)" = 1 ] || fail "$a -help lists -$o other than once"
  done
done
echo "simulate_surrogate_closure: passed"
