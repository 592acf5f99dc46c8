#!/usr/bin/env bash
# check_cf_tools.sh MPIEXEC IO_SAMPLE — writes the io sample file on 2 ranks and checks that
# ncdump, CDO, NCO and xarray read it without a single warning, that its CF metadata is
# there, that xarray decodes time to datetime64 with the coordinates attached, and that
# GyreFileInfo (`gyre info`) prints its dimensions, variables and provenance.
set -u
MPIEXEC=$1
SAMPLE=$2
PY=${PYTHON:-/usr/bin/python3}
out=io_cf_check.nc
fail=0
err() { echo "FAIL: $*"; fail=1; }
# a tool's stderr must be empty and its output must not mention a warning
clean() { # name stdout-file stderr-file
  [ -s "$3" ] && err "$1 wrote to stderr: $(head -c 600 "$3")"
  grep -qi 'warning' "$2" "$3" && err "$1 warned: $(grep -i warning "$2" "$3" | head -3)"
  return 0
}

rm -f "$out"
"$MPIEXEC" -n 2 --oversubscribe "$SAMPLE" write "$out" || { echo "FAIL: writer failed"; exit 1; }

# ncdump: the CF attributes
ncdump -h "$out" >io_cf_ncdump.out 2>io_cf_ncdump.err || err "ncdump -h exited $?"
clean ncdump io_cf_ncdump.out io_cf_ncdump.err
for want in 'time = UNLIMITED ; // (3 currently)' \
  'float vort(time, member, y, x) ;' 'double psi(time, member, y, x) ;' \
  'time:units = "days since 2000-01-01 00:00:00" ;' 'time:calendar = "proleptic_gregorian" ;' \
  'time:standard_name = "time" ;' 'time:axis = "T" ;' 'time:comment = "non-dimensional model time' \
  'int member(member) ;' 'member:standard_name = "realization" ;' \
  'x:units = "m" ;' 'x:axis = "X" ;' 'y:axis = "Y" ;' \
  'vort:long_name = "relative vorticity" ;' 'vort:units = "s-1" ;' \
  ':Conventions = "CF-1.8" ;' ':gyre_version = ' ':gyre_git_commit = ' ':mpi_size = 2 ;' \
  ':input_files = ' ':end_time = "2'; do
  grep -qF -- "$want" io_cf_ncdump.out || err "ncdump -h lacks: $want"
done
grep -q 'member:units' io_cf_ncdump.out && err "member has units"
echo "ncdump: CF attributes present"

# CDO: the three variables, three time steps decoded from the reference date
if cdo -s sinfon "$out" >io_cf_cdo.out 2>io_cf_cdo.err; then :; else err "cdo -s sinfon exited $?"; fi
clean cdo io_cf_cdo.out io_cf_cdo.err
grep -q ': vort' io_cf_cdo.out || err "cdo does not list vort"
grep -q ': psi' io_cf_cdo.out || err "cdo does not list psi"
grep -q 'time : 3 steps' io_cf_cdo.out || err "cdo does not see 3 time steps"
grep -q '2000-01-01 00:07:12' io_cf_cdo.out || err "cdo does not decode time 0.005 as 00:07:12"
echo "cdo: $(grep -c 'instant' io_cf_cdo.out) variables, no warnings"

# NCO
if ncks -m "$out" >io_cf_ncks.out 2>io_cf_ncks.err; then :; else err "ncks -m exited $?"; fi
clean ncks io_cf_ncks.out io_cf_ncks.err
grep -q 'vort' io_cf_ncks.out || err "ncks does not list vort"
echo "ncks: no warnings"

# xarray: decoded, coordinates attached, values as written
"$PY" - "$out" >io_cf_xarray.out 2>io_cf_xarray.err <<'PYEOF'
import sys, warnings
import numpy as np, xarray as xr, netCDF4, cftime  # imports under Python's default filters
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ds = xr.open_dataset(sys.argv[1], decode_cf=True)
    ds.load()
bad = []
if caught:
    bad.append("warnings: %s" % [str(w.message) for w in caught])
if not np.issubdtype(ds.time.dtype, np.datetime64):
    bad.append("time not decoded: %s" % ds.time.dtype)
want_t = np.array(["2000-01-01T00:00:00", "2000-01-01T00:07:12", "2000-01-01T00:14:24"],
                  dtype="datetime64[ns]")
if not np.array_equal(ds.time.values, want_t):
    bad.append("times %s" % ds.time.values)
if ds.vort.dims != ("time", "member", "y", "x"):
    bad.append("vort dims %s" % (ds.vort.dims,))
for c in ("time", "member", "y", "x"):
    if c not in ds.vort.coords:
        bad.append("coordinate %s not attached to vort" % c)
if list(ds.member.values) != [0, 1]:
    bad.append("member %s" % ds.member.values)
r, m, y, x = np.meshgrid(np.arange(3), np.arange(2), np.arange(12), np.arange(10), indexing="ij")
arg = 1.0 + 0.37 * r + 1.3 * m + 0.11 * y + 0.017 * x
psi = 1000.0 * np.sin(arg + 0.5) + 1.0 / 3.0
vort = (1000.0 * np.sin(arg) + 1.0 / 3.0).astype(np.float32)
dpsi = float(np.max(np.abs(ds.psi.values - psi)))
if dpsi > 1e-12:
    bad.append("psi differs by %g" % dpsi)
if not np.array_equal(ds.vort.values, vort):
    bad.append("vort differs by %g" % float(np.max(np.abs(ds.vort.values - vort))))
if ds.attrs.get("Conventions") != "CF-1.8" or int(ds.attrs.get("mpi_size", 0)) != 2:
    bad.append("global attributes %s" % ds.attrs)
print("xarray: time %s, vort %s, max |psi - expected| = %g" % (ds.time.dtype, ds.vort.dims, dpsi))
for b in bad:
    print("FAIL: " + b)
sys.exit(1 if bad else 0)
PYEOF
[ $? -eq 0 ] || err "xarray check failed"
cat io_cf_xarray.out
clean xarray io_cf_xarray.out io_cf_xarray.err

# GyreFileInfo
"$SAMPLE" info "$out" >io_cf_info.out 2>io_cf_info.err || err "info exited $?"
[ -s io_cf_info.err ] && err "info wrote to stderr: $(cat io_cf_info.err)"
for want in 'time   = UNLIMITED (3 records)' 'member = 2' 'vort(time, member, y, x)' \
  '[3 x 2 x 12 x 10]' '[s-1]' 'relative vorticity' '[days since 2000-01-01 00:00:00]' \
  'Conventions         = CF-1.8' 'mpi_size            = 2' 'seed                = 42' \
  'options             = -output sample.nc' '                        -output_deflate 1' \
  'slurm_job_id        = ' 'input_files         = ' 'sha256:' 'gyre_version        = '; do
  grep -qF -- "$want" io_cf_info.out || err "info lacks: $want"
done
echo "info: $(wc -l <io_cf_info.out) lines"

[ $fail -eq 0 ] && echo "check_cf_tools: all readers clean"
exit $fail
