#!/usr/bin/env bash
# bench/coupling.sh [BUILD] — the cost of a learned closure inside the solver (issue 4, section
# 6), in one run: for l96 one-scale (an MLP at each sector on X_{k-2..k+2}) and for ns2d at 64^2
# (the Ross et al. FCNN on the vorticity), the same simulation is timed
#   plain:   no closure;
#   null:    a network of the same shape whose weights are all zero (the same work, a constant
#            output): the cost of evaluating a network of that size;
#   trained: the trained network;
# and the table gives seconds per time step (the driver's stepping_wall_seconds / steps, of a run
# without -log_view: PETSc's event logging tripled l96's plain step and so flattered the ratio),
# the ratio closure step / plain step (goal <= 1.25; each case's fastest run), the median over the
# repeats of each run's ratio to the plain run just before it (the noise that the fastest runs
# leave out: "met" says "edge" where the ratio meets the goal and the median does not), the same
# ratio from the -log_view runs
# (for comparison with earlier tables), and, from a second run of each case with -log_view, the
# inference share of the run's time (the GyreSurrogate event over the total; it includes the
# closure's evaluations for the output's coupling diagnostic), the GyreSurrogate events per step
# and their mean time (the pure inference cost of one call); ns2d "trimmed" is
# -surrogate_trim_halo (no halo on a rank that owns the whole grid: fewer points, not bitwise
# the default's), ns2d "small" a
# 3-layer CNN of 8 channels (kernels 5,3,3) instead of the FCNN; "step" and "smstep" are
# "trained" and "small" evaluated once a time step (-surrogate_closure_eval step: the term held
# through the step's stages; not the default, every right-hand side); "bf16", "smbf16" and
# "smstbf16" are "trained", "small" and "smstep" with -surrogate_precision bf16 (the CNN on AMX,
# or AVX-512 BF16 where the CPU has no AMX: the rows are left out on CPUs with neither, and with
# BACKEND=cuda). The networks are
# trained briefly here on small truth runs (their skill is not the point: bench/ measures
# speed). One rank, one thread. ONLY=l96 or ONLY=ns2d runs one model's cases (REPEATS and
# NS2D_REPEATS: how many times each model's cases run, the fastest kept; NS2D_T: ns2d's model
# time a run, default 0.5; NS2D_CASES: the ns2d cases besides plain, default all); BACKEND=cuda
# (and PRECISION=tf32|bf16) evaluates the networks on the GPU (-surrogate_backend), where gyre
# was built with CUDA and the node has PETSc, NetCDF and a GPU; tests/gpu/run.sh gives the
# FCNN's latency on a bare GPU machine ("closure latency").
set -euo pipefail
build=${1:-build}
gyre=$(readlink -f "$build/bin/gyre" || true)
[ -x "$gyre" ] || { echo "bench/coupling.sh: $gyre not found: build first (make)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
here=$(cd "$(dirname "$0")" && pwd)
PY=${PY:-/usr/bin/python3} # with netCDF4: the null networks (their rows are left out without it)
scratch=$(readlink -f "$(mktemp -d "$build/bench-coupling.XXXXXX")") # absolute: the trap runs after the cd
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
# one rank: mpiexec -n 1 (LAUNCH="" starts gyre alone, an MPI singleton: a machine without
# a launcher, as tests/gpu/run.sh's)
read -r -a launch <<< "${LAUNCH-mpiexec -n 1}"
run() { "${launch[@]}" "$gyre" "$@"; }
case "${ONLY:-}" in "" | l96 | ns2d) ;; *) echo "ONLY=$ONLY: expected l96 or ns2d" >&2; exit 2 ;; esac
for c in ${NS2D_CASES:-}; do # a misspelt case would quietly leave its row out
  case "$c" in null | trained | trimmed | small | step | smstep | bf16 | smbf16 | smstbf16) ;;
    *) echo "NS2D_CASES: unknown case '$c' (null trained trimmed small step smstep bf16 smbf16" \
      "smstbf16)" >&2; exit 2 ;;
  esac
done
dev=() # the closures' backend (simulate only)
[ -n "${BACKEND:-}" ] && dev=(-surrogate_backend "$BACKEND" -surrogate_precision "${PRECISION:-fp32}")

