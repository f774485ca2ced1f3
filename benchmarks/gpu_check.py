"""The GPU check: what a session measures and tests when a GPU is lent to it (about 15 minutes), in one command.

    python -m benchmarks.gpu_check --device cuda --out /tmp/gpu_check                  # 8 min budget (--budget_s 480)
    python -m benchmarks.gpu_check --device cuda --out /tmp/gpu_check --data_dir ./data  # real MNIST if it is there
    python -m benchmarks.gpu_check --device cpu --out /tmp/gpu_check                   # dry run, small sizes: < 5 min

Parts, in this order, each in its own process under its own time limit, so that a part that fails or hangs
never hides the others (each records its status, seconds, figures and the tail of its log):

  environment   GPU name, memory, capability; torch, CUDA, cuDNN; TF32 flags (default, as a run sets them,
                under --deterministic); bf16; a C++ compiler and triton (what --compile needs); packages
  gpu_tests     pytest -m gpu (tests/test_gpu.py: a CUDA run opened and resumed on the CPU, --amp / --amp=fp16
                steps with bce and bce_sum for AMR and the VAE on dSprites, --compile, --deterministic twice),
                and the unmarked GPU test of tests/test_speed.py
  round_trip    a run trained on the device for 2 batches, opened with runs.load_run on the CPU, resumed there
  mnist_epoch   one MNIST epoch end to end (task_launcher.py, the paper's Table 1 mixup flags) in float32, --amp
                (bf16), --amp=fp16 and --compile (two epochs: the first one compiles): epoch times, peak GPU memory
  step_time     benchmarks.step_time at batch 64, 1024 and 8192: reference, ours, ours+amp, ours+compile
  determinism   two 30-step --deterministic runs must hash equal (sha256 over the weights); two default runs
                are hashed for contrast

MNIST comes from --data_dir when it holds MNIST/raw/*-ubyte, else random images are generated in
torchvision's raw format (60000 + 10000 on a GPU, the real file's shape; 240 + 60 in the dry run).
--budget_s is shared out between the parts by weight (what one leaves unused goes to the next); a part
that cannot get its minimum is skipped with the reason, as are the batch sizes or variants inside a part
that no longer fit. Writes OUT/summary.json (every part: status ok/failed/timeout/skipped, seconds,
figures), OUT/summary.md (a table), OUT/logs/ (each part's output, and of each run inside it), rewritten
after every part. Exit status 0 when every part is ok or skipped, else 1.

With --device cpu everything runs at small sizes (networks 4 wide, a few steps of batch 8 to 32), and
torch.compile uses its "eager" backend (Dynamo's tracing without code generation), so that the dry run stays
short: it checks the check, not the speed.
"""
import argparse
import contextlib
import datetime
import hashlib
import json
import math
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import traceback
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PARTS = ("environment", "gpu_tests", "round_trip", "mnist_epoch", "step_time", "determinism")
TITLES = {"environment": "environment", "gpu_tests": "pytest -m gpu", "round_trip": "CUDA -> CPU checkpoint",
          "mnist_epoch": "MNIST epoch end to end", "step_time": "step benchmark", "determinism": "--deterministic"}
# (weight in the budget, least seconds worth starting with at the default budget; minimums scale with it)
SHARES = {"environment": (0.05, 15), "gpu_tests": (0.24, 45), "round_trip": (0.08, 20), "mnist_epoch": (0.25, 40),
          "step_time": (0.26, 40), "determinism": (0.12, 25)}
DEFAULT_BUDGET = {"cuda": 480, "cpu": 280}
TAIL_LINES = 25

# The paper's Table 1 mixup run on MNIST (exps/common.sh: PAPER_FLAGS and table1), as exps/mnist/mixup_lamb10.sh
PAPER_MNIST = ["--dataset=mnist", "--n_channels=1", "--arch=arch_acai_kyle", "--model=swapgan", "--mixer=mixup",
               "--lamb=10.0", "--lr=1e-4", "--beta1=0.5", "--beta2=0.99", "--weight_decay=1e-5", "--beta=0.0",
               "--update_g_every=5", "--cls_probe=linear_legacy", "--dataset_args={'download': False}",
               "--num_workers=0", "--no_verbose", "--save_every=100"]
# A tiny run on the built-in digits (as tests/conftest.py's FAST)
TINY_DIGITS = ["--dataset=digits", "--subset_train=96", "--batch_size=32", "--ngf=4", "--ndf=4", "--val_batch_size=100",
               "--save_every=1", "--cls_probe=linear", "--num_workers=0", "--no_verbose", "--update_g_every=1"]


@dataclass(frozen=True)
class Sizes:
    """How big each part is on the device (a GPU) or in the CPU dry run."""
    mnist_train: int          # generated MNIST: training file (the loader keeps 5/6 for train, 1/6 valid)
    mnist_test: int
    epoch_flags: tuple        # added to PAPER_MNIST in mnist_epoch and determinism
    step_batches: tuple       # ((batch, steps, repeats, warmup, reference_steps or 0), ...)
    det_mnist_train: int      # the determinism runs' generated MNIST
    det_batch: int
    compile_backend: str = None  # None: torch.compile's default (inductor)


SIZES = {
    "cuda": Sizes(60000, 10000, ("--batch_size=64",), ((64, 20, 3, 1, 0), (1024, 20, 3, 1, 0), (8192, 10, 3, 1, 5)),
                  2400, 64),
    # the dry run: a few steps each; torch.compile traces with Dynamo but runs the graphs eagerly (backend
    # "eager": no code generation, which takes minutes on a small CPU)
    "cpu": Sizes(240, 60, ("--batch_size=32", "--ngf=4", "--ndf=4", "--val_batch_size=100"),
                 ((8, 2, 1, 0, 0), (16, 2, 1, 0, 0), (32, 2, 1, 0, 1)), 240, 4, compile_backend="eager"),
}
STEP_VARIANTS = "reference,ours,ours+amp,ours+compile"
EPOCH_VARIANTS = {"float32": ([], 1, 1.0), "bf16": (["--amp"], 1, 1.0), "fp16": (["--amp=fp16"], 1, 1.0),
                  "compiled": (["--compile"], 2, 2.5)}  # extra flags, epochs, weight in the part's time


