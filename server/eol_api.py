"""The endoflife.date API (v1) product response, parsed into release cycles.

``GET https://endoflife.date/api/v1/products/<product>`` answers (API v1,
documented at https://endoflife.date/docs/api/v1/)::

    {"schema_version": "1.2.0", "generated_at": "...", "last_modified": "...",
     "result": {"name": "ios", "label": "Apple iOS", "category": "os",
                "releases": [{"name": "26", "codename": null, "label": "26",
                              "releaseDate": "2025-09-15",
                              "isLts": false, "ltsFrom": null,
                              "isEoas": false, "eoasFrom": null,
                              "isEol": false, "eolFrom": null,
                              "isMaintained": true,
                              "latest": {"name": "26.1", "date": "2025-11-03",
                                         "link": "..."}}, ...]}}

It is the JSON rendering of the same product page that
``server.release_feeds.parse_eol_product`` reads as YAML, so this module only
maps one shape onto the other (:class:`server.release_feeds.EolProduct`) and
:func:`server.release_feeds.eol_product_releases` turns either into release
data. Pure: bytes in, no clock, no I/O.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import Any, Final

from checks.releases import ReleaseDataError, parse_instant
from server.release_feeds import EolCycle, EolProduct, decode_json

__all__ = ["parse_eol_api_product"]

_DATE: Final = re.compile(r"^[0-9]{4}-[0-9]{2}-[0-9]{2}")
_VERSION: Final = re.compile(r"^[0-9]+(?:\.[0-9]+)*$")


def _day(origin: str, path: str, value: Any) -> datetime | None:
    """A ``YYYY-MM-DD`` (or an instant starting with one) as 00:00 UTC that day; None for null."""
    if value is None:
        return None
    if not isinstance(value, str) or _DATE.match(value) is None:
        raise ReleaseDataError(origin, path, f"not a YYYY-MM-DD date: {value!r}")
    try:
        return parse_instant(value[:10])
    except ValueError:
        raise ReleaseDataError(origin, path, f"not a calendar date: {value!r}") from None


def _flag(origin: str, path: str, value: Any) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise ReleaseDataError(origin, path, f"expected true or false, got {value!r}")
    return value


def _ended(
    origin: str, path: str, raw: Mapping[str, Any], flag: str, date: str
) -> datetime | bool | None:
    """``eolFrom`` when dated, else ``isEol`` (ended, date unknown / not ended); None: not given."""
    when = _day(origin, f"{path}.{date}", raw.get(date))
    if when is not None:
        return when
    if flag not in raw:
        return None
    return _flag(origin, f"{path}.{flag}", raw.get(flag))


def parse_eol_api_product(
    data: bytes | str, *, product: str, origin: str | None = None
) -> EolProduct:
    """The release cycles of one endoflife.date API v1 product response.

    Field by field, what the product page's front matter says:
    ``name`` -> ``releaseCycle``, ``label`` -> ``releaseLabel``,
    ``codename``, ``releaseDate``, ``eolFrom`` / ``isEol`` -> ``eol``,
    ``eoasFrom`` / ``isEoas`` -> ``eoas``, ``latest.name`` / ``latest.date``
    -> ``latest`` / ``latestReleaseDate``, ``isLts`` -> ``lts``. A response
    for another product is refused (a mirror serving the wrong file).
    Raises :class:`ReleaseDataError` naming ``origin`` and the JSON path.
    """
    origin = origin or f"endoflife.date api {product}"
    doc = decode_json(data, origin)
    if not isinstance(doc, Mapping) or not isinstance(doc.get("result"), Mapping):
        raise ReleaseDataError(origin, "result", "expected an API v1 product response")
    result = doc["result"]
    name = result.get("name")
    if name != product:
        raise ReleaseDataError(
            origin, "result.name", f"response for {name!r}, asked for {product!r}"
        )
    releases = result.get("releases")
    if not isinstance(releases, list):
        raise ReleaseDataError(origin, "result.releases", "expected an array of release cycles")
    cycles = []
    for i, raw in enumerate(releases):
        path = f"result.releases[{i}]"
        if not isinstance(raw, Mapping) or not isinstance(raw.get("name"), str):
            raise ReleaseDataError(origin, path, "expected a release cycle with a name")
        latest_raw = raw.get("latest")
        latest: str | None = None
        latest_date: datetime | None = None
        if latest_raw is not None:
            if not isinstance(latest_raw, Mapping):
                raise ReleaseDataError(origin, f"{path}.latest", "expected an object or null")
            latest_name = latest_raw.get("name")
            if latest_name is not None:
                if not isinstance(latest_name, str) or _VERSION.match(latest_name) is None:
                    raise ReleaseDataError(
                        origin, f"{path}.latest.name", f"not a dotted version: {latest_name!r}"
                    )
                latest = latest_name
            latest_date = _day(origin, f"{path}.latest.date", latest_raw.get("date"))
        label = raw.get("label")
        codename = raw.get("codename")
        eol = _ended(origin, path, raw, "isEol", "eolFrom")
        cycles.append(
            EolCycle(
                cycle=raw["name"],
                label=label if isinstance(label, str) else None,
                codename=codename if isinstance(codename, str) else None,
                release_date=_day(origin, f"{path}.releaseDate", raw.get("releaseDate")),
                eol=False if eol is None else eol,
                eoas=_ended(origin, path, raw, "isEoas", "eoasFrom"),
                latest=latest,
                latest_release_date=latest_date,
                lts=_flag(origin, f"{path}.isLts", raw.get("isLts")),
            )
        )
    title = result.get("label")
    return EolProduct(product, title if isinstance(title, str) else product, tuple(cycles))
