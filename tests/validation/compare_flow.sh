#!/usr/bin/env bash
# gyre compare's spectra, conservation drift, PDFs and snapshots against known answers:
# identical files give zero spectral RMSE, equal drifts and equal PDFs; TEST = 2 REF gives a
# log10 spectral RMSE of log10 4 and the same drift; the spectra of a stored single mode
# cos(2 pi 3 x) (1 + lead) peak at shell 3 with E = Z / (6 pi)^2 and its drift is
# (1 + lead)^2 - 1; an ns2d run's spectra agree with numpy's FFT; a flow stored as velocity
# (u, v) gives the spectra and totals of the same flow stored as vorticity; l96 TEST = REF sqrt(1 + lead)
# drifts by (1 + lead)(1 + REF's drift) - 1; the PDFs agree with numpy.histogram on the
# stored edges; the snapshots are the records at the first, middle and last lead.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
"$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -output_stride 2 -ensemble_size 2 \
  -ts_max_time 1 -output_every 0.25 -quiet -output ref.nc
"$GYRE" simulate -model l96 -ts_max_time 0.5 -quiet -output l96.nc
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4  # first: Debian's build warns about numpy's ABI at import
import numpy as np, shutil
shutil.copy("ref.nc", "twice.nc")
d = netCDF4.Dataset("twice.nc", "a"); d["vorticity"][:] = 2 * d["vorticity"][:]; d.close()
# a single mode, growing as 1 + t, on a 16 x 16 unit torus
d = netCDF4.Dataset("mode.nc", "w", format="NETCDF4")
d.createDimension("time", None); d.createDimension("y", 16); d.createDimension("x", 16)
t = d.createVariable("time", "f8", ("time",)); t[:] = [0, 0.5, 1, 1.5]
for n in ("y", "x"):
    c = d.createVariable(n, "f8", (n,)); c[:] = np.arange(16) / 16
x = np.arange(16) / 16
w = d.createVariable("vorticity", "f8", ("time", "y", "x"))
w[:] = (1 + np.asarray(t[:]))[:, None, None] * np.cos(2 * np.pi * 3 * x)[None, None, :] * np.ones((4, 16, 1))
d.close()
# a flow stored both as velocity (u, v) and as vorticity: psi = cos(2 pi 3 x) + sin(2 pi (2 x + 4 y)) / 2
d = netCDF4.Dataset("uv.nc", "w", format="NETCDF4")
d.createDimension("time", None); d.createDimension("y", 16); d.createDimension("x", 16)
t = d.createVariable("time", "f8", ("time",)); t[:] = [0, 1]
Y, X = np.meshgrid(np.arange(16) / 16, np.arange(16) / 16, indexing="ij")
tp = 2 * np.pi
u = 0.5 * tp * 4 * np.cos(tp * (2 * X + 4 * Y))                              # d psi / dy
v = tp * 3 * np.sin(tp * 3 * X) - 0.5 * tp * 2 * np.cos(tp * (2 * X + 4 * Y))  # -d psi / dx
w = (tp * 3)**2 * np.cos(tp * 3 * X) + 0.5 * tp**2 * 20 * np.sin(tp * (2 * X + 4 * Y))  # -lap psi
for name, f in (("u", u), ("v", v), ("vorticity", w)):
    var = d.createVariable(name, "f8", ("time", "y", "x")); var[:] = np.stack([f, 0.5 * f])
d.close()
shutil.copy("l96.nc", "l96grow.nc")
d = netCDF4.Dataset("l96grow.nc", "a"); tt = np.asarray(d["time"][:]); lead = tt - tt[0]
d["X"][:] = np.asarray(d["X"][:]) * np.sqrt(1 + lead)[:, None]; d.close()
PY
"$GYRE" compare ref.nc ref.nc -output same.nc > same.txt
"$GYRE" compare ref.nc twice.nc -output twice_m.nc -quiet
"$GYRE" compare mode.nc mode.nc -output mode_m.nc > mode.txt
"$GYRE" compare uv.nc uv.nc -output uv_m.nc -quiet
"$GYRE" compare l96.nc l96grow.nc -compare_vars X -compare_pdf_bins 20 -output l96_m.nc > l96.txt
for f in same.txt mode.txt; do
  grep -q "spectra (time mean, 9 shells): RMSE of log10 kinetic energy 0, of log10 enstrophy 0" $f ||
    { cat $f; fail "$f: the spectral RMSE is not on the summary"; }
  grep -q "conservation (drift q(t)/q(0) - 1 " $f || { cat $f; fail "$f: no drift on the summary"; }
