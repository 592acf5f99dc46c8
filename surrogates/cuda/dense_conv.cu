/* dense_conv.cu — dense layers and convolutions on the CUDA backend (semantics: gyre_nn.h,
 * the same as surrogates/cpu/dense.c and conv.c).
 *
 * Row-major tensors are column-major matrices transposed, so y (M, N) = x W^T is, for cuBLAS,
 * y^T (N x M) = W^T x^T: every GEMM below is written in cuBLAS's column-major terms.
 *
 * Convolutions (K > 1) are, in fp32 and tf32, through the FFT where that applies (2-D circular,
 * an even number of rows) and the batch has 16 samples or more (conv_algo below), else an
 * implicit GEMM of our own (below, "the implicit-GEMM convolution": one kernel a product, the
 * im2col matrix never formed; in tf32 its products on the tensor cores); in bf16 (batches of
 * 16 or more; im2col below), and with GYRE_CUDA_CONV=shift, the CPU backend's
 * shift-GEMM through cuBLAS (tensor cores), on the
 * whole batch at once: the input is padded (circular wrap or zeros) into a channel-major "tall"
 * layout xp (Cin, N Yp Xp + slack) with Yp = Y + 2 PY, Xp = X + 2 PX; for the kernel offset
 * k = (ky, kx) the matrix
 * xp + ky Xp + kx (rows: the N Yp Xp positions, leading dimension the channel stride) is the
 * input shifted by that offset, so the output on the padded grid is
 *   yw (N Yp Xp, Cout) = sum_k (xp + off_k) (N Yp Xp, Cin) W_k (Cin, Cout),
 * one GEMM per offset, no im2col; rows outside the Y x X output are dropped when yw is
 * unpadded into y. Backward: dW_k = (xp + off_k)^T dyw with dy widened the same way (its
 * extra rows zero), and dx is the convolution of dy, padded the same way, with the flipped
 * transposed kernel. A 1x1 (pointwise) convolution needs no padding: one strided-batched
 * GEMM over the samples in the (N, C, P) layout. Reductions (bias gradients) in double. */
#include <stdlib.h>
#include <string.h>
#include "cuda_internal.cuh"
#include "op_shapes.h"
#include "igemm.cuh"
#include "conv_fft.cuh"
#include "direct.cuh"

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
  CUDA_PROF(be, "dense forward");
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
  CUDA_PROF(be, "dense backward");
  if (dx) /* dx (M, K) = dy W */
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, K, M, N, 1.0f, W->data, K, 0, dy->data, N,
                          0, 0.0f, dx->data, K, 0, 1));
  if (dW) /* dW (N, K) += dy^T x */
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_T, K, N, M, 1.0f, x->data, K, 0, dy->data, N,
                          0, 1.0f, dW->data, K, 0, 1));
  if (db) GyreCall(bias_grad(be, M, N, 1, dy->data, db->data));
  return GYRE_OK;
}

/* ---- convolution geometry (ConvGeom: igemm.cuh) ------------------------------------------- */

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
 * matrices Wk (Ci x Co each) [+ b], then post (the default: nothing); scratch slot 1 holds the
 * padded-grid output */
static GyreStatus shift_gemm(GyreBackend *be, const ConvGeom *g, int Ci, int Co, const float *xp,
                             const float *Wk, const float *b, float *out,
                             const ConvPost &post = ConvPost{})
{
  float *yw;
  GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) Co * g->m, (void **) &yw));
  for (int k = 0; k < g->K; k++) {
    const size_t off = (size_t) (k / g->s.KX) * g->Xp + (size_t) (k % g->s.KX);
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, (int) g->m, Co, Ci, 1.0f, xp + off,
                          (int) g->L, 0, Wk + (size_t) k * Ci * Co, Ci, 0, k ? 1.0f : 0.0f, yw,
                          (int) g->m, 0, 1));
  }
  LAUNCH(k_unpad, (size_t) g->s.N * Co * g->P, *g, Co, 1, yw, b, out, post);
  return GYRE_OK;
}

/* A pointwise (1x1) convolution by a kernel of its own (cuBLAS's strided-batched GEMMs are
 * slow for the few channels of an FNO: 20 x 20 per sample): y[n, o, p] = sum_i
 * W[o wso + i wsi] x[n, i, p] (+ b[o]), one thread a position p and PW_TILE outputs o, the
 * weights of the tile in shared memory. wso = Cin, wsi = 1 is the forward; wso = 1,
 * wsi = (the forward's Cin) with the channel counts swapped is its adjoint (dx from dy). */
#define PW_TILE 16
#define PW_MAX_CIN 1024
__global__ static void k_pointwise(int Cin, int Cout, size_t P, const float *x, const float *W,
                                   int wso, int wsi, const float *b, float *y)
{
  extern __shared__ float wt[]; /* PW_TILE x Cin */
  const int               o0 = blockIdx.z * PW_TILE, n = blockIdx.y;
  for (int t = threadIdx.x; t < PW_TILE * Cin; t += blockDim.x) {
    const int oo = t / Cin, i = t - oo * Cin;
    wt[t] = o0 + oo < Cout ? W[(size_t) (o0 + oo) * wso + (size_t) i * wsi] : 0.0f;
  }
  __syncthreads();
  const size_t p = blockIdx.x * (size_t) blockDim.x + threadIdx.x;
  if (p >= P) return;
  float        acc[PW_TILE];
  const float *xn = x + (size_t) n * Cin * P + p;
#pragma unroll
  for (int oo = 0; oo < PW_TILE; oo++)
    acc[oo] = 0.0f;
  for (int i = 0; i < Cin; i++) {
    const float v = xn[(size_t) i * P];
#pragma unroll
    for (int oo = 0; oo < PW_TILE; oo++)
      acc[oo] += wt[oo * Cin + i] * v;
  }
  float *yn = y + (size_t) n * Cout * P + p;
#pragma unroll
  for (int oo = 0; oo < PW_TILE; oo++)
    if (o0 + oo < Cout) yn[(size_t) (o0 + oo) * P] = acc[oo] + (b ? b[o0 + oo] : 0.0f);
}

