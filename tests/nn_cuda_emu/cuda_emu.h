/* cuda_emu.h — just enough of CUDA's device language, in C++20, to run a kernel on the CPU: a
 * block's threads are std::threads (one per CUDA thread, the blocks one after another), shared
 * memory a kernel's static arrays (one block at a time uses them), __syncthreads a barrier of
 * the block's threads. For tests of the kernels' index and tile logic where no GPU is present
 * (tests/nn_cuda_emu); not for speed. Of the warp-level operations only __syncwarp (a barrier
 * of the warp's threads) and the tensor cores' tf32 fragments (nvcuda::wmma, below) are here;
 * a kernel using others (shuffles, votes, atomics) does not compile. */
#ifndef GYRE_CUDA_EMU_H
#define GYRE_CUDA_EMU_H
#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <thread>
#include <type_traits>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3() = default;
  dim3(unsigned a, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};
struct alignas(8) float2 {
  float x, y;
};
inline float2 make_float2(float x, float y)
{
  return float2{x, y};
}
/* sin(pi x), cos(pi x) (CUDA's within 1 ulp: here in double, rounded once) */
inline void sincospif(float x, float *s, float *c)
{
  const double a = 3.14159265358979323846 * (double) x;
  *s = (float) std::sin(a), *c = (float) std::cos(a);
}

inline thread_local dim3            threadIdx{0, 0, 0}, blockIdx{0, 0, 0};
inline dim3                         blockDim, gridDim;
inline std::barrier<>              *emu_barrier      = nullptr;
inline thread_local std::barrier<> *emu_warp_barrier = nullptr;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __syncthreads() emu_barrier->arrive_and_wait()
#define __syncwarp() emu_warp_barrier->arrive_and_wait()
using std::max;
using std::min;

/* body() run as grid x block: kernel<<<grid, block>>>(...) is emu_launch(grid, block,
 * [&] { kernel(...); }) (a thread's index as CUDA numbers it: x fastest, warps of 32 in that
 * order). One std::thread per CUDA thread for the whole
 * launch, the blocks in turn: every thread ends a block at the barrier before any starts the
 * next, so a block's shared memory (the kernel's static arrays) is one block's at a time. (A
 * kernel's __syncthreads count is the same for every thread of a block, as CUDA requires, so
 * the same barrier serves both.) */
template <class F> void emu_launch(dim3 grid, dim3 block, F body)
{
  const unsigned threads = block.x * block.y * block.z;
  gridDim = grid, blockDim = block;
  std::barrier<>                               bar((std::ptrdiff_t) threads);
  std::vector<std::unique_ptr<std::barrier<>>> warps; /* __syncwarp: one barrier a warp */
  for (unsigned w = 0; w < threads; w += 32)
    warps.push_back(std::make_unique<std::barrier<>>((std::ptrdiff_t) std::min(32u, threads - w)));
  std::vector<std::thread> team;
  emu_barrier = &bar;
  for (unsigned t = 0; t < threads; t++)
    team.emplace_back([&, t] {
      threadIdx        = dim3(t % block.x, t / block.x % block.y, t / (block.x * block.y));
      emu_warp_barrier = warps[t / 32].get();
      for (unsigned z = 0; z < grid.z; z++)
        for (unsigned y = 0; y < grid.y; y++)
          for (unsigned x = 0; x < grid.x; x++) {
            blockIdx = dim3(x, y, z);
            body();
            bar.arrive_and_wait();
          }
    });
  for (auto &th : team)
    th.join();
}

/* The tensor cores' tf32 fragments (CUDA's mma.h), as k_igemm's TC variants use them. Which
 * elements of a fragment a lane holds is unspecified in CUDA (a kernel may only apply the same
 * operation to every element); here lane 0 of a warp holds the whole tile (rows x cols,
 * row-major), loads it, multiplies it and alone stores it, and the other lanes hold zeros (the
 * work done once a warp, not 32 times), so a kernel that reads a stored tile without the
 * __syncwarp CUDA requires races (ThreadSanitizer reports it). mma_sync reads only each
 * operand's tf32 bits, as the hardware does (a kernel that does not round its operands first
 * loses their low bits), sums each element's products in double, then rounds once. A load or
 * store from a pointer not 32-byte aligned, or with ldm not a multiple of 4, aborts (CUDA's
 * rule for tf32 and float fragments). */
