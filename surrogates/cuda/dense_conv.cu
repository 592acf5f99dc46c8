/* dense_conv.cu — dense layers and convolutions on the CUDA backend (semantics: gyre_nn.h,
 * the same as surrogates/cpu/dense.c and conv.c).
 *
 * Row-major tensors are column-major matrices transposed, so y (M, N) = x W^T is, for cuBLAS,
 * y^T (N x M) = W^T x^T: every GEMM below is written in cuBLAS's column-major terms.
 *
 * Convolutions use the CPU backend's shift-GEMM, on the whole batch at once: the input is
 * padded (circular wrap or zeros) into a channel-major "tall" layout xp (Cin, N Yp Xp + slack)
 * with Yp = Y + 2 PY, Xp = X + 2 PX; for the kernel offset k = (ky, kx) the matrix
 * xp + ky Xp + kx (rows: the N Yp Xp positions, leading dimension the channel stride) is the
 * input shifted by that offset, so the output on the padded grid is
 *   yw (N Yp Xp, Cout) = sum_k (xp + off_k) (N Yp Xp, Cin) W_k (Cin, Cout),
 * one GEMM per offset, no im2col; rows outside the Y x X output are dropped when yw is
 * unpadded into y. Backward: dW_k = (xp + off_k)^T dyw with dy widened the same way (its
 * extra rows zero), and dx is the convolution of dy, padded the same way, with the flipped
 * transposed kernel. A 1x1 (pointwise) convolution needs no padding: one strided-batched
 * GEMM over the samples in the (N, C, P) layout. Reductions (bias gradients) in double. */
#include "cuda_internal.cuh"
#include "op_shapes.h"

#define GRID_STRIDE(i, n)                                                                          \
  for (size_t i = blockIdx.x * (size_t) blockDim.x + threadIdx.x; i < (n);                         \
       i += (size_t) gridDim.x * blockDim.x)

/* y (n elements of an (N, C, S) layout) += b[c] */
__global__ static void k_bias(size_t n, int C, size_t S, const float *b, float *y)
{
  GRID_STRIDE(i, n) y[i] += b[(i / S) % (size_t) C];
}

/* out[j] += (float) sums[j] */
__global__ static void k_add_sums(int n, const double *sums, float *out)
{
  const int j = blockIdx.x * blockDim.x + threadIdx.x;
  if (j < n) out[j] += (float) sums[j];
}

/* db[c] += sum over (N, S) of dy[n, c, s], in double (as the CPU backend) */
static GyreStatus bias_grad(GyreBackend *be, int N, int C, size_t S, const float *dy, float *db)
{
  double *red;
  GyreCall(GyreCUDAReduceBuffer(be, 2 * (size_t) C, &red));
  GyreCall(GyreCUDAChannelSums(be, N, C, S, dy, red));
  k_add_sums<<<(C + 255) / 256, 256, 0, cuda_ctx(be)->stream>>>(C, red, db);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* ---- dense ------------------------------------------------------------------------------ */
GyreStatus GyreCUDADenseForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *b, GyreTensor *y)
{
  const int M = (int) x->shape[0], N = (int) W->shape[0], K = (int) (W->size / W->shape[0]);
  GyreCall(GyreCUDAGemm(be, CUBLAS_OP_T, CUBLAS_OP_N, N, M, K, 1.0f, W->data, K, 0, x->data, K, 0,
                        0.0f, y->data, N, 0, 1));
  if (b) {
    k_bias<<<cuda_blocks(y->size, 256), 256, 0, cuda_ctx(be)->stream>>>(y->size, N, 1, b->data,
                                                                        y->data);
    CU_LAUNCHED();
  }
  return GYRE_OK;
}

