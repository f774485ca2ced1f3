"""--mode save_frames: animated GIFs of decoded mixes of held-out (validation) examples.

  pairwise.gif   each image walks a loop of num_stops examples, mixing consecutive ones
                 with alpha going from 1 to 0 (num_interps frames per step)
  bernoulli.gif  the same loop, switching one bottleneck channel per frame in a fixed order
                 (as Bernoulli mixup does; the number of frames per step is the channel count)
  triangle.gif   a tour of the triangle of k = 3 mixing weights between three examples:
                 corner -> centre -> corner ... (6 * num_interps frames)
Every frame is a grid of num_images images, so one GIF shows many examples at once.
"""
import torch

from iterators import vis_batch
from models.interpolation import decode_mixes
from models.mixing import interpolation_weights, triangle_tour_weights
from amr_errors import ConfigError
from runs.images import save_gif

# --mode_override keys; num_interps, framerate and resize_to keep the reference's names
# (its ffmpeg-only crf has no GIF counterpart)
OPTIONS = {"num_interps": 10, "framerate": 15, "resize_to": -1, "num_images": 16, "num_stops": 4, "padding": 2}


def check_options(o, n_examples):
    bad = [f"{key} must be >= {low}" for key, low in (("num_interps", 1), ("framerate", 1), ("num_images", 1),
                                                       ("num_stops", 2), ("padding", 0)) if o[key] < low]
    if o["framerate"] > 50:
        bad.append("framerate must be <= 50 (GIF delays are whole hundredths of a second)")
    if o["resize_to"] != -1 and o["resize_to"] < 1:
        bad.append("resize_to must be -1 (native size) or >= 1 pixels")
    needed = o["num_images"] * max(o["num_stops"], 3)
    if needed > n_examples:
        bad.append(f"num_images * max(num_stops, 3) = {needed} is more than the {n_examples} validation examples")
    if bad:
        raise ConfigError(f"--mode_override for save_frames: {'; '.join(bad)}")


def loop_frames(model, stops, weights):
    """stops [S, N, C, H, W]: image n goes stops[0, n] -> stops[1, n] -> ... -> back to stops[0, n],
    decoding the k = 2 `weights` [F, 2, channels] at every step; returns [N, S * F, C, H, W]."""
    s = len(stops)
    return torch.cat([decode_mixes(model, [stops[i], stops[(i + 1) % s]], weights) for i in range(s)], 1)


def resized(frames, size):
    if size == -1:
        return frames
    flat = frames.flatten(0, 1)
    flat = torch.nn.functional.interpolate(flat, size=(size, size), mode="bilinear", antialias=True)
    return flat.view(*frames.shape[:3], size, size)


@torch.no_grad()
def save_frames(run, options):
    o, model = options, run.model
    check_options(o, len(run.data.valid))
    loaded = run.load()
    model.eval()
    n, s, steps = o["num_images"], o["num_stops"], o["num_interps"]
    x, _ = vis_batch(run.data.valid, n * max(s, 3), run.spec.output.vis_seed, run.device)
    x = x.view(-1, n, *x.shape[1:])  # [stops, images, C, H, W]
    channels = model.encode(x[0, :1]).shape[1]
    animations = {  # the last weight of each step is the next step's first, so it is dropped
        "pairwise": loop_frames(model, x[:s], interpolation_weights("mixup", steps + 1, channels)[:-1]),
        "bernoulli": loop_frames(model, x[:s], interpolation_weights("fm", channels + 1, channels)[:-1]),
        "triangle": decode_mixes(model, list(x[:3]), triangle_tour_weights(steps, channels)),
    }
    out = run.folder(loaded)
    for name, frames in animations.items():
        save_gif(resized(frames, o["resize_to"]), out / f"{name}.gif", o["framerate"], o["padding"])
    print(f"wrote {', '.join(f'{name}.gif ({f.shape[1]} frames)' for name, f in animations.items())} to {out}")
