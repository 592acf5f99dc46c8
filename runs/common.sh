# shellcheck shell=bash
# runs/common.sh — sourced by the experiment scripts (runs/*.sh) and scripts/demo.sh.
#
# An experiment's options live in runs/<exp>.opts as PETSc options, one stage per prefix
# (-truth_ts_max_time 25 is the truth stage's -ts_max_time 25), and a size prefix before the
# stage prefix overrides it for that size (-small_truth_ensemble_size 4). stage_opts turns
# them into a stage's command-line options, the size-specific ones replacing the stage's own.
# The same file serves the Slurm pipeline (gyre submit).
set -euo pipefail

# die MESSAGE: one line on stderr, exit 1.
die() {
  echo "$(basename "$0"): error: $*" >&2
  exit 1
}

# stage_opts FILE STAGE SIZE: the options of STAGE (its prefix stripped), then those of
# SIZE_STAGE (replacing the stage's own), one token per line.
stage_opts() {
  local file=$1 stage=$2 size=$3
  [ -r "$file" ] || die "options file '$file' not found"
  awk -v p="-${stage}_" -v q="-${size}_${stage}_" '
    { sub(/#.*/, ""); sub(/[ \t]+$/, "") }
    NF == 0 { next }
    index($1, p) == 1 { gen[++ng] = $0; next }
    index($1, q) == 1 { own[++no] = $0 }
    function emit(line, pre,   i) {
      sub(/^[ \t]+/, "", line)
      n = split(line, tok, /[ \t]+/)
      print "-" substr(tok[1], length(pre) + 1)
      for (i = 2; i <= n; i++) print tok[i]
    }
    function name(line, pre,   t) {
      split(line, t, /[ \t]+/)
      return substr(t[1], length(pre) + 1)
    }
    END {
      for (i = 1; i <= no; i++) mine[name(own[i], q)] = 1
      for (i = 1; i <= ng; i++) if (!(name(gen[i], p) in mine)) emit(gen[i], p)
      for (i = 1; i <= no; i++) emit(own[i], q)
    }' "$file"
}

# load_stages STAGE...: for each STAGE an array of that name holding its options (opts, size).
load_stages() {
  local s
  for s in "$@"; do mapfile -t "$s" < <(stage_opts "$opts" "$s" "$size"); done
}

# opt_value FILE STAGE SIZE NAME: the value of -STAGE_NAME (SIZE's when it has one); an error
# when neither is set.
opt_value() {
  local v
  v=$(stage_opts "$1" "$2" "$3" | awk -v n="-$4" '$0 == n { getline; v = $0; found = 1 }
    END { if (found) print v; else exit 1 }') || die "$1: no -$2_$4 (nor -$3_$2_$4)"
  echo "$v"
}

# add A B: A + B in floating point, printed with %g.
add() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.10g\n", a + b }'; }

# ranks N COMMAND...: COMMAND on N MPI ranks.
ranks() {
  local n=$1
  shift
  mpiexec -n "$n" --oversubscribe "$@"
}

# step TITLE: a numbered heading for the experiment's log.
step_no=0
step() {
  step_no=$((step_no + 1))
  echo
  echo "== [$step_no] $*"
}

# check_build BUILD: BUILD/bin/gyre exists (set $gyre) and Debian's python (for the report and
# the polynomial fit) has numpy and netCDF4.
check_build() {
  gyre="$1/bin/gyre"
  [ -x "$gyre" ] || die "'$gyre' not found: build first (make, or cmake --build $1)"
  PYTHON=${PYTHON:-/usr/bin/python3}
  "$PYTHON" -c "import numpy, netCDF4" 2> /dev/null ||
    die "$PYTHON lacks numpy or netCDF4 (make setup installs python3-netcdf4)"
  export OMPI_ALLOW_RUN_AS_ROOT=${OMPI_ALLOW_RUN_AS_ROOT:-1}
  export OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=${OMPI_ALLOW_RUN_AS_ROOT_CONFIRM:-1}
}

# experiment_start NAME [BUILD] [SIZE]: the start of runs/NAME.sh [BUILD] [tiny|small|full]:
# sets build (default build), size (default small), gyre, opts (runs/NAME.opts) and out
# ($GYRE_RUN_DIR, default BUILD/runs/NAME-SIZE, created).
runs_dir=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
experiment_start() {
  exp_name=$1
  build=${2:-build}
  size=${3:-small}
  check_size "$size" tiny small full
  check_build "$build"
  opts="$runs_dir/$exp_name.opts"
  out=${GYRE_RUN_DIR:-$build/runs/$exp_name-$size}
  mkdir -p "$out"
  exp_start=$SECONDS
  echo "$exp_name ($size): files in $out"
}

# experiment_end: the run's wall time and where its report is.
experiment_end() {
  echo
  echo "$exp_name ($size) done in $((SECONDS - exp_start)) s"
  echo "report: $out/report/report.md (and index.html, PNGs)"
}

# check_size SIZE SIZES...: SIZE is one of SIZES.
check_size() {
  local size=$1 s
  shift
  for s in "$@"; do [ "$s" = "$size" ] && return 0; done
  die "size '$size': expected one of $*"
}
