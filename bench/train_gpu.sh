#!/usr/bin/env bash
# bench/train_gpu.sh BIN_DIR [quick] — the GPU training benchmark (issue 6, section 4).
#
# Trains, in the same run on the same card, gyre (BIN_DIR/bench_train_cpu, or
# BIN_DIR/bin/bench_train_cpu: bench/train_cpu.c with -backend cuda, fp32) and PyTorch
# (bench/train_cpu.py -device cuda, true fp32: TF32 off for cuBLAS and cuDNN) on the
# architectures and data of bench/train_cpu — FNO-2D (width 20, modes 12, batch 20) and
# Ross et al.'s FCNN (batch 64) at 64^2 and 256^2, and the MLP (8-64-64-64-8, GELU, batch
# 1024) — and prints one table: samples/s of each, the ratio gyre/PyTorch (goal >= 1.0 on
# every network), the TFLOP/s each achieves against a cuBLAS fp32 GEMM measured in the same
# run (torch.matmul, 8192^2 x 8192^2, TF32 off: PyTorch calls cuBLAS's SGEMM), and the peak
# device memory of each (gyre: GyreBackendMemoryStats; PyTorch:
# torch.cuda.max_memory_allocated). Every case (framework, network, size) runs in a process
# of its own, gyre then PyTorch, each under a time limit. Parameter counts and the sums of the
# data must agree between the two (checked, as train_cpu.sh does), and PyTorch must report
# TF32 off; the run fails otherwise, or when a case fails (the other cases still run).
#
# FLOPs of one training step, counted analytically per sample (forward + backward: every
# GEMM, convolution and spectral multiply 3x its forward count — forward, input gradient,
# weight gradient; every FFT twice — forward and its adjoint in backward; elementwise work,
# batch norm, losses and Adam not counted; 2 flops per real multiply-add, 8 per complex one;
# a real 2-D FFT of n = S^2 points 2.5 n log2 n, half of a complex one's 5 n log2 n):
#   FNO  (S^2 = n, width W = 20, modes m = 12, L = 4 layers, projection P = 128):
#        gemm = 2 n (3 W + L W^2 + W P + P)   (lift from 1 + 2 grid channels, L pointwise
#                                              1x1 convs, projection W -> P -> 1)
#        spec = L * 2 m^2 * W^2 * 8            (two corner blocks of m x m modes per layer)
#        fft  = L * 2 W * 2.5 n log2 n         (one rfft2 and one irfft2 of W channels a layer)
#        step = 3 (gemm + spec) + 2 fft        (64^2: 157 MFLOP; 256^2: 2.56 GFLOP a sample)
#   FCNN (circular k x k convs, 2 k^2 Cin Cout n each): sum k^2 Cin Cout =
#        25*1*128 + 25*128*64 + 9*64*32 + 4*9*32*32 + 9*32*1 = 263584;
#        step = 3 * 2 * 263584 n               (64^2: 6.48 GFLOP; 256^2: 104 GFLOP a sample)
#   MLP  step = 3 * 2 * (8*64 + 2*64*64 + 64*8) = 55296 FLOP a sample
# TFLOP/s = step FLOPs a sample x samples/s / 1e12; "% GEMM" = that over the same-run GEMM's.
#
# Usage, from the repository root on the GPU machine:
#   bash bench/train_gpu.sh BIN_DIR          # full: about 2-3 minutes on an H100
#   bash bench/train_gpu.sh BIN_DIR quick    # smoke check, 1-2 steps a case (figures mean little)
# ONLY=fno, fcnn or mlp runs that network's cases alone (the GEMM reference still runs).
# With 2 or more GPUs it also measures the data-parallel efficiency (LAUNCH= the MPI launcher).
# PY=... picks the Python with PyTorch (default: python3 on PATH). It needs PyTorch with CUDA
# (numpy is used when present, not needed), bash, awk and coreutils; no Debian package. Shared
# libraries the gyre binary needs are found through LD_LIBRARY_PATH (BIN_DIR/lib and BIN_DIR are
# put in front of it when they hold .so files). Without a CUDA device, or with a gyre built
# without CUDA, it stops at once with the reason.
set -euo pipefail
if [ $# -lt 1 ]; then
  echo "usage: bash bench/train_gpu.sh BIN_DIR [quick]" >&2
  exit 2
fi
bindir=$1
mode=${2:-full}
if [ "$mode" != full ] && [ "$mode" != quick ]; then
  echo "usage: bash bench/train_gpu.sh BIN_DIR [quick]  (not '$mode')" >&2
  exit 2
fi
case "${ONLY:-}" in
"" | fno | fcnn | mlp) ;;
*)
  echo "bench/train_gpu.sh: ONLY=$ONLY: fno, fcnn or mlp" >&2
  exit 2
  ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
