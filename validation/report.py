#!/usr/bin/python3
"""report.py - the plots and words of `gyre report` from a `gyre compare` metrics file.

usage: report.py METRICS.nc OUTDIR

Run by `gyre report` (cli/report.c), which checks the arguments first; it can be run by hand
with Debian's python3 (numpy, netCDF4, matplotlib). Every number is read from METRICS.nc, where
gyre compare computed it in C; this script only draws and words them.

For each compared variable V it writes, into OUTDIR:
  V_snapshots.png    REF, TEST and TEST - REF side by side at the first, middle and last
                     compared lead (member 0), 1200 x 900 pixels
  V_lead.png         RMSE and ACC against lead time (and the baseline's with -baseline), 1000 x 500
  V_spectra.png      2-D fields: the time-mean isotropic spectra of REF and TEST, 1000 x 500
  V_pdf.png          REF's and TEST's PDFs on their common bins, 1000 x 500
  V_climate.png      time-mean and variance maps of REF and TEST and their differences, 1200 x 800
  V_conservation.png drift E(t)/E(0) - 1 of energy (and enstrophy) of REF and TEST, 1000 x 500
and index.html and report.md, which state the numbers in words. Every file is drawn into a
staging directory inside OUTDIR first and moved into OUTDIR (each by a rename) only once all of
them were drawn, so a failed run leaves an earlier report in OUTDIR as it was.
Figures are drawn at 100 dpi without tight bounding boxes: their pixel sizes are fixed.
"""
import os
import shutil
import sys
import tempfile
import warnings

warnings.filterwarnings("ignore", message="numpy.ndarray size changed")
os.environ.setdefault("MPLCONFIGDIR", tempfile.mkdtemp(prefix="gyre-mpl-"))

import numpy as np  # noqa: E402
import netCDF4  # noqa: E402
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

DPI = 100
SIZES = {  # inches at DPI: the pixel sizes the tests expect
    "snapshots": (12, 9),
    "lead": (10, 5),
    "spectra": (10, 5),
    "pdf": (10, 5),
    "climate": (12, 8),
    "conservation": (10, 5),
}


def fmt(x):
    """A number in words: 3 significant digits, 'not available' for NaN."""
    if x is None or not np.isfinite(x):
        return "not available"
    return f"{x:.3g}"


def pct(x):
    return f"{abs(x) * 100:.3g}%"


def signed_pct(x):
    if not np.isfinite(x):
        return "not available"
    return f"{'+' if x >= 0 else '-'}{abs(x) * 100:.3g}%"


# the per-variable metrics every gyre compare metrics file holds (V: each compared variable)
REQUIRED = ("rmse", "rel_l2", "bias", "acc", "time_mean_ref", "time_mean_test", "variance_ref",
            "variance_test", "rmse_time_mean", "rmse_variance", "w1", "blowup_time")


# metrics over lead time, and scalars (with an optional baseline or ensemble, more of each)
BY_LEAD = ("rmse", "rel_l2", "bias", "acc", "crps", "spread", "ens_mean_rmse", "spread_skill",
           "rmse_baseline", "acc_baseline")
SCALARS = ("rmse_time_mean", "rmse_variance", "w1", "blowup_time")
BY_LEAD += tuple(f"{q}{d}_{w}" for q in ("energy", "enstrophy") for d in ("", "_drift")
                 for w in ("ref", "test"))
SCALARS += tuple(f"{q}_drift_final_{w}" for q in ("energy", "enstrophy") for w in ("ref", "test"))


