#!/usr/bin/env bash
# Model output reads cleanly: ncdump -h, and xarray (decode_cf) with coordinates attached and
# time decoded, no warnings; `gyre info` prints the provenance.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
# options from an options file, as runs/<experiment>.opts will hold them
printf -- "-model l96\n-ts_max_time 0.1\n-quiet\n" > l96.opts
mpirun_n 2 "$GYRE" simulate -options_file l96.opts -output l96.nc
mpirun_n 2 "$GYRE" simulate -model ns2d -grid_nx 64 -grid_ny 64 -output_stride 4 -ensemble_size 2 \
  -ts_max_time 1 -output_every 0.5 -quiet -output ns.nc
ncdump -h l96.nc > l96.cdl
ncdump -h ns.nc > ns.cdl
grep -q "double X(time, k)" l96.cdl || fail "l96 X(time, k) missing"
grep -q "float vorticity(time, member, y, x)" ns.cdl || fail "vorticity(time, member, y, x) missing"
grep -q "subgrid_forcing(time, member, y, x)" ns.cdl || fail "subgrid_forcing missing"
"$PYTHON" - <<'PY' || fail "xarray check failed"
import warnings, xarray as xr, numpy as np
import netCDF4  # imported first: Debian's build warns about numpy's ABI at import, not about our files
with warnings.catch_warnings():
    warnings.simplefilter("error")
    a = xr.open_dataset("l96.nc", decode_cf=True)
    b = xr.open_dataset("ns.nc", decode_cf=True)
assert np.issubdtype(a.time.dtype, np.datetime64), a.time.dtype
assert a.sizes["time"] == 21 and a.X.dims == ("time", "k") and "k" in a.X.coords
assert a.Y.dims == ("time", "k", "j")
assert b.vorticity.dims == ("time", "member", "y", "x")
assert b.sizes["x"] == 16 and b.sizes["y"] == 16 and b.sizes["member"] == 2 and b.sizes["time"] == 3
assert set(["x", "y", "member", "time"]) <= set(b.vorticity.coords)
assert b.vorticity.dtype == np.float32 and a.X.dtype == np.float64
assert a.attrs["Conventions"] == "CF-1.8" and a.attrs["mpi_size"] in (2, "2")
m0, m1 = b.vorticity.isel(time=0, member=0).values, b.vorticity.isel(time=0, member=1).values
assert np.abs(m0 - m1).max() > 1e-3, "members are not distinct"
print("xarray: ok", dict(a.sizes), dict(b.sizes))
PY
# CDO and NCO read the model output without a warning
for f in l96.nc ns.nc; do
  cdo -s sinfon "$f" > cdo.txt 2> cdo.err || { cat cdo.err; fail "cdo cannot read $f"; }
  ! grep -qi "warning" cdo.err cdo.txt || { cat cdo.err; fail "cdo warns about $f"; }
  ncks -m "$f" > ncks.txt 2> ncks.err || { cat ncks.err; fail "ncks cannot read $f"; }
  ! grep -qi "warning" ncks.err || { cat ncks.err; fail "ncks warns about $f"; }
done
"$GYRE" info ns.nc > info.txt
grep -q "command_line" info.txt && grep -q "vorticity" info.txt || { cat info.txt; fail "gyre info lacks provenance"; }
# several files: each under its own '== FILE' line
"$GYRE" info l96.nc ns.nc > info2.txt
[ "$(grep -c '^== ' info2.txt)" -eq 2 ] && grep -q "^== ns.nc$" info2.txt &&
  grep -q "vorticity" info2.txt && grep -q "X" info2.txt || { cat info2.txt; fail "gyre info of two files"; }
expect_error "gyre info of a missing second file" "cannot open 'nope.nc'" "$GYRE" info ns.nc nope.nc
echo "simulate_files: ok"
