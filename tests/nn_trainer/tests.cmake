# surrogates/ data-parallel trainer (surrogates/gyre_trainer.h) and the bucketed gradient
# reduction (GyreGradSync), on small files the test writes (see test_nn_trainer.c):
#   nn_trainer_gradsync_np{1,2}: bucket sums over ranks, several buckets;
#   nn_trainer_ranks_np2: 1 rank x 2b == 2 ranks x b to 1e-5 (CNN + sync batch norm, MLP);
#   nn_trainer_resume_np{1,2}: resumed == uninterrupted, bitwise (FNO, CNN); foreign checkpoints;
#   nn_trainer_learn: a per-point MLP closure learns (validation loss < 1e-2 of the zero
#     closure's), best model = lowest validation loss;
#   nn_trainer_errors_np{1,2}: impossible options, NaN loss, missing variable: one message each.
gyre_add_nn_test_exe(test_nn_trainer ${CMAKE_CURRENT_LIST_DIR}/test_nn_trainer.c)
foreach(np 1 2)
  gyre_add_mpi_test(nn_trainer_gradsync_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_nn_trainer> gradsync)
  gyre_add_mpi_test(nn_trainer_resume_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_nn_trainer> resume)
  gyre_add_mpi_test(nn_trainer_errors_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_nn_trainer> errors)
endforeach()
gyre_add_mpi_test(nn_trainer_ranks_np2 2 "unit;mpi" $<TARGET_FILE:test_nn_trainer> ranks)
gyre_add_mpi_test(nn_trainer_learn 1 "unit" $<TARGET_FILE:test_nn_trainer> learn)
#   bench_train_dp_np2: bench_train_cpu's data-parallel mode (bench/train_gpu.sh's efficiency
#     figure) on 2 ranks, CPU backend: the program checks every rank's weights identical after
#     the steps (an error otherwise, before its line) and prints ranks=2 with the transport.
gyre_add_mpi_test(bench_train_dp_np2 2 "unit;mpi" $<TARGET_FILE:bench_train_cpu> -arch fcnn
                  -size 16 -iters 2 -warmup 1)
set_tests_properties(bench_train_dp_np2 PROPERTIES PASS_REGULAR_EXPRESSION
                     "TRAIN fw=gyre arch=fcnn .* ranks=2 sync=MPI")
