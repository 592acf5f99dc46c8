# grids/ tests: each program runs on 1, 2 and 4 ranks.
foreach(t ring plane spectral coarsen random_field)
  gyre_add_test_exe(test_grids_${t} ${CMAKE_CURRENT_LIST_DIR}/test_${t}.c)
  target_include_directories(test_grids_${t} PRIVATE ${CMAKE_CURRENT_LIST_DIR})
  foreach(np 1 2 4)
    gyre_add_mpi_test(grids_${t}_np${np} ${np} "unit;mpi" $<TARGET_FILE:test_grids_${t}>)
  endforeach()
endforeach()
