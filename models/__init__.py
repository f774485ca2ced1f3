"""Models: the one adversarial mixup model, its mixing functions and losses.

`--model` names map onto an objective and k; see MODELS.
"""
from dataclasses import dataclass
from typing import Optional

from .amr import AMR, AMRConfig, OBJECTIVES
from .mixing import MIXERS


@dataclass(frozen=True)
class ModelInfo:
    objective: str        # a key of OBJECTIVES, or "vae" (models/vae.py)
    k: Optional[int]      # codes mixed; None: taken from --k
    description: str      # one line, for --help


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

__all__ = ["AMR", "AMRConfig", "MIXERS", "MODELS", "ModelInfo", "OBJECTIVES"]
