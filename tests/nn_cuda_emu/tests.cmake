# tests/nn_cuda_emu: the CUDA backend's implicit-GEMM convolution kernel (surrogates/cuda/
# igemm.cuh) and the FFT convolution's weight kernels (conv_fft.cuh) run on the CPU by emulating CUDA's threads, shared memory and __syncthreads
# (cuda_emu.h, C++20): every tile variant's index, swizzle and chunk logic is checked in every
# build, with or without a GPU or nvcc (the GPU suite, tests/gpu, checks the real thing where a
# GPU exists). Needs a C++20 compiler with <barrier> (g++ 11 or later: Debian 12's g++ 12 from
# build-essential); said and skipped without one.
include(CheckLanguage)
check_language(CXX)
if(CMAKE_CXX_COMPILER)
  enable_language(CXX)
  include(CheckCXXSourceCompiles)
  set(CMAKE_REQUIRED_FLAGS -std=c++20)
  check_cxx_source_compiles("#include <barrier>
int main() { std::barrier<> b(1); b.arrive_and_wait(); return 0; }" GYRE_CXX20_BARRIER)
  unset(CMAKE_REQUIRED_FLAGS)
endif()
# the emulation test as executable EXE and ctest NAME; ARGN: extra compile and link options
function(gyre_add_emu_test exe name)
  add_executable(${exe} ${CMAKE_CURRENT_FUNCTION_LIST_DIR}/test_igemm_emu.cc)
  target_compile_features(${exe} PRIVATE cxx_std_20)
  target_compile_options(${exe} PRIVATE -Wall -Wextra -Wno-unknown-pragmas ${ARGN})
  target_link_options(${exe} PRIVATE ${ARGN})
  target_include_directories(${exe} PRIVATE ${CMAKE_CURRENT_FUNCTION_LIST_DIR}
                             ${CMAKE_SOURCE_DIR}/surrogates ${CMAKE_SOURCE_DIR}/surrogates/cuda
                             ${CMAKE_SOURCE_DIR}/io)
  target_link_libraries(${exe} PRIVATE Threads::Threads)
  set_target_properties(${exe} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  add_test(NAME ${name} COMMAND ${exe} WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(${name} PROPERTIES LABELS "unit" TIMEOUT 600
                       ENVIRONMENT "TSAN_OPTIONS=halt_on_error=1")
endfunction()

if(GYRE_CXX20_BARRIER)
  find_package(Threads REQUIRED)
  gyre_add_emu_test(test_igemm_emu nn_cuda_emu_igemm)
  # the same under ThreadSanitizer (not in the ASan build: the two do not mix): a block's
  # threads reading shared memory another thread writes without a __syncthreads between them is
  # a data race TSan reports whatever the timing (the plain run finds it only by chance); built
  # where a TSan program links and runs, said otherwise
  if(NOT GYRE_SANITIZE)
    set(CMAKE_REQUIRED_FLAGS "-std=c++20 -fsanitize=thread")
    set(CMAKE_REQUIRED_LINK_OPTIONS -fsanitize=thread)
    include(CheckCXXSourceRuns) # runs: TSan refuses some kernels' memory layouts at start
    check_cxx_source_runs("#include <thread>
int main() { std::thread t([] {}); t.join(); return 0; }" GYRE_CXX_TSAN)
    unset(CMAKE_REQUIRED_FLAGS)
    unset(CMAKE_REQUIRED_LINK_OPTIONS)
  endif()
  if(GYRE_CXX_TSAN)
    gyre_add_emu_test(test_igemm_emu_tsan nn_cuda_emu_igemm_tsan -fsanitize=thread -g)
  elseif(NOT GYRE_SANITIZE)
    message(STATUS "gyre: no working ThreadSanitizer: nn_cuda_emu_igemm_tsan is not built")
  endif()
else()
  message(STATUS "gyre: no C++20 compiler with <barrier>: the CUDA kernel emulation test "
                 "(nn_cuda_emu) is not built")
endif()
