"""Cost of parsing a *distinct* user-agent string (no cache hits).

Generates N distinct, realistic UA strings (varying build numbers so every
one misses the cache), times checks.useragent.parse_client on each, and
prints the median and p99 per string, next to the user-agents package's
legacy path on the same strings for scale. Usage:

    .venv/bin/python bench/ua_parse.py [--n 5000]
"""

from __future__ import annotations

import argparse
import statistics
import time

TEMPLATES = [
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Safari/537.36 Edg/{a}.0.{c}.{b}",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.{b} (KHTML, like Gecko) "
    "Version/18.{d} Safari/605.1.{b}",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_{d} like Mac OS X) AppleWebKit/605.1.{c} "
    "(KHTML, like Gecko) Version/18.{d} Mobile/15E{b} Safari/604.1",
    "Mozilla/5.0 (Linux; Android 10; K) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/{a}.0.{b}.{c} Mobile Safari/537.36",
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:{a}.0) Gecko/20100101 Firefox/{a}.{d}.{b}",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 18_{d} like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Mobile/15E148 Safari Line/14.{d}.{b}",
]


def distinct_uas(n: int) -> list[str]:
    # Every template carries {b}, unique per string, so none can hit a cache.
    # (The fields vary with k = i // len(TEMPLATES), not i: with i, d = i % 7
    # was the same for every string of a template and some templates repeated.)
    out = []
    for i in range(n):
        t = TEMPLATES[i % len(TEMPLATES)]
        k = i // len(TEMPLATES)
        out.append(t.format(a=120 + k % 20, b=6000 + k, c=k % 300, d=k % 7))
    assert len(set(out)) == n, "generated user agents are not all distinct"
    return out


def per_call_us(fn, uas: list[str]) -> list[float]:
    times = []
    for ua in uas:
        t0 = time.perf_counter_ns()
        fn(ua)
        times.append((time.perf_counter_ns() - t0) / 1000)
    return times


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--n", type=int, default=5000)
    ns = p.parse_args()
    from checks.useragent import parse_client

    parse_client("warm-up")
    uas = distinct_uas(ns.n)
    ours = per_call_us(parse_client, uas)
    ours.sort()
    print(
        f"parse_client (ua-parser-rs): median {statistics.median(ours):.1f} us, "
        f"p99 {ours[int(len(ours) * 0.99)]:.1f} us over {ns.n} distinct UAs (target median < 25 us)"
    )
    # For scale: a user agent seen before (the last 1000 are still cached).
    again = per_call_us(parse_client, uas[-1000:])
    print(f"same UA again (cached)     : median {statistics.median(again):.1f} us")
    try:
        from user_agents import parse as ua_parse
    except ImportError:
        return
    legacy = per_call_us(ua_parse, distinct_uas(min(ns.n, 1000)))
    print(
        f"user-agents legacy path    : median {statistics.median(legacy):.1f} us "
        f"({statistics.median(legacy) / statistics.median(ours):.0f}x slower)"
    )


if __name__ == "__main__":
    main()
