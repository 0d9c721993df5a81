"""The Leaks view's window and caching: which run it shows, how often it decides."""

from __future__ import annotations

from leaklab.live import IDLE_WINDOW, LEAD_IN, MAX_WINDOW, LiveView


class Clock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_before_any_run_the_view_shows_the_last_two_minutes() -> None:
    view = LiveView("http://127.0.0.1:9", clock=Clock(1_000_000.7))
    window = view.window()
    assert (window.start, window.end) == (1_000_000 - IDLE_WINDOW, 1_000_000)


def test_a_run_is_shown_from_just_before_its_start_and_a_long_one_is_capped() -> None:
    clock = Clock(2_000_000.0)
    view = LiveView("http://127.0.0.1:9", step=1.0, clock=clock)
    view.run_started_now()
    clock.now += 60
    window = view.window()
    assert window.start == 2_000_000 - LEAD_IN and window.end == 2_000_060
    clock.now += 3600
    window = view.window()
    assert window.end - window.start == MAX_WINDOW


def test_no_verdicts_and_no_query_before_a_run() -> None:
    # port 9 (discard) answers nothing: had the view queried, it would have raised
    view = LiveView("http://127.0.0.1:9")
    assert view.verdicts(view.window()) == {}
    assert view.table_rows() == []


def test_a_page_never_waits_for_a_decision_and_only_one_runs_at_a_time() -> None:
    started: list[object] = []
    view = LiveView("http://127.0.0.1:9", spawn=started.append)
    view.run_started_now()
    assert view.verdicts(view.window()) == {}  # at once, with what it has
    assert view.verdicts(view.window()) == {}
    assert len(started) == 1  # the second poll did not start another decision