# ---- small shared pieces ------------------------------------------------------------------------
def now_iso():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M:%S UTC")


def tail(path, n=TAIL_LINES):
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def write_json(path, obj):
    tmp = Path(f"{path}.tmp")
    tmp.write_text(json.dumps(obj, indent=1, default=str) + "\n")
    os.replace(tmp, path)


def kill_group(pid):
    """SIGKILL the process group led by `pid` (our own child started with start_new_session)."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)


def plan_timeout(remaining, name, later, budget, default_budget):
    """(seconds for part `name`, or None to skip it) given `remaining` seconds of the budget and the names of
    the parts still to run after it: its weight's share of what is left, at least its minimum (scaled with
    the budget), never more than what is left."""
    weight, least = SHARES[name]
    least = least * min(1.0, budget / default_budget)
    if remaining < max(least, 1.0):
        return None
    share = remaining * weight / (weight + sum(SHARES[p][0] for p in later))
    return min(remaining, max(share, least))


def state_hash(state_dict):
    """sha256 over a state dict's keys and tensors' bytes (keys in sorted order)."""
    import torch
    h = hashlib.sha256()
    for key in sorted(state_dict):
        value = state_dict[key]
        h.update(key.encode())
        if torch.is_tensor(value):
            t = value.detach().cpu().contiguous().reshape(-1)
            h.update(str(t.dtype).encode())
            h.update(t.view(torch.uint8).numpy().tobytes())
        else:
            h.update(repr(value).encode())
    return h.hexdigest()


def checkpoint_hash(path):
    import torch
    state = torch.load(path, map_location="cpu", weights_only=True)
    return state_hash(state["training"]["model"])


def idx_writer():
    """tests/dataset_files.py's idx writer (torchvision's raw MNIST format)."""
    tests = str(ROOT / "tests")
    if tests not in sys.path:
        sys.path.insert(0, tests)
    from dataset_files import write_idx
    return write_idx


def write_random_mnist(root, n_train, n_test, seed=0):
    """Random uint8 images and labels in MNIST's raw files under root/MNIST/raw (a step costs the same
    whatever the pixels)."""
    import numpy as np
    write_idx = idx_writer()
    raw = Path(root) / "MNIST" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for prefix, n in (("train", n_train), ("t10k", n_test)):
        write_idx(raw / f"{prefix}-images-idx3-ubyte", rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        write_idx(raw / f"{prefix}-labels-idx1-ubyte", rng.integers(0, 10, n, dtype=np.uint8))
    return Path(root)


MNIST_FILES = ("train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte")


def has_mnist(data_dir):
    return data_dir is not None and all((Path(data_dir) / "MNIST" / "raw" / f).is_file() for f in MNIST_FILES)


def idx_count(path):
    with open(path, "rb") as f:
        header = f.read(8)
    return int.from_bytes(header[4:8], "big")


def results_rows(path):
    import csv
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def as_number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return text
    return int(value) if value.is_integer() and "." not in str(text) else value


# ---- inside a part: its record, and the runs it starts -------------------------------------------
class Part:
    """What a part's process has: its record (written to OUT/parts/<name>.json as it goes, so a part stopped
    by its time limit keeps what it measured), its deadline, a temporary work folder, and sub_run to start a
    command under a limit of its own."""

    def __init__(self, name, out, device, deadline, data_dir):
        self.name, self.out, self.device, self.deadline, self.data_dir = name, Path(out), device, deadline, data_dir
        self.sizes = SIZES[device]
        self.record_path = self.out / "parts" / f"{name}.json"
        self.pids_path = self.out / "parts" / f"{name}.pids"
        self.logs = self.out / "logs" / name  # made by the first sub_run
        self.figures, self.failures, self.headline = {}, [], ""
        self.work = Path(tempfile.mkdtemp(prefix=f"amr_gpu_check_{name}_"))

    def left(self):
        return self.deadline - time.time()

    def fail(self, message):
        print(f"FAILED: {message}", flush=True)
        self.failures.append(message)
        self.save()

    def save(self, status=None, error=None):
        rec = {"name": self.name, "figures": self.figures, "headline": self.headline,
               "failures": self.failures, "status": status, "error": error}
        write_json(self.record_path, rec)

    def sub_run(self, label, argv, timeout, env=None, env_drop=()):
        """Run `argv` (a command) with its output in OUT/logs/<part>/<label>.log, in a process group of its
        own, killed at `timeout` seconds. -> {"status": ok|failed|timeout, "seconds", "rc", "log", "error_tail"}."""
        self.logs.mkdir(parents=True, exist_ok=True)
        log = self.logs / f"{label}.log"
        environ = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
        for k in env_drop:
            environ.pop(k, None)
        t0 = time.perf_counter()
        with open(log, "w") as fh:
            fh.write(f"$ {' '.join(map(str, argv))}\n")
            fh.flush()
            proc = subprocess.Popen([str(a) for a in argv], cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT,
                                    start_new_session=True, env=environ)
            with open(self.pids_path, "a") as p:
                p.write(f"{proc.pid}\n")
            try:
                rc = proc.wait(timeout=max(timeout, 1))
                status = "ok" if rc == 0 else "failed"
            except subprocess.TimeoutExpired:
                kill_group(proc.pid)
                rc = proc.wait()
                status = "timeout"
            kill_group(proc.pid)  # anything it left behind (compile workers)
        out = {"status": status, "seconds": round(time.perf_counter() - t0, 2), "rc": rc,
               "log": str(log.relative_to(self.out))}
        if status == "timeout":
            out["timeout_s"] = round(timeout, 1)
        if status != "ok":
            out["error_tail"] = tail(log)
            print(f"--- {label}: {status} (rc {rc}); the end of {log}:\n{out['error_tail']}\n---", flush=True)
        return out

    def exec_run(self, label, module, argv, timeout, env_drop=(), compile_backend=None):
        """`python -m module argv` (or `python script.py argv` for a .py) inside this script's wrapper
        (--_exec), which also records the peak GPU memory and the graphs torch.compile made; -> sub_run's
        dict with those figures added."""
        result = self.work / f"{label}.result.json"
        spec = {"module": module, "argv": [str(a) for a in argv], "result": str(result),
                "compile_backend": compile_backend}
        out = self.sub_run(label, [sys.executable, "-m", "benchmarks.gpu_check", "--_exec", json.dumps(spec)],
                           timeout, env_drop=env_drop)
        if result.is_file():
            out.update({k: v for k, v in json.loads(result.read_text()).items() if k != "rc"})
        return out

    def cleanup(self):
        shutil.rmtree(self.work, ignore_errors=True)


def exec_main(spec_text):
    """--_exec: run a module's main(argv) in this process, then record rc, wall time, peak GPU memory and the
    number of graphs torch.compile produced (compile_backend: force that backend, e.g. aot_eager)."""
    spec = json.loads(spec_text)
    import importlib
    import runpy

    import torch
    if spec.get("compile_backend"):
        original = torch.nn.Module.compile

        def compile_with_backend(self, *args, **kwargs):
            kwargs.pop("mode", None)
            return original(self, backend=spec["compile_backend"])
        torch.nn.Module.compile = compile_with_backend
    sys.argv = [spec["module"]] + spec["argv"]
    t0, rc = time.perf_counter(), 1
    try:
        if spec["module"].endswith(".py"):  # a script (the command line): run as `python script.py` runs it
            ret = runpy.run_path(str(ROOT / spec["module"]), run_name="__main__")
        else:
            ret = importlib.import_module(spec["module"]).main(spec["argv"])
        rc = ret if isinstance(ret, int) else 0
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    except BaseException:
        traceback.print_exc()
    finally:  # also after an exception: the peak memory up to it
        out = {"rc": rc, "wall_s": round(time.perf_counter() - t0, 2)}
        with contextlib.suppress(Exception):
            if torch.cuda.is_available() and torch.cuda.is_initialized():
                out["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated() / 2**20, 1)
                out["peak_gpu_reserved_mib"] = round(torch.cuda.max_memory_reserved() / 2**20, 1)
        with contextlib.suppress(Exception):
            from torch._dynamo.utils import counters
            out["compiled_graphs"] = int(counters["stats"]["unique_graphs"])
        write_json(spec["result"], out)
    return rc


# ---- the parts ------------------------------------------------------------------------------------
def tf32_flags():
    import torch
    out = {"cuda.matmul.allow_tf32": torch.backends.cuda.matmul.allow_tf32,
           "cudnn.allow_tf32": torch.backends.cudnn.allow_tf32,
           "float32_matmul_precision": torch.get_float32_matmul_precision(),
           "cudnn.benchmark": torch.backends.cudnn.benchmark,
           "deterministic_algorithms": torch.are_deterministic_algorithms_enabled()}
    for name, obj in (("cuda.matmul.fp32_precision", torch.backends.cuda.matmul),
                      ("cudnn.conv.fp32_precision", getattr(torch.backends.cudnn, "conv", None))):
        if obj is not None and hasattr(obj, "fp32_precision"):
            out[name] = obj.fp32_precision
    return out


def tool_version(cmd):
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
        text = (p.stdout or p.stderr).strip()
        return text.splitlines()[0] if text else f"rc {p.returncode}"
    except (OSError, subprocess.SubprocessError) as e:
        return f"{type(e).__name__}: {e}"


def part_environment(part):
    import importlib.metadata
    import platform

    import torch
    f = part.figures
    f["python"], f["platform"], f["cpu_count"] = platform.python_version(), platform.platform(), os.cpu_count()
    f["torch"], f["cuda_runtime"] = torch.__version__, torch.version.cuda
    f["cudnn"] = torch.backends.cudnn.version() if torch.backends.cudnn.is_available() else None
    f["cuda_available"] = torch.cuda.is_available()
    packages = {}
    for dist in ("numpy", "torchvision", "scikit-learn", "scipy", "PyYAML", "matplotlib", "tqdm", "pillow", "pytest",
                 "psutil", "torchmetrics", "triton"):
        try:
            packages[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            packages[dist] = None
    f["packages"] = packages
    f["env"] = {k: os.environ.get(k) for k in ("CUDA_VISIBLE_DEVICES", "OMP_NUM_THREADS", "CUBLAS_WORKSPACE_CONFIG",
                                              "TORCHINDUCTOR_CACHE_DIR", "DATA_DIR")}
    cxx = shutil.which("g++") or shutil.which("clang++") or shutil.which("c++")
    cc = shutil.which("gcc") or shutil.which("cc") or shutil.which("clang")
    f["compile_prerequisites"] = {"cxx": cxx, "cxx_version": tool_version([cxx, "--version"]) if cxx else None,
                                  "cc": cc, "triton": packages["triton"]}
    try:
        import torch._inductor.config  # noqa: F401
        f["compile_prerequisites"]["inductor_importable"] = True
    except Exception as e:  # noqa: BLE001
        f["compile_prerequisites"]["inductor_importable"] = f"{type(e).__name__}: {e}"
    part.save()
    gpu = "no CUDA device"
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        free, total = torch.cuda.mem_get_info()
        f["gpu"] = {"name": props.name, "count": torch.cuda.device_count(), "memory_gib": round(total / 2**30, 1),
                    "free_gib": round(free / 2**30, 1), "capability": f"{props.major}.{props.minor}",
                    "multiprocessors": props.multi_processor_count}
        f["bf16_supported"] = torch.cuda.is_bf16_supported()
        for dtype in (torch.bfloat16, torch.float16, torch.float32):  # one small matmul each, checked against fp64
            a = torch.randn(256, 256, device="cuda", generator=torch.Generator("cuda").manual_seed(0))
            err = ((a.to(dtype) @ a.to(dtype)).double() - a.double() @ a.double()).abs().max().item()
            f.setdefault("matmul_max_abs_error", {})[str(dtype).replace("torch.", "")] = round(err, 5)
        gpu = f"{props.name}, {f['gpu']['memory_gib']} GiB, sm_{props.major}{props.minor}"
    if shutil.which("nvidia-smi"):
        f["nvidia_smi"] = tool_version(["nvidia-smi", "--query-gpu=name,driver_version,memory.total,memory.used,"
                                        "temperature.gpu,power.limit", "--format=csv,noheader"])
    from runs.runtime import set_determinism
    f["tf32"] = {"torch_default": tf32_flags()}
    set_determinism(False)
    f["tf32"]["as_a_run_sets_them"] = tf32_flags()
    set_determinism(True)
    f["tf32"]["deterministic"] = tf32_flags()
    set_determinism(False)
    if part.device == "cuda" and not torch.cuda.is_available():
        part.fail("--device cuda: torch sees no CUDA device")
    if part.device == "cuda" and not packages["triton"]:
        part.fail("triton is not installed: --compile cannot generate GPU code")
    part.headline = (f"torch {torch.__version__}, CUDA {torch.version.cuda}, cuDNN {f['cudnn']}; {gpu}; "
                     f"bf16 {'yes' if f.get('bf16_supported') else 'no'}; C++ {'yes' if cxx else 'NO'}; "
                     f"triton {packages['triton'] or 'NO'}; TF32 in runs: "
                     f"{f['tf32']['as_a_run_sets_them']['cuda.matmul.allow_tf32']}")


def junit_outcomes(path):
    """{test: {"outcome", "seconds", "message"}} of a pytest --junitxml file."""
    import xml.etree.ElementTree as ET
    out = {}
    if not Path(path).is_file():
        return out
    for case in ET.parse(path).getroot().iter("testcase"):
        outcome, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                outcome = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or "")[:300]
        out[f"{case.get('classname')}::{case.get('name')}"] = {"outcome": outcome, "message": message,
                                                               "seconds": round(float(case.get("time") or 0), 2)}
    return out


SPEED_GPU_TEST = "tests/test_speed.py::test_gpu_step_has_no_host_sync_and_data_stays_on_device"


def part_gpu_tests(part):
    files = sorted({"tests/test_gpu.py"} | {f"tests/{p.name}" for p in (ROOT / "tests").glob("test_*.py")
                                             if "mark.gpu" in p.read_text(errors="replace")})
    runs = [("marked", ["-m", "gpu", *files])]
    speed = ROOT / SPEED_GPU_TEST.split("::")[0]
    if speed.is_file() and "mark.gpu" not in speed.read_text(errors="replace"):
        runs.append(("test_speed_gpu", [SPEED_GPU_TEST]))  # a GPU test written before the marker
    tests, counts = {}, {"passed": 0, "failed": 0, "error": 0, "skipped": 0}
    for i, (label, args) in enumerate(runs):
        xml = part.work / f"{label}.xml"
        reserve = 20 * (len(runs) - 1 - i)
        cmd = [sys.executable, "-m", "pytest", "-q", "-rs", "-p", "no:cacheprovider", f"--junitxml={xml}", *args]
        res = part.sub_run(label, cmd, part.left() - reserve - 2)
        found = junit_outcomes(xml)
        tests.update(found)
        for t in found.values():
            counts[t["outcome"]] = counts.get(t["outcome"], 0) + 1
        part.figures.setdefault("runs", {})[label] = {**res, "command": " ".join(cmd[1:])}
        # pytest: 0 all passed, 5 nothing collected (everything deselected)
        if res["status"] == "timeout" or res["rc"] not in (0, 5):
            part.fail(f"{label}: pytest {res['status']} (rc {res['rc']})")
        part.figures.update(tests=tests, counts=counts)
        part.save()
    bad = [t for t, v in tests.items() if v["outcome"] in ("failed", "error")]
    part.headline = (f"{counts['passed']} passed, {counts['failed']} failed, {counts['error']} errors, "
                     f"{counts['skipped']} skipped" + (f"; failed: {', '.join(b.split('::')[-1] for b in bad)}"
                                                       if bad else ""))


def part_round_trip(part):
    """Trained on the device by the command line, opened on the CPU with load_run, resumed on the CPU."""
    import torch

    from runs import load_run
    save = part.work / "runs"
    flags = [sys.executable, "task_launcher.py", *TINY_DIGITS, f"--save_path={save}", "--name=round_trip"]
    run_dir = save / "s0" / "round_trip" / "0"
    f = part.figures
    res = part.sub_run("train", flags + ["--epochs=1", "--batches_per_epoch=2", f"--device={part.device}"],
                       part.left() * 0.6)  # the rest: load_run and the resume
    f["train_s"] = res["seconds"]
    if res["status"] != "ok":
        return part.fail(f"training on {part.device}: {res['status']} (rc {res['rc']})")
    state = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    f["written_on"] = state["training"].get("device_type")
    t0 = time.perf_counter()
    run = load_run(run_dir, device="cpu")
    f["load_run_cpu_s"] = round(time.perf_counter() - t0, 2)
    saved = state["training"]["model"]
    f["weights_equal_after_load"] = all(torch.equal(v.cpu(), saved[k]) for k, v in run.model.state_dict().items())
    f["on_cpu"] = all(p.device.type == "cpu" for p in run.model.parameters())
    codes = run.encode(run.data.valid.images[:8])
    f["codes_finite"] = bool(torch.isfinite(codes).all())
    if not (f["weights_equal_after_load"] and f["on_cpu"] and f["codes_finite"]):
        part.fail("load_run on the CPU: weights differ from the checkpoint, or not on the CPU, or codes not finite")
    res = part.sub_run("resume_cpu", flags + ["--epochs=2", "--batches_per_epoch=2", "--device=cpu"], part.left() - 2)
    f["resume_cpu_s"] = res["seconds"]
    log = (part.out / res["log"]).read_text(errors="replace")
    f["resume_note"] = next((line for line in log.splitlines() if "random stream" in line), None)
    if res["status"] != "ok":
        return part.fail(f"resuming on the CPU: {res['status']} (rc {res['rc']})")
    state = torch.load(run_dir / "last.pt", map_location="cpu", weights_only=True)
    f["resumed_epoch"], f["resumed_on"] = state["epoch"], state["training"].get("device_type")
    rows = results_rows(run_dir / "results.csv")
    f["valid_recon"] = [as_number(r.get("valid_recon")) for r in rows]
    if state["epoch"] != 2 or len(rows) != 2 or not all(math.isfinite(float(v)) for v in f["valid_recon"]):
        part.fail(f"after the CPU resume: epoch {state['epoch']}, {len(rows)} results rows {f['valid_recon']}")
    part.headline = (f"trained on {f['written_on']} in {f['train_s']} s; load_run on cpu {f['load_run_cpu_s']} s "
                     f"(weights equal: {f['weights_equal_after_load']}); resumed on cpu to epoch {f['resumed_epoch']} "
                     f"in {f['resume_cpu_s']} s")


def mnist_dir(part, n_train, n_test):
    """(data_dir, description): --data_dir's real MNIST when there, else generated files in the work folder."""
    if has_mnist(part.data_dir):
        n = idx_count(Path(part.data_dir) / "MNIST" / "raw" / MNIST_FILES[0])
        return Path(part.data_dir), f"real MNIST under {part.data_dir} ({n} training images)"
    why = "no --data_dir" if part.data_dir is None else f"no MNIST under {part.data_dir}"
    root = write_random_mnist(part.work / "data", n_train, n_test)
    return root, f"generated ({why}): {n_train} + {n_test} random 28x28 images in MNIST's raw format"


