"""The docs and the README only name flags that exist: every `--flag` in README.md and docs/*.md is a flag
of task_launcher.py, of one of our other command-line tools, or of a named external tool."""
import re

from helpers import ROOT

# torchrun, SLURM's sbatch, tensorboard, curl and --help: the external commands the docs show
EXTERNAL = {"--nproc_per_node", "--nnodes", "--rdzv_id", "--rdzv_endpoint", "--rdzv_backend", "--ntasks-per-node",
            "--nodes", "--gpus-per-node", "--cpus-per-task", "--time", "--logdir", "--create-dirs", "--help"}


def our_flags():
    import task_launcher
    flags = {s for a in task_launcher.build_parser()._actions for s in a.option_strings}
    for path in [ROOT / "task_launcher.py", *ROOT.glob("benchmarks/*.py"), *ROOT.glob("evaluation/*.py"),
                 *ROOT.glob("examples/*.py")]:
        flags |= set(re.findall(r"add_argument\(\s*\"(--[a-z0-9_]+)\"", path.read_text()))
    return flags


def test_every_flag_in_the_docs_exists():
    known = our_flags() | EXTERNAL
    unknown = {}
    for page in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]:
        for flag in re.findall(r"(?:^|[\s`(\"'=])(--[a-z][a-z0-9_-]*)", page.read_text(), flags=re.M):
            if flag not in known:
                unknown.setdefault(flag, page.name)
    assert not unknown, f"flags named in the docs that no tool has: {unknown}"
