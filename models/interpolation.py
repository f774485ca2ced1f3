"""Interpolation rows between pairs of inputs, built from the same mixing functions as training."""
import torch

from .mixing import interpolation_weights, mix_codes


@torch.no_grad()
def interpolate_pairs(model, x_a, x_b, mixer, steps=10):
    """For P pairs returns [P, steps + 2, C, H, W]: x_a, `steps` decodes from the code of
    x_a (weight 1) to the code of x_b (weight 0), then x_b. The end decodes are the two
    reconstructions. Bernoulli mixers swap channels one by one in a fixed order."""
    p = x_a.shape[0]
    h = model.encode(torch.cat([x_a, x_b]))  # sources: rows 0..P-1 are a, P..2P-1 are b
    perms = torch.stack([torch.arange(p), torch.arange(p, 2 * p)]).to(h.device)
    w = interpolation_weights(mixer, steps, h.shape[1]).to(h.device)  # [steps, 2, C]
    codes = torch.cat([mix_codes(h, perms, w[s].expand(p, *w.shape[1:])) for s in range(steps)])
    decoded = model.generator.decode(codes).view(steps, p, *x_a.shape[1:]).transpose(0, 1)
    return torch.cat([x_a[:, None], decoded, x_b[:, None]], 1)
