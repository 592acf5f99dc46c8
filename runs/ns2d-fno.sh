#!/usr/bin/env bash
# runs/ns2d-fno.sh [BUILD] [tiny|small|full] — the ns2d-fno experiment (issue 4 §5), one
# command: an ns2d ensemble (nu = 1e-3, 64^2, 50 members, 30 units, one frame per unit in
# full) -> an FNO emulator trained on it (10 frames -> the next) -> the emulator's rollouts
# (gyre simulate -surrogate_mode emulator) and the physics from held-out members -> gyre
# compare -> gyre report, with the relative L2 error against the emulator's lead time and its
# speed-up over the solver printed and appended to the report's report.md.
#
# Options: runs/ns2d-fno.opts (one stage per prefix, sizes as prefixes; see runs/common.sh).
# BUILD (default build) holds bin/gyre; the size defaults to small (5-10 minutes on 2
# cores: 6 members, 16 units, 50 epochs); full is the issue's size (about 20 minutes on
# 2 cores); tiny is the smoke test's (32^2, 3 frames of history, 1 epoch). Files go to
# $GYRE_RUN_DIR (default BUILD/runs/ns2d-fno-SIZE); the report to its report/.
# shellcheck disable=SC2154 # (the stage arrays: set by load_stages)
# shellcheck source=runs/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
experiment_start ns2d-fno "$@"

np=$(opt_value "$opts" exp "$size" ranks)
history=$(opt_value "$opts" fit "$size" train_history)
load_stages flow data heldout fit rollout score

step "the training ensemble: ${flow[*]} ${data[*]}"
ranks "$np" "$gyre" simulate "${flow[@]}" "${data[@]}" -output "$out/ensemble.nc" \
  -output_overwrite

step "the held-out members, physics: ${heldout[*]}"
ranks "$np" "$gyre" simulate "${flow[@]}" "${heldout[@]}" -output "$out/physics.nc" \
  -output_overwrite

step "gyre train: the FNO emulator (${fit[*]})"
rm -f "$out/fno.nc" "$out/fno.ckpt.nc"
ranks "$np" "$gyre" train -train_data "$out/ensemble.nc" "${fit[@]}" -train_out "$out/fno.nc"
"$gyre" info "$out/fno.nc" > "$out/fno.info" # validates the model file
grep -i "loss" "$out/fno.info" | head -n 3 || true

step "the held-out members, the emulator's rollouts (${rollout[*]})"
ranks "$np" "$gyre" simulate "${flow[@]}" "${heldout[@]}" -surrogate "$out/fno.nc" \
  "${rollout[@]}" -output "$out/emulator.nc" -output_overwrite -log_view > "$out/emulator.log"
awk '/^\*\*\*\*/ { exit } { print }' "$out/emulator.log" # its log without -log_view's tables

step "gyre compare: the rollouts against the physics"
ranks "$np" "$gyre" compare "$out/physics.nc" "$out/emulator.nc" "${score[@]}" \
  -output "$out/metrics.nc" -output_overwrite | tee "$out/compare.txt"

step "gyre report"
"$gyre" report "$out/metrics.nc" -output "$out/report"
about="Size '$size': ${flow[*]}; training ensemble ${data[*]}; held-out members \
${heldout[*]}; FNO trained with ${fit[*]}; $np MPI ranks."
"$PYTHON" "$runs_dir/ns2d_summary.py" "$out/metrics.nc" "$out/physics.nc" "$out/emulator.nc" \
  "$out/emulator.log" "$history" "$out/report/report.md" "$about"
experiment_end
