"""The lines benchmark's part of evaluation.report: for runs with a lines_eval.json (--mode lines_eval of
the last epoch), each method's mean distance and smoothness (mean ± sample std over seeds), the
pixel-space and ideal interpolations of the same pairs as reference rows, the paired differences to
the baseline of the same seed, and a picture: one interpolation per method, side by side with the
pixel and ideal ones."""
import csv
import io
import statistics

from runs.paths import mode_folder

from .paired import by_setting_and_method, decide, paired

SCORES = (("mean_distance", "mean distance (×10⁻³)", 1e3), ("smoothness", "smoothness", 1.0))


def _ms(values, scale):
    values = [scale * v for v in values if v is not None]
    if not values:
        return "–"
    return f"{statistics.fmean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")


def lines_rows(runs, min_seeds=3):
    """One row per (setting, method) and the pixel / ideal references per setting: the two scores as
    lists over seeds, the paired differences to the baseline (rank 0) where there is one, and the
    decision of docs/lines.md for each score (lower is better; the last checkpoint alone decides)."""
    rows = []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.lines is not None).items()):
        everyone = [r for members in groups.values() for r in members]
        protocols = {(r.lines["n_interpolations"], r.lines["n_steps"]) for r in everyone}
        for part, label in (("pixel", "pixel-space interpolation"), ("ideal", "ideal (angle) interpolation")):
            rows.append({"setting": setting, "method": label, "name": "", "seeds": [], "protocols": protocols,
                         **{k: [r.lines[part][k] for r in everyone[:1]] for k, _, _ in SCORES}})
        baseline = [members for key, members in groups.items() if key[0] == 0]
        for (rank, label, name), members in sorted(groups.items()):
            row = {"setting": setting, "method": label, "name": name, "seeds": sorted(r.seed for r in members),
                   "protocols": protocols, **{k: [r.lines["model"][k] for r in members] for k, _, _ in SCORES}}
            if baseline and rank != 0:
                for k, _, _ in SCORES:
                    score = lambda rs: {r.seed: r.lines["model"][k] for r in rs  # noqa: E731
                                        if r.lines["model"][k] is not None}
                    row[f"{k}_paired"] = paired(score(members), score(baseline[0]))
                    row[f"{k}_decision"] = decide(None, row[f"{k}_paired"], min_seeds, lower_is_better=True)
            rows.append(row)
    return rows


def lines_markdown(rows, min_seeds=3):
    if not rows:
        return []
    lines = ["", "## Interpolation quality on lines (ACAI's benchmark)", "",
             "`--mode lines_eval` of each run's last checkpoint (evaluation/lines_benchmark.py): the cosine "
             "distance of each decoded frame to the nearest true line (×10⁻³, lower is better) and the "
             "smoothness of the angle's progress (0 is an even pace, lower is better); mean ± sample std over "
             "seeds. The pixel-space and ideal rows score the same validation pairs blended in pixel space and "
             "drawn at evenly turning angles. Paired: the method minus the baseline of the same seed, "
             "mean ± SE (seeds + / = / −), then the decision of docs/lines.md (at least "
             f"{min_seeds} seeds): *beats* the baseline if every seed scores lower and the mean difference is "
             "below −2 SE, *worse* for the mirror image, else *no decision*.", "",
             "| setting | method | name | seeds | " + " | ".join(label for _, label, _ in SCORES)
             + " | paired Δ distance (×10⁻³) | paired Δ smoothness |", "|" + " --- |" * 8]
    for r in rows:
        cells = [r["setting"], r["method"], f"`{r['name']}`" if r["name"] else "",
                 " ".join(map(str, r["seeds"])) or "–"] + [_ms(r[k], scale) for k, _, scale in SCORES]
        for k, _, scale in SCORES:
            p = r.get(f"{k}_paired")
            cells.append("–" if p is None or p.mean is None else
                         f"{scale * p.mean:+.3f}" + (f" ± {scale * p.se:.3f}" if p.se is not None else "")
                         + f" ({p.positive} / {p.zero} / {p.negative}): {r[f'{k}_decision']}")
        lines.append("| " + " | ".join(cells) + " |")
    protocols = {p for r in rows for p in r["protocols"]}
    if len(protocols) > 1:
        lines += ["", f"Runs were scored with different protocols (n_interpolations, n_steps): {sorted(protocols)}; "
                      f"their numbers are not comparable."]
    return lines


def lines_csv_text(rows):
    columns = ["setting", "method", "name", "seeds"] + [f"{k}_{s}" for k, _, _ in SCORES for s in ("mean", "std")]
    columns += [f"{k}_paired_{s}" for k, _, _ in SCORES for s in ("mean", "se", "n")]
    columns += [f"{k}_decision" for k, _, _ in SCORES]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns)
    writer.writeheader()
    for r in rows:
        out = {"setting": r["setting"], "method": r["method"], "name": r["name"],
               "seeds": " ".join(map(str, r["seeds"]))}
        for k, _, _ in SCORES:
            values = [v for v in r[k] if v is not None]
            out[f"{k}_mean"] = statistics.fmean(values) if values else None
            out[f"{k}_std"] = statistics.stdev(values) if len(values) > 1 else None
            p = r.get(f"{k}_paired")
            if p is not None:
                out.update({f"{k}_paired_mean": p.mean, f"{k}_paired_se": p.se, f"{k}_paired_n": p.n,
                            f"{k}_decision": r[f"{k}_decision"]})
        writer.writerow(out)
    return buf.getvalue()


def _interpolations(run):
    """The saved interpolations [n, n_steps, H, W] of the run's lines_eval.json, or None if absent."""
    import numpy as np
    folder = mode_folder(run.path, "lines_eval", run.lines["checkpoint"], run.lines["epoch"])
    try:
        return np.load(folder / "interpolations.npz")["interpolations"]
    except (OSError, KeyError, ValueError):
        return None


def lines_picture(runs, path, pairs=3):
    """For the first `pairs` validation pairs: the pixel row, then one row per method (its lowest seed),
    then the ideal row; pairs stacked. Returns the row labels, or [] when no run has interpolations."""
    import torch

    from evaluation.lines_benchmark import ideal_interpolations, pixel_interpolations  # the data and its references
    from iterators.lines import draw_lines, split_angles
    from runs.images import save_grid
    shown = []
    for setting, groups in sorted(by_setting_and_method(runs, lambda r: r.lines is not None).items()):
        for (rank, label, name), members in sorted(groups.items()):
            run = min(members, key=lambda r: r.seed)
            x = _interpolations(run)
            if x is not None:
                shown.append((f"{label} ({name}, seed {run.seed})", torch.from_numpy(x)))
    if not shown:
        return []
    n, steps = shown[0][1].shape[:2]
    shown = [(label, x) for label, x in shown if x.shape[:2] == (n, steps)]
    pairs = min(pairs, n)
    angles = split_angles("valid")
    x_a, x_b = draw_lines(angles[:pairs]), draw_lines(angles[n:n + pairs])
    labels = ["pixel-space"] + [label for label, _ in shown] + ["ideal"]
    rows = torch.stack([pixel_interpolations(x_a, x_b, steps)] + [x[:pairs] for _, x in shown]
                       + [ideal_interpolations(angles[:pairs], angles[n:n + pairs], steps)], 1)  # [pairs, rows, ...]
    save_grid(rows.flatten(0, 2)[:, None], path, nrow=steps)
    return labels
