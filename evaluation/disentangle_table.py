"""Table 4 for evaluation.report (docs/table4.md): for runs scored by --mode disentangle, each method's
disentanglement scores (mean ± sample std over seeds), the paired differences to the baseline of the
same seed with the pre-registered decision per score (higher is better; the last checkpoint alone
decides), the scores as CSV, and one latent traversal per method in one picture.

A run's scores: the disentangle.json of its newest scored checkpoint, from <run>/disentangle.json and
<run>/disentangle/*_epoch*/disentangle.json (the mode's copy per checkpoint). Only finished runs
count, and only scores of their last epoch; disentangle_notes says which runs were left out and why.

Functions: disentangle_rows(runs, min_seeds), disentangle_markdown(rows, min_seeds),
disentangle_csv_text(rows), disentangle_picture(runs, path), disentangle_notes(runs).
"""
import csv
import io
import json
import statistics


from runs.paths import mode_folder

from .paired import decide, paired

# (key, metric in disentangle.json, its entry, label); DECIDED ones carry the decision rule
SCORES = (
    ("fv_ref", "factor_vae_reference", "eval_accuracy", "FactorVAE (reference's)"),
    ("bv_ref", "beta_vae_reference", "eval_accuracy", "BetaVAE (reference's)"),
    ("mig", "mig", "discrete_mig", "MIG"),
    ("dci_d", "dci", "disentanglement", "DCI disentanglement"),
    ("dci_c", "dci", "completeness", "DCI completeness"),
    ("dci_i", "dci", "informativeness_test", "DCI informativeness (test)"),
    ("fv_lib", "factor_vae", "eval_accuracy", "FactorVAE (disentanglement_lib)"),
    ("bv_lib", "beta_vae", "eval_accuracy", "BetaVAE (disentanglement_lib)"),
    ("fv_ref_formula", "factor_vae_reference", "reference_formula_accuracy",
     "FactorVAE, the reference's formula (as published, bugs included)"),
)
DECIDED = ("fv_ref", "bv_ref", "mig", "dci_d")
LABELS = {key: label for key, _, _, label in SCORES}


def _read(path):
    try:
        report = json.loads(path.read_text())
        return report, int(report["epoch"])
    except (OSError, ValueError, KeyError, TypeError):
        return None, None


def read_disentangle(run):
    """(report, None) from the run's newest scored checkpoint, or (None, why not)."""
    found, unreadable = [], []
    for f in [run.path / "disentangle.json"] + sorted(run.path.glob("disentangle/*_epoch*/disentangle.json")):
        if f.is_file():
            report, epoch = _read(f)
            (found.append((epoch, f.parent != run.path, report)) if report is not None
             else unreadable.append(str(f.relative_to(run.path))))
    if not found:
        return None, ("unreadable: " + ", ".join(unreadable) if unreadable
                      else "no disentangle.json (run --mode=disentangle)")
    epoch, _, report = max(found, key=lambda t: t[:2])  # the newest epoch; the checkpoint's own copy first
    if epoch != run.epochs_done:
        return None, (f"disentangle.json is of epoch {epoch}, the run reached {run.epochs_done}: "
                      f"rerun --mode=disentangle")
    return report, None


def score_of(report, key):
    """One score of a disentangle.json (None where the metric was not computed or was skipped)."""
    _, metric, entry, _ = next(s for s in SCORES if s[0] == key)
    value = (report.get("metrics") or {}).get(metric, {}).get(entry)
    return float(value) if isinstance(value, (int, float)) else None


def method_key(run):
    """(rank, label, name): the report's method (a beta-VAE's label carries its beta)."""
    return (*run.method, run.name)


def _scored(runs):
    """{setting: {(rank, label, name): [(run, report)]}} of the finished runs scored at their last epoch."""
    out = {}
    for run in runs:
        if run.status != "ok":
            continue
        report, _ = read_disentangle(run)
        if report is not None:
            out.setdefault(run.setting, {}).setdefault(method_key(run), []).append((run, report))
    return out


def disentangle_notes(runs):
    """Lines naming the runs left out of the table and why."""
    notes = []
    for run in runs:
        if run.status != "ok":
            notes.append(f"{run.path}: {run.status} ({run.reason})")
        else:
            report, why = read_disentangle(run)
            if report is None:
                notes.append(f"{run.path}: {why}")
    return notes


def disentangle_rows(runs, min_seeds=3):
    """One row per (setting, method): each score of SCORES as a list over seeds (None where missing), the
    seeds, the epochs scored; for each method but the baseline (rank 0), the paired differences of every
    score to the baseline of the same seed and, for DECIDED scores, the decision (docs/table4.md)."""
    rows = []
    for setting, groups in sorted(_scored(runs).items()):
        baseline = [members for key, members in groups.items() if key[0] == 0]
        for (rank, label, name), members in sorted(groups.items()):
            members = sorted(members, key=lambda m: m[0].seed)
            row = {"setting": setting, "method": label, "name": name, "rank": rank,
                   "seeds": [run.seed for run, _ in members],
                   "epochs": sorted({int(report["epoch"]) for _, report in members}),
                   **{key: [score_of(report, key) for _, report in members] for key in LABELS}}
            if baseline and rank != 0:
                for key in LABELS:
                    by_seed = lambda ms: {run.seed: score_of(rep, key) for run, rep in ms  # noqa: E731
                                          if score_of(rep, key) is not None}
                    row[f"{key}_paired"] = paired(by_seed(members), by_seed(baseline[0]))
                    if key in DECIDED:
                        row[f"{key}_decision"] = decide(None, row[f"{key}_paired"], min_seeds)
            rows.append(row)
    return rows


