/* cuda_emu.h — just enough of CUDA's device language, in C++20, to run a kernel on the CPU: a
 * block's threads are std::threads (one per CUDA thread, the blocks one after another), shared
 * memory a kernel's static arrays (one block at a time uses them), __syncthreads a barrier of
 * the block's threads. For tests of the kernels' index and tile logic where no GPU is present
 * (tests/nn_cuda_emu); not for speed, and no warp-level operations (shuffles, votes, atomics):
 * a kernel using them does not compile here. */
#ifndef GYRE_CUDA_EMU_H
#define GYRE_CUDA_EMU_H
#include <algorithm>
#include <barrier>
#include <cmath>
#include <thread>
#include <vector>

struct dim3 {
  unsigned x = 1, y = 1, z = 1;
  dim3() = default;
  dim3(unsigned a, unsigned b = 1, unsigned c = 1) : x(a), y(b), z(c) {}
};
struct alignas(16) float4 {
  float x, y, z, w;
};

inline thread_local dim3 threadIdx{0, 0, 0}, blockIdx{0, 0, 0};
inline dim3              blockDim, gridDim;
inline std::barrier<>   *emu_barrier = nullptr;

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __launch_bounds__(...)
#define __shared__ static
#define __align__(n) __attribute__((aligned(n)))
#define __syncthreads() emu_barrier->arrive_and_wait()
using std::max;
using std::min;

/* body() run as grid x threads (1-D blocks): kernel<<<grid, threads>>>(...) is
 * emu_launch(grid, threads, [&] { kernel(...); }). One std::thread per CUDA thread for the whole
 * launch, the blocks in turn: every thread ends a block at the barrier before any starts the
 * next, so a block's shared memory (the kernel's static arrays) is one block's at a time. (A
 * kernel's __syncthreads count is the same for every thread of a block, as CUDA requires, so
 * the same barrier serves both.) */
template <class F> void emu_launch(dim3 grid, unsigned threads, F body)
{
  gridDim = grid, blockDim = dim3(threads);
  std::barrier<>           bar((std::ptrdiff_t) threads);
  std::vector<std::thread> team;
  emu_barrier = &bar;
  for (unsigned t = 0; t < threads; t++)
    team.emplace_back([&, t] {
      threadIdx = dim3(t, 0, 0);
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
#endif