py=${PY:-python3}
t_start=$(date +%s)
exe=""
for c in "$bindir/bench_train_cpu" "$bindir/bin/bench_train_cpu"; do
  if [ -x "$c" ]; then
    exe=$c
    break
  fi
done
if [ -z "$exe" ]; then
  echo "bench/train_gpu.sh: no bench_train_cpu in $bindir or $bindir/bin: build it first" >&2
  exit 1
fi
for d in "$bindir" "$bindir/lib"; do
  if compgen -G "$d/*.so*" >/dev/null; then
    LD_LIBRARY_PATH="$(cd "$d" && pwd)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
  fi
done
export LD_LIBRARY_PATH
# gyre's binary initialises MPI (the batch norm's reductions) as a singleton: Open MPI is told
# not to start a daemon for it and to accept root (the GPU machine runs as root).
export OMPI_MCA_ess_singleton_isolated=${OMPI_MCA_ess_singleton_isolated:-1}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export OMP_NUM_THREADS=${OMP_NUM_THREADS:-1} OPENBLAS_NUM_THREADS=1

# every command under a time limit (coreutils' timeout where present)
limited() {
  local s=$1
  shift
  if command -v timeout >/dev/null; then
    timeout -k 10 "$s" "$@"
  else
    "$@"
  fi
}

# iterations: warm-up (not timed: cuFFT plans, cuDNN's algorithm search), then at least
# ITERS and at least MIN_TIME seconds; LIMIT: seconds a process may take at most
declare -A warm iters
if [ "$mode" = quick ]; then
  warm=([mlp]=1 [fno]=1 [fcnn]=1) iters=([mlp]=2 [fno]=1 [fcnn]=1) mint=0 limit=60
else
  warm=([mlp]=20 [fno]=5 [fcnn]=3) iters=([mlp]=50 [fno]=10 [fcnn]=5) mint=2.5 limit=150
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gyre-train-gpu.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
log="$scratch/train.log"

# the card, PyTorch and the same-run cuBLAS fp32 GEMM reference (TF32 off)
echo "== gyre GPU training benchmark ($mode); gyre $exe, PyTorch from $py"
if command -v nvidia-smi >/dev/null; then
  limited 30 nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm,power.limit \
    --format=csv,noheader 2>/dev/null | sed 's/^/   nvidia-smi: /' || echo "   nvidia-smi: failed"
else
  echo "   nvidia-smi: not found"
fi
torch_ok=1
if ! limited 120 "$py" - "$mode" >"$scratch/gemm.out" 2>"$scratch/gemm.err" <<'EOF'; then
import sys, time
try:
    import torch
except ImportError as e:
    sys.exit(f"no PyTorch: {e}")
if not torch.cuda.is_available():
    sys.exit(f"no CUDA device: torch.cuda.is_available() is False (PyTorch {torch.__version__}, "
             f"built for CUDA {torch.version.cuda})")
import warnings
with warnings.catch_warnings():
    warnings.simplefilter("ignore")
    torch.backends.cuda.matmul.allow_tf32 = False
    if hasattr(torch.backends.cuda.matmul, "fp32_precision"):
        torch.backends.cuda.matmul.fp32_precision = "ieee"
    torch.set_float32_matmul_precision("highest")