static GyreStatus pointwise(GyreBackend *be, int N, int Cin, int Cout, size_t P, const float *x,
                            const float *W, int wso, int wsi, const float *b, float *y)
{
  dim3 grid((unsigned) ((P + 255) / 256), (unsigned) N,
            (unsigned) ((Cout + PW_TILE - 1) / PW_TILE));
  k_pointwise<<<grid, 256, sizeof(float) * PW_TILE * Cin, cuda_ctx(be)->stream>>>(
      Cin, Cout, P, x, W, wso, wsi, b, y);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* The pointwise weight gradient dW[o, i] += sum over n, p of dy[n, o, p] x[n, i, p]: each
 * block sums a chunk of positions of one sample, 32 at a time through shared memory, into
 * its Cin Cout partial sums (each thread PW_DW_PAIRS of the (i, o) pairs), written to part
 * (blocks x Cin Cout); one GEMV with ones then adds the blocks' partials in a fixed order
 * (deterministic, unlike atomics). For Cin Cout <= 256 PW_DW_PAIRS. */
#define PW_DW_TP 32
#define PW_DW_PAIRS 16
__global__ static void k_pw_dw(int Cin, int Cout, size_t P, int chunks, int ppb, const float *x,
                               const float *dy, float *part)
{
  extern __shared__ float sh[]; /* xs (Cin x 33), gs (Cout x 33) */
  float                  *xs = sh, *gs = sh + (size_t) Cin * (PW_DW_TP + 1);
  const int               n = blockIdx.x / chunks, ch = blockIdx.x % chunks, CC = Cin * Cout;
  const size_t            p0 = (size_t) ch * ppb, p1 = p0 + ppb < P ? p0 + ppb : P;
  const float            *xn = x + (size_t) n * Cin * P, *gn = dy + (size_t) n * Cout * P;
  float                   acc[PW_DW_PAIRS];
#pragma unroll
  for (int r = 0; r < PW_DW_PAIRS; r++)
    acc[r] = 0.0f;
  for (size_t t0 = p0; t0 < p1; t0 += PW_DW_TP) {
    for (int t = threadIdx.x; t < (Cin + Cout) * PW_DW_TP; t += blockDim.x) {
      const int    c = t / PW_DW_TP, tp = t % PW_DW_TP;
      const size_t p = t0 + tp;
      const float  v =
          p < p1 ? (c < Cin ? xn[(size_t) c * P + p] : gn[(size_t) (c - Cin) * P + p]) : 0.0f;
      sh[c * (PW_DW_TP + 1) + tp] = v;
    }
    __syncthreads();
#pragma unroll
    for (int r = 0; r < PW_DW_PAIRS; r++) {
      const int j = threadIdx.x + r * blockDim.x;
      if (j < CC) {
        const float *xi = xs + (j % Cin) * (PW_DW_TP + 1), *go = gs + (j / Cin) * (PW_DW_TP + 1);
        float        a = 0.0f;
#pragma unroll 8
        for (int tp = 0; tp < PW_DW_TP; tp++)
          a += xi[tp] * go[tp];
        acc[r] += a;
      }
    }
    __syncthreads();
  }
#pragma unroll
  for (int r = 0; r < PW_DW_PAIRS; r++) {
    const int j = threadIdx.x + r * blockDim.x;
    if (j < CC) part[(size_t) blockIdx.x * CC + j] = acc[r];
  }
}

static GyreStatus pointwise_dw(GyreBackend *be, int N, int Cin, int Cout, size_t P, const float *x,
                               const float *dy, float *dW)
{
  const int    sms   = cuda_ctx(be)->prop.multiProcessorCount;
  const size_t maxch = (P + PW_DW_TP - 1) / PW_DW_TP, want = (size_t) (4 * sms + N - 1) / N;
  const int    chunks = (int) (want < 1 ? 1 : want > maxch ? maxch : want);
  const int    ppb    = (int) (((P + chunks - 1) / chunks + PW_DW_TP - 1) / PW_DW_TP * PW_DW_TP);
  const int    blocks = N * chunks, CC = Cin * Cout;
  float       *part;
  const float *ones, one = 1.0f;
  GyreCall(GyreCUDAScratch(be, 3, sizeof(float) * (size_t) blocks * CC, (void **) &part));
  GyreCall(GyreCUDAOnes(be, (size_t) blocks, &ones));
  k_pw_dw<<<blocks, 256, sizeof(float) * (size_t) (Cin + Cout) * (PW_DW_TP + 1),
            cuda_ctx(be)->stream>>>(Cin, Cout, P, chunks, ppb, x, dy, part);
  CU_LAUNCHED();
  CUBLAS(cublasSgemv(cuda_ctx(be)->blas, CUBLAS_OP_N, CC, blocks, &one, part, CC, ones, 1, &one, dW,
                     1));
  return GYRE_OK;
}

/* the kernel serves up to PW_MAX_CIN input channels and N <= 65535 samples; GYRE_CUDA_PW=gemm
 * forces cuBLAS */
static int pointwise_kernel(const ConvGeom *g, int cin)
{
  const char *env = getenv("GYRE_CUDA_PW");
  return !(env && !strcmp(env, "gemm")) && cin <= PW_MAX_CIN && g->s.N <= 65535;
}

/* col (m x C K, column-major, leading dimension m): col[q, i K + k] = xp[i L + q + off_k], the
 * padded-grid rows of every channel and offset side by side (im2col on the tall layout) */
__global__ static void k_im2col(ConvGeom g, int C, const float *xp, float *col)
{
  const size_t n_all = g.m * (size_t) C * g.K;
  GRID_STRIDE(j, n_all)
  {
    const size_t q = j % g.m, ck = j / g.m, i = ck / g.K, k = ck % g.K;
    const size_t off = (k / g.s.KX) * (size_t) g.Xp + k % g.s.KX;
    col[j]           = xp[i * g.L + q + off];
  }
}

/* the geometry of samples [n0, n0 + nc) alone */
static ConvGeom conv_chunk(const ConvGeom *g, int nc)
{
  ConvGeom c = *g;
  c.s.N      = nc;
  c.m        = (size_t) nc * g->Pp;
  c.L        = c.m + (size_t) (g->s.KY - 1) * g->Xp + (size_t) (g->s.KX - 1);
  return c;
}

/* samples per chunk: the im2col matrix of a chunk within GYRE_CUDA_IM2COL_MB (1024) */
static int conv_chunk_samples(const ConvGeom *g, int C)
{
  const char  *env    = getenv("GYRE_CUDA_IM2COL_MB");
  const double budget = (env && atof(env) > 0 ? atof(env) : 1024.0) * 1048576.0;
  const double per    = (double) g->Pp * C * g->K * sizeof(float);
  int          nc     = (int) (budget / per);
  return nc < 1 ? 1 : nc > g->s.N ? g->s.N : nc;
}

/* out (N, Co, Y, X) = conv(in (N, Ci, Y, X), Wc (Ci K x Co column-major)) [+ b], then post, by
 * im2col and one GEMM per chunk of samples; slots 0 (padded input), 1 (padded-grid output), 2
 * (col) */
static GyreStatus im2col_conv(GyreBackend *be, const ConvGeom *g, int Ci, int Co, const float *in,
                              const float *Wc, const float *b, float *out,
                              const ConvPost &post = ConvPost{})
{
  const int nc = conv_chunk_samples(g, Ci);
  for (int n0 = 0; n0 < g->s.N; n0 += nc) {
    const ConvGeom c = conv_chunk(g, g->s.N - n0 < nc ? g->s.N - n0 : nc);
    float         *xp, *yw, *col;
    GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) Ci * c.L, (void **) &xp));
    GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) Co * c.m, (void **) &yw));
    GyreCall(GyreCUDAScratch(be, 2, sizeof(float) * c.m * Ci * c.K, (void **) &col));
    LAUNCH(k_pad, (size_t) Ci * c.L, c, Ci, in + (size_t) n0 * Ci * g->P, xp);
    LAUNCH(k_im2col, c.m * Ci * c.K, c, Ci, xp, col);
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, (int) c.m, Co, Ci * c.K, 1.0f, col,
                          (int) c.m, 0, Wc, Ci * c.K, 0, 0.0f, yw, (int) c.m, 0, 1));
    LAUNCH(k_unpad, (size_t) c.s.N * Co * g->P, c, Co, 1, yw, b, out + (size_t) n0 * Co * g->P,
           post);
  }
  return GYRE_OK;
}

