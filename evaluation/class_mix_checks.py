"""What class-conditioned mixing (--cls > 0) learned, shown and measured.

--mode interp_sup_train / interp_sup_valid: one row per pair of examples with different labels
a != b: x_a, the decodes of the class mixer's mixes for the targets {a}, {a, b}, {b}, {} (every
label vector the Bernoulli label mix can request), then x_b.

Label consistency: an independent judge (evaluation/judge.py, trained on real images only)
labels the decoded mixes. A mix with target set T counts as consistent when the judge's |T| most
likely classes are exactly T; the rate is taken over the targets {a}, {a, b}, {b} ({} has no
such test). The same pairs and targets mixed with random masks (m ~ U(0, 1) or Bern(1/2) per
channel, blind to the target) give the rate to beat. Written to results.csv every epoch and by
--mode label_consistency.
"""
import csv
import io

import torch

from evaluation.judge import judge_accuracy, train_judge
from iterators import vis_batch
from models.class_mixing import mask_mix, pair_targets
from models.trainable import eval_mode
from amr_errors import ConfigError
from runs.files import atomic_write_text
from runs.images import save_grid

INTERP_OPTIONS = {"padding": 2}           # --mode_override keys of interp_sup_*
RATE_OPTIONS = {"num_pairs": 500}         # --mode_override keys of label_consistency
JUDGE_SEED = 0                            # one judge for every run seed, so rates are comparable
MASKS = ("learned", "random_uniform", "random_bernoulli")
SCORED_TARGETS = {"one": (0, 2), "two": (1,)}  # columns of pair_targets: {a}, {b} / {a, b}

_judge_cache = {}  # the judge of the last dataset seen, so a training run trains it once


def require_class_mixer(run):
    if run.model.class_mixer is None:
        raise ConfigError(f"--mode {run.mode} needs a run trained with --cls > 0 (class-conditioned mixing)")


