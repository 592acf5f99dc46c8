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
# .gpu/bundle.tar.xz (about 15 MiB: the device tool carries at most 64 MiB), which
# tests/gpu/run.sh unpacks and runs there:
#   device run: carry [".gpu"], command "bash tests/gpu/run.sh"
#
# Second, where STACK (default build: the main build, made with CUDA) has bin/gyre and
# lib/libgyre_cuda.so, the whole stack for `gyre simulate` there (the coupling benchmark's GPU
# rows: a CUDA closure inside the PETSc solver): gyre, the CUDA module, Debian's PETSc, Open MPI
# (its components, those that need no network stack's library: an MPI singleton there), the
# parallel NetCDF and the rest of what they load, in .gpu/stack.tar.xz (about 40 MiB); a
# library the first bundle already has, byte for byte, is taken from it (tests/gpu/run.sh puts
# both lib/ folders on the path), so that both fit the device tool's 64 MiB with the tree.
set -euo pipefail
build=${1:-build-gpu}
stack_build=${2:-build}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
if [ ! -x /usr/local/cuda/bin/nvcc ] && ! command -v nvcc >/dev/null; then
  echo "gpu_bundle: no nvcc (CUDA toolkit) on this machine: the GPU suite cannot be built here" >&2
  exit 1
fi
cmake -S . -B "$build" -DGYRE_SURROGATES_ONLY=ON -DGYRE_ENABLE_CUDA=ON \
  -DCMAKE_C_COMPILER=mpicc.mpich -DMPI_C_COMPILER=mpicc.mpich \
  -DMPIEXEC_EXECUTABLE="$(command -v mpiexec.mpich || echo /usr/bin/mpiexec.mpich)" >/dev/null
progs=(test_backend_ops test_nn_ops) # (test_nn_ops: the CPU's bf16 chain on that host's CPU)
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
# carry_libs DEST FILE...: what ldd resolves for FILE..., less the C runtime and CUDA's, copied
# to DEST (a library equal to the first bundle's, in $stage/lib, left out when DEST is not it)
carry_libs() {
  local dest=$1 name path
  shift
  for p in "$@"; do
    ldd "$p" | awk '/=>/ && $3 ~ /^\// {print $1, $3}'
  done | sort -u | while read -r name path; do
    [[ $name =~ $skip ]] && continue
    if [ "$dest" != "$stage/lib" ] && cmp -s "$path" "$stage/lib/$name"; then continue; fi
    cp -L "$path" "$dest/$name"
  done
}
carry_libs "$stage/lib" "$stage"/bin/* "$stage/lib/libgyre_cuda.so"
mkdir -p .gpu
rm -f .gpu/stack.tar.xz
tar -C "$stage" -cJf .gpu/bundle.tar.xz bin lib
echo "gpu_bundle: .gpu/bundle.tar.xz ($(du -h .gpu/bundle.tar.xz | cut -f1)): ${progs[*]} and" \
  "$(ls "$stage/lib" | wc -l) libraries"

# the whole stack for gyre simulate (see the top)
if [ ! -x "$stack_build/bin/gyre" ] || [ ! -f "$stack_build/lib/libgyre_cuda.so" ]; then
  echo "gpu_bundle: no $stack_build/bin/gyre with lib/libgyre_cuda.so (make, where nvcc is):" \
    "the stack for gyre simulate is not packed"
  exit 0
fi
st=$(mktemp -d)
trap 'rm -rf "$stage" "$st"' EXIT
mkdir -p "$st/bin" "$st/lib/openmpi3" "$st/share"
cp "$stack_build/bin/gyre" "$st/bin/"
cp "$stack_build/lib/libgyre_cuda.so" "$st/lib/"
# Open MPI's components (ompi_info's pkglibdir), each only if everything it loads is loaded by
# gyre already or is Open MPI's own (no UCX, libfabric, verbs, PSM, ...)
comps=$(ompi_info --parsable --path pkglibdir 2> /dev/null | sed -n 's/^path:pkglibdir://p')
[ -d "$comps" ] || { echo "gpu_bundle: Open MPI's components not found (ompi_info)" >&2; exit 1; }
have=$(ldd "$st/bin/gyre" "$st/lib/libgyre_cuda.so" | awk '/=>/ {print $1}' | sort -u)
for c in "$comps"/*.so; do
  extra=$(ldd "$c" | awk '/=>/ {print $1}' | sort -u | comm -23 - <(echo "$have") |
    grep -v -E '^(libmca_common_(ompio|sm|monitoring)|libpmix|libmunge)\.' || true)
  [ -z "$extra" ] && cp "$c" "$st/lib/openmpi3/"
done
[ -d /usr/share/openmpi ] && cp -r /usr/share/openmpi "$st/share/" # its help texts
carry_libs "$st/lib" "$st/bin/gyre" "$st/lib/libgyre_cuda.so" "$st"/lib/openmpi3/*.so
tar -C "$st" -cJf .gpu/stack.tar.xz bin lib share
echo "gpu_bundle: .gpu/stack.tar.xz ($(du -h .gpu/stack.tar.xz | cut -f1)): gyre," \
  "$(ls "$st/lib/openmpi3" | wc -l) Open MPI components and $(ls "$st/lib" | wc -l) more" \
  "libraries; both $(du -ch .gpu/*.tar.xz | tail -n 1 | cut -f1)"
