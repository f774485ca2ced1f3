"""results.csv: one row per epoch, rewritten atomically so a killed run never leaves a torn row."""
import csv
import io
from pathlib import Path

from .files import atomic_write_text


class ResultsTable:
    def __init__(self, path, keep_until_epoch=None):
        """Loads existing rows; on resume rows after `keep_until_epoch` (epochs that were
        trained but never checkpointed) are dropped, since they will be trained again."""
        self.path = Path(path)
        self.rows = []
        if self.path.is_file() and keep_until_epoch is not None:
            with open(self.path, newline="") as f:
                self.rows = [r for r in csv.DictReader(f) if int(r["epoch"]) <= keep_until_epoch]

    def append(self, row):
        self.rows.append(row)
        columns = []
        for r in self.rows:
            columns += [c for c in r if c not in columns]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=columns, restval="")
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.path, buf.getvalue())