/* dW (Cout, Cin, K) = (Cin K x Cout column-major) += col^T dyw, chunk by chunk */
static GyreStatus im2col_dw(GyreBackend *be, const ConvGeom *g, const float *x, const float *dy,
                            float *dW)
{
  const int Ci = g->s.Cin, Co = g->s.Cout, nc = conv_chunk_samples(g, Ci);
  for (int n0 = 0; n0 < g->s.N; n0 += nc) {
    const ConvGeom c = conv_chunk(g, g->s.N - n0 < nc ? g->s.N - n0 : nc);
    float         *xp, *dyw, *col;
    GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) Ci * c.L, (void **) &xp));
    GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) Co * c.m, (void **) &dyw));
    GyreCall(GyreCUDAScratch(be, 2, sizeof(float) * c.m * Ci * c.K, (void **) &col));
    LAUNCH(k_pad, (size_t) Ci * c.L, c, Ci, x + (size_t) n0 * Ci * g->P, xp);
    LAUNCH(k_im2col, c.m * Ci * c.K, c, Ci, xp, col);
    LAUNCH(k_widen, (size_t) Co * c.m, c, Co, dy + (size_t) n0 * Co * g->P, dyw);
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_T, CUBLAS_OP_N, Ci * c.K, Co, (int) c.m, 1.0f, col,
                          (int) c.m, 0, dyw, (int) c.m, 0, 1.0f, dW, Ci * c.K, 0, 1));
  }
  return GYRE_OK;
}

/* ---- the implicit-GEMM convolution ----------------------------------------------------------
 * The shift-GEMM's products in one kernel: on the padded tall layout xp (Ci, L) the convolution
 * is the GEMM C (m x Co) = A (m x Ci K) B (Ci K x Co) with A[q, j] = xp[jt[j] + q], where
 * jt[j] = i L + off_k for j = i K + k (the im2col matrix, never formed) and B[j, o] = W[o Ci K
 * + j] (the weights as stored). One block computes a tile of 128 rows x 32, 64 or 128 columns
 * of C (the variants below) over the reduction in steps of 8 (operands staged through shared
 * memory, double-buffered: the next step's loads are in flight during this step's products),
 * each thread 8 x 4 or 8 x 8 of it, and writes the valid rows straight into y (+ b): no
 * padded-grid output, no unpadding pass (small outputs, which would leave the card idle, split
 * the reduction into chunks, summed by k_unpad; GYRE_CUDA_IGEMM_SPLIT=0 switches that off). The
 * adjoint dx is the same kernel on dy with the flipped transposed weights. The weight gradient
 * is the GEMM dW^T (Ci K x Co) = A^T dyw with the reduction over the m positions: split over
 * blocks (grid z), each writing its partial tile, the partials then summed by one GEMV in a
 * fixed order (deterministic). Fp32 on the CUDA cores; in tf32 the products on the tensor cores
 * (igemm_tc); bf16 keeps cuBLAS (the shift-GEMM or im2col, on the tensor cores). The kernel
 * (k_igemm), its operand and output functors and the tile constants: igemm.cuh. */

/* the tile for N columns, as a variant (below): 32 wide where they fit (the 32-channel layers
 * would leave half of a 64-wide tile idle), 64, or beyond 64 128 wide (8 x 8 a thread: fewer
 * shared-memory reads a product). Knobs for measurements: GYRE_CUDA_IGEMM_BN=64 keeps tiles
 * at most 64 wide; GYRE_CUDA_IGEMM_TN=8 gives the 64-wide tile 8 x 8 a thread (128 threads). */
static int igemm_variant(int N)
{
  static int most = 0, tn8 = 0;
  if (!most) {
    most = cuda_env_int("GYRE_CUDA_IGEMM_BN", 128) == 64 ? 64 : 128;
    tn8  = cuda_env_int("GYRE_CUDA_IGEMM_TN", 4) == 8;
  }
  return N <= 32 ? 0 : N <= 64 || most == 64 ? (tn8 ? 2 : 1) : 3;
}

/* the variants: (number, column tile, columns a thread, threads) */
#define IG_VARIANTS(X) X(0, 32, 4, 128) X(1, 64, 4, 256) X(2, 64, 8, 128) X(3, 128, 8, 256)

/* the column tile of variant v */
static int igemm_width(int v)
{
#define IG_WIDTH(V, BN, TN, T)                                                                     \
  if (v == V) return BN;
  IG_VARIANTS(IG_WIDTH)
#undef IG_WIDTH
  return 0;
}

/* where the implicit GEMM's products run (steps of 8, offsets not held; else the CUDA cores):
 * in fp32 on the CUDA cores (0), or with GYRE_CUDA_IGEMM_TC=3 on the tensor cores as three
 * tf32 products of split operands (fp32's tolerances; measured slower on an H200: 2210 against
 * 2625 samples/s for the FCNN at 64^2, the kernel's time is in staging its operands, not in
 * the products); in the backend's tf32 precision on the tensor cores in tf32 (1); in bf16 (with
 * GYRE_CUDA_CONV=implicit) on the CUDA cores */
