#!/usr/bin/env bash
# gyre compare on an ns2d ensemble against an independent numpy computation of every metric
# (per lead: RMSE, relative L2, bias, centred ACC, CRPS with each REF member as the truth,
# spread, RMSE of the ensemble mean; time-mean and variance maps; W1), with TEST sharing only
# some of REF's times and variables; metrics.nc is the same on 1 and 2 ranks.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
mpirun_n 2 "$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -output_stride 2 -ensemble_size 3 \
  -ts_max_time 1 -output_every 0.25 -quiet -output ref.nc
# TEST: records 1.. of REF (times off by 1e-9, within the tolerance), vorticity perturbed by a
# known field plus seeded noise per member; no subgrid_forcing, and a variable REF lacks
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4
import numpy as np
r = netCDF4.Dataset("ref.nc")
w = np.asarray(r["vorticity"][:], dtype=np.float64)[1:]
nt, M, ny, nx = w.shape
rng = np.random.default_rng(7)
x = np.arange(nx) / nx
w = w + 0.3 * np.sin(2 * np.pi * x)[None, None, None, :] + 0.05 * rng.standard_normal(w.shape)
d = netCDF4.Dataset("test.nc", "w", format="NETCDF4")
d.createDimension("time", None); d.createDimension("member", M)
d.createDimension("y", ny); d.createDimension("x", nx)
t = d.createVariable("time", "f8", ("time",)); t.units = r["time"].units
t[:] = r["time"][1:] + 1e-9
v = d.createVariable("vorticity", "f8", ("time", "member", "y", "x")); v[:] = w
o = d.createVariable("other", "f8", ("time", "x")); o[:] = np.zeros((nt, nx))
d.close()
PY
"$GYRE" compare ref.nc test.nc -output m1.nc > m1.txt
mpirun_n 2 "$GYRE" compare ref.nc test.nc -output m2.nc -quiet
grep -q "crps spread/skill" m1.txt || { cat m1.txt; fail "summary lacks the ensemble metrics"; }
"$PYTHON" - <<'PY' 2>&1 | grep -v "numpy.ndarray size changed" || fail "metrics check failed"
import netCDF4
import warnings, numpy as np, xarray as xr
with warnings.catch_warnings():
    warnings.simplefilter("error")
    m = xr.open_dataset("m1.nc"); m2 = xr.open_dataset("m2.nc")
# 1 rank == 2 ranks, bitwise
for k in m.variables:
    a, b = m[k].values, m2[k].values
    assert a.shape == b.shape and np.array_equal(a, b, equal_nan=True), k
assert m.attrs["compare_variables"] == "vorticity", m.attrs["compare_variables"]
R = np.asarray(netCDF4.Dataset("ref.nc")["vorticity"][:], dtype=np.float64)[1:]
T = np.asarray(netCDF4.Dataset("test.nc")["vorticity"][:], dtype=np.float64)
n, M = R.shape[:2]
Rf, Tf = R.reshape(n, M, -1), T.reshape(n, M, -1)
clim = Rf.mean(axis=(0, 1))
D = Tf - Rf
want = {
  "rmse": np.sqrt((D**2).mean(axis=2)).mean(axis=1),
  "rel_l2": np.sqrt((D**2).sum(axis=2) / (Rf**2).sum(axis=2)).mean(axis=1),
  "bias": D.mean(axis=2).mean(axis=1),
}
aT, aR = Tf - clim, Rf - clim
aT = aT - aT.mean(axis=2, keepdims=True); aR = aR - aR.mean(axis=2, keepdims=True)
want["acc"] = ((aT * aR).sum(axis=2) / np.sqrt((aT**2).sum(axis=2) * (aR**2).sum(axis=2))).mean(axis=1)
# CRPS: TEST's members the ensemble, each REF member the truth in turn
err = np.abs(Tf[:, :, None, :] - Rf[:, None, :, :]).mean(axis=1)           # (n, M_ref, P)
pair = np.abs(Tf[:, :, None, :] - Tf[:, None, :, :]).mean(axis=(1, 2)) / 2  # (n, P)
want["crps"] = (err - pair[:, None, :]).mean(axis=(1, 2))
want["spread"] = np.sqrt(Tf.var(axis=1, ddof=1).mean(axis=1))
want["ens_mean_rmse"] = np.sqrt(((Tf.mean(axis=1)[:, None, :] - Rf)**2).mean(axis=(1, 2)))
want["spread_skill"] = want["spread"] / want["ens_mean_rmse"]
for k, w in want.items():
    got = m[f"{k}_vorticity"].values
    assert np.allclose(got, w, rtol=1e-10, atol=1e-14), (k, got, w)
maps = {"time_mean_ref": R.mean(axis=(0, 1)), "time_mean_test": T.mean(axis=(0, 1)),
        "variance_ref": R.var(axis=(0, 1)), "variance_test": T.var(axis=(0, 1))}
for k, w in maps.items():
    assert np.allclose(m[f"{k}_vorticity"].values, w, rtol=1e-10, atol=1e-14), k
assert abs(float(m.rmse_time_mean_vorticity) - np.sqrt(((maps["time_mean_test"] - maps["time_mean_ref"])**2).mean())) < 1e-12
w1 = np.abs(np.sort(R.ravel()) - np.sort(T.ravel())).mean()
assert abs(float(m.w1_vorticity) - w1) <= 1e-12 * w1, (float(m.w1_vorticity), w1)
t = netCDF4.Dataset("ref.nc")["time"][:]
assert np.allclose(m.lead.values, t[1:] - t[1], atol=1e-12)
print("compare_ns2d: numpy agrees; 1 rank == 2 ranks bitwise;", "CRPS", want["crps"][-1], "W1", w1)
PY
echo "compare_ns2d: ok"
