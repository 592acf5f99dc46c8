/* act.cuh — an activation's value (gyre_nn.h's GyreActivation), one definition for the CUDA
 * backend's activation kernel (backend_cuda.cu) and a convolution's fused epilogue (igemm.cuh's
 * ConvPost), so that the fused and the separate passes compute the same float. */
#ifndef GYRE_ACT_CUH
#define GYRE_ACT_CUH
#include <math.h>
#include "gyre_nn.h"

__device__ static inline float gyre_act_value(int act, float v)
{
  return act == GYRE_ACT_RELU   ? (v > 0.0f ? v : 0.0f)
         : act == GYRE_ACT_GELU ? 0.5f * v * (1.0f + erff(v * 0.70710678118654752440f))
                                : tanhf(v);
}
#endif