static int igemm_tc(GyreBackend *be)
{
  static int tc3 = -1;
  if (tc3 < 0) tc3 = cuda_env_int("GYRE_CUDA_IGEMM_TC", 0) == 3;
  const cublasComputeType_t c = cuda_ctx(be)->compute;
  return c == CUBLAS_COMPUTE_32F ? (tc3 ? 3 : 0) : c == CUBLAS_COMPUTE_32F_FAST_TF32 ? 1 : 0;
}

/* GO(BN, TN, T, TC) for the products igemm_tc chose (tc, a local), and the template's TC: that
 * only where the tensor-core variant exists (steps of 8, offsets not held), else 0 */
#define IG_BY_TC(GO, BN, TN, T)                                                                    \
  if (tc == 3)                                                                                     \
    GO(BN, TN, T, 3);                                                                              \
  else if (tc == 1)                                                                                \
    GO(BN, TN, T, 1);                                                                              \
  else                                                                                             \
    GO(BN, TN, T, 0)
#define IG_TC(TC) (BK == IG_BK && !HOIST ? (TC) : 0)

/* launch k_igemm on the backend's stream with z reduction chunks of kchunk, in steps of BK
 * (32: the 4-column variants only), the rows' offsets held in shared memory with HOIST, the
 * products where igemm_tc says */
template <bool AKF, int BK, bool HOIST = AKF && (BK > 8), class FA, class FB, class EP>
static GyreStatus igemm_launch(GyreBackend *be, int M, int N, int Kd, int z, int kchunk, FA fa,
                               FB fb, EP ep)
{
  const int  v = igemm_variant(N), bn = igemm_width(v);
  const int  tc = BK == IG_BK && !HOIST ? igemm_tc(be) : 0;
  const dim3 grid((unsigned) ((M + IG_BM - 1) / IG_BM), (unsigned) ((N + bn - 1) / bn),
                  (unsigned) z);
  int        launched = 0;
  /* GYRE_CUDA_PROFILE=2: each launch by its GEMM's shape (the layers apart) */
  CudaProf shape(be, cuda_ctx(be)->prof >= 2 ? GyreCUDAProfName(be, "igemm%s M %d N %d K %d z %d%s",
                                                                AKF ? " dW" : "", M, N, Kd, z,
                                                                tc == 3   ? " tc3"
                                                                : tc == 1 ? " tf32"
                                                                          : "")
                                             : NULL);
#define IG_GO(BN, TN, T, TC)                                                                       \
  k_igemm<BN, TN, BK, FA, FB, EP, AKF, HOIST, IG_TC(TC)>                                           \
      <<<grid, T, 0, cuda_ctx(be)->stream>>>(M, N, Kd, kchunk, fa, fb, ep)
#define IG_LAUNCH(V, BN, TN, T)                                                                    \
  if constexpr (BK == IG_BK || TN == 4)                                                            \
    if (v == V) {                                                                                  \
      IG_BY_TC(IG_GO, BN, TN, T);                                                                  \
      launched = 1;                                                                                \
    }
  IG_VARIANTS(IG_LAUNCH)
#undef IG_LAUNCH
#undef IG_GO
  if (!launched)
    return GyreStatusSet(GYRE_ERR_INTERNAL,
                         "cuda implicit GEMM: no kernel for variant %d in steps of %d", v, BK);
  CU_LAUNCHED();
  return GYRE_OK;
}

/* the weight gradient's steps along the positions: 8 (IG_BK), or 32 with
 * GYRE_CUDA_IGEMM_DW_BK=32 for the 4-column variants (a warp then reads 32 consecutive
 * positions of a row instead of 8; to be measured) */
static int igemm_dw_bk(int v)
{
  static int bk = 0;
  if (!bk) bk = cuda_env_int("GYRE_CUDA_IGEMM_DW_BK", IG_BK) == 32 ? 32 : IG_BK;
  return v == 0 || v == 1 ? bk : IG_BK;
}

/* the weight gradient in steps of 8 with the rows' offsets held in shared memory, as in steps
 * of 32 (GYRE_CUDA_IGEMM_DW_HOIST=1; to be measured): one offset load a row and block instead
 * of one per element before its dependent load of x */
static int igemm_dw_hoist(void)
{
  static int on = -1;
  if (on < 0) on = cuda_env_int("GYRE_CUDA_IGEMM_DW_HOIST", 0) == 1;
  return on;
}

/* blocks of the weight-gradient kernel of variant v in steps of BK that fit on one
 * multiprocessor at once */
template <int BK, bool HOIST> static GyreStatus igemm_dw_per_sm(int v, int tc, int *per_sm)
{
#define IG_OCC_TC(BN, TN, T, TC)                                                                   \
  CU(cudaOccupancyMaxActiveBlocksPerMultiprocessor(                                                \
      per_sm, k_igemm<BN, TN, BK, IgShiftedT, IgRows, IgToPart, true, HOIST, IG_TC(TC)>, T, 0))
#define IG_OCC(V, BN, TN, T)                                                                       \
  if constexpr (BK == IG_BK || TN == 4)                                                            \
    if (v == V) { IG_BY_TC(IG_OCC_TC, BN, TN, T); }
  IG_VARIANTS(IG_OCC)
#undef IG_OCC
#undef IG_OCC_TC
  return GYRE_OK;
}

/* the forward's reduction chunks: 1, or where the output tiles fill less than the card (one
 * field of inference: ~60 blocks of 128 positions on an H200's 132 multiprocessors) as many as
 * make about two blocks a multiprocessor, each at least 64 of the reduction, at most 16. On an
 * H200 this cut the 64^2 ns2d closure's call from 0.97-1.01 ms to 0.53-0.66 ms (fp32, 3 runs
 * each, bench/RESULTS.md); GYRE_CUDA_IGEMM_SPLIT=0 switches it off. */
