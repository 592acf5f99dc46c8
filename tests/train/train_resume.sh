#!/usr/bin/env bash
# gyre train through the command line: a run stopped after epoch 1 (-train_epochs_per_run 1)
# and resumed (-train_resume auto, the same command) ends bitwise equal to the uninterrupted
# run (weights, batch-norm statistics, Adam moments, learning curve), on 1 and on 2 ranks;
# 2 ranks x b agree with 1 rank x 2b (weights to 1e-5, Adam moments to 1e-4); a fresh run
# refuses to replace a model file, and so does -train_resume auto without the checkpoint.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

mpirun_n 2 "$GYRE" simulate -model ns2d -grid_nx 16 -grid_ny 16 -ts_max_time 2 -output_every 0.25 \
  -ensemble_size 3 -seed 4 -output ens.nc -quiet
common=(-train_data ens.nc -train_mode emulator -train_inputs vorticity -train_history 2
        -net cnn -net_depth 3 -cnn_channels 8,8 -cnn_kernels 5,3,3 -train_batch 4
        -train_epochs 3 -train_schedule cosine -train_warmup 1 -train_lr 2e-3 -quiet)
for np in 1 2; do
  mpirun_n $np "$GYRE" train "${common[@]}" -train_out full$np.nc
  mpirun_n $np "$GYRE" train "${common[@]}" -train_out part$np.nc -train_epochs_per_run 1 \
    -train_resume auto
  mpirun_n $np "$GYRE" train "${common[@]}" -train_out part$np.nc -train_epochs_per_run 1 \
    -train_resume auto
  [ "$(ncdump -v curve_epoch part$np.ckpt.nc | grep -c 'curve_epoch = 1, 2 ;')" -eq 1 ] ||
    fail "np $np: the checkpoint after two runs does not hold epochs 1, 2"
  mpirun_n $np "$GYRE" train "${common[@]}" -train_out part$np.nc -train_resume auto
  ncdiff full$np.ckpt.nc part$np.ckpt.nc || fail "np $np: resumed checkpoint differs"
  ncdiff full$np.nc part$np.nc || fail "np $np: resumed best model differs"
done
# a training that stopped early, run again with -train_resume auto (a requeued job after its
# end): it stays stopped, the model and checkpoint as they were (it trained on)
"$GYRE" simulate -model l96 -l96_mode two_scale -ts_max_time 2 -ensemble_size 2 -seed 5 \
  -output esd.nc -quiet
es=(-train_data esd.nc -train_inputs X -train_targets coupling -net_width 8 -train_epochs 30
    -train_batch 256 -train_lr 1e-2 -train_early_stop 1 -train_out es.nc -train_resume auto)
mpirun_n 2 "$GYRE" train "${es[@]}" > es1.log
grep -q "early stop: no better validation loss" es1.log ||
  { cat es1.log; fail "the early-stop case did not stop early: change its settings"; }
sum=$(sha256sum es.nc es.ckpt.nc)
mpirun_n 2 "$GYRE" train "${es[@]}" > es2.log
grep -q "early stop: no better validation loss in the .* epochs after epoch .* of .es.ckpt.nc. (-train_early_stop 1): nothing more to do" es2.log ||
  { cat es2.log; fail "a resumed early-stopped training did not say it had stopped"; }
echo "$sum" | sha256sum -c --quiet || fail "a resumed early-stopped training changed its files"
# 2 ranks x b against 1 rank x 2b: the weights and batch-norm statistics to 1e-5; the Adam
# moments (their relative error is largest for gradients that nearly cancel) to 1e-4
split=$("$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("full1.ckpt.nc")
w = [n for n, v in d.variables.items() if getattr(v, "long_name", "").startswith("network")]
m = [n for n in d.variables if n.startswith("adam_")]
print(",".join(w), ",".join(m))
PY
)
ncdiff full1.ckpt.nc full2.ckpt.nc --vars "${split% *}" --rtol 1e-5 || fail "2 ranks differ from 1 rank"
ncdiff full1.ckpt.nc full2.ckpt.nc --vars "${split#* }" --rtol 1e-4 || fail "2 ranks' Adam moments differ"
expect_error "existing model file" "-train_out 'full1.nc' and its checkpoint 'full1.ckpt.nc' exist" "$GYRE" train "${common[@]}" -train_out full1.nc
# -train_resume auto starts afresh only where neither the checkpoint nor the model file exists
# (a requeued job whose checkpoint went missing stops, the file named)
mv part1.ckpt.nc gone.ckpt.nc
expect_error "model file without its checkpoint" "exists but its checkpoint 'part1.ckpt.nc' does not" \
  "$GYRE" train "${common[@]}" -train_out part1.nc -train_resume auto
echo "train_resume: passed"
