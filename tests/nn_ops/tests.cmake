# tests/nn_ops: forward (against double references) and finite-difference gradient checks of
# the CPU backend's network ops (surrogate library alone, no PETSc).
gyre_add_nn_test_exe(test_nn_ops ${CMAKE_CURRENT_LIST_DIR}/test_nn_ops.c)
foreach(group dense act mlp loss conv spectral chain knobs)
  add_test(NAME nn_ops_${group} COMMAND test_nn_ops ${group}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(nn_ops_${group} PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()
# chain: a CNN's inference in bf16 on AMX or AVX-512 BF16 (conv_chain_forward); skipped (77) where
# the CPU has neither, after checking that bf16 is refused naming them; chain_avx512: the same
# by AVX-512 BF16 instead of AMX's tiles (GYRE_CPU_AMX=0: on a CPU with AMX, the planar path of
# CPUs without it; elsewhere the same run again)
set_tests_properties(nn_ops_chain PROPERTIES SKIP_RETURN_CODE 77)
add_test(NAME nn_ops_chain_avx512 COMMAND test_nn_ops chain
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(nn_ops_chain_avx512 PROPERTIES LABELS "unit" TIMEOUT 120
                     SKIP_RETURN_CODE 77 ENVIRONMENT "GYRE_CPU_AMX=0")
# the activations through the portable loops (by default GELU's and tanh's forward take AVX2+FMA
# where the CPU has them)
add_test(NAME nn_ops_act_portable COMMAND test_nn_ops act WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(nn_ops_act_portable PROPERTIES LABELS "unit" TIMEOUT 120
                     ENVIRONMENT "GYRE_GELU_AVX2=0")
# the convolution's algorithms, each forced on every case (by default the shape chooses: the
# direct forward for at most 8 output channels and kernels larger than 1x1 where the CPU has
# AVX2 + FMA; else im2col below 8 input channels, the shift-GEMM from 8 and for 1x1 kernels;
# fft where the convolution is 2-D and circular with an even number of rows, the others by
# default; direct: every forward, the backward by default)
foreach(algo im2col shift fft direct)
  add_test(NAME nn_ops_conv_${algo} COMMAND test_nn_ops conv
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(nn_ops_conv_${algo} PROPERTIES LABELS "unit" TIMEOUT 120
                       ENVIRONMENT "GYRE_CONV_ALGO=${algo}")
endforeach()
# an unknown algorithm is refused, by the backend's creation, with one error naming the value
add_test(NAME nn_ops_conv_unknown_algo COMMAND test_nn_ops conv
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(nn_ops_conv_unknown_algo PROPERTIES LABELS "unit" TIMEOUT 120
                     ENVIRONMENT "GYRE_CONV_ALGO=bogus"
                     PASS_REGULAR_EXPRESSION
                     "GYRE_CONV_ALGO=bogus: it takes im2col, shift, direct or fft")
