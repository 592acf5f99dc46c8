# surrogates coupled into the solvers (solvers/closure_surrogate.c):
#   simulate_surrogate_closure: an l96 MLP closure (stencil 2) trained on two-scale runs cuts
#     the one-scale forecast RMSE at lead 1 by >= 30% against no closure; 1 rank == 2 ranks;
#     -log_view shows the GyreSurrogate event; mismatched models are refused.
gyre_add_script_test(simulate_surrogate_closure "integration"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_surrogate_closure.sh)
#   simulate_surrogate_guard: a closure run far outside its training regime (F = 60) and one
#     whose network makes Inf/NaN both complete, every trip redone without the surrogate and
#     recorded (log lines, output attributes, summary).
gyre_add_script_test(simulate_surrogate_guard "integration"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_surrogate_guard.sh)
#   simulate_guard_ranks: ranks tripping for different reasons in one evaluation (rank 0 an
#     Inf output, rank 1 an output out of range): the most severe recorded, the same on 1 and
#     2 ranks.
gyre_add_script_test(simulate_guard_ranks "integration"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_guard_ranks.sh)
#   simulate_cnn_closure: an ns2d CNN closure evaluated on each rank's rows with a halo of its
#     receptive field: the same run on 1, 2 and 4 ranks; too wide a field refused; an FNO
#     closure gathered on one rank, the same on 1 and 2 ranks.
gyre_add_script_test(simulate_cnn_closure "integration"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_cnn_closure.sh)
#   simulate_emulator: l96 CNN and FNO emulators (-surrogate_mode emulator): the physics run's
#     variables and times, the history filled by physics, 1 rank == 2 ranks, physics_every 1 ==
#     physics, stride/grid/mode mismatches refused, a NaN network falls back to physics with
#     every event recorded.
gyre_add_script_test(simulate_emulator "integration"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_emulator.sh)
#   simulate_emulator_ns2d: ns2d CNN (a halo per rank) and FNO (gathered on one rank)
#     emulators: the same run on 1, 2 (and 4) ranks, physics_every 1 == physics (bitwise).
gyre_add_script_test(simulate_emulator_ns2d "integration"
                     ${CMAKE_CURRENT_LIST_DIR}/simulate_emulator_ns2d.sh)