static int igemm_split(GyreBackend *be, size_t m, int Co, int Kd)
{
  static int on = -1;
  if (on < 0) on = cuda_env_int("GYRE_CUDA_IGEMM_SPLIT", 1) != 0;
  const int    sms = cuda_ctx(be)->prop.multiProcessorCount, bn = igemm_width(igemm_variant(Co));
  const size_t tiles = (m + IG_BM - 1) / IG_BM * (size_t) ((Co + bn - 1) / bn);
  if (!on || tiles >= (size_t) sms) return 1;
  size_t z = (2 * (size_t) sms + tiles - 1) / tiles;
  z        = z > (size_t) Kd / 64 ? (size_t) Kd / 64 : z;
  return z < 2 ? 1 : z > 16 ? 16 : (int) z;
}

/* im2col's column offsets of the Ci-channel padded layout (scratch slot 6) */
static GyreStatus igemm_offsets(GyreBackend *be, const ConvGeom *g, int Ci, long long **jt)
{
  GyreCall(GyreCUDAScratch(be, 6, sizeof(long long) * (size_t) Ci * g->K, (void **) jt));
  LAUNCH(k_igemm_offsets, (size_t) Ci * g->K, *g, Ci, *jt);
  return GYRE_OK;
}

/* out (N, Co, Y, X) = the convolution of the padded xp (Ci, L) with Wc (Co, Ci K) [+ b], then
 * post (in the kernel's epilogue, or in k_unpad where the reduction is split) */
static GyreStatus igemm_conv(GyreBackend *be, const ConvGeom *g, int Ci, int Co, const float *xp,
                             const float *Wc, const float *b, float *out,
                             const ConvPost &post = ConvPost{})
{
  long long   *jt;
  const int    Kd = Ci * g->K, z = igemm_split(be, g->m, Co, Kd);
  const IgRows fb{Wc, (size_t) Kd};
  GyreCall(igemm_offsets(be, g, Ci, &jt));
  if (z == 1)
    return igemm_launch<false, IG_BK>(be, (int) g->m, Co, Kd, 1, Kd, IgShifted{xp, jt}, fb,
                                      IgToGrid{*g, Co, b, out, post});
  /* the reduction in z chunks: partial outputs on the padded grid (slot 1), then summed */
  const int kchunk = ((Kd + z - 1) / z + IG_BK - 1) / IG_BK * IG_BK,
            zc     = (Kd + kchunk - 1) / kchunk;
  float *part;
  GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) zc * Co * g->m, (void **) &part));
  const IgToPart ep{(int) g->m, Co, part};
  GyreCall(
      (igemm_launch<false, IG_BK>(be, (int) g->m, Co, Kd, zc, kchunk, IgShifted{xp, jt}, fb, ep)));
  LAUNCH(k_unpad, (size_t) g->s.N * Co * g->P, *g, Co, zc, part, b, out, post);
  return GYRE_OK;
}

/* dW (Co, Ci K) += A^T dyw: x padded (slot 0), dy widened (slot 1), the partial sums of the
 * position chunks (slot 3) added by one GEMV. The chunks: as many as make two full waves of
 * blocks over the card (from the kernel's occupancy; a last partial wave idles most of the
 * card for its duration), each at least 128 positions. */
static GyreStatus igemm_dw(GyreBackend *be, const ConvGeom *g, const float *x, const float *dy,
                           float *dW)
{
  const int    Ci = g->s.Cin, Co = g->s.Cout, Kd = Ci * g->K, v = igemm_variant(Co);
  const int    bn = igemm_width(v), bk = igemm_dw_bk(v);
  int          per_sm = 0;
  const size_t tiles  = (size_t) ((Kd + IG_BM - 1) / IG_BM) * ((Co + bn - 1) / bn);
  const int    hoist  = bk == IG_BK && igemm_dw_hoist();
  GyreCall((bk == 32 ? igemm_dw_per_sm<32, true>(v, 0, &per_sm)
            : hoist  ? igemm_dw_per_sm<IG_BK, true>(v, 0, &per_sm)
                     : igemm_dw_per_sm<IG_BK, false>(v, igemm_tc(be), &per_sm)));
  const size_t cap   = (size_t) (per_sm < 1 ? 1 : per_sm) * cuda_ctx(be)->prop.multiProcessorCount;
  const size_t steps = (g->m + bk - 1) / bk, most = steps * bk / 128 < 1 ? 1 : steps * bk / 128;
  size_t       z      = 2 * cap / tiles;
  z                   = z < 1 ? 1 : z > most ? most : z > 1024 ? 1024 : z;
  const int    kchunk = (int) ((steps + z - 1) / z) * bk;
  const int    zc     = (int) ((g->m + kchunk - 1) / kchunk);
  float       *xp, *dyw, *part;
  long long   *jt;
  const float *ones, one = 1.0f;
  GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) Ci * g->L, (void **) &xp));
  GyreCall(GyreCUDAScratch(be, 1, sizeof(float) * (size_t) Co * g->m, (void **) &dyw));
  GyreCall(GyreCUDAScratch(be, 3, sizeof(float) * (size_t) zc * Kd * Co, (void **) &part));
  GyreCall(GyreCUDAOnes(be, (size_t) zc, &ones));
  LAUNCH(k_pad, (size_t) Ci * g->L, *g, Ci, x, xp);
  LAUNCH(k_widen, (size_t) Co * g->m, *g, Co, dy, dyw);
  GyreCall(igemm_offsets(be, g, Ci, &jt));
  const IgShiftedT fa{xp, jt};
  const IgRows     fb{dyw, g->m};
  const IgToPart   ep{Kd, Co, part};
  const GyreStatus st =
      bk == 32 ? igemm_launch<true, 32>(be, Kd, Co, (int) g->m, zc, kchunk, fa, fb, ep)
      : hoist  ? igemm_launch<true, IG_BK, true>(be, Kd, Co, (int) g->m, zc, kchunk, fa, fb, ep)
               : igemm_launch<true, IG_BK>(be, Kd, Co, (int) g->m, zc, kchunk, fa, fb, ep);
  if (st != GYRE_OK) return st;
  CUBLAS(cublasSgemv(cuda_ctx(be)->blas, CUBLAS_OP_N, Kd * Co, zc, &one, part, Kd * Co, ones, 1,
                     &one, dW, 1));
  return GYRE_OK;
}

/* K > 1: the kernels and cuBLAS index the padded grid's rows with int (and add a chunk to an
 * offset): a batch beyond 2^30 rows is refused, not truncated */
static GyreStatus conv_fits(const ConvGeom *g)
{
  if (g->L <= (size_t) 1 << 30) return GYRE_OK;
  return GyreStatusSet(GYRE_ERR_ARG,
                       "cuda convolution: %zu rows of the padded grid (N (Y + 2 PY) (X + 2 PX), "
                       "N = %d) exceed 2^30: use smaller batches",
                       g->L, g->s.N);
}

