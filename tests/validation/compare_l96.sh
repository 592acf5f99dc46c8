#!/usr/bin/env bash
# gyre compare on l96 output against known answers: identical files give zero errors and ACC 1
# exactly; TEST = REF + c gives RMSE = |c|, bias = c, ACC = 1 and W1 = |c|; TEST = REF + a
# cos(2 pi k/K) gives RMSE = a/sqrt(2) and bias 0; a NaN and a value beyond -compare_blowup
# are found at their times; the baseline similarity is 0.5 for BASE = REF + 2c and undefined
# for BASE = REF; the cost is read from the files; xarray reads metrics.nc without warnings.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
"$GYRE" simulate -model l96 -ts_max_time 1 -quiet -output ref.nc
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4  # first: Debian's build warns about numpy's ABI at import
import numpy as np, shutil
def make(name, f):
    shutil.copy("ref.nc", name)
    d = netCDF4.Dataset(name, "a")
    for v in ("X", "Y", "coupling"):
        d[v][:] = f(v, np.asarray(d[v][:]))
    d.close()
make("plus_c.nc", lambda v, a: a + 0.75)
make("plus_2c.nc", lambda v, a: a + 1.5)
K = 8
make("field.nc", lambda v, a: a + 0.5 * np.cos(2 * np.pi * np.arange(K) / K).reshape((1, K) + (1,) * (a.ndim - 2)))
def blow(v, a):
    a = a.copy()
    if v == "X": a[30, 3] = np.nan
    if v == "Y": a[12, 2, 5] = 2e6
    return a
make("blowup.nc", blow)
make("ramp.nc", lambda v, a: a + 0.1 * np.arange(a.shape[0]).reshape((-1,) + (1,) * (a.ndim - 1)))
import xarray as xr  # TEST = REF + c from record 20 on: the baseline has times TEST lacks
xr.open_dataset("plus_c.nc", decode_times=False).isel(time=slice(20, None)).to_netcdf("late_c.nc")
PY
# identical files: exactly zero errors, ACC exactly 1
"$GYRE" compare ref.nc ref.nc -output same.nc > same.txt
grep -q "stability: no NaN/Inf" same.txt || { cat same.txt; fail "summary lacks stability"; }
grep -q "speed-up 1x" same.txt || { cat same.txt; fail "summary lacks the cost"; }
"$GYRE" compare ref.nc plus_c.nc -output plus_c_m.nc -quiet
"$GYRE" compare ref.nc field.nc -output field_m.nc -quiet
"$GYRE" compare ref.nc blowup.nc -output blowup_m.nc -compare_blowup 1e6 > blowup.txt
"$GYRE" compare ref.nc plus_c.nc -baseline plus_2c.nc -output sim.nc -quiet
"$GYRE" compare ref.nc plus_c.nc -baseline ref.nc -output undef.nc > undef.txt
"$GYRE" compare ref.nc late_c.nc -baseline ramp.nc -output late.nc -quiet
grep -q "time mean undefined (D(BASE,REF) = 0, the baseline equals the reference)" undef.txt || { cat undef.txt; fail "undefined similarity not stated"; }
"$PYTHON" - <<'PY' 2>&1 | grep -v "numpy.ndarray size changed" || fail "metrics check failed"
import netCDF4
import warnings, numpy as np, xarray as xr
with warnings.catch_warnings():
    warnings.simplefilter("error")
    same = xr.open_dataset("same.nc"); c = xr.open_dataset("plus_c_m.nc")
    fld = xr.open_dataset("field_m.nc"); bl = xr.open_dataset("blowup_m.nc")
    sim = xr.open_dataset("sim.nc"); und = xr.open_dataset("undef.nc")
