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
# ended
long="-model l96 -seed 11 -ts_max_time 100000 -output_every 0.05" # (the waiter's log: no -quiet)
pid="" waiter=""
# (a failed check leaves no long run; common.sh's trap removes the work directory)
trap 'kill -TERM $pid $waiter 2> /dev/null || true; rm -rf "$work"' EXIT
touch marker
mpiexec -n 2 --oversubscribe "$GYRE" simulate $long -quiet -output lock.nc -checkpoint lock.ckpt \
  -restart auto &
pid=$!
for _ in $(seq 600); do
  [ lock.nc -nt marker ] && break
  sleep 0.1
done
GYRE_CHECKPOINT_LOCK_WAIT=1 expect_error "a second run on a checkpoint in use" \
  "still holds lock.ckpt.lock after 1 s: two runs must not write one checkpoint" \
  mpirun_n 2 "$GYRE" simulate $long -quiet -output other.nc -checkpoint lock.ckpt -restart auto
[ ! -e other.nc ] || fail "the refused run made its output"
GYRE_CHECKPOINT_LOCK_WAIT=120 mpiexec -n 2 --oversubscribe "$GYRE" simulate $long \
  -output lock.nc -checkpoint lock.ckpt -restart auto > waited.log 2>&1 &
waiter=$!
for _ in $(seq 100); do # (until it waits)
  grep -q "waiting up to 120 s" waited.log && break
  sleep 0.1
done
signal_ranks $pid TERM
for _ in $(seq 600); do # (until it has resumed)
  grep -q "resuming at step" waited.log && break
  sleep 0.1
done
grep -q "is in use by another run (lock.ckpt.lock held): waiting up to 120 s" waited.log ||
  { cat waited.log; fail "the waiting run did not say it waited"; }
grep -q "resuming at step" waited.log || { cat waited.log; fail "the waiting run did not resume"; }
signal_ranks $waiter TERM
echo "simulate_signal: ok"