class Metrics:
    def __init__(self, path):
        self.ds = netCDF4.Dataset(path)
        self.ds.set_auto_mask(False)
        if "compare_variables" not in self.ds.ncattrs():
            raise SystemExit(f"'{path}' is not a gyre compare metrics file (no compare_variables)")
        self.vars = self.ds.getncattr("compare_variables").split()
        # what gyre compare always writes: one error naming what is missing, not a plot's failure
        need = ["lead"] + [f"{x}_{v}" for v in self.vars for x in REQUIRED]
        missing = [n for n in need if not self.has(n)]
        if not self.vars or missing:
            raise SystemExit(f"'{path}' lacks the variable(s) "
                             f"{', '.join(missing) if missing else '(none compared)'} of a gyre "
                             f"compare metrics file (compare_variables: "
                             f"'{self.ds.getncattr('compare_variables')}')")
        self.lead = self.get("lead")
        self.check_shapes(path)

    def check_shapes(self, path):
        """One error naming a metric whose shape is not gyre compare's (not a plot's IndexError)."""
        if self.ds["lead"].dimensions != ("lead",):
            raise SystemExit(f"'{path}': variable lead has dimensions ({', '.join(self.ds['lead'].dimensions)}), "
                             f"expected (lead)")
        for v in self.vars:
            for name, var in self.ds.variables.items():
                if not name.endswith("_" + v):
                    continue
                base, dims = name[:-len(v) - 1], var.dimensions
                by_lead = base in BY_LEAD
                scalar = base in SCALARS or base.startswith(("similarity_", "rmse_log_"))
                if by_lead and dims != ("lead",) or scalar and dims != ():
                    raise SystemExit(f"'{path}': variable {name} has dimensions ({', '.join(dims)}), expected "
                                     f"{'(lead)' if by_lead else '() (a scalar)'}")

    def has(self, name):
        return name in self.ds.variables

    def get(self, name):
        return np.asarray(self.ds[name][:], dtype=np.float64) if self.has(name) else None

    def att(self, name, default=None):
        return self.ds.getncattr(name) if name in self.ds.ncattrs() else default

    def scalar(self, name):
        v = self.get(name)
        return float(v) if v is not None else float("nan")


def save(fig, outdir, name, written):
    """Saves fig as outdir/name through a temporary file and a rename."""
    tmp = os.path.join(outdir, f".{name}.tmp.{os.getpid()}.png")
    fig.savefig(tmp, dpi=DPI)
    plt.close(fig)
    os.replace(tmp, os.path.join(outdir, name))
    written.append(name)


def figure(kind):
    return plt.figure(figsize=SIZES[kind], dpi=DPI)


def finish_axes(ax, xlabel, ylabel, title):
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=10)
    ax.grid(alpha=0.3, which="both")
    ax.legend()


def limits(*arrays, symmetric=False):
    vals = np.concatenate([np.ravel(a) for a in arrays])
    vals = vals[np.isfinite(vals)]
    if not vals.size:
        return -1.0, 1.0
    lo, hi = float(vals.min()), float(vals.max())
    if symmetric:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    if hi <= lo:
        lo, hi = lo - 0.5, hi + 0.5
    return lo, hi


def field_panel(fig, ax, data, lo, hi, cmap, title, ylabel=None):
    """A 2-D field as a map, a 1-D field as a line against its index."""
    if data.ndim == 2:
        im = ax.imshow(data, origin="lower", cmap=cmap, vmin=lo, vmax=hi, aspect="auto",
                       interpolation="nearest")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.03)
    else:
        flat = data.reshape(-1)
        ax.plot(np.arange(flat.size), flat, "o-", ms=3, color="k" if cmap != "RdBu_r" else "C3")
        ax.set_ylim(lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo))
        ax.grid(alpha=0.3)
        ax.set_xlabel("index")
        if ylabel:
            ax.set_ylabel(ylabel)
    ax.set_title(title, fontsize=9)


def plot_snapshots(m, v, outdir, written):
    ref, test, err = (m.get(f"snapshot_{w}_{v}") for w in ("ref", "test", "error"))
    leads = m.get(f"snapshot_{v}")
    fig = figure("snapshots")
    n = ref.shape[0]
    lo, hi = limits(ref, test)
    elo, ehi = limits(err, symmetric=True)
    cmap = "RdBu_r" if lo < 0 < hi else "viridis"
    for i in range(n):
        for j, (data, name) in enumerate(((ref, "REF"), (test, "TEST"), (err, "TEST - REF"))):
            ax = fig.add_subplot(n, 3, 3 * i + j + 1)
            field_panel(fig, ax, data[i], elo if j == 2 else lo, ehi if j == 2 else hi,
                        "RdBu_r" if j == 2 else cmap, f"{name}, lead {leads[i]:.4g}",
                        v if j == 0 else None)
    fig.suptitle(f"{v}: snapshots (member 0)")
    fig.subplots_adjust(left=0.06, right=0.96, top=0.92, bottom=0.06, wspace=0.35, hspace=0.45)
    save(fig, outdir, f"{v}_snapshots.png", written)