done
grep -q "enstrophy REF +5.25, TEST +5.25" mode.txt ||
  { cat mode.txt; fail "the single mode's drift (1 + 1.5)^2 - 1 = 5.25 is not on the summary"; }
grep -q "PDFs: 20 common bins" l96.txt || { cat l96.txt; fail "the PDF bins are not on the summary"; }
"$PYTHON" - <<'PY' > check.txt 2>&1 || { cat check.txt; fail "metrics check failed"; }
import netCDF4
import warnings, numpy as np, xarray as xr
with warnings.catch_warnings():
    warnings.simplefilter("error")
    same = xr.open_dataset("same.nc"); tw = xr.open_dataset("twice_m.nc")
    mode = xr.open_dataset("mode_m.nc"); l96 = xr.open_dataset("l96_m.nc")
# identical files: zero spectral RMSE, identical drifts and PDFs
for v, sp in (("vorticity", ("ke", "enstrophy")), ("subgrid_forcing", ("power",))):
    for s in sp:
        assert float(same[f"rmse_log_{s}_spectrum_{v}"]) == 0, (s, v)
        assert np.array_equal(same[f"{s}_spectrum_ref_{v}"], same[f"{s}_spectrum_test_{v}"])
    for q in (("energy", "enstrophy") if v == "vorticity" else ("energy",)):
        assert np.array_equal(same[f"{q}_drift_ref_{v}"], same[f"{q}_drift_test_{v}"]), (q, v)
        assert float(same[f"{q}_drift_final_ref_{v}"]) == float(same[f"{q}_drift_final_test_{v}"])
    assert np.array_equal(same[f"pdf_ref_{v}"], same[f"pdf_test_{v}"]), v
    e = same[f"pdf_edge_{v}"].values
    assert abs((same[f"pdf_ref_{v}"].values * np.diff(e)).sum() - 1) < 1e-12, v
assert "subgrid_forcing" not in " ".join(k for k in same.variables if k.startswith("enstrophy_"))
# TEST = 2 REF: spectra x4, so log10 RMSE = log10 4; the same drifts (to round-off)
for s in ("ke", "enstrophy"):
    assert abs(float(tw[f"rmse_log_{s}_spectrum_vorticity"]) - np.log10(4)) < 1e-12, s
    assert np.allclose(tw[f"{s}_spectrum_test_vorticity"], 4 * tw[f"{s}_spectrum_ref_vorticity"], rtol=1e-12)
for q in ("energy", "enstrophy"):
    assert np.allclose(tw[f"{q}_drift_test_vorticity"], tw[f"{q}_drift_ref_vorticity"], rtol=0, atol=1e-12), q