GyreStatus GyreCUDADenseBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                 const GyreTensor *dy, GyreTensor *dx, GyreTensor *dW,
                                 GyreTensor *db)
{
  const int M = (int) x->shape[0], N = (int) W->shape[0], K = (int) (W->size / W->shape[0]);
  if (dx) /* dx (M, K) = dy W */
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, 1.0f, W->data, K, 0, dy->data, N,
                          0, 0.0f, dx->data, K, 0, 1));
  if (dW) /* dW (N, K) += dy^T x */
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, 1.0f, x->data, K, 0, dy->data, N,
                          0, 1.0f, dW->data, K, 0, 1));
  if (db) GyreCall(bias_grad(be, M, N, 1, dy->data, db->data));
  return GYRE_OK;
}

/* ---- convolution geometry ----------------------------------------------------------------- */
typedef struct {
  GyreConvShape s; /* N, Cin, Cout, Y, X, KY, KX, PY, PX, circ */
  int           K; /* KY KX */
  int           Yp, Xp;
  size_t        P;  /* Y X */
  size_t        Pp; /* Yp Xp */
  size_t        m;  /* N Yp Xp: rows of the padded grid */
  size_t        L;  /* channel stride of the padded layout: m + the largest offset */
} ConvGeom;

static ConvGeom conv_geom(const GyreTensor *x, const GyreTensor *W, GyrePadding pad)
{
  ConvGeom g;
  g.s  = GyreConvShapeOf(x, W, pad);
  g.K  = g.s.KY * g.s.KX;
  g.Yp = g.s.Y + 2 * g.s.PY;
  g.Xp = g.s.X + 2 * g.s.PX;
  g.P  = (size_t) g.s.Y * g.s.X;
  g.Pp = (size_t) g.Yp * g.Xp;
  g.m  = (size_t) g.s.N * g.Pp;
  g.L  = g.m + (size_t) (g.s.KY - 1) * g.Xp + (size_t) (g.s.KX - 1);
  return g;
}

/* out (C, L): the padded tall layout of in (N, C, Y, X); rows past m are zero */
__global__ static void k_pad(ConvGeom g, int C, const float *in, float *out)
{
  const size_t n_all = (size_t) C * g.L;
  GRID_STRIDE(i, n_all)
  {
    const size_t c = i / g.L, q = i - c * g.L;
    float        v = 0.0f;
    if (q < g.m) {
      const size_t n = q / g.Pp, r = q - n * g.Pp;
      int          sy = (int) (r / g.Xp) - g.s.PY, sx = (int) (r % g.Xp) - g.s.PX;
      int          ok = 1;
      if (g.s.circ) {
        sy = (sy % g.s.Y + g.s.Y) % g.s.Y;
        sx = (sx % g.s.X + g.s.X) % g.s.X;
      } else
        ok = sy >= 0 && sy < g.s.Y && sx >= 0 && sx < g.s.X;
      if (ok) v = in[((n * C + c) * g.s.Y + sy) * g.s.X + sx];
    }
    out[i] = v;
  }
}

/* out (C, m): in (N, C, Y, X) on the padded grid's rows without any shift: valid positions
 * (y < Y, x < X) hold in, the others zero (dy widened for dW) */
__global__ static void k_widen(ConvGeom g, int C, const float *in, float *out)
{
  const size_t n_all = (size_t) C * g.m;
  GRID_STRIDE(i, n_all)
  {
    const size_t c = i / g.m, q = i - c * g.m, n = q / g.Pp, r = q - n * g.Pp;
    const int    yy = (int) (r / g.Xp), xx = (int) (r % g.Xp);
    out[i] = yy < g.s.Y && xx < g.s.X ? in[((n * C + c) * g.s.Y + yy) * g.s.X + xx] : 0.0f;
  }
}

/* out (N, C, Y, X) = the valid rows of w (C, m) (+ b[c]) */
__global__ static void k_unpad(ConvGeom g, int C, const float *w, const float *b, float *out)
{
  const size_t n_all = (size_t) g.s.N * C * g.P;
  GRID_STRIDE(i, n_all)
  {
    const size_t s = i % g.P, nc = i / g.P, c = nc % C, n = nc / C;
    const size_t yy = s / g.s.X, xx = s % g.s.X;
    out[i] = w[c * g.m + n * g.Pp + yy * g.Xp + xx] + (b ? b[c] : 0.0f);
  }
}

