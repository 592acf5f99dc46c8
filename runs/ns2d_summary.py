"""runs/ns2d_summary.py METRICS.nc PHYSICS.nc EMULATOR.nc EMULATOR.log HISTORY REPORT.md ABOUT
— the ns2d-fno experiment's numbers.

Reads what gyre compare computed (the held-out physics run as REF, the emulator's rollout as
TEST) and the runs' provenance, prints the relative L2 error of the vorticity against the
emulator's lead time and the emulator's speed-up over the solver, and appends both as a
section to the report's report.md. ABOUT is a sentence describing the run (sizes).

The rollout starts like the physics run from each member's initial state; its first
HISTORY - 1 advances are physics advances (the emulator needs HISTORY past frames), so the
emulator's lead is t - (HISTORY - 1). Its time-stepping wall time covers those physics
advances too, so two speed-ups are stated: the whole rollout's against the physics run (gyre
compare's cost), and the emulator's advances against the physics advances of the same run
(EMULATOR.log is its -log_view: the TSStep event times the physics advances; the rest of the
stepping wall time is the emulator's), which holds under a varying load on a shared machine,
and the emulator's advances against the physics run's cost per unit.
"""
import sys

import netCDF4
import numpy as np


def log_event_time(path, event):
    """The time (max over ranks) of a -log_view event in a log."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            tok = line.split()
            if len(tok) > 3 and tok[0] == event:
                return float(tok[3])
    sys.exit(f"ns2d_summary.py: no {event} event in {path} (run with -log_view)")


def main():
    if len(sys.argv) != 8:
        sys.exit("usage: ns2d_summary.py METRICS.nc PHYSICS.nc EMULATOR.nc EMULATOR.log HISTORY "
                 "REPORT.md ABOUT")
    metrics, physics, emulator, log, history, report, about = sys.argv[1:]
    history = int(history)
    with netCDF4.Dataset(metrics) as m:
        t0 = float(m.getncattr("compare_first_time"))
        lead = np.asarray(m["lead"][:]) + t0
        rel = np.asarray(m["rel_l2_vorticity"][:])
        speed_run = float(m.getncattr("cost_speedup"))
    with netCDF4.Dataset(physics) as p, netCDF4.Dataset(emulator) as e:
        w_phys = float(p.getncattr("stepping_wall_seconds"))
        w_emu = float(e.getncattr("stepping_wall_seconds"))
        span = float(p["time"][-1] - p["time"][0])
        guard = e.getncattr("guard_summary") if "guard_summary" in e.ncattrs() else "guard off"
    start = history - 1  # the first emulator-made frame is at t = start + 1
    n_emu = span - start
    if n_emu <= 0:
        sys.exit(f"ns2d_summary.py: the run ({span:g} units) is no longer than the history")
    w_ts = log_event_time(log, "TSStep")
    c_phys, c_phys_in = w_phys / span, w_ts / start
    c_emu = (w_emu - w_ts) / n_emu
    speed_emu = c_phys_in / c_emu
    rows = [(t - start, r) for t, r in zip(lead, rel) if t > start + 1e-9]
    lines = [
        f"relative L2 error of the vorticity against the emulator's lead (model time units; "
        f"{history} physics frames first: the initial state and {start} physics advances, "
        f"then emulator advances):",
    ]
    lines += [f"  lead {lt:5.4g}: {r:.4f}" for lt, r in rows]
    lines += [
        f"speed-up of the emulator over the solver (time-stepping wall time per unit): the "
        f"emulator's advances {speed_emu:.1f}x ({c_emu:.4g} s per unit against {c_phys_in:.4g} s "
        f"for the same run's {start} physics advances), {c_phys / c_emu:.1f}x against the "
        f"physics run's {c_phys:.4g} s per unit; the whole rollout against the physics "
        f"run {speed_run:.2f}x ({w_emu / span:.4g} s per unit, its first {start} units physics)",
        f"guard: {guard}",
    ]
    print("ns2d-fno, measured:")
    for line in lines:
        print(f"  {line}")
    with open(report, "a", encoding="utf-8") as f:
        f.write("\n## The ns2d-fno experiment (issue 4 §5)\n\n")
        f.write(f"{about}\n\n")
        f.write("| emulator lead | relative L2 error of vorticity |\n|---|---|\n")
        for lt, r in rows:
            f.write(f"| {lt:g} | {r:.4f} |\n")
        f.write(f"\n{lines[-2][0].upper()}{lines[-2][1:]}.\n\nThe {lines[-1]}.\n")


if __name__ == "__main__":
    main()
