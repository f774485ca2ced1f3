"""python -m evaluation.report SAVE_PATH [--last N] [--out DIR]

Scans the run folders SAVE_PATH/s<seed>/<name>/<trial>/, groups them by setting (dataset, training
subset, bottleneck) and method, and writes to --out (default SAVE_PATH):
  report.md   mean ± std over seeds (sample std) of both probe protocols, in percent, with the runs
              left out and why
  report.csv  the same numbers as fractions, one row per group
  probe_accuracy.png   online probe test accuracy against epoch, mean ± std over seeds, per method
Only finished runs enter the means; unfinished (killed, still running) and broken runs are listed.
"""
import argparse
import csv
import io
import statistics
import sys
from itertools import groupby
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from runs.files import atomic_write, atomic_write_text

from .runs_table import find_runs

METRICS = [("online_test", "online test"), ("online_valid", "online valid"), ("offline_test", "offline test"),
           ("offline_valid", "offline valid"), ("random_init_test", "random-init encoder, offline test")]


def summarise(runs):
    """One dict per (setting, method, name) group: seeds of the finished runs and each metric's mean/std/n."""
    key = lambda r: (r.setting, r.method, r.name)  # noqa: E731
    groups = []
    for (setting, method, name), members in groupby(sorted(runs, key=key), key=key):
        members = list(members)
        done = [r for r in members if r.status == "ok"]
        row = {"setting": setting, "method": method[1], "name": name, "n_runs": len(done),
               "seeds": " ".join(str(r.seed) for r in done), "left_out": len(members) - len(done),
               "epochs": " ".join(sorted({str(r.epochs_done) for r in done}))}
        for metric, _ in METRICS:
            values = [v for v in (r.scores.get(metric) for r in done) if v is not None]
            row[f"{metric}_n"] = len(values)
            row[f"{metric}_mean"] = statistics.fmean(values) if values else None
            row[f"{metric}_std"] = statistics.stdev(values) if len(values) > 1 else None
        groups.append(row)
    return groups


def _cell(row, metric):
    mean, std, n = row[f"{metric}_mean"], row[f"{metric}_std"], row[f"{metric}_n"]
    if mean is None:
        return "–"
    text = f"{100 * mean:.2f}" + (f" ± {100 * std:.2f}" if std is not None else "")
    return text if n == row["n_runs"] else f"{text} (n={n})"


def markdown(save_path, groups, runs, last):
    lines = [f"# Probe accuracy: {save_path}", "",
             f"Accuracy in percent, mean ± sample std over the finished runs (seeds). Online: the probe trained "
             f"alongside, median over the last {last} epochs of results.csv. Offline: probe.json (logistic "
             f"regression on the frozen encoder, C chosen on valid); random-init: the same probe on the "
             f"untrained encoder of the same seed.", ""]
    header = ["setting", "method", "name", "seeds", "epochs"] + [label for _, label in METRICS]
    lines += ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for g in groups:
        cells = [g["setting"], g["method"], f"`{g['name']}`", f"{g['seeds'] or 'none'} (n={g['n_runs']})",
                 g["epochs"] or "–"] + [_cell(g, m) for m, _ in METRICS]
        lines.append("| " + " | ".join(cells) + " |")
    if not runs:
        lines += ["", f"No run folders (s<seed>/<name>/<trial>/) found under {save_path}."]
    left_out = [r for r in runs if r.status != "ok"]
    if left_out:
        lines += ["", "## Runs left out of the means", ""]
        lines += [f"- `{r.path}`: {r.status}, {r.reason}" for r in left_out]
    noted = [r for r in runs if r.notes]
    if noted:
        lines += ["", "## Missing measurements", ""]
        lines += [f"- `{r.path}`: {'; '.join(r.notes)}" for r in noted]
    return "\n".join(lines) + "\n"


def csv_text(groups):
    columns = ["setting", "method", "name", "n_runs", "seeds", "epochs", "left_out"]
    columns += [f"{m}_{s}" for m, _ in METRICS for s in ("mean", "std", "n")]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(groups)
    return buf.getvalue()


def plot(runs, path):
    """One panel per setting; a line per method group: mean test_probe_acc per epoch, band of ± std."""
    done = [r for r in runs if r.status == "ok" and r.curve]
    settings = sorted({r.setting for r in done})
    fig = Figure(figsize=(6.5, 4 * max(1, len(settings))), dpi=100)
    FigureCanvasAgg(fig)
    if not settings:
        fig.text(0.5, 0.5, "no finished run with an online probe", ha="center")
    for i, setting in enumerate(settings):
        ax = fig.add_subplot(len(settings), 1, i + 1)
        key = lambda r: (r.method, r.name)  # noqa: E731
        for (method, name), members in groupby(sorted((r for r in done if r.setting == setting), key=key), key=key):
            by_epoch = {}
            for r in members:
                for epoch, acc in r.curve:
                    by_epoch.setdefault(epoch, []).append(100 * acc)
            epochs = sorted(by_epoch)
            mean = [statistics.fmean(by_epoch[e]) for e in epochs]
            std = [statistics.stdev(by_epoch[e]) if len(by_epoch[e]) > 1 else 0.0 for e in epochs]
            line, = ax.plot(epochs, mean, marker="o", markersize=3, label=f"{method[1]} ({name})")
            ax.fill_between(epochs, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=line.get_color(), alpha=0.2)
        ax.set_title(setting, fontsize=10)
        ax.set_xlabel("epoch")
        ax.set_ylabel("online probe test accuracy (%)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))


def main(argv=None):
    p = argparse.ArgumentParser(prog="python -m evaluation.report", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("save_path", type=Path, help="results root holding s<seed>/<name>/<trial>/ run folders")
    p.add_argument("--last", type=int, default=20,
                   help="online protocol: median over this many last epochs (ACAI: 20; fewer if a run has fewer)")
    p.add_argument("--out", type=Path, default=None, help="folder for report.md/.csv/.png (default: save_path)")
    args = p.parse_args(argv)
    out = args.out or args.save_path
    if not args.save_path.is_dir():
        print(f"evaluation.report: error: {args.save_path} is not a folder; pass the --save_path of the runs",
              file=sys.stderr)
        return 2
    if args.last < 1:
        print(f"evaluation.report: error: --last must be >= 1, got {args.last}", file=sys.stderr)
        return 2
    runs = find_runs(args.save_path, args.last)
    groups = summarise(runs)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / "report.md", markdown(args.save_path, groups, runs, args.last))
    atomic_write_text(out / "report.csv", csv_text(groups))
    plot(runs, out / "probe_accuracy.png")
    n_ok = sum(r.status == "ok" for r in runs)
    print(f"{len(runs)} runs ({n_ok} finished, {len(runs) - n_ok} left out) in {len(groups)} groups; "
          f"wrote {out / 'report.md'}, report.csv, probe_accuracy.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
