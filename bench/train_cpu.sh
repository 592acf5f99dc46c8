#!/usr/bin/env bash
# bench/train_cpu.sh [BUILD [quick]] — the CPU training benchmark (issue 3, section 6).
#
# Trains, in the same run and on the same random data, gyre (BUILD/bin/bench_train_cpu,
# bench/train_cpu.c) and PyTorch (bench/train_cpu.py, Debian's python3-torch) on the same
# architectures — FNO-2D (width 20, modes 12, 64^2, batch 20), Ross et al.'s FCNN (64^2,
# batch 64) and an MLP (8-64-64-64-8, GELU, batch 1024) — at 1 and then 2 threads, and prints
# one table: samples/s of each, the ratio gyre/PyTorch against its goal (>= 1.5 FNO and MLP,
# >= 1.0 FCNN) and the peak RSS of each (goal: gyre <= PyTorch). Every case (framework,
# architecture, threads) runs in a process of its own, gyre and PyTorch one after the other,
# so that each peak RSS is its own and both meet the same machine state. Parameter counts and
# the sums of the data must agree between the two (checked; the run fails otherwise). The
# reading of the result lines and those checks are bench/train_table.awk, shared with
# bench/train_gpu.sh (the GPU benchmark, issue 6).
#
# quick (second argument): a smoke check with a few iterations (figures mean little).
# Installs python3-torch with apt-get (as scripts/setup.sh does: sudo when not root) when
# /usr/bin/python3 cannot import torch; otherwise run `sudo apt-get install -y python3-torch`.
set -euo pipefail
build=${1:-build}
mode=${2:-full}
here=$(cd "$(dirname "$0")" && pwd)
exe="$build/bin/bench_train_cpu"
py=/usr/bin/python3
if [ ! -x "$exe" ]; then
  echo "bench/train_cpu.sh: $exe not found: build first (make)" >&2
  exit 1
fi
if ! "$py" -c 'import torch' 2>/dev/null; then
  echo "bench/train_cpu.sh: PyTorch is missing: installing Debian's python3-torch (apt-get)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  if ! { $SUDO apt-get update -qq && $SUDO apt-get install -y -qq python3-torch >/dev/null; }; then
    echo "bench/train_cpu.sh: could not install python3-torch; run" \
      "'sudo apt-get install -y python3-torch' and try again" >&2
    exit 1
  fi
fi

# iterations: warm-up (not timed), then at least ITERS and at least MIN_TIME seconds
declare -A warm iters mint
if [ "$mode" = quick ]; then
  warm=([mlp]=2 [fno]=1 [fcnn]=1) iters=([mlp]=5 [fno]=1 [fcnn]=1) mint=([mlp]=0 [fno]=0 [fcnn]=0)
else
  warm=([mlp]=20 [fno]=2 [fcnn]=1) iters=([mlp]=200 [fno]=10 [fcnn]=3) mint=([mlp]=5 [fno]=8 [fcnn]=10)
fi

scratch=$(mktemp -d "${TMPDIR:-/tmp}/gyre-train-bench.XXXXXX")
trap 'rm -rf "$scratch"' EXIT
log="$scratch/train.log"
cpu=$(lscpu 2>/dev/null | sed -n 's/^Model name:[[:space:]]*//p' | head -n 1)
cores=$(nproc)
tv=$("$py" -c 'import torch; print(torch.__version__)')
echo "== gyre CPU training benchmark ($mode) on ${cpu:-unknown CPU} ($cores cores); PyTorch $tv"
[ "$cores" -ge 2 ] || echo "   note: fewer than 2 cores: the 2-thread figures mean little"
for T in 1 2; do
  for arch in fno fcnn mlp; do
    args=(-arch "$arch" -threads "$T" -iters "${iters[$arch]}" -warmup "${warm[$arch]}"
      -min_time "${mint[$arch]}")
    echo "-- $arch, $T thread(s); load average before: $(cut -d' ' -f1-3 /proc/loadavg)"
    OMP_NUM_THREADS=$T OPENBLAS_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 \
      OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 "$exe" "${args[@]}" | tee -a "$log"
    OMP_NUM_THREADS=$T OPENBLAS_NUM_THREADS=$T MKL_NUM_THREADS=$T \
      "$py" "$here/train_cpu.py" "${args[@]}" | tee -a "$log"
  done
done

awk -v case_key=threads -f "$here/train_table.awk" -f /dev/stdin "$log" <<'EOF'
END {
  n = split("fno fcnn mlp", archs, " ")
  split("1.5 1.0 1.5", goals, " ")
  split("FNO-2D w20 m12 64^2 b20|FCNN Ross 64^2 b64|MLP 8-64x3-8 b1024", labels, "|")
  bad = 0
  printf "\n== results (gyre and PyTorch in the same run, each case its own process)\n"
  printf "%-24s %3s %10s %10s %7s %6s %4s   %9s %9s %7s %4s %6s\n", "network", "thr", \
    "gyre s/s", "torch s/s", "ratio", "goal", "met", "gyre MiB", "torch MiB", "goal", "met", "cpu/w"
  for (T = 1; T <= 2; T++)
    for (a = 1; a <= n; a++) {
      key = archs[a] SUBSEP T
      if (!have_pair(key)) {
        printf "%-24s %3d  missing result\n", labels[a], T; bad = 1; continue
      }
      if (pair_differs(archs[a], key)) bad = 1
      g = v["gyre", key, "samples_per_s"]; t = v["torch", key, "samples_per_s"]
      mg = v["gyre", key, "peak_rss_kb"] / 1024; mt = v["torch", key, "peak_rss_kb"] / 1024
      r = g / t
      printf "%-24s %3d %10.4g %10.4g %7.3f %6s %4s   %9.0f %9.0f %7s %4s %3.2f/%3.2f\n", \
        labels[a], T, g, t, r, ">=" goals[a], (r >= goals[a] ? "yes" : "NO"), mg, mt, "g<=t", \
        (mg <= mt ? "yes" : "NO"), v["gyre", key, "cpu_per_wall"], v["torch", key, "cpu_per_wall"]
    }
  printf "   params: FNO %s, FCNN %s, MLP %s (equal in both); cpu/w: CPU time / wall time of the\n", \
    v["gyre", "fno" SUBSEP 1, "params"], v["gyre", "fcnn" SUBSEP 1, "params"], v["gyre", "mlp" SUBSEP 1, "params"]
  printf "   timed loop, gyre/torch (well below the thread count: other processes shared the cores)\n"
  exit bad
}
EOF
