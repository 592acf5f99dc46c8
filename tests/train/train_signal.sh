#!/usr/bin/env bash
# Preemption of gyre train: SIGUSR1, then SIGTERM, sent to the ranks mid-run (as Slurm does
# before a time limit): the run writes its checkpoint at the current step and exits 75 (not 0);
# the same command line (-train_resume auto) continues, mid-epoch, and the finished run equals
# the uninterrupted one bitwise (weights, Adam moments, learning curve).
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
mpirun_n 2 "$GYRE" simulate -model l96 -l96_mode two_scale -ts_max_time 4 -ensemble_size 3 \
  -seed 5 -output d.nc -quiet
args=(-train_data d.nc -train_inputs X -train_targets coupling -net_width 48 -train_epochs 20
      -train_batch 16 -train_lr 1e-3 -quiet)
mpirun_n 2 "$GYRE" train "${args[@]}" -train_out full.nc
interrupt() {
  local sig=$1
  touch marker
  mpiexec -n 2 --oversubscribe "$GYRE" train "${args[@]}" -train_out run.nc -train_resume auto &
  local pid=$!
  # signal once this leg has written a checkpoint (its handlers are surely installed)
  for _ in $(seq 600); do
    [ run.ckpt.nc -nt marker ] && break
    sleep 0.1
  done
  signal_ranks $pid $sig
  [ -s run.ckpt.nc ] || fail "no checkpoint after SIG$sig"
  ncdump -h run.ckpt.nc > h.txt
  grep "partial_epoch_batches" h.txt
}
interrupt USR1
interrupt TERM
mpirun_n 2 "$GYRE" train "${args[@]}" -train_out run.nc -train_resume auto
ncdiff full.ckpt.nc run.ckpt.nc || fail "the resumed run differs from the uninterrupted one"
ncdiff full.nc run.nc || fail "the resumed best model differs"
# one rank, signalled at random moments mid-epoch while the prefetch thread reads the next
# batch: exit 75 every time (the checkpoint was written beside that read, and crashed 5 runs
# in 8, until the read was waited for)
for i in 1 2 3 4; do
  rm -f p.nc p.ckpt.nc
  touch marker
  "$GYRE" train "${args[@]}" -train_out p.nc -train_resume auto > p.log 2>&1 &
  pid=$!
  for _ in $(seq 600); do
    [ p.ckpt.nc -nt marker ] && break
    sleep 0.1
  done
  sleep "0.$((RANDOM % 5))"
  kill -USR1 $pid || fail "run $i finished before the signal"
  status=0
  wait $pid || status=$?
  [ $status -eq 75 ] || { cat p.log; fail "run $i: exit status $status after SIGUSR1, expected 75"; }
done
# -train_overwrite stopped by a signal: the model file it replaces stays aside until the training
# ends (a failure would put it back); the resumed run completes the replacement
cp full.nc old.nc
osum=$(sha256sum < old.nc)
touch marker
"$GYRE" train "${args[@]}" -train_out old.nc -train_overwrite -train_resume auto > o.log 2>&1 &
pid=$!
for _ in $(seq 600); do
  [ old.ckpt.nc -nt marker ] && break
  sleep 0.1
done
kill -USR1 $pid || fail "the overwriting run finished before the signal"
status=0
wait $pid || status=$?
[ $status -eq 75 ] || { cat o.log; fail "exit status $status after SIGUSR1, expected 75"; }
[ "$(sha256sum < old.nc.replaced)" = "$osum" ] || fail "the replaced model is not kept aside"
"$GYRE" train "${args[@]}" -train_out old.nc -train_overwrite -train_resume auto
[ ! -e old.nc.replaced ] || fail "the replaced model still aside after the training ended"
"$GYRE" info old.nc > /dev/null || fail "old.nc is not a model file"
# one training at a time on a checkpoint: while a run trains (long: it is signalled), a second
# on the same checkpoint waits for its lock (q.ckpt.nc.lock) and, with
# GYRE_CHECKPOINT_LOCK_WAIT=1, stops with one error naming the holder (an EXIT trap leaves no
# long run behind; it removes the work directory too, as common.sh's)
pid=""
trap 'kill -TERM $pid 2> /dev/null || true; rm -rf "$work"' EXIT
"$GYRE" train "${args[@]}" -train_epochs 100000 -train_out q.nc -train_resume auto > q.log 2>&1 &
pid=$!
for _ in $(seq 1200); do
  [ -s q.ckpt.nc.lock ] && break
  sleep 0.1
done
[ -s q.ckpt.nc.lock ] || { cat q.log; fail "the long training holds no lock"; }
GYRE_CHECKPOINT_LOCK_WAIT=1 expect_error "a second training on a checkpoint in use" \
  "still holds q.ckpt.nc.lock after 1 s: two runs must not write one checkpoint" \
  "$GYRE" train "${args[@]}" -train_out q.nc -train_resume auto
for _ in $(seq 1200); do # (its handlers are installed after the lock: signal once it checkpoints)
  [ -s q.ckpt.nc ] && break
  sleep 0.1
done
kill -USR1 $pid
status=0
wait $pid || status=$?
pid=""
[ $status -eq 75 ] || { cat q.log; fail "the long training: exit status $status, expected 75"; }
# a training that ends (here checkpointed by the signal; above, finished) leaves no lock file
[ ! -e q.ckpt.nc.lock ] && [ ! -e old.ckpt.nc.lock ] ||
  { ls; fail "a training that ended left its checkpoint's lock file"; }
echo "train_signal: passed"
