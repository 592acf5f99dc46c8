#!/usr/bin/env bash
# Bad input: one clear error line ("gyre: error: ..."), a non-zero exit, no good file damaged.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
"$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output good.nc
sum=$(sha256sum good.nc)

expect_error "unknown model" "unknown model 'bogus'" "$GYRE" simulate -model bogus -output x.nc
# an -output or -checkpoint that is a loop of symbolic links: one error naming it, nothing made
ln -sf loop_b.nc loop_a.nc && ln -sf loop_a.nc loop_b.nc
expect_error "-output a loop of links" "-output 'loop_a.nc' is a symbolic link that loops" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -output loop_a.nc
expect_error "-checkpoint a loop of links" "-checkpoint 'loop_b.nc' is a symbolic link that loops" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -output ok_link.nc \
  -checkpoint loop_b.nc
[ -L loop_a.nc ] && [ -L loop_b.nc ] && [ ! -e ok_link.nc ] || fail "a refused link run touched files"
expect_error "missing options file" "cannot read options file 'nope.opts'" \
  "$GYRE" simulate -options_file nope.opts
expect_error "grid not divisible by the stride" "not divisible" \
  "$GYRE" simulate -model ns2d -grid_nx 30 -grid_ny 30 -output_stride 4 -output s.nc -quiet
expect_error "existing output" "exists" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output good.nc
expect_error "unwritable output path" "cannot create" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output /nonexistent/dir/x.nc
# a checkpoint with a NaN in its state
"$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output c.nc -checkpoint c.ckpt
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("c.ckpt", "a")
d.variables["state"][0, 3, 0] = float("nan")
d.close()
PY
expect_error "NaN in a restart file" "NaN" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -quiet -output c2.nc -restart c.ckpt
expect_error "impossible option" "-output_precision" \
  "$GYRE" simulate -model l96 -output_precision half -output p.nc -quiet
expect_error "ts_max_time not a multiple of dt" "whole number" \
  "$GYRE" simulate -model l96 -ts_max_time 0.0105 -output q.nc -quiet
expect_error "a -ts_dt the default output interval is no multiple of" \
  "-output_every 0.005 (the default) is not a whole number of time steps dt = 0.003: give 0.003 or 0.006$" \
  "$GYRE" simulate -model l96 -ts_dt 0.003 -ts_max_time 0.03 -output q.nc -quiet
# the suggested times are printed with the digits it takes to be accepted given back (%g's six
# were not: 0.00937037 is not three steps of 0.0031234567 to 1e-9)
expect_error "an output interval no multiple of an odd dt" \
  "-output_every 0.01 is not a whole number of time steps dt = 0.0031234567: give " \
  "$GYRE" simulate -model l96 -ts_dt 0.0031234567 -output_every 0.01 -ts_max_time 0.05 \
  -output q.nc -quiet
for t in $(sed -n 's/.*: give \([0-9.e-]*\) or \([0-9.e-]*\)$/\1 \2/p' err.txt); do
  "$GYRE" simulate -model l96 -ts_dt 0.0031234567 -output_every "$t" -ts_max_time "$t" \
    -output q.nc -output_overwrite -quiet || fail "the suggested -output_every $t is refused"
done
[ -n "${t:-}" ] || fail "no suggestion in: $(cat err.txt)"
# far from 0 the suggestions are still the two nearest (more digits, not the same one twice)
expect_error "an output interval of 1234567.75 with dt 0.1" \
  "-output_every 1234567.75 is not a whole number of time steps dt = 0.1: give 1234567.7 or 1234567.8$" \
  "$GYRE" simulate -model l96 -ts_dt 0.1 -output_every 1234567.75 -output q.nc -quiet
expect_error "a checkpoint interval below a step" \
  "-checkpoint_every 1e-11 is less than a time step (dt = 0.1)" \
  "$GYRE" simulate -model l96 -ts_dt 0.1 -output_every 0.1 -checkpoint_every 1e-11 \
  -checkpoint z.ckpt -output q.nc -quiet
expect_error "IMEX integrator for a model without a stiff part" "no stiff part" \
  "$GYRE" simulate -model l96 -ts_type arkimex -ts_max_time 0.01 -output im.nc -quiet