p = torch.cuda.get_device_properties(0)
print(f"DEVICE name={torch.cuda.get_device_name(0).replace(' ', '_')} sms={p.multi_processor_count} "
      f"mem_gib={p.total_memory / 2**30:.1f} cc={p.major}.{p.minor} torch={torch.__version__} "
      f"cuda={torch.version.cuda} cudnn={torch.backends.cudnn.version()}")
n, reps = 8192, (3 if sys.argv[1] == "quick" else 20)
g = torch.Generator(device="cuda").manual_seed(0)
a = torch.rand(n, n, device="cuda", generator=g)
b = torch.rand(n, n, device="cuda", generator=g)
c = torch.matmul(a, b)
torch.cuda.synchronize()
best = float("inf")
for _ in range(2):  # the better of two timed rounds of `reps` products
    w0 = time.perf_counter()
    for _ in range(reps):
        torch.matmul(a, b, out=c)
    torch.cuda.synchronize()
    best = min(best, (time.perf_counter() - w0) / reps)
# a TF32 product of these inputs differs from the fp64 one by about 1e-3 relative; fp32 by 1e-6
ref = (a[:256].double() @ b[:, :256].double())
err = ((c[:256, :256].double() - ref).abs().max() / ref.abs().max()).item()
print(f"GEMM n={n} seconds={best:.6f} tflops={2 * n**3 / best / 1e12:.3f} max_rel_err={err:.2e}")
EOF
  torch_ok=0
fi
cat "$scratch/gemm.out"
grep -q '^DEVICE ' "$scratch/gemm.out" &&
  sed -n 's/^DEVICE name=\([^ ]*\).*/   card: \1/p' "$scratch/gemm.out" | tr '_' ' '
# gyre's CUDA backend: one MLP step, so that a build without CUDA (or no device) stops here
gyre_ok=1
if ! limited 60 "$exe" -arch mlp -backend cuda -iters 1 -warmup 0 >"$scratch/pre.out" \
  2>"$scratch/pre.err"; then
  gyre_ok=0
fi
if [ $torch_ok = 0 ] || [ $gyre_ok = 0 ]; then
  if [ $torch_ok = 0 ]; then
    echo "bench/train_gpu.sh: PyTorch ($py) cannot run on a GPU here:" >&2
    grep -v '^[[:space:]]*$' "$scratch/gemm.err" | tail -n 3 | sed 's/^/   /' >&2
  fi
  if [ $gyre_ok = 0 ]; then
    echo "bench/train_gpu.sh: gyre's CUDA backend cannot run here ($exe -backend cuda):" >&2
    grep -m 3 -i 'failed\|cannot\|not found' "$scratch/pre.err" | sed 's/^/   /' >&2 ||
      tail -n 3 "$scratch/pre.err" | sed 's/^/   /' >&2
  fi
  echo "bench/train_gpu.sh: no CUDA device usable by both: nothing measured" >&2
  exit 1
fi
grep -h '^GEMM ' "$scratch/gemm.out" >>"$log"

# run_one WHO CMD...: one case in a process of its own under the time limit; its TRAIN line
# to the log; a failure (its error line) or a time-out said, and the run marked failed
failed=0
run_one() {
  local who=$1 rc=0 why
  shift
  limited "$limit" "$@" >"$scratch/one.out" 2>"$scratch/one.err" || rc=$?
  if [ $rc -eq 124 ] || [ $rc -eq 137 ]; then
    echo "   $who: ran past ${limit}s, stopped"
    failed=1
  elif [ $rc -ne 0 ]; then
    why=$(grep -m 1 'failed:' "$scratch/one.err" || grep -v '^[[:space:]]*$' "$scratch/one.err" |
      grep -v '^-*$' | tail -n 1 || true)
    echo "   $who FAILED (exit $rc): $why"
    failed=1
  fi
  grep '^TRAIN ' "$scratch/one.out" | tee -a "$log" || true
}
for case in "fno 64" "fno 256" "fcnn 64" "fcnn 256" "mlp 64"; do
  read -r arch size <<<"$case"
  [ -n "${ONLY:-}" ] && [ "$arch" != "$ONLY" ] && continue
  args=(-arch "$arch" -backend cuda -size "$size" -iters "${iters[$arch]}"
    -warmup "${warm[$arch]}" -min_time "$mint")
  label="$arch $size^2"
  [ "$arch" = mlp ] && label=mlp
  echo "-- $label"
  run_one gyre "$exe" "${args[@]}"
  run_one PyTorch "$py" "$here/train_cpu.py" "${args[@]}"