def _ms(values, digits=3):
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    return f"{statistics.fmean(values):.{digits}f}" + (f" ± {statistics.stdev(values):.{digits}f}"
                                                       if len(values) > 1 else "")


def _paired_cell(row, key, digits=3):
    p = row.get(f"{key}_paired")
    if p is None or p.mean is None:
        return "–"
    text = f"{p.mean:+.{digits}f}" + (f" ± {p.se:.{digits}f}" if p.se is not None else "")
    text += f" ({p.positive} / {p.zero} / {p.negative})"
    return text + (f": {row[f'{key}_decision']}" if f"{key}_decision" in row else "")


def disentangle_markdown(rows, min_seeds=3):
    """The Table 4 section of report.md as a list of lines ([] without rows)."""
    if not rows:
        return []
    shown = [k for k in LABELS if any(v is not None for r in rows for v in r[k])]
    lines = ["", "## Disentanglement on dSprites (Table 4)", "",
             "`--mode disentangle` of each run's last checkpoint (evaluation/disentanglement_metrics.py; "
             "docs/table4.md): mean ± sample std over seeds, all scores higher is better. The reference's "
             "FactorVAE-style score (L = 800, 800 votes, majority vote) and BetaVAE-style score (50,000 points "
             "of 128 pairs) are corrected as docs/table4.md says; MIG and DCI as disentanglement_lib.", "",
             "| setting | method | name | seeds | " + " | ".join(LABELS[k] for k in shown) + " |",
             "|" + " --- |" * (4 + len(shown))]
    for r in rows:
        lines.append("| " + " | ".join([r["setting"], r["method"], f"`{r['name']}`", " ".join(map(str, r["seeds"]))]
                                       + [_ms(r[k]) for k in shown]) + " |")
    paired_rows = [r for r in rows if any(f"{k}_paired" in r for k in DECIDED)]
    if paired_rows:
        lines += ["", "Paired differences to the baseline (no mixing) of the same seed, mean ± SE (seeds + / = / −), "
                      f"then the decision fixed before the runs (at least {min_seeds} paired seeds): *beats* the "
                      "baseline if every seed's difference is positive and the mean exceeds 2 SE, *worse* for the "
                      "mirror image, else *no decision*.", "",
                  "| setting | method | name | " + " | ".join(f"Δ {LABELS[k]}" for k in DECIDED) + " |",
                  "|" + " --- |" * (3 + len(DECIDED))]
        for r in paired_rows:
            lines.append("| " + " | ".join([r["setting"], r["method"], f"`{r['name']}`"]
                                           + [_paired_cell(r, k) for k in DECIDED]) + " |")
    epochs = {e for r in rows for e in r["epochs"]}
    if len(epochs) > 1:
        lines += ["", f"Runs were scored after different numbers of epochs ({sorted(epochs)}): not comparable."]
    return lines


def disentangle_csv_text(rows):
    """One CSV row per (setting, method): every score's mean, std and n, and the paired differences."""
    columns = ["setting", "method", "name", "seeds", "epochs"]
    columns += [f"{k}_{s}" for k in LABELS for s in ("mean", "std", "n")]
    columns += [f"{k}_paired_{s}" for k in LABELS for s in ("mean", "se", "n", "positive", "zero", "negative")]
    columns += [f"{k}_decision" for k in DECIDED]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for r in rows:
        out = {"setting": r["setting"], "method": r["method"], "name": r["name"],
               "seeds": " ".join(map(str, r["seeds"])), "epochs": " ".join(map(str, r["epochs"]))}
        for k in LABELS:
            values = [v for v in r[k] if v is not None]
            out.update({f"{k}_mean": statistics.fmean(values) if values else None,
                        f"{k}_std": statistics.stdev(values) if len(values) > 1 else None, f"{k}_n": len(values)})
            p = r.get(f"{k}_paired")
            if p is not None:
                out.update({f"{k}_paired_mean": p.mean, f"{k}_paired_se": p.se, f"{k}_paired_n": p.n,
                            f"{k}_paired_positive": p.positive, f"{k}_paired_zero": p.zero,
                            f"{k}_paired_negative": p.negative})
            if f"{k}_decision" in r:
                out[f"{k}_decision"] = r[f"{k}_decision"]
        writer.writerow(out)
    return buf.getvalue()


def _traversal(run, report):
    """The traversal [dims, steps + 1, C, H, W] --mode disentangle saved beside the report, or None."""
    import numpy as np
    try:
        folder = mode_folder(run.path, "disentangle", report["checkpoint"], int(report["epoch"]))
        return np.load(folder / "traversal.npz")["images"].astype(np.float32)
    except (OSError, KeyError, ValueError, TypeError):
        return None


def disentangle_picture(runs, path):
    """One latent traversal per method (its lowest seed), blocks stacked top to bottom in method order: in a
    block, row d sweeps code dimension d (first column: the input image). Returns one label per block,
    with its rows ([] when no run has a traversal)."""
    import torch

    from runs.images import save_grid
    blocks, labels, row = [], [], 1
    for setting, groups in sorted(_scored(runs).items()):
        for (rank, label, name), members in sorted(groups.items()):
            run, report = min(members, key=lambda m: m[0].seed)
            x = _traversal(run, report)
            if x is None or (blocks and x.shape[1:] != blocks[0].shape[1:]):
                continue
            blocks.append(x)
            labels.append(f"rows {row}–{row + len(x) - 1}: {label} (`{name}`, seed {run.seed}, "
                          f"epoch {report['epoch']})")
            row += len(x)
    if not blocks:
        return []
    images = torch.cat([torch.from_numpy(b) for b in blocks])
    save_grid(images.flatten(0, 1), path, nrow=images.shape[1])
    return labels