# a restart never touches an output that is not the checkpointed run's
"$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output a.nc -checkpoint a.ckpt
"$GYRE" simulate -model l96 -l96_F 8 -ts_max_time 0.1 -quiet -output other.nc
othersum=$(sha256sum other.nc)
expect_error "restart into another run's output" "cannot continue output 'other.nc'" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -quiet -output other.nc -restart a.ckpt
echo "$othersum" | sha256sum -c --quiet || fail "other.nc was modified by a refused restart"
expect_error "restart with another output interval" \
  "-output_every 0.01: checkpoint 'a.ckpt' continues a run with an output record every 0.005 (5 steps of dt = 0.001); a restart keeps that: give -output_every 0.005 (or -output_every_steps 5), or leave it out" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -output_every 0.01 -quiet -output a.nc -restart a.ckpt
asum=$(sha256sum a.nc a.ckpt)
expect_error "restart with another integrator" "integrator rk/4 in the checkpoint, euler in this run" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -quiet -output a.nc -restart a.ckpt -ts_type euler
expect_error "restart with another tableau" "integrator rk/4 in the checkpoint, rk/3bs in this run" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -quiet -output a.nc -restart a.ckpt -ts_rk_type 3bs
echo "$asum" | sha256sum -c --quiet || fail "a refused restart changed a.nc or a.ckpt"
mv a.nc a-moved.nc
expect_error "restart with the output missing" "the file is missing" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -quiet -output a.nc -restart a.ckpt
# bad input found only once the run is set up, with -output_overwrite on a good file: the error
# comes before the output is made, and the good file is as it was (the initial state was read
# after the output was created: a missing -initial_file or time emptied it)
expect_error "missing initial file" "-initial_file 'nosuch.nc' cannot be read" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output good.nc -output_overwrite \
  -initial_file nosuch.nc
expect_error "initial time the file lacks" "no record at time 9" \
  "$GYRE" simulate -model l96 -ts_max_time 10 -quiet -output good.nc -output_overwrite \
  -initial_file c.nc -initial_time 9
"$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.05 -quiet -output one.nc
expect_error "initial file without the model's variables" "no variable 'Y'" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output good.nc -output_overwrite \
  -initial_file one.nc
expect_error "checkpoint interval without a checkpoint" "-checkpoint_every 0.01 needs -checkpoint" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -checkpoint_every 0.01 -quiet -output good.nc \
  -output_overwrite
# a misspelt option: the run completes, and one warning line (once on 2 ranks) names it
mpirun_n 2 "$GYRE" simulate -model l96 -ts_max_time 0.05 -ts_max_tim 9 -quiet -output w.nc \
  2> warn.txt || fail "a run with an unused option failed"
cat warn.txt
n=$(grep -c "gyre: warning: option -ts_max_tim 9 was not used" warn.txt || true)
[ "$n" = 1 ] || fail "expected one warning naming -ts_max_tim, got $n"
# ... said after the first step, so also by a run that fails later (here a blow-up)
expect_error "a blow-up with a misspelt option" "blow-up at step" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 -ts_max_time 5 \
  -ts_max_tim 9 -quiet -output wb.nc
[ "$(grep -c "warning: option -ts_max_tim 9 was not used" err.txt)" = 1 ] ||
  { cat err.txt; fail "a misspelt option was not said once by a run that failed later"; }
# an option of another model, or one that needs -surrogate: the warning says when it applies
"$GYRE" simulate -model l96 -ts_max_time 0.05 -guard_cooldown 2 -ns2d_nu 1 -quiet -output w2.nc \
  2> warn.txt || fail "a run with options of another case failed"
grep -q "option -guard_cooldown 2 was not used: it applies only with -surrogate" warn.txt &&
  grep -q "option -ns2d_nu 1 was not used: it applies only with -model ns2d" warn.txt ||
  { cat warn.txt; fail "the warnings do not say when the options apply"; }
# ... and -output_coarsen for ns2d stored at its own resolution does nothing, said once
"$GYRE" simulate -model ns2d -grid_nx 16 -ts_max_time 0.05 -output_coarsen block -quiet \
  -output w5.nc 2> warn.txt || fail "a run with -output_coarsen and no stride failed"
