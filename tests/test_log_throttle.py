from __future__ import annotations

import pytest

from server.log_throttle import LogThrottle


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_first_line_at_once_then_one_per_interval_counting_the_rest() -> None:
    clock = FakeClock()
    t = LogThrottle(60.0, clock)
    assert t.admit("a") == 0
    clock.now += 59.999
    assert t.admit("a") is None
    assert t.admit("a") is None
    clock.now = 1060.0  # exactly one interval after the last logged line
    assert t.admit("a") == 2
    clock.now += 1
    assert t.admit("a") is None
    clock.now += 59
    assert t.admit("a") == 1


def test_keys_are_throttled_apart() -> None:
    clock = FakeClock()
    t = LogThrottle(60.0, clock)
    assert t.admit(("browser.latest",)) == 0
    assert t.admit(("os.supported",)) == 0
    assert t.admit(("browser.latest",)) is None


def test_a_negative_interval_is_refused() -> None:
    with pytest.raises(ValueError):
        LogThrottle(-1)
