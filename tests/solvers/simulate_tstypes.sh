#!/usr/bin/env bash
# Any suitable -ts_type works: ns2d with explicit RK4 (viscosity explicit), IMEX ARKIMEX-4 and
# ROSW (viscosity through the exact spectral solve) agree to their truncation error; l96 runs
# with several explicit types; an unsuitable type is refused with one clear line.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
ns="-model ns2d -grid_nx 32 -ts_dt 0.005 -ts_max_time 0.5 -output_every 0.5 -output_precision double -quiet"
"$GYRE" simulate $ns -ts_type rk -ts_rk_type 4 -output rk4.nc
"$GYRE" simulate $ns -ts_type arkimex -ts_arkimex_type 4 -output ark4.nc
"$GYRE" simulate $ns -ts_type rosw -output rosw.nc
ncdiff rk4.nc ark4.nc --vars vorticity --rtol 1e-9 || fail "ARKIMEX-4 and RK4 disagree"
ncdiff rk4.nc rosw.nc --vars vorticity --rtol 1e-6 || fail "ROSW and RK4 disagree"
for ts in "ssp" "rk -ts_rk_type 3" "euler"; do
  "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output "l96_${ts%% *}.nc" -ts_type $ts
done
if "$GYRE" simulate $ns -ts_type beuler -output be.nc 2> err.txt; then fail "beuler accepted"; fi
grep -q "not supported.*or an IMEX one (arkimex, rosw)" err.txt ||
  fail "no clear message for an unsupported -ts_type"
# l96 has no stiff part: the IMEX integrators, which it refuses, are not suggested
if "$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -ts_type beuler -output be.nc 2> err.txt
then fail "beuler accepted for l96"; fi
grep -q "not supported by gyre simulate: use an explicit integrator (rk, ssp, euler)$" err.txt ||
  { cat err.txt; fail "l96's message for an unsupported -ts_type suggests an IMEX one"; }
echo "simulate_tstypes: ok"
