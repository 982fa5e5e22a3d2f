"""The version of this Anshin, as installed: the package metadata, read once.

``anshin --version``, GetStatus and the start-up log line all print this one
value, so an operator can match a server to the client that talks to it.
"""

from __future__ import annotations

from functools import cache
from importlib import metadata

UNKNOWN = "0+unknown"  # a source tree run without `pip install -e .`


@cache
def version() -> str:
    """The installed distribution's version (``0.1.0``), or ``0+unknown``."""
    try:
        return metadata.version("anshin")
    except metadata.PackageNotFoundError:
        return UNKNOWN
