import pytest

from leaklab import stages


def test_every_shape_warms_up_ramps_and_stops() -> None:
    for name in stages.shape_names():
        table = stages.stages(name)
        assert [s.until for s in table] == sorted(s.until for s in table)
        assert stages.tick(name, 0) == (table[0].users, table[0].spawn_rate)
        assert stages.tick(name, stages.duration(name)) is None


def test_the_talk_shape_ramps_up() -> None:
    users = [stages.tick("talk", t) for t in (0, 30, 100)]
    assert [u[0] for u in users if u] == [4, 20, 20]


def test_an_unknown_shape_lists_the_known_ones() -> None:
    with pytest.raises(ValueError, match="unknown shape 'ramp'; known shapes: ci, smoke, talk"):
        stages.stages("ramp")
