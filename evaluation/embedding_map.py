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

from amr_errors import ConfigError
from runs.files import atomic_write

from .features import encode_split

# --mode_override keys of --mode pca and --mode tsne; num_points 0: every validation example, up to 2000
PCA_OPTIONS = {"num_points": 0}
TSNE_OPTIONS = {"num_points": 0, "perplexity": 30.0}
DEFAULT_POINTS = 2000


def check_options(mode, o, n_examples):
    if o["num_points"] and not 3 <= o["num_points"] <= n_examples:
        raise ConfigError(f"--mode_override for {mode}: num_points must be in 3..{n_examples} "
                          f"(the validation examples), got {o['num_points']}")
    if n_examples < 3:
        raise ConfigError(f"--mode {mode} needs at least 3 validation examples, this dataset has {n_examples}")
    if mode == "tsne" and not o["perplexity"] > 0:
        raise ConfigError(f"--mode_override for tsne: perplexity must be > 0, got {o['perplexity']}")


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


def embedding_map(run, options, method):
    """method: "tsne" or "pca"; writes <method>.png and <method>.npz."""
    o, data = options, run.data
    check_options(method, o, len(data.valid))
    loaded = run.load()
    # valid is already a random permutation, so its first n examples are a random sample
    n = o["num_points"] or min(DEFAULT_POINTS, len(data.valid))
    if method == "tsne" and o["perplexity"] >= n:
        raise ConfigError(f"--mode_override for tsne: perplexity must be below the number of points ({n}), got "
                          f"{o['perplexity']}")
    codes, labels = encode_split(run.model, data.valid.take(range(n)), run.spec.output.val_batch_size, run.device)
    points = project(method, codes, o, run.spec.output.vis_seed)
    title = (f"{'t-SNE' if method == 'tsne' else 'PCA'} of {len(codes)} validation codes ({codes.shape[1]}-d), "
             f"{run.spec.output.name}, epoch {loaded.epoch}")
    out = run.folder(loaded)
    fig = draw_map(points, labels, data.n_classes, title)
    atomic_write(out / f"{method}.png", lambda f: fig.savefig(f, format="png"))
    atomic_write(out / f"{method}.npz", lambda f: np.savez(f, points=points, labels=labels))
    print(f"wrote {method}.png and {method}.npz ({len(codes)} points) to {out}")
