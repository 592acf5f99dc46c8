# the experiments of runs/ at their tiniest size (a smoke run each, under a minute on 2 cores):
#   runs_l96_closure: runs/l96-closure.sh tiny ends with a report (report.md with the goals
#     section, PNGs) and prints each of the issue's four goals with the measured numbers.
gyre_add_script_test(runs_l96_closure "integration" ${CMAKE_CURRENT_LIST_DIR}/smoke.sh
                     l96-closure "lead-1 RMSE of X cut" "forecast RMSE of X" "Wasserstein-1 of X"
                     "faster than the two-scale truth")
#   runs_ns2d_fno: runs/ns2d-fno.sh tiny ends with a report (report.md with the experiment's
#     section, PNGs) and prints the relative L2 error by lead and the emulator's speed-up.
gyre_add_script_test(runs_ns2d_fno "integration" ${CMAKE_CURRENT_LIST_DIR}/smoke.sh
                     ns2d-fno "relative L2 error of the vorticity" "lead     1:"
                     "speed-up of the emulator over the solver")
