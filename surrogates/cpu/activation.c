/* activation.c — elementwise activations on the CPU: ReLU, GELU (exact erf form, PyTorch's
 * default nn.GELU()), tanh; forward y = f(x) and backward dx = f'(x) dy (overwrite).
 * ReLU'(0) is taken as 0, as in PyTorch. */
#include <math.h>
#include "cpu_ops.h"

#define GYRE_SQRT1_2 0.70710678118654752440
#define GYRE_INV_SQRT_2PI 0.39894228040143267794

GyreStatus GyreCPUActForward(GyreBackend *be, GyreActivation act, const GyreTensor *x,
                             GyreTensor *y)
{
  const size_t n  = x->size;
  const float *xd = x->data;
  float       *yd = y->data;

  switch (act) {
  case GYRE_ACT_RELU:
#pragma omp parallel for num_threads(be->threads) if (n > 65536)
    for (size_t i = 0; i < n; i++)
      yd[i] = xd[i] > 0.0f ? xd[i] : 0.0f;
    break;
  case GYRE_ACT_GELU:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i++) {
      const float v = xd[i];
      yd[i]         = 0.5f * v * (1.0f + erff(v * (float) GYRE_SQRT1_2));
    }
    break;
  case GYRE_ACT_TANH:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i++)
      yd[i] = tanhf(xd[i]);
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG, "cpu act_forward: unknown activation %d", (int) act);
  }
  return GYRE_OK;
}

GyreStatus GyreCPUActBackward(GyreBackend *be, GyreActivation act, const GyreTensor *x,
                              const GyreTensor *dy, GyreTensor *dx)
{
  if (!dx) return GYRE_OK;
  const size_t n  = x->size;
  const float *xd = x->data, *g = dy->data;
  float       *d = dx->data;

  switch (act) {
  case GYRE_ACT_RELU:
#pragma omp parallel for num_threads(be->threads) if (n > 65536)
    for (size_t i = 0; i < n; i++)
      d[i] = xd[i] > 0.0f ? g[i] : 0.0f;
    break;
  case GYRE_ACT_GELU:
    /* d/dx [x Phi(x)] = Phi(x) + x phi(x) */
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i++) {
      const float v   = xd[i];
      const float cdf = 0.5f * (1.0f + erff(v * (float) GYRE_SQRT1_2));
      const float pdf = (float) GYRE_INV_SQRT_2PI * expf(-0.5f * v * v);
      d[i]            = g[i] * (cdf + v * pdf);
    }
    break;
  case GYRE_ACT_TANH:
#pragma omp parallel for num_threads(be->threads) if (n > 16384)
    for (size_t i = 0; i < n; i++) {
      const float t = tanhf(xd[i]);
      d[i]          = g[i] * (1.0f - t * t);
    }
    break;
  default:
    return GyreStatusSet(GYRE_ERR_ARG, "cpu act_backward: unknown activation %d", (int) act);
  }
  return GYRE_OK;
}
