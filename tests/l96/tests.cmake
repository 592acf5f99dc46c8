# Lorenz-96 model (solvers/model_l96.c) and closures (solvers/closure.c): energy conservation,
# the right-hand side against a direct evaluation, bitwise equality on 1, 2 and 4 ranks, the
# polynomial closure, bad options and reading a state back from a gyre file.
gyre_add_test_exe(test_l96 ${CMAKE_CURRENT_LIST_DIR}/test_l96.c)
foreach(np 1 2 4)
  gyre_add_mpi_test(l96_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_l96>)
endforeach()
