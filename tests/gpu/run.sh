#!/usr/bin/env bash
# tests/gpu/run.sh [full|quick|suite|coupling] — the whole GPU suite and the GPU benchmark in one
# command, on a GPU machine, from the self-contained bundle made here by scripts/gpu_bundle.sh
# (.gpu/bundle.tar.xz: the programs and the shared libraries they need beyond the C runtime
# and CUDA's toolkit). With the device tool: carry [".gpu"], command "bash tests/gpu/run.sh".
#
# full (the default) and quick: the card, every case of tests/gpu/test_backend_ops.c (passed,
# FAILED or SKIPPED) with its figures (the op and network cases also with GYRE_CUDA_TWIDDLE=0,
# the networks with GYRE_CUDA_CONV=shift), a summary line, then bench/train_gpu.sh's table
# (quick: a short benchmark), gyre's alternatives (the FNO without the twiddle table, the FCNN
# by the implicit GEMM and the shift-GEMM, ...), and (full) the FCNN's device time by op
# family, gyre's and (torch.profiler) the kernels PyTorch runs for it, and the FCNN's samples/s
# by batch size through the FFT and by the implicit GEMM: 4-6 minutes on an H200.
# suite: the cases and the summary line alone (no benchmark: under a minute on an H200).
# ONLY=fno|fcnn|mlp: that network's benchmark rows alone.
# coupling: a second call (1-2 minutes on an H200): bench/coupling.sh's ns2d rows with the
# closure on the GPU (tf32 and fp32, both also with GYRE_CUDA_GRAPH=1; CONFIGS="PREC[:VAR=VALUE[,
# VAR=VALUE...]] ..." to choose, e.g. fp32:GYRE_CUDA_CONV=fft; cpu: the CPU rows on this host,
# bf16 on AMX or AVX-512 BF16 where it has one; l96: bench/coupling.sh's l96 rows on this host's CPU, REPEATS
# times, default 7); NS2D_T, NS2D_REPEATS and NS2D_CASES as
# bench/coupling.sh's; LAUNCH="taskset -c 4,5" to pin the runs to cores), gyre simulate run
# from the whole stack carried in .gpu/stack.tar.xz (gyre, PETSc, Open MPI, NetCDF) as MPI
# singletons.
# Writes everything to $OUT/gpu.log too when OUT is set (GPU_LOG=FILE: to FILE instead).
# Exit status: 0 when no case failed.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
mode=${1:-full}
bundle=$root/.gpu/bundle.tar.xz
log=${GPU_LOG:-${OUT:-/tmp}/gpu.log}
if [ ! -f "$bundle" ]; then
  echo "tests/gpu/run.sh: $bundle not found: run scripts/gpu_bundle.sh first (where nvcc is)" >&2
  exit 1
fi
exec > >(tee "$log") 2>&1
dir=$(mktemp -d /tmp/gyre-gpu.XXXXXX)
tar -C "$dir" -xJf "$bundle"
# CUDA's libraries from the machine's toolkit (or PyTorch's wheels), the bundle's for the rest
libs=$dir/lib
for d in /usr/local/cuda/lib64 /usr/local/cuda/lib /usr/local/cuda/targets/x86_64-linux/lib; do
  [ -d "$d" ] && libs=$libs:$d
