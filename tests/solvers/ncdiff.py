"""ncdiff.py A B [--rtol R] [--vars a,b] — compares the data variables two gyre files share.

Exit 0 when every shared variable (and time) has the same shape and
max|A-B| <= rtol * max|A| (rtol 0: bitwise equal); prints the figures either way."""
import argparse
import sys

import numpy as np
import netCDF4

p = argparse.ArgumentParser()
p.add_argument("a")
p.add_argument("b")
p.add_argument("--rtol", type=float, default=0.0)
p.add_argument("--vars", default="")
args = p.parse_args()

A = netCDF4.Dataset(args.a)
B = netCDF4.Dataset(args.b)
names = args.vars.split(",") if args.vars else sorted(set(A.variables) & set(B.variables))
ok = True
for n in names:
    if n not in A.variables or n not in B.variables:
        print(f"{n}: missing in one file")
        ok = False
        continue
    a = np.asarray(A.variables[n][:], dtype=np.float64)
    b = np.asarray(B.variables[n][:], dtype=np.float64)
    if a.shape != b.shape:
        print(f"{n}: shape {a.shape} vs {b.shape}")
        ok = False
        continue
    if a.size == 0:
        print(f"{n}: empty")
        ok = False
        continue
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        print(f"{n}: non-finite values")
        ok = False
        continue
    diff = float(np.max(np.abs(a - b)))
    scale = float(np.max(np.abs(a)))
    rel = diff / scale if scale > 0 else diff
    good = (diff == 0.0) if args.rtol == 0 else rel <= args.rtol
    print(f"{n}: shape {a.shape} max|diff| {diff:.3e} relative {rel:.3e} {'ok' if good else 'FAIL'}")
    ok = ok and good
sys.exit(0 if ok else 1)
