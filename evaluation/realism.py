"""--mode realism and --realism_every: how real decoded mixes look to an independent judge
(docs/realism.md).

The first n validation images are mixed in batches of the run's --batch_size, partners and weights
drawn as in training (models.mixing, the run's mixer and k; ACAI's folded weights for --model acai)
from one generator seeded with the mode's `seed`, and the mixed codes decoded. Beside them, as
reference rows: the reconstructions of the same images, the same pairs (k-tuples) blended in pixel
space (each source weighted by its weight averaged over the code's channels), and n real test images
(the floor). Each set is compared with n other test images (reference_and_floor: a fixed random
split) in the 128 features of the judge (evaluation.judge.FeatureJudge, trained on the train split only): Fréchet
distance and KID (torchmetrics), and the judge's mean top-class confidence. Decodes are clipped to
[-1, 1], the range of real images. Lower FD and KID are more real.
"""
import json
import math
import warnings

import torch
from torch import nn

from amr_errors import ConfigError
from iterators import batches, load_dataset
from models.mixing import fold_weights, mix_codes, sample_mix_weights, sample_partners
from models.trainable import eval_mode
from runs.files import atomic_write, atomic_write_text
from runs.images import save_grid

from .judge import cached_judge

OPTIONS = {"n": 5000, "seed": 0, "kid_subsets": 100, "kid_subset_size": 1000}  # --mode_override keys
JUDGE_SEED = 0  # one judge per dataset for every run, so that runs are compared in the same features
SETS = ("mixes", "reconstructions", "pixel_mixes", "real")
MIN_N = 10
SHOWN = 16  # mixes kept in examples.pt for pictures (evaluation/realism_table.py)


class _Given(nn.Module):
    """torchmetrics' feature network for features computed beforehand (by the judge)."""

    def __init__(self, dim):
        super().__init__()
        self.num_features = dim

    def forward(self, features):
        return features


def frechet_distance(a, b):
    """Fréchet distance between Gaussians fitted to the rows of a [N, d] and b [M, d] (torchmetrics, float64)."""
    from torchmetrics.image.fid import FrechetInceptionDistance
    fd = FrechetInceptionDistance(feature=_Given(a.shape[1]))
    fd.update(a.double().cpu(), real=True)
    fd.update(b.double().cpu(), real=False)
    return float(fd.compute())


def kernel_distance(a, b, subsets=100, subset_size=1000, seed=0):
    """KID of b against a: the unbiased MMD^2 with the kernel (x.y / d + 1)^3, averaged over `subsets`
    random subsets of `subset_size` rows of each (drawn from `seed`); -> (mean, std over subsets / sqrt(subsets))."""
    from torchmetrics.image.kid import KernelInceptionDistance
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "will save all extracted features": it is what it is for
        kid = KernelInceptionDistance(feature=_Given(a.shape[1]), subsets=subsets, subset_size=subset_size)
    kid.update(a.double().cpu(), real=True)
    kid.update(b.double().cpu(), real=False)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        mean, std = kid.compute()
    return float(mean), float(std) / math.sqrt(subsets)


def mixing_of(model):
    """(mixer, k, fold) with which `model` mixes in training (AMR: its config, also when it trains
    without mixes; the VAE: mixup of two)."""
    cfg = getattr(model, "cfg", None)
    return getattr(cfg, "mixer", "mixup"), getattr(cfg, "k", 2), getattr(cfg, "objective", None) == "acai"


@torch.no_grad()
def judged_sets(model, data, judge, n, batch_size, seed, device):
    """{set: (judge features [n, 128], top-class probabilities [n])} of the decoded sets and the real floor,
    the reference features [n, 128] (first n test images), and the first SHOWN of each decoded set."""
    mixer, k, fold = mixing_of(model)
    rng = torch.Generator(device).manual_seed(seed)
    out = {name: ([], []) for name in SETS}
    shown = {"sources": [], "mixes": [], "pixel_mixes": []}

    def judge_batch(name, images):
        feats, confidence = judge.judge(images.float())
        out[name][0].append(feats.cpu())
        out[name][1].append(confidence.cpu())

    with eval_mode(model):
        for x, _ in batches(data.valid.take(range(n)), batch_size, device):
            codes = model.encode(x)
            b, c = codes.shape[:2]
            perms = sample_partners(b, k, rng, device)
            w = sample_mix_weights(mixer, k, b, c, rng, device)
            w = fold_weights(w) if fold else w
            mixes = model.generator.decode(mix_codes(codes, perms, w)).clamp(-1, 1)
            w_pixel = w.mean(2)  # [b, k]: each source's weight averaged over channels
            pixel = sum(w_pixel[:, i, None, None, None] * x[perms[i]] for i in range(k))
            judge_batch("mixes", mixes)
            judge_batch("reconstructions", model.generator.decode(codes).clamp(-1, 1))
            judge_batch("pixel_mixes", pixel)
            if sum(len(s) for s in shown["mixes"]) < SHOWN:
                shown["sources"].append(torch.stack([x[p] for p in perms], 1).cpu())  # [b, k, C, H, W]
                shown["mixes"].append(mixes.cpu())
                shown["pixel_mixes"].append(pixel.cpu())
    reference, floor = reference_and_floor(len(data.test), n)
    for x, _ in batches(data.test.take(floor), batch_size, device):
        judge_batch("real", x)
    ref = torch.cat([judge.judge(x)[0].cpu() for x, _ in batches(data.test.take(reference), batch_size, device)])
    sets = {name: (torch.cat(f), torch.cat(p)) for name, (f, p) in out.items()}
    return sets, ref, {name: torch.cat(v)[:SHOWN] for name, v in shown.items()}