def share_out(part, weights, margin=2.0):
    """Seconds for the next of the remaining pieces of a part (weights: the remaining ones, next first)."""
    left = part.left() - margin
    return left * weights[0] / sum(weights)


def part_mnist_epoch(part):
    data_dir, part.figures["data"] = mnist_dir(part, part.sizes.mnist_train, part.sizes.mnist_test)
    n_file = idx_count(data_dir / "MNIST" / "raw" / MNIST_FILES[0])
    n_train = n_file - n_file // 6  # iterators.datasets: 1/6 of the training file is the validation split
    base = PAPER_MNIST + list(part.sizes.epoch_flags) + [f"--data_dir={data_dir}", f"--device={part.device}",
                                                         f"--save_path={part.work / 'runs'}"]
    part.figures.update(flags=base, train_images=n_train, variants={})
    names, lines = list(EPOCH_VARIANTS), []
    for i, name in enumerate(names):
        extra, epochs, _ = EPOCH_VARIANTS[name]
        timeout = share_out(part, [EPOCH_VARIANTS[n][2] for n in names[i:]])
        if timeout < 10:
            part.figures["variants"][name] = {"status": "skipped", "reason": f"budget spent ({part.left():.0f} s left)"}
            lines.append(f"{name} skipped")
            continue
        argv = base + extra + [f"--epochs={epochs}", f"--name=epoch_{name}"]
        res = part.exec_run(name, "task_launcher.py", argv, timeout,
                            compile_backend=part.sizes.compile_backend if "--compile" in extra else None)
        csv_path = part.work / "runs" / "s0" / f"epoch_{name}" / "0" / "results.csv"
        if csv_path.is_file():
            res["epochs"] = [{k: as_number(r.get(k)) for k in ("epoch", "train_time_s", "epoch_time_s", "train_recon",
                                                                "valid_recon", "test_probe_acc") if k in r}
                             for r in results_rows(csv_path)]
            last = res["epochs"][-1]
            res["train_images_per_s"] = round(n_train / last["train_time_s"], 1) if last.get("train_time_s") else None
        part.figures["variants"][name] = res
        part.save()
        if res["status"] != "ok":
            part.fail(f"{name}: {res['status']} (rc {res['rc']})")
            lines.append(f"{name} {res['status']}")
        elif res.get("epochs"):
            times = "/".join(f"{e['train_time_s']:.1f}" for e in res["epochs"])
            mem = f", {res['peak_gpu_mib']:.0f} MiB" if res.get("peak_gpu_mib") is not None else ""
            lines.append(f"{name} {times} s{mem}")
    if part.device == "cuda":
        compiled = part.figures["variants"].get("compiled", {})
        if compiled.get("status") == "ok" and not compiled.get("compiled_graphs"):
            part.fail("--compile: the run trained without compiling a single graph")
    what = "train s per epoch, peak GPU memory" if part.device == "cuda" else "train s per epoch"
    part.headline = f"{what}: " + "; ".join(lines)