/* the offsets' weight matrices, K blocks of (Cin x Cout) column-major:
 * flip = 0: Wk[k][i + o Cin] = W[o, i, k] (the forward);
 * flip = 1: Wk[k][o + i Cout] = W[o, i, K - 1 - k] (the adjoint: dx from dy) */
__global__ static void k_repack(int Cout, int Cin, int K, int flip, const float *W, float *Wk)
{
  const size_t n_all = (size_t) Cout * Cin * K;
  GRID_STRIDE(j, n_all)
  {
    const size_t k = j % K, oi = j / K, i = oi % Cin, o = oi / Cin;
    const size_t blk = (size_t) Cin * Cout;
    if (!flip)
      Wk[k * blk + i + o * Cin] = W[j];
    else
      Wk[(K - 1 - k) * blk + o + i * Cout] = W[j];
  }
}

/* dW[o, i, k] += dWk[k][i + o Cin] */
__global__ static void k_unpack_add(int Cout, int Cin, int K, const float *dWk, float *dW)
{
  const size_t n_all = (size_t) Cout * Cin * K;
  GRID_STRIDE(j, n_all)
  {
    const size_t k = j % K, oi = j / K, i = oi % Cin, o = oi / Cin;
    dW[j] += dWk[k * (size_t) Cin * Cout + i + o * Cin];
  }
}

#define LAUNCH(kernel, n, ...)                                                                     \
  do {                                                                                             \
    kernel<<<cuda_blocks((n), 256), 256, 0, cuda_ctx(be)->stream>>>(__VA_ARGS__);                  \
    CU_LAUNCHED();                                                                                 \
  } while (0)

/* out (N, Co, Y, X) = shift-GEMM convolution of the padded in (Ci, L) with the K offset
 * matrices Wk (Ci x Co each) [+ b]; scratch slot 1 holds the padded-grid output */
static GyreStatus shift_gemm(GyreBackend *be, const ConvGeom *g, int Ci, int Co, const float *xp,
                             const float *Wk, const float *b, float *out)
{
  float *yw;
  GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) Co * g->m, (void **) &yw));
  for (int k = 0; k < g->K; k++) {
    const size_t off = (size_t) (k / g->s.KX) * g->Xp + (size_t) (k % g->s.KX);
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, (int) g->m, Co, Ci, 1.0f, xp + off,
                          (int) g->L, 0, Wk + (size_t) k * Ci * Co, Ci, 0, k ? 1.0f : 0.0f, yw,
                          (int) g->m, 0, 1));
  }
  LAUNCH(k_unpad, (size_t) g->s.N * Co * g->P, *g, Co, yw, b, out);
  return GYRE_OK;
}

GyreStatus GyreCUDAConvForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyrePadding pad, GyreTensor *y)
{
  const ConvGeom g = conv_geom(x, W, pad);
  if (g.K == 1) { /* pointwise: y_n (P x Cout) = x_n (P x Cin) W (Cin x Cout) */
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, (int) g.P, g.s.Cout, g.s.Cin, 1.0f, x->data,
                          (int) g.P, (long long) g.s.Cin * g.P, W->data, g.s.Cin, 0, 0.0f, y->data,
                          (int) g.P, (long long) g.s.Cout * g.P, g.s.N));
    if (b) LAUNCH(k_bias, y->size, y->size, g.s.Cout, g.P, b->data, y->data);
    return GYRE_OK;
  }
  float *xp, *Wk;
  GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) g.s.Cin * g.L, (void **) &xp));
  GyreCall(GyreCUDAScratch(be, 2, sizeof(float) * W->size, (void **) &Wk));
  LAUNCH(k_pad, (size_t) g.s.Cin * g.L, g, g.s.Cin, x->data, xp);
  LAUNCH(k_repack, W->size, g.s.Cout, g.s.Cin, g.K, 0, W->data, Wk);
  return shift_gemm(be, &g, g.s.Cin, g.s.Cout, xp, Wk, b ? b->data : NULL, y->data);
}

