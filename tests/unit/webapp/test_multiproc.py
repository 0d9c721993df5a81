"""Retiring a dead worker keeps its counts and removes its files (real prometheus-client files)."""

import json
from pathlib import Path

from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector

from webapp.multiproc import retire_worker


def _write(path: Path, samples: dict[str, float], typ: str = "counter") -> None:
    mm = MmapedDict(str(path))
    for labels_json, value in samples.items():
        labels = json.loads(labels_json)
        key = mmap_key("requests", "requests_total", list(labels), list(labels.values()), "h")
        mm.write_value(key, value, 0.0)
    mm.close()


def _totals(directory: Path) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    files = [str(p) for p in directory.glob("*.db")]
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for metric in MultiProcessCollector.merge(files)
        for s in metric.samples
    }


def test_a_dead_workers_counts_survive_in_the_archive(tmp_path: Path) -> None:
    _write(tmp_path / "counter_101.db", {'{"status": "200"}': 5, '{"status": "503"}': 2})
    _write(tmp_path / "counter_102.db", {'{"status": "200"}': 7})
    before = _totals(tmp_path)

    retire_worker(101, str(tmp_path))
    assert not (tmp_path / "counter_101.db").exists()
    assert _totals(tmp_path) == before

    retire_worker(102, str(tmp_path))  # a second death folds into the same archive
    assert sorted(p.name for p in tmp_path.iterdir()) == ["counter_archive.db"]
    assert _totals(tmp_path) == before


def test_live_and_other_gauges_of_the_dead_worker_are_removed(tmp_path: Path) -> None:
    for name in ("gauge_livesum_101.db", "gauge_max_101.db", "gauge_livesum_102.db"):
        _write(tmp_path / name, {"{}": 1.0})
    removed = retire_worker(101, str(tmp_path))
    assert "gauge_max_101.db" in removed
    assert sorted(p.name for p in tmp_path.iterdir()) == ["gauge_livesum_102.db"]