done

set +e
awk -v failed=$failed -v only="${ONLY:-}" -v case_key=size -f "$here/train_table.awk" \
  -f /dev/stdin "$log" <<'EOF'
/^GEMM / { for (i = 2; i <= NF; i++) { split($i, p, "="); gemm[p[1]] = p[2] } }
function log2(x) { return log(x) / log(2) }
# training-step FLOPs a sample (the formulas at the top of bench/train_gpu.sh)
function flops(arch, s,   n, W, m, L, P, gemm_, spec, fft) {
  n = s * s
  if (arch == "fno") {
    W = 20; m = 12; L = 4; P = 128
    gemm_ = 2 * n * (3 * W + L * W * W + W * P + P)
    spec = L * 2 * m * m * W * W * 8
    fft = L * 2 * W * 2.5 * n * log2(n)
    return 3 * (gemm_ + spec) + 2 * fft
  }
  if (arch == "fcnn") return 3 * 2 * 263584 * n
  return 3 * 2 * (8 * 64 + 2 * 64 * 64 + 64 * 8)
}
END {
  ncase = split("fno:64 fno:256 fcnn:64 fcnn:256 mlp:64", cases, " ")
  split("FNO-2D w20 m12 64^2 b20|FNO-2D w20 m12 256^2 b20|FCNN Ross 64^2 b64|FCNN Ross 256^2 b64|MLP 8-64x3-8 b1024", labels, "|")
  bad = failed
  gt = gemm["tflops"]
  printf "\n== results (gyre cuda fp32 and PyTorch cuda fp32, TF32 off, same run, each case its own process)\n"
  printf "%-27s %10s %10s %7s %5s %4s  %7s %7s %6s  %9s %9s %6s\n", "network", "gyre s/s", \
    "torch s/s", "ratio", "goal", "met", "gyre TF", "torch TF", "%GEMM", "gyre MiB", "torch MiB", "g/t"
  for (c = 1; c <= ncase; c++) {
    split(cases[c], ca, ":"); key = ca[1] SUBSEP ca[2]
    if (only != "" && ca[1] != only) continue # not run (ONLY=)
    if (!have_pair(key)) {
      printf "%-27s  missing result (gyre %s, PyTorch %s)\n", labels[c], \
        (("gyre", key, "samples_per_s") in v) ? "ran" : "failed", \
        (("torch", key, "samples_per_s") in v) ? "ran" : "failed"
      bad = 1; continue
    }
    if (pair_differs(labels[c], key)) bad = 1
    if (v["torch", key, "tf32"] != "off") {
      printf "ERROR: %s: PyTorch ran with TF32 %s, not off\n", labels[c], v["torch", key, "tf32"]; bad = 1
    }
    g = v["gyre", key, "samples_per_s"]; t = v["torch", key, "samples_per_s"]
    f = flops(ca[1], ca[2])
    tg = f * g / 1e12; tt = f * t / 1e12
    mg = v["gyre", key, "peak_device_bytes"] / 2^20; mt = v["torch", key, "peak_device_bytes"] / 2^20
    r = g / t
    printf "%-27s %10.4g %10.4g %7.3f %5s %4s  %7.3f %7.3f %5.2f%%  %9.0f %9.0f %6s\n", \
      labels[c], g, t, r, ">=1", (r >= 1.0 ? "yes" : "NO"), tg, tt, (gt > 0 ? 100 * tg / gt : 0), \
      mg, mt, (mt > 0 ? sprintf("%.2f", mg / mt) : "-")
  }
  printf "   cuBLAS fp32 GEMM (torch.matmul %s^2, TF32 off, same run): %s TFLOP/s (max rel. error %s)\n", \
    gemm["n"], gt, gemm["max_rel_err"]
  printf "   TF: achieved TFLOP/s, analytic training-step FLOPs (see the top of bench/train_gpu.sh);\n"
  printf "   %%GEMM: gyre TF over the GEMM; MiB: peak device memory (GyreBackendMemoryStats,\n"
  printf "   torch.cuda.max_memory_allocated); params: FNO %s, FCNN %s, MLP %s (equal in both)\n", \
    v["gyre", "fno" SUBSEP 64, "params"], v["gyre", "fcnn" SUBSEP 64, "params"], \
    v["gyre", "mlp" SUBSEP 64, "params"]
  exit bad
}
EOF
rc=$?

