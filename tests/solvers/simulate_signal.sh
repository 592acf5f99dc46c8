#!/usr/bin/env bash
# SIGTERM, then SIGUSR1, mid-run: a checkpoint is written, the exit status is 75 (not 0), and -restart auto
# with the same command line finishes with the uninterrupted result (bitwise for l96).
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
echo "simulate_signal: ok"
