"""The lock-free tallies behind the RPC and store metrics expose what
prometheus_client's own Counter and Histogram would."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Histogram, generate_latest

from server.metrics import REGISTRY, TallyCounter, TallyHistogram

BUCKETS = (0.001, 0.01, 0.1)


def _samples(text: str, name: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith(name)]


def test_histogram_matches_prometheus_client_at_and_around_every_bound() -> None:
    ours = TallyHistogram("anshin_test_tally_seconds", "t", ("method",), BUCKETS)
    registry = CollectorRegistry()
    theirs = Histogram(
        "anshin_test_tally_seconds", "t", ["method"], buckets=BUCKETS, registry=registry
    )
    try:
        # On each bound (le is inclusive), just above it, below the first, above the last.
        for value in (0.0, 0.0005, 0.001, 0.0010001, 0.01, 0.05, 0.1, 0.1000001, 7.0):
            ours.labels("/a/B").observe(value)
            theirs.labels("/a/B").observe(value)
        mine = _samples(generate_latest(REGISTRY).decode(), "anshin_test_tally_seconds")
        expected = _samples(generate_latest(registry).decode(), "anshin_test_tally_seconds")
        assert [s for s in mine if "_created" not in s] == [
            s for s in expected if "_created" not in s
        ]
        assert 'anshin_test_tally_seconds_bucket{le="0.001",method="/a/B"} 3.0' in mine
        assert 'anshin_test_tally_seconds_bucket{le="+Inf",method="/a/B"} 9.0' in mine
    finally:
        REGISTRY.unregister(ours)


def test_counter_counts_per_label_set() -> None:
    counter = TallyCounter("anshin_test_tally_calls", "c", ("method", "code"))
    try:
        counter.labels("/a/B", "OK").inc()
        counter.labels("/a/B", "OK").inc()
        counter.labels("/a/B", "INTERNAL").inc(3)
        text = generate_latest(REGISTRY).decode()
        assert 'anshin_test_tally_calls_total{code="OK",method="/a/B"} 2.0' in text
        assert 'anshin_test_tally_calls_total{code="INTERNAL",method="/a/B"} 3.0' in text
    finally:
        REGISTRY.unregister(counter)
