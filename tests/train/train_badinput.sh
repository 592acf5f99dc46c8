#!/usr/bin/env bash
# gyre train with bad input: missing or corrupt data (truncated, flipped bytes, NaN), a wrong
# variable, mismatched grids, impossible options, corrupt or foreign checkpoints. Each gives one
# "gyre: error:" line naming what was wrong and a non-zero exit (also on 2 ranks); a failing
# run never replaces a good model file.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"

"$GYRE" simulate -model l96 -ts_max_time 2 -ensemble_size 2 -quiet -output d.nc
"$GYRE" simulate -model ns2d -grid_nx 16 -grid_ny 16 -ts_max_time 1 -output_every 0.25 -quiet \
  -output g16.nc
"$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -ts_max_time 1 -output_every 0.25 -quiet \
  -output g32.nc
t=(-train_inputs X -train_targets coupling -train_epochs 2 -train_batch 64 -quiet)
"$GYRE" train -train_data d.nc "${t[@]}" -train_out good.nc
sum=$(sha256sum good.nc good.ckpt.nc)

expect_error "missing data file" "'nope.nc' does not exist" \
  "$GYRE" train -train_data nope.nc "${t[@]}" -train_out m.nc
expect_error "pattern matching nothing" "no file matches 'none_" \
  "$GYRE" train -train_data 'none_*.nc' "${t[@]}" -train_out m.nc
expect_error "wrong variable" "variable 'Z' not found in 'd.nc'" \
  "$GYRE" train -train_data d.nc -train_inputs Z -train_targets coupling -train_out m.nc
expect_error "wrong variable on 2 ranks" "variable 'Z' not found in 'd.nc'" \
  mpirun_n 2 "$GYRE" train -train_data d.nc -train_inputs Z -train_targets coupling -train_out m.nc
expect_error "grid mismatch between files" "grid mismatch" \
  "$GYRE" train -train_data 'g*.nc' -train_mode emulator -train_inputs vorticity -net fno \
  -train_batch 2 -train_out m.nc

# a record never written (NetCDF's default fill 9.97e36, which set the normalisation to 1e33)
"$PYTHON" - <<'PY'
import netCDF4
s = netCDF4.Dataset("d.nc")
d = netCDF4.Dataset("holes.nc", "w", format="NETCDF4")
for n, dim in s.dimensions.items():
    d.createDimension(n, None if dim.isunlimited() else len(dim))
for n in ["time", "member", "k", "X", "coupling"]:
    v = s[n]
    w = d.createVariable(n, v.dtype, v.dimensions)
    w.setncatts({a: v.getncattr(a) for a in v.ncattrs()})
    if n != "coupling":
        w[:] = v[:]
    else:
        w[:5] = v[:5]
        w[6:] = v[6:]
d.close()
PY
expect_error "a record never written in the data" "'holes.nc' variable 'coupling' at record 5, index \[0, 0\] holds NetCDF's default fill value (never written)" \
  mpirun_n 2 "$GYRE" train -train_data holes.nc "${t[@]}" -train_out m.nc
cp d.nc nan.nc
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("nan.nc", "a")
d.variables["X"][5, 1, 3] = float("nan")
d.close()
PY
expect_error "NaN in the data" "nan.nc.*X.*NaN\|NaN.*nan.nc.*X" \
  "$GYRE" train -train_data nan.nc "${t[@]}" -train_out m.nc -train_epoch 3
