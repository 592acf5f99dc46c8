# tests/nn_ops: forward (against double references) and finite-difference gradient checks of
# the CPU backend's network ops (surrogate library alone, no PETSc).
gyre_add_nn_test_exe(test_nn_ops ${CMAKE_CURRENT_LIST_DIR}/test_nn_ops.c)
foreach(group dense act mlp loss conv spectral)
  add_test(NAME nn_ops_${group} COMMAND test_nn_ops ${group}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(nn_ops_${group} PROPERTIES LABELS "unit" TIMEOUT 120)
endforeach()