def plot_lead(m, v, outdir, written):
    fig = figure("lead")
    lead = m.lead
    for k, (name, label) in enumerate((("rmse", "RMSE"), ("acc", "ACC"))):
        ax = fig.add_subplot(1, 2, k + 1)
        ax.plot(lead, m.get(f"{name}_{v}"), "-", color="C0", label="TEST")
        base = m.get(f"{name}_baseline_{v}")
        if base is not None:
            ax.plot(lead, base, "--", color="C1", label="baseline")
        finish_axes(ax, "lead (model time)", label, f"{label} of {v} against lead time")
    fig.subplots_adjust(left=0.08, right=0.97, top=0.9, bottom=0.12, wspace=0.3)
    save(fig, outdir, f"{v}_lead.png", written)


def spectra_kinds(m, v):
    return [(s, t) for s, t in (("ke", "kinetic energy"), ("enstrophy", "enstrophy"),
                                ("power", "variance")) if m.has(f"{s}_spectrum_ref_{v}")]


def plot_spectra(m, v, outdir, written):
    kinds = spectra_kinds(m, v)
    k = m.get("wavenumber")
    fig = figure("spectra")
    for i, (s, title) in enumerate(kinds):
        ax = fig.add_subplot(1, len(kinds), i + 1)
        for w, style in (("ref", "k-"), ("test", "C0--")):
            spec = m.get(f"{s}_spectrum_{w}_{v}")
            ok = (k > 0) & (spec > 0)
            ax.loglog(k[ok], spec[ok], style, marker="o", ms=3, label=w.upper())
        rm = m.scalar(f"rmse_log_{s}_spectrum_{v}")
        finish_axes(ax, "wavenumber |k|", f"{title} spectrum",
                    f"{title} spectrum of {v} (log10 RMSE {fmt(rm)})")
    fig.subplots_adjust(left=0.08, right=0.97, top=0.9, bottom=0.12, wspace=0.3)
    save(fig, outdir, f"{v}_spectra.png", written)


def plot_pdf(m, v, outdir, written):
    edges = m.get(f"pdf_edge_{v}")
    fig = figure("pdf")
    ax = fig.add_subplot(1, 1, 1)
    for w, style in (("ref", "k"), ("test", "C0")):
        ax.stairs(m.get(f"pdf_{w}_{v}"), edges, color=style, label=w.upper(), lw=1.5)
    if any(np.nansum(m.get(f"pdf_{w}_{v}")) > 0 for w in ("ref", "test")):
        ax.set_yscale("log")
    finish_axes(ax, v, "probability density",
                f"PDF of {v} (Wasserstein-1 {fmt(m.scalar(f'w1_{v}'))})")
    fig.subplots_adjust(left=0.08, right=0.97, top=0.9, bottom=0.12)
    save(fig, outdir, f"{v}_pdf.png", written)


def plot_climate(m, v, outdir, written):
    fig = figure("climate")
    for row, (name, label) in enumerate((("time_mean", "time mean"), ("variance", "variance"))):
        ref, test = m.get(f"{name}_ref_{v}"), m.get(f"{name}_test_{v}")
        lo, hi = limits(ref, test)
        elo, ehi = limits(test - ref, symmetric=True)
        cmap = "RdBu_r" if lo < 0 < hi else "viridis"
        for j, (data, who) in enumerate(((ref, "REF"), (test, "TEST"), (test - ref, "TEST - REF"))):
            ax = fig.add_subplot(2, 3, 3 * row + j + 1)
            field_panel(fig, ax, data, elo if j == 2 else lo, ehi if j == 2 else hi,
                        "RdBu_r" if j == 2 else cmap, f"{who} {label}", v if j == 0 else None)
    fig.suptitle(f"{v}: climate (RMSE of the time mean {fmt(m.scalar(f'rmse_time_mean_{v}'))}, "
                 f"of the variance {fmt(m.scalar(f'rmse_variance_{v}'))})")
    fig.subplots_adjust(left=0.06, right=0.96, top=0.9, bottom=0.06, wspace=0.35, hspace=0.35)
    save(fig, outdir, f"{v}_climate.png", written)


