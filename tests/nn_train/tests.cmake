# surrogates/ training building blocks (surrogates/gyre_train.h): the synchronised batch
# normalisation layer and its CPU ops, Adam/AdamW, schedules, clipping, optimiser state.
#   test_nn_batchnorm: forward statistics and double reference, finite-difference gradients
#     through the batch statistics, SyncBatchNorm on 1 and 2 ranks equal to the full batch,
#     running statistics as PyTorch; run with mpiexec -n 1 and -n 2.
#   test_nn_optimizer: adam_update against PyTorch's algorithm in double (Adam and AdamW),
#     a quadratic minimised 100x, exact schedule values, exact clipping, state round trip.
gyre_add_nn_test_exe(test_nn_batchnorm ${CMAKE_CURRENT_LIST_DIR}/test_nn_batchnorm.c)
target_include_directories(test_nn_batchnorm PRIVATE ${CMAKE_CURRENT_LIST_DIR})
foreach(np 1 2)
  gyre_add_mpi_test(nn_batchnorm_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_nn_batchnorm>)
endforeach()

gyre_add_nn_test_exe(test_nn_optimizer ${CMAKE_CURRENT_LIST_DIR}/test_nn_optimizer.c)
target_include_directories(test_nn_optimizer PRIVATE ${CMAKE_CURRENT_LIST_DIR})
add_test(NAME nn_optimizer COMMAND $<TARGET_FILE:test_nn_optimizer>
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(nn_optimizer PROPERTIES LABELS "unit" ENVIRONMENT "${GYRE_TEST_ENV}"
                     TIMEOUT 120)
