"""Does a long run hold steady? Resident memory (RSS) of a real training process, epoch by epoch.

    python -m benchmarks.memory                 # 25 short epochs on digits (about 2 minutes on 2 CPU cores)
    python -m benchmarks.memory --epochs 40 -- --dataset=mnist --data_dir=../shared/data --batches_per_epoch=50

Starts task_launcher.py as a subprocess (flags after `--` are appended), reads its RSS after each
epoch line it prints, and reports the growth from the end of epoch 5 (allocator and caches
warmed up) to the last epoch. A leak of even one batch per epoch would show as steady growth.
"""
import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--epochs", type=int, default=25)
    p.add_argument("--out", default=None, help="also write the figures as JSON to this file")
    p.add_argument("launcher_flags", nargs="*", help="extra task_launcher.py flags (after --)")
    a = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as save_path:
        cmd = [sys.executable, "task_launcher.py", "--dataset=digits", "--batches_per_epoch=10", "--cls_probe=linear",
               f"--epochs={a.epochs}", f"--save_path={save_path}", "--save_every=5", *a.launcher_flags]
        print(" ".join(cmd))
        proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, bufsize=1)
        ps, rss = psutil.Process(proc.pid), {}
        for line in proc.stdout:
            if line.startswith("epoch "):
                epoch = int(line.split()[1].split("/")[0])
                rss[epoch] = ps.memory_info().rss / 2**20
                print(f"epoch {epoch:3d}: RSS {rss[epoch]:7.1f} MiB", flush=True)
        if proc.wait() != 0:
            sys.exit(f"task_launcher.py exited with {proc.returncode}")
    last = max(rss)
    growth = rss[last] - rss[min(5, last)]
    summary = {"epochs": last, "rss_mib": rss, "growth_epoch5_to_last_mib": round(growth, 1),
               "per_epoch_after_5_mib": round(growth / max(last - 5, 1), 2), "peak_mib": round(max(rss.values()), 1)}
    print(f"RSS epoch 1 {rss[1]:.1f} MiB, epoch {min(5, last)} {rss[min(5, last)]:.1f} MiB, epoch {last} "
          f"{rss[last]:.1f} MiB: growth after epoch 5 {growth:+.1f} MiB "
          f"({summary['per_epoch_after_5_mib']:+.2f} MiB/epoch)")
    if a.out:
        Path(a.out).write_text(json.dumps(summary, indent=1))
    return summary


if __name__ == "__main__":
    main()
