# io/ with either NetCDF (io/nc_parallel.c), no PETSc; configured in the full build and in the
# surrogate library alone (GYRE_SURROGATES_ONLY, e.g. MPICH with the serial libnetcdf).
#   test_io_serial: a file written from one rank (MPI_COMM_SELF), read by every rank on its
#     own (uneven rows), appended to, truncated; creating or appending on 2 ranks works with
#     netcdf-mpi and, with the serial NetCDF, fails on every rank with the exact message and
#     leaves nothing on disk. Run with mpiexec -n 1 and -n 2.
add_executable(test_io_serial ${CMAKE_CURRENT_LIST_DIR}/test_io_serial.c)
target_link_libraries(test_io_serial PRIVATE gyre_io)
target_include_directories(test_io_serial PRIVATE ${CMAKE_CURRENT_LIST_DIR}/../io)
set_target_properties(test_io_serial PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
foreach(np 1 2)
  gyre_add_mpi_test(io_serial_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_io_serial>)
endforeach()
