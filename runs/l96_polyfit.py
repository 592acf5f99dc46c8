"""runs/l96_polyfit.py TRUTH.nc... [DEGREE] — the polynomial closure of the l96-closure experiment.

Least-squares fit of coupling_k = sum_i a_i X_k^i (degree 3 by default, the cubic of Wilks 2005
and Gagne et al. 2020) over every record, member and sector of a two-scale truth run (one file,
or several: each TRUTH may be a quoted glob pattern, 'truth_m*.nc', the members of a Slurm job
array written by gyre submit, one file each); prints
a0,a1,...,an for gyre simulate -closure polynomial -closure_coeffs (ascending powers) on stdout
and the fit's residual on stderr. A fit of a few coefficients, not a metric: gyre compare
scores the runs made with it.
"""
import glob
import sys

import netCDF4
import numpy as np


def main():
    args = sys.argv[1:]
    degree = 3
    if len(args) >= 2 and args[-1].isdigit():
        degree = int(args.pop())
    if not args:
        sys.exit("usage: l96_polyfit.py TRUTH.nc... [DEGREE]")
    paths = []
    for a in args:
        found = sorted(glob.glob(a)) if any(c in a for c in "*?[") else [a]
        if not found:
            sys.exit(f"l96_polyfit.py: no file matches '{a}'")
        paths += found
    path = paths[0] if len(paths) == 1 else f"{len(paths)} files ({paths[0]} ...)"
    xs, ys = [], []
    for p in paths:
        with netCDF4.Dataset(p) as f:
            for v in ("X", "coupling"):
                if v not in f.variables:
                    sys.exit(f"l96_polyfit.py: {p}: no variable '{v}' (a two-scale l96 run?)")
            xs.append(np.asarray(f["X"][:], dtype=np.float64).ravel())
            ys.append(np.asarray(f["coupling"][:], dtype=np.float64).ravel())
    x = np.concatenate(xs)
    y = np.concatenate(ys)
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        sys.exit(f"l96_polyfit.py: {path}: X or coupling holds NaN/Inf")
    a = np.polynomial.polynomial.polyfit(x, y, degree)  # ascending powers
    resid = y - np.polynomial.polynomial.polyval(x, a)
    print(f"polynomial fit on {x.size} samples of {path}: RMS residual {resid.std():.4f}, "
          f"RMS coupling {y.std():.4f}", file=sys.stderr)
    print(",".join(f"{c:.8g}" for c in a))


if __name__ == "__main__":
    main()
