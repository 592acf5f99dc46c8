# Sourced by the coupling tests: l96_closure TMAX MEMBERS WIDTH EPOCHS makes truth.nc (a
# two-scale ensemble, seed 3, t in [0, TMAX]) and closure.nc, an MLP closure X_{k-2..k+2} ->
# coupling_k trained on it.
l96_closure() {
  local tmax=$1 members=$2 width=$3 epochs=$4
  mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode two_scale -ts_max_time "$tmax" \
    -ensemble_size "$members" -seed 3 -output truth.nc -quiet
  mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs X -train_targets coupling \
    -net mlp -net_width "$width" -train_epochs "$epochs" -train_batch 256 -train_lr 3e-3 \
    -train_stencil 2 -train_out closure.nc -quiet
}