GyreStatus GyreCUDAConvBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                                GyreTensor *dW, GyreTensor *db)
{
  const ConvGeom g = conv_geom(x, W, pad);
  if (db) GyreCall(bias_grad(be, g.s.N, g.s.Cout, g.P, dy->data, db->data));
  if (g.K == 1) {
    if (dx) /* dx_n (P x Cin) = dy_n (P x Cout) W^T */
      GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_T, (int) g.P, g.s.Cin, g.s.Cout, 1.0f,
                            dy->data, (int) g.P, (long long) g.s.Cout * g.P, W->data, g.s.Cin, 0,
                            0.0f, dx->data, (int) g.P, (long long) g.s.Cin * g.P, g.s.N));
    if (dW) { /* per sample x_n^T dy_n (Cin x Cout), then summed over n by one GEMV */
      float       *part;
      const float *ones;
      const size_t wsz = (size_t) g.s.Cin * g.s.Cout;
      GyreCall(GyreCUDAScratch(be, 3, sizeof(float) * wsz * g.s.N, (void **) &part));
      GyreCall(GyreCUDAOnes(be, (size_t) g.s.N, &ones));
      GyreCall(GyreCUDAGemm(be, CUBLAS_OP_T, CUBLAS_OP_N, g.s.Cin, g.s.Cout, (int) g.P, 1.0f,
                            x->data, (int) g.P, (long long) g.s.Cin * g.P, dy->data, (int) g.P,
                            (long long) g.s.Cout * g.P, 0.0f, part, g.s.Cin, (long long) wsz,
                            g.s.N));
      const float one = 1.0f;
      CUBLAS(cublasSgemv(cuda_ctx(be)->blas, CUBLAS_OP_N, (int) wsz, g.s.N, &one, part, (int) wsz,
                         ones, 1, &one, dW->data, 1));
    }
    return GYRE_OK;
  }
  float *xp, *w1, *Wk, *dWk;
  if (dW) { /* dW_k (Cin x Cout) = (xp + off_k)^T dyw */
    GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) g.s.Cin * g.L, (void **) &xp));
    GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) g.s.Cout * g.m, (void **) &w1));
    GyreCall(GyreCUDAScratch(be, 3, sizeof(float) * W->size, (void **) &dWk));
    LAUNCH(k_pad, (size_t) g.s.Cin * g.L, g, g.s.Cin, x->data, xp);
    LAUNCH(k_widen, (size_t) g.s.Cout * g.m, g, g.s.Cout, dy->data, w1);
    for (int k = 0; k < g.K; k++) {
      const size_t off = (size_t) (k / g.s.KX) * g.Xp + (size_t) (k % g.s.KX);
      GyreCall(GyreCUDAGemm(be, CUBLAS_OP_T, CUBLAS_OP_N, g.s.Cin, g.s.Cout, (int) g.m, 1.0f,
                            xp + off, (int) g.L, 0, w1, (int) g.m, 0, 0.0f,
                            dWk + (size_t) k * g.s.Cin * g.s.Cout, g.s.Cin, 0, 1));
    }
    LAUNCH(k_unpack_add, W->size, g.s.Cout, g.s.Cin, g.K, dWk, dW->data);
  }
  if (dx) { /* dx = conv(dy padded alike, flipped W^T) */
    GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) g.s.Cout * g.L, (void **) &xp));
    GyreCall(GyreCUDAScratch(be, 2, sizeof(float) * W->size, (void **) &Wk));
    LAUNCH(k_pad, (size_t) g.s.Cout * g.L, g, g.s.Cout, dy->data, xp);
    LAUNCH(k_repack, W->size, g.s.Cout, g.s.Cin, g.K, 1, W->data, Wk);
    GyreCall(shift_gemm(be, &g, g.s.Cout, g.s.Cin, xp, Wk, NULL, dx->data));
  }
  return GYRE_OK;
}
