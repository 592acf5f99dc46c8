/* conv_amx.c — a CNN's inference in bf16 on Intel AMX or AVX-512 BF16 (-surrogate_precision bf16
 * with the cpu backend): the conv_chain_forward op (gyre_nn.h), a chain of convolutions, each
 * followed by its activation and evaluation-mode batch norm, from the network's input to its output
 * in one op.
 *
 * Layout. Between layers the activations are bf16, pixel-major (NHWC: a pixel's channels next to
 * each other, Cp of them: Cin and zeros up to an even count, or up to a multiple of 32 where a
 * kernel row's run would otherwise split into chunks of fewer than 16) and padded by the next
 * kernel's half-width (circular wrap or zeros). For one kernel row ky, an output pixel's products
 * are then one contiguous run of KX Cp values (kx-major, then the channel) from the input pixel
 * (y + ky, x), and consecutive pixels' runs start Cp values apart. So an AMX tile of 16 pixels x
 * KC of those values is one tile load with a row stride of 2 Cp bytes: the implicit GEMM needs no
 * im2col. KC, the chunk, is the largest even divisor of KX Cp up to 32, so a tile never reads
 * past a pixel's run (a NaN or an infinity reaches only the outputs whose kernels cover it, up to
 * a ReLU, which makes a NaN 0 as the fp32 activation does). The
 * weights are packed as AMX's B operand ("VNNI": pairs of consecutive K values of one output
 * channel side by side), 16 output channels a tile, zeros for the padding channels.
 *
 * A layer with few output channels (Cout <= 8, rounded up to a power of two Cq) fills the tile's
 * 16 columns with P = 16 / Cq neighbouring pixels (at most 8, and X): a tile row is P pixels, its
 * column q Cq + o pixel q's channel o, its K run the (KX + P - 1) Cp values of P + KX - 1 input
 * pixels, and the weights of column q shifted by q pixels (zeros elsewhere). The tile then
 * computes P times the pixels with the same instruction. Only where the run is one chunk (at
 * most 32 values): across chunks the tiles' partial sums are rounded where the chunk ends, so a
 * pixel's value would depend on its column; within one instruction it does not (the tests check
 * this bitwise, moving the block by a pixel). A NaN or infinity in a tile row's run reaches every
 * column of that row (0 x NaN), so with P > 1 it reaches up to P - 1 pixels beyond its kernels
 * along x: only where the input is already not finite (the guard's trip either way).
 *
 * A layer with one output channel on a field of at least 16 x 16 (a closure's last layer) puts 16
 * output rows in the tile's columns instead ("tr"): a tile row is a pixel, its K run the pixel's
 * KX Cp values of one input row, and weight tile j's column n holds kernel row j - n (zeros
 * elsewhere), so that the KY + 15 input rows of a band of 16 output rows are KY + 15 products for
 * 16 x 16 outputs (P = 2 took 3 products for 32). Each output row's kernel rows are summed in
 * order, the same wherever the row lies. The epilogue transposes by gathers. A NaN or infinity
 * in an input row reaches, in its columns, every output row of the bands that read that row.
 *
 * A first layer with one input channel stores two input rows a pixel (the padded input at rows
 * yy and yy + 1) in place of a zero padding channel: the tiles take its kernel rows in pairs,
 * (KY + 1) / 2 products a block instead of KY (an odd last pair with a zero weight: a NaN there
 * reaches one row further up).
 *
 * Arithmetic: the products of bf16 inputs and weights (rounded to nearest even from fp32) summed
 * in fp32 by the tiles (TDPBF16PS; denormals read as zero), the bias, activation and batch norm
 * in fp32 (GyreCPUActRange's arithmetic; the batch norm as one fused multiply-add, v sc + (beta -
 * mean sc), where bn_forward rounds three times: a third of the epilogue's vector work), and the
 * result rounded to bf16 for the next layer; the last layer's output is fp32 (the planar path,
 * below: the sums start from the bias). Each output pixel is the same sum in the same order
 * wherever it lies in the block (a tile row is one pixel), so the result does not depend on the
 * block's size, as the fp32 direct convolution's.
 *
 * Where: x86-64 with AMX-TILE, AMX-BF16, AVX-512 (F, BW, VL, BF16) and the kernel's permission to
 * use the tiles (Linux >= 5.16, arch_prctl ARCH_REQ_XCOMP_PERM): Intel Sapphire Rapids and
 * later; and, in another layout (the planar path, below: pixels in the vector lanes, every
 * product a useful one) by AVX-512 BF16's VDPBF16PS, on x86-64 with AVX-512 F, BW, VL and BF16 but
 * no AMX: AMD Zen 4 and later, Intel Cooper Lake (there the small CNN's call on a 64^2 field is
 * 0.044 ms against fp32's 0.105 on an AMD EPYC, bench/RESULTS.md). GyreCPUBF16Kind says which
 * (GYRE_CPU_AMX=0 takes the second where AMX is there too); GyreBackendSetPrecision(cpu, "bf16")
 * is refused elsewhere. Samples run one after the other (a closure's call is one field). */
#define _GNU_SOURCE /* syscall */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "cpu_ops.h"
#include "op_shapes.h"

#if defined(__GNUC__) && defined(__x86_64__) && defined(__linux__) && __GNUC__ >= 11
#define CONV_AMX 1
#include <cpuid.h>
#include <immintrin.h>
#include <sys/syscall.h>
#include <unistd.h>
#define AMX_TARGET                                                                                 \
  __attribute__((target("avx2,fma,avx512f,avx512bw,avx512vl,avx512bf16,amx-tile,amx-bf16")))
#else
#define CONV_AMX 0
#endif

/* the AVX-512 subset every path here needs (F, BW, VL and BF16: VDPBF16PS, VCVTNEPS2BF16) */
static int has_avx512_bf16(void)
{
#if CONV_AMX
  unsigned a = 0, b, c, d;
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
         __builtin_cpu_supports("avx512vl") && __get_cpuid_count(7, 1, &a, &b, &c, &d) &&
         (a & (1u << 5)) /* AVX512_BF16 */;
#else
  return 0;
#endif
}

int GyreCPUHasAMXBF16(void)
{
#if CONV_AMX
  static int has = -1;
  int        h;
#pragma omp atomic read
  h = has;
  if (h < 0) {
    unsigned a, b, c, d;
    h = 0;
    if (has_avx512_bf16() && __get_cpuid_count(7, 0, &a, &b, &c, &d) &&
        (d & (1u << 22)) /* AMX-BF16 */ && (d & (1u << 24)) /* AMX-TILE */ && a >= 1)
      h = syscall(SYS_arch_prctl, 0x1023 /* ARCH_REQ_XCOMP_PERM */, 18 /* XTILEDATA */) == 0;
#pragma omp atomic write
    has = h;
  }
  return h;
#else
  return 0;
#endif
}

static int planar_on; /* 1: the planar path, by AVX-512 BF16 (GyreCPUBF16Kind 1) */

/* 2: AMX; 1: AVX-512 BF16 without AMX, or with it where GYRE_CPU_AMX=0 (the planar path: the same
 * products, another layout and order of sums); 0: no bf16 here */
int GyreCPUBF16Kind(void)
{
  static int kind = -1;
  int        k;
#pragma omp atomic read
  k = kind;
  if (k < 0) {
    const char *e = getenv("GYRE_CPU_AMX");
    k             = has_avx512_bf16() ? 1 : 0;
    if (k && !(e && !strcmp(e, "0")) && GyreCPUHasAMXBF16()) k = 2;
    planar_on = k == 1; /* (every thread that gets here writes the same) */
#pragma omp atomic write
    kind = k;
  }
  return k;
}

const char *GyreCPUBF16Unit(void)
{
  const int k = GyreCPUBF16Kind();
  return k == 2 ? "AMX" : k == 1 ? "AVX-512 BF16" : NULL;
}

#if CONV_AMX
/* the tile configuration (palette 1): tiles 0-3 accumulators (R rows: pixels; 16 fp32 output
 * channels), 4-5 inputs (R pixels x KC bf16), 6-7 weights (KC / 2 pairs of K x 16 channels);
 * on amx_layer_stack's path tile 5 is a weight tile too (5-7: the layer's weights) */
typedef struct {
  uint8_t  palette, start_row, reserved[14];
  uint16_t colsb[16];
  uint8_t  rows[16];
} TileConfig;

/* a bf16 pair read as one 32-bit value (may alias the uint16_t buffers) */
typedef int32_t bf16_pair __attribute__((may_alias));

/* the tile operations */
#define T_CONFIG(cfg) _tile_loadconfig(cfg)
#define T_RELEASE() _tile_release()
#define T_ZERO(t) _tile_zero(t)
#define T_LOAD(t, ptr, s) _tile_loadd(t, ptr, s)
#define T_DP(c, a, b) _tile_dpbf16ps(c, a, b)
#define T_STORE(t, ptr, s) _tile_stored(t, ptr, s)

/* one layer: its shape (the output's Y, X are the input's), its packed weights, what follows it */
typedef struct {
  GyreConvShape s;
  int           cp, kc;  /* the input's channels as stored (padded), the chunk (KC) */
  int           P, cq;   /* pixels a tile row and the columns each (P > 1: Cq, else 16) */
  int           nch, nt; /* chunks per kernel row, tiles of 16 columns */
  int           ky2;     /* 1: two input rows a stored pixel (a 1-channel first layer), else 0 */
  int           kr;      /* kernel rows as the tiles take them: KY, or (KY + 1) / 2 with ky2;
                          * with tr, the input rows of a band: KY + 15 */
  int       tr;          /* 1: one output channel, 16 output rows in a tile's columns (below) */
  uint16_t *wt;          /* [nt][kr][nch] tiles of (KC / 2) x 32 bf16 (a tile's 1 KiB each) */
  float    *lane;        /* [3][nt][16]: each column's bias, scale, shift (zeros: none); planar:
                          * [3][Cout] */
  int       act, bn;
  int       np;   /* planar: the input's planes of pairs (cp 2, kr as above) */
  uint32_t *wp;   /* planar: [ntap][Cout] weight pairs (taps_planar) */
  long     *tap;  /* planar: [ntap] each tap's input from a block's first pixel (uint32s) */
  int       ntap; /* planar: the taps (products a pixel and output channel) */
} AmxLayer;