def part_step_time(part):
    batches = part.sizes.step_batches
    part.figures.update(variants=STEP_VARIANTS, batches={})
    lines = []
    for i, (batch, steps, repeats, warmup, reference_steps) in enumerate(batches):
        timeout = share_out(part, [1.0 + j for j in range(i, len(batches))])  # larger batches get more
        key = str(batch)
        if timeout < (20 if part.device == "cuda" else 5):
            part.figures["batches"][key] = {"status": "skipped", "reason": f"budget spent ({part.left():.0f} s left)"}
            lines.append(f"{batch}: skipped")
            continue
        out_json = part.work / f"step_time_{batch}.json"
        argv = ["--device", part.device, "--batch_sizes", batch, "--variants", STEP_VARIANTS, "--steps", steps,
                "--repeats", repeats, "--warmup", warmup, "--out", out_json]
        if reference_steps:
            argv += ["--reference_steps", reference_steps]
        res = part.exec_run(f"batch_{batch}", "benchmarks.step_time", argv, timeout,
                            compile_backend=part.sizes.compile_backend)
        res.update(steps=steps, repeats=repeats, warmup=warmup, reference_steps=reference_steps or steps)
        if out_json.is_file():
            report = json.loads(out_json.read_text())
            res["results"] = report["results"].get(key)
            res["device"] = report.get("device")
        part.figures["batches"][key] = res
        part.save()
        if res["status"] != "ok":
            part.fail(f"batch {batch}: {res['status']} (rc {res['rc']})")
            lines.append(f"{batch}: {res['status']}")
        elif isinstance(res.get("results"), dict):
            r = res["results"]
            ref = r.get("reference", {}).get("ms_per_step")
            ours = r.get("ours", {}).get("ms_per_step")
            speedups = "/".join(f"{ref / r[v]['ms_per_step']:.1f}x" for v in r if v != "reference" and ref)
            lines.append(f"{batch}: ours {ours:.1f} ms, {speedups}" if ours else f"{batch}: {r}")
        else:
            lines.append(f"{batch}: {res.get('results')}")
    others = [v for v in STEP_VARIANTS.split(",") if v != "reference"]
    part.headline = f"ms/step of ours; {'/'.join(others)} over the reference: " + "; ".join(lines)