echo "== gyre coupling benchmark on $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
echo "-- training the networks (small truth runs, a few epochs)"
nets=()
if [ "${ONLY:-l96}" = l96 ]; then
  run simulate -model l96 -l96_mode two_scale -ts_max_time 5 -ensemble_size 2 -seed 3 \
    -output l96_truth.nc -quiet
  # the l96-closure experiment's width
  width=$(awk '$1 == "-fit_net_width" { print $2 }' "$here/../runs/l96-closure.opts")
  run train -train_data l96_truth.nc -train_inputs X -train_targets coupling -net mlp \
    -net_width "$width" -train_stencil 2 -train_epochs 2 -train_batch 256 -train_out l96_mlp.nc \
    -quiet
  nets+=(l96_mlp.nc)
fi
if [ "${ONLY:-ns2d}" = ns2d ]; then
  run simulate -model ns2d -grid_nx 128 -grid_ny 128 -output_stride 2 -ts_max_time 1 \
    -output_every 0.25 -seed 3 -output ns2d_truth.nc -quiet
  run train -train_data ns2d_truth.nc -train_inputs vorticity -train_targets subgrid_forcing \
    -net cnn -train_epochs 1 -train_batch 4 -train_val_fraction 0.2 -train_out ns2d_cnn.nc -quiet
  # a small CNN beside it (3 layers, 8 channels, kernels 5,3,3: 848 multiply-adds a point
  # against the FCNN's 263.6 k): how the cost scales with the network
  run train -train_data ns2d_truth.nc -train_inputs vorticity -train_targets subgrid_forcing \
    -net cnn -net_depth 3 -cnn_channels 8,8 -cnn_kernels 5,3,3 -train_epochs 1 -train_batch 4 \
    -train_val_fraction 0.2 -train_out ns2d_small.nc -quiet
  nets+=(ns2d_cnn.nc)
fi

# the null networks: every parameter zero, the weights' checksum updated (Python's netCDF4)
nulls=1
if ! "$PY" -c "import netCDF4, numpy" 2> /dev/null; then
  nulls=0
  echo "-- $PY has no netCDF4 and numpy: the null networks' rows are left out"
fi
[ "$nulls" = 0 ] || "$PY" - "${nets[@]}" <<'PY'
import hashlib
import shutil
import sys
import netCDF4  # noqa: F401
import numpy as np
for path in sys.argv[1:]:
    null = path.replace(".nc", "_null.nc")
    shutil.copy(path, null)
    d = netCDF4.Dataset(null, "a")
    params = [n for n, v in d.variables.items()
              if getattr(v, "long_name", "") == "network parameter"]
    bufs = [n for n, v in d.variables.items()
            if getattr(v, "long_name", "") == "network buffer (not trained)"]
    for n in params:
        d[n][:] = 0
    h = hashlib.sha256()
    for n in params + bufs:
        h.update(np.ascontiguousarray(d[n][:], dtype="<f4").tobytes())
    d.setncattr("weights_sha256", h.hexdigest())
    d.close()
PY

# attr FILE NAME: a global attribute of a gyre file, as gyre info prints it
attr() { "$gyre" info "$1" | awk -v n="$2" '$1 == n && $2 == "=" { print $3 }'; }

# time one case: bench CASE LABEL SIMULATE-OPTIONS... (with -ts_max_time T, from t = 0); prints
# "RESULT CASE LABEL s_per_step share calls_per_step s_per_call s_per_step_logged": the case runs
# twice, without -log_view (the timing) and with it (the inference share and the per-call
# figures); the figures from gyre info's attributes and -log_view's table
bench() {
  local case=$1 label=$2 T="" a prev=""
  shift 2
  for a in "$@"; do
    [ "$prev" = -ts_max_time ] && T=$a
    prev=$a
  done
  # a case that fails is said and left out of the table (the other cases still run; the exit
  # status is then 1)
  if ! run simulate "$@" -quiet -output "$case-$label.nc" -output_overwrite > /dev/null ||
    ! run simulate "$@" -quiet -output "$case-$label-log.nc" -output_overwrite -log_view \
      > "$case-$label.log"; then
    echo "-- $case $label: gyre simulate failed (left out)"
    return 0
  fi
  awk -v c="$case" -v l="$label" -v T="$T" -v dt="$(attr "$case-$label.nc" gyre_dt)" \
    -v w="$(attr "$case-$label.nc" stepping_wall_seconds)" \
    -v wl="$(attr "$case-$label-log.nc" stepping_wall_seconds)" '
    $1 == "GyreSurrogate" { calls = $2; inf = $4 }
    /^Time \(sec\):/ { total = $3 }
    END {
      steps = int(T / dt + 0.5)
      printf "RESULT %s %s %.6e %.4f %.3f %.4e %.6e\n", c, l, w / steps,
        (total > 0 ? inf / total : 0), calls / steps, (calls ? inf / calls : 0), wl / steps
    }' "$case-$label.log"
}

