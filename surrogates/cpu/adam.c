/* adam.c — the CPU backend's fused Adam/AdamW update (semantics: gyre_nn.h).
 *
 * Follows PyTorch's single-tensor Adam (torch/optim/adam.py, _single_tensor_adam) step for
 * step, so that the two agree to float rounding:
 *   Adam  (decoupled = 0): g <- g + wd p
 *   AdamW (decoupled = 1): p <- p (1 - lr wd)
 *   m <- m + (1 - beta1) (g - m)          (torch's lerp)
 *   v <- beta2 v + (1 - beta2) g^2
 *   p <- p - (lr / (1 - beta1^t)) m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
 * The bias corrections are computed in double once per call. */
#include <math.h>
#include "cpu_ops.h"

GyreStatus GyreCPUAdamUpdate(GyreBackend *be, size_t n, float *p, const float *g, float *m,
                             float *v, double lr, double beta1, double beta2, double eps,
                             double weight_decay, int decoupled, long t)
{
  if (t < 1) return GyreStatusSet(GYRE_ERR_ARG, "cpu adam_update: step %ld (1-based expected)", t);
  const double bc1       = 1.0 - pow(beta1, (double) t);
  const double bc2       = 1.0 - pow(beta2, (double) t);
  const float  step_size = (float) (lr / bc1);
  const float  bc2_sqrt  = (float) sqrt(bc2);
  const float  decay     = decoupled ? (float) (1.0 - lr * weight_decay) : 1.0f;
  const float  l2        = decoupled ? 0.0f : (float) weight_decay;
  const float  w1 = (float) (1.0 - beta1), w2 = (float) (1.0 - beta2);
  const float  b2 = (float) beta2, epsf = (float) eps;

#pragma omp parallel for num_threads(be->threads) if (n > 65536)
  for (size_t i = 0; i < n; i++) {
    float pi = p[i], gi = g[i];
    if (l2 != 0.0f) gi += l2 * pi;
    if (decoupled) pi *= decay;
    float mi    = m[i] + w1 * (gi - m[i]);
    float vi    = v[i] * b2 + w2 * gi * gi;
    float denom = sqrtf(vi) / bc2_sqrt + epsf;
    m[i]        = mi;
    v[i]        = vi;
    p[i]        = pi - step_size * (mi / denom);
  }
  return GYRE_OK;
}
