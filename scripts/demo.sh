#!/usr/bin/env bash
# `make demo`: a small end-to-end run on 2 MPI ranks (under two minutes on 2 cores):
# an l96 two-scale truth run, a small ns2d ensemble at 64^2, an l96 closure trained on the
# truth run, one-scale forecasts with it and without, `gyre compare` of both against the
# truth, then `gyre info` of the model and of the ensemble file.
set -euo pipefail
build=${1:-build}
gyre="$build/bin/gyre"
out=${GYRE_DEMO_DIR:-demo-output}
mkdir -p "$out"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
run="mpiexec -n 2 --oversubscribe"

echo "== l96 two-scale truth run (K=8, J=32, F=20, RK4 dt=0.001, t in [0,10], output every 0.005)"
$run "$gyre" simulate -model l96 -l96_mode two_scale -ts_max_time 10 \
  -output "$out/l96_truth.nc" -output_overwrite -checkpoint "$out/l96_truth.ckpt" -seed 1

echo "== ns2d ensemble: 3 members at 64^2, nu=1e-3, t in [0,5], output every 1"
$run "$gyre" simulate -model ns2d -grid_nx 64 -grid_ny 64 -ns2d_nu 1e-3 -ts_max_time 5 \
  -ensemble_size 3 -seed 10 -output "$out/ns2d_ensemble.nc" -output_overwrite

echo "== gyre train: an l96 closure (MLP at each point k: X_k -> coupling_k) on the truth run,"
echo "   the last 20% of its records held out for validation"
$run "$gyre" train -train_data "$out/l96_truth.nc" -train_inputs X -train_targets coupling \
  -net mlp -net_width 32 -train_epochs 3 -train_batch 256 -train_lr 3e-3 \
  -train_out "$out/l96_closure.nc" -train_overwrite

echo "== gyre info $out/l96_closure.nc (validates the model file)"
"$gyre" info "$out/l96_closure.nc"

echo "== one-scale l96 forecasts from the truth at t=8 (the held-out block) to t=10: with the"
echo "   learned closure (guarded) and with none"
$run "$gyre" simulate -model l96 -l96_mode one_scale -initial_file "$out/l96_truth.nc" \
  -initial_time 8 -ts_max_time 10 -surrogate "$out/l96_closure.nc" -quiet \
  -output "$out/l96_learned.nc" -output_overwrite
$run "$gyre" simulate -model l96 -l96_mode one_scale -initial_file "$out/l96_truth.nc" \
  -initial_time 8 -ts_max_time 10 -quiet -output "$out/l96_none.nc" -output_overwrite

echo "== gyre compare: the learned closure against the truth, no closure as the baseline"
$run "$gyre" compare "$out/l96_truth.nc" "$out/l96_learned.nc" -baseline "$out/l96_none.nc" \
  -compare_vars X -output "$out/l96_metrics.nc" -output_overwrite

echo "== gyre info $out/ns2d_ensemble.nc"
"$gyre" info "$out/ns2d_ensemble.nc"

echo
echo "demo files:"
ls -l "$out"/*.nc | awk '{print "  " $NF " (" $5 " bytes)"}'
echo "open them with: /usr/bin/python3 -c \"import xarray; print(xarray.open_dataset('$out/ns2d_ensemble.nc'))\""