# a misspelt option is said before training starts (also when the run then fails), once
[ "$(grep -c "warning: option -train_epoch 3 was not used (misspelt" err.txt)" = 1 ] ||
  { cat err.txt; fail "a misspelt option was not said once before the training's error"; }
head -c $(($(stat -c %s d.nc) / 2)) d.nc > trunc.nc
expect_error "truncated data file" "trunc.nc" \
  "$GYRE" train -train_data trunc.nc "${t[@]}" -train_out m.nc
cp d.nc flip.nc
printf '\xff\xff\xff\xff' | dd of=flip.nc bs=1 seek=0 conv=notrunc status=none
expect_error "flipped bytes in the data file" "flip.nc" \
  "$GYRE" train -train_data flip.nc "${t[@]}" -train_out m.nc

# times that run backwards, or unevenly for an emulator (it counts records): refused
cp g16.nc back.nc
cp g16.nc uneven.nc
"$PYTHON" - <<'PY'
import netCDF4
with netCDF4.Dataset("back.nc", "a") as d:
    d.variables["time"][:] = d.variables["time"][::-1]
with netCDF4.Dataset("uneven.nc", "a") as d:
    d.variables["time"][2] = d.variables["time"][2] + 0.1
PY
expect_error "time running backwards" "the times of 'back.nc' do not increase: record 0 is at 1" \
  "$GYRE" train -train_data back.nc -train_mode emulator -train_inputs vorticity -net fno \
  -train_batch 2 -train_out m.nc
expect_error "uneven records for an emulator" "the records of 'uneven.nc' are not evenly spaced" \
  "$GYRE" train -train_data uneven.nc -train_mode emulator -train_inputs vorticity -net fno \
  -train_batch 2 -train_out m.nc
# files that disagree on what the model file records once: the record spacing and time units
# (an emulator counts records), the units of a variable, the grid spacing
mkdir -p spacing hours units wide
"$GYRE" simulate -model ns2d -grid_nx 16 -grid_ny 16 -ts_max_time 1 -output_every 0.5 -quiet \
  -output spacing/b.nc
for d in spacing hours units wide; do cp g16.nc $d/a.nc; done
cp g16.nc hours/b.nc
cp g16.nc units/b.nc
cp g16.nc wide/b.nc
"$PYTHON" - <<'PY'
import netCDF4
with netCDF4.Dataset("hours/b.nc", "a") as d:
    d.variables["time"].units = "hours since 2000-01-01"
with netCDF4.Dataset("units/b.nc", "a") as d:
    d.variables["vorticity"].units = "h-1"
with netCDF4.Dataset("wide/b.nc", "a") as d:
    d.variables["x"][:] = 2 * d.variables["x"][:]
PY
emu=(-train_mode emulator -train_inputs vorticity -net fno -train_batch 2 -train_out m.nc)
expect_error "record spacings 0.25 and 0.5 for an emulator" "the records of 'spacing/b.nc' are 0.5 apart in time but those of 'spacing/a.nc' 0.25" \
  "$GYRE" train -train_data 'spacing/*.nc' "${emu[@]}"
expect_error "time units for an emulator" "time is in 'hours since 2000-01-01' in 'hours/b.nc' but in 'days since .*' in 'hours/a.nc'" \
  "$GYRE" train -train_data 'hours/*.nc' "${emu[@]}"
# another reference date, the same unit: accepted
mkdir -p epoch && cp g16.nc epoch/a.nc && cp g16.nc epoch/b.nc
"$PYTHON" -c "import netCDF4; d = netCDF4.Dataset('epoch/b.nc', 'a'); d['time'].units = 'days since 1950-01-01'; d.close()"
"$GYRE" train -train_data 'epoch/*.nc' "${emu[@]}" -fno_modes 4 -train_epochs 1 -quiet -train_out epoch.nc ||
  fail "files with another reference date of the same time unit were refused"
expect_error "units of a variable" "variable 'vorticity' is in 'h-1' in 'units/b.nc' but in '.*' in 'units/a.nc'" \
  mpirun_n 2 "$GYRE" train -train_data 'units/*.nc' "${emu[@]}"
expect_error "grid spacing" "grid spacing mismatch: 'x' is .* apart in 'wide/b.nc' but .* in 'wide/a.nc'" \
  "$GYRE" train -train_data 'wide/*.nc' "${emu[@]}"
expect_error "unknown network" "-net" \
  "$GYRE" train -train_data d.nc "${t[@]}" -net transformer -train_out m.nc
expect_error "impossible batch" "error: -train_batch 0 must be at least 1$" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_batch 0 -train_out m.nc
expect_error "impossible epochs" "error: -train_epochs 0 must be at least 1$" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 0 -train_out m.nc
expect_error "negative threads" "-train_threads -1 must be at least 0 (0: OMP_NUM_THREADS" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_threads -1 -train_out m.nc
expect_error "no targets" "-train_targets" \
  "$GYRE" train -train_data d.nc -train_inputs X -train_out m.nc
expect_error "no FNO modes" "-fno_modes 0: out of range" \
  "$GYRE" train -train_data d.nc "${t[@]}" -net fno -fno_modes 0 -train_out m.nc
# another architecture's options change nothing: one warning each (here before an error)
expect_error "another architecture's option" "'nope.nc' does not exist" \
  "$GYRE" train -train_data nope.nc "${t[@]}" -cnn_channels 8 -fno_modes 4 -train_out m.nc
grep -q "warning: option -cnn_channels is for -net cnn: it changes nothing with -net mlp" err.txt &&
  grep -q "warning: option -fno_modes is for -net fno" err.txt || { cat err.txt; fail "no warnings"; }
expect_error "cnn without its channel list" "-cnn_channels" \
  "$GYRE" train -train_data g16.nc -train_mode emulator -train_inputs vorticity -net cnn \
  -net_depth 3 -train_out m.nc
cnn=(-train_data g16.nc -train_mode emulator -train_inputs vorticity -net cnn -cnn_channels 4,4
  -train_epochs 1 -train_batch 2 -quiet)
expect_error "a kernel wider than the grid" "kernel 17 of layer 1 (-cnn_kernels) is wider than the data's grid, 16 x 16" \
  "$GYRE" train "${cnn[@]}" -cnn_kernels 3,17,3 -train_out m.nc
expect_error "lists of another depth than -net_depth" "a CNN of 4 layers (-net_depth) needs 3 hidden" \
  "$GYRE" train "${cnn[@]}" -cnn_kernels 3,5,3 -net_depth 4 -train_out m.nc
# without -net_depth the depth is the kernel list's length
"$GYRE" train "${cnn[@]}" -cnn_kernels 3,5,3 -train_out cnn3.nc
"$GYRE" info cnn3.nc > info.txt
grep -q "kernels 3,5,3" info.txt || { cat info.txt; fail "the depth was not taken from -cnn_kernels"; }

# a checkpoint whose Adam second moment is negative: named, not a NaN loss at the first step
cp good.ckpt.nc negv.ckpt.nc
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("negv.ckpt.nc", "a")
name = sorted(n for n in d.variables if n.startswith("adam_v."))[0]
d.variables[name][(0,) * d.variables[name].ndim] = -1.0
d.close()
PY
expect_error "negative Adam moment in a checkpoint" "negv.ckpt.nc': optimiser state 'adam_v.*second moment" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 3 -train_out m.nc -train_resume negv.ckpt.nc
head -c 3000 good.ckpt.nc > badckpt.nc
expect_error "truncated checkpoint" "badckpt.nc" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out m.nc -train_resume badckpt.nc
expect_error "checkpoint of another network" "different network" \
  "$GYRE" train -train_data d.nc "${t[@]}" -net_width 16 -train_out m.nc -train_resume good.ckpt.nc
# one trajectory: the split is by time, so another validation share is another split
"$GYRE" simulate -model l96 -ts_max_time 2 -quiet -output d1.nc
"$GYRE" train -train_data d1.nc "${t[@]}" -train_out one.nc
onesum=$(sha256sum one.nc one.ckpt.nc)
expect_error "resume with another validation share" "trained with the split 'by time block: the last 80" \
  "$GYRE" train -train_data d1.nc "${t[@]}" -train_epochs 3 -train_val_fraction 0.4 -train_out one.nc \
  -train_resume auto
[ "$(sha256sum one.nc one.ckpt.nc)" = "$onesum" ] || fail "a refused resume changed one.nc"
# resuming one.ckpt.nc into a -train_out that another split made: refused before any work
"$GYRE" train -train_data d1.nc "${t[@]}" -train_val_fraction 0.4 -train_out split4.nc
s4sum=$(sha256sum split4.nc)
expect_error "resume into a model of another split" "-train_out 'split4.nc' exists and is not the model of the training resumed from 'one.ckpt.nc': it was trained with the split 'by time block: the last 160 of 401 records" \
  "$GYRE" train -train_data d1.nc "${t[@]}" -train_epochs 3 -train_out split4.nc \
  -train_resume one.ckpt.nc
echo "$s4sum" | sha256sum -c --quiet || fail "split4.nc was replaced"
expect_error "NaN loss, good model kept" "the loss is" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_lr 1e30 -train_eps 1e-30 -train_out good.nc \
  -train_overwrite
[ "$(sha256sum good.nc good.ckpt.nc)" = "$sum" ] || fail "a failed run changed good.nc"
# a NaN loss in epoch 2, after the run wrote its epoch-1 model and checkpoint: -train_overwrite
# puts the good files back, the failed run's go to FILE.failed (also on 2 ranks)
for np in 1 2; do
  expect_error "NaN loss in epoch 2 on $np rank(s), good model put back" \
    "the loss is NaN in epoch 2.*-train_out 'good.nc' is back as it was before the training.*the training's in 'good.nc.failed'; checkpoint 'good.ckpt.nc' is back as it was before the training, the training's in 'good.ckpt.nc.failed'" \
    mpirun_n $np "$GYRE" train -train_data d.nc "${t[@]}" -train_schedule step -train_step_size 1 \
    -train_step_gamma 1e300 -train_out good.nc -train_overwrite
  [ "$(sha256sum good.nc good.ckpt.nc)" = "$sum" ] || fail "a run failing in epoch 2 changed good.nc"
  [ -f good.nc.failed ] && [ -f good.ckpt.nc.failed ] || fail "the failed run's files are gone"
  [ ! -e good.nc.replaced ] && [ ! -e good.ckpt.nc.replaced ] || fail "a file left aside"
  rm good.nc.failed good.ckpt.nc.failed
done
# a new model file keeps the best model so far, with its checkpoint
expect_error "NaN loss in epoch 2, new model file" \
  "the loss is NaN in epoch 2.*-train_out 'new.nc' holds the best model so far; checkpoint 'new.ckpt.nc' holds the last epoch's checkpoint" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_schedule step -train_step_size 1 \
  -train_step_gamma 1e300 -train_out new.nc
"$GYRE" info new.nc >/dev/null || fail "the best model so far is not a valid model file"
nan=(-train_schedule step -train_step_size 1 -train_step_gamma 1e300)
# -train_overwrite by legs (-train_epochs_per_run): the replaced model stays aside until the
# training ends, and a later leg failing puts it back (the training's best model to FILE.failed)
cp good.nc legs.nc
lsum=$(sha256sum < legs.nc)
legs=(-train_data d.nc "${t[@]}" "${nan[@]}" -train_epochs 3 -train_epochs_per_run 1
      -train_out legs.nc -train_overwrite -train_resume auto)
"$GYRE" train "${legs[@]}"
[ "$(sha256sum < legs.nc.replaced)" = "$lsum" ] || fail "leg 1 dropped the model it replaces"
expect_error "a later leg failing" "-train_out 'legs.nc' is back as it was before the training (-train_overwrite replaces it only when the training succeeds), the training's in 'legs.nc.failed'" \
  "$GYRE" train "${legs[@]}"
[ "$(sha256sum < legs.nc)" = "$lsum" ] || fail "the failed training's legs changed legs.nc"
[ -f legs.nc.failed ] && [ ! -e legs.nc.replaced ] || fail "legs.nc.failed missing or aside left"
# a replacement a killed -train_overwrite run left: a fresh run without it refuses to start
cp good.nc pend.nc.replaced
expect_error "a pending replacement" "'pend.nc.replaced' is the model file an earlier -train_overwrite run replaced and never ended" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out pend.nc
[ -f pend.nc.replaced ] && [ ! -e pend.nc ] || fail "a pending replacement was taken over"
# only the checkpoint existed: it comes back after a failure, the new model file keeps its best
cp good.ckpt.nc only.ckpt.nc
csum=$(sha256sum < only.ckpt.nc)
expect_error "a failed run over a checkpoint alone" "-train_out 'only.nc' holds the best model so far; checkpoint 'only.ckpt.nc' is back as it was before the training (-train_overwrite replaces it only when the training succeeds), the training's in 'only.ckpt.nc.failed'" \
  "$GYRE" train -train_data d.nc "${t[@]}" "${nan[@]}" -train_out only.nc -train_overwrite
[ "$(sha256sum < only.ckpt.nc)" = "$csum" ] || fail "a failed run lost the checkpoint it replaced"
# a resume with another recipe (loss, learning rate, schedule, clip, batch, seed...) would not
# end as one run does: refused, naming the option and both values, the files unchanged
"$GYRE" train -train_data d.nc "${t[@]}" -train_out rec.nc
rsum=$(sha256sum rec.nc rec.ckpt.nc)
expect_error "resume with another loss" "checkpoint 'rec.ckpt.nc' was trained with -train_loss mse, the options give -train_loss rel_l2" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 3 -train_out rec.nc -train_resume auto \
  -train_loss rel_l2
expect_error "resume with another learning rate on 2 ranks" "trained with -train_lr 0.001, the options give -train_lr 0.002" \
  mpirun_n 2 "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 3 -train_out rec.nc \
  -train_resume auto -train_lr 2e-3
expect_error "resume with a schedule" "trained with -train_schedule constant, the options give -train_schedule step" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 3 -train_out rec.nc -train_resume auto \
  -train_schedule step
[ "$(sha256sum rec.nc rec.ckpt.nc)" = "$rsum" ] || fail "a refused resume changed rec.nc"
# a model file of another recipe as -train_out of a resume: named
"$GYRE" train -train_data d.nc "${t[@]}" -train_clip 1 -train_out clip.nc
expect_error "resume into a model of another recipe" "-train_out 'clip.nc' exists and is not the model of the training resumed from 'rec.ckpt.nc': it was trained with -train_clip 1, the checkpoint with -train_clip 0" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 3 -train_out clip.nc \
  -train_resume rec.ckpt.nc
# a checkpoint written before the recipe was recorded resumes as before
cp rec.ckpt.nc old.ckpt.nc
"$PYTHON" -c "import netCDF4; d = netCDF4.Dataset('old.ckpt.nc', 'a'); d.delncattr('training_recipe'); d.close()"
"$GYRE" train -train_data d.nc "${t[@]}" -train_epochs 3 -train_out old.nc -train_resume old.ckpt.nc \
  -train_checkpoint old2.ckpt.nc || fail "a checkpoint without a recipe did not resume"
# the checkpoint and the model file by two spellings of one name: refused before any work
expect_error "checkpoint is the model file" "-train_checkpoint './cm.nc' is -train_out 'cm.nc'" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out cm.nc -train_checkpoint ./cm.nc
[ ! -e cm.nc ] || fail "cm.nc written"
expect_error "stencil without per-point samples" "stencil" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_per_point 0 -train_stencil 2 -train_out m.nc
expect_error "negative epochs per run" "-train_epochs_per_run" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_epochs_per_run -1 -train_out m.nc
# precision and backend: tensor-core arithmetic on the CPU backend, an unknown precision, and
# the CUDA backend where this build or this machine has none
expect_error "tf32 on the CPU backend" "needs tensor cores" \
  "$GYRE" train -train_data d.nc "${t[@]}" -surrogate_precision tf32 -train_out m.nc
# bf16 on the CPU backend: inference only; refused for training, or as bf16 wherever the CPU has
# neither AMX nor AVX-512 BF16
expect_error "bf16 training on the CPU backend" "the cpu backend trains in fp32\|needs AVX-512 BF16" \
  "$GYRE" train -train_data d.nc "${t[@]}" -surrogate_precision bf16 -train_out m.nc
expect_error "unknown precision" "precision 'fp8'" \
  "$GYRE" train -train_data d.nc "${t[@]}" -surrogate_precision fp8 -train_out m.nc
"$GYRE" version > version.txt
if grep -q "^gpu: none\|^gpu: no CUDA device" version.txt; then
  expect_error "cuda backend without a GPU" "no CUDA backend\|no CUDA device" \
    "$GYRE" train -train_data d.nc "${t[@]}" -surrogate_backend cuda -train_out m.nc
fi
if grep -q "^cuda: built" version.txt; then # the CUDA module named where it is not
  expect_error "a missing CUDA module" "GYRE_CUDA_MODULE=/nonexistent/libgyre_cuda.so: no such" \
    env GYRE_CUDA_MODULE=/nonexistent/libgyre_cuda.so "$GYRE" train -train_data d.nc "${t[@]}" \
    -surrogate_backend cuda -train_out m.nc
fi
# gyre info on a model file with a flipped weight byte: the checksum says so
cp good.nc flipped.nc
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("flipped.nc", "a")
w = [n for n, v in d.variables.items() if getattr(v, "long_name", "") == "network parameter"][0]
d[w][...] = d[w][...] * 1.0001
d.close()
PY
expect_error "gyre info: a changed weight" "flipped.nc" "$GYRE" info flipped.nc
# several files: a bad one is said under its header, the good ones are still described
expect_error "gyre info: a bad file among good ones" \
  "gyre info: 1 of 2 files not valid (flipped.nc); the first: model file 'flipped.nc'" \
  "$GYRE" info flipped.nc good.nc
grep -q "^  not valid: model file 'flipped.nc': weights checksum mismatch" out.txt &&
  grep -q "^good.nc: gyre surrogate model file: valid (.*SHA-256 of the weights and of the normalisation verified)" out.txt ||
  { cat out.txt; fail "gyre info a.nc b.nc stops at the bad file"; }
# many bad files: the names that fit, a count of the others, and the first file's reason
for i in $(seq 1 40); do printf x > "not_a_netcdf_file_with_a_long_name_$i.nc"; done
expect_error "gyre info: forty bad files" \
  "40 of 41 files not valid (not_a_netcdf_file_with_a_long_name_1.nc, .* and [0-9]* more); the first: 'not_a_netcdf_file_with_a_long_name_1.nc' is not a NetCDF file" \
  "$GYRE" info good.nc not_a_netcdf_file_with_a_long_name_*.nc
# a file after an option would be that option's value, never examined: refused, named
expect_error "gyre info: a file after an option" \
  "'flipped.nc' comes after the option '-quiet' and would be read as its value" \
  "$GYRE" info good.nc -quiet flipped.nc
head -c 3000 good.nc > truncated.nc # a broken file, or a missing one, named .nc: the same
expect_error "gyre info: a broken file after an option" \
  "'truncated.nc' comes after the option '-quiet' and would be read as its value" \
  "$GYRE" info good.nc -quiet truncated.nc
expect_error "gyre info: a missing file after an option" \
  "'missing.nc' comes after the option '-quiet' and would be read as its value" \
  "$GYRE" info good.nc -quiet missing.nc
expect_error "gyre info: a file after an option's value" \
  "'flipped.nc' comes after the option '-log_view' and its value: give every FILE before" \
  "$GYRE" info good.nc -log_view :info_log.txt flipped.nc
echo "-quiet" > info_opts.txt # a PETSc option's value that is a file, not a NetCDF one
"$GYRE" info good.nc -log_view :info_log.txt -options_file info_opts.txt > /dev/null &&
  [ -s info_log.txt ] || fail "gyre info with PETSc options' values (-log_view, -options_file) was refused"
# a model file whose parts disagree (each valid alone: edited by hand or another tool): one
# error naming both sides, from gyre info and from a run that loads it
"$PYTHON" - <<'PY'
import netCDF4, shutil
for name, edit in [("twofields.nc", lambda d: d.setncattr("output_fields", "coupling,X")),
                   ("wholefield.nc", lambda d: d.setncattr("per_point", 0)),
                   ("stencil100.nc", lambda d: d.setncattr("stencil", 100)),
                   ("band.nc", lambda d: d.variables["norm_in_ms_min"].__setitem__(0, 1e9)),
                   ("std.nc", lambda d: d.variables["norm_in_std"].__setitem__(0, 2.0)),
                   ("nanmean.nc", lambda d: d.variables["norm_out_mean"].__setitem__(0, float("nan"))),
                   ("infstd.nc", lambda d: d.variables["norm_in_std"].__setitem__(0, float("inf"))),
                   ("halfband.nc", lambda d: d.renameVariable("norm_in_ms_max", "old_max")),
                   ("noband.nc", lambda d: (d.renameVariable("norm_in_ms_min", "old_min"),
                                            d.renameVariable("norm_in_ms_max", "old_max")))]:
    shutil.copy("good.nc", name)
    d = netCDF4.Dataset(name, "a")
    edit(d)
    d.close()
# band.nc and noband.nc as a tool that rewrites the checksum would leave them (so that what is
# checked after the checksum is reached); noband.nc as a file from before the band was stored
import hashlib, numpy as np
for name, has_band in [("band.nc", True), ("noband.nc", False), ("nanmean.nc", True),
                       ("infstd.nc", True)]:
    d = netCDF4.Dataset(name, "a")
    parts = ["norm_in_mean", "norm_in_std", "norm_out_mean", "norm_out_std"]
    parts += ["norm_in_ms_min", "norm_in_ms_max"] if has_band else []
    raw = b"".join(np.asarray(d[v][:], dtype="<f8").tobytes() for v in parts)
    d.setncattr("normalization_sha256", hashlib.sha256(raw).hexdigest())
    d.close()
PY
# a normalisation that is not finite (the guard's ranges assume finite means and standard
# deviations), with its checksum right: refused when read
expect_error "a NaN normalisation mean" \
  "model file 'nanmean.nc': cannot read 'norm_out_mean': NaN in 'nanmean.nc' variable 'norm_out_mean' at index 0" \
  "$GYRE" info nanmean.nc
expect_error "an infinite standard deviation" \
  "model file 'infstd.nc': cannot read 'norm_in_std': Inf in 'infstd.nc' variable 'norm_in_std' at index 0" \
  "$GYRE" info infstd.nc
expect_error "output fields against the normalisation" "its normalisation has 1 input and 1 output channels, but input_fields 'X' (history 1) and output_fields 'coupling,X' make 1 and 2" \
  "$GYRE" info twofields.nc
expect_error "a per-point network marked whole-field" "its network takes 1 inputs and gives 1 outputs, but its normalisation (1 and 1 channels), on whole fields of its grid, make 8 and 8" \
  "$GYRE" info wholefield.nc
expect_error "a stencil wider than the grid" "stencil 100 (201 points wide) needs a per-point closure MLP on a grid at least as wide" \
  mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -surrogate stencil100.nc \
  -output x.nc
expect_error "a band with min above max" "the guard's band of input channel 0 is \[1e+09, " \
  "$GYRE" info band.nc
# the normalisation is checksummed as the weights are: a changed value or a removed band is a
# corrupt file; a file without a band (and with its checksum) is valid, and says so, as does a
# run that loads it: the guard's invariant check is off
expect_error "gyre info: a changed normalisation" "'std.nc': normalisation checksum mismatch" \
  "$GYRE" info std.nc
expect_error "a band half removed" "'halfband.nc': it has norm_in_ms_min but not norm_in_ms_max" \
  mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 \
  -surrogate halfband.nc -output x.nc
"$GYRE" info noband.nc > info.txt || fail "a model file without a band is refused"
grep -q "the guard's band: none recorded" info.txt || { cat info.txt; fail "gyre info: no band"; }
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -surrogate noband.nc \
  -output noband_run.nc > noband.log
grep -q "^\[guard\] surrogate 'noband.nc' records no band .*: the invariant check is off" \
  noband.log || { cat noband.log; fail "a run without the guard's band does not say so"; }
# a closure model predicting two fields (a valid file): a run says a closure adds one
"$GYRE" train -train_data d.nc -train_inputs X -train_targets coupling,X -train_epochs 1 -quiet \
  -train_out two_out.nc
expect_error "a closure predicting two fields" \
  "surrogate 'two_out.nc' predicts 2 fields (coupling,X); a closure adds one tendency, to X: train it with one -train_targets field" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -surrogate two_out.nc \
  -output x.nc
# the model file or its checkpoint is one of the data files: refused, the data intact
cp d.nc d2.nc
dsum=$(sha256sum d2.nc)
expect_error "-train_out is a data file" "-train_out 'd2.nc' is one of the -train_data files" \
  "$GYRE" train -train_data 'd*.nc' "${t[@]}" -train_out d2.nc -train_overwrite
expect_error "the checkpoint is a data file" "the checkpoint 'd2.nc' is one of the -train_data" \
  "$GYRE" train -train_data d2.nc "${t[@]}" -train_out m.nc -train_checkpoint d2.nc
echo "$dsum" | sha256sum -c --quiet || fail "d2.nc was modified"
# a fresh run never replaces an existing file given as its checkpoint; a resumed run never
# replaces a model of another training, nor the checkpoint it resumes from
cp g16.nc gcopy.nc
gsum=$(sha256sum gcopy.nc)
expect_error "a fresh run over an existing checkpoint" "the checkpoint 'gcopy.nc' exists and this training starts afresh" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out fresh.nc -train_checkpoint gcopy.nc
echo "$gsum" | sha256sum -c --quiet || fail "gcopy.nc was replaced by a checkpoint"
# an earlier training's model and checkpoint: both named
expect_error "a fresh run over a trained model and its checkpoint" \
  "-train_out 'good.nc' and its checkpoint 'good.ckpt.nc' exist and this training starts afresh" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out good.nc
"$GYRE" train -train_data d.nc "${t[@]}" -train_stencil 1 -train_out other.nc
osum=$(sha256sum other.nc)
expect_error "resuming over another model" "-train_out 'other.nc' exists and is not the model of the training resumed from 'good.ckpt.nc'" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out other.nc -train_resume good.ckpt.nc
grep -q "its architecture, mlp (inputs 3, .*is not the checkpoint's, mlp (inputs 1," err.txt ||
  { cat err.txt; fail "the architecture not named"; }
echo "$osum" | sha256sum -c --quiet || fail "other.nc was replaced"
# the same network trained for another target: another task, named
"$GYRE" train -train_data d.nc -train_inputs X -train_targets X -train_epochs 2 -train_batch 64 \
  -quiet -train_out task.nc -train_checkpoint task.ckpt.nc
tsum=$(sha256sum task.nc)
expect_error "resuming over a model of another task" "it was trained as closure X -> X, the checkpoint as closure X -> coupling" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out task.nc -train_resume good.ckpt.nc
echo "$tsum" | sha256sum -c --quiet || fail "task.nc was replaced"
expect_error "resuming into the checkpoint" "-train_out 'good.ckpt.nc' is the checkpoint" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out good.ckpt.nc -train_resume good.ckpt.nc
# an output that cannot be written fails before the first epoch, leaving nothing behind
expect_error "an unwritable checkpoint" "cannot create output file 'nodir/c.nc': No such file" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_out early.nc -train_checkpoint nodir/c.nc
expect_error "an unwritable model file on 2 ranks" "cannot create output file 'nodir/m.nc'" \
  mpirun_n 2 "$GYRE" train -train_data d.nc "${t[@]}" -train_out nodir/m.nc
[ ! -e early.nc ] && [ ! -e early.ckpt.nc ] || fail "a refused run left a model file"
# meaningless sizes and lists
expect_error "zero width" "-net_width 0 must be at least 1" \
  "$GYRE" train -train_data d.nc "${t[@]}" -net_width 0 -train_out m.nc
expect_error "width -1 (not a default)" "-net_width -1 must be at least 1" \
  "$GYRE" train -train_data d.nc "${t[@]}" -net_width -1 -train_out m.nc
expect_error "depth -1 (not a default)" "-net_depth -1 must be at least 0" \
  "$GYRE" train -train_data d.nc "${t[@]}" -net_depth -1 -train_out m.nc
expect_error "an empty variable entry" "-train_inputs ,X: an empty entry in the list" \
  "$GYRE" train -train_data d.nc -train_inputs ,X -train_targets coupling -train_out m.nc
expect_error "a variable twice" "-train_inputs X,X: 'X' is given twice" \
  "$GYRE" train -train_data d.nc -train_inputs X,X -train_targets coupling -train_out m.nc
expect_error "a stencil wider than the grid" "a stencil of 4 points on each side (9 wide) does not fit" \
  "$GYRE" train -train_data d.nc "${t[@]}" -train_stencil 4 -train_out m.nc
expect_error "FNO modes beyond the grid" \
  "-fno_modes 9 does not fit the data's grid, 16 x 16 points (modes <= X/2+1 and 2 modes <= Y: at most 8 here)" \
  "$GYRE" train -train_data g16.nc -train_mode emulator -train_inputs vorticity -net fno \
  -fno_modes 9 -train_batch 2 -train_out m.nc
expect_error "an empty list entry" "-cnn_channels 8,,8: an empty entry" \
  "$GYRE" train -train_data g16.nc -train_inputs vorticity -train_targets subgrid_forcing \
  -net cnn -cnn_channels 8,,8 -train_out m.nc
expect_error "operator records backwards" "expected 0 <= t0 < t1" \
  "$GYRE" train -train_data g16.nc -train_mode operator -train_inputs vorticity \
  -train_targets vorticity -train_op_t0 3 -train_op_t1 1 -train_out m.nc
# a backend knob with a value it does not take, refused before the files are touched
export GYRE_CUDA_CONV=fft:0
expect_error "a knob's unknown value" \
  "environment variable GYRE_CUDA_CONV=fft:0: it takes auto, implicit, shift, im2col, direct, fft or fft:N (a whole number N >= 1)" \
  mpirun_n 2 "$GYRE" train -train_data d.nc "${t[@]}" -train_out good.nc -train_overwrite
unset GYRE_CUDA_CONV
expect_error "a knob's unknown number" "GYRE_CUDA_IM2COL_MB=0: it takes a number > 0" \
  env GYRE_CUDA_IM2COL_MB=0 "$GYRE" train -train_data d.nc "${t[@]}" -train_out good.nc \
  -train_overwrite
echo "$sum" | sha256sum -c --quiet || fail "a refused run changed good.nc or its checkpoint"
# a refused run leaves no checkpoint lock file behind (each left its FILE.lock)
locks=$(ls ./*.lock 2>/dev/null || true)
[ -z "$locks" ] || fail "refused runs left lock files: $locks"
echo "train_badinput: passed"
