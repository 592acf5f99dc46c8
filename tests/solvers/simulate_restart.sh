#!/usr/bin/env bash
# Restart equals an uninterrupted run: l96 bitwise on the same rank count (-restart FILE and
# -restart auto), ns2d to 1e-12.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
common="-model l96 -seed 7 -quiet"
mpirun_n 2 "$GYRE" simulate $common -ts_max_time 1 -output full.nc
# a first leg to t = 0.4, then a restart from its checkpoint to the absolute t = 1
mpirun_n 2 "$GYRE" simulate $common -ts_max_time 0.4 -output part.nc -checkpoint part.ckpt
mpirun_n 2 "$GYRE" simulate $common -ts_max_time 1 -output part.nc -restart part.ckpt -checkpoint part.ckpt
ncdiff full.nc part.nc --vars time,X,Y,coupling --rtol 0 || fail "-restart FILE differs"
# -restart auto: first start (no checkpoint yet), then a resumed leg; records written after
# the checkpoint (here: output every step past t=0.3 of a leg checkpointed at 0.3) are dropped
mpirun_n 2 "$GYRE" simulate $common -ts_max_time 0.3 -output auto.nc -checkpoint auto.ckpt -restart auto
mpirun_n 2 "$GYRE" simulate $common -ts_max_time 1 -output auto.nc -checkpoint auto.ckpt -restart auto
ncdiff full.nc auto.nc --vars time,X,Y,coupling --rtol 0 || fail "-restart auto differs"
# a requeued job's -restart auto whose checkpoint is unreadable, or gone while the output
# exists, stops with the file named (never a silent fresh start over the output)
head -c 2000 auto.ckpt > bad.ckpt
expect_error "unreadable checkpoint" "cannot resume from checkpoint 'bad.ckpt'" \
  "$GYRE" simulate $common -ts_max_time 1 -output auto.nc -checkpoint bad.ckpt -restart auto
expect_error "missing checkpoint" "output 'auto.nc' exists but its checkpoint 'gone.ckpt' does not" \
  "$GYRE" simulate $common -ts_max_time 1 -output auto.nc -checkpoint gone.ckpt -restart auto
# a checkpoint from another run is refused
if mpirun_n 1 "$GYRE" simulate -model l96 -l96_F 8 -seed 7 -quiet -ts_max_time 1 -output other.nc \
     -restart part.ckpt 2> err.txt; then fail "foreign checkpoint accepted"; fi
grep -q "belongs to another run" err.txt || { cat err.txt; fail "no clear message for a foreign checkpoint"; }
# ns2d
ns="-model ns2d -grid_nx 32 -grid_ny 32 -ts_dt 0.01 -output_every 0.1 -output_precision double -seed 2 -quiet"
mpirun_n 2 "$GYRE" simulate $ns -ts_max_time 0.6 -output nsfull.nc
mpirun_n 2 "$GYRE" simulate $ns -ts_max_time 0.3 -output nspart.nc -checkpoint ns.ckpt
mpirun_n 2 "$GYRE" simulate $ns -ts_max_time 0.6 -output nspart.nc -checkpoint ns.ckpt -restart auto
ncdiff nsfull.nc nspart.nc --vars time,vorticity --rtol 1e-12 || fail "ns2d restart differs"
# an ensemble (members advance in lock-step): extend a 3-member run from t = 0.3 to 0.5
ens="-model l96 -ensemble_size 3 -seed 1 -quiet"
mpirun_n 2 "$GYRE" simulate $ens -ts_max_time 0.5 -output efull.nc
mpirun_n 2 "$GYRE" simulate $ens -ts_max_time 0.3 -output epart.nc -checkpoint e.ckpt
mpirun_n 2 "$GYRE" simulate $ens -ts_max_time 0.5 -output epart.nc -checkpoint e.ckpt -restart auto
ncdiff efull.nc epart.nc --vars time,X,Y,coupling --rtol 0 || fail "ensemble restart differs"
echo "simulate_restart: ok"
