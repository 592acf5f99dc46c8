"""runs/l96_goals.py MLP_METRICS.nc POLY_METRICS.nc COST.txt REPORT.md ABOUT — the l96-closure
goals.

Reads the metrics gyre compare computed (truth as REF; the MLP-closure forecasts, resp. the
cubic-polynomial ones, as TEST; no closure as the baseline), prints each goal of issue 4 §5
with the measured numbers and whether it is met, and appends the same as a section to the
report's report.md. ABOUT is a sentence describing the run (sizes). COST.txt holds lines
"truth S mlp S": stepping wall seconds of one unit of the truth and of the MLP run timed back
to back; the cost goal is judged on the minimum of each (the whole runs' figures from gyre
compare are stated too: they ran minutes apart, under whatever load the machine had).
Exit status 0 whether or not the goals are met: the experiment reports, its tests judge.
"""
import sys

import netCDF4
import numpy as np


def at_lead(f, name, lead):
    leads = np.asarray(f["lead"][:])
    i = int(np.argmin(abs(leads - lead)))
    if abs(leads[i] - lead) > 1e-6:
        sys.exit(f"l96_goals.py: no lead {lead} in {f.filepath()} (the run is too short)")
    return float(f[name][i])


def window_mean(f, name, lo, hi):
    leads = np.asarray(f["lead"][:])
    sel = (leads >= lo - 1e-9) & (leads <= hi + 1e-9)
    if not sel.any():
        sys.exit(f"l96_goals.py: no leads in [{lo}, {hi}] in {f.filepath()}")
    return float(np.asarray(f[name][:])[sel].mean()), float(leads[sel].max())


def main():
    if len(sys.argv) != 6:
        sys.exit("usage: l96_goals.py MLP_METRICS.nc POLY_METRICS.nc COST.txt REPORT.md ABOUT")
    mlp_path, poly_path, cost_path, report, about = sys.argv[1:]
    with open(cost_path, encoding="utf-8") as f:
        pairs = [line.split() for line in f if line.strip()]
    try:
        t_truth = min(float(p[1]) for p in pairs)
        t_mlp = min(float(p[3]) for p in pairs)
    except (IndexError, ValueError):
        sys.exit(f"l96_goals.py: {cost_path}: expected lines 'truth S mlp S'")
    with netCDF4.Dataset(mlp_path) as m, netCDF4.Dataset(poly_path) as p:
        r1_mlp, r1_none = at_lead(m, "rmse_X", 1.0), at_lead(m, "rmse_baseline_X", 1.0)
        rf_mlp, hi = window_mean(m, "rmse_X", 0.5, 2.0)
        rf_poly, _ = window_mean(p, "rmse_X", 0.5, 2.0)
        rf_none, _ = window_mean(m, "rmse_baseline_X", 0.5, 2.0)
        w_mlp, w_poly = float(m["w1_X"][...]), float(p["w1_X"][...])
        ntimes = len(m["lead"])
        speed = float(m.getncattr("cost_speedup"))
        c_truth = float(m.getncattr("cost_ref_wall_seconds_per_model_time"))
        c_mlp = float(m.getncattr("cost_test_wall_seconds_per_model_time"))
        c_poly = float(p.getncattr("cost_test_wall_seconds_per_model_time"))
    cut = 1 - r1_mlp / r1_none
    goals = [
        (cut >= 0.30, "lead-1 RMSE of X cut >= 30% against no closure",
         f"MLP {r1_mlp:.4f}, no closure {r1_none:.4f}: cut {cut:.1%}"),
        (rf_mlp <= 1.05 * rf_poly,
         "forecast RMSE of X (mean over leads 0.5-2) within 5% of the cubic polynomial or better",
         f"MLP {rf_mlp:.4f}, polynomial {rf_poly:.4f}, no closure {rf_none:.4f} "
         f"(leads 0.5-{hi:g}): MLP/polynomial {rf_mlp / rf_poly:.3f}"),
        (w_mlp <= 1.05 * w_poly,
         "Wasserstein-1 of X in the long run within 5% of the cubic polynomial or better",
         f"MLP {w_mlp:.4f}, polynomial {w_poly:.4f} (all {ntimes} records): "
         f"MLP/polynomial {w_mlp / w_poly:.3f}"),
        (t_truth >= 5 * t_mlp, "one-scale MLP run >= 5x faster than the two-scale truth "
         "(stepping wall time per model time unit)",
         f"back to back (min of {len(pairs)}): truth {t_truth:.4g} s, MLP {t_mlp:.4g} s per unit: "
         f"speed-up {t_truth / t_mlp:.3g}x; the whole runs: truth {c_truth:.4g} s, MLP "
         f"{c_mlp:.4g} s, polynomial {c_poly:.4g} s per unit, speed-up {speed:.3g}x"),
    ]
    met = sum(ok for ok, _, _ in goals)
    print(f"goals of issue 4 (l96-closure), measured: {met} of {len(goals)} met")
    for ok, goal, got in goals:
        print(f"  goal {'MET' if ok else 'NOT MET'}: {goal}: {got}")
    with open(report, "a", encoding="utf-8") as f:
        f.write("\n## The l96-closure experiment's goals (issue 4 §5)\n\n")
        f.write(f"{about}\n\n{met} of {len(goals)} goals met.\n\n")
        f.write("| goal | measured | met |\n|---|---|---|\n")
        for ok, goal, got in goals:
            f.write(f"| {goal} | {got} | {'yes' if ok else '**no**'} |\n")


if __name__ == "__main__":
    main()
