/* grid_stride.cuh — GRID_STRIDE(i, n): a kernel's loop over n elements, each thread taking every
 * (grid size)-th from its global index (any grid covers any n). One definition for the backend's
 * kernels (cuda_internal.cuh) and the implicit GEMM's (igemm.cuh, also run by the CPU emulation
 * in tests/nn_cuda_emu). */
#ifndef GYRE_GRID_STRIDE_CUH
#define GYRE_GRID_STRIDE_CUH
#define GRID_STRIDE(i, n)                                                                          \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (n);                         \
       i += (size_t) gridDim.x * blockDim.x)
#endif
