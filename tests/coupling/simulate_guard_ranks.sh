#!/usr/bin/env bash
# The guard's reason when the ranks trip for different reasons in the same evaluation: the most
# severe over the ranks is recorded (NaN/Inf output, then an output out of range, then an
# input), the same on 1 and 2 ranks. An l96 one-scale run (K = 16: rank 0 holds sectors 0-7,
# rank 1 8-15 on 2 ranks) from a state with X = 300 at sectors 3 and 4, with an MLP closure
# whose last layer is scaled by 1e37: the network's last hidden layer is ~15x larger around
# sectors 3-4 than elsewhere, so rank 0's outputs overflow to Inf while rank 1's stay finite
# and only out of range (max |W h| on rank 1 ~1.5: 1e37 x 1.5 x std 4.4 < 3.4e38; on rank 0
# ~22: beyond it). Reducing the raw enum with MPI_MAX (the bug this guards against) recorded
# output_out_of_range on 2 ranks and output_nan_or_inf on 1.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode two_scale -l96_K 16 -ts_max_time 3 \
  -ensemble_size 2 -seed 3 -output truth.nc -quiet
mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs X -train_targets coupling \
  -net mlp -net_width 16 -train_epochs 3 -train_batch 256 -train_lr 3e-3 -train_stencil 2 \
  -train_out closure.nc -quiet
"$PYTHON" "$GYRE_SOURCE_DIR/tests/coupling/nan_model.py" closure.nc 1e37
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_K 16 -ts_max_time 0.05 \
  -output init.nc -quiet
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("init.nc", "a")
x = d["X"][-1]
x[3:5] = 300.0
d["X"][-1] = x
d.close()
PY

for n in 1 2; do
  mpirun_n "$n" "$GYRE" simulate -model l96 -l96_mode one_scale -l96_K 16 \
    -initial_file init.nc -initial_time 0.05 -ts_max_time 0.055 -surrogate closure.nc \
    -output "g$n.nc" -quiet > "g$n.log"
  "$PYTHON" - "g$n.nc" <<'PY'
import sys
import netCDF4
import numpy as np
d = netCDF4.Dataset(sys.argv[1])
events = d.getncattr("guard_events")
print(f"{sys.argv[1]}: {d.getncattr('guard_summary')}; {events}")
assert d.getncattr("end_time") != "interrupted"
assert np.isfinite(d["X"][:]).all(), "non-finite X in the output"
assert events.split()[0] == "t=0.055" and events.split()[-1] == "output_nan_or_inf", \
    f"the first step's event should be output_nan_or_inf: {events}"
PY
done
echo "simulate_guard_ranks: passed"
