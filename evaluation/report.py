"""python -m evaluation.report SAVE_PATH [--last N] [--out DIR]

Scans the run folders SAVE_PATH/s<seed>/<name>/<trial>/, groups them by setting (dataset, training
subset, bottleneck) and method, and writes to --out (default SAVE_PATH):
  report.md   mean ± std over seeds (sample std) of both probe protocols, in percent, with the runs
              left out and why
  report.csv  the same numbers as fractions, one row per group
  probe_accuracy.png   online probe test accuracy against epoch, mean ± std over seeds, per method
and, where runs have offline probes of several checkpoints (probe_epoch<N>.json, exps/run_table.sh
PROBE_EPOCHS):
  report.md   also the offline accuracy of every checkpoint beside the random-init floor and the valid
              reconstruction, and each method's paired differences to the baseline (and to the plain
              autoencoder control) of the same seed, with the decision rule of docs/cpu_study.md
  paired.csv  those paired differences, one row per (setting, reference, method, checkpoint)
  offline_accuracy.png  offline test accuracy against training steps, mean ± std over seeds, per method
and, where runs have a lines_eval.json (--mode lines_eval, --dataset lines; evaluation/lines_table.py):
  report.md   also each method's mean distance and smoothness with the pixel and ideal references and
              the paired differences to the baseline
  lines.csv   those numbers; lines_interpolations.png  one interpolation per method beside pixel and ideal
and, where runs have realism.json files (--mode realism of each checkpoint; evaluation/realism_table.py):
  report.md   also each method's FD and KID of decoded mixes beside reconstructions, pixel mixes and real
              images, and the paired differences to the baseline and the plain autoencoder with the
              decision rule of docs/realism.md
  realism.csv those paired differences; realism_mixes.png  decoded mixes of the same pairs, a row per method
and, where runs have a disentangle.json (--mode disentangle, dsprite; evaluation/disentangle_table.py):
  report.md   also Table 4: each method's disentanglement scores and the paired differences to the baseline
              with the decision rule of docs/table4.md
  disentangle.csv  those numbers; disentangle_traversals.png  one latent traversal per method
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

from .disentangle_table import (disentangle_csv_text, disentangle_markdown, disentangle_notes, disentangle_picture,
                                disentangle_rows)
from .lines_table import lines_csv_text, lines_markdown, lines_picture, lines_rows
from .paired import against_references, by_setting_and_method, decide, paired
from .realism_table import realism_csv_text, realism_markdown, realism_paired_rows, realism_picture, realism_rows
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
    # a folder scored by other modes alone (Table 4) gets no probe table and no notes about absent probes
    probed = any(g[f"{m}_n"] for g in groups for m, _ in METRICS)
    if runs and not probed:
        lines = [f"# Report: {save_path}", "", "No run has a probe accuracy (none trained with --cls_probe or ran "
                 "--mode=probe), so the probe table is left out."]
    else:
        lines = [f"# Probe accuracy: {save_path}", "",
                 f"Accuracy in percent, mean ± sample std over the finished runs (seeds). Online: the probe "
                 f"trained alongside, median over the last {last} epochs of results.csv. Offline: probe.json "
                 f"(logistic regression on the frozen encoder, C chosen on valid); random-init: the same probe on "
                 f"the untrained encoder of the same seed.", ""]
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
    missing = {r.path: (r.no_probe if probed else []) + r.notes for r in runs}
    if any(missing.values()):
        lines += ["", "## Missing measurements", ""]
        lines += [f"- `{path}`: {'; '.join(notes)}" for path, notes in missing.items() if notes]
    return "\n".join(lines) + "\n"


def csv_text(groups):
    columns = ["setting", "method", "name", "n_runs", "seeds", "epochs", "left_out"]
    columns += [f"{m}_{s}" for m, _ in METRICS for s in ("mean", "std", "n")]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(groups)
    return buf.getvalue()


def _steps(members, epoch):
    steps = {r.checkpoints[epoch].steps for r in members if epoch in r.checkpoints}
    return steps.pop() if len(steps) == 1 else None


def checkpoint_rows(runs):
    """One row per (setting, method, checkpoint epoch): offline test accuracy, random-init floor and
    valid reconstruction, each as mean and sample std over the seeds probed at that checkpoint."""
    rows = []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.checkpoints).items()):
        for (rank, label, name), members in sorted(groups.items()):
            for epoch in sorted({e for r in members for e in r.checkpoints}):
                ckpts = [r.checkpoints[epoch] for r in members if epoch in r.checkpoints]
                row = {"setting": setting, "method": label, "name": name, "epoch": epoch,
                       "steps": _steps(members, epoch), "n": len(ckpts)}
                for key in ("offline_test", "random_init_test", "valid_recon"):
                    values = [getattr(c, key) for c in ckpts if getattr(c, key) is not None]
                    row[f"{key}_mean"] = statistics.fmean(values) if values else None
                    row[f"{key}_std"] = statistics.stdev(values) if len(values) > 1 else None
                rows.append(row)
    return rows


def paired_rows(runs, min_seeds=3):
    """Each method against each reference (evaluation.paired.REFERENCES) present in its setting, at every
    checkpoint both have: the paired difference of offline test accuracy (runs paired by seed). The row of
    the last checkpoint carries the decision (evaluation.paired.decide with the first)."""
    rows = []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.checkpoints).items()):
        for ref_label, ref_name, ref_members, label, name, members in against_references(groups):
            epochs = sorted({e for r in members for e in r.checkpoints} &
                            {e for r in ref_members for e in r.checkpoints})
            results = []
            for epoch in epochs:
                score = lambda rs: {r.seed: r.checkpoints[epoch].offline_test  # noqa: E731
                                    for r in rs if epoch in r.checkpoints}
                results.append((epoch, paired(score(members), score(ref_members))))
            for i, (epoch, p) in enumerate(results):
                last = i == len(results) - 1
                rows.append({"setting": setting, "reference": ref_name, "reference_label": ref_label,
                             "method": label, "name": name, "epoch": epoch, "steps": _steps(members, epoch),
                             "n": p.n, "mean_diff": p.mean, "se": p.se, "seeds_positive": p.positive,
                             "seeds_zero": p.zero, "seeds_negative": p.negative,
                             "decision": decide(results[0][1], p, min_seeds) if last and len(results) > 1
                             else ""})
    return rows


def _pp(value, signed=False):
    return "–" if value is None else (f"{100 * value:+.2f}" if signed else f"{100 * value:.2f}")


def checkpoint_markdown(ckpt_rows, pair_rows, min_seeds=3):
    if not ckpt_rows:
        return []
    lines = ["", "## Offline probe at each checkpoint", "",
             "Offline test accuracy (%) of the checkpoint's frozen encoder and of the same seed's random-init "
             "encoder, and the valid reconstruction loss of that epoch: mean ± sample std over the seeds.", "",
             "| setting | method | name | epoch | steps | seeds | offline test | random-init test | valid recon |",
             "|" + " --- |" * 9]
    for r in ckpt_rows:
        def ms(key, scale=100, digits=2):
            mean, std = r[f"{key}_mean"], r[f"{key}_std"]
            if mean is None:
                return "–"
            return f"{scale * mean:.{digits}f}" + (f" ± {scale * std:.{digits}f}" if std is not None else "")
        lines.append(f"| {r['setting']} | {r['method']} | `{r['name']}` | {r['epoch']} | {r['steps'] or '–'} | "
                     f"{r['n']} | {ms('offline_test')} | {ms('random_init_test')} | {ms('valid_recon', 1, 4)} |")
    for ref_label in dict.fromkeys(r["reference_label"] for r in pair_rows):
        lines += ["", f"## Paired differences to {ref_label}", "",
                  "Offline test accuracy of the method minus that of the reference run with the same seed, in "
                  "percentage points: mean over seeds, its standard error (sample sd / √n), and the seeds with a "
                  "positive, zero and negative difference. Decision (last checkpoint, docs/cpu_study.md; at least "
                  f"{min_seeds} seeds): *beats* if every seed is positive, the mean exceeds 2 SE and the mean at "
                  "the first checkpoint is positive; *worse* for the mirror image; else *no decision*.", "",
                  "| setting | method | vs | epoch | steps | n | mean difference | SE | seeds + / = / − | decision |",
                  "|" + " --- |" * 10]
        for r in (r for r in pair_rows if r["reference_label"] == ref_label):
            lines.append(f"| {r['setting']} | {r['method']} | `{r['reference']}` | {r['epoch']} | "
                         f"{r['steps'] or '–'} | {r['n']} | {_pp(r['mean_diff'], True)} | {_pp(r['se'])} | "
                         f"{r['seeds_positive']} / {r['seeds_zero']} / {r['seeds_negative']} | "
                         f"{r['decision'] and '**' + r['decision'] + '**'} |")
    return lines


def paired_csv_text(pair_rows):
    columns = ["setting", "reference", "method", "name", "epoch", "steps", "n", "mean_diff", "se",
               "seeds_positive", "seeds_zero", "seeds_negative", "decision"]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(pair_rows)
    return buf.getvalue()


def plot_offline(ckpt_rows, path):
    """One panel per setting: offline test accuracy against steps (epochs where steps are unknown),
    a line per method with a band of ± std over seeds; the random-init floor dashed, or, when it lies
    far below the methods (so that drawing it would flatten their differences), named in the legend."""
    settings = sorted({r["setting"] for r in ckpt_rows})
    fig = Figure(figsize=(6.5, 4 * len(settings)), dpi=100)
    FigureCanvasAgg(fig)
    for i, setting in enumerate(settings):
        ax = fig.add_subplot(len(settings), 1, i + 1)
        rows = [r for r in ckpt_rows if r["setting"] == setting]
        use_steps = all(r["steps"] for r in rows)
        for (label, name), members in groupby(rows, key=lambda r: (r["method"], r["name"])):
            members = list(members)
            x = [r["steps"] if use_steps else r["epoch"] for r in members]
            mean = [100 * r["offline_test_mean"] for r in members]
            std = [100 * (r["offline_test_std"] or 0.0) for r in members]
            line, = ax.plot(x, mean, marker="o", markersize=3, label=f"{label} ({name})")
            ax.fill_between(x, [m - s for m, s in zip(mean, std)], [m + s for m, s in zip(mean, std)],
                            color=line.get_color(), alpha=0.2)
        floor = {}
        for r in rows:
            floor.setdefault(r["steps"] if use_steps else r["epoch"], []).append(100 * r["random_init_test_mean"])
        xs = sorted(floor)
        floor_line = [statistics.fmean(floor[x]) for x in xs]
        low, high = ax.get_ylim()  # the methods' bands
        if min(floor_line) < low - (high - low):
            ax.plot([], [], "k--", linewidth=1,
                    label=f"random-init encoder: {statistics.fmean(floor_line):.1f} (below the axis)")
        else:
            ax.plot(xs, floor_line, "k--", linewidth=1, label="random-init encoder")
        ax.set_title(setting, fontsize=10)
        ax.set_xlabel("training steps" if use_steps else "epoch")
        ax.set_ylabel("offline probe test accuracy (%)")
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))


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
    p.add_argument("--min_seeds", type=int, default=3,
                   help="paired seeds a decision needs (default 3, the CPU study's); with fewer: no decision")
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
    groups, ckpt_rows, pair_rows = summarise(runs), checkpoint_rows(runs), paired_rows(runs, args.min_seeds)
    out.mkdir(parents=True, exist_ok=True)
    text = (markdown(args.save_path, groups, runs, args.last)
            + "\n".join(checkpoint_markdown(ckpt_rows, pair_rows, args.min_seeds)))
    line_rows = lines_rows(runs, args.min_seeds)
    if line_rows:
        text += "\n".join(lines_markdown(line_rows, args.min_seeds))
        atomic_write_text(out / "lines.csv", lines_csv_text(line_rows))
        shown = lines_picture(runs, out / "lines_interpolations.png")
        if shown:
            text += ("\n\n![interpolations](lines_interpolations.png)\n\nRows of each block, top to bottom: "
                     + "; ".join(shown) + ".")
    dis_rows = disentangle_rows(runs, args.min_seeds)
    if dis_rows:
        text += "\n".join(disentangle_markdown(dis_rows, args.min_seeds))
        notes = disentangle_notes(runs)
        if notes:
            text += "\n\n" + "\n".join(notes)
        atomic_write_text(out / "disentangle.csv", disentangle_csv_text(dis_rows))
        shown = disentangle_picture(runs, out / "disentangle_traversals.png")
        if shown:
            text += ("\n\n![latent traversals](disentangle_traversals.png)\n\nEach row sweeps one code dimension "
                     "from its 2.5th to its 97.5th percentile (first column: the input); " + "; ".join(shown) + ".")
    real_rows = realism_rows(runs)
    if real_rows:
        real_pairs = realism_paired_rows(runs, args.min_seeds)
        text += "\n".join(realism_markdown(real_rows, real_pairs, args.min_seeds))
        atomic_write_text(out / "realism.csv", realism_csv_text(real_pairs))
        shown = realism_picture(runs, out / "realism_mixes.png")
        if shown:
            text += ("\n\n![decoded mixes](realism_mixes.png)\n\nRows, top to bottom: " + "; ".join(shown) + ".")
    atomic_write_text(out / "report.md", text.rstrip("\n") + "\n")
    atomic_write_text(out / "report.csv", csv_text(groups))
    plot(runs, out / "probe_accuracy.png")
    if ckpt_rows:
        atomic_write_text(out / "paired.csv", paired_csv_text(pair_rows))
        plot_offline(ckpt_rows, out / "offline_accuracy.png")
    n_ok = sum(r.status == "ok" for r in runs)
    print(f"{len(runs)} runs ({n_ok} finished, {len(runs) - n_ok} left out) in {len(groups)} groups; "
          f"wrote {out / 'report.md'}, report.csv, probe_accuracy.png")
    return 0


if __name__ == "__main__":
    sys.exit(main())