namespace nvcuda::wmma {
struct matrix_a {};
struct matrix_b {};
struct accumulator {};
struct row_major {};
struct col_major {};
enum layout_t { mem_row_major, mem_col_major };
namespace precision {
struct tf32 {};
} // namespace precision
template <class Use, int M, int N, int K, class T, class Layout = void> struct fragment {
  static constexpr int rows         = std::is_same_v<Use, matrix_b> ? K : M;
  static constexpr int cols         = std::is_same_v<Use, matrix_a> ? K : N;
  static constexpr int num_elements = rows * cols;
  float                x[num_elements];
};
/* round to nearest, ties away from zero, keeping 10 bits of mantissa (cvt.rna.tf32.f32) */
inline float __float_to_tf32(float v)
{
  if (!std::isfinite(v)) return v;
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u = (u + 0x1000u) & 0xFFFFE000u;
  std::memcpy(&v, &u, 4);
  return v;
}
inline void emu_wmma_check(const void *p, unsigned ldm, const char *what)
{
  if ((uintptr_t) p % 32 || ldm % 4) {
    std::fprintf(stderr,
                 "wmma %s: pointer %p (must be 32-byte aligned), ldm %u (a multiple of 4)\n", what,
                 p, ldm);
    std::abort();
  }
}
/* the operand as the tensor cores read it: its tf32 bits (the low 13 of the mantissa dropped) */
inline double emu_tf32_bits(float v)
{
  uint32_t u;
  std::memcpy(&u, &v, 4);
  u &= 0xFFFFE000u;
  std::memcpy(&v, &u, 4);
  return v;
}
template <class Use, int M, int N, int K, class T, class L>
void load_matrix_sync(fragment<Use, M, N, K, T, L> &f, const float *p, unsigned ldm)
{
  using F = fragment<Use, M, N, K, T, L>;
  emu_wmma_check(p, ldm, "load_matrix_sync");
  if (threadIdx.x % 32) {
    std::fill(f.x, f.x + F::num_elements, 0.0f);
    return;
  }
  for (int r = 0; r < F::rows; r++)
    for (int c = 0; c < F::cols; c++)
      f.x[r * F::cols + c] =
          std::is_same_v<L, col_major> ? p[(size_t) c * ldm + r] : p[(size_t) r * ldm + c];
}
template <class Use, int M, int N, int K, class T, class L>
void fill_fragment(fragment<Use, M, N, K, T, L> &f, float v)
{
  for (auto &e : f.x)
    e = v;
}
template <int M, int N, int K, class T, class LA, class LB>
void mma_sync(fragment<accumulator, M, N, K, float> &d, const fragment<matrix_a, M, N, K, T, LA> &a,
              const fragment<matrix_b, M, N, K, T, LB>    &b,
              const fragment<accumulator, M, N, K, float> &c)
{
  float out[M * N];
  if (threadIdx.x % 32) {
    std::memcpy(d.x, c.x, sizeof out);
    return;
  }
  for (int i = 0; i < M; i++)
    for (int j = 0; j < N; j++) {
      double s = 0;
      for (int k = 0; k < K; k++)
        s += emu_tf32_bits(a.x[i * K + k]) * emu_tf32_bits(b.x[k * N + j]);
      out[i * N + j] = (float) (c.x[i * N + j] + s);
    }
  std::memcpy(d.x, out, sizeof out);
}
template <int M, int N, int K>
void store_matrix_sync(float *p, const fragment<accumulator, M, N, K, float> &f, unsigned ldm,
                       layout_t l)
{
  emu_wmma_check(p, ldm, "store_matrix_sync");
  if (threadIdx.x % 32) return;
  for (int r = 0; r < M; r++)
    for (int c = 0; c < N; c++)
      (l == mem_col_major ? p[(size_t) c * ldm + r] : p[(size_t) r * ldm + c]) = f.x[r * N + c];
}
} // namespace nvcuda::wmma
#endif
