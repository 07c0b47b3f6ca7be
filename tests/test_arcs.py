"""Arcs: chord error within the tolerance, exact end points, full circles, R forms."""
import math

import pytest

from mendel.gcode.arcs import RADIUS_SHORTFALL_MM, ArcError, arc_center, segment_arc


def chord_errors(start, points, center, radius):
    """Largest distance from each chord's midpoint to the circle."""
    worst = 0.0
    prev = start
    for point in points:
        mx, my = (prev[0] + point[0]) / 2, (prev[1] + point[1]) / 2
        worst = max(worst, radius - math.hypot(mx - center[0], my - center[1]))
        prev = point
    return worst


@pytest.mark.parametrize("radius,tolerance", [(0.1, 0.01), (1.0, 0.01), (25.0, 0.01),
                                              (100.0, 0.001), (5.0, 0.1)])
def test_chord_error_bound_and_no_more_segments_than_needed(radius, tolerance):
    start = [radius, 0.0, 0.0, 0.0]
    points = segment_arc(start, list(start), False, (0.0, 0.0), tolerance)
    assert chord_errors(start, points, (0.0, 0.0), radius) <= tolerance + 1e-12
    # One segment fewer would break the bound.
    needed = math.ceil(2 * math.pi / (2 * math.acos(1 - min(tolerance / radius, 1.0))))
    assert len(points) <= max(needed, 4)
    assert points[-1] == start


def test_full_circle_with_ij_and_g3_j10_with_no_xy():
    start = [50.0, 50.0, 0.2, 1.0]
    center = arc_center(start, start, False, 0.0, 10.0)
    points = segment_arc(start, list(start), False, center, 0.01)
    xs = [p[0] for p in points]
    assert max(xs) == pytest.approx(60.0, abs=0.02) and min(xs) == pytest.approx(40.0, abs=0.02)
    assert points[-1] == start


def test_tiny_full_circle():
    start = [10.0, 10.0, 0.0, 0.0]
    center = arc_center(start, start, True, 0.1, 0.0)
    points = segment_arc(start, list(start), True, center, 0.01)
    assert len(points) >= 4 and points[-1] == start
    assert chord_errors(start, points, center, 0.1) <= 0.01 + 1e-12


def test_helix_and_extrusion_are_linear_in_angle():
    start = [10.0, 0.0, 0.0, 0.0]
    end = [-10.0, 0.0, 2.0, 4.0]
    points = segment_arc(start, end, False, (0.0, 0.0), 0.01)
    for x, y, z, e in points:
        fraction = math.atan2(y, x) / math.pi if y > 1e-12 else 1.0
        assert z == pytest.approx(2.0 * fraction, abs=1e-9)
        assert e == pytest.approx(4.0 * fraction, abs=1e-9)
    assert points[-1] == end


def test_r_form_short_and_long_arcs():
    start, end = [0.0, 0.0, 0.0, 0.0], [10.0, 0.0, 0.0, 0.0]
    # R=10 over a 10 mm chord: the short arc spans 60 degrees, the long one 300.
    for r, sweep in ((10.0, math.pi / 3), (-10.0, 5 * math.pi / 3)):
        for clockwise in (False, True):
            center = arc_center(start, end, clockwise, r=r)
            assert math.hypot(center[0], center[1]) == pytest.approx(10.0)
            assert math.hypot(center[0] - 10, center[1]) == pytest.approx(10.0)
            points = segment_arc(start, end, clockwise, center, 0.001)
            length = sum(math.dist(a[:2], b[:2]) for a, b in zip([start] + points, points))
            assert length == pytest.approx(10.0 * sweep, rel=1e-3)


def test_impossible_r_arc_is_refused():
    with pytest.raises(ArcError, match="radius 4 mm is 1 mm short of half the chord "
                                       r"\(5 mm\): no circle joins the end points"):
        arc_center([0.0, 0.0], [10.0, 0.0], True, r=4.0)
    with pytest.raises(ArcError):
        arc_center([0.0, 0.0], [0.0, 0.0], True, r=4.0)


@pytest.mark.parametrize("r", [1.6249, -1.6249, 1.6201, 1.625])
def test_r_within_the_rounding_tolerance_of_half_the_chord_is_a_half_circle(r):
    # Chord 3.25 mm (half 1.625): a shortfall up to RADIUS_SHORTFALL_MM (0.005 mm).
    for clockwise in (False, True):
        assert arc_center([10.0, 10.0], [13.25, 10.0], clockwise, r=r) == pytest.approx(
            (11.625, 10.0), abs=1e-12)


def test_r_beyond_the_rounding_tolerance_is_refused():
    assert RADIUS_SHORTFALL_MM == 0.005
    with pytest.raises(ArcError, match="radius 1.619 mm is 0.006 mm short of half the chord "
                                       r"\(1.625 mm\).*up to 0.005 mm short is taken as a "
                                       "half circle"):
        arc_center([10.0, 10.0], [13.25, 10.0], True, r=-1.619)
    # Just past the tolerance, the shortfall is not rounded down to it.
    with pytest.raises(ArcError, match="radius 1.61999 mm is 0.00501 mm short"):
        arc_center([10.0, 10.0], [13.25, 10.0], True, r=1.61999)