/* fp32 -> bf16 as VCVTNEPS2BF16: round to nearest even, a subnormal input read as a zero of its
 * sign (the vector conversions do so: a value converted here and one converted by them must agree
 * wherever the block puts it), a NaN stays a NaN */
static inline uint16_t to_bf16(float f)
{
  uint32_t u;
  memcpy(&u, &f, 4);
  if ((u & 0x7fffffffu) > 0x7f800000u) return (uint16_t) ((u >> 16) | 0x40);
  if (!(u & 0x7f800000u)) return (uint16_t) ((u >> 16) & 0x8000u);
  return (uint16_t) ((u + 0x7fffu + ((u >> 16) & 1u)) >> 16);
}

/* the layer's tiling (L->s set): Cp, KC, P, Cq, the chunks and the tiles. P halved until the run
 * (KX + P - 1) Cp is one chunk; KC: the largest even divisor of the run up to 32; where that is
 * under 16 with a run over 32, Cp is raised to a multiple of 32 */
static void tiling(AmxLayer *L)
{
  const GyreConvShape *s  = &L->s;
  int                  cq = 1;
  while (cq < s->Cout)
    cq *= 2;
  L->tr = s->Cout == 1 && !L->ky2 && s->Y >= 16 && s->X >= 16 && s->KY <= 16;
  L->P  = cq <= 8 && !L->tr ? 16 / cq : 1;
  L->P  = L->P > 8 ? 8 : L->P;
  L->P  = L->P > s->X ? s->X : L->P; /* (a tile row within the row: R = X / P >= 1) */
  L->cq = L->P > 1 ? cq : 16;
  L->cp = s->Cin + (s->Cin & 1);
  while (L->P > 1 && (s->KX + L->P - 1) * L->cp > 32) /* P > 1 in one chunk only (above) */
    L->P /= 2;
  if (L->P == 1) L->cq = 16;
  const int run = (s->KX + L->P - 1) * L->cp;
  L->kc         = 32;
  while (run % L->kc) /* (run is even) */
    L->kc -= 2;
  if (L->kc < 16 && run > 32) L->cp = (s->Cin + 31) / 32 * 32, L->kc = 32;
  L->kr  = L->tr ? s->KY + 15 : L->ky2 ? (s->KY + 1) / 2 : s->KY;
  L->nch = (s->KX + L->P - 1) * L->cp / L->kc;
  L->nt  = L->P > 1 ? 1 : (s->Cout + 15) / 16;
}

/* the output channel of tile t's column n (-1: none) */
static int column_channel(const AmxLayer *L, int t, int n)
{
  if (L->tr) return 0; /* (every column: an output row of the one channel) */
  const int o = L->P > 1 ? (n / L->cq < L->P ? n % L->cq : -1) : 16 * t + n;
  return o >= 0 && o < L->s.Cout ? o : -1;
}

/* the weights as tiles of AMX's B operand: tile (t, ky, c), row j, column n, pair p holds
 * W[o][i][ky][kx] for the column's channel o, with (q + kx) Cp + i = KC c + 2 j + p where q is
 * the column's pixel (0 where P = 1); zero for padding channels, other pixels' taps, no channel.
 * With two input rows a pixel (ky2), tile row ky holds kernel rows 2 ky + i of channel 0 */
static void pack_weights(const AmxLayer *L, const float *W, uint16_t *wt)
{
  const GyreConvShape *s   = &L->s;
  const int            nch = L->nch, kc = L->kc, cp = L->cp;
  memset(wt, 0, sizeof(uint16_t) * 512 * (size_t) L->nt * L->kr * nch);
  for (int t = 0; t < L->nt; t++)
    for (int ky = 0; ky < L->kr; ky++)
      for (int c = 0; c < nch; c++) {
        uint16_t *tile = wt + 512 * ((size_t) (t * L->kr + ky) * nch + c);
        for (int j = 0; j < kc / 2; j++)
          for (int p = 0; p < 2; p++) {
            const int k = kc * c + 2 * j + p, u = k / cp;
            const int i = L->ky2 ? 0 : k % cp, row = L->ky2 ? 2 * ky + k % cp : ky;
            if (i >= s->Cin || (!L->tr && row >= s->KY)) continue;
            for (int n = 0; n < 16; n++) {
              const int o = column_channel(L, t, n), kx = u - (L->P > 1 ? n / L->cq : 0);
              const int r = L->tr ? row - n : row; /* tr: input row ky of output row n */
              if (o < 0 || kx < 0 || kx >= s->KX || r < 0 || r >= s->KY) continue;
              tile[32 * j + 2 * n + p] =
                  to_bf16(W[(((size_t) o * s->Cin + i) * s->KY + r) * s->KX + kx]);
            }
          }
      }
}

/* each column's bias, batch-norm scale (gamma invstd, as bn_forward's) and shift (beta - mean
 * scale, one rounding) into L->lane: the tiles' columns (nt x 16, each its channel or none), or
 * on the planar path one a channel */
static void lanes(AmxLayer *L, const GyreConvPostLayer *p)
{
  const size_t nl = planar_on ? (size_t) L->s.Cout : 16 * (size_t) L->nt;
  memset(L->lane, 0, sizeof(float) * 3 * nl);
  L->bn = p->mean != NULL;
  for (size_t k = 0; k < nl; k++) {
    const int o = planar_on ? (int) k : column_channel(L, (int) k / 16, (int) k % 16);
    if (o < 0) continue;
    L->lane[k] = p->b && p->b->data ? p->b->data[o] : 0.0f;
    if (!L->bn) continue;
    const float sc      = p->gamma[o] * p->invstd[o]; /* (bn_forward's scale) */
    L->lane[nl + k]     = sc;
    L->lane[2 * nl + k] = fmaf(-p->mean[o], sc, p->beta[o]);
  }
}

/* the padded NHWC buffer's size for a layer's input: (Y + 2 PY)(X + 2 PX) Cp */
static size_t padded_len(const AmxLayer *L)
{
  return (size_t) (L->s.Y + 2 * L->s.PY) * (L->s.X + 2 * L->s.PX) * L->cp;
}

/* the padding of buf (layer L's NHWC input, its interior written): circular wrap or zeros */
static void fill_halo(const AmxLayer *L, uint16_t *buf)
{
  const GyreConvShape *s = &L->s;
  const int            Y = s->Y, X = s->X, PY = s->PY, PX = s->PX, C = L->cp, Xp = X + 2 * PX;
  const size_t         row = (size_t) Xp * C;
  for (int yy = PY; yy < PY + Y; yy++) {
    uint16_t *r = buf + yy * row;
    if ((!s->circ || PX <= X) && C == 2) { /* (a pair a pixel: no call a pixel) */
      bf16_pair *q = (bf16_pair *) r;
      for (int xx = 0; xx < PX; xx++)
        q[xx] = s->circ ? q[X + xx] : 0, q[PX + X + xx] = s->circ ? q[PX + xx] : 0;
      continue;
    }
    if (s->circ && PX <= X) { /* the row's last PX pixels on the left, its first on the right */
      memcpy(r, r + (size_t) X * C, sizeof(uint16_t) * PX * C);
      memcpy(r + (size_t) (PX + X) * C, r + (size_t) PX * C, sizeof(uint16_t) * PX * C);
      continue;
    }
    for (int xx = 0; xx < PX; xx++) {
      uint16_t *l = r + (size_t) xx * C, *h = r + (size_t) (PX + X + xx) * C;
      if (!s->circ) {
        memset(l, 0, sizeof(uint16_t) * C), memset(h, 0, sizeof(uint16_t) * C);
        continue;
      }
      int sl = (xx - PX) % X, sh = xx % X; /* the source columns of l and h */
      if (sl < 0) sl += X;
      memcpy(l, r + (size_t) (PX + sl) * C, sizeof(uint16_t) * C);
      memcpy(h, r + (size_t) (PX + sh) * C, sizeof(uint16_t) * C);
    }
  }
  for (int yy = 0; yy < PY; yy++) {
    uint16_t *lo = buf + yy * row, *hi = buf + (size_t) (PY + Y + yy) * row;
    if (!s->circ) {
      memset(lo, 0, sizeof(uint16_t) * row), memset(hi, 0, sizeof(uint16_t) * row);
      continue;
    }
    int sl = (yy - PY) % Y, sh = yy % Y;
    if (sl < 0) sl += Y;
    memcpy(lo, buf + (size_t) (PY + sl) * row, sizeof(uint16_t) * row);
    memcpy(hi, buf + (size_t) (PY + sh) * row, sizeof(uint16_t) * row);
  }
}

/* the source row (column) of padded row r of Y rows padded by PY: -1 for zero padding (and
 * beyond the padded rows) */
static inline int padded_source(int r, int Y, int PY, int circ)
{
  int ys = r - PY;
  if (ys >= 0 && ys < Y) return ys;
  if (!circ || r >= Y + 2 * PY) return -1;
  while (ys < 0) /* (no division: a few rows of padding, wrapped once unless Y is tiny) */
    ys += Y;
  while (ys >= Y)
    ys -= Y;
  return ys;
}

