# surrogates/ model file and inference API (surrogates/gyre_model_file.h).
#   nn_model_roundtrip_{mlp,fno,cnn}: weights, normalisation, metadata bitwise through a file
#     (cnn also: batch-norm running statistics and eval-mode outputs; missing running_var);
#     the loaded network's outputs equal the original's bitwise;
#   nn_model_corrupt: truncated, flipped bit (checksum), NaN, wrong shape, missing weight,
#     wrong count, unknown architecture/activation, future version, non-NetCDF: one message each;
#   nn_model_training: learning curve and optimiser state (m, v, step) bitwise through a file;
#   nn_model_inference: GyreSurrogateApply == normalise -> forward -> de-normalise (CNN, MLP,
#     FNO), also from 4 threads at once;
gyre_add_nn_test_exe(test_nn_model ${CMAKE_CURRENT_LIST_DIR}/test_nn_model.c)
foreach(case roundtrip_mlp roundtrip_fno roundtrip_cnn corrupt inference training)
  add_test(NAME nn_model_${case} COMMAND $<TARGET_FILE:test_nn_model> ${case}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(nn_model_${case} PROPERTIES LABELS "unit" ENVIRONMENT "${GYRE_TEST_ENV}"
                       TIMEOUT 120)
endforeach()
# helgrind on nn_model_inference's 4 concurrent threads: no race in gyre's code
gyre_add_script_test(nn_model_inference_helgrind "integration;valgrind"
                     ${CMAKE_CURRENT_LIST_DIR}/inference_helgrind.sh $<TARGET_FILE:test_nn_model>)