[ "$(grep -c "option -output_coarsen does nothing with -output_stride 1" warn.txt)" = 1 ] ||
  { cat warn.txt; fail "-output_coarsen without -output_stride not said once"; }
# a closure on the two-scale system would add a second coupling term to X
expect_error "a closure in two_scale" "-closure polynomial: -l96_mode two_scale computes the coupling from Y exactly" \
  "$GYRE" simulate -model l96 -closure polynomial -closure_coeffs 1,2 -ts_max_time 0.05 -quiet \
  -output x2.nc
[ ! -e x2.nc ] || fail "a refused closure run made its output"
"$GYRE" simulate -model l96 -closure polynomial -help > /dev/null 2>&1 ||
  fail "-model l96 -closure polynomial -help fails"
# -closure_coeffs with -guard_fallback polynomial but no -surrogate: still not applicable
"$GYRE" simulate -model l96 -ts_max_time 0.05 -closure_coeffs 1,2 -guard_fallback polynomial \
  -quiet -output w4.nc 2> warn.txt || fail "a run with an unused -closure_coeffs failed"
grep -q "option -closure_coeffs 1,2 was not used: it applies only with -closure polynomial or -surrogate" \
  warn.txt || { cat warn.txt; fail "-closure_coeffs without -surrogate was called misspelt"; }
# ... but where that case holds (-model ns2d given), a misspelt model option is misspelt
"$GYRE" simulate -model ns2d -grid_nx 16 -grid_ny 16 -ts_max_time 0 -ns2d_N 16 -quiet \
  -output w3.nc 2> warn.txt || fail "a run with a misspelt ns2d option failed"
grep -q "option -ns2d_N 16 was not used (misspelt" warn.txt ||
  { cat warn.txt; fail "a misspelt -ns2d_ option with -model ns2d was said to need -model ns2d"; }
# the same errors on 2 ranks: printed once
expect_error "unknown model on 2 ranks" "unknown model" mpirun_n 2 "$GYRE" simulate -model bogus -output x.nc
# option values that are not numbers, out of range or not finite: one line naming the option on
# 2 ranks (PETSc's own options too), no MPI_Abort; 99999999999 is not wrapped to 1215752191
expect_error "integer option not an integer" "-ensemble_size 1.5: not an integer" \
  mpirun_n 2 "$GYRE" simulate -model l96 -ensemble_size 1.5 -output x.nc -quiet
expect_error "integer option out of range" "-seed 99999999999: out of range" \
  mpirun_n 2 "$GYRE" simulate -model l96 -seed 99999999999 -output x.nc -quiet
expect_error "real option not finite" "-output_every nan: not a finite number" \
  "$GYRE" simulate -model l96 -output_every nan -output x.nc -quiet
expect_error "true/false option" "-quiet maybe: not a true/false value" \
  "$GYRE" simulate -model l96 -quiet maybe -output x.nc
expect_error "PETSc's own option" "-ts_max_steps abc: Input string abc has no integer value" \
  mpirun_n 2 "$GYRE" simulate -model l96 -ts_max_steps abc -output x.nc -quiet
! grep -q "MPI_ABORT" err.txt || fail "an option's bad value aborted the ranks"
expect_error "a time step that is not finite" "-ts_dt inf must be a finite positive number" \
  "$GYRE" simulate -model l96 -ts_dt inf -output x.nc -quiet
expect_error "more steps than a run counts" "-ts_max_time 1e+308 is inf time steps of dt = 0.001" \
  "$GYRE" simulate -model l96 -ts_max_time 1e308 -output x.nc -quiet
expect_error "more unknowns than PETSc's indices" "-l96_K 100000000 and -l96_J 100: 1.01e+10 unknowns" \
  mpirun_n 2 "$GYRE" simulate -model l96 -l96_K 100000000 -l96_J 100 -output x.nc -quiet
expect_error "an empty coefficient" "-closure_coeffs 1,,2: an empty entry in the list" \
  "$GYRE" simulate -model l96 -l96_mode one_scale -closure polynomial -closure_coeffs 1,,2 \
  -output x.nc -quiet
expect_error "a coefficient not finite" "-closure_coeffs 1,nan: 'nan' is not a finite number" \
  mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -closure polynomial \
  -closure_coeffs 1,nan -output x.nc -quiet
