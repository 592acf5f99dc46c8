#!/usr/bin/env bash
# bench/coupling.sh [BUILD] — the cost of a learned closure inside the solver (issue 4, section
# 6), in one run: for l96 one-scale (an MLP at each sector on X_{k-2..k+2}) and for ns2d at 64^2
# (the Ross et al. FCNN on the vorticity), the same simulation is timed
#   plain:   no closure;
#   null:    a network of the same shape whose weights are all zero (the same work, a constant
#            output): the cost of evaluating a network of that size;
#   trained: the trained network;
# and the table gives seconds per time step (the driver's stepping_wall_seconds / steps), the
# ratio closure step / plain step (goal <= 1.25) and the inference share of the run's time
# (the GyreSurrogate event of -log_view over its total; it includes the closure's evaluations
# for the output's coupling diagnostic), the GyreSurrogate events per step and their mean time
# (the pure inference cost of one call); ns2d "trimmed" is -surrogate_trim_halo (no halo on a
# rank that owns the whole grid: fewer points, not bitwise the default's), ns2d "small" a
# 3-layer CNN of 8 channels (kernels 5,3,3) instead of the FCNN. The networks are
# trained briefly here on small truth runs (their skill is not the point: bench/ measures
# speed). One rank, one thread. ONLY=l96 or ONLY=ns2d runs one model's cases; BACKEND=cuda
# (and PRECISION=tf32|bf16) evaluates the networks on the GPU (-surrogate_backend), where gyre
# was built with CUDA and the node has PETSc, NetCDF and a GPU; tests/gpu/run.sh gives the
# FCNN's latency on a bare GPU machine ("closure latency").
set -euo pipefail
build=${1:-build}
gyre=$(readlink -f "$build/bin/gyre" || true)
[ -x "$gyre" ] || { echo "bench/coupling.sh: $gyre not found: build first (make)" >&2; exit 1; }
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OPENBLAS_NUM_THREADS=1
PY=/usr/bin/python3
scratch=$(readlink -f "$(mktemp -d "$build/bench-coupling.XXXXXX")") # absolute: the trap runs after the cd
trap 'rm -rf "$scratch"' EXIT
cd "$scratch"
run() { mpiexec -n 1 "$gyre" "$@"; }
dev=() # the closures' backend (simulate only)
[ -n "${BACKEND:-}" ] && dev=(-surrogate_backend "$BACKEND" -surrogate_precision "${PRECISION:-fp32}")

echo "== gyre coupling benchmark on $(lscpu | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)"
echo "-- training the networks (small truth runs, a few epochs)"
nets=()
if [ "${ONLY:-l96}" = l96 ]; then
  run simulate -model l96 -l96_mode two_scale -ts_max_time 5 -ensemble_size 2 -seed 3 \
    -output l96_truth.nc -quiet
  run train -train_data l96_truth.nc -train_inputs X -train_targets coupling -net mlp \
    -net_width 32 -train_stencil 2 -train_epochs 2 -train_batch 256 -train_out l96_mlp.nc -quiet
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

# the null networks: every parameter zero, the weights' checksum updated
"$PY" - "${nets[@]}" <<'PY'
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

# time one case: bench CASE LABEL SIMULATE-OPTIONS...; prints "CASE LABEL s_per_step share"
bench() {
  local case=$1 label=$2
  shift 2
  run simulate "$@" -quiet -output "$case-$label.nc" -output_overwrite -log_view > "$case-$label.log"
  "$PY" - "$case" "$label" "$case-$label.nc" "$case-$label.log" <<'PY'
import sys
import netCDF4  # noqa: F401
case, label, nc, log = sys.argv[1:]
d = netCDF4.Dataset(nc)
wall = float(d.getncattr("stepping_wall_seconds"))
dt = float(d.getncattr("gyre_dt"))
t = d["time"][:]
steps = round((float(t[-1]) - float(t[0])) / dt)
inf, total, calls = 0.0, 0.0, 0
for line in open(log):
    f = line.split()
    if f and f[0] == "GyreSurrogate":
        calls, inf = int(f[1]), float(f[3])
    if line.startswith("Time (sec):"):
        total = float(f[2])
print(f"RESULT {case} {label} {wall / steps:.6e} {inf / total if total > 0 else 0:.4f} "
      f"{calls / steps:.3f} {inf / calls if calls else 0:.4e}")
PY
}

