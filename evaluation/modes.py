"""The --mode registry: every evaluation of a trained run, by name. A mode is a function
run(run: runs.restore.ModeRun, options: dict, **fixed) that loads the checkpoint (run.load()) and writes
into run.folder(...) = <run>/<folder>/<checkpoint>_epoch<N>/; `options` are its --mode_override keys with
their defaults, `fixed` what distinguishes modes that share a function (a split, a method)."""
from dataclasses import dataclass, field
from functools import partial
from typing import Callable

from . import class_mix_checks, disentangle, embedding_map, frames, interp_grids, lines_benchmark
from . import probe as offline_probe
from . import realism


@dataclass(frozen=True)
class Mode:
    run: Callable            # run(mode_run, options)
    help: str                # one line for --help
    options: dict = field(default_factory=dict)  # --mode_override keys and their defaults
    folder: str = ""         # where it writes inside the run (default: the mode's name)
    needs_labels: bool = False


MODES = {
    "interp_train": Mode(partial(interp_grids.interpolate, split="train"),
                         "interpolation grids between pairs of training examples", interp_grids.OPTIONS),
    "interp_valid": Mode(partial(interp_grids.interpolate, split="valid"),
                         "interpolation grids between pairs of validation examples", interp_grids.OPTIONS),
    "disentangle": Mode(partial(disentangle.disentangle, metrics=disentangle.MODE_METRICS["disentangle"]),
                        "FactorVAE, BetaVAE, MIG and DCI scores on the factor grid (dsprite; a file that is not a "
                        "complete grid gets MIG and DCI); writes disentangle.json", disentangle.OPTIONS),
    "dsprite_disentangle_fv": Mode(partial(disentangle.disentangle, file_name="disentangle_fv.json",
                                           metrics=disentangle.MODE_METRICS["dsprite_disentangle_fv"]),
                                   "the FactorVAE score only (the reference's mode name); writes disentangle_fv.json",
                                   disentangle.OPTIONS),
    "lines_eval": Mode(lines_benchmark.lines_eval, "ACAI's interpolation benchmark (--dataset lines): mean distance "
                       "to the nearest true line and smoothness of the model's, pixel-space and ideal "
                       "interpolations; writes lines_eval.json, interpolations.npz, grid.png", lines_benchmark.OPTIONS),
    "realism": Mode(realism.realism, "how real decoded mixes of validation pairs look to a judge trained on real "
                    "images: FD, KID and confidence beside reconstructions, pixel mixes and real images (labelled "
                    "datasets); writes realism.json, mixes.png", realism.OPTIONS, needs_labels=True),
    "probe": Mode(offline_probe.probe, "offline linear probe: logistic regression on the frozen encoder's codes, C "
                  "chosen on valid, for the checkpoint and the random init; writes probe.json", offline_probe.OPTIONS,
                  needs_labels=True),
    "logreg": Mode(offline_probe.probe, "the reference's name for probe", offline_probe.OPTIONS, folder="probe",
                   needs_labels=True),
    "embedding": Mode(offline_probe.embedding, "the checkpoint's bottleneck codes of train/valid/test as "
                      "embedding.npz"),
    "save_frames": Mode(frames.save_frames, "animated GIFs of decoded mixes of validation examples: pairwise loop, "
                        "Bernoulli channel by channel, tour of the k = 3 triangle", frames.OPTIONS),
    "tsne": Mode(partial(embedding_map.embedding_map, method="tsne"),
                 "t-SNE map of validation bottleneck codes coloured by label", embedding_map.TSNE_OPTIONS),
    "pca": Mode(partial(embedding_map.embedding_map, method="pca"),
                "PCA map of validation bottleneck codes coloured by label (fast)", embedding_map.PCA_OPTIONS),
    "interp_sup_train": Mode(partial(class_mix_checks.interpolate_supervised, split="train"),
                             "class-conditioned mixes of pairs of training examples for the targets {a}, {a,b}, "
                             "{b}, {} (needs --cls > 0)", class_mix_checks.INTERP_OPTIONS, needs_labels=True),
    "interp_sup_valid": Mode(partial(class_mix_checks.interpolate_supervised, split="valid"),
                             "as interp_sup_train on validation examples", class_mix_checks.INTERP_OPTIONS,
                             needs_labels=True),
    "label_consistency": Mode(class_mix_checks.label_consistency, "how often an independent classifier labels "
                              "decoded class-conditioned mixes as requested, vs random masks; writes rates.csv "
                              "(needs --cls > 0)", class_mix_checks.RATE_OPTIONS, needs_labels=True),
}


def folder_of(name):
    return MODES[name].folder or name


__all__ = ["MODES", "Mode", "folder_of"]
