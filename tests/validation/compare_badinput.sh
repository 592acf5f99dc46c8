#!/usr/bin/env bash
# gyre compare refuses bad input with one error line naming the files, and leaves no metrics
# file: missing files, no shared variable, no shared time, a grid mismatch, NaN in REF, a
# baseline without the variable, missing or extra arguments, bad options.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
"$GYRE" simulate -model l96 -ts_max_time 0.05 -quiet -output a.nc
"$GYRE" simulate -model l96 -l96_K 16 -ts_max_time 0.05 -quiet -output k16.nc
"$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.05 -quiet -output one.nc
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4
import numpy as np, shutil
shutil.copy("a.nc", "later.nc")
d = netCDF4.Dataset("later.nc", "a"); d["time"][:] = d["time"][:] + 100; d.close()
shutil.copy("a.nc", "nantime.nc")
d = netCDF4.Dataset("nantime.nc", "a"); d["time"][3] = np.nan; d.close()
shutil.copy("a.nc", "nanref.nc")
d = netCDF4.Dataset("nanref.nc", "a"); x = d["X"][:]; x[2, 1] = np.nan; d["X"][:] = x; d.close()
shutil.copy("a.nc", "hours.nc")
d = netCDF4.Dataset("hours.nc", "a"); d["time"].units = "hours since 2000-01-01 00:00:00"; d.close()
shutil.copy("a.nc", "xr_days.nc")  # as xarray rewrites it: the same instant, written shorter
d = netCDF4.Dataset("xr_days.nc", "a"); d["time"].units = "days since 2000-01-01"; d.close()
shutil.copy("a.nc", "nounits.nc")
d = netCDF4.Dataset("nounits.nc", "a"); d["time"].delncattr("units"); d["X"].delncattr("units"); d.close()
shutil.copy("a.nc", "xunits.nc")
d = netCDF4.Dataset("xunits.nc", "a"); d["X"].units = "m s-1"; d.close()
shutil.copy("a.nc", "longunits.nc")  # too long to read: refused, not taken as none
d = netCDF4.Dataset("longunits.nc", "a"); d["X"].units = "m s-1 " * 12; d.close()
shutil.copy("a.nc", "longtime.nc")
d = netCDF4.Dataset("longtime.nc", "a"); d["time"].units = "days since 2000-01-01 " * 7; d.close()
d = netCDF4.Dataset("other.nc", "w", format="NETCDF4")
d.createDimension("time", None); d.createDimension("x", 4)
t = d.createVariable("time", "f8", ("time",)); t[:] = [0.0, 0.005]
v = d.createVariable("u", "f8", ("time", "x")); v[:] = np.zeros((2, 4))
d.close()
PY
expect_error "missing REF" "reference file: cannot open 'nope.nc'" "$GYRE" compare nope.nc a.nc -output m.nc
expect_error "missing TEST" "test file: cannot open 'nope.nc'" "$GYRE" compare a.nc nope.nc -output m.nc
expect_error "missing baseline" "baseline file: cannot open 'nope.nc'" "$GYRE" compare a.nc a.nc -baseline nope.nc -output m.nc
expect_error "one file" "needs two files" "$GYRE" compare a.nc -output m.nc
expect_error "three files" "is a third" "$GYRE" compare a.nc a.nc a.nc -output m.nc
expect_error "no -output" "no -output" "$GYRE" compare a.nc a.nc
# units stated by both files must agree: times are matched and fields differenced as numbers
expect_error "time in other units" \
  "time has units 'days since 2000-01-01 00:00:00' in 'a.nc' but 'hours since 2000-01-01 00:00:00' in 'hours.nc': convert one file first" \
  mpirun_n 2 "$GYRE" compare a.nc hours.nc -output m.nc
expect_error "a baseline's time in other units" "time has units .* in 'hours.nc': convert one" \
  "$GYRE" compare a.nc a.nc -baseline hours.nc -output m.nc
expect_error "a variable in other units" \
  "variable 'X' has units '1' in 'a.nc' but 'm s-1' in 'xunits.nc': convert one file first" \
  "$GYRE" compare a.nc xunits.nc -output m.nc
expect_error "units too long to read" \
  "variable 'X': its units in 'longunits.nc' are 72 characters, more than gyre compare reads (63)" \
  mpirun_n 2 "$GYRE" compare a.nc longunits.nc -output m.nc
expect_error "time units too long to read" \
  "time: its units in 'longtime.nc' are 154 characters, more than gyre compare reads (127)" \
  "$GYRE" compare longtime.nc a.nc -output m.nc
"$GYRE" compare a.nc longunits.nc -compare_vars Y -output units_long_ok.nc -quiet ||
  fail "a variable not compared with units too long to read refused the comparison"
"$GYRE" compare a.nc xunits.nc -compare_vars Y -output units_ok.nc -quiet ||
  fail "X's units refused a comparison of Y alone"
