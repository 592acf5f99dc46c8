# tests/gpu: the CUDA backend against the CPU backend (test_backend_ops.c). Registered in every
# configuration; without the CUDA backend or a GPU each case reports SKIPPED with the reason
# (exit 77). tests/gpu/run.sh runs them with the GPU benchmark on a GPU machine.
gyre_add_nn_test_exe(test_backend_ops ${CMAKE_CURRENT_LIST_DIR}/test_backend_ops.c)
foreach(case ops nets infer arena precision nccl)
  add_test(NAME gpu_${case} COMMAND test_backend_ops ${case}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(gpu_${case} PROPERTIES LABELS "gpu" TIMEOUT 300 SKIP_RETURN_CODE 77)
endforeach()
