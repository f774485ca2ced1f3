"""Models: the one adversarial mixup model, its mixing functions and losses.

`--model` names map onto (objective, k); see MODELS.
"""
from .amr import AMR, AMRConfig, OBJECTIVES
from .mixing import MIXERS

# --model name -> (objective, k); k None means "take --k"
MODELS = {
    "swapgan": ("amr", 2, "AMR with k = 2 (pairwise mixes)"),
    "threegan": ("amr", 3, "AMR with k = 3"),
    "kgan": ("amr", None, "AMR with k = --k"),
    "acaif3": ("acaif3", 2, OBJECTIVES["acaif3"]),
    "acai": ("acai", 2, OBJECTIVES["acai"]),
    "vae": ("vae", 2, "beta-VAE baseline (models/vae.py): --beta weighs the KL term, no mixing or discriminator"),
}

__all__ = ["AMR", "AMRConfig", "MIXERS", "MODELS", "OBJECTIVES"]
