# gyre simulate end to end: the driver, output, restart, signals and bad input.
foreach(t ranks restart signal badinput files blowup initial tstypes)
  gyre_add_script_test(simulate_${t} "integration" ${CMAKE_CURRENT_LIST_DIR}/simulate_${t}.sh)
endforeach()
gyre_add_script_test(simulate_valgrind "integration;valgrind"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_valgrind.sh)