ref = netCDF4.Dataset("ref.nc"); t = ref["time"][:]
assert same.sizes["lead"] == len(t) and same.lead.attrs["units"] == "1"
assert abs(float(same.lead[-1]) - (t[-1] - t[0])) < 1e-12
for v in ("X", "Y", "coupling"):
    for m in ("rmse", "rel_l2", "bias"):
        assert (same[f"{m}_{v}"].values == 0).all(), (m, v)
    assert (same[f"acc_{v}"].values == 1).all(), v
    for m in ("rmse_time_mean", "rmse_variance", "w1"):
        assert float(same[f"{m}_{v}"]) == 0, (m, v)
    assert np.isnan(float(same[f"blowup_time_{v}"]))
    # REF + c
    assert np.allclose(c[f"rmse_{v}"], 0.75, rtol=1e-12, atol=0), v
    assert np.allclose(c[f"bias_{v}"], 0.75, rtol=1e-12, atol=0), v
    assert np.allclose(c[f"acc_{v}"], 1, rtol=0, atol=1e-12), v
    assert abs(float(c[f"w1_{v}"]) - 0.75) < 1e-12 and abs(float(c[f"rmse_time_mean_{v}"]) - 0.75) < 1e-12
    assert float(c[f"rmse_variance_{v}"]) < 1e-12
    assert np.allclose(c[f"time_mean_test_{v}"] - c[f"time_mean_ref_{v}"], 0.75, atol=1e-12)
    # REF + a cos(2 pi k / K): RMSE a/sqrt(2), bias 0
    assert np.allclose(fld[f"rmse_{v}"], 0.5 / np.sqrt(2), rtol=1e-12, atol=0), v
    assert np.abs(fld[f"bias_{v}"]).max() < 1e-12, v
    # similarity 1 - D(TEST)/D(BASE) = 1 - c/2c
    for m in ("time_mean", "w1"):
        assert abs(float(sim[f"similarity_{m}_{v}"]) - 0.5) < 1e-12, (m, v)
        assert np.isnan(float(und[f"similarity_{m}_{v}"])), (m, v)
        assert "undefined" in und[f"similarity_{m}_{v}"].attrs["comment"]
# a baseline with times TEST lacks: scored on TEST's leads (record 20 on: 0.1 (20 + i)), and
# its distances over the same times as TEST's
late = xr.open_dataset("late.nc")
for v in ("X", "Y", "coupling"):
    want = 0.1 * (20 + np.arange(len(t) - 20))
    assert np.allclose(late[f"rmse_baseline_{v}"], want, rtol=1e-9, atol=0), v
    assert abs(float(late[f"similarity_time_mean_{v}"]) - (1 - 0.75 / np.mean(want))) < 1e-9, v
# stability: X has a NaN at record 30: its metrics stop there; Y exceeds 1e6 at record 12
assert abs(float(bl.blowup_time_X) - t[30]) < 1e-12, float(bl.blowup_time_X)
assert abs(float(bl.blowup_time_Y) - t[12]) < 1e-12, float(bl.blowup_time_Y)
assert np.isnan(float(bl.blowup_time_coupling))
assert (bl.rmse_X.values[:30] == 0).all() and np.isnan(bl.rmse_X.values[30:]).all()
assert float(bl.w1_X) == 0 and not np.isnan(bl.rmse_Y.values).any()
# cost: the driver's stepping wall time over the time span
assert np.isfinite(same.attrs["cost_ref_wall_seconds_per_model_time"]) and same.attrs["cost_speedup"] == 1
assert same.attrs["Conventions"] == "CF-1.8" and "ref.nc" in same.attrs["input_files"]
print("compare_l96 metrics: ok")
PY
grep -q "stability: t = 0.15: NaN in 'blowup.nc' variable 'X' at record 30" blowup.txt || { cat blowup.txt; fail "NaN not reported"; }
grep -q "|Y| = 2e+06 > 1e+06" blowup.txt || { cat blowup.txt; fail "blow-up not reported"; }
# a field that is zero at lead 0: its energy drift is undefined, said so, and NaN in the file
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, shutil
shutil.copy("ref.nc", "zero0.nc")
d = netCDF4.Dataset("zero0.nc", "a")
d["X"][0] = 0
d.close()
PY
"$GYRE" compare zero0.nc zero0.nc -compare_vars X -output zero0_m.nc > zero0.txt
grep -q "energy mean(V^2)/2 REF undefined (zero at lead 0, [0-9.e+-]* at the end), TEST undefined" \
  zero0.txt || { cat zero0.txt; fail "a zero energy at lead 0 gives a drift"; }
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, numpy as np
d = netCDF4.Dataset("zero0_m.nc")
assert np.isnan(d["energy_drift_ref_X"][:]).all() and np.isnan(float(d["energy_drift_final_ref_X"][0] if d["energy_drift_final_ref_X"].ndim else d["energy_drift_final_ref_X"][...]))
PY
# a spatial dimension named as one of the metrics file's own (lead): kept, as lead_space
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, numpy as np
for name, off in [("lead_a.nc", 0.0), ("lead_b.nc", 0.25)]:
    d = netCDF4.Dataset(name, "w")
    d.createDimension("time", None), d.createDimension("lead", 6)
    t = d.createVariable("time", "f8", ("time",)); t.units = "days since 2000-01-01"
    c = d.createVariable("lead", "f8", ("lead",)); c[:] = np.arange(6) * 10.0
    x = d.createVariable("X", "f8", ("time", "lead"))
    t[:] = np.arange(4.0)
    x[:] = np.random.RandomState(0).randn(4, 6) + off
    d.close()
