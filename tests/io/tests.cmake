# io/ tests (io/gyre_io.h).
#   test_io_roundtrip: parallel write (uneven rows, one empty rank, deflate) and read back
#     (uneven columns) of float and double variables, CF and provenance attributes, append.
#   test_io_safety: refusing/overwriting, unwritable paths, atomic create with abort and
#     close, truncation, NaN/Inf detection, missing and non-NetCDF files; exact messages.
#   test_sha256: SHA-256 against FIPS vectors and `sha256sum` (serial).
#   check_cf_tools.sh: ncdump, CDO, NCO and xarray read a written file without warnings;
#     GyreFileInfo prints it.
foreach(t roundtrip safety)
  gyre_add_test_exe(test_io_${t} ${CMAKE_CURRENT_LIST_DIR}/test_io_${t}.c)
  target_include_directories(test_io_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  foreach(np 1 2 4)
    gyre_add_mpi_test(io_${t}_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_io_${t}>)
  endforeach()
endforeach()

gyre_add_test_exe(test_io_sha256 ${CMAKE_CURRENT_LIST_DIR}/test_sha256.c)
target_include_directories(test_io_sha256 PRIVATE ${CMAKE_CURRENT_LIST_DIR})
add_test(NAME io_sha256 COMMAND $<TARGET_FILE:test_io_sha256>
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(io_sha256 PROPERTIES LABELS "unit" ENVIRONMENT "${GYRE_TEST_ENV}" TIMEOUT 60)

gyre_add_test_exe(io_sample ${CMAKE_CURRENT_LIST_DIR}/io_sample.c)
target_include_directories(io_sample PRIVATE ${CMAKE_CURRENT_LIST_DIR})
gyre_add_script_test(io_cf_tools "integration;mpi" ${CMAKE_CURRENT_LIST_DIR}/check_cf_tools.sh
                     ${MPIEXEC_EXECUTABLE} $<TARGET_FILE:io_sample>)