# want CASE: whether CASE is among NS2D_CASES (default: every ns2d case; plain always runs)
want() {
  [[ " ${NS2D_CASES:-null trained trimmed small step smstep bf16 smbf16 smstbf16} " == *" $1 "* ]]
}

echo "-- timing (1 rank)"
{
  # l96's runs take about a second: each case REPEATS times (default 5), the cases interleaved,
  # and the table keeps each case's fastest run (a shared machine's load only slows a run)
  # output every 10 steps as the l96-closure experiment's forecasts (l96's default, a record
  # every step, put a NetCDF write and the coupling diagnostic's evaluation in every step)
  l96=(-model l96 -l96_mode one_scale -ts_max_time 200 -output_every 0.05)
  for ((r = 0; r < ${REPEATS:-5}; r++)); do
    [ "${ONLY:-l96}" = l96 ] || break
    bench l96 plain "${l96[@]}"
    [ "$nulls" = 0 ] || bench l96 null "${l96[@]}" "${dev[@]}" -surrogate l96_mlp_null.nc -guard 0
    bench l96 trained "${l96[@]}" "${dev[@]}" -surrogate l96_mlp.nc -guard 0
    bench l96 guarded "${l96[@]}" "${dev[@]}" -surrogate l96_mlp.nc
    bench l96 step "${l96[@]}" "${dev[@]}" -surrogate l96_mlp.nc -guard 0 \
      -surrogate_closure_eval step
  done
  ns=(-model ns2d -grid_nx 64 -grid_ny 64 -ts_max_time "${NS2D_T:-0.5}" -output_every 0.25)
  [ "${ONLY:-ns2d}" = ns2d ] || exit 0
  # the CPU's bf16 (AMX or AVX-512 BF16): where a short run with it succeeds
  bf16=0
  if [ -z "${BACKEND:-}" ] && run simulate -model ns2d -grid_nx 64 -grid_ny 64 -ts_max_time 0.01 \
    -surrogate ns2d_small.nc -surrogate_precision bf16 -quiet -output probe.nc > /dev/null 2>&1; then
    bf16=1
  else
    echo "-- no bf16 on this CPU (AMX or AVX-512 BF16) or BACKEND set: the bf16 rows are left out"
  fi
  # NS2D_REPEATS times (default 1: the FCNN's runs are long on a CPU), interleaved, the fastest
  # kept, as l96's
  for ((r = 0; r < ${NS2D_REPEATS:-1}; r++)); do
    bench ns2d plain "${ns[@]}"
    [ "$nulls" = 0 ] || ! want null || bench ns2d null "${ns[@]}" "${dev[@]}" \
      -surrogate ns2d_cnn_null.nc -surrogate_scale -1 -guard 0
    ! want trained || bench ns2d trained "${ns[@]}" "${dev[@]}" -surrogate ns2d_cnn.nc \
      -surrogate_scale -1 -guard 0
    # not bitwise the default's (float rounding): no halo where the rank owns the whole grid
    ! want trimmed || bench ns2d trimmed "${ns[@]}" "${dev[@]}" -surrogate ns2d_cnn.nc \
      -surrogate_scale -1 -guard 0 -surrogate_trim_halo
    ! want small || bench ns2d small "${ns[@]}" "${dev[@]}" -surrogate ns2d_small.nc \
      -surrogate_scale -1 -guard 0
    ! want step || bench ns2d step "${ns[@]}" "${dev[@]}" -surrogate ns2d_cnn.nc \
      -surrogate_scale -1 -guard 0 -surrogate_closure_eval step
    ! want smstep || bench ns2d smstep "${ns[@]}" "${dev[@]}" -surrogate ns2d_small.nc \
      -surrogate_scale -1 -guard 0 -surrogate_closure_eval step
    [ "$bf16" = 1 ] || continue
    ! want bf16 || bench ns2d bf16 "${ns[@]}" -surrogate ns2d_cnn.nc -surrogate_scale -1 -guard 0 \
      -surrogate_precision bf16
    ! want smbf16 || bench ns2d smbf16 "${ns[@]}" -surrogate ns2d_small.nc -surrogate_scale -1 \
      -guard 0 -surrogate_precision bf16
    ! want smstbf16 || bench ns2d smstbf16 "${ns[@]}" -surrogate ns2d_small.nc -surrogate_scale -1 \
      -guard 0 -surrogate_precision bf16 -surrogate_closure_eval step
  done
} | tee results.txt