def quantities(m, v):
    return [q for q in ("energy", "enstrophy") if m.has(f"{q}_drift_ref_{v}")]


def plot_conservation(m, v, outdir, written):
    qs = quantities(m, v)
    fig = figure("conservation")
    for i, q in enumerate(qs):
        ax = fig.add_subplot(1, len(qs), i + 1)
        for w, style in (("ref", "k-"), ("test", "C0--")):
            ax.plot(m.lead, m.get(f"{q}_drift_{w}_{v}"), style, label=w.upper())
        finish_axes(ax, "lead (model time)", f"{q} drift E(t)/E(0) - 1", f"{q} drift of {v}")
    fig.subplots_adjust(left=0.1, right=0.97, top=0.9, bottom=0.12, wspace=0.35)
    save(fig, outdir, f"{v}_conservation.png", written)


def at_lead(m, target):
    """The index of the lead closest to target (the last lead when none reaches it)."""
    lead = m.lead
    if lead[-1] < target:
        return len(lead) - 1
    return int(np.argmin(np.abs(lead - target)))


def words(m, v):
    """The numbers of variable v in sentences."""
    out = []
    lead = m.lead
    i = at_lead(m, 1.0)
    rmse, acc = m.get(f"rmse_{v}"), m.get(f"acc_{v}")
    finite = np.nonzero(np.isfinite(rmse))[0]
    if not finite.size:
        return [f"No time of {v} could be compared: TEST is not finite from the first shared "
                f"time ({fmt(m.scalar(f'blowup_time_{v}'))}) on."]
    s = ""
    if not np.isfinite(rmse[i]):
        s = (f"RMSE of {v} is not available at lead {lead[i]:.4g} (TEST is not finite there); ")
        i = int(finite[-1])
        s += f"at lead {lead[i]:.4g}, the last compared, it is {fmt(rmse[i])}"
    else:
        s = f"RMSE of {v} at lead {lead[i]:.4g} is {fmt(rmse[i])}"
    base = m.get(f"rmse_baseline_{v}")
    if base is not None and np.isfinite(base[i]) and base[i] > 0 and np.isfinite(rmse[i]):
        change = rmse[i] / base[i] - 1
        s += (f", {pct(change)} {'below' if change < 0 else 'above'} the baseline "
              f"({fmt(base[i])})")
    rel = m.get(f"rel_l2_{v}")
    s += f"; the relative L2 error there is {fmt(rel[i])}."
    out.append(s)
    okacc = np.nonzero(np.isfinite(acc))[0]
    below = np.nonzero(np.isfinite(acc) & (acc < 0.6))[0]
    if not okacc.size:  # no anomaly variance (constant fields), or nothing compared
        s = f"ACC of {v} is undefined at every lead (no anomaly variance, or nothing compared)."
    elif below.size:
        s = (f"ACC at lead {lead[i]:.4g} is {fmt(acc[i])}; it first falls below 0.6 at lead "
             f"{lead[below[0]]:.4g}.")
    else:  # up to the last lead where it is defined
        s = (f"ACC at lead {lead[i]:.4g} is {fmt(acc[i])}; it stays at or above 0.6 up to lead "
             f"{lead[okacc[-1]]:.4g}"
             + (", the last lead where it is defined." if okacc[-1] < len(lead) - 1 else "."))
    out.append(s)
    if m.has(f"crps_{v}"):
        out.append(f"CRPS at lead {lead[i]:.4g} is {fmt(m.get(f'crps_{v}')[i])}, with a "
                   f"spread-skill ratio of {fmt(m.get(f'spread_skill_{v}')[i])}.")
    out.append(f"The time-mean map's RMSE is {fmt(m.scalar(f'rmse_time_mean_{v}'))} and the "
               f"variance map's {fmt(m.scalar(f'rmse_variance_{v}'))}; the Wasserstein-1 "
               f"distance between REF's and TEST's distributions is "
               f"{fmt(m.scalar(f'w1_{v}'))}.")
    if m.has(f"similarity_w1_{v}"):
        sims = [(n, m.scalar(f"similarity_{k}_{v}")) for n, k in
                (("time mean", "time_mean"), ("variance", "variance"), ("W1", "w1"))]
        out.append("Similarity to REF against the baseline (1 - D(TEST,REF)/D(BASE,REF)): " +
                   ", ".join(f"{n} {fmt(x) if np.isfinite(x) else 'undefined'}"
                             for n, x in sims) + ".")
    for s_, title in spectra_kinds(m, v):
        rm = m.scalar(f"rmse_log_{s_}_spectrum_{v}")
        out.append(f"The time-mean {title} spectra differ by an RMSE of {fmt(rm)} in log10"
                   + (f" (a typical factor of {fmt(10 ** rm)} per shell)." if np.isfinite(rm)
                      else "."))
    qs = quantities(m, v)
    for q in qs:
        fr, ft = m.scalar(f"{q}_drift_final_ref_{v}"), m.scalar(f"{q}_drift_final_test_{v}")
        e0 = m.get(f"{q}_ref_{v}")[0], m.get(f"{q}_test_{v}")[0]
        valid = np.nonzero(np.isfinite(m.get(f"{q}_ref_{v}")))[0]
        upto = lead[valid[-1]] if valid.size else float("nan")
        name = "kinetic energy" if q == "energy" and "enstrophy" in qs else q
        if e0[0] == 0 and e0[1] == 0:
            out.append(f"The {name} is zero at lead 0 in REF and TEST: its drift (E(t)/E(0) - 1) "
                       f"is undefined.")
            continue
        drifts = [f"drifts by {signed_pct(x)}" if e != 0 else "is zero at lead 0 (its drift undefined)"
                  for x, e in zip((fr, ft), e0)]
        if e0[0] != 0 and e0[1] != 0:  # "drifts by a in REF and b in TEST"
            drifts[1] = drifts[1].removeprefix("drifts by ")
        out.append(f"The {name} {drifts[0]} in REF and {drifts[1]} in TEST from "
                   f"lead 0 to {upto:.4g} (E(t)/E(0) - 1).")
    bt = m.scalar(f"blowup_time_{v}")
    if np.isfinite(bt):
        out.append(f"TEST blows up (NaN/Inf or beyond the threshold "
                   f"{fmt(m.att('compare_blowup_threshold', float('nan')))}) at time {bt:.4g}.")
    else:
        out.append(f"TEST stays finite and below the blow-up threshold "
                   f"{fmt(m.att('compare_blowup_threshold', float('nan')))}.")
    return out


