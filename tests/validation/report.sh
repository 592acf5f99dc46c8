#!/usr/bin/env bash
# gyre report renders an l96 comparison (with a baseline) and an ns2d ensemble comparison:
# every PNG decodes, has its expected pixel size and is not blank; index.html and report.md
# exist, show every plot and state the numbers of metrics.nc in words (RMSE at lead 1 and the
# percentage below the baseline, ACC, W1, spectral RMSE, drift, speed-up), and a blow-up is
# stated with the RMSE at the last compared lead. Bad input is one
# error line each: no file, a missing file, not NetCDF, not a metrics file, an unwritable
# -output, no -output, two files, a Python without matplotlib, a missing script.
source "$GYRE_SOURCE_DIR/tests/common/common.sh"
"$GYRE" simulate -model l96 -ts_max_time 1 -quiet -output l96.nc
"$GYRE" simulate -model ns2d -grid_nx 32 -grid_ny 32 -output_stride 2 -ensemble_size 2 \
  -ts_max_time 1 -output_every 0.25 -quiet -output ns2d.nc
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4  # first: Debian's build warns about numpy's ABI at import
import numpy as np, shutil
rng = np.random.default_rng(3)
for name, scale in (("l96_test.nc", 0.3), ("l96_base.nc", 0.9)):
    shutil.copy("l96.nc", name)
    d = netCDF4.Dataset(name, "a")
    x = np.asarray(d["X"][:]); d["X"][:] = x + scale * rng.standard_normal(x.shape); d.close()
shutil.copy("l96.nc", "l96_nan.nc")  # TEST blows up: NaN at record 100 (t = 0.5)
d = netCDF4.Dataset("l96_nan.nc", "a"); x = np.asarray(d["X"][:]); x[100, 2] = np.nan
d["X"][:] = x; d.close()
shutil.copy("ns2d.nc", "ns2d_test.nc")
d = netCDF4.Dataset("ns2d_test.nc", "a")
w = np.asarray(d["vorticity"][:]); d["vorticity"][:] = 1.1 * w + 0.02 * rng.standard_normal(w.shape)
d.close()
PY
"$GYRE" compare l96.nc l96_test.nc -baseline l96_base.nc -compare_vars X -output l96_m.nc -quiet
"$GYRE" compare ns2d.nc ns2d_test.nc -output ns2d_m.nc -quiet
"$GYRE" report l96_m.nc -output l96_report > l96_report.txt
mpirun_n 2 "$GYRE" report ns2d_m.nc -output out/ns2d_report > ns2d_report.txt
grep -q "report: 5 plots, index.html and report.md in l96_report" l96_report.txt ||
  { cat l96_report.txt; fail "gyre report did not say what it wrote"; }
grep -q "report: 12 plots" ns2d_report.txt || { cat ns2d_report.txt; fail "ns2d: not 12 plots"; }
"$PYTHON" - <<'PY' > check.txt 2>&1 || { cat check.txt; fail "the report check failed"; }
import warnings
warnings.filterwarnings("ignore", message="numpy.ndarray size changed")
import os, netCDF4, numpy as np
import matplotlib.image as mpimg
SIZE = {"snapshots": (900, 1200), "climate": (800, 1200)}  # rows, columns; others 500 x 1000
def check_pngs(d, want):
    got = sorted(f for f in os.listdir(d) if f.endswith(".png"))
    assert got == sorted(want), (d, got)
    for f in got:
        img = mpimg.imread(os.path.join(d, f))  # decodes, or raises
        kind = f.rsplit("_", 1)[1][:-4]
        assert img.shape[:2] == SIZE.get(kind, (500, 1000)), (f, img.shape)
        rgb = img[..., :3]
        ink = (np.abs(rgb - rgb[0, 0]).sum(axis=2) > 0.1).mean()  # pixels off the background
        colours = len(np.unique(rgb.reshape(-1, 3), axis=0))
        assert ink > 0.02 and colours > 20 and rgb.std() > 0.02, (f, ink, colours, rgb.std())
        print(f"{d}/{f}: {img.shape[1]} x {img.shape[0]}, {100 * ink:.1f}% ink, {colours} colours")
    for doc in ("index.html", "report.md"):
        text = open(os.path.join(d, doc)).read()
        for f in got:
            assert f in text, (doc, f)
    return open(os.path.join(d, "index.html")).read(), open(os.path.join(d, "report.md")).read()
