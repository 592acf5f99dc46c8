# Source formatting: every C file matches .clang-format.
gyre_add_script_test(format format ${CMAKE_CURRENT_LIST_DIR}/check_format.sh)
