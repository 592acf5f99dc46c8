#!/usr/bin/env bash
# gyre train end to end on real solver output: the l96 coupling closure (Wilks-style, an MLP
# applied at each point k to X_k) trained on 3 ensemble members of a two-scale truth run and
# scored on the held-out 4th through the inference API; also with a stencil X_{k-2..k+2}. Required margin: the learned closure's
# mean-square error on the held-out member is at most 0.3 x that of the zero closure (it must
# explain at least 70% of the coupling term's mean square). Also: the model file's lineage
# names the data file with its SHA-256, the learning curve and the split are stored, ncdump
# and xarray read the file, `gyre info` validates and prints it.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
apply=${1:?usage: train_l96_closure.sh APPLY_MODEL}

mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode two_scale -ts_max_time 5 -ensemble_size 4 \
  -seed 3 -output truth.nc -quiet
mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs X -train_targets coupling \
  -net mlp -net_width 32 -train_epochs 4 -train_batch 256 -train_lr 3e-3 -train_seed 1 \
  -train_out closure.nc | tee train.log
grep -q "^epoch 4/4 " train.log || fail "no progress line for epoch 4"
"$GYRE" info closure.nc > info.txt
grep -q "3 of 4 trajectories for training" info.txt || fail "the split is not stated"

score=$("$apply" closure.nc truth.nc X coupling 3)
echo "held-out member 3: $score"
ratio=$(echo "$score" | awk '{print $6}')
awk -v r="$ratio" 'BEGIN { exit !(r <= 0.3) }' ||
  fail "learned closure MSE / zero closure MSE = $ratio > 0.3 on the held-out member"

# the same with a local stencil X_{k-2..k+2} as inputs (the closure of issue 4's experiment)
mpirun_n 2 "$GYRE" train -train_data truth.nc -train_inputs X -train_targets coupling \
  -net mlp -net_width 32 -train_epochs 4 -train_batch 256 -train_lr 3e-3 -train_seed 1 \
  -train_stencil 2 -train_out stencil.nc -quiet
score2=$("$apply" stencil.nc truth.nc X coupling 3)
echo "held-out member 3, stencil 2: $score2"
ratio2=$(echo "$score2" | awk '{print $6}')
awk -v r="$ratio2" 'BEGIN { exit !(r <= 0.3) }' ||
  fail "stencil closure MSE / zero closure MSE = $ratio2 > 0.3 on the held-out member"
"$GYRE" info stencil.nc | grep -q "to a stencil of 2 neighbours on each side" ||
  fail "the stencil is not recorded"

# lineage: the data file and its hash; the curve; readable by ncdump and xarray
sha=$(sha256sum truth.nc | cut -d' ' -f1)
ncdump -h closure.nc > header.txt # (not piped into grep -q: pipefail would see SIGPIPE)
grep -q "truth.nc sha256:$sha" header.txt || fail "lineage lacks truth.nc sha256:$sha"
grep -q 'mode = "closure"' header.txt || fail "mode not recorded"
"$PYTHON" - <<'PY'
import netCDF4  # noqa: F401  (its numpy ABI warning is not ours)
import warnings
warnings.simplefilter("error")
import xarray as xr
m = xr.open_dataset("closure.nc")
assert m.attrs["architecture"] == "mlp", m.attrs["architecture"]
assert m.attrs["input_fields"] == "X" and m.attrs["output_fields"] == "coupling"
c = m["curve_val_loss"].values
assert len(c) >= 1 and (c > 0).all(), c
print("xarray: %d weights, val loss curve %s" % (int(m.attrs["nparameters"]), c))
PY
cat info.txt
grep -q "model file: valid" info.txt || fail "gyre info does not validate the model file"
echo "train_l96_closure: passed"
