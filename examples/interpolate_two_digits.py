"""Open a trained run in Python: encode its validation set, interpolate between two digits of different
classes with the run's mixer, and show the row with matplotlib (docs/api.md). Needs the project installed
(`pip install -e .`, which the README's set-up does), from any folder:

    amr --dataset=digits --epochs=15 --batch_size=32 --lr=1e-3 --lamb=10 --beta=0
    python examples/interpolate_two_digits.py results/s0/digits_swapgan_mixup/0 --out interpolation.png
"""
import argparse

import matplotlib

from runs import load_run

p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
p.add_argument("run", help="a run folder <save_path>/s<seed>/<name>/<trial>")
p.add_argument("--checkpoint", default="last", help="last, an epoch number, or a checkpoint file of the run")
p.add_argument("--steps", type=int, default=10, help="images in the interpolation row")
p.add_argument("--out", default=None, help="save the figure here instead of showing it")
args = p.parse_args()
if args.out:
    matplotlib.use("Agg")  # no window needed
import matplotlib.pyplot as plt  # noqa: E402

run = load_run(args.run, checkpoint=args.checkpoint, device="cpu")
valid = run.data.valid
codes = run.encode(valid.images)  # uint8 images are accepted as they are stored
print(f"{run.spec.output.name} epoch {run.epoch}: {len(valid)} validation codes of shape {tuple(codes.shape[1:])}")

a = 0
b = next(i for i in range(len(valid)) if valid.labels[i] != valid.labels[a])  # a digit of another class
row = run.interpolate(valid.images[a:a + 1], valid.images[b:b + 1], steps=args.steps)[0]  # [steps, C, H, W]

fig, axes = plt.subplots(1, args.steps, figsize=(args.steps, 1.3))
for ax, image in zip(axes, row):
    ax.imshow((image[0] * 0.5 + 0.5).clamp(0, 1).numpy(), cmap="gray", vmin=0, vmax=1)
    ax.axis("off")
fig.suptitle(f"{valid.labels[a].item()} to {valid.labels[b].item()} with --mixer {run.spec.model.mixer}", fontsize=9)
if args.out:
    fig.savefig(args.out, dpi=100, bbox_inches="tight")
    print(f"wrote {args.out}")
else:
    plt.show()