/* fp32 rows a and b (NULL: zeros) as n bf16 pairs (a's value low, b's high) into d */
AMX_TARGET static void pair_row(const float *a, const float *b, uint32_t *d, int n)
{
  int i = 0;
  for (; i + 16 <= n; i += 16) {
    const __m512  va = a ? _mm512_loadu_ps(a + i) : _mm512_setzero_ps();
    const __m512  vb = b ? _mm512_loadu_ps(b + i) : _mm512_setzero_ps();
    const __m512i lo = _mm512_cvtepu16_epi32((__m256i) _mm512_cvtneps_pbh(va));
    const __m512i hi = _mm512_cvtepu16_epi32((__m256i) _mm512_cvtneps_pbh(vb));
    _mm512_storeu_si512(d + i, _mm512_or_si512(lo, _mm512_slli_epi32(hi, 16)));
  }
  for (; i < n; i++)
    d[i] = (uint32_t) (a ? to_bf16(a[i]) : 0) | (uint32_t) (b ? to_bf16(b[i]) : 0) << 16;
}

/* a 1-channel sample x (Y, X) as two input rows a pixel (ky2): pixel (yy, xx) of the padded
 * buffer holds the padded input at (yy, xx) and (yy + 1, xx) (0 past the last padded row) */
AMX_TARGET static void load_input_rows(const AmxLayer *L, const float *x, uint32_t *buf)
{
  const GyreConvShape *s = &L->s;
  const int            Y = s->Y, X = s->X, PY = s->PY, PX = s->PX, Xp = X + 2 * PX;
  for (int yy = 0; yy < Y + 2 * PY; yy++) {
    const int    r0 = padded_source(yy, Y, PY, s->circ), r1 = padded_source(yy + 1, Y, PY, s->circ);
    const float *s0 = r0 < 0 ? NULL : x + (size_t) r0 * X,
                *s1 = r1 < 0 ? NULL : x + (size_t) r1 * X;
    uint32_t *d     = buf + (size_t) yy * Xp;
    pair_row(s0, s1, d + PX, X);
    for (int k = 0; k < 2 * PX; k++) { /* the padding columns */
      const int      xx = k < PX ? k : X + k;
      const int      xs = padded_source(xx, X, PX, s->circ);
      const uint32_t u0 = s0 && xs >= 0 ? to_bf16(s0[xs]) : 0,
                     u1 = s1 && xs >= 0 ? to_bf16(s1[xs]) : 0;
      d[xx]             = u0 | u1 << 16;
    }
  }
}

/* the network's input sample x (Cin, Y, X) fp32 into layer L's padded NHWC bf16 buffer */
AMX_TARGET static void load_input(const AmxLayer *L, const float *x, uint16_t *buf)
{
  const GyreConvShape *s = &L->s;
  if (L->ky2) {
    load_input_rows(L, x, (uint32_t *) buf);
    return;
  }
  const int    Y = s->Y, X = s->X, C = s->Cin, cp = L->cp, Xp = X + 2 * s->PX;
  const size_t plane = (size_t) Y * X;
  for (int y = 0; y < Y; y++) {
    uint16_t *r = buf + ((size_t) (y + s->PY) * Xp + s->PX) * cp;
    if (C == 1 && cp == 2) { /* a value and a zero a pixel: the planar path's pairs */
      pair_row(x + (size_t) y * X, NULL, (uint32_t *) r, X);
      continue;
    }
    for (int i = 0; i < X; i++)
      for (int c = 0; c < cp; c++)
        r[(size_t) i * cp + c] = c < C ? to_bf16(x[c * plane + (size_t) y * X + i]) : 0;
  }
  fill_halo(L, buf);
}

/* R accumulator rows cb (16 values each) + b, ReLU, batch norm (x sc + sh), as bf16 rows step
 * values apart from p: a hidden layer's common epilogue (two rows a conversion and a store where
 * their 32 values are contiguous) */
AMX_TARGET static inline void relu_bn_rows(const float *cb, int R, uint16_t *p, size_t step,
                                           __m512 b, __m512 sc, __m512 sh)
{
  const __m512 zero = _mm512_setzero_ps();
  int          r    = 0;
  if (step == 16)
    for (; r + 2 <= R; r += 2, p += 32) {
      __m512 v0 = _mm512_max_ps(_mm512_add_ps(_mm512_loadu_ps(cb + 16 * r), b), zero);
      __m512 v1 = _mm512_max_ps(_mm512_add_ps(_mm512_loadu_ps(cb + 16 * r + 16), b), zero);
      v0        = _mm512_fmadd_ps(v0, sc, sh);
      v1        = _mm512_fmadd_ps(v1, sc, sh);
      _mm512_storeu_si512(p, (__m512i) _mm512_cvtne2ps_pbh(v1, v0));
    }
  for (; r < R; r++, p += step) {
    __m512 v = _mm512_max_ps(_mm512_add_ps(_mm512_loadu_ps(cb + 16 * r), b), zero);
    v        = _mm512_fmadd_ps(v, sc, sh);
    _mm256_storeu_si256((__m256i *) p, (__m256i) _mm512_cvtneps_pbh(v));
  }
}

/* R accumulator rows cb (16 columns each) after the bias b, the activation (ReLU as the
 * activation loops': v > 0 ? v : 0, by max(v, 0); GELU and tanh by GyreCPUActRange) and the batch
 * norm (x sc + sh), in place */
AMX_TARGET static void post_rows(const AmxLayer *L, int R, float *cb, int avx, __m512 b, __m512 sc,
                                 __m512 sh)
{
  const int    inreg = L->act < 0 || L->act == GYRE_ACT_RELU;
  const __m512 zero  = _mm512_setzero_ps();
  if (!inreg) {
    for (int r = 0; r < R; r++)
      _mm512_storeu_ps(cb + 16 * r, _mm512_add_ps(_mm512_loadu_ps(cb + 16 * r), b));
    GyreCPUActRange((GyreActivation) L->act, avx, cb, cb, (size_t) 16 * R);
  }
  for (int r = 0; r < R && (inreg || L->bn); r++) {
    __m512 v = _mm512_loadu_ps(cb + 16 * r);
    if (inreg) {
      v = _mm512_add_ps(v, b);
      if (L->act == GYRE_ACT_RELU) v = _mm512_max_ps(v, zero);
    }
    if (L->bn) v = _mm512_fmadd_ps(v, sc, sh);
    _mm512_storeu_ps(cb + 16 * r, v);
  }
}

/* the accumulator tile cb (R rows from column x0 of row y: pixels x0 + r P + q; tile t's
 * columns) after its bias, activation and batch norm: into the next layer's padded NHWC bf16
 * buffer (layer nl's, next), or into the fp32 output sample out (C, Y, X). The common cases in one
 * pass (relu_bn_rows; the last layer's bias); else post_rows in place, then the stores. Columns
 * without a channel hold 0. */
AMX_TARGET static void epilogue(const AmxLayer *L, int t, int R, int y, int x0, float *cb, int avx,
                                const AmxLayer *nl, uint16_t *next, float *out)
{
  const GyreConvShape *s     = &L->s;
  const int            P     = L->P;
  const size_t         nlane = 16 * (size_t) L->nt;
  const float         *lb    = L->lane + 16 * (size_t) t;
  const __m512         b     = _mm512_loadu_ps(lb);
  const __m512         sc = _mm512_loadu_ps(lb + nlane), sh = _mm512_loadu_ps(lb + 2 * nlane);
  /* next: tile t's channels stored whole where a pixel's columns are its stored channels (Cq =
   * Cp' with P > 1; with P = 1, channels 16 t .. of Cp'), then any padding channels past the
   * tiles; else value by value */
  const int       cpn  = next ? nl->cp : 0;
  const int       fast = next && (P > 1 ? L->cq == cpn : 1);
  const int       w    = P > 1 ? P * cpn : (cpn - 16 * t < 16 ? cpn - 16 * t : 16);
  const int       end  = P > 1 ? cpn : t == L->nt - 1 ? 16 * L->nt : cpn;
  const __mmask16 mw   = (__mmask16) ((1u << (w > 0 ? w : 0)) - 1u);
  uint16_t       *d =
      next ? next + ((size_t) (y + nl->s.PY) * (s->X + 2 * nl->s.PX) + nl->s.PX + x0) * cpn : NULL;
  /* the common cases in loops of their own, nothing decided a row: a hidden layer's ReLU and
   * batch norm into a whole tile row of the next input; the last layer's P pixels of one channel */
  if (fast && w == 16 && end >= cpn && L->act == GYRE_ACT_RELU && L->bn) {
    relu_bn_rows(cb, R, d + (P > 1 ? 0 : 16 * t), (size_t) P * cpn, b, sc, sh);
    return;
  }
  if (!next && P > 1 && L->cq == 1 && L->act < 0 && !L->bn) {
    float          *o  = out + (size_t) y * s->X + x0;
    const __mmask16 mp = (__mmask16) ((1u << P) - 1u);
    for (int r = 0; r < R; r++, o += P)
      _mm512_mask_storeu_ps(o, mp, _mm512_add_ps(_mm512_loadu_ps(cb + 16 * r), b));
    return;
  }
  post_rows(L, R, cb, avx, b, sc, sh);
  for (int r = 0; r < R && fast; r++) {
    const __m256i h = (__m256i) _mm512_cvtneps_pbh(_mm512_loadu_ps(cb + 16 * r));
    uint16_t     *p = d + (size_t) r * P * cpn;
    if (w == 16) /* (a masked store where fewer) */
      _mm256_storeu_si256((__m256i *) (p + (P > 1 ? 0 : 16 * t)), h);
    else
      _mm256_mask_storeu_epi16(p + (P > 1 ? 0 : 16 * t), mw, h);
    if (end < cpn) memset(p + end, 0, sizeof(uint16_t) * (size_t) (cpn - end));
  }
  if (fast) return;
  const size_t plane = (size_t) s->Y * s->X;
  if (!next && (P == 1 || L->cq == 1)) { /* a tile row: 16 channels of a pixel, or P pixels */
    const int nc = P > 1 ? 1 : s->Cout - 16 * t < 16 ? s->Cout - 16 * t : 16;
    for (int j = 0; j < nc; j++) {
      float *o = out + (16 * t + j) * plane + (size_t) y * s->X + x0;
      if (P > 1)
        for (int r = 0; r < R; r++)
          _mm512_mask_storeu_ps(o + r * P, (__mmask16) ((1u << P) - 1u),
                                _mm512_loadu_ps(cb + 16 * r));
      else
        for (int r = 0; r < R; r++)
          o[r] = cb[16 * r + j];
    }
    return;
  }
  for (int r = 0; r < R; r++)
    for (int n = 0; n < 16; n++) {
      const int o = column_channel(L, t, n), q = P > 1 ? n / L->cq : 0;
      if (o < 0) continue;
      const int xx = x0 + r * P + q;
      if (next) {
        uint16_t *p = d + (size_t) (r * P + q) * cpn;
        p[o]        = to_bf16(cb[16 * r + n]);
        if (o == s->Cout - 1)
          for (int c = s->Cout; c < cpn; c++)
            p[c] = 0;
      } else
        out[o * plane + (size_t) y * s->X + xx] = cb[16 * r + n];
    }
}