"$GYRE" compare xr_days.nc a.nc -output units_ok.nc -output_overwrite -quiet ||
  fail "'days since 2000-01-01' and 'days since 2000-01-01 00:00:00' are refused"
# where REF states no units, TEST's are checked against the baseline's
expect_error "TEST against the baseline, REF without units" \
  "time has units 'days since 2000-01-01 00:00:00' in 'a.nc' but 'hours since 2000-01-01 00:00:00' in 'hours.nc'" \
  "$GYRE" compare nounits.nc a.nc -baseline hours.nc -output m.nc
expect_error "TEST's variable against the baseline's, REF without units" \
  "variable 'X' has units '1' in 'a.nc' but 'm s-1' in 'xunits.nc'" \
  "$GYRE" compare nounits.nc a.nc -baseline xunits.nc -output m.nc
expect_error "no shared variable" "'a.nc' and 'other.nc' share no data variable" \
  "$GYRE" compare a.nc other.nc -output m.nc
expect_error "no shared time" "'a.nc' (times 0 to 0.05) and 'later.nc' (times 100 to 100.05) share no time" \
  "$GYRE" compare a.nc later.nc -output m.nc
expect_error "grid mismatch" "variable 'X' is on different grids: (k=8) in 'a.nc', (k=16) in 'k16.nc'" \
  mpirun_n 2 "$GYRE" compare a.nc k16.nc -output m.nc
expect_error "NaN in REF" "NaN in 'nanref.nc' variable 'X' at record 2" \
  mpirun_n 2 "$GYRE" compare nanref.nc a.nc -output m.nc
expect_error "baseline lacks the variable" "the baseline 'one.nc' has no record variable 'Y'" \
  "$GYRE" compare a.nc a.nc -baseline one.nc -output m.nc
expect_error "unknown variable" "-compare_vars: 'Z'" "$GYRE" compare a.nc a.nc -compare_vars Z -output m.nc
expect_error "bad threshold" "-compare_blowup" "$GYRE" compare a.nc a.nc -compare_blowup -1 -output m.nc
expect_error "NaN time" "the time of record 3 of 'nantime.nc' is nan" \
  "$GYRE" compare a.nc nantime.nc -output m.nc
expect_error "bad integer on 2 ranks" "-compare_pdf_bins 4294967297: out of range" \
  mpirun_n 2 "$GYRE" compare a.nc a.nc -compare_pdf_bins 4294967297 -output m.nc
expect_error "empty variable list" "-compare_vars needs variable names" \
  "$GYRE" compare a.nc a.nc -compare_vars "" -output m.nc
expect_error "a variable twice" "-compare_vars X,X: 'X' is given twice" \
  "$GYRE" compare a.nc a.nc -compare_vars X,X -output m.nc
expect_error "an empty list entry" "-compare_vars X,: an empty entry in the list" \
  "$GYRE" compare a.nc a.nc -compare_vars X, -output m.nc
# a baseline lacking a time REF and TEST share; REF's NaN after TEST's first NaN (an error on
# any rank count: it went unread on 1 rank, where the same rank read TEST's NaN first)
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, shutil
import numpy as np
shutil.copy("a.nc", "short.nc")
d = netCDF4.Dataset("a.nc")
n = len(d["time"])
d.close()
src = netCDF4.Dataset("a.nc")
d = netCDF4.Dataset("late.nc", "w")  # a.nc from its third record on
for name, dim in src.dimensions.items():
    d.createDimension(name, None if dim.isunlimited() else len(dim))
for name, v in src.variables.items():
    w = d.createVariable(name, v.dtype, v.dimensions)
    w.setncatts({k: v.getncattr(k) for k in v.ncattrs() if k != "_FillValue"})
    w[:] = v[2:] if v.dimensions and v.dimensions[0] == "time" else v[:]
d.close()
src.close()
shutil.copy("a.nc", "nanlate_ref.nc")
d = netCDF4.Dataset("nanlate_ref.nc", "a"); x = d["X"][:]; x[n - 1, 1] = np.nan; d["X"][:] = x; d.close()
shutil.copy("a.nc", "nanearly_test.nc")
d = netCDF4.Dataset("nanearly_test.nc", "a"); x = d["X"][:]; x[2, 0] = np.nan; d["X"][:] = x; d.close()
PY
expect_error "baseline lacks a shared time" "the baseline 'late.nc' has no record at time 0, which 'a.nc' and 'a.nc' share" \
  "$GYRE" compare a.nc a.nc -baseline late.nc -output m.nc
expect_error "NaN in REF after TEST's NaN, 1 rank" "NaN in 'nanlate_ref.nc' variable 'X'" \
  "$GYRE" compare nanlate_ref.nc nanearly_test.nc -output m.nc
