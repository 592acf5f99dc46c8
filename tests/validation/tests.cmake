# gyre compare (validation/):
#   validation_metrics: the metric functions on samples with known answers (W1, ACC, CRPS);
#   compare_l96: identical files (zero errors, ACC 1 exactly), REF + c (RMSE = |c|, bias = c,
#     ACC = 1, W1 = |c|), REF + a known field (its RMSE), stability (NaN, |x| > threshold),
#     the baseline similarity (0.5, and undefined), cost, metrics.nc read by xarray, -help;
#   compare_ns2d: an ensemble: every metric against an independent numpy computation, and
#     the same metrics.nc on 1 and 2 ranks;
#   compare_flow: spectra, conservation drift, PDFs and snapshots against known answers and
#     numpy (identical files, TEST = 2 REF, a single Fourier mode, l96 X scaled in time);
#   report: gyre report on an l96 (with a baseline) and an ns2d comparison: every PNG decodes,
#     has its size and is not blank, index.html and report.md state the numbers; bad input;
#   compare_badinput: one error line each for missing files, nothing shared, grid mismatch,
#     an existing -output, missing arguments, NaN in REF.
add_executable(test_validation_metrics ${CMAKE_CURRENT_LIST_DIR}/test_metrics.c)
target_link_libraries(test_validation_metrics PRIVATE gyre_validation)
set_target_properties(test_validation_metrics PROPERTIES RUNTIME_OUTPUT_DIRECTORY
                                                         ${CMAKE_BINARY_DIR}/tests)
add_test(NAME validation_metrics COMMAND $<TARGET_FILE:test_validation_metrics>
         WORKING_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
set_tests_properties(validation_metrics PROPERTIES LABELS "unit" ENVIRONMENT "${GYRE_TEST_ENV}"
                     TIMEOUT 60)
foreach(t l96 ns2d flow badinput)
  gyre_add_script_test(compare_${t} "integration" ${CMAKE_CURRENT_LIST_DIR}/compare_${t}.sh)
endforeach()
gyre_add_script_test(report "integration" ${CMAKE_CURRENT_LIST_DIR}/report.sh)
