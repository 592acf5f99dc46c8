/* nn_train_check.h — small helpers shared by the tests of tests/nn_train: a checked call,
 * a counted expectation and a deterministic random generator (header-only, static). */
#ifndef NN_TRAIN_CHECK_H
#define NN_TRAIN_CHECK_H
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include "gyre_status.h"

static int nn_failures = 0;

/* a library call that must succeed; aborts the test program with the message otherwise */
#define CHECK(expr)                                                                                \
  do {                                                                                             \
    GyreStatus s_ = (expr);                                                                        \
    if (s_ != GYRE_OK) {                                                                           \
      fprintf(stderr, "%s:%d: %s failed (%d): %s\n", __FILE__, __LINE__, #expr, (int) s_,          \
              GyreStatusMessage());                                                                \
      exit(1);                                                                                     \
    }                                                                                              \
  } while (0)

/* an expectation: prints what was measured against what was allowed, counts failures */
#define EXPECT(cond, ...)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL %s:%d: ", __FILE__, __LINE__);                                         \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
      nn_failures++;                                                                               \
    }                                                                                              \
  } while (0)

/* splitmix64: uniform in [-1, 1) */
static double nn_uniform(uint64_t *state)
{
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z          = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z          = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return (double) (z >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static void nn_fill_uniform(float *x, size_t n, uint64_t seed, double lo, double hi)
{
  for (size_t i = 0; i < n; i++)
    x[i] = (float) (lo + (hi - lo) * (nn_uniform(&seed) + 1.0) / 2.0);
}
#endif