def cost_words(m):
    cr = m.att("cost_ref_wall_seconds_per_model_time", float("nan"))
    ct = m.att("cost_test_wall_seconds_per_model_time", float("nan"))
    sp = m.att("cost_speedup", float("nan"))
    if np.isfinite(cr) and np.isfinite(ct):
        return (f"Time stepping costs {fmt(cr)} wall seconds per unit model time in REF and "
                f"{fmt(ct)} in TEST: a speed-up of {fmt(sp)}x.")
    missing = " and ".join(n for n, c in (("REF", cr), ("TEST", ct)) if not np.isfinite(c))
    known = "".join(f" ({n}: {fmt(c)} wall seconds per unit model time)"
                    for n, c in (("REF", cr), ("TEST", ct)) if np.isfinite(c))
    return f"The time-stepping cost was not recorded in {missing}{known}."


def write_atomic(outdir, name, text, written):
    tmp = os.path.join(outdir, f".{name}.tmp.{os.getpid()}")
    with open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
    os.replace(tmp, os.path.join(outdir, name))
    written.append(name)


CAPTIONS = {
    "snapshots": "REF, TEST and TEST - REF at the first, middle and last compared lead",
    "lead": "RMSE and ACC against lead time",
    "spectra": "time-mean isotropic spectra",
    "pdf": "PDFs on common bins",
    "climate": "time-mean and variance maps and their differences",
    "conservation": "drift of the conserved quantities",
}