def part_determinism(part):
    data_dir, part.figures["data"] = mnist_dir(part, part.sizes.det_mnist_train, 400)
    base = PAPER_MNIST + list(part.sizes.epoch_flags) + [
        f"--batch_size={part.sizes.det_batch}", "--epochs=1", "--batches_per_epoch=30", "--save_images_every=1000",
        f"--data_dir={data_dir}", f"--device={part.device}", f"--save_path={part.work / 'runs'}"]
    runs = [("deterministic_1", ["--deterministic"]), ("deterministic_2", ["--deterministic"]),
            ("default_1", []), ("default_2", [])]
    part.figures["runs"] = {}
    for i, (name, extra) in enumerate(runs):
        timeout = share_out(part, [1.0] * (len(runs) - i))
        if timeout < 5:
            part.figures["runs"][name] = {"status": "skipped", "reason": f"budget spent ({part.left():.0f} s left)"}
            continue
        # a default run gets no CUBLAS_WORKSPACE_CONFIG from outside: only --deterministic sets it
        res = part.exec_run(name, "task_launcher.py", base + extra + [f"--name={name}"], timeout,
                            env_drop=("CUBLAS_WORKSPACE_CONFIG",))
        ckpt = part.work / "runs" / "s0" / name / "0" / "last.pt"
        if res["status"] == "ok" and ckpt.is_file():
            res["sha256"] = checkpoint_hash(ckpt)
        part.figures["runs"][name] = res
        part.save()
        if res["status"] != "ok":
            part.fail(f"{name}: {res['status']} (rc {res['rc']})")
    r = part.figures["runs"]
    pairs = {}
    for kind in ("deterministic", "default"):
        a, b = r.get(f"{kind}_1", {}).get("sha256"), r.get(f"{kind}_2", {}).get("sha256")
        pairs[kind] = None if not (a and b) else a == b
    part.figures["equal"] = pairs
    if pairs["deterministic"] is False:
        part.fail("two --deterministic runs trained different weights")
    words = {True: "equal", False: "DIFFER", None: "not compared"}
    h = r.get("deterministic_1", {}).get("sha256", "")[:12]
    part.headline = (f"--deterministic twice: {words[pairs['deterministic']]}" + (f" (sha256 {h}...)" if h else "")
                     + f"; default twice: {words[pairs['default']]}")


