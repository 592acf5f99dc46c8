# surrogates/ dataset reader (surrogates/gyre_data.h), on small files written by the test
# with io's writer:
#   test_nn_data: exact sample assembly (closure per field and per point, emulator with
#     history 2 and lead 2 on 1-D and 2-D ensemble files, operator, several files), the split
#     by member / file / time block (no overlap, stated sizes), normalisation statistics equal
#     to a direct computation to 1e-6, batches whose union over ranks equals the 1-rank batch,
#     epoch permutations that differ, prefetch equal to foreground reading, and the error
#     messages (no match, missing file or variable, grid mismatch, history too long, NaN).
#     Run with mpiexec -n 1 and -n 2.
gyre_add_nn_test_exe(test_nn_data ${CMAKE_CURRENT_LIST_DIR}/test_nn_data.c)
foreach(np 1 2)
  gyre_add_mpi_test(nn_data_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_nn_data>)
endforeach()
