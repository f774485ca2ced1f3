"""Reading run folders <save_path>/s<seed>/<name>/<trial>/ for the report: what each run is (setting,
method: from its stored spec, or for an older run its flags), whether it finished, and its probe
accuracies under both protocols. Torch-free: the report reads run folders without the library.

Online protocol (the reference's and ACAI's): the probe trained alongside the autoencoder; a run's
value is the median test_probe_acc (and valid_probe_acc) over its last N epochs in results.csv.
Offline protocol: --mode probe's probe.json of each checkpoint (probe/<checkpoint>_epoch<N>/probe.json;
runs written before that layout keep probe.json and probe_epoch<N>.json in the run folder), for the
trained and the random encoder, with the valid reconstruction of that epoch.
"""
import csv
import json
import re
import statistics
from dataclasses import dataclass, field
from pathlib import Path
from typing import Optional

import yaml

from models.registry import method_label
from runs.paths import REPLACED

RUN_GLOB = "s*/*/*"
_SEED_DIR = re.compile(r"^s(-?\d+)$")


@dataclass
class RunSummary:
    path: Path
    seed: int
    name: str
    setting: str = "?"
    method: tuple = (99, "?")          # (sort rank, label)
    status: str = "ok"                 # ok | unfinished | broken
    reason: str = ""                   # why a run is not ok
    notes: list = field(default_factory=list)  # what is missing from an ok run
    no_probe: list = field(default_factory=list)  # a probe that is absent (not broken): shown with the probe table
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


def method_of(cfg):
    """(rank, label) of a run's method from its cfg.yaml (the stored spec, or an older run's flags)."""
    spec, args = cfg.get("spec") or {}, cfg.get("args") or {}
    if spec:
        m = spec["model"]
        beta = m["beta"] if m["model"] == "vae" else None
        return method_label(m["model"], m["mixer"], m["k"], m["disable_mix"], beta)
    model = args.get("model", "swapgan")
    k = (cfg.get("resolved") or {}).get("k") or {"swapgan": 2, "threegan": 3}.get(model, args.get("k"))
    return method_label(model, args.get("mixer", "mixup"), k, args.get("disable_mix"),
                        float(args.get("beta", 1.0)) if model == "vae" else None)


def setting_of(cfg):
    data = (cfg.get("spec") or {}).get("data") or cfg.get("args") or {}
    text = str(data.get("dataset", "?"))
    if data.get("subset_train"):
        text += f", {data['subset_train']} train"
    return text + f", bottleneck {(cfg.get('resolved') or {}).get('code_size', '?')}"


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


def _newest(path, old):
    """The newest of <run>/<mode>/*_epoch*/<file> (by epoch) and an older run's <run>/<file>, or None."""
    found = []
    for f in list(path.glob(f"{old.stem}/*_epoch*/{old.name}")) + [path / old.name]:
        m = re.search(r"_epoch(\d+)$", f.parent.name) if f.parent != path else None
        if f.is_file():
            found.append((int(m.group(1)) if m else -1, f))
    return max(found)[1] if found else None


def _read_probe(run, path, expected):
    path = _newest(path, Path("probe/probe.json"))
    if path is None:
        if expected:
            run.no_probe.append("no probe.json (run --mode=probe)")
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
    run = RunSummary(path=path, seed=int(m.group(1)) if m else -1, name=path.parent.name)
    try:
        cfg = yaml.safe_load((path / "cfg.yaml").read_text())
        spec = cfg.get("spec") or {}
        target = int(spec["train"]["epochs"] if spec else cfg["args"]["epochs"])
        run.setting, run.method = setting_of(cfg), method_of(cfg)
        dataset = (spec.get("data") or cfg["args"]).get("dataset")
    except (OSError, yaml.YAMLError, KeyError, TypeError, ValueError, AttributeError):
        run.status, run.reason = "broken", "no readable cfg.yaml"
        return run
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
        run.no_probe.append("no online probe in results.csv (train with --cls_probe=linear)")
    is_lines = dataset == "lines"  # evaluated by --mode lines_eval; a probe is optional there
    _read_probe(run, path, expected=not is_lines)
    _read_checkpoint_probes(run, path, {r["epoch"]: r.get("valid_recon") for r in rows})
    _read_lines(run, path, expected=is_lines)
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
    path = _newest(path, Path("lines_eval/lines_eval.json"))
    if path is None:
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
    for f in sorted(path.glob("probe_epoch*.json")) + sorted(path.glob("probe/*_epoch*/probe.json")):
        try:
            probe = json.loads(f.read_text())
            epoch = int(probe["epoch"])
            steps = probe.get("steps")
            ckpt = Checkpoint(epoch, None if steps is None else int(steps), float(probe["trained"]["test_acc"]),
                              float(probe["trained"]["valid_acc"]), float(probe["random_init"]["test_acc"]),
                              recon_by_epoch.get(epoch))
        except (OSError, ValueError, KeyError, TypeError):
            run.notes.append(f"{f.relative_to(path)} unreadable")
            continue
        if epoch > run.epochs_done:  # a probe of a checkpoint from a run since restarted
            run.notes.append(f"{f.relative_to(path)} is of epoch {epoch}, beyond the {run.epochs_done} in results.csv")
            continue
        run.checkpoints[epoch] = ckpt


def find_runs(save_path, last):
    """Every run folder under save_path (not those --overwrite moved aside)."""
    folders = sorted(p for p in Path(save_path).glob(RUN_GLOB)
                     if p.is_dir() and _SEED_DIR.match(p.parent.parent.name) and REPLACED not in p.name)
    return [read_run(p, last) for p in folders]