awk '/^RESULT/ && (!(($2, $3) in t) || $4 < t[$2, $3]) { t[$2, $3] = $4; s[$2, $3] = $5; cps[$2, $3] = $6; spc[$2, $3] = $7 }
/^RESULT/ && (!(($2, $3) in tl) || $8 < tl[$2, $3]) { tl[$2, $3] = $8 }
/^RESULT/ { if (!($2 in seen)) { seen[$2] = 1; c[++n] = $2 } }
# the ratio of each run to the plain run just before it (the cases are interleaved, plain first)
/^RESULT/ && $3 == "plain" { lp[$2] = $4 }
/^RESULT/ && $3 != "plain" && ($2 in lp) { nr[$2, $3]++; rr[$2, $3, nr[$2, $3]] = $4 / lp[$2] }
# the median of the paired ratios of case k of model m
function median(m, k,    q, i, j, v, w) {
  q = nr[m, k]
  for (i = 1; i <= q; i++) v[i] = rr[m, k, i]
  for (i = 2; i <= q; i++) for (j = i; j > 1 && v[j - 1] > v[j]; j--) { w = v[j]; v[j] = v[j - 1]; v[j - 1] = w }
  return q % 2 ? v[(q + 1) / 2] : (v[q / 2] + v[q / 2 + 1]) / 2
}
END {
  print ""
  print "== results: seconds per time step without -log_view (the fastest of the repeated runs);"
  print "each ratio against the plain step of the same run; ratio(log): the same from the -log_view runs"
  print "(calls/step: GyreSurrogate events per step, those of the output diagnostic included, a reused"
  print "output (CNN) counted; ms/call: the mean time of one event; infer.: its share of the -log_view run;"
  print "step, smstep: trained, small evaluated once a time step, -surrogate_closure_eval step;"
  print "bf16, smbf16, smstbf16: trained, small, smstep with -surrogate_precision bf16 (on AMX, or"
  print "AVX-512 BF16 where the CPU has no AMX);"
  print "median: the median over the repeats of the ratio of each run to the plain run before it,"
  print "which keeps the noise of the machine that the fastest runs leave out; met: by the ratio, \"edge\""
  print "where the ratio meets the goal and the median does not)"
  printf "%-6s %-8s %12s %10s %10s %10s %10s %10s %10s  %-8s %s\n", "model", "closure", "s/step", \
    "ratio", "median", "ratio(log)", "infer.", "calls/step", "ms/call", "goal", "met"
  for (i = 1; i <= n; i++) {
    m = c[i]
    printf "%-6s %-8s %12.4g %10s %10s %10s %10s\n", m, "plain", t[m, "plain"], "1", "1", "1", "-"
    nk = split("null trained guarded trimmed small step smstep bf16 smbf16 smstbf16", k, " ")
    for (j = 1; j <= nk; j++) {
      if (!((m, k[j]) in t)) continue
      r  = t[m, k[j]] / t[m, "plain"]
      md = nr[m, k[j]] ? median(m, k[j]) : r
      printf "%-6s %-8s %12.4g %10.3f %10.3f %10.3f %9.1f%% %10.2f %10.4g  %-8s %s\n", m, k[j], \
        t[m, k[j]], r, md, tl[m, k[j]] / tl[m, "plain"], 100 * s[m, k[j]], cps[m, k[j]], \
        1e3 * spc[m, k[j]], "<= 1.25", (r <= 1.25 ? (md <= 1.25 ? "yes" : "edge") : "NO")
    }
  }
}' results.txt
# the table shows what ran; a case that failed makes the exit status 1
failed=$(grep -c 'gyre simulate failed (left out)' results.txt || true)
if [ "$failed" -gt 0 ]; then
  echo "bench/coupling.sh: $failed case(s) failed (said above, left out of the table)" >&2
  exit 1
fi
