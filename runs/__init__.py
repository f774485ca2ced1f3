"""What a run writes under <save_path>/s<seed>/<name>/<trial_id>/: config, results, images, checkpoints."""
