# surrogates/ networks (surrogates/gyre_net.h): MLP, FNO 1-D/2-D, the Ross et al. FCNN.
#   nn_net_grad_*: finite-difference gradient checks of whole networks (parameters and input);
#   nn_net_fcnn_structure: the FCNN's layers, kernels, channels and closed-form count;
#   nn_net_overfit_mlp: an MLP overfits 16 samples (loss falls >= 100x);
#   nn_net_seed: same seed -> bitwise same weights; initial bounds as PyTorch / Li et al.;
#   nn_net_counts: parameter counts against Li et al.'s modules (printed);
#   nn_net_cnn_mpi_np{1,2}: CNN with synchronised batch norm, 2 ranks x b == 1 rank x 2b.
gyre_add_nn_test_exe(test_nn_net ${CMAKE_CURRENT_LIST_DIR}/test_nn_net.c)
foreach(case grad_mlp grad_fno2d grad_fno1d grad_cnn fcnn_structure overfit_mlp seed counts)
  add_test(NAME nn_net_${case} COMMAND $<TARGET_FILE:test_nn_net> ${case}
           WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  set_tests_properties(nn_net_${case} PROPERTIES LABELS "unit" ENVIRONMENT "${GYRE_TEST_ENV}"
                       TIMEOUT 120)
endforeach()
foreach(np 1 2)
  gyre_add_mpi_test(nn_net_cnn_mpi_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_nn_net> cnn_mpi)
endforeach()
# the FCNN-shaped network's gradients with its circular convolutions through the FFT
# (GYRE_CONV_ALGO=fft: surrogates/cpu/conv_fft.c)
add_test(NAME nn_net_grad_cnn_fft COMMAND $<TARGET_FILE:test_nn_net> grad_cnn
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(nn_net_grad_cnn_fft PROPERTIES LABELS "unit" TIMEOUT 120
                     ENVIRONMENT "${GYRE_TEST_ENV};GYRE_CONV_ALGO=fft")