/* a block's column: the j-th block of B pixels from block ib, the row's last block shifted back
 * to end at the row's end (its first pixels computed twice, to the same values) */
static inline int block_x(int ib, int j, int B, int X)
{
  return (ib + j) * B < X - B ? (ib + j) * B : X - B;
}

/* accumulators 0 .. G - 1 (G 1-4) += the input tiles at a[0 .. G - 1] (rows stride bytes apart)
 * x weight tile 6, the input tiles 4 and 5 alternating */
AMX_TARGET static inline void products4(const uint16_t *const a[4], int G, long stride)
{
  T_LOAD(4, a[0], stride);
  T_DP(0, 4, 6);
  if (G > 1) {
    T_LOAD(5, a[1], stride);
    T_DP(1, 5, 6);
  }
  if (G > 2) {
    T_LOAD(4, a[2], stride);
    T_DP(2, 4, 6);
  }
  if (G > 3) {
    T_LOAD(5, a[3], stride);
    T_DP(3, 5, 6);
  }
}

/* accumulators 0 .. G - 1 into cb, 256 values each */
AMX_TARGET static inline void store4(float *cb, int G)
{
  T_STORE(0, cb, 64);
  if (G > 1) T_STORE(1, cb + 256, 64);
  if (G > 2) T_STORE(2, cb + 512, 64);
  if (G > 3) T_STORE(3, cb + 768, 64);
}

/* the first n (1-16) values v of a one-channel layer's output row y from column x0: into the fp32
 * output's row, or the next layer's padded NHWC bf16 input (the other stored channels 0) */
AMX_TARGET static inline void put_row16(const AmxLayer *L, const AmxLayer *nl, uint16_t *next,
                                        float *out, int y, int x0, int n, __m512 v)
{
  const GyreConvShape *s = &L->s;
  const __mmask16      m = (__mmask16) ((1u << n) - 1u);
  if (!next) {
    _mm512_mask_storeu_ps(out + (size_t) y * s->X + x0, m, v);
    return;
  }
  const int     cpn = nl->cp;
  uint16_t     *d = next + ((size_t) (y + nl->s.PY) * (s->X + 2 * nl->s.PX) + nl->s.PX + x0) * cpn;
  const __m256i h = (__m256i) _mm512_cvtneps_pbh(v);
  if (cpn == 2) { /* a value and a zero a pixel */
    _mm512_mask_storeu_epi32(d, m, _mm512_cvtepu16_epi32(h));
    return;
  }
  uint16_t hv[16];
  _mm256_storeu_si256((__m256i *) hv, h);
  for (int r = 0; r < n; r++) {
    d[(size_t) r * cpn] = hv[r];
    memset(d + (size_t) r * cpn + 1, 0, sizeof(uint16_t) * (size_t) (cpn - 1));
  }
}

/* the accumulator tile cb of a tr layer (row r: pixel x0 + r; column n: output row y0 + n) after
 * its bias, activation and batch norm (every column the one channel's), transposed by gathers:
 * into the fp32 output's rows y0 .. y0 + 15, or the next layer's padded NHWC bf16 input */
AMX_TARGET static void epilogue_rows(const AmxLayer *L, int y0, int x0, float *cb, int avx,
                                     const AmxLayer *nl, uint16_t *next, float *out)
{
  const int    inreg = L->act < 0 || L->act == GYRE_ACT_RELU;
  const __m512 b     = _mm512_set1_ps(L->lane[0]);
  const int    plain = inreg && !L->bn && L->act < 0; /* (the bias added below) */
  if (!plain)
    post_rows(L, 16, cb, avx, b, _mm512_set1_ps(L->lane[16]), _mm512_set1_ps(L->lane[32]));
  const __m512i idx =
      _mm512_mullo_epi32(_mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0),
                         _mm512_set1_epi32(16));
  for (int n = 0; n < 16; n++) {
    __m512 v = _mm512_i32gather_ps(_mm512_add_epi32(idx, _mm512_set1_epi32(n)), cb, 4);
    if (plain) v = _mm512_add_ps(v, b);
    put_row16(L, nl, next, out, y0 + n, x0, 16, v);
  }
}

/* a tr layer (one output channel): bands of 16 output rows (the last shifted back to end at the
 * last row), 16 pixels a tile row, four blocks of a band at a time. Input row j of a band is one
 * tile load a block (its pixels' runs of KX Cp values, chunk by chunk), multiplied by weight
 * tile j, whose column n holds kernel row j - n (zeros where that is no kernel row): column n
 * sums output row y0 + n's kernel rows in order, the same sums wherever the row lies */
AMX_TARGET static void amx_layer_rows(const AmxLayer *L, const uint16_t *in, int avx,
                                      const AmxLayer *nl, uint16_t *next, float *out, float *cb)
{
  const GyreConvShape *s  = &L->s;
  const int            Xp = s->X + 2 * s->PX, nxb = (s->X + 15) / 16, nyb = (s->Y + 15) / 16;
  const int            nch = L->nch, cp = L->cp, kc = L->kc;
  const long           stride = 2L * cp;
  for (int yi = 0; yi < nyb; yi++) {
    const int y0 = 16 * yi < s->Y - 16 ? 16 * yi : s->Y - 16;
    for (int ib = 0; ib < nxb; ib += 4) {
      const int G = nxb - ib < 4 ? nxb - ib : 4;
      int       x[4];
      for (int j = 0; j < 4; j++)
        x[j] = block_x(ib, j < G ? j : G - 1, 16, s->X);
      T_ZERO(0);
      T_ZERO(1);
      T_ZERO(2);
      T_ZERO(3);
      for (int j = 0; j < L->kr; j++)
        for (int c = 0; c < nch; c++) {
          const uint16_t *ac   = in + (size_t) (y0 + j) * Xp * cp + kc * c;
          const uint16_t *a[4] = {ac + (size_t) x[0] * cp, ac + (size_t) x[1] * cp,
                                  ac + (size_t) x[2] * cp, ac + (size_t) x[3] * cp};
          T_LOAD(6, L->wt + 512 * ((size_t) j * nch + c), 64);
          products4(a, G, stride);
        }
      store4(cb, G);
      for (int j = 0; j < G; j++)
        epilogue_rows(L, y0, x[j], cb + 256 * j, avx, nl, next, out);
    }
  }
}

/* accumulator o (0-3) += input tile 4 x weight tile 5 + w (w 0-2): the tile numbers are
 * immediates, so a switch */
AMX_TARGET static inline void dp_ow(int o, int w)
{
  switch (4 * w + o) {
  case 0:
    T_DP(0, 4, 5);
    break;
  case 1:
    T_DP(1, 4, 5);
    break;
  case 2:
    T_DP(2, 4, 5);
    break;
  case 3:
    T_DP(3, 4, 5);
    break;
  case 4:
    T_DP(0, 4, 6);
    break;
  case 5:
    T_DP(1, 4, 6);
    break;
  case 6:
    T_DP(2, 4, 6);
    break;
  case 7:
    T_DP(3, 4, 6);
    break;
  case 8:
    T_DP(0, 4, 7);
    break;
  case 9:
    T_DP(1, 4, 7);
    break;
  case 10:
    T_DP(2, 4, 7);
    break;
  default:
    T_DP(3, 4, 7);
    break;
  }
}

/* a layer of one tile of columns whose KY x nch weight tiles fit tiles 5-7 (the small CNN's
 * hidden layers): the weights loaded once; the accumulators four output rows y0 .. y0 + 3 (the
 * last four shifted back to end at the last row) at one block column, so that each input row's
 * tile is loaded once for the up to KY products that use it (4 + ys (KY - 1) loads for 4 KY
 * products, where row by row took 4 KY). Each accumulator still takes its kernel rows, then
 * chunks, in order: the sums are the row-by-row path's, bit for bit */
