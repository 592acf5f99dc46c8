"""runs/l96_polyfit.py TRUTH.nc [DEGREE] — the polynomial closure of the l96-closure experiment.

Least-squares fit of coupling_k = sum_i a_i X_k^i (degree 3 by default, the cubic of Wilks 2005
and Gagne et al. 2020) over every record, member and sector of a two-scale truth run; prints
a0,a1,...,an for gyre simulate -closure polynomial -closure_coeffs (ascending powers) on stdout
and the fit's residual on stderr. A fit of a few coefficients, not a metric: gyre compare
scores the runs made with it.
"""
import sys

import netCDF4
import numpy as np


def main():
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: l96_polyfit.py TRUTH.nc [DEGREE]")
    path = sys.argv[1]
    degree = int(sys.argv[2]) if len(sys.argv) == 3 else 3
    with netCDF4.Dataset(path) as f:
        for v in ("X", "coupling"):
            if v not in f.variables:
                sys.exit(f"l96_polyfit.py: {path}: no variable '{v}' (a two-scale l96 run?)")
        x = np.asarray(f["X"][:], dtype=np.float64).ravel()
        y = np.asarray(f["coupling"][:], dtype=np.float64).ravel()
    if not (np.isfinite(x).all() and np.isfinite(y).all()):
        sys.exit(f"l96_polyfit.py: {path}: X or coupling holds NaN/Inf")
    a = np.polynomial.polynomial.polyfit(x, y, degree)  # ascending powers
    resid = y - np.polynomial.polynomial.polyval(x, a)
    print(f"polynomial fit on {x.size} samples of {path}: RMS residual {resid.std():.4f}, "
          f"RMS coupling {y.std():.4f}", file=sys.stderr)
    print(",".join(f"{c:.8g}" for c in a))


if __name__ == "__main__":
    main()
