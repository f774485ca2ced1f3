"""The realism part of evaluation.report (docs/realism.md): for runs with realism.json files
(--mode realism of each checkpoint), each method's FD and KID of its decoded mixes with the
reference rows (reconstructions, pixel mixes, real images), the paired differences to the baseline
and to the plain autoencoder at every checkpoint with the decision rule (lower is better), and one
picture of decoded mixes per method, side by side."""
import csv
import io
import statistics

from .paired import against_references, by_setting_and_method, decide, paired

SCORES = (("fd", "FD"), ("kid", "KID (×10⁻³)"))
SCALE = {"fd": 1.0, "kid": 1e3}
REFERENCE_SETS = ("reconstructions", "pixel_mixes", "real")


def _ms(values, scale=1.0, digits=3):
    values = [scale * v for v in values]
    if not values:
        return "–"
    return f"{statistics.fmean(values):.{digits}f}" + (f" ± {statistics.stdev(values):.{digits}f}"
                                                       if len(values) > 1 else "")


def realism_rows(runs):
    """One row per (setting, method, checkpoint epoch): the scores of every set as lists over seeds."""
    rows = []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.realism).items()):
        for (rank, label, name), members in sorted(groups.items()):
            for epoch in sorted({e for r in members for e in r.realism}):
                scored = [r.realism[epoch] for r in members if epoch in r.realism]
                steps = {s.get("steps") for s in scored}
                rows.append({"setting": setting, "method": label, "name": name, "epoch": epoch,
                             "steps": steps.pop() if len(steps) == 1 else None, "n": len(scored),
                             **{f"{part}_{k}": [s[part][k] for s in scored]
                                for part in ("mixes", *REFERENCE_SETS) for k in ("fd", "kid", "confidence")}})
    return rows


def realism_paired_rows(runs, min_seeds=3):
    """Each method against each reference present in its setting, at every checkpoint both have: paired
    differences of the mixes' FD and KID; the last checkpoint's row carries the decision per score."""
    rows = []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.realism).items()):
        for ref_label, ref_name, ref_members, label, name, members in against_references(groups):
            epochs = sorted({e for r in members for e in r.realism} & {e for r in ref_members for e in r.realism})
            results = {k: [] for k, _ in SCORES}
            for epoch in epochs:
                for k, _ in SCORES:
                    score = lambda rs: {r.seed: r.realism[epoch]["mixes"][k]  # noqa: E731
                                        for r in rs if epoch in r.realism}
                    results[k].append(paired(score(members), score(ref_members)))
            for i, epoch in enumerate(epochs):
                last = i == len(epochs) - 1 and len(epochs) > 1
                row = {"setting": setting, "reference": ref_name, "reference_label": ref_label, "method": label,
                       "name": name, "epoch": epoch}
                for k, _ in SCORES:
                    p = results[k][i]
                    row.update({f"{k}_n": p.n, f"{k}_mean_diff": p.mean, f"{k}_se": p.se,
                                f"{k}_seeds": f"{p.positive} / {p.zero} / {p.negative}",
                                f"{k}_decision": decide(results[k][0], p, min_seeds, lower_is_better=True)
                                if last else ""})
                rows.append(row)
    return rows


def _diff(row, k):
    mean, se = row[f"{k}_mean_diff"], row[f"{k}_se"]
    if mean is None:
        return "–"
    s = SCALE[k]
    text = f"{s * mean:+.3f}" + (f" ± {s * se:.3f}" if se is not None else "") + f" ({row[f'{k}_seeds']})"
    decision = row[f"{k}_decision"]
    return text + (f": **{_WORDS[decision]}**" if decision else "")


_WORDS = {"beats": "more real", "worse": "less real", "no decision": "no decision"}


def realism_markdown(rows, pair_rows, min_seeds=3):
    if not rows:
        return []
    lines = ["", "## How real the decoded mixes are (--mode realism)", "",
             "Fréchet distance (FD) and KID (×10⁻³) to n real test images in the features of a judge trained on "
             "real training images only (docs/realism.md), lower is more real: the decoded mixes of validation "
             "pairs drawn as in training, the reconstructions of the same images, the same pairs mixed in pixel "
             "space, and real test images (the floor); mean ± sample std over seeds.", "",
             "| setting | method | name | epoch | steps | seeds | mixes FD | mixes KID | mixes confidence | "
             "reconstructions FD | pixel mixes FD | real FD |", "|" + " --- |" * 12]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['method']} | `{r['name']}` | {r['epoch']} | {r['steps'] or '–'} | "
                     f"{r['n']} | {_ms(r['mixes_fd'])} | {_ms(r['mixes_kid'], 1e3)} | "
                     f"{_ms(r['mixes_confidence'], 1, 4)} | {_ms(r['reconstructions_fd'])} | "
                     f"{_ms(r['pixel_mixes_fd'])} | {_ms(r['real_fd'])} |")
    for ref_label in dict.fromkeys(r["reference_label"] for r in pair_rows):
        lines += ["", f"### Realism of the mixes: paired differences to {ref_label}", "",
                  "The method's score minus the reference run's of the same seed: mean ± SE (seeds + / = / −). "
                  f"Decision at the last checkpoint (docs/realism.md; at least {min_seeds} seeds), lower is better: "
                  "*more real* if every seed is lower, the mean is below −2 SE and the mean at the first checkpoint "
                  "is negative; *less real* for the mirror image; else *no decision*.", "",
                  "| setting | method | vs | epoch | Δ FD | Δ KID (×10⁻³) |", "|" + " --- |" * 6]
        for r in (r for r in pair_rows if r["reference_label"] == ref_label):
            lines.append(f"| {r['setting']} | {r['method']} | `{r['reference']}` | {r['epoch']} | {_diff(r, 'fd')} | "
                         f"{_diff(r, 'kid')} |")
    return lines


def realism_csv_text(pair_rows):
    columns = ["setting", "reference", "method", "name", "epoch"]
    columns += [f"{k}_{c}" for k, _ in SCORES for c in ("n", "mean_diff", "se", "seeds", "decision")]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(pair_rows)
    return buf.getvalue()


def realism_picture(runs, path, shown=8):
    """For the last checkpoint of each method's lowest seed: the first `shown` decoded mixes of its
    realism folder, one row per method, under the two sources and the pixel mix of the same pairs (the
    same pairs for every method of the same k). Returns the row labels ([] when nothing to show)."""
    import torch

    from runs.images import save_grid
    rows, labels = [], []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.realism).items()):
        for (rank, label, name), members in sorted(groups.items()):
            run = min(members, key=lambda r: r.seed)
            epoch = max(run.realism)
            try:
                examples = torch.load(run.realism_folders[epoch] / "examples.pt", weights_only=True)
            except (OSError, RuntimeError, KeyError):
                continue
            if not rows:
                sources = examples["sources"][:shown]
                rows += [sources[:, 0], sources[:, 1], examples["pixel_mixes"][:shown]]
                labels += ["first source", "second source", f"pixel mix (weights of {label})"]
            if examples["mixes"].shape[1:] == rows[0].shape[1:]:
                rows.append(examples["mixes"][:shown])
                k = run.realism[epoch].get("k", 2)
                labels.append(f"{label} ({name}, seed {run.seed}, epoch {epoch}"
                              + (f"; k = {k}: further sources not shown)" if k > 2 else ")"))
    if len(rows) < 4:
        return []
    n = min(len(r) for r in rows)
    save_grid(torch.cat([r[:n] for r in rows]), path, nrow=n)
    return labels
