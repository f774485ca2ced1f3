"""Reading run folders <save_path>/s<seed>/<name>/<trial>/ for the report: what each run is (setting,
method), whether it finished, and its probe accuracies under both protocols.

Online protocol (the reference's and ACAI's): the probe trained alongside the autoencoder; a run's
value is the median test_probe_acc (and valid_probe_acc) over its last N epochs in results.csv.
Offline protocol: the accuracies in probe.json (--mode probe), for the trained and the random encoder;
and, per checkpoint, those of probe_epoch<N>.json with the valid reconstruction of that epoch.
"""
import csv
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

RUN_GLOB = "s*/*/*"
_SEED_DIR = re.compile(r"^s(-?\d+)$")
_MIXER_NAMES = {"mixup": "mixup", "mixup2": "mixup per channel", "fm": "Bernoulli mixup (fm)",
                "fm2": "Bernoulli mixup"}


@dataclass
class Run:
    path: Path
    seed: int
    name: str
    setting: str = "?"
    method: tuple = (99, "?")          # (sort rank, label)
    status: str = "ok"                 # ok | unfinished | broken
    reason: str = ""                   # why a run is not ok
    notes: list = field(default_factory=list)  # what is missing from an ok run
    epochs_done: int = 0
    curve: list = field(default_factory=list)  # [(epoch, test_probe_acc)]
    scores: dict = field(default_factory=dict)  # online_/offline_/random_init_ + test/valid -> accuracy
    checkpoints: dict = field(default_factory=dict)  # epoch -> Checkpoint (probe_epoch<N>.json)
    lines: Optional[dict] = None       # lines_eval.json of the last epoch (--mode lines_eval), if any
    realism: dict = field(default_factory=dict)  # epoch -> realism.json (--mode realism of that checkpoint)
    realism_folders: dict = field(default_factory=dict)  # epoch -> the folder it was read from


@dataclass(frozen=True)
class Checkpoint:
    """The offline probe of one checkpoint, with the valid reconstruction loss of its epoch."""
    epoch: int
    steps: Optional[int]         # optimisation steps by then (None: not recorded)
    offline_test: float
    offline_valid: float
    random_init_test: float
    valid_recon: Optional[float]


def method_of(args, resolved):
    """(rank, label) from a run's flags: the order of the paper's tables, baseline first, ACAI last."""
    model = args.get("model", "swapgan")
    if model in ("acaif3", "acai"):
        return 90 + (model == "acai"), "ACAI" if model == "acaif3" else "ACAI (as published)"
    if model == "ae":
        return 1, "plain autoencoder (no discriminator)"
    if model not in ("swapgan", "threegan", "kgan"):
        return 95, model
    if args.get("disable_mix"):
        return 0, "baseline (no mixing)"
    k = resolved.get("k") or {"swapgan": 2, "threegan": 3}.get(model, args.get("k"))
    mixer = args.get("mixer", "mixup")
    rank = 10 * int(k or 0) + list(_MIXER_NAMES).index(mixer) if mixer in _MIXER_NAMES else 80
    return rank, f"{_MIXER_NAMES.get(mixer, mixer)}, k={k}"


def setting_of(args, resolved):
    text = str(args.get("dataset", "?"))
    if args.get("subset_train"):
        text += f", {args['subset_train']} train"
    return text + f", bottleneck {resolved.get('code_size', '?')}"


def _read_rows(path):
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    for i, row in enumerate(rows, 2):
        try:
            row["epoch"] = int(row["epoch"])
            for key in ("test_probe_acc", "valid_probe_acc"):
                if key in row:
                    row[key] = float(row[key])
            row["valid_recon"] = float(row["valid_recon"]) if row.get("valid_recon") else None
        except (TypeError, ValueError):
            raise ValueError(f"line {i} is not a complete row") from None
    return sorted(rows, key=lambda r: r["epoch"])


def _read_probe(run, path, expected):
    if not path.is_file():
        if expected:
            run.notes.append("no probe.json (run --mode=probe)")
        return
    try:
        probe = json.loads(path.read_text())
        epoch = int(probe["epoch"])
        values = {f"{protocol}_{split}": float(probe[part][f"{split}_acc"]) for split in ("test", "valid")
                  for protocol, part in (("offline", "trained"), ("random_init", "random_init"))}
    except (OSError, ValueError, KeyError, TypeError):
        run.notes.append("probe.json unreadable")
        return
    if epoch != run.epochs_done:
        run.notes.append(f"probe.json is of epoch {epoch}, the run reached {run.epochs_done}: rerun --mode=probe")
        return
    run.scores.update(values)


