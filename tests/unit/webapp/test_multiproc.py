"""Retiring a dead worker keeps its counts and removes its files (real prometheus-client files)."""

import json
import multiprocessing
from pathlib import Path

from prometheus_client import CollectorRegistry
from prometheus_client.mmap_dict import MmapedDict, mmap_key
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.parser import text_string_to_metric_families

from webapp.metrics import exposition
from webapp.multiproc import retire_worker


def _write(path: Path, samples: dict[str, float], metric: str = "requests") -> None:
    mm = MmapedDict(str(path))
    for labels_json, value in samples.items():
        labels = json.loads(labels_json)
        sample = f"{metric}_total" if path.name.startswith("counter_") else metric
        key = mmap_key(metric, sample, list(labels), list(labels.values()), "h")
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
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["counter_archive.db"]
    assert _totals(tmp_path) == before


def test_live_and_other_gauges_of_the_dead_worker_are_removed(tmp_path: Path) -> None:
    for name in ("gauge_livesum_101.db", "gauge_max_101.db", "gauge_livesum_102.db"):
        _write(tmp_path / name, {"{}": 1.0})
    removed = retire_worker(101, str(tmp_path))
    assert "gauge_max_101.db" in removed
    assert sorted(p.name for p in tmp_path.glob("*.db")) == ["gauge_livesum_102.db"]


def _retire_many(directory: str, first_pid: int, count: int) -> None:
    """What Gunicorn's master does as workers die: a worker's files appear, then it is retired."""
    for pid in range(first_pid, first_pid + count):
        _write(Path(directory) / f"counter_{pid}.db", {'{"status": "200"}': 1.0})
        _write(Path(directory) / f"gauge_livesum_{pid}.db", {"{}": 1.0}, "connections")
        retire_worker(pid, directory)


def _requests_total(text: str) -> float:
    return sum(
        s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
        if s.name == "requests_total"
    )


def test_a_scrape_racing_retire_worker_never_fails_nor_goes_backwards(tmp_path: Path) -> None:
    """A master retiring dead workers while a worker renders /metrics (issue #12: 6 of 48)."""
    deaths = 400
    retirer = multiprocessing.get_context("fork").Process(
        target=_retire_many, args=(str(tmp_path), 1000, deaths)
    )
    retirer.start()
    seen: list[float] = []
    try:
        while retirer.is_alive():
            text = exposition(str(tmp_path), CollectorRegistry(), lambda: None).decode()
            seen.append(_requests_total(text))
    finally:
        retirer.join(timeout=60)
    assert retirer.exitcode == 0
    assert len(seen) > 20, "the scrapes did not overlap the retirements"
    assert all(b >= a for a, b in zip(seen, seen[1:], strict=False)), "a counter went backwards"
    assert max(seen) <= deaths
    final = exposition(str(tmp_path), CollectorRegistry(), lambda: None).decode()
    assert _requests_total(final) == deaths  # every dead worker's requests still count


def test_the_empty_file_of_a_worker_killed_while_creating_it_is_skipped(tmp_path: Path) -> None:
    _write(tmp_path / "counter_101.db", {'{"status": "200"}': 5})
    (tmp_path / "counter_102.db").touch()  # created, never sized: killed in between
    text = exposition(str(tmp_path), CollectorRegistry(), lambda: None).decode()
    assert _requests_total(text) == 5
