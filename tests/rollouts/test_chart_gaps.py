from changemgmt.rollouts.status import with_gaps

MINUTE = 60_000


def test_it_breaks_the_line_where_samples_stop_for_a_while():
    points = [{"x": i * MINUTE, "y": 1.0} for i in range(5)]
    points += [{"x": 60 * MINUTE + i * MINUTE, "y": 2.0} for i in range(3)]
    out = with_gaps(points)
    assert [p["y"] for p in out].count(None) == 1
    gap = next(p for p in out if p["y"] is None)
    assert 4 * MINUTE < gap["x"] < 60 * MINUTE


def test_it_leaves_evenly_spaced_samples_alone():
    points = [{"x": i * 5 * MINUTE, "y": 1.0} for i in range(10)]
    assert with_gaps(points) == points
