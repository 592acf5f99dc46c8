#!/usr/bin/env bash
# A CNN closure on ns2d, evaluated distributed: each rank runs the network on its own rows with
# a halo as wide as the receptive field (4 points for kernels 5,3,3), never gathering the
# field. Required: the same run on 1, 2 and 4 ranks (to 1e-9 relative: the solver's own
# rank-to-rank agreement is 1e-10), a visible effect against no closure, a clear error for
# a receptive field wider than a rank's rows; an FNO closure (it needs the whole field) is
# gathered on one rank, says so, and gives the same run on 1 and 2 ranks; a per-point MLP
# closure (3 x 3 stencils) gives bitwise the same run on 1, 2 and 4 ranks; the CNN evaluated
# once a step (-surrogate_closure_eval step); the block without a halo where that is exact; the
# CNN in bf16 on AMX or AVX-512 BF16 where the CPU has one.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

mpirun_n 2 "$GYRE" simulate -model ns2d -grid_nx 64 -grid_ny 64 -output_stride 2 -ts_max_time 2 \
  -output_every 0.25 -ensemble_size 3 -seed 5 -output fine.nc -quiet
mpirun_n 2 "$GYRE" train -train_data fine.nc -train_inputs vorticity -train_targets subgrid_forcing \
  -net cnn -net_depth 3 -cnn_channels 8,8 -cnn_kernels 5,3,3 -train_batch 4 -train_epochs 3 \
  -train_out cnn.nc -quiet
run=(-model ns2d -grid_nx 32 -grid_ny 32 -ts_max_time 0.5 -output_every 0.25 -ensemble_size 2
     -seed 9 -quiet)
for np in 1 2 4; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 -output c$np.nc
done
ncdiff c1.nc c2.nc --vars vorticity --rtol 1e-9 || fail "2 ranks differ from 1"
ncdiff c1.nc c4.nc --vars vorticity --rtol 1e-9 || fail "4 ranks differ from 1"
# where the CPU has AVX2 + FMA every convolution of this CNN is the direct one, each point
# computed alike in any block: by default the block then gets no halo in a dimension its rank
# owns whole (the circular padding wraps it), and the run is bitwise the one with the halo
if grep -qw avx2 /proc/cpuinfo && grep -qw fma /proc/cpuinfo; then
  mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 \
    -surrogate_trim_halo 0 -output c1_halo.nc
  ncdiff c1.nc c1_halo.nc --vars vorticity --rtol 0 || fail "the trimmed block differs"
  mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 -info \
    -output c1_info.nc > c1_info.log
  grep -q "halo of 4 (none in a dimension the rank owns whole" c1_info.log ||
    fail "the block is not trimmed by default"
else
  echo "no AVX2 + FMA here: the default block keeps its halo (not checked)"
fi
mpirun_n 2 "$GYRE" simulate "${run[@]}" -output none.nc
if ncdiff c2.nc none.nc --vars vorticity --rtol 1e-6 > /dev/null; then
  fail "the CNN closure changes nothing"
fi

# the CNN in bf16 on AMX or AVX-512 BF16 (-surrogate_precision bf16 with the cpu backend), where
# the CPU has one:
# the same on 1, 2 and 4 ranks, bitwise the same with the halo as without (each point computed
# alike in any block), near the fp32 run (within 2% of the closure's own effect) but not equal to
# it, and said on the log; elsewhere refused naming them. A network that is not a CNN is refused.
set +e
mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 \
  -surrogate_precision bf16 -output b1.nc > b1.log 2> b1.err
status=$?
set -e
if [ $status -ne 0 ]; then
  grep -q "needs AVX-512 BF16" b1.err || { cat b1.err; fail "bf16 failed without naming AVX-512 BF16"; }
  echo "no AMX or AVX-512 BF16 here: bf16 refused ($(grep '^gyre: error:' b1.err))"
else
  grep -q "^surrogate: the CNN runs in bf16 on \(AMX\|AVX-512 BF16\)" b1.log ||
    fail "the log does not say bf16"
  for np in 2 4; do
    mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 \
      -surrogate_precision bf16 -output b$np.nc > /dev/null
    ncdiff b1.nc b$np.nc --vars vorticity --rtol 1e-9 || fail "bf16: $np ranks differ from 1"
  done
  mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 \
    -surrogate_precision bf16 -surrogate_trim_halo 0 -output b1_halo.nc > /dev/null
  ncdiff b1.nc b1_halo.nc --vars vorticity --rtol 0 || fail "bf16: the trimmed block differs"
  # 16 channels: at fp32 GEMMs (a point's value depends on the block: the halo kept), in bf16 one
  # chain computed alike in any block (trimmed by default, bitwise the haloed run)
  mpirun_n 2 "$GYRE" train -train_data fine.nc -train_inputs vorticity \
    -train_targets subgrid_forcing -net cnn -net_depth 3 -cnn_channels 16,16 -cnn_kernels 5,3,3 \
    -train_batch 4 -train_epochs 1 -train_out cnn16.nc -quiet
  mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn16.nc -surrogate_scale -1 -info \
    -output w32.nc > w32.log
  if grep -q "halo of 4 (none in a dimension" w32.log; then fail "fp32 GEMMs: the block trimmed"; fi
  mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn16.nc -surrogate_scale -1 -info \
    -surrogate_precision bf16 -output w16.nc > w16.log
  grep -q "halo of 4 (none in a dimension" w16.log || fail "bf16 16 channels: the block not trimmed"
  mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate cnn16.nc -surrogate_scale -1 \
    -surrogate_precision bf16 -surrogate_trim_halo 0 -output w16h.nc > /dev/null
  ncdiff w16.nc w16h.nc --vars vorticity --rtol 0 || fail "bf16 16 channels: the trimmed block differs"
  "$PYTHON" - <<'PY'
