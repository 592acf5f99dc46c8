#!/usr/bin/env bash
# bench/solver.sh [BUILD [bench_solver options...]] — the ns2d solver benchmark (`make bench`).
#
# Runs BUILD/bin/bench_solver (bench/solver.c) on 1 and then 2 MPI ranks, in one go, and
# prints one table: RHS evaluations/s, TS steps/s, RHS bytes/s over copy bytes/s (goal
# >= 0.4), output share at output every 100 steps (goal <= 5%), NetCDF write bytes/s over raw
# write() bytes/s (goal >= 0.5) and the 1-to-2-rank strong-scaling efficiency of the RHS rate
# (rate on 2 ranks / (2 x rate on 1 rank); no goal set). Every ratio is against a reference
# measured in the same run. Scratch files go to a temporary folder under BUILD (the NetCDF and
# the raw file of the write test share it) and are removed at the end.
# Extra arguments go to bench_solver, e.g. `bash bench/solver.sh build -bench_sizes 128`.
set -euo pipefail
build=${1:-build}
shift || true
exe="$build/bin/bench_solver"
if [ ! -x "$exe" ]; then
  echo "bench/solver.sh: $exe not found: build first (make)" >&2
  exit 1
fi
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# One thread per rank, as an MPI run should be: Debian's PETSc links the pthreads OpenBLAS, whose
# idle worker thread spins in sched_yield() on the rank's own core (a quarter of the samples of
# a 1-rank profile) and makes the 2-rank figures erratic.
export OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
scratch=$(mktemp -d "$build/bench-scratch.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
log="$scratch/bench.log"

cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
cores=$(nproc)
echo "== gyre solver benchmark: ns2d, 1 then 2 MPI ranks on ${cpu:-unknown CPU} ($cores cores)," \
  "OPENBLAS_NUM_THREADS=$OPENBLAS_NUM_THREADS"
if [ "$cores" -lt 2 ]; then
  echo "   note: fewer than 2 cores: the 2-rank run is oversubscribed, its figures mean little"
fi
for np in 1 2; do
  echo "-- $np rank(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
  mpiexec -n "$np" --oversubscribe "$exe" -bench_dir "$scratch" "$@" | tee -a "$log"
done

awk -v cores="$cores" '
/^BENCH / {
  np = ""; n = ""
  for (i = 2; i <= NF; i++) {
    split($i, kv, "=")
    if (kv[1] == "np") np = kv[2]
    else if (kv[1] == "n") n = kv[2]
    else val[kv[1]] = kv[2]
  }
  if (!(n in seen)) { seen[n] = 1; sizes[++ns] = n }
  if (!(np in seenp)) { seenp[np] = 1; nps[++nnp] = np }
  for (k in val) v[np, n, k] = val[k]
  if (!(np in cpu) || val["cpu_share"] < cpu[np]) cpu[np] = val["cpu_share"]
  delete val
}
function row(label, np, key, fmt, scale,    s, i, x) {
  s = sprintf("%-46s %5s", label, np)
  for (i = 1; i <= ns; i++) {
    x = ((np, sizes[i], key) in v) ? sprintf(fmt, v[np, sizes[i], key] * scale) : "-"
    s = s sprintf(" %10s", x)
  }
  return s
}
function ratio(np, n, a, b) { return v[np, n, a] / v[np, n, b] }
function goalrow(label, np, a, b, scale, fmt, goal, op, gtext,    s, i, x, met, r) {
  s = sprintf("%-46s %5s", label, np); met = ""
  for (i = 1; i <= ns; i++) {
    if ((np, sizes[i], a) in v) {
      r = (b == "") ? v[np, sizes[i], a] : ratio(np, sizes[i], a, b)
      x = sprintf(fmt, r * scale)
      ok = (op == ">=") ? (r >= goal) : (r <= goal)
      met = met (met == "" ? "" : " ") (ok ? "yes" : "NO")
    } else { x = "-"; met = met (met == "" ? "" : " ") "-" }
    s = s sprintf(" %10s", x)
  }
  return s sprintf("  %-9s %s", gtext, met)
}
END {
  if (ns == 0) { print "bench/solver.sh: no results (did bench_solver fail?)"; exit 1 }
  hdr = sprintf("%-46s %5s", "figure", "ranks")
  for (i = 1; i <= ns; i++) hdr = hdr sprintf(" %10s", sizes[i] "^2")
  hdr = hdr sprintf("  %-9s %s", "goal", "met")
  print ""; print "== results (each ratio against a reference measured in the same run)"; print hdr
  for (j = 1; j <= nnp; j++)
    print row(j == 1 ? "RHS evaluations/s (explicit + implicit part)" : "", nps[j], "rhs_per_s", "%.4g", 1)
  for (j = 1; j <= nnp; j++)
    print row(j == 1 ? "TS steps/s (ARKIMEX 3, driver set-up)" : "", nps[j], "steps_per_s", "%.4g", 1)
  for (j = 1; j <= nnp; j++)
    print row(j == 1 ? "RHS achieved GB/s (17R+20S bytes/evaluation)" : "", nps[j], "rhs_Bps", "%.3g", 1e-9)
  for (j = 1; j <= nnp; j++)
    print row(j == 1 ? "copy GB/s (memcpy, 16 state-sized arrays)" : "", nps[j], "copy_Bps", "%.3g", 1e-9)
  for (j = 1; j <= nnp; j++)
    print goalrow(j == 1 ? "RHS bytes/s / copy bytes/s" : "", nps[j], "rhs_Bps", "copy_Bps", 1, "%.4f", 0.4, ">=", ">= 0.4")
  for (j = 1; j <= nnp; j++)
    print goalrow(j == 1 ? "output share, output every 100 steps" : "", nps[j], "out_share", "", 100, "%.3f%%", 0.05, "<=", "<= 5%")
  for (j = 1; j <= nnp; j++)
    print goalrow(j == 1 ? "NetCDF write / raw write() bytes/s" : "", nps[j], "nc_Bps", "raw_Bps", 1, "%.4f", 0.5, ">=", ">= 0.5")
  if (("1" in seenp) && ("2" in seenp)) {
    s = sprintf("%-46s %5s", "strong-scaling efficiency, RHS rate", "1->2"); t = sprintf("%-46s %5s", "strong-scaling efficiency, TS steps", "1->2")
    for (i = 1; i <= ns; i++) {
      n = sizes[i]
      s = s sprintf(" %10.3f", v[2, n, "rhs_per_s"] / (2 * v[1, n, "rhs_per_s"]))
      t = t sprintf(" %10.3f", v[2, n, "steps_per_s"] / (2 * v[1, n, "steps_per_s"]))
    }
    print s "  (no goal)"; print t "  (no goal)"
    if (cores <= 2)
      print "   note: this machine has " cores " cores: the 2-rank run uses every core (shared memory" \
            " bandwidth and caches, MPI through shared memory); it is not a cluster scaling figure."
  }
  for (j = 1; j <= nnp; j++) {
    printf "   CPU time / wall time in the compute loops on %s rank(s): %.3f%s\n", nps[j], cpu[nps[j]], \
      (cpu[nps[j]] < 0.9 ? "  WARNING: other processes competed for the cores; rerun on a quiet machine" : "")
  }
}' "$log"
