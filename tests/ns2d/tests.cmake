# ns2d: the 2-D Navier–Stokes model (solvers/model_ns2d.c) driven through its ops table with
# its own PETSc TS; every test on 1, 2 and 4 ranks.
gyre_add_test_exe(test_ns2d ${CMAKE_CURRENT_LIST_DIR}/test_ns2d.c)
foreach(name taylor_green ranks conservation rhs subgrid grf readstate)
  foreach(np 1 2 4)
    gyre_add_mpi_test(ns2d_${name}_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_ns2d> -test ${name})
  endforeach()
endforeach()
