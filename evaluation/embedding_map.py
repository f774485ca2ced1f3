"""--mode tsne / pca: a 2-D map of the bottleneck codes of the first num_points validation examples,
coloured by label (one colour for an unlabelled dataset).

Writes <mode>.png (the map) and <mode>.npz (points [N, 2], labels [N]) so the map can be redrawn.
t-SNE (scikit-learn, PCA-initialised) shows neighbourhoods; PCA is the fast linear view.
"""
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sklearn.decomposition import PCA
from sklearn.manifold import TSNE

from runs.errors import ConfigError
from runs.files import atomic_write
from runs.run_dir import load_for_eval, make_mode_folder

from .features import encode_split

PCA_OPTIONS = {"num_points": 2000}                        # --mode_override keys of --mode pca
TSNE_OPTIONS = {"num_points": 2000, "perplexity": 30.0}   # and of --mode tsne


def check_options(mode, o, n_examples):
    if not 3 <= o["num_points"] <= n_examples:
        raise ConfigError(f"--mode_override for {mode}: num_points must be in 3..{n_examples} "
                          f"(the validation examples), got {o['num_points']}")
    if mode == "tsne" and not 0 < o["perplexity"] < o["num_points"]:
        raise ConfigError(f"--mode_override for tsne: perplexity must be in (0, num_points = {o['num_points']}), "
                          f"got {o['perplexity']}")


def project(mode, codes, o, seed):
    if mode == "pca":
        return PCA(n_components=2, random_state=seed).fit_transform(codes)
    return TSNE(n_components=2, perplexity=o["perplexity"], init="pca", random_state=seed).fit_transform(codes)


def draw_map(points, labels, n_classes, title):
    fig = Figure(figsize=(6, 6), dpi=100)
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    if n_classes == 0:  # an unlabelled dataset: one colour, no legend
        ax.scatter(points[:, 0], points[:, 1], s=5, alpha=0.8)
    else:
        dots = ax.scatter(points[:, 0], points[:, 1], c=labels, cmap="tab10", vmin=-0.5, vmax=n_classes - 0.5,
                          s=5, alpha=0.8)
        ax.legend(*dots.legend_elements(), title="label", loc="best", fontsize=7, markerscale=0.8)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def embedding_map(args, resolved, data, model, run_dir):
    o = resolved.mode_options
    check_options(args.mode, o, len(data.valid))
    path, state = load_for_eval(args, model, run_dir)
    n = o["num_points"]  # valid is already a random permutation, so its first n examples are a random sample
    codes, labels = encode_split(model, data.valid.take(range(n)), args.val_batch_size, resolved.device)
    points = project(args.mode, codes, o, args.vis_seed)
    title = (f"{'t-SNE' if args.mode == 'tsne' else 'PCA'} of {len(codes)} validation codes ({codes.shape[1]}-d), "
             f"{args.name}, epoch {state['epoch']}")
    out = make_mode_folder(args, run_dir, path, state)
    fig = draw_map(points, labels, data.n_classes, title)
    atomic_write(out / f"{args.mode}.png", lambda f: fig.savefig(f, format="png"))
    atomic_write(out / f"{args.mode}.npz", lambda f: np.savez(f, points=points, labels=labels))
    print(f"wrote {args.mode}.png and {args.mode}.npz ({len(codes)} points) to {out}")
