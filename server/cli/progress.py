"""The one progress display of the command line: tqdm, counting items (lines,
events, entries), drawn only when stderr is a terminal — never into a log
file or a CI transcript."""

from __future__ import annotations

import sys
from typing import Any


def progress(desc: str, *, unit: str, total: int | None = None, quiet: bool = False) -> Any:
    """A tqdm bar counting ``unit``; disabled off a terminal or with ``quiet``."""
    from tqdm import tqdm

    return tqdm(
        total=total,
        unit=f" {unit}",
        desc=desc,
        disable=quiet or not sys.stderr.isatty(),
        file=sys.stderr,
    )
