"""Retire a dead worker's multiprocess files without losing its counts.

`mark_process_dead` only drops live gauges. Counters and histograms of dead
workers must keep counting (or rates see a reset), but one file per dead pid
grows the directory for ever. So their values are folded into one archive file
per type, and the dead pid's files are removed.
"""

from __future__ import annotations

import glob
import os

from prometheus_client import multiprocess
from prometheus_client.mmap_dict import MmapedDict

_ARCHIVED_TYPES = ("counter", "histogram", "summary")


def retire_worker(pid: int, path: str) -> list[str]:
    """Fold pid's counters into the archive and remove every file of pid; return removed names."""
    multiprocess.mark_process_dead(pid, path)
    removed = []
    for typ in _ARCHIVED_TYPES:
        dead = os.path.join(path, f"{typ}_{pid}.db")
        if os.path.exists(dead):
            _fold_into(dead, os.path.join(path, f"{typ}_archive.db"))
            os.remove(dead)
            removed.append(os.path.basename(dead))
    for stale in glob.glob(os.path.join(path, f"gauge_*_{pid}.db")):
        os.remove(stale)  # non-live gauge modes (such as the exporter's info gauge)
        removed.append(os.path.basename(stale))
    return removed


def _fold_into(source: str, archive: str) -> None:
    archived = MmapedDict(archive)
    try:
        for key, value, timestamp, _pos in MmapedDict.read_all_values_from_file(source):
            old, _ = archived.read_value(key)
            archived.write_value(key, old + value, timestamp)
    finally:
        archived.close()