AMX_TARGET static void amx_layer_stack(const AmxLayer *L, const uint16_t *in, int avx,
                                       const AmxLayer *nl, uint16_t *next, float *out, float *cb)
{
  const GyreConvShape *s = &L->s;
  const int            P = L->P, R = s->X / P < 16 ? s->X / P : 16, B = R * P;
  const int            nb = (s->X + B - 1) / B, Xp = s->X + 2 * s->PX;
  const int            nch = L->nch, KY = L->kr, cp = L->cp, kc = L->kc, ys = L->ky2 ? 2 : 1;
  const long           stride = 2L * cp * P;
  /* the common epilogue (epilogue's first loop: one tile's ReLU and batch norm into the next
   * input's 16 contiguous values a tile row) inline, its lanes loaded once */
  const int cpn = next ? nl->cp : 0, Xn = s->X + 2 * (next ? nl->s.PX : 0);
  const int rbn =
      next && L->act == GYRE_ACT_RELU && L->bn && P * cpn == 16 && (P == 1 || L->cq == cpn);
  const __m512 b = _mm512_loadu_ps(L->lane), sc = _mm512_loadu_ps(L->lane + 16),
               sh = _mm512_loadu_ps(L->lane + 32);
  T_LOAD(5, L->wt, 64);
  if (KY * nch > 1) T_LOAD(6, L->wt + 512, 64);
  if (KY * nch > 2) T_LOAD(7, L->wt + 1024, 64);
  for (int yi = 0; yi < s->Y; yi += 4) {
    const int y0 = yi < s->Y - 4 ? yi : s->Y - 4;
    for (int ib = 0; ib < nb; ib++) {
      const int x0 = block_x(ib, 0, B, s->X);
      T_ZERO(0);
      T_ZERO(1);
      T_ZERO(2);
      T_ZERO(3);
      for (int yy = y0; yy < y0 + 4 + ys * (KY - 1); yy++)
        for (int c = 0; c < nch; c++) {
          T_LOAD(4, in + ((size_t) yy * Xp + x0) * cp + kc * c, stride);
          for (int ky = 0; ky < KY; ky++) { /* output row yy - ys ky takes kernel row ky */
            const int o = yy - ys * ky - y0;
            if (o >= 0 && o < 4) dp_ow(o, ky * nch + c);
          }
        }
      store4(cb, 4);
      for (int o = 0; o < 4; o++)
        if (rbn)
          relu_bn_rows(cb + 256 * o, R,
                       next + ((size_t) (y0 + o + nl->s.PY) * Xn + nl->s.PX + x0) * cpn, 16, b, sc,
                       sh);
        else
          epilogue(L, 0, R, y0 + o, x0, cb + 256 * o, avx, nl, next, out);
    }
  }
}

/* one layer of one sample: in, its padded NHWC bf16 input, into next (layer nl's input) or out
 * (the last layer's fp32 output). A tr layer by amx_layer_rows; one tile of columns whose weights
 * fit three tiles by amx_layer_stack; else pixels in blocks of R tile rows of P (R = 16, fewer in
 * rows narrower than 16 P): one tile of columns four blocks at a time, each its own accumulator,
 * the two input tiles alternating; more, two blocks by two tiles of 16 channels at a time. */
AMX_TARGET static void amx_layer(const AmxLayer *L, const uint16_t *in, int avx, const AmxLayer *nl,
                                 uint16_t *next, float *out, float *cb)
{
  const GyreConvShape *s = &L->s;
  const int            P = L->P, R = s->X / P < 16 ? s->X / P : 16, B = R * P;
  const int            nb = (s->X + B - 1) / B, Xp = s->X + 2 * s->PX;
  const int  nch = L->nch, nt = L->nt, KY = L->kr, cp = L->cp, kc = L->kc, ys = L->ky2 ? 2 : 1;
  const long stride = 2L * cp * P;
  /* stack: one tile of columns whose weights fit tiles 5-7 (KY chunks of kernel rows) */
  const int  stack = !L->tr && nt == 1 && KY * nch <= 3 && s->Y >= 4;
  TileConfig cfg;
  memset(&cfg, 0, sizeof cfg);
  cfg.palette = 1;
  for (int i = 0; i < 8; i++) { /* tile 5: an input tile, or with stack a weight tile */
    const int input = i == 4 || (i == 5 && !stack);
    cfg.rows[i]     = (uint8_t) (i < 4 || input ? R : kc / 2);
    cfg.colsb[i]    = (uint16_t) (input ? 2 * kc : 64);
  }
  T_CONFIG(&cfg);
  if (L->tr)
    amx_layer_rows(L, in, avx, nl, next, out, cb);
  else if (stack)
    amx_layer_stack(L, in, avx, nl, next, out, cb);
  else if (nt == 1) /* the blocks of every row in groups of 4 */
    for (int b0 = 0; b0 < s->Y * nb; b0 += 4) {
      const int G = s->Y * nb - b0 < 4 ? s->Y * nb - b0 : 4; /* blocks this time */
      int       x[4], yb[4];
      for (int j = 0; j < 4; j++) {
        const int b = b0 + (j < G ? j : G - 1);
        yb[j] = b / nb, x[j] = block_x(b % nb, 0, B, s->X);
      }
      T_ZERO(0);
      T_ZERO(1);
      T_ZERO(2);
      T_ZERO(3);
      for (int ky = 0; ky < KY; ky++)
        for (int c = 0; c < nch; c++) {
          const uint16_t *ac = in + kc * c;
          const uint16_t *a[4];
          for (int j = 0; j < 4; j++)
            a[j] = ac + ((size_t) (yb[j] + ys * ky) * Xp + x[j]) * cp;
          T_LOAD(6, L->wt + 512 * ((size_t) ky * nch + c), 64);
          products4(a, G, stride);
        }
      store4(cb, G);
      for (int j = 0; j < G; j++)
        epilogue(L, 0, R, yb[j], x[j], cb + 256 * j, avx, nl, next, out);
    }
  else
    for (int y = 0; y < s->Y; y++)
      for (int ib = 0; ib < nb; ib += 2) {
        const int x0 = block_x(ib, 0, B, s->X), x1 = block_x(ib, 1, B, s->X);
        for (int t = 0; t < nt; t += 2) {
          const int       two = t + 1 < nt;
          const uint16_t *w0  = L->wt + 512 * (size_t) t * KY * nch;
          const uint16_t *w1  = w0 + 512 * (size_t) KY * nch;
          T_ZERO(0);
          T_ZERO(1);
          if (two) {
            T_ZERO(2);
            T_ZERO(3);
          }
          for (int ky = 0; ky < KY; ky++) {
            const uint16_t *a0 = in + ((size_t) (y + ys * ky) * Xp + x0) * cp;
            const uint16_t *a1 = in + ((size_t) (y + ys * ky) * Xp + x1) * cp;
            for (int c = 0; c < nch; c++) {
              const size_t wo = 512 * ((size_t) ky * nch + c);
              T_LOAD(4, a0 + kc * c, stride);
              T_LOAD(5, a1 + kc * c, stride);
              T_LOAD(6, w0 + wo, 64);
              T_DP(0, 4, 6);
              T_DP(1, 5, 6);
              if (two) {
                T_LOAD(7, w1 + wo, 64);
                T_DP(2, 4, 7);
                T_DP(3, 5, 7);
              }
            }
          }
          T_STORE(0, cb, 64);
          T_STORE(1, cb + 256, 64);
          if (two) {
            T_STORE(2, cb + 512, 64);
            T_STORE(3, cb + 768, 64);
          }
          epilogue(L, t, R, y, x0, cb, avx, nl, next, out);
          if (x1 != x0) epilogue(L, t, R, y, x1, cb + 256, avx, nl, next, out);
          if (two) {
            epilogue(L, t + 1, R, y, x0, cb + 512, avx, nl, next, out);
            if (x1 != x0) epilogue(L, t + 1, R, y, x1, cb + 768, avx, nl, next, out);
          }
        }
      }
  T_RELEASE();
}

/* ---- The planar path: AVX-512 BF16 without AMX (planar_on) ----
 * Where there are no tiles the chain runs in another layout, with pixels in the vector lanes. A
 * layer's input is planes of bf16 pairs, each plane padded as the NHWC buffers above (Cp = 2: a
 * pair a pixel): plane j holds channels 2 j and 2 j + 1 of each pixel in one 32-bit value (a zero
 * for an odd count's last), or, for a 1-channel first layer (ky2), rows yy and yy + 1 of the
 * input, as load_input_rows stores them, with a second plane of columns xx and xx + 1 for an odd
 * kernel's last row. An accumulator is 16 consecutive pixels of one output
 * channel, and one VDPBF16PS adds to it one pair's two products at each of its pixels: the 16
 * pixels' pair (one load) by the pair's two weights, broadcast (a broadcast costs nothing more
 * here: an AMD EPYC does one such product a cycle, as with both operands in registers).
 * OB output channels by G blocks of 16 pixels are done at once (OB G accumulators in registers;
 * per pair and tap, G loads and OB G products), so every product is a useful one, where the
 * tiles' layouts emulated by VDPBF16PS (this path until 2026-11-28) spent a quarter to a half of
 * theirs on zeros (the small CNN: 26.75 products a pixel against 36, bench/RESULTS.md). Each
 * output pixel's sum is its bias, then its products in one order, the taps (kernel rows, or pairs
 * of rows, then columns) and in each the pairs, whatever block, lane or kernel (pl_group,
 * pl_rows) computes it: the result does not depend on the block, as the tiles' does
 * not (a block of a row's last 16 pixels overlaps the one before, to the same values; a row
 * narrower than 16 is one masked block). Products as VDPBF16PS's (a pair's two products, then
 * the sum), so not bitwise the tiles' results. */

