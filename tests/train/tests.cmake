# gyre train end to end (cli/train.c over surrogates/trainer.c):
#   train_l96_closure: an l96 closure from a two-scale ensemble beats the zero closure on the
#     held-out member (MSE ratio <= 0.3) through the inference API (apply_model.c); lineage,
#     curve, split in the model file; ncdump, xarray and `gyre info` read it;
#   train_resume: stopped + resumed == uninterrupted, bitwise, on 1 and 2 ranks (ns2d CNN
#     emulator with batch norm); 2 ranks == 1 rank to 1e-5;
#   train_badinput: bad data, options and checkpoints: one error line each, good files intact;
#   train_signal: SIGUSR1 and SIGTERM mid-epoch -> checkpoint, exit 75; resumed == uninterrupted.
#   bench_badinput: bench/train_gpu.sh and bench_train_cpu refuse bad arguments at once.
gyre_add_nn_test_exe(apply_model ${CMAKE_CURRENT_LIST_DIR}/apply_model.c)
gyre_add_script_test(train_l96_closure "integration" ${CMAKE_CURRENT_LIST_DIR}/train_l96_closure.sh
                     $<TARGET_FILE:apply_model>)
foreach(t resume badinput signal)
  gyre_add_script_test(train_${t} "integration" ${CMAKE_CURRENT_LIST_DIR}/train_${t}.sh)
endforeach()
gyre_add_script_test(bench_badinput "integration" ${CMAKE_CURRENT_LIST_DIR}/bench_badinput.sh)
