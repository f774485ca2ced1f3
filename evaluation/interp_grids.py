"""--mode interp_train / interp_valid: interpolation grids between pairs of examples."""
from iterators import vis_batch
from models.interpolation import interpolate_pairs
from runs.errors import ConfigError
from runs.images import save_grid
from runs.run_dir import load_for_eval, make_mode_folder

OPTIONS = {"num_interps": 10, "padding": 2}  # --mode_override keys


def interpolate(args, resolved, data, model, run_dir):
    path, state = load_for_eval(args, model, run_dir)
    split = data.train if args.mode == "interp_train" else data.valid
    o = resolved.mode_options
    n = min(args.val_batch_size, len(split)) // 2 * 2
    if n < 2 or o["num_interps"] < 2:
        raise ConfigError("interpolation grids need --val_batch_size >= 2 and num_interps >= 2 (--mode_override)")
    x, _ = vis_batch(split, n, args.vis_seed, resolved.device)
    rows = interpolate_pairs(model, x[0::2], x[1::2], args.mixer, steps=o["num_interps"])
    out = make_mode_folder(args, run_dir, path, state)
    for i, row in enumerate(rows):
        save_grid(row, out / f"pair_{i:03d}.png", nrow=row.shape[0], padding=o["padding"])
    save_grid(rows.flatten(0, 1), out / "grid.png", nrow=rows.shape[1], padding=o["padding"])
    print(f"wrote {len(rows)} interpolation rows and grid.png to {out}")
