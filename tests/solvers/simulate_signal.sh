#!/usr/bin/env bash
# SIGTERM, then SIGUSR1, mid-run: a checkpoint is written, the exit status is 75 (not 0), and -restart auto
# with the same command line finishes with the uninterrupted result (bitwise for l96); a second
# run on a checkpoint in use waits for its lock, or stops naming the holder.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
args="-model l96 -seed 11 -quiet -ts_max_time 60 -output_every 0.05"
mpirun_n 2 "$GYRE" simulate $args -output full.nc
# interrupt (signal) a leg started or resumed with the same command line; the leg must exit 75
interrupt() {
  local sig=$1
  touch marker
  mpiexec -n 2 --oversubscribe "$GYRE" simulate $args -output run.nc -checkpoint run.ckpt -restart auto &
  local pid=$!
  # signal once this leg writes output (the handlers are installed at start-up)
  for _ in $(seq 600); do
    [ run.nc -nt marker ] && break
    sleep 0.1
  done
  signal_ranks $pid $sig
  [ -s run.ckpt ] || fail "no checkpoint after SIG$sig"
  "$PYTHON" - <<'PY' || fail "checkpoint not usable"
import netCDF4
d = netCDF4.Dataset("run.ckpt")
t = d.getncattr("gyre_checkpoint_time")
print(f"checkpoint at t = {t}")
assert 0 < t < 60, t
PY
}
interrupt TERM
interrupt USR1
mpirun_n 2 "$GYRE" simulate $args -output run.nc -checkpoint run.ckpt -restart auto
ncdiff full.nc run.nc --vars time,X,Y,coupling --rtol 0 || fail "resumed run differs"
# one run at a time on a checkpoint: while a leg runs (long: it is signalled), a second on the
# same checkpoint waits for its lock (lock.ckpt.lock) and, with GYRE_CHECKPOINT_LOCK_WAIT=1,
# stops with one error naming the holder, making nothing; another waiting long enough (as a
# requeued job whose predecessor is still finishing) resumes once the leg has checkpointed and
# ended. (Each wait fails the test at its limit; a failed check leaves no long run behind:
# the EXIT trap, which also removes the work directory as common.sh's does.)
long=(-model l96 -seed 11 -ts_max_time 100000 -output_every 10) # (the waiter's log: no -quiet)
pid="" waiter=""
trap 'kill -TERM $pid $waiter 2> /dev/null || true; rm -rf "$work"' EXIT
# wait_for SECONDS WHAT COMMAND...: polls COMMAND every 0.1 s, fails at the limit
wait_for() {
  local n=$(($1 * 10)) what=$2
  shift 2
  for _ in $(seq "$n"); do
    "$@" && return 0
    sleep 0.1
  done
  fail "not $what after $1 s"
}
mpiexec -n 2 --oversubscribe "$GYRE" simulate "${long[@]}" -quiet -output lock.nc \
  -checkpoint lock.ckpt -restart auto &
pid=$!
wait_for 120 "holding lock.ckpt.lock (the leg under way)" test -s lock.ckpt.lock
GYRE_CHECKPOINT_LOCK_WAIT=1 expect_error "a second run on a checkpoint in use" \
  "still holds lock.ckpt.lock after 1 s: two runs must not write one checkpoint" \
  mpirun_n 2 "$GYRE" simulate -model l96 -seed 11 -ts_max_time 1 -quiet -output other.nc \
  -checkpoint lock.ckpt -restart auto
[ ! -e other.nc ] || fail "the refused run made its output"
# a signal while it waits (the job cancelled meanwhile): one error, exit 1, nothing made
GYRE_CHECKPOINT_LOCK_WAIT=300 "$GYRE" simulate "${long[@]}" -output sig.nc -checkpoint lock.ckpt \
  -restart auto > sig.log 2>&1 &
waiter=$!
wait_for 120 "waiting (the signalled run)" grep -q "waiting up to 300 s" sig.log
kill -TERM $waiter
status=0
wait $waiter || status=$?
waiter=""
[ $status -eq 1 ] || { cat sig.log; fail "signalled while waiting: exit $status, expected 1"; }
[ "$(grep -c '^gyre: error:' sig.log)" -eq 1 ] &&
  grep -q "signal 15 while waiting for lock.ckpt.lock" sig.log ||
  { cat sig.log; fail "signalled while waiting: not one error naming the signal and the lock"; }
[ ! -e sig.nc ] || fail "the run signalled while waiting made its output"
GYRE_CHECKPOINT_LOCK_WAIT=300 mpiexec -n 2 --oversubscribe "$GYRE" simulate "${long[@]}" \
  -output lock.nc -checkpoint lock.ckpt -restart auto > waited.log 2>&1 &
waiter=$!
wait_for 120 "waiting (the second run)" grep -q "waiting up to 300 s" waited.log
signal_ranks $pid TERM
pid=""
wait_for 300 "resumed (the waiting run)" grep -q "resuming at step" waited.log
grep -q "is in use by another run (lock.ckpt.lock held): waiting up to 300 s" waited.log ||
  { cat waited.log; fail "the waiting run did not say it waited"; }
signal_ranks $waiter TERM
wait $waiter || true
waiter=""
# the run that ended removed its lock file; the first removed its own while the second waited
# on it (the second then locked the file at the path afresh and resumed, above)
[ ! -e lock.ckpt.lock ] && [ ! -e run.ckpt.lock ] ||
  { ls; fail "a run that ended left its checkpoint's lock file"; }
# a log piped into a reader that stops early (| head -1): the run goes on to its end (SIGPIPE
# killed it, its output left 'running' with no records)
set +e
mpirun_n 2 "$GYRE" simulate -model l96 -ts_max_time 2 -output piped.nc 2>&1 | head -1
status=${PIPESTATUS[0]}
set -e
[ "$status" = 0 ] || fail "a run whose log reader stopped exited $status"
"$PYTHON" -c "
import netCDF4
d = netCDF4.Dataset('piped.nc')
assert d.getncattr('end_time') != 'running' and len(d['time']) == 401, (d.getncattr('end_time'), len(d['time']))
" || fail "a run whose log reader stopped did not complete its output"
echo "simulate_signal: ok"
