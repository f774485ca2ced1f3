"""The names the command line and the report know models by (torch-free, so that reading run folders needs
no deep-learning stack): --model -> objective and k, the objectives, and how a method is labelled in tables.
(The mixers are models.mixing.MIXERS.)"""
from dataclasses import dataclass
from typing import Optional

OBJECTIVES = {
    "amr": "decoded mixes and reconstructions are trained to look real to a real/fake discriminator",
    "acaif3": "the reference's ACAI: critic predicts 2*min(alpha, 1-alpha) of a mix, 0 for reals "
              "and reconstructions; the generator pushes mixes towards 0",
    "acai": "ACAI's critic and adversarial terms: the critic regresses the folded alpha in [0, 0.5] of a mix "
            "(squared error) and 0 for gamma*x + (1-gamma)*recon (gamma 0.2); the generator adds "
            "0.5 * critic(mix)^2",
    "ae": "plain autoencoder control: the reconstruction loss only, no mixing and no discriminator",
}

MIXER_LABELS = {"mixup": "mixup", "mixup2": "mixup per channel", "fm": "Bernoulli mixup (fm)",
                "fm2": "Bernoulli mixup"}  # in tables (another mixer appears under its --mixer name)


@dataclass(frozen=True)
class ModelInfo:
    objective: str        # a key of OBJECTIVES, or "vae" (models/vae.py)
    k: Optional[int]      # codes mixed; None: taken from --k
    description: str      # one line, for --help
    model_class: Optional[type] = None  # a subclass of models.amr.AMR with its own losses (docs/extending.md);
    # None: AMR (or VAE for objective "vae")


MODELS = {
    "swapgan": ModelInfo("amr", 2, "AMR with k = 2 (pairwise mixes)"),
    "threegan": ModelInfo("amr", 3, "AMR with k = 3"),
    "kgan": ModelInfo("amr", None, "AMR with k = --k"),
    "acaif3": ModelInfo("acaif3", 2, OBJECTIVES["acaif3"]),
    "acai": ModelInfo("acai", 2, OBJECTIVES["acai"] + ". Everything else comes from the flags: reconstruction loss "
                                 "and weight (--recon_loss, --lamb; ACAI: l2, 1), --update_g_every (ACAI: 1), the "
                                 "optimiser (ACAI: lr 1e-4, betas 0.9/0.999, no weight decay) and the networks "
                                 "(--arch; ACAI's own, without instance or spectral norm: acai32_plain). "
                                 "exps/acai/mnist.sh sets all of ACAI's"),
    "ae": ModelInfo("ae", 2, OBJECTIVES["ae"] + " (the study's control: what the adversary adds)"),
    "vae": ModelInfo("vae", 2, "beta-VAE baseline (models/vae.py): --beta weighs the KL term, no mixing or "
                               "discriminator"),
}


def method_label(model, mixer, k, disable_mix, beta=None):
    """(sort rank, label) of a method in tables: baseline first, the plain autoencoder next, then the
    AMR mixers by k and mixer, ACAI, and the beta-VAEs by decreasing beta (the KL summed over the code)."""
    if model in ("acaif3", "acai"):
        return 90 + (model == "acai"), "ACAI" if model == "acaif3" else "ACAI (as published)"
    if model == "ae":
        return 1, "plain autoencoder (no discriminator)"
    if model == "vae":
        return (95 + 1 / (1 + beta), f"beta-VAE, beta = {beta:g} (KL summed over the code)") if beta is not None \
            else (95, "beta-VAE")
    if model not in MODELS:
        return 99, model
    if disable_mix:
        return 0, "baseline (no mixing)"
    if MODELS[model].model_class is not None:
        return 85, model
    rank = 10 * int(k or 0) + list(MIXER_LABELS).index(mixer) if mixer in MIXER_LABELS else 80
    return rank, f"{MIXER_LABELS.get(mixer, mixer)}, k={k}"


__all__ = ["MIXER_LABELS", "MODELS", "ModelInfo", "OBJECTIVES", "method_label"]
