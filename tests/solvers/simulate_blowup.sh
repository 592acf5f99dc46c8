#!/usr/bin/env bash
# Blow-up: a NaN/Inf or an exceeded bound stops the run with an error naming the step and the
# variable, keeps the output written so far and the last good checkpoint, exits non-zero.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 \
  -ts_max_time 5 -output_every 0.005 -checkpoint_every 0.005 -checkpoint b.ckpt -quiet \
  -output b.nc 2> err.txt
status=$?
set -e
cat err.txt
[ $status -ne 0 ] || fail "blow-up exited 0"
grep -q "blow-up at step [0-9]* (t = .*variable X" err.txt || fail "message does not name step and variable"
# the note on the files is in the error, once (a second line after it had said the opposite)
[ "$(grep -c "^gyre:" err.txt)" = 1 ] || fail "expected the error line alone"
"$PYTHON" - <<'PY' || fail "output or checkpoint unusable after blow-up"
import netCDF4, numpy as np
d = netCDF4.Dataset("b.nc")
x = d.variables["X"][:]
print("records kept:", x.shape[0])
assert x.shape[0] >= 1 and np.all(np.isfinite(x))
c = netCDF4.Dataset("b.ckpt")
assert np.all(np.isfinite(c.variables["state"][:]))
print("checkpoint at t =", c.getncattr("gyre_checkpoint_time"))
PY

# With -output_overwrite, a run that fails after its start does not destroy the file it was
# to replace: that file is put back, the failed run's records are kept as PATH.failed.
mpirun_n 1 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -quiet -output good.nc
cksum good.nc > good.sum
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 \
  -ts_max_time 5 -output_every 0.005 -quiet -output good.nc -output_overwrite 2> err2.txt
status=$?
set -e
cat err2.txt
[ $status -ne 0 ] || fail "blow-up with -output_overwrite exited 0"
[ "$(grep -c "^gyre:" err2.txt)" = 1 ] || fail "expected the error line alone"
grep -q "blow-up at step .*output 'good.nc' is back as it was before this run.*records are in 'good.nc.failed'" \
  err2.txt || fail "message does not say the earlier output is back"
cksum good.nc | cmp -s - good.sum || fail "the earlier output was changed"
ls good.nc.replaced* 2>/dev/null && fail "the moved-aside file was left behind"
"$PYTHON" - <<'PY' || fail "the failed run's records are not in good.nc.failed"
import netCDF4, numpy as np
d = netCDF4.Dataset("good.nc.failed")
assert d.getncattr("end_time") == "interrupted" and d.variables["X"].shape[0] >= 1
assert np.all(np.isfinite(d.variables["X"][:]))
PY
# a run that succeeds replaces the file and leaves nothing beside it
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.2 -quiet -output good.nc \
  -output_overwrite
cksum good.nc | cmp -s - good.sum && fail "-output_overwrite did not replace the output"
ls good.nc.replaced* 2>/dev/null && fail "the replaced file was left behind"

# ... with its checkpoint: the earlier checkpoint comes back too, the failed run's goes with its
# records (a -restart auto must not continue the failed run into the file put back)
mpirun_n 1 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -quiet -output g2.nc \
  -checkpoint g2.ckpt
cksum g2.nc g2.ckpt > g2.sum
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 \
  -ts_max_time 5 -output_every 0.005 -checkpoint g2.ckpt -checkpoint_every 0.005 -quiet \
  -output g2.nc -output_overwrite 2> err3.txt
set -e
cat err3.txt
grep -q "records are in 'g2.nc.failed', its last good checkpoint in 'g2.ckpt.failed'" err3.txt ||
  fail "the message does not name the failed run's checkpoint"
cksum g2.nc g2.ckpt | cmp -s - g2.sum || fail "the earlier output or checkpoint was not put back"
[ -e g2.ckpt.failed ] && [ -e g2.nc.failed ] || fail "the failed run's files are missing"
grep -q "replacing an earlier" err3.txt && fail "an earlier failed run's files named where none were"
# a second failure replaces the first one's files, and says so
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 \
  -ts_max_time 5 -output_every 0.005 -checkpoint g2.ckpt -checkpoint_every 0.005 -quiet \
  -output g2.nc -output_overwrite 2> err5.txt
set -e
grep -q "in 'g2.ckpt.failed' (replacing an earlier failed run's)" err5.txt ||
  fail "replacing an earlier failed run's files is not said"
cksum g2.nc g2.ckpt | cmp -s - g2.sum || fail "the earlier output or checkpoint was not put back"
ls g2.*.replaced 2>/dev/null && fail "a moved-aside file was left behind"

# an error on one rank alone ends the job (MPI_Abort): that rank puts the file being replaced
# back first and says so (it was left as FILE.replaced, unannounced)
mpirun_n 1 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -quiet -output h.nc
cksum h.nc > h.sum
set +e
GYRE_TEST_FAIL_RANK_STEP=1:3 mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale \
  -ts_max_time 0.2 -output_every 0.005 -quiet -output h.nc -output_overwrite 2> err6.txt
status=$?
set -e
cat err6.txt
[ $status -ne 0 ] || fail "an error on one rank exited 0"
grep -q "an error on this rank alone at step 3" err6.txt || fail "the one-rank error is not shown"
grep -q "output 'h.nc' is back as it was before this run.*unclosed records are in 'h.nc.failed'" \
  err6.txt || fail "the one-rank error does not say the earlier output is back"