kinds = ["snapshots", "lead", "pdf", "climate", "conservation"]
html, md = check_pngs("l96_report", [f"X_{k}.png" for k in kinds])
m = netCDF4.Dataset("l96_m.nc"); m.set_auto_mask(False)
lead = m["lead"][:]; i = int(np.argmin(np.abs(lead - 1)))
r, b = m["rmse_X"][i], m["rmse_baseline_X"][i]
want = [f"RMSE of X at lead {lead[i]:.4g} is {r:.3g}, {abs(r / b - 1) * 100:.3g}% below the baseline ({b:.3g})",
        f"ACC at lead {lead[i]:.4g} is {m['acc_X'][i]:.3g}",
        f"the Wasserstein-1 distance between REF's and TEST's distributions is {float(m['w1_X'][...]):.3g}",
        f"time mean {float(m['similarity_time_mean_X'][...]):.3g}",
        f"{float(m['energy_drift_final_test_X'][...]) * 100:+.3g}% in TEST"]
assert r < b, (r, b)
for w in want:
    assert w in md, (w, md)
    assert w in html, (w, "index.html")
print("l96 report states:", "; ".join(want))
html, md = check_pngs("out/ns2d_report", [f"{v}_{k}.png" for v in ("vorticity", "subgrid_forcing")
                                          for k in kinds + ["spectra"]])
m = netCDF4.Dataset("ns2d_m.nc"); m.set_auto_mask(False)
ke = float(m["rmse_log_ke_spectrum_vorticity"][...])
want = [f"kinetic energy spectra differ by an RMSE of {ke:.3g} in log10",
        f"The kinetic energy drifts by {float(m['energy_drift_final_ref_vorticity'][...]) * 100:+.3g}% in REF",
        f"CRPS at lead 1 is {m['crps_vorticity'][-1]:.3g}",
        "TEST stays finite and below the blow-up threshold 1e+06"]
for w in want:
    assert w in md and w in html, (w, md)
print("ns2d report states:", "; ".join(want))
PY
cat check.txt
# a TEST that blows up: the report says so and gives the RMSE at the last compared lead
"$GYRE" compare l96.nc l96_nan.nc -compare_vars X -output nan_m.nc -quiet
"$GYRE" report nan_m.nc -output nan_report > nan_report.txt
grep -q "RMSE of X is not available at lead 1 (TEST is not finite there); at lead 0.495, the last compared" \
  nan_report/report.md || { cat nan_report/report.md; fail "the blow-up's RMSE is not stated"; }
grep -q "TEST blows up (NaN/Inf or beyond the threshold 1e+06) at time 0.5" nan_report/report.md ||
  { cat nan_report/report.md; fail "the blow-up is not stated"; }
grep -q "it stays at or above 0.6 up to lead 0.495, the last lead where it is defined" \
  nan_report/report.md || { cat nan_report/report.md; fail "the ACC's last defined lead is not stated"; }
# constant fields (the ACC undefined everywhere), and a cost recorded in REF alone
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, shutil
shutil.copy("l96.nc", "const1.nc")
shutil.copy("l96.nc", "const2.nc")
for name, c in (("const1.nc", 1.0), ("const2.nc", 2.0)):
    d = netCDF4.Dataset(name, "a")
    d["X"][:] = c
    if name == "const2.nc" and "stepping_wall_seconds" in d.ncattrs():
        d.delncattr("stepping_wall_seconds")
    d.close()
PY
"$GYRE" compare const1.nc const2.nc -compare_vars X -output const_m.nc -quiet
"$GYRE" report const_m.nc -output const_report > const_report.txt
grep -q "ACC of X is undefined at every lead" const_report/report.md &&
  grep -q "The time-stepping cost was not recorded in TEST (REF: " const_report/report.md ||
  { cat const_report/report.md; fail "an undefined ACC or a cost in REF alone is misstated"; }
# an earlier report is replaced in place; no temporary file is left
"$GYRE" report l96_m.nc -output l96_report > again.txt
ls -a l96_report > listing.txt
if grep -q tmp listing.txt; then fail "a temporary file was left in the report directory"; fi
[ ! -e l96_report/report.log ] || fail "an empty report.log was left"

# bad input: one error line each
printf 'not netcdf' > junk.nc
touch plain_file
cat > nompl <<'SH'
#!/bin/sh
echo "Traceback (most recent call last):" >&2
echo "ModuleNotFoundError: No module named 'matplotlib'" >&2
exit 1
SH
chmod +x nompl
expect_error "no file" "needs a metrics file" "$GYRE" report -output r
expect_error "missing file" "cannot read the metrics file 'nope.nc'" "$GYRE" report nope.nc -output r
expect_error "not NetCDF" "'junk.nc' is not a NetCDF file" "$GYRE" report junk.nc -output r
expect_error "not a metrics file" "'l96.nc' is not a gyre compare metrics file" \
  "$GYRE" report l96.nc -output r
expect_error "-output is a file" "-output 'plain_file' exists and is not a directory" \
  "$GYRE" report l96_m.nc -output plain_file
expect_error "unwritable -output" "cannot create the -output directory 'plain_file/sub'" \
  mpirun_n 2 "$GYRE" report l96_m.nc -output plain_file/sub