def read_run(path, last):
    """One run folder; never raises for a damaged run, it marks it broken or unfinished instead."""
    m = _SEED_DIR.match(path.parent.parent.name)
    run = Run(path=path, seed=int(m.group(1)) if m else -1, name=path.parent.name)
    try:
        cfg = yaml.safe_load((path / "cfg.yaml").read_text())
        args, resolved = cfg["args"], cfg.get("resolved") or {}
        target = int(args["epochs"])
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError):
        run.status, run.reason = "broken", "no readable cfg.yaml"
        return run
    run.setting, run.method = setting_of(args, resolved), method_of(args, resolved)
    if not (path / "results.csv").is_file():
        run.status, run.reason = "unfinished", f"no completed epoch of {target} (no results.csv)"
        return run
    try:
        rows = _read_rows(path / "results.csv")
    except (OSError, ValueError, csv.Error) as e:
        run.status, run.reason = "broken", f"results.csv unreadable ({e})"
        return run
    run.epochs_done = rows[-1]["epoch"] if rows else 0
    if run.epochs_done < target:
        run.status, run.reason = "unfinished", f"{run.epochs_done} of {target} epochs in results.csv"
    if rows and "test_probe_acc" in rows[0]:
        run.curve = [(r["epoch"], r["test_probe_acc"]) for r in rows]
        for split in ("test", "valid"):
            run.scores[f"online_{split}"] = statistics.median(r[f"{split}_probe_acc"] for r in rows[-last:])
    else:
        run.notes.append("no online probe in results.csv (train with --cls_probe=linear)")
    is_lines = args.get("dataset") == "lines"  # evaluated by --mode lines_eval; a probe is optional there
    _read_probe(run, path / "probe.json", expected=not is_lines)
    _read_checkpoint_probes(run, path, {r["epoch"]: r.get("valid_recon") for r in rows})
    _read_lines(run, path / "lines_eval.json", expected=is_lines)
    _read_realism(run, path)
    return run


def _read_realism(run, path):
    """realism/<checkpoint>_epoch<N>/realism.json of every checkpoint (ckpt_N before last when both exist)."""
    for f in sorted(path.glob("realism/*_epoch*/realism.json"), key=lambda f: not f.parent.name.startswith("ckpt_")):
        try:
            result = json.loads(f.read_text())
            epoch = int(result["epoch"])
            for part in ("mixes", "reconstructions", "pixel_mixes", "real"):
                for k in ("fd", "kid", "confidence"):
                    result[part][k] = float(result[part][k])
        except (OSError, ValueError, KeyError, TypeError):
            run.notes.append(f"{f.relative_to(path)} unreadable")
            continue
        if epoch > run.epochs_done:
            run.notes.append(f"{f.relative_to(path)} is of epoch {epoch}, beyond the {run.epochs_done} in results.csv")
        elif epoch not in run.realism:
            run.realism[epoch], run.realism_folders[epoch] = result, f.parent


def _read_lines(run, path, expected):
    if not path.is_file():
        if expected:
            run.notes.append("no lines_eval.json (run --mode=lines_eval)")
        return
    try:
        lines = json.loads(path.read_text())
        epoch = int(lines["epoch"])
        for part in ("model", "pixel", "ideal"):
            lines[part]["mean_distance"] = float(lines[part]["mean_distance"])
            s = lines[part]["smoothness"]
            lines[part]["smoothness"] = None if s is None else float(s)  # null: no interpolation had a score
    except (OSError, ValueError, KeyError, TypeError):
        run.notes.append("lines_eval.json unreadable")
        return
    if epoch != run.epochs_done:
        run.notes.append(f"lines_eval.json is of epoch {epoch}, the run reached {run.epochs_done}: "
                         f"rerun --mode=lines_eval")
        return
    run.lines = lines


def _read_checkpoint_probes(run, path, recon_by_epoch):
    for f in sorted(path.glob("probe_epoch*.json")):
        try:
            probe = json.loads(f.read_text())
            epoch = int(probe["epoch"])
            steps = probe.get("steps")
            ckpt = Checkpoint(epoch, None if steps is None else int(steps), float(probe["trained"]["test_acc"]),
                              float(probe["trained"]["valid_acc"]), float(probe["random_init"]["test_acc"]),
                              recon_by_epoch.get(epoch))
        except (OSError, ValueError, KeyError, TypeError):
            run.notes.append(f"{f.name} unreadable")
            continue
        if epoch > run.epochs_done:  # a probe of a checkpoint from a run since restarted
            run.notes.append(f"{f.name} is of epoch {epoch}, beyond the {run.epochs_done} in results.csv")
            continue
        run.checkpoints[epoch] = ckpt


def find_runs(save_path, last):
    folders = sorted(p for p in Path(save_path).glob(RUN_GLOB) if p.is_dir() and _SEED_DIR.match(p.parent.parent.name))
    return [read_run(p, last) for p in folders]