/* ---- the convolution through the FFT (by default for batches of 16 or more; GYRE_CUDA_CONV) --
 * A 2-D circular convolution with an even number of rows is the spectral convolution of every
 * mode (MY = Y / 2, MX = X / 2 + 1) with the kernel's transform as its weights:
 *   G[i,o,k] = sum_{a,c} W[o,i,a,c] e^{+i th}, th = 2 pi (k_y (a - PY) / Y + k_x (c - PX) / X),
 * and the weights' gradient is that transform's adjoint (surrogates/cpu/conv_fft.c says why; the
 * same formulas there, in double). The spectral op (spectral.cu) does the rest; the transform
 * is made again at each call (the weights change at every step), into scratch slot 7. */
/* whether the FFT path takes this convolution: min_taps, GYRE_CUDA_CONV=fft:N's N (1 for fft),
 * leaves the smaller kernels to the implicit GEMM, and min_batch the smaller batches (the
 * kernel's transform costs the same for any batch) */
static int fft_conv_applies(const ConvGeom *g, int min_taps, int min_batch)
{
  /* cuFFT's plans take 32-bit sizes: a batch's planes (N x the wider side) of Y x (X + 2) reals
   * below 2^31; and a row of one column (X = 1) is left to the implicit GEMM */
  const size_t planes = (size_t) g->s.N * (size_t) (g->s.Cin > g->s.Cout ? g->s.Cin : g->s.Cout);
  return GyreConvFFTApplies(4, &g->s) && g->K >= min_taps && g->s.N >= min_batch &&
         g->K <= FFT_KK_MAX && g->s.KY <= FFT_KY_MAX && g->s.X >= 2 &&
         (size_t) g->s.Cin * g->s.Cout < ((size_t) 1 << 31) &&
         planes * (size_t) g->s.Y * (size_t) (g->s.X + 2) < ((size_t) 1 << 31);
}

/* the geometry, the spectral weights G of W in scratch slot 7 (nbuf blocks of nw floats: G's
 * two, and with 4 its gradient's two, zeroed; then the twiddle tables *ey, *ex), and their
 * tensor views */
static GyreStatus fft_weights(GyreBackend *be, const ConvGeom *g, const float *W, int nbuf,
                              FftGeom *f, size_t *nw, float **G, float2 **ey, float2 **ex,
                              GyreTensor *v)
{
  *f              = (FftGeom){g->s.Cin, g->s.Cout, g->s.Y,  g->s.X,     g->s.KY,
                              g->s.KX,  g->s.PY,   g->s.PX, g->s.Y / 2, g->s.X / 2 + 1};
  *nw             = (size_t) 2 * f->Cin * f->Cout * f->MY * f->MX;
  const size_t nt = (size_t) f->Y * f->KY + (size_t) f->MX * f->KX; /* (nw is even) */
  GyreCall(GyreCUDAScratch(be, 7, sizeof(float) * (size_t) nbuf * *nw + sizeof(float2) * nt,
                           (void **) G));
  *ey = (float2 *) (*G + (size_t) nbuf * *nw), *ex = *ey + (size_t) f->Y * f->KY;
  LAUNCH(k_fft_tables, nt, *f, *ey, *ex);
  LAUNCH(k_fft_weights, (size_t) f->Cin * f->Cout * f->MX, *f, *ey, *ex, W, *G, *G + *nw);
  if (nbuf > 2) CU(cudaMemsetAsync(*G + 2 * *nw, 0, sizeof(float) * 2 * *nw, cuda_ctx(be)->stream));
  for (int k = 0; k < nbuf; k++) {
    GyreTensor t = {0};
    t.data = *G + (size_t) k * *nw, t.ndim = 5, t.size = *nw, t.backend = be;
    t.shape[0] = 2, t.shape[1] = f->Cin, t.shape[2] = f->Cout, t.shape[3] = f->MY;
    t.shape[4] = f->MX;
    v[k]       = t;
  }
  return GYRE_OK;
}

static GyreStatus fft_conv_forward(GyreBackend *be, const ConvGeom *g, const GyreTensor *x,
                                   const float *W, const float *b, GyreTensor *y)
{
  CUDA_PROF(be, "conv forward KxK (fft)");
  FftGeom    f;
  size_t     nw;
  float     *G;
  float2    *ey, *ex;
  GyreTensor v[2];
  GyreCall(fft_weights(be, g, W, 2, &f, &nw, &G, &ey, &ex, v));
  GyreCall(GyreCUDASpectralForward(be, x, &v[0], &v[1], y));
  if (b) LAUNCH(k_bias, y->size, y->size, g->s.Cout, g->P, b, y->data);
  return GYRE_OK;
}

static GyreStatus fft_conv_backward(GyreBackend *be, const ConvGeom *g, const GyreTensor *x,
                                    const float *W, const GyreTensor *dy, GyreTensor *dx,
                                    GyreTensor *dW)
{
  CUDA_PROF(be, "conv backward KxK (fft)");
  FftGeom    f;
  size_t     nw;
  float     *G;
  float2    *ey, *ex;
  GyreTensor v[4];
  GyreCall(fft_weights(be, g, W, dW ? 4 : 2, &f, &nw, &G, &ey, &ex, v));
  GyreCall(
      GyreCUDASpectralBackward(be, x, &v[0], &v[1], dy, dx, dW ? &v[2] : NULL, dW ? &v[3] : NULL));
  if (dW) {
    k_fft_weights_adjoint<<<(unsigned) (f.Cin * f.Cout), FFT_ADJ_T, 0, cuda_ctx(be)->stream>>>(
        f, ey, ex, v[2].data, v[3].data, dW->data);
    CU_LAUNCHED();
  }
  return GYRE_OK;
}