def distinct_label_pairs(split, n_pairs, seed, device):
    """Consecutive examples of a fixed random draw, kept where their labels differ."""
    x, y = vis_batch(split, min(2 * n_pairs, len(split)) // 2 * 2, seed, device)
    keep = y[0::2] != y[1::2]
    return x[0::2][keep], x[1::2][keep], y[0::2][keep], y[1::2][keep]


def top_k_is_target(logits, target):
    """Per row: are the |T| largest logits exactly the classes of the multi-hot target T?"""
    k = int(target[0].sum().item())  # every row of one target column has the same size
    return target.gather(1, logits.topk(k, 1).indices).sum(1) == k


@torch.no_grad()
def consistency_rates(model, judge, xa, xb, ya, yb, seed=0):
    """{mask}_{one|two|all}: fraction of decoded mixes the judge labels as requested."""
    with eval_mode(model):
        hits = _consistency_hits(model, judge, xa, xb, ya, yb, seed)
    rates = {}
    for name in MASKS:
        for kind, cols in SCORED_TARGETS.items():
            rates[f"{name}_{kind}"] = torch.cat([hits[name][t] for t in cols]).mean().item()
        rates[f"{name}_all"] = torch.cat(list(hits[name].values())).mean().item()
    return rates


def _consistency_hits(model, judge, xa, xb, ya, yb, seed):
    """hits[mask][target column]: per pair, whether the judge labels the decode as requested."""
    ha, hb = model.generator.encode(torch.cat([xa, xb])).chunk(2)
    targets = pair_targets(ya, yb, model.class_mixer.n_classes)
    rng = torch.Generator(xa.device).manual_seed(seed)
    shape = (len(ya), ha.shape[1])
    hits = {name: {} for name in MASKS}
    for t in sorted(sum(SCORED_TARGETS.values(), ())):
        masks = {"learned": model.class_mixer.mask(ha, hb, targets[:, t]),
                 "random_uniform": torch.rand(shape, generator=rng, device=xa.device),
                 "random_bernoulli": torch.randint(0, 2, shape, generator=rng, device=xa.device).float()}
        for name, m in masks.items():
            logits = judge(model.generator.decode(mask_mix(ha, hb, m)))
            hits[name][t] = top_k_is_target(logits, targets[:, t]).float()
    return hits


@torch.no_grad()
def aux_accuracy(model, split, batch_size, device):
    """Accuracy of the discriminator's auxiliary classifier on real images."""
    with eval_mode(model):
        return judge_accuracy(lambda x: model.discriminator.with_classes(x)[1], split, batch_size, device)


def judge_for(data, device):
    """The judge of `data`'s training split and its accuracy on real test images (trained once)."""
    if _judge_cache.get("images") is not data.train.images or _judge_cache.get("device") != device:
        judge = train_judge(data.train, data.n_channels, data.n_classes, JUDGE_SEED, device)
        _judge_cache.update(images=data.train.images, device=device, judge=judge,
                            test_acc=judge_accuracy(judge, data.test, 256, device))
    return _judge_cache["judge"], _judge_cache["test_acc"]


def epoch_columns(model, data, device, vis_seed=0, batch_size=64):
    """results.csv columns of a training epoch (validation split)."""
    judge, judge_test_acc = judge_for(data, device)
    pairs = distinct_label_pairs(data.valid, RATE_OPTIONS["num_pairs"], vis_seed, device)
    rates = consistency_rates(model, judge, *pairs, seed=vis_seed)
    return {"valid_aux_acc": aux_accuracy(model, data.valid, batch_size, device),
            "judge_test_acc": judge_test_acc,
            **{f"valid_cls_mix_rate{'' if m == 'learned' else '_' + m}": rates[f"{m}_all"] for m in MASKS}}


def label_consistency(run, options):
    """--mode label_consistency: rates.csv with one row per split (valid, test)."""
    require_class_mixer(run)
    loaded = run.load()
    data, model, device, n_pairs = run.data, run.model, run.device, options["num_pairs"]
    vis_seed, batch_size = run.spec.output.vis_seed, run.spec.output.val_batch_size
    judge, _ = judge_for(data, device)
    rows = []
    for name in ("valid", "test"):
        split = getattr(data, name)
        pairs = distinct_label_pairs(split, n_pairs, vis_seed, device)
        if len(pairs[2]) == 0:
            raise ConfigError(f"--mode_override num_pairs={n_pairs}: no pair with different labels; use more pairs")
        row = {"split": name, "pairs": len(pairs[2]),
               "judge_acc_real": judge_accuracy(judge, split, batch_size, device),
               "judge_acc_recon": judge_accuracy(judge, split, batch_size, device,
                                                 lambda x: model.generator.decode(model.encode(x))),
               "aux_acc": aux_accuracy(model, split, batch_size, device),
               **consistency_rates(model, judge, *pairs, seed=vis_seed)}
        rows.append(row)
        print(f"{name}: label consistency {row['learned_all']:.3f} (random masks: uniform "
              f"{row['random_uniform_all']:.3f}, Bernoulli {row['random_bernoulli_all']:.3f}); judge accuracy "
              f"{row['judge_acc_real']:.3f} on real, {row['judge_acc_recon']:.3f} on reconstructions "
              f"({row['pairs']} pairs)")
    out = run.folder(loaded)
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(out / "rates.csv", buf.getvalue())
    print(f"wrote {out / 'rates.csv'}")


@torch.no_grad()
def interpolate_supervised(run, options, split):
    """--mode interp_sup_train / interp_sup_valid (see the module docstring), on the `split` split."""
    require_class_mixer(run)
    loaded, model = run.load(), run.model
    o = run.spec.output
    xa, xb, ya, yb = distinct_label_pairs(getattr(run.data, split), o.val_batch_size // 2, o.vis_seed, run.device)
    if len(ya) == 0:
        raise ConfigError("class-conditioned grids need --val_batch_size >= 2 with two examples of different labels")
    targets = pair_targets(ya, yb, model.class_mixer.n_classes)
    ha, hb = model.encode(torch.cat([xa, xb])).chunk(2)
    decodes = [model.generator.decode(model.class_mixer(ha, hb, targets[:, t])[0]) for t in range(targets.shape[1])]
    rows = torch.stack([xa, *decodes, xb], 1)
    out = run.folder(loaded)
    padding = options["padding"]
    for i, row in enumerate(rows):
        save_grid(row, out / f"pair_{i:03d}.png", nrow=row.shape[0], padding=padding)
    save_grid(rows.flatten(0, 1), out / "grid.png", nrow=rows.shape[1], padding=padding)
    atomic_write_text(out / "pairs.csv", "pair,label_a,label_b\n" + "".join(
        f"{i},{a},{b}\n" for i, (a, b) in enumerate(zip(ya.tolist(), yb.tolist()))))
    print(f"wrote {len(rows)} rows (x_a, targets {{a}}, {{a,b}}, {{b}}, {{}}, x_b), grid.png and pairs.csv to {out}")