def html_escape(s):
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def main(argv):
    if len(argv) != 3:
        raise SystemExit("usage: report.py METRICS.nc OUTDIR")
    path, final = argv[1], argv[2]
    m = Metrics(path)
    outdir = tempfile.mkdtemp(prefix=".gyre-report.", dir=final)
    try:
        written = draw(m, path, outdir)
        for name in written:  # every file drawn: now into place, each by a rename
            os.replace(os.path.join(outdir, name), os.path.join(final, name))
    finally:
        shutil.rmtree(outdir, ignore_errors=True)
    npng = sum(1 for w in written if w.endswith(".png"))
    print(f"report: {npng} plots, index.html and report.md in {final}")


def draw(m, path, outdir):
    """Every plot, report.md and index.html of m into outdir; the names written."""
    written, sections = [], []
    for v in m.vars:
        plots = []
        for kind, draw, wanted in (
                ("snapshots", plot_snapshots, m.has(f"snapshot_ref_{v}")),
                ("lead", plot_lead, True),
                ("spectra", plot_spectra, bool(spectra_kinds(m, v))),
                ("pdf", plot_pdf, m.has(f"pdf_ref_{v}")),
                ("climate", plot_climate, True),
                ("conservation", plot_conservation, bool(quantities(m, v)))):
            if wanted:
                try:
                    draw(m, v, outdir, written)
                except (IndexError, ValueError, TypeError) as e:  # a metric of an unusual shape
                    raise SystemExit(f"'{path}': cannot draw the {kind} plot of {v}: {e}")
                plots.append((kind, f"{v}_{kind}.png"))
        sections.append((v, words(m, v), plots))
    cost = cost_words(m)
    ref, test = m.att("compare_reference", "?"), m.att("compare_test", "?")
    baseline = m.att("compare_baseline")
    head = (f"REF `{ref}` against TEST `{test}`" + (f", baseline `{baseline}`" if baseline else "")
            + f"; {len(m.lead)} shared time{'s' if len(m.lead) != 1 else ''}, leads 0 to {m.lead[-1]:.4g} (model time).")

    md = [f"# gyre report: {os.path.basename(path)}", "", head, "", cost, ""]
    html = ["<!DOCTYPE html>", "<html lang=\"en\"><head><meta charset=\"utf-8\">",
            f"<title>gyre report: {html_escape(os.path.basename(path))}</title>",
            "<style>body{font-family:sans-serif;max-width:1250px;margin:auto}"
            "img{max-width:100%}figure{margin:1em 0}</style></head><body>",
            f"<h1>gyre report: {html_escape(os.path.basename(path))}</h1>",
            f"<p>{html_escape(head).replace('`', '')}</p>", f"<p>{html_escape(cost)}</p>"]
    for v, sents, plots in sections:
        md += [f"## {v}", ""] + [f"- {s}" for s in sents] + [""]
        html += [f"<h2>{html_escape(v)}</h2>", "<ul>"]
        html += [f"<li>{html_escape(s)}</li>" for s in sents] + ["</ul>"]
        for kind, png in plots:
            md += [f"![{v}: {CAPTIONS[kind]}]({png})", ""]
            html.append(f"<figure><img src=\"{png}\" alt=\"{html_escape(v)}: {CAPTIONS[kind]}\">"
                        f"<figcaption>{html_escape(v)}: {CAPTIONS[kind]}</figcaption></figure>")
    html.append(f"<p>metrics: {html_escape(path)}; provenance: "
                f"{html_escape(str(m.att('gyre_version', '')))} "
                f"{html_escape(str(m.att('git_commit', '')))}</p></body></html>")
    write_atomic(outdir, "report.md", "\n".join(md) + "\n", written)
    write_atomic(outdir, "index.html", "\n".join(html) + "\n", written)
    return written


if __name__ == "__main__":
    main(sys.argv)