expect_error "no -output" "no -output DIR" "$GYRE" report l96_m.nc
expect_error "two files" "'ns2d_m.nc' is a second" "$GYRE" report l96_m.nc ns2d_m.nc -output r
expect_error "python without matplotlib" "failed (exit status 1): ModuleNotFoundError: No module named 'matplotlib'" \
  "$GYRE" report l96_m.nc -output r -report_python ./nompl
expect_error "missing python" "-report_python '/no/python3' is not an executable" \
  "$GYRE" report l96_m.nc -output r2 -report_python /no/python3
expect_error "missing script" "the report script '/no/report.py' cannot be read" \
  env GYRE_REPORT_SCRIPT=/no/report.py "$GYRE" report l96_m.nc -output r
[ -e r/report.log ] || fail "the failed script's log was not kept"
[ ! -e r2 ] || fail "a missing Python left a directory"
# a metrics file that lacks one of its variables: one error naming it, and an earlier report in
# the same directory as it was (every file is drawn before any is moved into place)
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4, shutil
src = netCDF4.Dataset("l96_m.nc")
dst = netCDF4.Dataset("l96_m_cut.nc", "w", format="NETCDF4")
dst.setncatts({a: src.getncattr(a) for a in src.ncattrs()})
for n, d in src.dimensions.items():
    dst.createDimension(n, None if d.isunlimited() else len(d))
for n, v in src.variables.items():
    if n != "rmse_X":
        w = dst.createVariable(n, v.dtype, v.dimensions)
        w.setncatts({a: v.getncattr(a) for a in v.ncattrs()})
        w[...] = v[...]
dst.close()
PY
(cd l96_report && sha256sum ./*) > l96_report.sum
expect_error "a metrics variable missing" "lacks the variable(s) rmse_X" \
  "$GYRE" report l96_m_cut.nc -output l96_report
(cd l96_report && sha256sum -c --quiet ../l96_report.sum) || fail "a failed report changed l96_report"
ls -a l96_report | grep -q "gyre-report" && fail "a failed report left its staging directory"
# a metric of the wrong shape is one error naming it (it was a plot's IndexError), and a
# snapshot whose shape no plot can draw names the plot and the variable
"$PYTHON" - <<'PY' 2>/dev/null
import netCDF4
for out, name, dims in (("l96_m_shape.nc", "rmse_X", ("k",)),
                        ("l96_m_snap.nc", "snapshot_ref_X", ("k",))):
    src = netCDF4.Dataset("l96_m.nc")
    dst = netCDF4.Dataset(out, "w", format="NETCDF4")
    dst.setncatts({a: src.getncattr(a) for a in src.ncattrs()})
    for n, d in src.dimensions.items():
        dst.createDimension(n, None if d.isunlimited() else len(d))
    for n, v in src.variables.items():
        w = dst.createVariable(n, v.dtype, dims if n == name else v.dimensions)
        w.setncatts({a: v.getncattr(a) for a in v.ncattrs()})
        w[...] = 1.0 if n == name else v[...]
    dst.close()
PY
expect_error "a metric of the wrong shape" "'l96_m_shape.nc': variable rmse_X has dimensions (k), expected (lead)" \
  "$GYRE" report l96_m_shape.nc -output l96_report
expect_error "a snapshot of the wrong shape" "'l96_m_snap.nc': cannot draw the snapshots plot of X" \
  "$GYRE" report l96_m_snap.nc -output l96_report
(cd l96_report && sha256sum -c --quiet ../l96_report.sum) || fail "a failed report changed l96_report"
"$GYRE" report -help > help.txt || true
for o in -output -report_python GYRE_REPORT_SCRIPT; do
  grep -q -- "$o " help.txt || { cat help.txt; fail "gyre report -help lacks $o"; }
done
"$GYRE" help > usage.txt
grep -q "report     plots and words" usage.txt || { cat usage.txt; fail "gyre help lacks report"; }
# a field that is zero at lead 0 in both (one-scale l96's coupling without a closure): its
# drift is said to be undefined, once, not "drifts by undefined"
"$GYRE" simulate -model l96 -l96_mode one_scale -ts_max_time 0.5 -quiet -output one.nc
"$GYRE" compare one.nc one.nc -compare_vars coupling -output zero_m.nc -quiet
"$GYRE" report zero_m.nc -output zero_report > /dev/null
grep -q "^- The energy is zero at lead 0 in REF and TEST: its drift (E(t)/E(0) - 1) is undefined.$" \
  zero_report/report.md || { cat zero_report/report.md; fail "a zero field's drift not said"; }
grep -q "drifts by undefined" zero_report/report.md && fail "'drifts by undefined' in the report"
echo "report: ok"