/* the network's input sample x (Cin, Y, X) fp32 into the first layer's planes (padded). A
 * 1-channel first layer (ky2): plane 0 the padded input's rows in pairs (load_input_rows), plane 1
 * its columns in pairs, (yy, xx) and (yy, xx + 1) (0 past the last column), for an odd kernel's
 * last row (taps_planar) */
AMX_TARGET static void pl_load_input(const AmxLayer *L, const float *x, uint32_t *buf)
{
  const GyreConvShape *s     = &L->s;
  const int            Xp    = s->X + 2 * s->PX;
  const size_t         plane = padded_len(L) / 2, xplane = (size_t) s->Y * s->X;
  if (L->ky2) {
    load_input_rows(L, x, buf);
    const __m512i lo = _mm512_set1_epi32(0xffff);
    for (int yy = s->KY - 1; yy < s->Y + 2 * s->PY; yy++) { /* (the rows the last tap reads) */
      const uint32_t *v  = buf + (size_t) yy * Xp;
      uint32_t       *h  = buf + plane + (size_t) yy * Xp;
      int             xx = 0;
      for (; xx + 17 <= Xp; xx += 16) /* (value xx + 16 read: the last vector's next) */
        _mm512_storeu_si512(h + xx,
                            _mm512_or_si512(_mm512_and_si512(_mm512_loadu_si512(v + xx), lo),
                                            _mm512_slli_epi32(_mm512_loadu_si512(v + xx + 1), 16)));
      for (; xx < Xp; xx++)
        h[xx] = (v[xx] & 0xffffu) | (xx + 1 < Xp ? v[xx + 1] << 16 : 0);
    }
    return;
  }
  for (int j = 0; j < L->np; j++) {
    const float *a = x + 2 * j * xplane, *b = 2 * j + 1 < s->Cin ? a + xplane : NULL;
    uint32_t    *p = buf + j * plane;
    for (int y = 0; y < s->Y; y++)
      pair_row(a + (size_t) y * s->X, b ? b + (size_t) y * s->X : NULL,
               p + (size_t) (y + s->PY) * Xp + s->PX, s->X);
    fill_halo(L, (uint16_t *) p);
  }
}

/* the layer's taps, in the order its sums take them: each one's input from a block's first pixel
 * (L->tap, uint32s) and its weight pairs for the output channels (w[t Cout + o]; zeros past the
 * channels or rows). Kernel row ky, column kx, plane j: channels 2 j, 2 j + 1. A 1-channel first
 * layer (ky2): kernel rows 2 k, 2 k + 1 at column kx from plane 0 (rows in pairs), then an odd
 * kernel's last row as column pairs 2 k, 2 k + 1 from plane 1: (KY - 1) / 2 KX + (KX + 1) / 2
 * products (13 for 5 x 5, where rows in pairs alone took 15) */
static int taps_planar(const AmxLayer *L, const float *W, long *tap, uint32_t *w)
{
  const GyreConvShape *s  = &L->s;
  const long           Xp = s->X + 2 * s->PX, plane = (long) padded_len(L) / 2;
  const int            C = s->Cout, KX = s->KX;
  int                  t = 0;
  /* (weight (o, i, r, k), 0 outside the kernel and the channels) */
#define PL_W(o, i, r, k)                                                                           \
  ((i) < s->Cin && (r) < s->KY && (k) < KX                                                         \
       ? (uint32_t) to_bf16(W[(((size_t) (o) *s->Cin + (i)) * s->KY + (r)) * KX + (k)])            \
       : 0u)
  if (L->ky2) {
    for (int k = 0; k + 1 < s->KY; k += 2)
      for (int kx = 0; kx < KX; kx++, t++) {
        if (tap) tap[t] = k * Xp + kx;
        for (int o = 0; w && o < C; o++)
          w[(size_t) t * C + o] = PL_W(o, 0, k, kx) | PL_W(o, 0, k + 1, kx) << 16;
      }
    for (int kx = 0; s->KY % 2 && kx < KX; kx += 2, t++) {
      if (tap) tap[t] = plane + (s->KY - 1) * Xp + kx;
      for (int o = 0; w && o < C; o++)
        w[(size_t) t * C + o] = PL_W(o, 0, s->KY - 1, kx) | PL_W(o, 0, s->KY - 1, kx + 1) << 16;
    }
    return t;
  }
  for (int ky = 0; ky < s->KY; ky++)
    for (int kx = 0; kx < KX; kx++)
      for (int j = 0; j < L->np; j++, t++) {
        if (tap) tap[t] = ky * Xp + kx + j * plane;
        for (int o = 0; w && o < C; o++)
          w[(size_t) t * C + o] = PL_W(o, 2 * j, ky, kx) | PL_W(o, 2 * j + 1, ky, kx) << 16;
      }
  return t;
#undef PL_W
}

/* acc += the 16 lanes' pairs a by the weight pair at wp, broadcast (vpbroadcastd: as fast as
 * VDPBF16PS's embedded broadcast, and the compiler allocates the registers better) */
#define PL_DP(acc, a, wp)                                                                          \
  acc = _mm512_dpbf16_ps(acc, (__m512bh) (a),                                                      \
                         (__m512bh) _mm512_set1_epi32(*(const bf16_pair *) (wp)))

/* the sums acc[o G + g] (each from its bias) of output channels o0 .. o0 + OB - 1 at G blocks of
 * 16 pixels (block g: row yb[g], columns xb[g] on, the lanes of m) after their activation and
 * batch norm: into the next layer's planes (two channels a plane) or the fp32 output (OB and G
 * constants: the loops unrolled, the accumulators in registers) */
AMX_TARGET static inline __attribute__((always_inline)) void
pl_post(const AmxLayer *L, __m512 *acc, const int OB, const int G, int o0, const int *yb,
        const int *xb, __mmask16 m, int avx, const AmxLayer *nl, uint32_t *next, float *out)
{
  const GyreConvShape *s  = &L->s;
  const int            Co = s->Cout;
  /* for GELU and tanh the sums out of the registers first (their call, with accumulators live,
   * made the compiler keep some on the stack through the products) */
  const int call = L->act >= 0 && L->act != GYRE_ACT_RELU;
  float     cb[16][16] __attribute__((aligned(64)));
  if (call)
#pragma GCC unroll 16
    for (int k = 0; k < OB * G; k++)
      _mm512_store_ps(cb[k], acc[k]);
  if (call) GyreCPUActRange((GyreActivation) L->act, avx, cb[0], cb[0], (size_t) 16 * OB * G);
  const __m512  zero   = _mm512_setzero_ps();
  const int     Xn     = next ? s->X + 2 * nl->s.PX : 0;
  const size_t  nplane = next ? padded_len(nl) / 2 : 0, oplane = (size_t) s->Y * s->X;
  const __m512i ilv = _mm512_set_epi16(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8,
                                       23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
  /* channels two at a time (a plane of the next input; o0 is even: OB is 8, 4, 2 or a last 1),
   * their scales and shifts broadcast once for the G blocks */
#pragma GCC unroll 4
  for (int o = 0; o < OB; o += 2) {
    const int    c = o0 + o, two = o + 1 < OB;
    const __m512 s0 = _mm512_set1_ps(L->lane[Co + c]), h0 = _mm512_set1_ps(L->lane[2 * Co + c]);
    const __m512 s1 = two ? _mm512_set1_ps(L->lane[Co + c + 1]) : zero;
    const __m512 h1 = two ? _mm512_set1_ps(L->lane[2 * Co + c + 1]) : zero;
#pragma GCC unroll 16
    for (int g = 0; g < G; g++) {
      __m512 v0 = call ? _mm512_load_ps(cb[o * G + g]) : acc[o * G + g];
      __m512 v1 = !two ? zero : call ? _mm512_load_ps(cb[(o + 1) * G + g]) : acc[(o + 1) * G + g];
      if (L->act == GYRE_ACT_RELU) v0 = _mm512_max_ps(v0, zero), v1 = _mm512_max_ps(v1, zero);
      if (L->bn) v0 = _mm512_fmadd_ps(v0, s0, h0), v1 = two ? _mm512_fmadd_ps(v1, s1, h1) : zero;
      if (next) {
        const __m512i p = _mm512_permutexvar_epi16(ilv, (__m512i) _mm512_cvtne2ps_pbh(v1, v0));
        _mm512_mask_storeu_epi32(next + (size_t) c / 2 * nplane + (size_t) (yb[g] + nl->s.PY) * Xn +
                                     nl->s.PX + xb[g],
                                 m, p);
        continue;
      }
      float *op = out + c * oplane + (size_t) yb[g] * s->X + xb[g];
      _mm512_mask_storeu_ps(op, m, v0);
      if (two) _mm512_mask_storeu_ps(op + oplane, m, v1);
    }
  }
}

/* output channels o0 .. o0 + OB - 1 at G blocks of 16 pixels (block g: row yb[g], columns xb[g]
 * on, the lanes of m): their sums, then pl_post (OB and G constants: the loops unrolled, the
 * accumulators in registers) */
AMX_TARGET static inline __attribute__((always_inline)) void
pl_group(const AmxLayer *L, const uint32_t *in, const int OB, const int G, int o0, const int *yb,
         const int *xb, __mmask16 m, int avx, const AmxLayer *nl, uint32_t *next, float *out)
{
  const GyreConvShape *s  = &L->s;
  const int            Xp = s->X + 2 * s->PX, Co = s->Cout;
  __m512               acc[16]; /* [OB][G] (OB G <= 16: SRA keeps so small an array in registers) */
  const uint32_t      *base[16];
#pragma GCC unroll 16
  for (int g = 0; g < G; g++)
    base[g] = in + (size_t) yb[g] * Xp + xb[g];
#pragma GCC unroll 16
  for (int k = 0; k < OB * G; k++) /* (each sum from its bias) */
    acc[k] = _mm512_set1_ps(L->lane[o0 + k / G]);
  const uint32_t *wp = L->wp + o0;
  for (int t = 0; t < L->ntap; t++, wp += Co) { /* (one loop: the taps' offsets from a table) */
    __m512i a[16];
#pragma GCC unroll 16
    for (int g = 0; g < G; g++)
      a[g] = _mm512_maskz_loadu_epi32(m, base[g] + L->tap[t]);
#pragma GCC unroll 8
    for (int o = 0; o < OB; o++)
#pragma GCC unroll 16
      for (int g = 0; g < G; g++)
        PL_DP(acc[o * G + g], a[g], wp + o);
  }
  pl_post(L, acc, OB, G, o0, yb, xb, m, avx, nl, next, out);
}

/* one output channel (o0) of a layer of 3 kernel rows (not ky2) at R rows from y0 by G blocks of
 * 16 pixels of those rows (columns xb[g] on): each input row's vector loaded once for the up to 3
 * output rows that use it (OB = 1 took a load a product: loads, not products, bounded it), the
 * input rows unrolled so that which output rows take which kernel row is known when compiled (a
 * test a row and product made R = 12 slower than one row at a time). Each output row still takes
 * its kernel rows, then columns and pairs, in order: pl_group's sums, bit for bit */
AMX_TARGET static inline __attribute__((always_inline)) void
pl_rows(const AmxLayer *L, const uint32_t *in, const int R, const int G, int o0, int y0,
        const int *xb, __mmask16 m, int avx, const AmxLayer *nl, uint32_t *next, float *out)
{
  const GyreConvShape *s  = &L->s;
  const int            Xp = s->X + 2 * s->PX, Co = s->Cout;
  const int            nr = L->s.KX * L->np; /* a kernel row's pairs (the taps of ky = 0) */
  __m512               acc[16];              /* [R][G] */
  int                  yv[16], xv[16];
#pragma GCC unroll 16
  for (int k = 0; k < R * G; k++)
    acc[k] = _mm512_set1_ps(L->lane[o0]), yv[k] = y0 + k / G, xv[k] = xb[k % G];
#pragma GCC unroll 14
  for (int t = 0; t < R + 2;
       t++) { /* input rows y0 + t: output row y0 + q takes kernel row t - q */
    const uint32_t *row = in + (size_t) (y0 + t) * Xp;
    for (int u = 0; u < nr; u++) {
      __m512i a[16];
#pragma GCC unroll 16
      for (int g = 0; g < G; g++)
        a[g] = _mm512_maskz_loadu_epi32(m, row + L->tap[u] + xb[g]);
#pragma GCC unroll 16
      for (int q = 0; q < R; q++)
        if (t - q >= 0 && t - q < 3)
#pragma GCC unroll 16
          for (int g = 0; g < G; g++)
            PL_DP(acc[q * G + g], a[g], L->wp + ((size_t) (t - q) * nr + u) * Co + o0);
    }
  }
  pl_post(L, acc, 1, R * G, o0, yv, xv, m, avx, nl, next, out);
}

/* pl_group's shapes, each a function of its own (inlined into one, the compiler kept a third of
 * the accumulators on the stack) */
#define PL_GROUP_FN(OB, G)                                                                         \
  AMX_TARGET static __attribute__((noinline)) void pl_group_##OB##x##G(                            \
      const AmxLayer *L, const uint32_t *in, int o0, const int *yb, const int *xb, __mmask16 m,    \
      int avx, const AmxLayer *nl, uint32_t *next, float *out)                                     \
  {                                                                                                \
    pl_group(L, in, OB, G, o0, yb, xb, m, avx, nl, next, out);                                     \
  }
