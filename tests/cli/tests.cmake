# Source formatting: every C file matches .clang-format.
gyre_add_script_test(format format ${CMAKE_CURRENT_LIST_DIR}/check_format.sh)
# gyre version lists the build's features and agrees with the configuration.
gyre_add_script_test(cli_version unit ${CMAKE_CURRENT_LIST_DIR}/version.sh)
set_property(TEST cli_version APPEND PROPERTY ENVIRONMENT "GYRE_EXPECT_CUDA=${GYRE_CUDA_BUILT}")
# gyre submit without a cluster (a stand-in sbatch): -help, one-line errors for bad input,
# -dry_run submits and writes nothing, option values cannot run commands (injection).
gyre_add_script_test(cli_submit unit ${CMAKE_CURRENT_LIST_DIR}/submit.sh)
# The configure step finds a site's parallel NetCDF as netcdf.pc and refuses a serial one.
gyre_add_script_test(configure_netcdf integration ${CMAKE_CURRENT_LIST_DIR}/configure_netcdf.sh)
