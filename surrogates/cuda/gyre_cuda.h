/* gyre_cuda.h — the CUDA backend's entry points outside its operation table (surrogates/cuda/).
 * The table itself (gyre_nn.h's GyreBackendOps) is installed by GyreCUDABackendInit; layers and
 * networks never call CUDA directly. Built only where nvcc was found (GYRE_HAVE_CUDA). */
#ifndef GYRE_CUDA_H
#define GYRE_CUDA_H
#include <stddef.h>
#include "gyre_nn.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Picks the device (the rank's local index modulo the visible devices: OMPI_COMM_WORLD_LOCAL_RANK,
 * MPI_LOCALRANKID, SLURM_LOCALID, else 0; CUDA_VISIBLE_DEVICES is respected by the runtime),
 * creates the streams (compute, copies), the cuBLAS handle and the arena, and sets be->ops.
 * GYRE_ERR_ARG "no CUDA device" (with the runtime's reason) where there is none. */
GyreStatus GyreCUDABackendInit(GyreBackend *be);
void       GyreCUDABackendFinalize(GyreBackend *be);
/* 1 when a CUDA device can be used; otherwise 0 and the reason in why. */
int GyreCUDAAvailable(char *why, size_t len);
/* cudaMalloc calls made by the backend so far (the arena's growth): a training step after
 * the first must make none. */
long GyreCUDAMallocCount(const GyreBackend *be);
/* "NVIDIA H100 80GB HBM3 (device 0, sm_90, 79.1 GiB)" */
const char *GyreCUDADeviceString(const GyreBackend *be, char *buf, size_t len);
/* The cuBLAS handle's math: "fp32" (IEEE), "tf32" (tensor cores, 10-bit mantissa inputs) or
 * "bf16" (tensor cores, bfloat16 inputs); fp32 accumulation in every case. */
GyreStatus GyreCUDASetPrecision(GyreBackend *be, const char *precision);

/* NCCL, loaded at run time from libnccl.so.2 (GYRE_NCCL_LIBRARY: another file), so that a
 * build needs no NCCL and a run without it falls back to MPI. */
typedef struct GyreNCCL_s GyreNCCL;
#define GYRE_NCCL_ID_BYTES 128
/* 1 when NCCL can be loaded (where: the file), else 0 (where: why) */
int GyreCUDANCCLProbe(char *where, size_t len);
/* *nccl = NULL and GYRE_OK when NCCL cannot be loaded; why says which it was. */
GyreStatus GyreCUDANCCLOpen(GyreBackend *be, GyreNCCL **nccl, char *why, size_t len);
/* rank 0: a new unique id (GYRE_NCCL_ID_BYTES bytes) to broadcast to the others */
GyreStatus GyreCUDANCCLUniqueId(GyreNCCL *nccl, void *id);
GyreStatus GyreCUDANCCLCommInit(GyreNCCL *nccl, int nranks, const void *id, int rank);
/* in-place sum of n floats of device memory over the ranks, queued on the compute stream */
GyreStatus GyreCUDANCCLAllReduceSum(GyreNCCL *nccl, float *dev, size_t n);
GyreStatus GyreCUDANCCLSynchronize(GyreNCCL *nccl);
void       GyreCUDANCCLFinalize(GyreNCCL **nccl);

#ifdef __cplusplus
}
#endif
#endif