PL_GROUP_FN(8, 2)
PL_GROUP_FN(4, 4)
PL_GROUP_FN(2, 8)
PL_GROUP_FN(1, 12)
#undef PL_GROUP_FN
#define PL_ROWS_FN(R, G)                                                                           \
  AMX_TARGET static __attribute__((noinline)) void pl_rows_##R##x##G(                              \
      const AmxLayer *L, const uint32_t *in, int o0, int y0, const int *xb, __mmask16 m, int avx,  \
      const AmxLayer *nl, uint32_t *next, float *out)                                              \
  {                                                                                                \
    pl_rows(L, in, R, G, o0, y0, xb, m, avx, nl, next, out);                                       \
  }
PL_ROWS_FN(3, 4)
PL_ROWS_FN(6, 2)
PL_ROWS_FN(12, 1)
#undef PL_ROWS_FN

/* one layer of one sample on the planar path: every output channel in groups of 8 (4, 2, 1 for
 * the rest), each at every block of 16 pixels of every row, G blocks at a time (the group's last
 * blocks repeated where fewer remain) */
AMX_TARGET static void pl_layer(const AmxLayer *L, const uint32_t *in, int avx, const AmxLayer *nl,
                                uint32_t *next, float *out)
{
  const GyreConvShape *s = &L->s;
  const int            n = s->X < 16 ? s->X : 16, nb = (s->X + n - 1) / n, NB = s->Y * nb;
  const __mmask16      m = (__mmask16) ((1u << n) - 1u);
  for (int o0 = 0; o0 < s->Cout;) {
    const int r = s->Cout - o0, OB = r >= 8 ? 8 : r >= 4 ? 4 : r >= 2 ? 2 : 1;
    const int G = OB == 8 ? 2 : OB == 4 ? 4 : OB == 2 ? 8 : 12;
    /* one channel of 3 kernel rows: by bands of R rows (the last shifted back to end at the last
     * row), gr blocks of a band's rows at a time (R gr = 12): the shape that computes the fewest
     * blocks (bands times groups, each 12 blocks), the most blocks at a time among equals; none
     * where Y < R (then, and for other kernels, as the other channel groups) */
    int gr = 0, R = 0;
    for (int g = 4, best = 0; g >= 1; g /= 2) {
      const int rr = 12 / g, work = (s->Y + rr - 1) / rr * ((nb + g - 1) / g);
      if (s->Y >= rr && (!gr || work < best)) gr = g, R = rr, best = work;
    }
    if (OB == 1 && gr && L->kr == 3 && !L->ky2) {
      for (int yi = 0; yi < s->Y; yi += R)
        for (int ib = 0; ib < nb; ib += gr) {
          const int y0 = yi < s->Y - R ? yi : s->Y - R;
          int       xb[4];
          for (int j = 0; j < gr; j++)
            xb[j] = block_x(ib, j, n, s->X);
          if (gr == 4)
            pl_rows_3x4(L, in, o0, y0, xb, m, avx, nl, next, out);
          else if (gr == 2)
            pl_rows_6x2(L, in, o0, y0, xb, m, avx, nl, next, out);
          else
            pl_rows_12x1(L, in, o0, y0, xb, m, avx, nl, next, out);
        }
      o0++;
      continue;
    }
    for (int b0 = 0; b0 < NB; b0 += G) {
      int yb[16], xb[16];
      for (int j = 0; j < G; j++) {
        const int b = b0 + j < NB ? b0 + j : NB - 1;
        yb[j] = b / nb, xb[j] = block_x(b % nb, 0, n, s->X);
      }
      if (OB == 8)
        pl_group_8x2(L, in, o0, yb, xb, m, avx, nl, next, out);
      else if (OB == 4)
        pl_group_4x4(L, in, o0, yb, xb, m, avx, nl, next, out);
      else if (OB == 2)
        pl_group_2x8(L, in, o0, yb, xb, m, avx, nl, next, out);
      else
        pl_group_1x12(L, in, o0, yb, xb, m, avx, nl, next, out);
    }
    o0 += OB;
  }
}
#undef PL_DP
#endif

#if CONV_AMX
/* what a chain's calls keep (the caller's *cache): the layers' tiling, packed weights and lanes,
 * the activation buffers, for the chain whose signature (its shapes, options and parameters'
 * bits) they were made for */
typedef struct {
  unsigned char *sig;
  size_t         siglen;
  int            n;
  size_t         blen;
  AmxLayer      *L;
  uint16_t      *wt, *buf;
  float         *lane, *cb, *xn; /* xn: a normalised input sample */
  long          *tap;            /* planar: the layers' tap offsets */
} ChainCache;

static void cache_free(ChainCache *c)
{
  if (!c) return;
  free(c->sig), free(c->L), free(c->wt), free(c->buf), free(c->lane), free(c->cb), free(c->xn);
  free(c->tap);
  free(c);
}

/* a chain's signature, walked piece by piece: counted (sig NULL), written (write), or compared
 * with a stored one (same: 0 from the first difference) */
typedef struct {
  unsigned char *sig;
  size_t         len, at;
  int            write, same;
} Sig;

static void sig_add(Sig *g, const void *p, size_t bytes)
{
  if (g->sig && g->write)
    memcpy(g->sig + g->at, p, bytes);
  else if (g->sig && g->same)
    g->same = g->at + bytes <= g->len && !memcmp(g->sig + g->at, p, bytes);
  g->at += bytes;
}

/* x's shape, each layer's weights' shape, padding, activation and its parameters' bits (a network
 * whose weights changed in place is packed again): compared by memcmp, a few hundred cycles for a
 * small CNN, where a hash of the same bits took thousands */