def part_selftest(part, action):
    """For tests/test_gpu_check.py: a part that passes, fails, or hangs with a grandchild of its own."""
    part.figures["selftest"] = action
    if action == "fail":
        raise RuntimeError("selftest: this part fails on purpose")
    if action == "hang":
        child = subprocess.Popen(["sleep", "3600"], start_new_session=True)
        with open(part.pids_path, "a") as p:
            p.write(f"{child.pid}\n")
        part.figures["grandchild_pid"] = child.pid
        part.save()
        time.sleep(3600)
    part.headline = f"selftest {action}"


PART_FUNCS = {"environment": part_environment, "gpu_tests": part_gpu_tests, "round_trip": part_round_trip,
              "mnist_epoch": part_mnist_epoch, "step_time": part_step_time, "determinism": part_determinism}


def part_main(name, out, device, deadline, data_dir, selftest):
    part = Part(name, out, device, deadline, data_dir)
    part.save()
    try:
        if selftest:
            part_selftest(part, selftest)
        else:
            PART_FUNCS[name](part)
        status = "failed" if part.failures else "ok"
        part.save(status, "; ".join(part.failures) or None)
    except BaseException as e:  # noqa: BLE001 (KeyboardInterrupt, SystemExit included: recorded, then reported)
        traceback.print_exc()
        part.failures.append(f"{type(e).__name__}: {e}")
        status = "failed"
        part.save(status, "; ".join(part.failures))
    finally:
        part.cleanup()
    return 0 if status == "ok" else 1