/* the algorithm for K > 1: GYRE_CUDA_CONV=auto|implicit|shift|im2col|direct|fft|fft:N. auto (the
 * default) in fp32 and tf32: through the FFT where it applies and the batch has at least
 * FFT_AUTO_MIN_BATCH samples, else the implicit GEMM; in bf16 the shift-GEMM for such batches (its
 * cuBLAS calls run on the tensor cores; it was faster than im2col on an H200 for Ross et al.'s
 * FCNN: 1759 against 1588 samples/s at 64^2), im2col for smaller ones (one GEMM instead of K:
 * a closure's one field, on an H200 the FCNN on 84^2 0.57 ms against 2.07 ms, the small CNN on
 * 72^2 0.11 ms against 0.87 ms, 2026-11-27). On an H200 (2026-11-26) the FFT trained that FCNN
 * (batch 64) at 3686 samples/s at 64^2 and 270 at 256^2, the implicit GEMM at 2624 and 196 (PyTorch
 * with cuDNN: 3240 and 252); but the FCNN closure on one 84^2 field took 1.18 ms through the FFT
 * and 0.46 ms by the implicit GEMM (the kernel's transform does not shrink with the batch).
 * fft and fft:N take the FFT for any batch (N: kernels of at least N taps). direct (direct.cuh:
 * one kernel a layer, for a small CNN's latency) where it applies, the implicit GEMM elsewhere and
 * for the backward pass; not chosen by auto: on an H200 (2026-11-27) the small CNN's call on one
 * 72^2 field took 0.111 ms with it against 0.088 ms (tf32) by the implicit GEMM. */
#define FFT_AUTO_MIN_BATCH 16
typedef enum { CONV_IMPLICIT, CONV_SHIFT, CONV_IM2COL, CONV_FFT, CONV_DIRECT } ConvAlgo;
static GyreStatus conv_algo(GyreBackend *be, const ConvGeom *g, ConvAlgo *algo)
{
  const char *env      = getenv("GYRE_CUDA_CONV");
  ConvAlgo    a        = CONV_FFT;
  int         min_taps = 1, min_batch = 1; /* for the FFT: fft_conv_applies' limits */
  if (!env || !*env || !strcmp(env, "auto")) {
    if (cuda_ctx(be)->compute == CUBLAS_COMPUTE_32F_FAST_16BF)
      a = g->s.N >= FFT_AUTO_MIN_BATCH ? CONV_SHIFT : CONV_IM2COL;
    else
      min_batch = FFT_AUTO_MIN_BATCH;
  } else if (!strcmp(env, "implicit"))
    a = CONV_IMPLICIT;
  else if (!strcmp(env, "shift"))
    a = CONV_SHIFT;
  else if (!strcmp(env, "im2col"))
    a = CONV_IM2COL;
  else if (!strcmp(env, "direct"))
    a = CONV_DIRECT;
  else if (!strncmp(env, "fft:", 4) && atoi(env + 4) >= 1)
    min_taps = atoi(env + 4);
  else if (strcmp(env, "fft"))
    return GyreStatusSet(GYRE_ERR_ARG,
                         "GYRE_CUDA_CONV=%s: auto, implicit, shift, im2col, direct, fft or fft:N "
                         "(N >= 1 taps)",
                         env);
  /* the FFT or the direct convolution where it applies, else the implicit GEMM */
  if (a == CONV_FFT && !fft_conv_applies(g, min_taps, min_batch)) a = CONV_IMPLICIT;
  if (a == CONV_DIRECT && !direct_conv_applies(g)) a = CONV_IMPLICIT;
  *algo = a;
  return GYRE_OK;
}

/* y = conv(x, W) + b, then post: a plain convolution (post the default), or one with its
 * activation and batch norm (conv_forward_post) where the algorithm has an epilogue for them
 * (the implicit GEMM, the shift-GEMM and im2col: in the kernel or the unpadding pass); *done = 0,
 * nothing run, where it has none (a 1x1 convolution, the FFT) and post is not the default */
static GyreStatus conv_forward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyrePadding pad, const ConvPost &post,
                               GyreTensor *y, int *done)
{
  const ConvGeom g     = conv_geom(x, W, pad);
  const int      plain = post.act < 0 && !post.mean;
  *done                = 0;
  if (g.K == 1 && !plain) return GYRE_OK;
  if (g.K == 1) { /* pointwise: y_n (P x Cout) = x_n (P x Cin) W (Cin x Cout) */
    *done = 1;
    CUDA_PROF(be, "conv forward 1x1");
    if (pointwise_kernel(&g, g.s.Cin))
      return pointwise(be, g.s.N, g.s.Cin, g.s.Cout, g.P, x->data, W->data, g.s.Cin, 1,
                       b ? b->data : NULL, y->data);
    GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_N, (int) g.P, g.s.Cout, g.s.Cin, 1.0f, x->data,
                          (int) g.P, (long long) g.s.Cin * g.P, W->data, g.s.Cin, 0, 0.0f, y->data,
                          (int) g.P, (long long) g.s.Cout * g.P, g.s.N));
    if (b) LAUNCH(k_bias, y->size, y->size, g.s.Cout, g.P, b->data, y->data);
    return GYRE_OK;
  }
  CUDA_PROF(be, plain ? "conv forward KxK" : "conv forward KxK + post");
  ConvAlgo a;
  GyreCall(conv_fits(&g));
  GyreCall(conv_algo(be, &g, &a));
  if (a == CONV_FFT && !plain) return GYRE_OK;
  *done = 1;
  if (a == CONV_FFT) return fft_conv_forward(be, &g, x, W->data, b ? b->data : NULL, y);
  if (a == CONV_DIRECT) { /* one kernel, the padding read in place (direct.cuh) */
    const dim3 grid((unsigned) ((g.s.X + DC_TILE - 1) / DC_TILE),
                    (unsigned) ((g.s.Y + DC_TILE - 1) / DC_TILE), (unsigned) g.s.N);
    k_direct_conv<<<grid, dim3(DC_TILE, DC_TILE), 0, cuda_ctx(be)->stream>>>(
        g, x->data, W->data, b ? b->data : NULL, y->data, post);
    CU_LAUNCHED();
    return GYRE_OK;
  }
  if (a == CONV_IM2COL) /* W (Cout, Cin K) is already the (Cin K x Cout) column-major matrix */
    return im2col_conv(be, &g, g.s.Cin, g.s.Cout, x->data, W->data, b ? b->data : NULL, y->data,
                       post);
  float *xp, *Wk;
  GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) g.s.Cin * g.L, (void **) &xp));
  LAUNCH(k_pad, (size_t) g.s.Cin * g.L, g, g.s.Cin, x->data, xp);
  if (a == CONV_IMPLICIT)
    return igemm_conv(be, &g, g.s.Cin, g.s.Cout, xp, W->data, b ? b->data : NULL, y->data, post);
  GyreCall(GyreCUDAScratch(be, 2, sizeof(float) * W->size, (void **) &Wk));
  LAUNCH(k_repack, W->size, g.s.Cout, g.s.Cin, g.K, 0, W->data, Wk);
  return shift_gemm(be, &g, g.s.Cin, g.s.Cout, xp, Wk, b ? b->data : NULL, y->data, post);
}