echo "-- timing (1 rank)"
{
  # l96's runs take about a second: each case REPEATS times (default 5), the cases interleaved,
  # and the table keeps each case's fastest run (a shared machine's load only slows a run)
  l96=(-model l96 -l96_mode one_scale -ts_max_time 200)
  for ((r = 0; r < ${REPEATS:-5}; r++)); do
    [ "${ONLY:-l96}" = l96 ] || break
    bench l96 plain "${l96[@]}"
    bench l96 null "${l96[@]}" "${dev[@]}" -surrogate l96_mlp_null.nc -guard 0
    bench l96 trained "${l96[@]}" "${dev[@]}" -surrogate l96_mlp.nc -guard 0
    bench l96 guarded "${l96[@]}" "${dev[@]}" -surrogate l96_mlp.nc
  done
  ns=(-model ns2d -grid_nx 64 -grid_ny 64 -ts_max_time 0.5 -output_every 0.25)
  [ "${ONLY:-ns2d}" = ns2d ] || exit 0
  bench ns2d plain "${ns[@]}"
  bench ns2d null "${ns[@]}" "${dev[@]}" -surrogate ns2d_cnn_null.nc -surrogate_scale -1 -guard 0
  bench ns2d trained "${ns[@]}" "${dev[@]}" -surrogate ns2d_cnn.nc -surrogate_scale -1 -guard 0
  # not bitwise the default's (float rounding): no halo where the rank owns the whole grid
  bench ns2d trimmed "${ns[@]}" "${dev[@]}" -surrogate ns2d_cnn.nc -surrogate_scale -1 -guard 0 \
    -surrogate_trim_halo
  bench ns2d small "${ns[@]}" "${dev[@]}" -surrogate ns2d_small.nc -surrogate_scale -1 -guard 0
} | tee results.txt

awk '/^RESULT/ && (!(($2, $3) in t) || $4 < t[$2, $3]) { t[$2, $3] = $4; s[$2, $3] = $5; cps[$2, $3] = $6; spc[$2, $3] = $7 }
/^RESULT/ { if (!($2 in seen)) { seen[$2] = 1; c[++n] = $2 } }
END {
  print ""
  print "== results: seconds per time step (l96: the fastest of the repeated runs); each ratio against"
  print "the plain step of the same run"
  print "(calls/step: GyreSurrogate events per step, those of the output diagnostic included, a reused"
  print "output counted; ms/call: the mean time of one event)"
  printf "%-6s %-8s %12s %10s %10s %10s %10s  %-8s %s\n", "model", "closure", "s/step", "ratio", \
    "infer.", "calls/step", "ms/call", "goal", "met"
  for (i = 1; i <= n; i++) {
    m = c[i]
    printf "%-6s %-8s %12.4g %10s %10s\n", m, "plain", t[m, "plain"], "1", "-"
    split("null trained guarded trimmed small", k, " ")
    for (j = 1; j <= 5; j++) {
      if (!((m, k[j]) in t)) continue
      r = t[m, k[j]] / t[m, "plain"]
      printf "%-6s %-8s %12.4g %10.3f %9.1f%% %10.2f %10.4g  %-8s %s\n", m, k[j], t[m, k[j]], r, \
        100 * s[m, k[j]], cps[m, k[j]], 1e3 * spc[m, k[j]], "<= 1.25", (r <= 1.25 ? "yes" : "NO")
    }
  }
}' results.txt