# a choice not in its list, a type no one registered: also every rank's error, printed once
for bad in "-ts_type bogus:-ts_type bogus: Unknown TS type: bogus" \
  "-ts_adapt_type bogus:-ts_adapt_type bogus: Unknown TSAdapt type" \
  "-ts_rk_type bogus:Unknown option bogus for -ts_rk_type" \
  "-ts_type arkimex -ts_arkimex_type bogus:Unknown option bogus for -ts_arkimex_type"; do
  read -r -a opt <<< "${bad%%:*}"
  expect_error "$opt on 2 ranks" "${bad#*:}" \
    mpirun_n 2 "$GYRE" simulate -model l96 "${opt[@]}" -ts_max_time 0.05 -output x.nc -quiet
  ! grep -q "MPI_ABORT" err.txt || fail "$opt aborted the ranks"
done
expect_error "-surrogate without a file" "-surrogate needs a model file" \
  mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -surrogate -output x.nc -quiet
# the output is never one of the run's own inputs, -output_overwrite or not
cp c.nc init.nc
initsum=$(sha256sum init.nc)
expect_error "output is the initial file" "-output './init.nc' is the -initial_file 'init.nc'" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -initial_file init.nc -initial_time 0 \
  -output ./init.nc -output_overwrite
echo "$initsum" | sha256sum -c --quiet || fail "init.nc was modified"
# the output and the checkpoint are one file (neither exists yet): refused
expect_error "output is the checkpoint" "-output 'oc.nc' is the -checkpoint './oc.nc'" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output oc.nc -checkpoint ./oc.nc
[ ! -e oc.nc ] || fail "a refused run left oc.nc"
# ... also where -output is a link to the checkpoint: the message names the link as given
ln -sf lc.ckpt lc_link.nc
expect_error "output links to the checkpoint" \
  "-output 'lc_link.nc' (a link to 'lc.ckpt') is the -checkpoint 'lc.ckpt': choose another" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output lc_link.nc -checkpoint lc.ckpt
[ ! -e lc.ckpt ] || fail "a refused run left lc.ckpt"
csum=$(sha256sum c.ckpt)
expect_error "output is the restart file" "-output 'c.ckpt' is the -restart 'c.ckpt'" \
  "$GYRE" simulate -model l96 -ts_max_time 0.1 -quiet -output c.ckpt -restart c.ckpt \
  -output_overwrite
echo "$csum" | sha256sum -c --quiet || fail "c.ckpt was modified"
# a fresh run never replaces an existing file given as -checkpoint, unless -output_overwrite
expect_error "a fresh run over an existing checkpoint" "-checkpoint 'init.nc' exists and this run starts afresh" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output fresh.nc -checkpoint init.nc
echo "$initsum" | sha256sum -c --quiet || fail "init.nc was replaced by a checkpoint"
# ... nor the run's initial file, even with -output_overwrite
expect_error "the checkpoint is the initial file" "-checkpoint 'init.nc' is the -initial_file 'init.nc'" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -initial_file init.nc -initial_time 0 \
  -output fresh.nc -checkpoint init.nc -output_overwrite
echo "$initsum" | sha256sum -c --quiet || fail "init.nc was replaced by a checkpoint"
# a checkpoint that cannot be written fails before the output is replaced
cp good.nc victim.nc
vsum=$(sha256sum victim.nc)
expect_error "an unwritable checkpoint" "cannot create output file 'nodir/x.ckpt'" \
  mpirun_n 2 "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output victim.nc \
  -output_overwrite -checkpoint nodir/x.ckpt -checkpoint_every 0.01
# an initial state beyond the model's bound is refused before the output is replaced
cp init.nc huge.nc
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("huge.nc", "a")
d.variables["X"][0, 3] = 1e300
d.close()
PY
expect_error "an initial state beyond the bound" "the initial state of member 0: variable X is NaN, Inf or beyond the model's bound 1e+06 (-initial_file 'huge.nc')" \
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -initial_file huge.nc -initial_time 0 \
  -output victim.nc -output_overwrite