expect_error "NaN in REF after TEST's NaN, 2 ranks" "NaN in 'nanlate_ref.nc' variable 'X'" \
  mpirun_n 2 "$GYRE" compare nanlate_ref.nc nanearly_test.nc -output m.nc
asum=$(sha256sum a.nc)
expect_error "output is REF" "-output 'a.nc' is the REF file 'a.nc'" \
  "$GYRE" compare a.nc one.nc -output a.nc -output_overwrite
expect_error "output is the baseline" "is the -baseline file 'one.nc'" \
  "$GYRE" compare a.nc a.nc -baseline one.nc -output ./one.nc -output_overwrite
echo "$asum" | sha256sum -c --quiet || fail "a.nc was modified"
[ ! -e m.nc ] || fail "a failed comparison left m.nc"
ls m.nc.tmp.* 2> /dev/null && fail "a failed comparison left a temporary file"
# the one-scale run shares X with the two-scale one: that is compared, Y and coupling are not
"$GYRE" compare a.nc one.nc -output m.nc -quiet
ncdump -h m.nc > m.cdl
grep -q "rmse_X(lead)" m.cdl || fail "X not compared"
! grep -q "rmse_Y" m.cdl || fail "Y compared though one.nc lacks it"
# a baseline that is NaN from its first record: compared, the similarity undefined for that
# reason (not "the baseline equals the reference")
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, numpy as np, shutil
shutil.copy("a.nc", "nanbase.nc")
d = netCDF4.Dataset("nanbase.nc", "a"); x = d["X"][:]; x[:] = np.nan; d["X"][:] = x; d.close()
PY
"$GYRE" compare a.nc a.nc -baseline nanbase.nc -compare_vars X -output nb.nc > nb.txt
grep -q "time mean undefined (the baseline is NaN/Inf at the first shared time)" nb.txt ||
  { cat nb.txt; fail "a NaN baseline's similarity not said to be undefined for that reason"; }
ncdump -h nb.nc > nb.cdl
grep -q 'similarity_w1_X:comment = "undefined (NaN): the baseline is NaN/Inf' nb.cdl ||
  fail "nb.nc's similarity comment"
# CF encodings: a missing value (_FillValue, missing_value, or NetCDF's default fill of a record
# never written) in REF or TEST is one error naming the marker, not numbers (a TEST with
# _FillValue -999 scored an RMSE in the hundreds); a packed TEST (short, scale_factor) is
# compared unpacked
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, numpy as np
a = netCDF4.Dataset("a.nc")
X = a["X"][:].data
def make(name, dtype="f8", fill=None, skip=None, scale=None, missing=None):
    d = netCDF4.Dataset(name, "w", format="NETCDF4")
    d.createDimension("time", None); d.createDimension("k", X.shape[1])
    t = d.createVariable("time", "f8", ("time",)); t.units = a["time"].units
    t[:] = a["time"][:]
    k = d.createVariable("k", "f8", ("k",)); k[:] = a["k"][:]
    v = d.createVariable("X", dtype, ("time", "k"), fill_value=fill)
    v.set_auto_maskandscale(False)
    raw = X.copy()
    if scale:
        v.scale_factor = scale
        raw = np.round(X / scale)
    if missing is not None:
        v.missing_value = missing
        raw[2, 1] = missing
    if fill is not None:
        raw[2, 1] = fill
    for r in range(X.shape[0]):
        if r != skip:
            v[r, :] = raw[r].astype(dtype)
    d.close()
make("fill.nc", fill=-999.0)
make("missing.nc", missing=1e20)
make("unwritten.nc", skip=3)
make("packed.nc", dtype="i2", scale=1e-3)
PY
expect_error "a _FillValue in TEST" "'fill.nc' variable 'X' at record 2, index 1 (k=1) holds its _FillValue -999 (a missing value)" \
  mpirun_n 2 "$GYRE" compare a.nc fill.nc -output mm.nc
expect_error "a missing_value in REF" "'missing.nc' variable 'X' at record 2, index 1 (k=1) holds its missing_value 1e+20" \
  "$GYRE" compare missing.nc a.nc -output mm.nc
expect_error "a record never written" "'unwritten.nc' variable 'X' at record 3, index 0 (k=0) holds NetCDF's default fill value (never written)" \
  "$GYRE" compare a.nc unwritten.nc -output mm.nc
[ ! -e mm.nc ] || fail "a comparison with missing values left mm.nc"
"$GYRE" compare a.nc packed.nc -output pk.nc -quiet
"$PYTHON" - <<'PY'
import netCDF4, numpy as np
r = netCDF4.Dataset("pk.nc")["rmse_X"][:]
assert np.all(r < 1e-3), f"a packed TEST is not compared unpacked: rmse {r}"
print("packed TEST: rmse_X at most", float(r.max()))
PY
echo "compare_badinput: ok"
