#!/usr/bin/env bash
# ns2d emulators (32^2, -surrogate_mode emulator), distributed: a CNN (2 past states, kernels
# 3,3,3: a halo of 3 rows) on each rank's rows, and an FNO gathered on one rank and scattered
# back. Required: the same run on 1, 2 and 4 ranks (CNN: to float32 round-off of the network,
# 1e-6 relative, as the blocks' convolutions may sum in another order; FNO: 1e-12, the
# gathered field is the same), the FNO's log line, -surrogate_physics_every 1 equal to the
# physics run at the same dt (bitwise), and the guard on by default (the run completes); the
# CNN in bf16 on AMX or AVX-512 BF16 where the CPU has one (bitwise the same on 1, 2 and 4 ranks).
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

mpirun_n 2 "$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -ts_max_time 3 \
  -output_every 0.1 -ensemble_size 3 -seed 5 -output truth.nc -quiet
train=(-train_data truth.nc -train_mode emulator -train_inputs vorticity -train_batch 8
       -train_epochs 2 -quiet)
mpirun_n 2 "$GYRE" train "${train[@]}" -train_history 2 -net cnn -net_depth 3 -cnn_channels 8,8 \
  -cnn_kernels 3,3,3 -train_out cnn.nc
mpirun_n 2 "$GYRE" train "${train[@]}" -net fno -fno_modes 4 -net_width 8 -net_depth 2 \
  -train_out fno.nc

# -ts_dt: the physics run's own dt would divide the output interval (0.2), the emulator's the
# stride (0.1); the same dt makes them comparable
run=(-model ns2d -grid_nx 32 -grid_ny 32 -ts_max_time 1 -output_every 0.2 -ts_dt 0.0125
     -ensemble_size 2 -seed 9 -output_precision double -quiet)
for np in 1 2 4; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -guard 0 -surrogate cnn.nc -surrogate_mode emulator \
    -output cnn$np.nc > cnn$np.log
done
for np in 1 2; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -guard 0 -surrogate fno.nc -surrogate_mode emulator \
    -output fno$np.nc > fno$np.log
done
ncdiff cnn1.nc cnn2.nc --vars vorticity --rtol 1e-6 || fail "CNN emulator: 2 ranks differ from 1"
ncdiff cnn1.nc cnn4.nc --vars vorticity --rtol 1e-6 || fail "CNN emulator: 4 ranks differ from 1"
ncdiff fno1.nc fno2.nc --vars vorticity --rtol 1e-12 || fail "FNO emulator: 2 ranks differ from 1"
grep -q "^surrogate: FNO needs the whole field: gathered on 1 rank (of 2)" fno2.log ||
  fail "no log line saying the FNO is gathered"
grep -q "^surrogate: emulator 'fno.nc' advances by 0.1 (8 steps of dt = 0.0125) from 1 past" \
  fno2.log || { cat fno2.log; fail "no log line on the FNO emulator's stride"; }

mpirun_n 2 "$GYRE" simulate "${run[@]}" -output physics.nc
if ncdiff physics.nc cnn2.nc --vars vorticity --rtol 1e-6 > /dev/null; then
  fail "the CNN emulator changes nothing"
fi
mpirun_n 2 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_mode emulator \
  -surrogate_physics_every 1 -output every1.nc > /dev/null
ncdiff physics.nc every1.nc --vars vorticity || fail "physics_every 1 is not the physics run"

# the CNN emulator in bf16 on AMX or AVX-512 BF16 (the cpu backend), where the CPU has one: each point computed
# alike in any block, so bitwise the same on 1, 2 and 4 ranks; near the fp32 run (within 1% of
# the field's largest value over the rollout) but not equal to it
if mpirun_n 1 "$GYRE" simulate "${run[@]}" -guard 0 -surrogate cnn.nc -surrogate_mode emulator \
  -surrogate_precision bf16 -output b1.nc > b1.log 2> b1.err; then
  for np in 2 4; do
    mpirun_n $np "$GYRE" simulate "${run[@]}" -guard 0 -surrogate cnn.nc \
      -surrogate_mode emulator -surrogate_precision bf16 -output b$np.nc > /dev/null
    ncdiff b1.nc b$np.nc --vars vorticity --rtol 0 || fail "bf16 CNN emulator: $np ranks differ"
  done
  "$PYTHON" - <<'PY'
import netCDF4
import numpy as np
b, f = (netCDF4.Dataset(n)["vorticity"][:] for n in ("b1.nc", "cnn1.nc"))
d, m = float(abs(b - f).max()), float(abs(f).max())
print(f"bf16 CNN emulator against fp32: {d:g} (the field's largest value {m:g})")
assert 0 < d < 0.01 * m, "bf16: not near the fp32 rollout, or equal to it"
PY
else
  grep -q "needs AVX-512 BF16" b1.err || { cat b1.err; fail "bf16 failed without naming AVX-512 BF16"; }
  echo "no AMX or AVX-512 BF16 here: the bf16 emulator not run ($(grep '^gyre: error:' b1.err))"
fi

# the guard on (the default): the run completes, its events (if any) recorded
mpirun_n 2 "$GYRE" simulate "${run[@]}" -surrogate fno.nc -surrogate_mode emulator \
  -output guarded.nc > guarded.log
"$PYTHON" - <<'PY'
import netCDF4
import numpy as np
d = netCDF4.Dataset("guarded.nc")
assert d.getncattr("end_time") != "interrupted"
assert np.isfinite(d["vorticity"][:]).all(), "non-finite vorticity"
print("guarded.nc:", d.getncattr("guard_summary"))
PY
echo "simulate_emulator_ns2d: passed"