echo "$vsum" | sha256sum -c --quiet || fail "victim.nc was replaced by a failing run"
# ns2d: the bound is checked before the stable step is taken from the state (a vorticity of
# 1e30 gave "-output_every must be at least one time step (dt = 2e-30)")
"$GYRE" simulate -model ns2d -grid_nx 16 -grid_ny 16 -ts_max_time 0 -quiet -output ns.nc
"$PYTHON" - <<'PY'
import netCDF4
d = netCDF4.Dataset("ns.nc", "a")
d.variables["vorticity"][0, 2, 3] = 1e30
d.close()
PY
expect_error "an ns2d initial state beyond the bound" "the initial state of member 0: variable vorticity is NaN, Inf or beyond the model's bound 10000 (-initial_file 'ns.nc')" \
  "$GYRE" simulate -model ns2d -grid_nx 16 -grid_ny 16 -ts_max_time 1 -quiet -initial_file ns.nc \
  -initial_time 0 -output ns2.nc
[ ! -e ns2.nc ] || fail "a refused ns2d run made its output"
# options files: a directory, a binary file, a line that is no option, and one as the output
printf -- '-model l96\nts_max_time 0.05\n' > bad.opts
printf -- '-model l96\n# a comment\n\n-ts_max_time 0.05\n' > ok.opts
expect_error "an options file that is a directory" "options file '.' is a directory" \
  "$GYRE" simulate -options_file . -output x.nc
expect_error "a binary options file" "options file 'good.nc' is not text" \
  mpirun_n 2 "$GYRE" simulate -options_file good.nc -output x.nc
printf -- '-model l96\0junk\n' > nul.opts
expect_error "an options file with a NUL byte" "options file 'nul.opts' is not text (byte 0x00 on line 1)" \
  "$GYRE" simulate -options_file nul.opts -output x.nc
expect_error "an options file line that is no option" "options file 'bad.opts' line 2: 'ts_max_time 0.05' is not an option" \
  "$GYRE" simulate -options_file bad.opts -output x.nc
expect_error "the output is the options file" "-output 'ok.opts' is the options file 'ok.opts'" \
  "$GYRE" simulate -options_file ok.opts -output ok.opts -output_overwrite
grep -q "^-model l96" ok.opts || fail "ok.opts was replaced"
# inconsistent or meaningless output and start options
expect_error "both output intervals" "-output_every and -output_every_steps both given" \
  "$GYRE" simulate -model l96 -output_every 0.01 -output_every_steps 2 -output x.nc -quiet
expect_error "negative output interval" "-output_every -0.01 must be > 0" \
  "$GYRE" simulate -model l96 -output_every -0.01 -output x.nc -quiet
expect_error "negative checkpoint interval" "-checkpoint_every -1. must be >= 0" \
  "$GYRE" simulate -model l96 -checkpoint x.ckpt -checkpoint_every -1 -output x.nc -quiet
expect_error "initial time without a file" "-initial_time 0.01 needs -initial_file" \
  "$GYRE" simulate -model l96 -initial_time 0.01 -output x.nc -quiet
expect_error "restart and initial file" "a restart continues from its checkpoint" \
  "$GYRE" simulate -model l96 -restart c.ckpt -initial_file c.nc -output x.nc -quiet
# an ensemble that cannot fit in memory: one error before anything is allocated
expect_error "an impossible ensemble" "-ensemble_size 100000000 needs about" \
  mpirun_n 2 "$GYRE" simulate -model l96 -ensemble_size 100000000 -output x.nc -quiet
# the checkpoint lock's wait: not a number of seconds from 0 to 86400 (nothing made, nothing
# locked)
for w in abc -1 1e9; do
  GYRE_CHECKPOINT_LOCK_WAIT=$w expect_error "GYRE_CHECKPOINT_LOCK_WAIT=$w" \
    "GYRE_CHECKPOINT_LOCK_WAIT=$w: expected seconds from 0 to 86400" \
    mpirun_n 2 "$GYRE" simulate -model l96 -ts_max_time 1 -output x.nc -checkpoint lw.ckpt -quiet
done
[ ! -e lw.ckpt ] && [ ! -e lw.ckpt.lock ] || fail "a refused wait made the checkpoint or its lock"
echo "$sum" | sha256sum -c --quiet || fail "good.nc was modified"
[ ! -e x.nc ] && [ ! -e s.nc ] && [ ! -e c2.nc ] && [ ! -e im.nc ] || fail "a failed run left an output file"
echo "simulate_badinput: ok"
