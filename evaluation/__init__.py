"""What a trained run is measured and shown with: the --mode implementations other than train."""