cksum h.nc | cmp -s - h.sum || fail "the earlier output was not put back after a one-rank error"
[ -e h.nc.failed ] && [ ! -e h.nc.replaced ] || fail "the one-rank error left the files wrong"
# every rank failing alone at once: one of them puts the files back, the others leave them
rm -f h.nc.failed
set +e
GYRE_TEST_FAIL_RANK_STEP='*:3' mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale \
  -ts_max_time 0.2 -output_every 0.005 -quiet -output h.nc -output_overwrite 2> err7.txt
set -e
cat err7.txt
cksum h.nc | cmp -s - h.sum || fail "the earlier output was lost when every rank failed alone"
[ -e h.nc.failed ] && [ ! -e h.nc.replaced ] && [ ! -e h.nc.replaced.putback ] ||
  fail "every rank failing alone left the files wrong"
[ "$(grep -c "is back as it was" err7.txt)" = 1 ] || fail "expected one rank to say it put back"
# a put-back lock left by a run killed while it put the files back does not stop a later run's
rm -f h.nc.failed
touch h.nc.replaced.putback
set +e
GYRE_TEST_FAIL_RANK_STEP=1:3 mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale \
  -ts_max_time 0.2 -output_every 0.005 -quiet -output h.nc -output_overwrite 2> err11.txt
set -e
grep -q "output 'h.nc' is back as it was before this run" err11.txt ||
  fail "a stale put-back lock stopped the put-back"
cksum h.nc | cmp -s - h.sum || fail "the earlier output was not put back past a stale lock"
[ ! -e h.nc.replaced ] && [ ! -e h.nc.replaced.putback ] || fail "a stale lock left files behind"
# a checkpoint the failed run wrote, with none before it, goes with the run's records (a
# -restart auto must not continue the failed run into the output put back)
set +e
GYRE_TEST_FAIL_RANK_STEP=1:15 mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale \
  -ts_max_time 0.2 -output_every 0.005 -checkpoint hc.ckpt -checkpoint_every 0.025 -quiet \
  -output h.nc -output_overwrite 2> err8.txt
set -e
grep -q "its last good checkpoint in 'hc.ckpt.failed' (replacing an earlier failed run's)" err8.txt ||
  fail "the one-rank error does not name the run's checkpoint"
[ ! -e hc.ckpt ] && [ -e hc.ckpt.failed ] || fail "the failed run's checkpoint was left in place"
cksum h.nc | cmp -s - h.sum || fail "the earlier output was not put back (checkpoint case)"

# a close that fails part-way (the records written, the end attributes not: a quota reached at
# the last flush) keeps the run's records in FILE.failed; they were deleted
set +e
GYRE_TEST_FAIL_CLOSE=1 mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale \
  -ts_max_time 0.2 -output_every 0.005 -quiet -output h.nc -output_overwrite 2> err9.txt
status=$?
set -e
cat err9.txt
[ $status -ne 0 ] || fail "a failed close exited 0"
grep -q "output 'h.nc' is back as it was before this run.* records are in 'h.nc.failed'" err9.txt ||
  fail "a failed close does not say where the run's records are"
cksum h.nc | cmp -s - h.sum || fail "the earlier output was not put back after a failed close"
[ "$(ncdump -v time h.nc.failed | grep -o '0\.2 ;')" = "0.2 ;" ] ||
  fail "the failed close's records are not all in h.nc.failed"
# a new output keeps them in place, and says so
set +e
GYRE_TEST_FAIL_CLOSE=1 mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale \
  -ts_max_time 0.2 -output_every 0.005 -quiet -output hn.nc 2> err10.txt
set -e
grep -q "output 'hn.nc' keeps the records written so far" err10.txt ||
  fail "a failed close of a new output does not say it keeps the records"
[ "$(ncdump -v time hn.nc | grep -o '0\.2 ;')" = "0.2 ;" ] || fail "the new output lost records"

# a replacement a killed run began (its FILE.replaced left behind) is completed by the leg that
# continues it, which then removes the file replaced
mpirun_n 1 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -quiet -output k.nc \
  -checkpoint k.ckpt -output_overwrite
cp good.nc k.nc.replaced
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.2 -quiet -output k.nc \
  -checkpoint k.ckpt -output_overwrite -restart auto || fail "the continued leg failed"
[ ! -e k.nc.replaced ] || fail "the continued leg left the file it replaced"
# an -output that is a symbolic link (to a scratch file system, say) stays a link: a run that
# fails puts the file it points at back, one that succeeds replaces that file
mkdir -p scratch
mpirun_n 1 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.1 -quiet \
  -output scratch/l.nc
ln -sf scratch/l.nc link.nc
cksum scratch/l.nc > l.sum
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -l96_F 1e6 -ts_dt 0.005 \
  -ts_max_time 5 -output_every 0.005 -quiet -output link.nc -output_overwrite 2> err4.txt
set -e
cat err4.txt
grep -q "output 'scratch/l.nc' is back as it was" err4.txt || fail "the linked output is not back"
[ -L link.nc ] || fail "a failed run replaced the link -output with a file"
cksum scratch/l.nc | cmp -s - l.sum || fail "the file the link points at was changed"
[ -e scratch/l.nc.failed ] || fail "the failed run's records are not beside the link's target"
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.2 -quiet -output link.nc \
  -output_overwrite
[ -L link.nc ] || fail "-output_overwrite replaced the link -output with a file"
cksum scratch/l.nc | cmp -s - l.sum && fail "-output_overwrite did not replace the link's target"
ls scratch/l.nc.replaced 2>/dev/null && fail "the replaced file was left behind"
"$PYTHON" -c "import netCDF4; assert abs(netCDF4.Dataset('link.nc')['time'][-1] - 0.2) < 1e-9" ||
  fail "the link does not read as the new output"
echo "simulate_blowup: ok"