done
py=${PY:-python3}
site=$("$py" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])' 2>/dev/null || true)
for d in "$site"/nvidia/*/lib "$site"/nvidia/cu13/lib; do
  [ -d "$d" ] && libs=$libs:$d
done
export LD_LIBRARY_PATH=$libs${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
export GYRE_CUDA_MODULE=$dir/lib/libgyre_cuda.so # the CUDA backend, opened at run time
if [ -z "${GYRE_NCCL_LIBRARY:-}" ]; then
  for f in /usr/local/cuda/lib64/libnccl.so.2 /usr/local/cuda/lib/libnccl.so.2 \
    "$site"/nvidia/nccl/lib/libnccl.so.2 "$site"/nvidia/cu13/lib/libnccl.so.2; do
    if [ -f "$f" ]; then
      export GYRE_NCCL_LIBRARY=$f
      break
    fi
  done
fi
echo "== gyre GPU suite: $(date -u +%FT%TZ), $(uname -m)"
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader 2>&1 || true
echo "NCCL: ${GYRE_NCCL_LIBRARY:-not found (the nccl case will be skipped)}"
missing=$(ldd "$dir/bin/test_backend_ops" | grep "not found" || true)
[ -n "$missing" ] && echo "missing libraries: $missing"

pass=0 fail=0 skip=0 failed=""
if [ "$mode" = coupling ]; then
  # gyre simulate with the network on the GPU inside the PETSc solver (issue 4's coupling goal
  # for ns2d 64^2), from the whole stack started as MPI singletons (no launcher); the first
  # bundle's lib/ stays on the path (the stack leaves out the libraries it has)
  stack=$root/.gpu/stack.tar.xz
  if [ ! -f "$stack" ]; then
    echo "tests/gpu/run.sh coupling: $stack not found (make gpu-bundle)"
    rm -rf "$dir"
    exit 1
  fi
  sdir=$(mktemp -d /tmp/gyre-stack.XXXXXX)
  tar -C "$sdir" -xJf "$stack"
  # the stack's libraries and Open MPI's components, for every gyre run from it
  senv=(LD_LIBRARY_PATH="$sdir/lib:$LD_LIBRARY_PATH" GYRE_CUDA_MODULE="$sdir/lib/libgyre_cuda.so"
    OPAL_PREFIX="$sdir" OMPI_MCA_mca_base_component_path="$sdir/lib/openmpi3"
    OMPI_MCA_ess_singleton_isolated=1 OMPI_MCA_mca_base_component_show_load_errors=0)
  env "${senv[@]}" "$sdir/bin/gyre" version
  rc=0
  for cfg in ${CONFIGS:-}; do # cpu, PREC or PREC:VAR=VALUE[,VAR=VALUE...], checked first
    case "$cfg" in
    cpu | l96 | fp32 | tf32 | bf16 | fp32:?*=* | tf32:?*=* | bf16:?*=*) ;;
    *)
      echo "tests/gpu/run.sh coupling: CONFIGS entry '$cfg': cpu, l96, PREC or PREC:VAR=VALUE[,VAR=VALUE...] (PREC fp32, tf32 or bf16)"
      rm -rf "$sdir" "$dir"
      exit 2
      ;;
    esac
  done
  # each configuration: a precision, optionally with some of the backend's knobs
  # (VAR=VALUE,VAR=VALUE); cpu: the closure on this host's CPU (the bench's CPU rows, bf16 on
  # AMX or AVX-512 BF16 where the CPU has one), against the same plain step; l96: l96's CPU rows
  for cfg in ${CONFIGS:-tf32 fp32 fp32:GYRE_CUDA_GRAPH=1 tf32:GYRE_CUDA_GRAPH=1}; do
    prec=${cfg%%:*} knobs=(GYRE_CUDA_KNOB_UNSET=1) dev=(BACKEND=cuda PRECISION="$prec")
    [ "$cfg" != "$prec" ] && IFS=, read -r -a knobs <<< "${cfg#*:}"
    model=ns2d
    [ "$cfg" = cpu ] || [ "$cfg" = l96 ] && dev=(BACKEND= PRECISION=)
    [ "$cfg" = l96 ] && model=l96
    echo "== gyre simulate with a ${cfg/#cpu/CPU} closure (bench/coupling.sh, $model, $cfg)"
    env "${knobs[@]}" "${senv[@]}" "${dev[@]}" LAUNCH="${LAUNCH:-}" ONLY=$model \
      NS2D_REPEATS="${NS2D_REPEATS:-3}" REPEATS="${REPEATS:-7}" PY="$py" \
      timeout 270 bash "$root/bench/coupling.sh" "$sdir"
    r=$?
    [ $r -eq 0 ] || echo "bench/coupling.sh (CUDA closure, $cfg) failed (status $r)"
    [ $r -eq 0 ] || rc=$r
  done
  rm -rf "$sdir" "$dir"
  exit $rc
fi
# count LABEL RC: a case's exit status counted (0 passed, 77 skipped, else failed)
count() {
  case $2 in
  0) pass=$((pass + 1)) ;;
  77) skip=$((skip + 1)) ;;
  *)
    fail=$((fail + 1))
    failed="$failed $1(rc=$2)"
    ;;
  esac
}
# run_case LABEL CASE [VAR=VALUE...]: one case of test_backend_ops, counted
run_case() {
  local label=$1 c=$2
  shift 2
  echo "-- test_backend_ops $label"
  env "$@" timeout 300 "$dir/bin/test_backend_ops" "$c"
  count "$label" $?
}
for c in ops nets infer arena precision nccl; do
  run_case "$c" "$c"
done
# the spectral convolution without its twiddle table (GYRE_CUDA_TWIDDLE=0: sincospif in the
# kernels) must give the same results: the op and whole-network cases again that way; and the
# networks with the shift-GEMM convolution (the default in fp32: the FFT for batches of 16 or
# more where it applies, else the implicit GEMM)
for c in ops nets; do
  run_case "$c+sincos" "$c" GYRE_CUDA_TWIDDLE=0
done
run_case "nets+shift" nets GYRE_CUDA_CONV=shift
# inference's fused epilogue (conv_forward_post) through the shift-GEMM's and im2col's unpadding
# pass; and with the activations and batch norms as ops of their own
run_case "infer+shift" infer GYRE_CUDA_CONV=shift
run_case "infer+im2col" infer GYRE_CUDA_CONV=im2col
run_case "infer+nopost" infer GYRE_CUDA_POST=0
# the direct convolution (direct.cuh: one kernel a small layer, opt-in until measured here):
# inference with its epilogue, and the networks' forward passes, against the CPU
run_case "infer+direct" infer GYRE_CUDA_CONV=direct
run_case "nets+direct" nets GYRE_CUDA_CONV=direct
# the implicit GEMM without its 128-wide tile; with 8 x 8 a thread in its 64-wide tile (then
# used for every layer beyond 32 channels); the weight gradient in steps of 32 positions
run_case "ops+bn64" ops GYRE_CUDA_IGEMM_BN=64
run_case "ops+tn8" ops GYRE_CUDA_IGEMM_BN=64 GYRE_CUDA_IGEMM_TN=8
run_case "ops+dw32" ops GYRE_CUDA_IGEMM_DW_BK=32
run_case "ops+bn64+dw32" ops GYRE_CUDA_IGEMM_BN=64 GYRE_CUDA_IGEMM_DW_BK=32 # 2-3 column tiles
run_case "nets+dw32" nets GYRE_CUDA_IGEMM_DW_BK=32
# the weight gradient in steps of 8 with the rows' offsets held in shared memory
run_case "ops+dwhold" ops GYRE_CUDA_IGEMM_DW_HOIST=1
run_case "nets+dwhold" nets GYRE_CUDA_IGEMM_DW_HOIST=1
# the forward's reduction not split where the tiles fill less than the card (split by default:
# the closure's latency)
run_case "ops+nosplit" ops GYRE_CUDA_IGEMM_SPLIT=0
run_case "ops+bn64+nosplit" ops GYRE_CUDA_IGEMM_BN=64 GYRE_CUDA_IGEMM_SPLIT=0
run_case "infer+nosplit" infer GYRE_CUDA_IGEMM_SPLIT=0
# the implicit GEMM's products on the tensor cores in fp32 (three tf32 products of split
# operands) against the CPU at fp32's tolerances
run_case "ops+tc3" ops GYRE_CUDA_IGEMM_TC=3
run_case "nets+tc3" nets GYRE_CUDA_IGEMM_TC=3
run_case "infer+tc3" infer GYRE_CUDA_IGEMM_TC=3
# inference recorded once as a CUDA graph and launched as one (the closure's latency)
run_case "infer+graph" infer GYRE_CUDA_GRAPH=1
# the circular convolutions with an even number of rows through the FFT (the spectral
# convolution of every mode; dense_conv.cu) against the CPU's direct ones (the ops case runs
# every convolution algorithm itself, the FFT's included)
run_case "nets+fft" nets GYRE_CUDA_CONV=fft
run_case "infer+fft" infer GYRE_CUDA_CONV=fft
# the spectral mode products' tiled kernels (by default for wide layers only) on every case
run_case "ops+tiled" ops GYRE_CUDA_MODES_TILED=1
run_case "nets+fft+tiled" nets GYRE_CUDA_CONV=fft GYRE_CUDA_MODES_TILED=1
# the CPU's bf16 chain on this host's CPU (AMX, or AVX-512 BF16; skipped where it has neither),
# and by AVX-512 BF16 where it has AMX too (GYRE_CPU_AMX=0)
for amx in 1 0; do
  echo "-- test_nn_ops chain (GYRE_CPU_AMX=$amx)"
  GYRE_CPU_AMX=$amx timeout 300 "$dir/bin/test_nn_ops" chain | tail -n 3
  count "chain+amx$amx" "${PIPESTATUS[0]}"
done
echo "== GPU suite: $pass passed, $fail failed${failed:+ ($failed )}, $skip skipped"

if [ "$mode" != suite ] && [ -f "$root/bench/train_gpu.sh" ]; then
  echo "== bench/train_gpu.sh"
  if bash "$root/bench/train_gpu.sh" "$dir/bin" "$mode"; then
    # gyre's alternatives, to compare with the table's gyre rows: the FNO without the twiddle
    # table and with the tiled mode products; the FCNN by the implicit GEMM (the default takes
    # the FFT at these batches), by it with its tiles at most 64 wide, with 8 x 8 a thread in
    # its 64-wide tile, with the weight gradient in steps of 32 positions, in steps of 8 with
    # the rows' offsets held, with the products on the tensor cores (three tf32 products); by
    # the shift-GEMM; through the FFT for the 5x5 convolutions only; then where the FCNN's step
    # goes (GYRE_CUDA_PROFILE) and the FFT against the implicit GEMM by batch size
    echo "== gyre FNO with GYRE_CUDA_TWIDDLE=0, with the tiled mode products; FCNN by the implicit"
    echo "   GEMM (the table's gyre rows: through the FFT) and by it with tiles <= 64, 64 by 8 x 8,"
    echo "   dW in steps of 32, dW with the offsets held, products on the tensor cores (3 x tf32);"
    echo "   by the shift-GEMM; through the FFT for the 5x5 convolutions only"
    for alt in "fno GYRE_CUDA_TWIDDLE=0" "fno GYRE_CUDA_MODES_TILED=1" "fcnn GYRE_CUDA_CONV=implicit" \
      "fcnn GYRE_CUDA_CONV=implicit,GYRE_CUDA_IGEMM_BN=64" \
      "fcnn GYRE_CUDA_CONV=implicit,GYRE_CUDA_IGEMM_BN=64,GYRE_CUDA_IGEMM_TN=8" \
      "fcnn GYRE_CUDA_CONV=implicit,GYRE_CUDA_IGEMM_DW_BK=32" \
      "fcnn GYRE_CUDA_CONV=implicit,GYRE_CUDA_IGEMM_DW_HOIST=1" \
      "fcnn GYRE_CUDA_CONV=implicit,GYRE_CUDA_IGEMM_TC=3" "fcnn GYRE_CUDA_CONV=shift" \
      "fcnn GYRE_CUDA_CONV=fft:25"; do
      [ -n "${ONLY:-}" ] && [ "${alt%% *}" != "$ONLY" ] && continue
      read -r arch var <<<"$alt"
      IFS=, read -r -a vars <<<"$var" # VAR=VALUE[,VAR=VALUE...]
      for size in 64 256; do
        env "${vars[@]}" timeout 150 "$dir/bin/bench_train_cpu" -arch "$arch" -backend cuda \
          -size "$size" -iters 5 -warmup 3 -min_time 2.5 | grep '^TRAIN' ||
          echo "$arch $size ($var) failed"
      done
    done
    if [ "$mode" = full ]; then
      echo "== gyre FCNN 64^2, device time by op family (GYRE_CUDA_PROFILE=2; the default: the FFT)"
      GYRE_CUDA_PROFILE=2 timeout 150 "$dir/bin/bench_train_cpu" -arch fcnn -backend cuda \
        -size 64 -iters 10 -warmup 3 -min_time 0 2>&1 | grep -v '^TRAIN' | tail -n 60
      echo "== gyre FCNN 64^2 by the implicit GEMM (GYRE_CUDA_CONV=implicit; the default takes the FFT)"
      GYRE_CUDA_CONV=implicit GYRE_CUDA_PROFILE=1 timeout 150 "$dir/bin/bench_train_cpu" \
        -arch fcnn -backend cuda -size 64 -iters 10 -warmup 3 -min_time 0 2>&1 | grep -v '^TRAIN' |
        tail -n 30
      # where the FFT starts to win (dense_conv.cu's FFT_AUTO_MIN_BATCH: the kernel's transform
      # costs the same for any batch): samples/s by batch size, each algorithm forced
      echo "== gyre FCNN 64^2 training, samples/s by batch: the implicit GEMM against the FFT"
      echo "precision batch implicit fft fft/implicit"
      for prec in fp32 tf32; do
        for batch in 1 2 4 8 16 32; do
          r=""
          for algo in implicit fft; do
            r="$r $(GYRE_CUDA_CONV=$algo timeout 60 "$dir/bin/bench_train_cpu" -arch fcnn \
              -backend cuda -size 64 -batch $batch -precision $prec -iters 3 -warmup 2 \
              -min_time 1 | sed -n 's/.*samples_per_s=\([^ ]*\).*/\1/p')"
          done
          read -r a b <<<"$r"
          echo "$prec $batch ${a:-failed} ${b:-failed} $(awk -v a="${a:-0}" -v b="${b:-0}" \
            'BEGIN { if (a > 0) printf "%.3f", b / a; else print "-" }')"
        done
      done
      echo "== PyTorch FCNN 64^2, the kernels cuDNN and cuBLAS run, by device time (torch.profiler)"
      timeout 150 "${PY:-python3}" "$root/bench/train_cpu.py" -arch fcnn -device cuda -size 64 \
        -iters 3 -warmup 3 -profile 5 2>&1 | grep '^PROFILE' || echo "(the PyTorch profile failed)"
    fi
  else
    echo "bench/train_gpu.sh failed (status $?)"
  fi
fi
rm -rf "$dir"
[ "$fail" -eq 0 ]