static void chain_sig(Sig *g, int n, const GyreConvPostLayer *layers, const GyreTensor *x)
{
  sig_add(g, &n, sizeof n), sig_add(g, &x->ndim, sizeof x->ndim);
  sig_add(g, x->shape, sizeof(int64_t) * x->ndim);
  for (int l = 0; l < n; l++) {
    const GyreConvPostLayer *p    = &layers[l];
    const size_t             C    = (size_t) p->W->shape[0];
    const int                o[4] = {(int) p->pad, p->act, p->b && p->b->data, p->mean != NULL};
    sig_add(g, o, sizeof o), sig_add(g, &p->W->ndim, sizeof p->W->ndim);
    sig_add(g, p->W->shape, sizeof(int64_t) * p->W->ndim);
    sig_add(g, p->W->data, sizeof(float) * p->W->size);
    if (o[2]) sig_add(g, p->b->data, sizeof(float) * C);
    if (o[3]) {
      sig_add(g, p->mean, sizeof(float) * C), sig_add(g, p->invstd, sizeof(float) * C);
      sig_add(g, p->gamma, sizeof(float) * C), sig_add(g, p->beta, sizeof(float) * C);
    }
  }
}

/* a new cache for the chain, or NULL (*st set where memory ran out; NULL with GYRE_OK: not a
 * chain this op computes) */
static ChainCache *chain_make(int n, const GyreConvPostLayer *layers, const GyreTensor *x,
                              const GyreTensor *y, GyreStatus *st)
{
  ChainCache *c    = calloc(1, sizeof *c);
  size_t      wlen = 0, nlane = 0, ntap = 0;
  *st = GYRE_OK;
  if (!c || !(c->L = calloc((size_t) n, sizeof *c->L))) goto oom;
  c->n  = n;
  Sig g = {0};
  chain_sig(&g, n, layers, x); /* (counted) */
  if (!(c->sig = malloc(g.at))) goto oom;
  c->siglen = g.at, g = (Sig){.sig = c->sig, .len = c->siglen, .write = 1};
  chain_sig(&g, n, layers, x);
  /* each layer's shape from its input's: "same" convolutions keep Y and X */
  int64_t shape[GYRE_TENSOR_MAX_DIMS];
  memcpy(shape, x->shape, sizeof(int64_t) * x->ndim);
  for (int l = 0; l < n; l++) {
    GyreTensor xin = *x;
    memcpy(xin.shape, shape, sizeof shape);
    const GyreConvPostLayer *p = &layers[l];
    GyreConvShape            s = GyreConvShapeOf(&xin, p->W, p->pad);
    AmxLayer                *L = &c->L[l];
    if (p->W->ndim != x->ndim || p->W->shape[1] != s.Cin || s.KX % 2 == 0 || s.KY % 2 == 0 ||
        p->act > (int) GYRE_ACT_TANH) {
      cache_free(c);
      return NULL; /* the caller runs the layers */
    }
    L->s = s, L->act = p->act, L->ky2 = l == 0 && s.Cin == 1 && s.KY > 1;
    if (planar_on) { /* the planar path: planes of pairs */
      L->cp = 2, L->kr = L->ky2 ? (s.KY + 1) / 2 : s.KY, L->np = L->ky2 ? 2 : (s.Cin + 1) / 2;
      L->ntap = taps_planar(L, NULL, NULL, NULL);
      wlen += 2 * (size_t) L->ntap * s.Cout, nlane += 3 * (size_t) s.Cout;
      ntap += (size_t) L->ntap;
      if (L->np * padded_len(L) > c->blen) c->blen = L->np * padded_len(L);
      shape[1] = s.Cout;
      continue;
    }
    tiling(L);
    if (L->ky2 && L->cp != 2) /* (a kernel so wide that its run is stored padded to 32) */
      L->ky2 = 0, tiling(L);
    wlen += 512 * (size_t) L->nt * L->kr * L->nch;
    nlane += 48 * (size_t) L->nt;
    if (padded_len(L) > c->blen) c->blen = padded_len(L);
    shape[1] = s.Cout;
  }
  if (shape[1] != y->shape[1]) {
    cache_free(c);
    return NULL;
  }
  c->wt = malloc(sizeof(uint16_t) * wlen), c->buf = malloc(sizeof(uint16_t) * 2 * c->blen);
  c->lane = malloc(sizeof(float) * nlane), c->cb = aligned_alloc(64, sizeof(float) * 1024);
  if (!c->wt || !c->buf || !c->lane || !c->cb) goto oom;
  if (ntap && !(c->tap = malloc(sizeof(long) * ntap))) goto oom;
  ntap = 0;
  for (int l = 0, w = 0, k = 0; l < n; l++) {
    AmxLayer *L = &c->L[l];
    L->wt = c->wt + w, L->lane = c->lane + k;
    if (planar_on) {
      L->wp = (uint32_t *) L->wt, L->tap = c->tap + ntap;
      taps_planar(L, layers[l].W->data, L->tap, L->wp);
      ntap += (size_t) L->ntap;
      lanes(L, &layers[l]);
      w += 2 * L->ntap * L->s.Cout, k += 3 * L->s.Cout;
      continue;
    }
    pack_weights(L, layers[l].W->data, L->wt);
    lanes(L, &layers[l]);
    w += 512 * L->nt * L->kr * L->nch;
    k += 48 * L->nt;
  }
  return c;
oom:
  cache_free(c);
  *st = GyreStatusSet(GYRE_ERR_MEM, "cpu conv_chain_forward: out of memory");
  return NULL;
}
#endif

/* at bf16 the chains run here (every chain of convolutions with odd kernels, each followed by at
 * most an activation and a batch norm: all that GyreNetConvChain counts), each output pixel the
 * same sum wherever it lies (above) */
int GyreCPUConvChainExact(GyreBackend *be)
{
  return !strcmp(GyreBackendPrecision(be), "bf16") && GyreCPUBF16Kind() > 0;
}

void GyreCPUConvChainCacheFree(GyreBackend *be, void *cache)
{
  (void) be;
#if CONV_AMX
  cache_free(cache);
#else
  (void) cache;
#endif
}

GyreStatus GyreCPUConvChainForward(GyreBackend *be, int n, const GyreConvPostLayer *layers,
                                   const GyreMLPAffine *aff, const GyreTensor *x, GyreTensor *y,
                                   void **cache, int *done)
{
  *done = 0;
  if (n < 1 || !GyreCPUConvChainExact(be)) return GYRE_OK; /* (fp32, or no bf16 here) */
#if CONV_AMX
  ChainCache *c = *cache;
  if (c) {
    Sig g = {.sig = c->sig, .len = c->siglen, .same = 1};
    chain_sig(&g, n, layers, x);
    if (!g.same || g.at != c->siglen) cache_free(c), c = NULL;
  }
  if (!c) {
    GyreStatus st;
    *cache = c = chain_make(n, layers, x, y, &st);
    if (!c) return st;
  }
  if (aff && !c->xn &&
      !(c->xn = malloc(sizeof(float) * (size_t) c->L[0].s.Cin * c->L[0].s.Y * c->L[0].s.X)))
    return GyreStatusSet(GYRE_ERR_MEM, "cpu conv_chain_forward: out of memory");
  const AmxLayer *L      = c->L;
  const int       avx    = GyreCPUGeluAVX2();
  const size_t    xplane = (size_t) L[0].s.Cin * L[0].s.Y * L[0].s.X;
  const size_t    yplane = (size_t) L[n - 1].s.Cout * L[n - 1].s.Y * L[n - 1].s.X;
  for (int i = 0; i < L[0].s.N; i++) {
    uint16_t    *cur = c->buf, *nxt = c->buf + c->blen;
    const float *xi = x->data + i * xplane;
    if (aff) { /* normalised into c->xn, channel by channel */
      const size_t plane = (size_t) L[0].s.Y * L[0].s.X;
      for (int j = 0; j < L[0].s.Cin; j++)
        GyreCPUAffine(0, xi + j * plane, c->xn + j * plane, plane, aff->in_mean[j], aff->in_inv[j],
                      1);
      xi = c->xn;
    }
    for (int l = 0; l < n && planar_on; l++) { /* the planar path */
      const int last = l == n - 1;
      if (l == 0) pl_load_input(&L[0], xi, (uint32_t *) cur);
      pl_layer(&L[l], (uint32_t *) cur, avx, last ? NULL : &L[l + 1],
               last ? NULL : (uint32_t *) nxt, y->data + i * yplane);
      for (int j = 0; !last && j < L[l + 1].np; j++)
        fill_halo(&L[l + 1], nxt + j * padded_len(&L[l + 1]));
      uint16_t *t = cur;
      cur = nxt, nxt = t;
    }
    if (!planar_on) load_input(&L[0], xi, cur);
    for (int l = 0; l < n && !planar_on; l++) {
      const int last = l == n - 1;
      amx_layer(&L[l], cur, avx, last ? NULL : &L[l + 1], last ? NULL : nxt, y->data + i * yplane,
                c->cb);
      if (!last) {
        fill_halo(&L[l + 1], nxt);
        uint16_t *t = cur;
        cur = nxt, nxt = t;
      }
    }
    if (aff) { /* back to physical units, channel by channel */
      const size_t plane = (size_t) L[n - 1].s.Y * L[n - 1].s.X;
      for (int j = 0; j < L[n - 1].s.Cout; j++)
        GyreCPUAffine(1, y->data + i * yplane + j * plane, y->data + i * yplane + j * plane, plane,
                      aff->out_mean[j], aff->out_std[j], 1);
    }
  }
  *done = 1;
  return GYRE_OK;
#else
  (void) layers, (void) aff, (void) x, (void) y, (void) cache;
  return GYRE_OK;
#endif
}
