/* nn_test.h — what the surrogate-library test programs share: a failure counter, CHECK (a
 * library call that must succeed; aborts with its message), EXPECT (a measured condition,
 * counted), a splitmix64 generator and the end of a one-case-per-argument main(). */
#ifndef GYRE_NN_TEST_H
#define GYRE_NN_TEST_H
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>
#include "gyre_nn.h"

static int failures = 0;

static void check_(GyreStatus s, const char *file, int line, const char *expr)
{
  if (s != GYRE_OK) {
    fprintf(stderr, "%s:%d: %s failed (%d): %s\n", file, line, expr, (int) s, GyreStatusMessage());
    MPI_Abort(MPI_COMM_WORLD, 1);
  }
}
/* an expression, so that calls may be joined by commas */
#define CHECK(expr) check_((expr), __FILE__, __LINE__, #expr)

#define EXPECT(cond, ...)                                                                          \
  do {                                                                                             \
    if (!(cond)) {                                                                                 \
      fprintf(stderr, "FAIL %s:%d: %s: ", __FILE__, __LINE__, #cond);                              \
      fprintf(stderr, __VA_ARGS__);                                                                \
      fprintf(stderr, "\n");                                                                       \
      failures++;                                                                                  \
    }                                                                                              \
  } while (0)

/* splitmix64: uniform in [0, 1) */
static inline double nn_uniform01(uint64_t *state)
{
  uint64_t z = (*state += 0x9E3779B97F4A7C15ULL);
  z          = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z          = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return (double) ((z ^ (z >> 31)) >> 11) / 9007199254740992.0;
}

/* The end of main(): an unknown case is a failure; prints the verdict, finalises MPI. */
static int nn_test_finish(const char *c, int known, GyreBackend *be)
{
  if (!known) {
    fprintf(stderr, "unknown case %s\n", c);
    failures++;
  }
  GyreBackendDestroy(&be);
  printf("%s: %s\n", c, failures ? "FAILED" : "passed");
  MPI_Finalize();
  return failures ? 1 : 0;
}
#endif