PY
"$GYRE" compare lead_a.nc lead_b.nc -output lead_m.nc -quiet || fail "a spatial dimension 'lead'"
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, numpy as np
d = netCDF4.Dataset("lead_m.nc")
assert len(d.dimensions["lead"]) == 4 and len(d.dimensions["lead_space"]) == 6
assert d["time_mean_ref_X"].dimensions == ("lead_space",), d["time_mean_ref_X"].dimensions
assert (d["lead_space"][:] == np.arange(6) * 10.0).all() and "named 'lead' there" in d["lead_space"].long_name
assert np.allclose(d["rmse_X"][:], 0.25) and np.allclose(d["lead"][:], np.arange(4.0))
PY
# REF dimensions named as a metric (rmse_X) or as another's new name (lead_space beside lead):
# each given a name nothing else has
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, numpy as np
for name, off in [("names_a.nc", 0.0), ("names_b.nc", 0.5)]:
    d = netCDF4.Dataset(name, "w")
    d.createDimension("time", None)
    t = d.createVariable("time", "f8", ("time",)); t[:] = np.arange(4.0)
    for v, dim, n in [("X", "lead", 6), ("Y", "lead_space", 5), ("Z", "rmse_X", 3)]:
        d.createDimension(dim, n)
        c = d.createVariable(dim, "f8", (dim,)); c[:] = np.arange(n) + 100.0
        x = d.createVariable(v, "f8", ("time", dim)); x[:] = np.ones((4, n)) + off
    d.close()
PY
"$GYRE" compare names_a.nc names_b.nc -output names_m.nc -quiet ||
  fail "dimensions named rmse_X, lead and lead_space"
"$PYTHON" - <<'PY' 2>/dev/null || fail "dimensions named rmse_X, lead and lead_space: wrong names"
import netCDF4, numpy as np
d = netCDF4.Dataset("names_m.nc")
for v, dim, n in [("X", "lead_space2", 6), ("Y", "lead_space", 5), ("Z", "rmse_X_space", 3)]:
    assert d["time_mean_ref_" + v].dimensions == (dim,), (v, d["time_mean_ref_" + v].dimensions)
    assert (d[dim][:] == np.arange(n) + 100.0).all(), dim
    assert np.allclose(d["rmse_" + v][:], 0.5), v
assert d["rmse_X"].dimensions == ("lead",) and "named 'rmse_X' there" in d["rmse_X_space"].long_name
PY
# -output exists
expect_error "existing output" "same.nc' exists" "$GYRE" compare ref.nc ref.nc -output same.nc
"$GYRE" compare ref.nc ref.nc -output same.nc -output_overwrite -quiet
# -help lists the options
"$GYRE" compare -help > help.txt || true
for o in -output -output_overwrite -baseline -compare_vars -compare_blowup -compare_time_tol; do
  grep -q -- "$o " help.txt || { cat help.txt; fail "gyre compare -help lacks $o"; }
done
echo "compare_l96: ok"
