"""--mode interp_train / interp_valid: interpolation grids between pairs of examples."""
from amr_errors import ConfigError
from iterators import vis_batch
from models.interpolation import interpolate_pairs
from runs.images import save_grid

OPTIONS = {"num_interps": 10, "padding": 2}  # --mode_override keys


def interpolate(run, options, split):
    """Grids between pairs of the `split` ("train" or "valid") split; pair_NNN.png and grid.png."""
    loaded = run.load()
    examples, o = getattr(run.data, split), options
    n = min(run.spec.output.val_batch_size, len(examples)) // 2 * 2
    if n < 2 or o["num_interps"] < 2:
        raise ConfigError("interpolation grids need --val_batch_size >= 2 and num_interps >= 2 (--mode_override)")
    x, _ = vis_batch(examples, n, run.spec.output.vis_seed, run.device)
    rows = interpolate_pairs(run.model, x[0::2], x[1::2], run.spec.model.mixer, steps=o["num_interps"])
    out = run.folder(loaded)
    for i, row in enumerate(rows):
        save_grid(row, out / f"pair_{i:03d}.png", nrow=row.shape[0], padding=o["padding"])
    save_grid(rows.flatten(0, 1), out / "grid.png", nrow=rows.shape[1], padding=o["padding"])
    print(f"wrote {len(rows)} interpolation rows and grid.png to {out}")
