"""Command lines of the docs' worked examples, shared by the end-to-end and console tests."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

EXAMPLES = Path(__file__).resolve().parent.parent / "docs" / "examples" / "claims"

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


def hnb_claim_file(root: Path, name: str, days_later: int = 0, **exclusions: bool) -> Path:
    """The HNB example (docs/examples/claims/hnb.json) under a new claim id, written to
    ``root/name``; ``days_later``: another incident, that many days after the
    example's (two or more: not on a paid or held-back incident's JST day or the day
    either side, which HNB-L2's near_days sends to REVIEW)."""
    d = json.loads((EXAMPLES / "hnb.json").read_text())
    d["claimId"] = str(uuid.uuid4())
    d["exclusions"].update(exclusions)
    if days_later:
        incident = d["ibTransfer"]
        for name_at in ("fraudAt", "notifiedBankAt", "policeConsultedAt"):
            at = datetime.fromisoformat(incident[name_at]) + timedelta(days=days_later)
            incident[name_at] = at.isoformat()
    path = root / name
    path.write_text(json.dumps(d, ensure_ascii=False))
    return path