def realism_scores(model, data, judge, n, batch_size, seed=0, kid_subsets=100, kid_subset_size=1000, device=None):
    """{set: {"fd", "kid", "kid_se", "confidence"}} for SETS, and the shown examples."""
    device = device or model.device
    sets, ref, shown = judged_sets(model, data, judge, n, batch_size, seed, device)
    size, subsets = kid_plan(n, kid_subsets, kid_subset_size)
    scores = {}
    for name, (feats, conf) in sets.items():
        kid, kid_se = kernel_distance(ref, feats, subsets, size, seed)
        scores[name] = {"fd": frechet_distance(ref, feats), "kid": kid, "kid_se": kid_se,
                        "confidence": float(conf.mean())}
    return scores, shown


def reference_and_floor(n_test, n):
    """(reference, floor): two disjoint sets of n test indices, from one fixed permutation of the test split.
    Random, not the file's halves: MNIST's test file holds one population of writers in its first 5000 images
    and another in its last 5000 (LeCun's MNIST page), so its halves differ as distributions."""
    order = torch.randperm(n_test, generator=torch.Generator().manual_seed(0))
    return order[:n].sort().values.tolist(), order[n:2 * n].sort().values.tolist()


def kid_plan(n, subsets, subset_size):
    """(subset size, number of subsets) for n images: a subset as large as n is all of them, once."""
    return (n, 1) if subset_size >= n else (subset_size, subsets)


def set_size(data, wanted):
    """n: at most `wanted`, the validation split, and half the test split (reference and floor)."""
    n = min(wanted, len(data.valid), len(data.test) // 2)
    if n < MIN_N:
        raise ConfigError(f"--mode realism needs at least {MIN_N} validation images and {2 * MIN_N} test images; "
                          f"this dataset has {len(data.valid)} and {len(data.test)}")
    return n


def require_labels(data, what):
    if data.n_classes == 0:
        raise ConfigError(f"{what} needs a labelled dataset (its judge is a classifier trained on the labels); "
                          f"this one is unlabelled: put the images in class subfolders or drop it")


def judge_data(data, spec):
    """The data the judge learns from: the whole training split, also when the run trains on --subset_train."""
    d = spec.data
    if not d.subset_train:
        return data
    return load_dataset(d.dataset, d.data_dir, None, download=False, files=d.file_options())


def realism(run, options):
    """--mode realism: realism.json, mixes.png and examples.pt in <run>/realism/<checkpoint>_epoch<N>/."""
    data, model, o = run.data, run.model, options
    require_labels(data, "--mode realism")
    if o["kid_subsets"] < 1 or o["kid_subset_size"] < 2 or o["n"] < MIN_N:
        raise ConfigError(f"--mode_override: n >= {MIN_N}, kid_subsets >= 1 and kid_subset_size >= 2 are needed")
    n = set_size(data, o["n"])
    loaded = run.load()
    judge, judge_info = cached_judge(judge_data(data, run.spec), run.spec.data.dataset, JUDGE_SEED, run.device)
    scores, shown = realism_scores(model, data, judge, n, run.spec.train.batch_size, o["seed"], o["kid_subsets"],
                                   o["kid_subset_size"], run.device)
    mixer, k, fold = mixing_of(model)
    out = run.folder(loaded)
    result = {**scores, "n": n, "judge": judge_info, "checkpoint": str(loaded.path), "epoch": loaded.epoch,
              "steps": loaded.steps, "mixer": mixer, "k": k, "folded_weights": fold, "seed": o["seed"],
              **dict(zip(("kid_subset_size", "kid_subsets"), kid_plan(n, o["kid_subsets"], o["kid_subset_size"])))}
    atomic_write_text(out / "realism.json", json.dumps(result, indent=1) + "\n")
    rows = torch.cat([shown["sources"][:, 0], shown["sources"][:, 1], shown["pixel_mixes"], shown["mixes"]])
    save_grid(rows, out / "mixes.png", nrow=len(shown["mixes"]))
    atomic_write(out / "examples.pt", lambda f: torch.save(shown, f))
    m, fd = scores["mixes"], {name: f"{s['fd']:.3f}" for name, s in scores.items()}
    print(f"realism (epoch {loaded.epoch}, n={n}): mixes FD {fd['mixes']} KID {m['kid']:.4f} ± {m['kid_se']:.4f}; "
          f"reconstructions FD {fd['reconstructions']}; pixel mixes FD {fd['pixel_mixes']}; real FD {fd['real']} "
          f"(judge test accuracy {judge_info['test_accuracy']:.4f}); wrote {out}")


def epoch_columns(model, data, device, spec):
    """--realism_every: the mixes' FD, KID and confidence as results.csv columns (default options)."""
    judge, _ = cached_judge(judge_data(data, spec), spec.data.dataset, JUDGE_SEED, device)
    scores, _ = realism_scores(model, data, judge, set_size(data, OPTIONS["n"]), spec.train.batch_size, OPTIONS["seed"],
                               OPTIONS["kid_subsets"], OPTIONS["kid_subset_size"], device)
    m = scores["mixes"]
    return {"realism_fd": m["fd"], "realism_kid": m["kid"], "realism_confidence": m["confidence"]}
