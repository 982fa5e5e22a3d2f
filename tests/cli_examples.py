"""Command lines of the docs' worked examples, shared by the end-to-end and console tests."""

from __future__ import annotations

# The HNB example's login posture (docs/claims.md, "HNB" example).
HNB_LOGIN = [
    "check-login",
    "--customer",
    "hnb-contract-0001",
    "--device",
    "mac-1",
    "--token",
    "active",
    "--ua",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/18.4 Safari/605.1.15",
    "--at",
    "2025-04-10T10:00:00+09:00",
    "--av-product",
    "Norton 360",
    "--av-running",
    "true",
    "--av-updated-at",
    "2025-04-10T08:00:00+09:00",
]
