#!/usr/bin/env bash
# scripts/gpu_bundle.sh [BUILD] — builds the GPU suite here and packs it, self-contained, for a
# bare GPU machine (CUDA driver and toolkit, PyTorch; none of Debian's packages, no network).
#
# The surrogate library alone is configured with the CUDA backend (GYRE_ENABLE_CUDA=ON),
# MPICH (its singleton start needs no launcher) and the serial NetCDF, in BUILD (build-gpu).
# The test and benchmark programs go to bin/, the CUDA backend's module (libgyre_cuda.so) and
# every shared library they load from this machine's packages to lib/, except the C runtime and CUDA's own libraries (cuBLAS, cuFFT,
# the driver), which the GPU machine's toolkit provides (same major version: CUDA 13). The
# CUDA runtime is linked statically; NCCL is opened at run time. Everything is packed into
# .gpu/bundle.tar.xz (about 20 MiB: the device tool carries at most 64 MiB), which
# tests/gpu/run.sh unpacks and runs there:
#   device run: carry [".gpu"], command "bash tests/gpu/run.sh"
set -euo pipefail
build=${1:-build-gpu}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  echo "gpu_bundle: no nvcc (CUDA toolkit) on this machine: the GPU suite cannot be built here" >&2
  exit 1
fi
cmake -S . -B "$build" -DGYRE_SURROGATES_ONLY=ON -DGYRE_ENABLE_CUDA=ON \
  -DCMAKE_C_COMPILER=mpicc.mpich -DMPI_C_COMPILER=mpicc.mpich \
  -DMPIEXEC_EXECUTABLE="$(command -v mpiexec.mpich || echo /usr/bin/mpiexec.mpich)" >/dev/null
progs=(test_backend_ops)
for t in $(cd bench && ls train_*.c 2>/dev/null); do progs+=("bench_${t%.c}"); done
cmake --build "$build" -j "$(nproc)" --target "${progs[@]}" gyre_cuda

stage=$(mktemp -d)
trap 'rm -rf "$stage"' EXIT
mkdir -p "$stage/bin" "$stage/lib"
for p in "${progs[@]}"; do
  f=$(find "$build" -name "$p" -type f -perm -u+x | head -1)
  [ -n "$f" ] || { echo "gpu_bundle: $p was not built" >&2; exit 1; }
  cp "$f" "$stage/bin/"
done
# the CUDA backend's module (opened at run time: bin/../lib/libgyre_cuda.so)
cp "$build/lib/libgyre_cuda.so" "$stage/lib/"
# the libraries to carry: what ldd resolves, less the C runtime and CUDA's libraries
skip='^(linux-vdso|ld-linux|libc\.so|libm\.so|libpthread|libdl\.so|librt\.so|libgcc_s|libstdc\+\+|libcuda\.so|libcublas|libcublasLt|libcufft|libcudart|libnvidia)'
for p in "$stage"/bin/* "$stage/lib/libgyre_cuda.so"; do
  ldd "$p" | awk '/=>/ && $3 ~ /^\// {print $1, $3}'
done | sort -u | while read -r name path; do
  if [[ ! $name =~ $skip ]]; then cp -L "$path" "$stage/lib/$name"; fi
done
mkdir -p .gpu
tar -C "$stage" -cJf .gpu/bundle.tar.xz bin lib
echo "gpu_bundle: .gpu/bundle.tar.xz ($(du -h .gpu/bundle.tar.xz | cut -f1)): ${progs[*]} and" \
  "$(ls "$stage/lib" | wc -l) libraries"