# ---- the whole check --------------------------------------------------------------------------------
class Check:
    def __init__(self, a):
        self.a = a
        self.out = Path(a.out)
        self.budget = a.budget_s if a.budget_s is not None else DEFAULT_BUDGET[a.device]
        self.selected = PARTS if not a.parts else tuple(p for p in PARTS if p in a.parts.split(","))
        self.selftest = dict(kv.split("=", 1) for kv in a._selftest.split(",")) if a._selftest else {}
        self.t0 = time.time()
        self.current = None  # (name, process) while a part runs
        self.parts = {p: {"title": TITLES[p], "status": "pending"} for p in PARTS}
        self.summary = {"tool": "python -m benchmarks.gpu_check", "command": " ".join(sys.argv), "started": now_iso(),
                        "device": a.device, "dry_run": a.device == "cpu", "budget_s": self.budget,
                        "data_dir": a.data_dir, "parts": self.parts}

    def write(self, finished=False):
        self.summary["wall_s"] = round(time.time() - self.t0, 1)
        statuses = [p["status"] for p in self.parts.values()]
        self.summary["finished"] = finished
        self.summary["ok"] = all(s in ("ok", "skipped") for s in statuses)
        self.summary["exit_status"] = 0 if self.summary["ok"] else 1
        write_json(self.out / "summary.json", self.summary)
        (self.out / "summary.md").write_text(summary_markdown(self.summary))

    def run_part(self, name, timeout):
        log = self.out / "logs" / f"{name}.log"
        record = self.out / "parts" / f"{name}.json"
        pids = self.out / "parts" / f"{name}.pids"
        for p in (record, pids):
            p.unlink(missing_ok=True)
        cmd = [sys.executable, "-m", "benchmarks.gpu_check", "--_part", name, "--out", str(self.out),
               "--device", self.a.device, "--_deadline", str(time.time() + timeout - 3)]
        if self.a.data_dir:
            cmd += ["--data_dir", self.a.data_dir]
        if name in self.selftest:
            cmd += ["--_selftest", f"{name}={self.selftest[name]}"]
        t0 = time.perf_counter()
        with open(log, "w") as fh:
            proc = subprocess.Popen(cmd, cwd=ROOT, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True,
                                    env={**os.environ, "PYTHONUNBUFFERED": "1"})
            self.current = (name, proc)
            try:
                rc = proc.wait(timeout=timeout)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            self.stop(proc, pids if timed_out else None)
            self.current = None
        seconds = round(time.perf_counter() - t0, 1)
        rec = json.loads(record.read_text()) if record.is_file() else {}
        entry = {"title": TITLES[name], "seconds": seconds, "timeout_s": round(timeout, 1),
                 "log": str(log.relative_to(self.out)), "headline": rec.get("headline", ""),
                 "figures": rec.get("figures", {})}
        if timed_out:
            entry.update(status="timeout", error=f"stopped at its limit of {timeout:.0f} s"
                         + (f"; {'; '.join(rec['failures'])}" if rec.get("failures") else ""))
        elif rec.get("status") == "ok" and rc == 0:
            entry["status"] = "ok"
        else:
            entry.update(status="failed", error=rec.get("error") or f"exited with {rc} without recording why")
        if entry["status"] != "ok":
            entry["error_tail"] = tail(log)
        self.parts[name] = entry

    def stop(self, proc, pids=None):
        """Kill what is left of a part: its process group (compile workers), and when it was stopped (pids: its
        list of them) the groups of the runs it had started, which a part that ends by itself has ended."""
        kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            proc.wait()
        if pids is not None and pids.is_file():
            for line in pids.read_text().split():
                kill_group(int(line))

    def on_signal(self, signum, frame):
        if self.current is not None:
            name, proc = self.current
            self.stop(proc, self.out / "parts" / f"{name}.pids")
            self.parts[name] = {"title": TITLES[name], "status": "failed",
                                "error": f"interrupted by signal {signum}", "error_tail": tail(self.out / "logs" /
                                                                                               f"{name}.log")}
        for p in self.parts.values():
            if p["status"] == "pending":
                p.update(status="skipped", reason=f"the check was interrupted (signal {signum})")
        self.write(finished=False)
        sys.exit(1)

    def run(self):
        (self.out / "logs").mkdir(parents=True, exist_ok=True)
        (self.out / "parts").mkdir(parents=True, exist_ok=True)
        signal.signal(signal.SIGTERM, self.on_signal)
        signal.signal(signal.SIGINT, self.on_signal)
        for name in PARTS:
            if name not in self.selected:
                self.parts[name] = {"title": TITLES[name], "status": "skipped", "reason": "not selected (--parts)"}
        self.write()
        no_cuda = False
        for i, name in enumerate(self.selected):
            remaining = self.budget - (time.time() - self.t0)
            timeout = plan_timeout(remaining, name, self.selected[i + 1:], self.budget, DEFAULT_BUDGET[self.a.device])
            if no_cuda:
                self.parts[name] = {"title": TITLES[name], "status": "skipped",
                                    "reason": "--device cuda but no CUDA device (see environment)"}
            elif timeout is None:
                self.parts[name] = {"title": TITLES[name], "status": "skipped",
                                    "reason": f"budget spent: {max(remaining, 0):.0f} s of --budget_s {self.budget} "
                                              f"left, the part needs at least {SHARES[name][1]} s"}
            else:
                print(f"[{now_iso()}] {name}: up to {timeout:.0f} s", flush=True)
                self.run_part(name, timeout)
                p = self.parts[name]
                print(f"[{now_iso()}] {name}: {p['status']} in {p['seconds']} s  {p.get('headline', '')}", flush=True)
                if name == "environment" and self.a.device == "cuda" and \
                        p.get("figures", {}).get("cuda_available") is False:
                    no_cuda = True
            self.write()
        self.write(finished=True)
        print(f"summary: {self.out / 'summary.md'} ({'ok' if self.summary['ok'] else 'NOT ok'}, "
              f"{self.summary['wall_s']} s)")
        return self.summary["exit_status"]


