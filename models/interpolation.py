"""Interpolation rows and animation frames between inputs, built from the same mixing functions as training."""
import torch

from .mixing import interpolation_weights, mix_codes


@torch.no_grad()
def decode_mixes(model, sources, weights):
    """Decodes of fixed mixes of k inputs: `sources` is a list of k tensors [P, C, H, W],
    `weights` [S, k, channels] (one row per frame); returns [P, S, C, H, W] where frame s of
    item p decodes sum_i weights[s, i] * enc(sources[i][p]). One decoder call per frame keeps
    memory at one batch of P however many frames are asked for."""
    p = sources[0].shape[0]
    h = model.encode(torch.cat(sources))  # rows i*P .. i*P+P-1 hold source i
    perms = torch.arange(len(sources) * p, device=h.device).view(len(sources), p)
    frames = [model.generator.decode(mix_codes(h, perms, w.expand(p, *w.shape))) for w in weights.to(h.device)]
    return torch.stack(frames, 1)


@torch.no_grad()
def interpolate_pairs(model, x_a, x_b, mixer, steps=10):
    """For P pairs returns [P, steps + 2, C, H, W]: x_a, `steps` decodes from the code of
    x_a (weight 1) to the code of x_b (weight 0), then x_b. The end decodes are the two
    reconstructions. Bernoulli mixers swap channels one by one in a fixed order."""
    channels = model.encode(x_a[:1]).shape[1]
    decoded = decode_mixes(model, [x_a, x_b], interpolation_weights(mixer, steps, channels))
    return torch.cat([x_a[:, None], decoded, x_b[:, None]], 1)