GyreStatus GyreCUDAConvForward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                               const GyreTensor *b, GyrePadding pad, GyreTensor *y)
{
  int done = 0;
  return conv_forward(be, x, W, b, pad, ConvPost{}, y, &done);
}

/* conv_forward_post (gyre_nn.h): the activation act (< 0: none) and the batch norm (mean NULL:
 * none) in the convolution's epilogue, where conv_forward has one for the algorithm chosen; a
 * launch or two fewer a layer of a CNN's inference (the closure's latency). GYRE_CUDA_POST=0
 * declines it (the ops one by one: for measurements and tests). */
GyreStatus GyreCUDAConvForwardPost(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                   const GyreTensor *b, GyrePadding pad, int act, const float *mean,
                                   const float *invstd, const float *gamma, const float *beta,
                                   GyreTensor *y, int *done)
{
  const char *env = getenv("GYRE_CUDA_POST");
  *done           = 0;
  if ((env && !strcmp(env, "0")) || act > (int) GYRE_ACT_TANH ||
      (mean && !(invstd && gamma && beta)))
    return GYRE_OK;
  ConvPost post;
  post.act = act < 0 ? -1 : act;
  if (mean) post.mean = mean, post.invstd = invstd, post.gamma = gamma, post.beta = beta;
  return conv_forward(be, x, W, b, pad, post, y, done);
}

GyreStatus GyreCUDAConvBackward(GyreBackend *be, const GyreTensor *x, const GyreTensor *W,
                                const GyreTensor *dy, GyrePadding pad, GyreTensor *dx,
                                GyreTensor *dW, GyreTensor *db)
{
  const ConvGeom g = conv_geom(x, W, pad);
  if (db) {
    CUDA_PROF(be, "conv backward db");
    GyreCall(bias_grad(be, g.s.N, g.s.Cout, g.P, dy->data, db->data));
  }
  if (g.K == 1) {
    if (dx && pointwise_kernel(&g, g.s.Cout))
      GyreCall(pointwise(be, g.s.N, g.s.Cout, g.s.Cin, g.P, dy->data, W->data, 1, g.s.Cin, NULL,
                         dx->data));
    else if (dx) /* dx_n (P x Cin) = dy_n (P x Cout) W^T */
      GyreCall(GyreCUDAGemm(be, CUBLAS_OP_N, CUBLAS_OP_T, (int) g.P, g.s.Cin, g.s.Cout, 1.0f,
                            dy->data, (int) g.P, (long long) g.s.Cout * g.P, W->data, g.s.Cin, 0,
                            0.0f, dx->data, (int) g.P, (long long) g.s.Cin * g.P, g.s.N));
    /* the weight gradient: the kernel where its tile fits, else a cuBLAS GEMM a sample
     * (GYRE_CUDA_PW_DW=loop forces the GEMMs, for the tests; empty: the default) */
    const char *pwdw = getenv("GYRE_CUDA_PW_DW");
    if (dW && !(pwdw && *pwdw) && g.s.Cin * g.s.Cout <= 256 * PW_DW_PAIRS &&
        (g.s.Cin + g.s.Cout) * (PW_DW_TP + 1) * sizeof(float) <= 48 * 1024) {
      CUDA_PROF(be, "conv backward 1x1 dW (kernel)");
      GyreCall(pointwise_dw(be, g.s.N, g.s.Cin, g.s.Cout, g.P, x->data, dy->data, dW->data));
    } else if (dW) {
      CUDA_PROF(be, "conv backward 1x1 dW (loop)");
      for (int n = 0; n < g.s.N; n++)
        GyreCall(GyreCUDAGemm(be, CUBLAS_OP_T, CUBLAS_OP_N, g.s.Cin, g.s.Cout, (int) g.P, 1.0f,
                              x->data + (size_t) n * g.s.Cin * g.P, (int) g.P, 0,
                              dy->data + (size_t) n * g.s.Cout * g.P, (int) g.P, 0, 1.0f, dW->data,
                              g.s.Cin, 0, 1));
    }
    return GYRE_OK;
  }
  ConvAlgo a;
  GyreCall(conv_fits(&g));
  GyreCall(conv_algo(be, &g, &a));
  if (a == CONV_FFT) return fft_conv_backward(be, &g, x, W->data, dy, dx, dW);
  if (a == CONV_DIRECT) a = CONV_IMPLICIT; /* the direct convolution is a forward pass only */
  if (a == CONV_IMPLICIT) {
    if (dW) {
      CUDA_PROF(be, "conv backward KxK dW (implicit)");
      GyreCall(igemm_dw(be, &g, x->data, dy->data, dW->data));
    }
    if (dx) { /* dx = conv(dy padded alike, flipped W^T) */
      CUDA_PROF(be, "conv backward KxK dx (implicit)");
      float *dyp, *Wt;
      GyreCall(GyreCUDAScratch(be, 0, sizeof(float) * (size_t) g.s.Cout * g.L, (void **) &dyp));
      GyreCall(GyreCUDAScratch(be, 2, sizeof(float) * W->size, (void **) &Wt));
      LAUNCH(k_pad, (size_t) g.s.Cout * g.L, g, g.s.Cout, dy->data, dyp);
      LAUNCH(k_flip_t, W->size, g.s.Cout, g.s.Cin, g.K, W->data, Wt);
      GyreCall(igemm_conv(be, &g, g.s.Cout, g.s.Cin, dyp, Wt, NULL, dx->data));
    }
    return GYRE_OK;
  }
  if (a == CONV_IM2COL) {
    if (dW) {
      CUDA_PROF(be, "conv backward KxK dW");
      GyreCall(im2col_dw(be, &g, x->data, dy->data, dW->data));
    }
    if (dx) { /* dx = conv(dy, flipped W^T) */
      CUDA_PROF(be, "conv backward KxK dx");
      float *Wt;
      GyreCall(GyreCUDAScratch(be, 3, sizeof(float) * W->size, (void **) &Wt));
      LAUNCH(k_flip_t, W->size, g.s.Cout, g.s.Cin, g.K, W->data, Wt);
      GyreCall(im2col_conv(be, &g, g.s.Cout, g.s.Cin, dy->data, Wt, NULL, dx->data));
    }
    return GYRE_OK;
  }
  float *xp, *w1, *Wk, *dWk;
  CUDA_PROF(be, "conv backward KxK (shift)");
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