import netCDF4  # noqa: F401
import numpy as np
b, f, none = (netCDF4.Dataset(n)["vorticity"][:] for n in ("b1.nc", "c1.nc", "none.nc"))
db, dn = float(abs(b - f).max()), float(abs(f - none).max())
print(f"bf16 against fp32: {db:g} (the closure's own effect: {dn:g})")
assert 0 < db < 0.02 * dn, "bf16: not near the fp32 run, or equal to it"
PY
fi

# the CNN once a step (-surrogate_closure_eval step; ARKIMEX, so the TS restarts at every step):
# the same on 1 and 2 ranks, member 0 alone the same run as in the ensemble, near the run
# evaluated at every stage but not equal to it
for np in 1 2; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate cnn.nc -surrogate_scale -1 \
    -surrogate_closure_eval step -output s$np.nc
done
ncdiff s1.nc s2.nc --vars vorticity --rtol 1e-9 || fail "once a step: 2 ranks differ from 1"
mpirun_n 2 "$GYRE" simulate "${run[@]}" -ensemble_size 1 -surrogate cnn.nc -surrogate_scale -1 \
  -surrogate_closure_eval step -output s_one.nc
"$PYTHON" - <<'PY'
import netCDF4  # noqa: F401
import numpy as np
one = netCDF4.Dataset("s_one.nc")["vorticity"][:]
ens, stage, none = (netCDF4.Dataset(f)["vorticity"][:] for f in ("s2.nc", "c2.nc", "none.nc"))
d0 = float(abs(one - ens[:, 0]).max())
ds, dn = float(abs(ens - stage).max()), float(abs(stage - none).max())
print(f"once a step: member 0 alone against in the ensemble {d0:g}; against every stage {ds:g}"
      f" (the closure's own effect: {dn:g})")
assert d0 == 0, "once a step: member 0 depends on the ensemble's size"
assert 0 < ds < 0.1 * dn, "once a step: not near the every-stage run, or equal to it"
PY

# a per-point MLP on the 3 x 3 stencil of each point: 1 rank gathers the stencils straight from
# the state, 2 and 4 ranks through the ghost exchange; a point's output depends on its stencil
# alone, so the runs are bitwise equal
mpirun_n 2 "$GYRE" train -train_data fine.nc -train_inputs vorticity -train_targets subgrid_forcing \
  -net mlp -train_per_point 1 -train_stencil 1 -net_width 16 -train_batch 256 -train_epochs 1 \
  -train_out pp.nc -quiet
for np in 1 2 4; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate pp.nc -surrogate_scale -1 -output p$np.nc
done
ncdiff p1.nc p2.nc --vars vorticity --rtol 0 || fail "per-point MLP: 2 ranks differ from 1"
ncdiff p1.nc p4.nc --vars vorticity --rtol 0 || fail "per-point MLP: 4 ranks differ from 1"
if ncdiff p2.nc none.nc --vars vorticity --rtol 1e-6 > /dev/null; then
  fail "the per-point MLP closure changes nothing"
fi

mpirun_n 2 "$GYRE" train -train_data fine.nc -train_inputs vorticity -train_targets subgrid_forcing \
  -net cnn -net_depth 3 -cnn_channels 4,4 -cnn_kernels 9,9,9 -train_batch 4 -train_epochs 1 \
  -train_out wide.nc -quiet
expect_error "receptive field wider than a rank's rows" "wider than the narrowest subdomain" \
  mpirun_n 4 "$GYRE" simulate "${run[@]}" -surrogate wide.nc -output w.nc
mpirun_n 2 "$GYRE" train -train_data fine.nc -train_inputs vorticity -train_targets subgrid_forcing \
  -net fno -net_width 4 -fno_modes 4 -train_batch 4 -train_epochs 1 -train_out fno.nc -quiet
# an FNO needs the whole field: gathered on one rank, scattered back; the same on 1 and 2 ranks
for np in 1 2; do
  mpirun_n $np "$GYRE" simulate "${run[@]}" -surrogate fno.nc -surrogate_scale -1 \
    -output f$np.nc > f$np.log
done
grep -q "^surrogate: FNO needs the whole field: gathered on 1 rank (of 2)" f2.log ||
  fail "no log line saying the FNO is gathered"
ncdiff f1.nc f2.nc --vars vorticity --rtol 1e-9 || fail "FNO closure: 2 ranks differ from 1"
if ncdiff f2.nc none.nc --vars vorticity --rtol 1e-6 > /dev/null; then
  fail "the FNO closure changes nothing"
fi
if [ $status -eq 0 ]; then # (bf16 runs here)
  expect_error "bf16 on the cpu backend with an FNO" "is not a CNN of convolutions" \
    mpirun_n 1 "$GYRE" simulate "${run[@]}" -surrogate fno.nc -surrogate_precision bf16 \
    -output bp.nc
fi
echo "simulate_cnn_closure: passed"