def summary_markdown(s):
    env = s["parts"]["environment"].get("figures", {})
    gpu = env.get("gpu", {}).get("name") or ("CPU dry run" if s["dry_run"] else "no GPU")
    lines = [f"# GPU check: {gpu} (--device {s['device']})", "",
             f"{s['started']}; torch {env.get('torch', '?')}; budget {s['budget_s']} s, wall {s.get('wall_s')} s; "
             f"exit status {s.get('exit_status')} ({'every part ok or skipped' if s.get('ok') else 'NOT all ok'})"
             + ("" if s.get("finished") else "; NOT FINISHED"), "",
             "| part | status | seconds | limit | what it found |", "| --- | --- | --- | --- | --- |"]
    for name, p in s["parts"].items():
        found = p.get("headline") or p.get("reason") or p.get("error") or ""
        if p["status"] in ("failed", "timeout") and p.get("error") and p.get("error") not in found:
            found = f"{found} ({p['error']})" if found else p["error"]
        found = found.replace("|", "/").replace("\n", " ")
        lines.append(f"| {name} | {p['status']} | {p.get('seconds', '')} | {p.get('timeout_s', '')} | {found} |")
    epoch = s["parts"]["mnist_epoch"].get("figures", {})
    if epoch.get("variants"):
        lines += ["", f"MNIST epoch ({epoch.get('data', '')}; {epoch.get('train_images')} training images):", "",
                  "| variant | status | train s per epoch | epoch s (train + eval + saving) | images/s | "
                  "peak GPU MiB | graphs compiled |", "| --- | --- | --- | --- | --- | --- | --- |"]
        for name, v in epoch["variants"].items():
            eps = v.get("epochs") or []
            lines.append(f"| {name} | {v.get('status')} | {' / '.join(str(e.get('train_time_s')) for e in eps)} | "
                         f"{' / '.join(str(e.get('epoch_time_s')) for e in eps)} | {v.get('train_images_per_s', '')} | "
                         f"{v.get('peak_gpu_mib', '')} | {v.get('compiled_graphs', '')} |")
    steps = s["parts"]["step_time"].get("figures", {})
    if steps.get("batches"):
        variants = steps.get("variants", STEP_VARIANTS).split(",")
        lines += ["", "Step benchmark (ms per step; speed-up over the reference style):", "",
                  "| batch | " + " | ".join(variants) + " |", "| --- |" + " --- |" * len(variants)]
        for batch, b in steps["batches"].items():
            r = b.get("results")
            if not isinstance(r, dict):
                why = b.get("reason") or r or ""
                lines.append(f"| {batch} | {b.get('status')}: {why} |" + " |" * (len(variants) - 1))
                continue
            ref = r.get("reference", {}).get("ms_per_step")
            cells = []
            for v in variants:
                m = r.get(v, {}).get("ms_per_step")
                speedup = f" ({ref / m:.1f}x)" if m and ref and v != "reference" else ""
                cells.append("" if m is None else f"{m:.2f}{speedup}")
            lines.append(f"| {batch} | " + " | ".join(cells) + " |")
    for name, p in s["parts"].items():
        if p["status"] in ("failed", "timeout") and p.get("error_tail"):
            lines += ["", f"{name} ({p['status']}): last lines of {p.get('log')}", "", "```",
                      *p["error_tail"].splitlines()[-12:], "```"]
    return "\n".join(lines) + "\n"


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--out", required=True, help="folder for summary.json, summary.md, logs/ and parts/")
    p.add_argument("--device", default=None, choices=["cpu", "cuda"],
                   help="cuda (default when torch sees a GPU): the check; cpu: the dry run at small sizes")
    p.add_argument("--budget_s", type=float, default=None,
                   help="seconds for all parts together (default 480 on cuda, 280 on cpu)")
    p.add_argument("--data_dir", default=None,
                   help="a folder holding MNIST/raw/*-ubyte (default: generated random MNIST files)")
    p.add_argument("--parts", default=None, help=f"comma-separated subset of {','.join(PARTS)} (default: all)")
    p.add_argument("--_part", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_deadline", type=float, default=None, help=argparse.SUPPRESS)
    p.add_argument("--_selftest", default=None, help=argparse.SUPPRESS)
    p.add_argument("--_exec", default=None, help=argparse.SUPPRESS)
    args = sys.argv[1:] if argv is None else [str(x) for x in argv]
    if len(args) == 2 and args[0] == "--_exec":  # the wrapper of one run: nothing else to parse
        return exec_main(args[1])
    a = p.parse_args(args)
    if a.device is None:
        import torch
        a.device = "cuda" if torch.cuda.is_available() else "cpu"
    if a.parts and set(a.parts.split(",")) - set(PARTS):
        p.error(f"--parts: unknown {sorted(set(a.parts.split(',')) - set(PARTS))}; choose from {', '.join(PARTS)}")
    if a._part:
        action = dict(kv.split("=", 1) for kv in a._selftest.split(",")).get(a._part) if a._selftest else None
        return part_main(a._part, a.out, a.device, a._deadline or time.time() + 600, a.data_dir, action)
    return Check(a).run()


if __name__ == "__main__":
    sys.exit(main())
