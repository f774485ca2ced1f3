"""curves.png: a run's losses and probe accuracy against epoch, redrawn after every epoch from
the rows of results.csv (numbers, or strings when read back from the file on resume)."""
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from .files import atomic_write

# panel title -> loss names; each is drawn for train (solid), valid (dashed) and test (dotted)
# where results.csv has a column <split>_<name>. Panels with no column are left out.
PANELS = {"autoencoder losses": ("recon", "consist"), "adversarial losses": ("g_recon", "g_mix", "d_loss"),
          "probe accuracy": ("probe_acc",)}
SPLIT_STYLES = {"train": "-", "valid": "--", "test": ":"}


def _number(value):
    return float(value) if value not in ("", None) else math.nan


def curve_series(rows):
    """{panel: {"<split>_<name>": (epochs, values)}} for every column present in `rows`."""
    columns = {c for row in rows for c in row}
    epochs = [int(row["epoch"]) for row in rows]
    panels = {}
    for title, names in PANELS.items():
        series = {f"{split}_{name}": (epochs, [_number(row.get(f"{split}_{name}")) for row in rows])
                  for name in names for split in SPLIT_STYLES if f"{split}_{name}" in columns}
        if series:
            panels[title] = series
    return panels


def save_curves(rows, path):
    panels = curve_series(rows)
    fig = Figure(figsize=(4.5 * len(panels), 3.6), dpi=100)
    FigureCanvasAgg(fig)
    for i, (title, series) in enumerate(panels.items()):
        ax = fig.add_subplot(1, len(panels), i + 1)
        for column, (epochs, values) in series.items():
            split, name = column.split("_", 1)
            color = f"C{PANELS[title].index(name)}"
            ax.plot(epochs, values, SPLIT_STYLES[split], color=color, marker=".", label=column)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    fig.tight_layout()
    atomic_write(path, lambda f: fig.savefig(f, format="png"))
