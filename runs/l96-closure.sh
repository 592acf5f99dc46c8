#!/usr/bin/env bash
# runs/l96-closure.sh [BUILD] [tiny|small|full] — the l96-closure experiment (issue 4 §5), one
# command: two-scale Lorenz-96 truth runs after spin-up -> an MLP closure trained on the
# stencil X_{k-2..k+2} -> coupling_k -> one-scale forecasts with the MLP closure, with no
# closure and with a cubic polynomial closure fitted to the same truth, one from each member
# of a held-out two-scale ensemble (>= 100 members in small and full) -> gyre compare against
# the held-out truth (no closure as the baseline) -> gyre report, with the issue's goals and
# the measured numbers printed and appended to the report's report.md.
#
# Options: runs/l96-closure.opts (one stage per prefix, sizes as prefixes; see runs/common.sh).
# BUILD (default build) holds bin/gyre; the size defaults to small (the demo, minutes on 2
# cores); full is the experiment as the issue states it; tiny is the smoke test's. Files go
# to $GYRE_RUN_DIR (default BUILD/runs/l96-closure-SIZE); the report to its report/.
# Exit status 0 when every stage ran, whether or not the goals are met (they are printed).
# shellcheck disable=SC2154 # (the stage arrays: set by load_stages)
# shellcheck source=runs/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"
experiment_start l96-closure "$@"

# the clock and the ranks
exp() { opt_value "$opts" exp "$size" "$1"; }
spinup=$(exp spinup)
truth_end=$(add "$spinup" "$(exp truth_length)")
heldout_end=$(add "$spinup" "$(exp heldout_length)")
np_sim=$(exp sim_ranks)
np_train=$(exp train_ranks)
members=$(opt_value "$opts" heldout "$size" ensemble_size)
load_stages twoscale truth heldout fit forecast score

# two_scale_run NAME OPTS...: a two-scale ensemble spun up from its random state to t =
# spinup (NAME_spinup.nc: the first and the spun-up record), then run from there to the end
# time given in OPTS (NAME.nc).
two_scale_run() {
  local name=$1
  shift
  ranks "$np_sim" "$gyre" simulate "${twoscale[@]}" "$@" -ts_max_time "$spinup" \
    -output_every "$spinup" -output "$out/${name}_spinup.nc" -output_overwrite
  ranks "$np_sim" "$gyre" simulate "${twoscale[@]}" "$@" \
    -initial_file "$out/${name}_spinup.nc" -initial_time "$spinup" \
    -output "$out/$name.nc" -output_overwrite
}

step "two-scale truth for training: ${truth[*]}, spin-up to t = $spinup, then to t = $truth_end"
two_scale_run truth "${truth[@]}" -ts_max_time "$truth_end"

step "held-out two-scale truth: ${heldout[*]}, spin-up to t = $spinup, then to t = $heldout_end"
two_scale_run heldout "${heldout[@]}" -ts_max_time "$heldout_end"

step "gyre train: the MLP closure on $out/truth.nc (${fit[*]})"
rm -f "$out/closure.nc" "$out/closure.ckpt.nc"
ranks "$np_train" "$gyre" train -train_data "$out/truth.nc" "${fit[@]}" \
  -train_out "$out/closure.nc"
"$gyre" info "$out/closure.nc" > "$out/closure.info" # validates the model file
grep -i "loss" "$out/closure.info" | head -n 3 || true

step "the cubic polynomial closure: least squares of coupling on X over $out/truth.nc"
coeffs=$("$PYTHON" "$runs_dir/l96_polyfit.py" "$out/truth.nc" 3)
echo "coupling ~ sum a_i X^i, a = $coeffs"

fc=("${forecast[@]}" -initial_file "$out/heldout.nc" -initial_time "$spinup"
    -ts_max_time "$heldout_end" -ensemble_size "$members")
step "one-scale forecasts from the $members held-out states at t = $spinup to t = $heldout_end"
echo "MLP closure (guarded)"
ranks "$np_sim" "$gyre" simulate "${fc[@]}" -surrogate "$out/closure.nc" \
  -surrogate_mode closure -output "$out/fc_mlp.nc" -output_overwrite
echo "no closure"
ranks "$np_sim" "$gyre" simulate "${fc[@]}" -output "$out/fc_none.nc" -output_overwrite
echo "cubic polynomial closure"
ranks "$np_sim" "$gyre" simulate "${fc[@]}" -closure polynomial -closure_coeffs "$coeffs" \
  -output "$out/fc_poly.nc" -output_overwrite

# The cost goal compares the truth's and the MLP run's time stepping; the runs above ran
# minutes apart, and on a shared machine the load between them can change the ratio by 2x.
# So the same two runs, one unit each, are timed back to back N times (minimum of each).
cost_end=$(add "$spinup" 1)
repeats=$(exp cost_repeats)
step "cost: the two-scale truth and the one-scale MLP run back to back, t = $spinup to \
$cost_end, $repeats times"
wall() { "$gyre" info "$1" | awk '$1 == "stepping_wall_seconds" { print $3 }'; }
: > "$out/cost.txt"
for ((i = 0; i < repeats; i++)); do
  ranks "$np_sim" "$gyre" simulate "${twoscale[@]}" "${heldout[@]}" -ts_max_time "$cost_end" \
    -initial_file "$out/heldout_spinup.nc" -initial_time "$spinup" \
    -output "$out/cost_truth.nc" -output_overwrite
  ranks "$np_sim" "$gyre" simulate "${forecast[@]}" -initial_file "$out/heldout.nc" \
    -initial_time "$spinup" -ts_max_time "$cost_end" -ensemble_size "$members" \
    -surrogate "$out/closure.nc" -surrogate_mode closure -output "$out/cost_mlp.nc" \
    -output_overwrite > /dev/null
  echo "truth $(wall "$out/cost_truth.nc") mlp $(wall "$out/cost_mlp.nc")" | tee -a "$out/cost.txt"
done

step "gyre compare: each closure's forecasts against the held-out truth, no closure the baseline"
for c in mlp poly; do
  ranks "$np_train" "$gyre" compare "$out/heldout.nc" "$out/fc_$c.nc" \
    -baseline "$out/fc_none.nc" "${score[@]}" -output "$out/metrics_$c.nc" \
    -output_overwrite > "$out/compare_$c.txt"
done
cat "$out/compare_mlp.txt"

step "gyre report"
"$gyre" report "$out/metrics_mlp.nc" -output "$out/report"
"$gyre" report "$out/metrics_poly.nc" -output "$out/report/polynomial"
about="Size '$size': training truth ${truth[*]} from t = $spinup to $truth_end; \
$members one-scale forecasts per closure from a held-out two-scale ensemble \
(${heldout[*]}), t = $spinup to $heldout_end; MLP trained with ${fit[*]}; \
cubic polynomial a = $coeffs. The polynomial's own report is in polynomial/."
"$PYTHON" "$runs_dir/l96_goals.py" "$out/metrics_mlp.nc" "$out/metrics_poly.nc" "$out/cost.txt" \
  "$out/report/report.md" "$about"
experiment_end