# the ns2d spectra against numpy: time and member mean of |w_hat|^2/2 (/|k|^2) per shell
R = np.asarray(netCDF4.Dataset("ref.nc")["vorticity"][:], dtype=np.float64)
n = R.shape[-1]
wh = np.fft.fft2(R) / n**2
k = np.fft.fftfreq(n, 1 / n) * 2 * np.pi          # unit torus
k2 = k[:, None]**2 + k[None, :]**2
shell = np.floor(np.sqrt(k2) / (2 * np.pi) + 0.5).astype(int)
inv_k2 = np.where(k2 > 0, 1 / np.where(k2 > 0, k2, 1), 0)  # E skips k = 0
a2 = (np.abs(wh)**2 / 2).mean(axis=(0, 1))
Z = np.array([a2[shell == s].sum() for s in range(n // 2 + 1)])
E = np.array([(a2 * inv_k2)[shell == s].sum() for s in range(n // 2 + 1)])
assert np.allclose(same.enstrophy_spectrum_ref_vorticity, Z, rtol=1e-10, atol=1e-16)
assert np.allclose(same.ke_spectrum_ref_vorticity, E, rtol=1e-10, atol=1e-16)
assert np.allclose(same.wavenumber, 2 * np.pi * np.arange(n // 2 + 1))
en = (np.abs(wh)**2 / 2 * inv_k2).sum(axis=(2, 3)).mean(axis=1)
assert np.allclose(same.energy_ref_vorticity, en, rtol=1e-10)
assert np.allclose(same.enstrophy_ref_vorticity, (R**2).mean(axis=(1, 2, 3)) / 2, rtol=1e-12)
# the single mode: peak at shell 3, E = Z / (6 pi)^2, time mean of (1 + t)^2 / 4, drift (1 + t)^2 - 1
t = np.array([0, 0.5, 1, 1.5])
Zs, Es = mode.enstrophy_spectrum_ref_vorticity.values, mode.ke_spectrum_ref_vorticity.values
assert int(np.argmax(Zs)) == 3 and int(np.argmax(Es)) == 3, (Zs, Es)
assert abs(Zs[3] - ((1 + t)**2).mean() / 4) < 1e-12 and abs(Es[3] - Zs[3] / (6 * np.pi)**2) < 1e-14
assert np.allclose(np.delete(Zs, 3), 0, atol=1e-20)
for q in ("energy", "enstrophy"):
    assert np.allclose(mode[f"{q}_drift_ref_vorticity"], (1 + t)**2 - 1, rtol=1e-12), q
    assert abs(float(mode[f"{q}_drift_final_test_vorticity"]) - 5.25) < 1e-12
# velocity (u, v): the same spectra and totals as from the vorticity; v keeps its variance spectrum
with warnings.catch_warnings():
    warnings.simplefilter("error")
    uv = xr.open_dataset("uv_m.nc")
for q in ("ke", "enstrophy"):
    a, b = uv[f"{q}_spectrum_ref_u"].values, uv[f"{q}_spectrum_ref_vorticity"].values
    assert np.allclose(a, b, rtol=1e-10, atol=1e-12 * b.max()), (q, a, b)
    assert a[3] > 0 and a[4] > 0 and np.allclose(np.delete(a, [3, 4]), 0, atol=1e-12 * a.max()), (q, a)
for q in ("energy", "enstrophy"):
    assert np.allclose(uv[f"{q}_ref_u"], uv[f"{q}_ref_vorticity"], rtol=1e-10), q
    assert np.allclose(uv[f"{q}_drift_ref_u"], [0, -0.75], rtol=1e-12, atol=1e-15), q  # (1/2)^2 - 1
assert "power_spectrum_ref_v" in uv and "ke_spectrum_ref_v" not in uv
# l96: TEST = REF sqrt(1 + lead): energy drift (1 + lead)(1 + REF drift) - 1
lead = l96.lead.values
want = (1 + lead) * (1 + l96.energy_drift_ref_X.values) - 1
assert np.allclose(l96.energy_drift_test_X, want, rtol=1e-12, atol=1e-12)
X = np.asarray(netCDF4.Dataset("l96.nc")["X"][:], dtype=np.float64)
assert np.allclose(l96.energy_ref_X, (X**2).mean(axis=1) / 2, rtol=1e-13)
T = np.asarray(netCDF4.Dataset("l96grow.nc")["X"][:], dtype=np.float64)
e = l96.pdf_edge_X.values
assert len(e) == 21 and e[0] == min(X.min(), T.min()) and e[-1] == max(X.max(), T.max())
for name, A in (("ref", X), ("test", T)):
    h, _ = np.histogram(A.ravel(), bins=e, density=True)
    assert np.allclose(l96[f"pdf_{name}_X"], h, rtol=1e-12), name
assert np.allclose(l96.pdf_bin_X, (e[1:] + e[:-1]) / 2)
# snapshots: records first, middle, last
nl = len(lead); idx = [0, (nl - 1) // 2, nl - 1]
assert np.allclose(l96.snapshot_X, lead[idx])
assert np.array_equal(l96.snapshot_ref_X, X[idx]) and np.array_equal(l96.snapshot_test_X, T[idx])
assert np.array_equal(l96.snapshot_error_X, T[idx] - X[idx])
assert np.array_equal(same.snapshot_ref_vorticity, R[[0, 2, 4], 0])
print("compare_flow: spectra, drifts, PDFs and snapshots: ok")
PY
cat check.txt
echo "compare_flow: ok"
