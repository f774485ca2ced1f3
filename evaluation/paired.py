"""Paired comparisons of a method with a reference method (the baseline) over seeds, and the
study's pre-registered decision rule (docs/cpu_study.md).

A seed gives every method the same initial weights and data order, so the per-seed difference
d_s = score(method, s) - score(reference, s) removes what the seed contributes to both. Reported:
the mean of d over the seeds both have, its standard error sd(d) / sqrt(n) (sample sd), and how
many seeds have d > 0, d = 0 and d < 0.
"""
import math
import statistics
from dataclasses import dataclass
from typing import Optional

BEATS, WORSE, UNDECIDED = "beats", "worse", "no decision"
# The methods others are compared with, by their rank in runs_table's method order
REFERENCES = ((0, "the baseline"), (1, "the plain autoencoder control"))


def by_setting_and_method(runs, has_scores):
    """{setting: {(rank, label, name): [runs]}} of the finished runs for which has_scores(run) holds."""
    out = {}
    for r in runs:
        if r.status == "ok" and has_scores(r):
            out.setdefault(r.setting, {}).setdefault((*r.method, r.name), []).append(r)
    return out


def against_references(groups):
    """(reference label, reference name, reference runs, method label, name, runs) for each method of one
    setting's groups ({(rank, label, name): [runs]}) against each reference present exactly once and
    ranked before it."""
    for ref_rank, ref_label in REFERENCES:
        refs = [(key, members) for key, members in groups.items() if key[0] == ref_rank]
        if len(refs) != 1:
            continue
        (_, _, ref_name), ref_members = refs[0]
        for (rank, label, name), members in sorted(groups.items()):
            if rank > ref_rank:
                yield ref_label, ref_name, ref_members, label, name, members


@dataclass(frozen=True)
class Paired:
    n: int                  # seeds scored for both
    mean: Optional[float]   # mean difference (None when n = 0)
    se: Optional[float]     # standard error of the mean difference (None when n < 2)
    positive: int
    zero: int
    negative: int
    seeds: tuple


def paired(method: dict, reference: dict) -> Paired:
    """method, reference: {seed: score}. Seeds missing from either side are left out."""
    seeds = tuple(sorted(set(method) & set(reference)))
    d = [method[s] - reference[s] for s in seeds]
    mean = statistics.fmean(d) if d else None
    se = statistics.stdev(d) / math.sqrt(len(d)) if len(d) > 1 else None
    return Paired(len(d), mean, se, sum(x > 0 for x in d), sum(x == 0 for x in d), sum(x < 0 for x in d), seeds)


def _improvement(p: Paired) -> Paired:
    """The same comparison for a score where lower is better: differences negated."""
    return Paired(p.n, None if p.mean is None else -p.mean, p.se, p.negative, p.zero, p.positive, p.seeds)


def decide(first: Optional[Paired], last: Paired, min_seeds: int = 3, lower_is_better: bool = False) -> str:
    """The rule of docs/cpu_study.md: BEATS if at the last checkpoint every seed's difference is
    positive and the mean exceeds 2 standard errors, and the mean at the first checkpoint is
    positive too; WORSE for the mirror image; otherwise UNDECIDED (also with fewer than
    `min_seeds` paired seeds: the study fixed three before it ran). first=None: the last
    checkpoint alone decides (the lines benchmark scores one). lower_is_better: a method beats
    the reference by scoring lower (docs/lines.md)."""
    if lower_is_better:
        first, last = (None if first is None else _improvement(first)), _improvement(last)
    if last.n < max(2, min_seeds) or last.se is None or (first is not None and first.mean is None):
        return UNDECIDED
    if last.positive == last.n and last.mean > 2 * last.se and (first is None or first.mean > 0):
        return BEATS
    if last.negative == last.n and last.mean < -2 * last.se and (first is None or first.mean < 0):
        return WORSE
    return UNDECIDED


__all__ = ["BEATS", "Paired", "UNDECIDED", "WORSE", "decide", "paired"]