# data-parallel efficiency (issue 6): on a machine with P >= 2 GPUs, gyre's FNO and FCNN at 64^2
# on P ranks, one a GPU (the backend picks the device by the local rank), each rank a batch of
# the table's size, gradients averaged (NCCL where it loads): samples/s of all ranks over
# P x the one-GPU figure above (goal >= 0.90). The launcher: LAUNCH (e.g. "srun -n" or
# "mpiexec -n"), else mpiexec where found.
ngpu=$(limited 30 nvidia-smi -L 2>/dev/null | grep -c '^GPU' || true)
if [ "${ngpu:-0}" -lt 2 ]; then
  echo "   data-parallel efficiency: not measured (${ngpu:-0} GPU here; it needs 2 or more)"
else
  launch=${LAUNCH:-}
  if [ -z "$launch" ] && command -v mpiexec >/dev/null; then
    launch="mpiexec --oversubscribe -n"
    mpiexec --version 2>/dev/null | grep -qi "open mpi" || launch="mpiexec -n"
  fi
  if [ -z "$launch" ]; then
    echo "   data-parallel efficiency: not measured (no MPI launcher: set LAUNCH, e.g. \"srun -n\")"
  else
    echo "== data-parallel efficiency on $ngpu GPUs ($launch $ngpu)"
    for arch in fno fcnn; do
      [ -n "${ONLY:-}" ] && [ "$arch" != "$ONLY" ] && continue
      one=$(awk -v a="$arch" '$1 == "TRAIN" && $2 == "fw=gyre" && $3 == "arch=" a && / size=64 / {
        for (i = 4; i <= NF; i++) if ($i ~ /^samples_per_s=/) { sub(/.*=/, "", $i); print $i } }' \
        "$log" | tail -n 1)
      # shellcheck disable=SC2086 # (the launcher's words)
      line=$(limited "$limit" $launch "$ngpu" "$exe" -arch "$arch" -backend cuda -size 64 \
        -iters "${iters[$arch]}" -warmup "${warm[$arch]}" -min_time "$mint" 2>"$scratch/dp.err" |
        grep '^TRAIN ' || true)
      if [ -z "$line" ] || [ -z "$one" ]; then
        echo "   $arch 64^2: failed: $(grep -v '^[[:space:]]*$' "$scratch/dp.err" | tail -n 1)"
        rc=1
        continue
      fi
      echo "$line" | awk -v one="$one" -v p="$ngpu" -v a="$arch" '{
        for (i = 2; i <= NF; i++) { split($i, kv, "="); v[kv[1]] = kv[2] }
        e = v["samples_per_s"] / (p * one)
        printf "   %-5s 64^2: %d ranks %.4g samples/s, 1 GPU %.4g: efficiency %.3f", a, v["ranks"],
          v["samples_per_s"], one, e
        printf " (goal >= 0.90) %s; %s\n", (e >= 0.9 ? "met" : "NOT met"), v["sync"] }'
    done
  fi
fi
echo "   wall time of the benchmark: $(($(date +%s) - t_start)) s"
exit $rc
