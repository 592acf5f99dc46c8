#!/usr/bin/env bash
# The training benchmarks' bad input: bench/train_gpu.sh's usage, an unknown mode, an unknown
# ONLY= and a BIN_DIR without the benchmark are refused at once (exit 2, or 1 for the missing
# binary) with one line naming what was wrong, before anything is probed or run; bench_train_cpu
# refuses an unknown -arch, too small a -size or -batch (exit 2) and an unknown -precision (exit
# 3: the backend's own error).
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
bin=$(dirname "$GYRE")
gpu=$GYRE_SOURCE_DIR/bench/train_gpu.sh

refused() { # what status pattern command...: exits with status, one stderr line with pattern
  local what=$1 want=$2 pattern=$3 status
  shift 3
  set +e
  "$@" > out.txt 2> err.txt
  status=$?
  set -e
  [ "$status" -eq "$want" ] || { cat err.txt; fail "$what: exit status $status, not $want"; }
  [ "$(grep -c . err.txt)" -eq 1 ] || { cat err.txt; fail "$what: not one line on stderr"; }
  grep -q -- "$pattern" err.txt || { cat err.txt; fail "$what: message lacks '$pattern'"; }
  echo "$what: $(cat err.txt)"
}
refused "train_gpu.sh without BIN_DIR" 2 "usage:" bash "$gpu"
refused "train_gpu.sh, unknown mode" 2 "not 'fast'" bash "$gpu" "$bin" fast
refused "train_gpu.sh, unknown ONLY" 2 "ONLY=fcn: fno, fcnn or mlp" env ONLY=fcn bash "$gpu" "$bin"
refused "train_gpu.sh, no benchmark in BIN_DIR" 1 "no bench_train_cpu in" bash "$gpu" "$work"
refused "bench_train_cpu, unknown -arch" 2 "unknown -arch 'unet'" "$bin/bench_train_cpu" -arch unet
refused "bench_train_cpu, -size 4" 2 "-size 4: at least 8" "$bin/bench_train_cpu" -size 4
refused "bench_train_cpu, -batch 0" 2 "-batch 0: at least 1" "$bin/bench_train_cpu" -batch 0
refused "bench_train_cpu, -precision fp64" 3 "precision 'fp64': expected fp32, tf32 or bf16" \
  "$bin/bench_train_cpu" -precision fp64
echo "bench_badinput: passed"
