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
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$here/common.sh"
build=${1:-build}
size=${2:-small}
check_size "$size" tiny small full
check_build "$build"
opts="$here/l96-closure.opts"
out=${GYRE_RUN_DIR:-$build/runs/l96-closure-$size}
mkdir -p "$out"
start=$SECONDS

# the clock and the ranks
exp() { opt_value "$opts" exp "$size" "$1"; }
spinup=$(exp spinup)
truth_end=$(add "$spinup" "$(exp truth_length)")
heldout_end=$(add "$spinup" "$(exp heldout_length)")
np_sim=$(exp sim_ranks)
np_train=$(exp train_ranks)
members=$(opt_value "$opts" heldout "$size" ensemble_size)
mapfile -t twoscale < <(stage_opts "$opts" twoscale "$size")
mapfile -t truth < <(stage_opts "$opts" truth "$size")
mapfile -t heldout < <(stage_opts "$opts" heldout "$size")
mapfile -t fit < <(stage_opts "$opts" fit "$size")
mapfile -t forecast < <(stage_opts "$opts" forecast "$size")
mapfile -t score < <(stage_opts "$opts" score "$size")
echo "l96-closure ($size): files in $out"

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
rm -f "$out/closure.nc" "$out/closure.nc.ckpt.nc"
ranks "$np_train" "$gyre" train -train_data "$out/truth.nc" "${fit[@]}" \
  -train_out "$out/closure.nc"
"$gyre" info "$out/closure.nc" > "$out/closure.info" # validates the model file
grep -i "loss" "$out/closure.info" | head -n 3 || true

step "the cubic polynomial closure: least squares of coupling on X over $out/truth.nc"
coeffs=$("$PYTHON" "$here/l96_polyfit.py" "$out/truth.nc" 3)
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
"$PYTHON" "$here/l96_goals.py" "$out/metrics_mlp.nc" "$out/metrics_poly.nc" \
  "$out/report/report.md" "$about"

echo
echo "l96-closure ($size) done in $((SECONDS - start)) s"
echo "report: $out/report/report.md (and index.html, PNGs)"
