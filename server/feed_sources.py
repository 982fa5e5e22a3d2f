"""The live feeds ``anshin releases refresh`` fetches: where, which documents, which parser.

Each :class:`FeedSource` names its documents under a **base URL** (the
public one by default; a mirror or a local replay with ``--base-url
SOURCE=URL`` or ``ANSHIN_FEED_BASE_URLS``) and turns their bodies into
release data with the same pure parsers the offline import uses
(server/release_feeds.py, server/release_import.py, server/eol_api.py).
How the documents are fetched is :meth:`FeedSource.fetch`, given a GET
function: everything here but that call is pure.

| source | default base URL | documents | products |
|---|---|---|---|
| ``bcd`` | ``https://unpkg.com/@mdn/browser-compat-data`` | ``data.json`` (the npm package's whole data, ``__meta`` + ``browsers`` read) | chrome, edge, firefox, safari |
| ``chrome`` | ``https://versionhistory.googleapis.com/v1/chrome/platforms/win/channels/stable/versions/all/releases`` | ``?pageSize=1000``, then ``&pageToken=…`` while there is a ``nextPageToken`` | chrome |
| ``mozilla`` | ``https://product-details.mozilla.org/1.0`` | the three ``firefox_*.json`` | firefox |
| ``eol-release-data`` | ``https://raw.githubusercontent.com/endoflife-date/release-data/main/releases`` | ``ios.json``, ``ipados.json``, ``macos.json`` | ios, ipados, macos (every build) |
| ``eol`` | ``https://endoflife.date/api/v1/products`` | ``<product>/`` (API v1 JSON) | android, firefox, ios, ipados, macos, windows (cycles, ends of support) |
"""  # noqa: E501

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final
from urllib.parse import quote

from checks.releases import ProductReleases
from server.eol_api import parse_eol_api_product
from server.feed_http import Fetched, Validators
from server.release_feeds import (
    collect_versionhistory_pages,
    decode_json,
    eol_product_releases,
    parse_bcd_browsers,
    parse_eol_release_data,
)
from server.release_import import (
    MOZILLA_FILES,
    MOZILLA_MAJOR,
    MOZILLA_STABILITY,
    MOZILLA_VERSIONS,
    chrome_product_from_pages,
    parse_mozilla_product_details,
)

__all__ = [
    "SOURCES",
    "SOURCE_ORDER",
    "FeedSource",
    "FetchedSource",
    "GetFn",
]

#: A GET: (url, validators or None) -> Fetched (raises FeedHttpError).
GetFn = Callable[[str, Validators | None], Fetched]


@dataclass(frozen=True, slots=True)
class FetchedSource:
    """The documents of one fetch.

    ``bodies`` maps document URL -> body for every document answered 200;
    ``validators`` the validators to remember per URL; ``unchanged`` the URLs
    answered 304. ``not_modified`` when nothing changed at all.
    """

    bodies: Mapping[str, bytes] = field(default_factory=dict)
    validators: Mapping[str, Validators] = field(default_factory=dict)
    unchanged: tuple[str, ...] = ()
    requests: int = 0

    @property
    def not_modified(self) -> bool:
        return not self.bodies


@dataclass(frozen=True, slots=True)
class FeedSource:
    """One live feed: its documents under a base URL and how they become products.

    ``independent``: each document is a product of its own (endoflife.date),
    so a 304 for one and a 200 for another parses just the changed one.
    Otherwise the documents are read together (Mozilla's three files): if
    any changed, the 304 ones are fetched again unconditionally.
    """

    name: str
    summary: str
    default_base: str
    products: tuple[str, ...]
    documents: Callable[[str], tuple[str, ...]]
    parse: Callable[[Mapping[str, bytes]], tuple[ProductReleases, ...]]
    independent: bool = False
    paginated: bool = False

    def provenance(self, base: str) -> str:
        """The ``sources`` line a refreshed product carries (one per feed and URL, no date:
        the evidence date is the file's ``as_of``, and a dated line would pile up)."""
        return f"{self.summary}: {base.rstrip('/')} (anshin releases refresh)"

    def fetch(self, get: GetFn, base: str, cached: Mapping[str, Validators]) -> FetchedSource:
        urls = self.documents(base.rstrip("/"))
        if self.paginated:
            return _fetch_pages(get, urls[0], cached)
        first = {url: get(url, cached.get(url)) for url in urls}
        requests = len(first)
        unchanged = tuple(url for url, f in first.items() if f.not_modified)
        if len(unchanged) == len(urls):
            return FetchedSource(unchanged=unchanged, requests=requests)
        bodies = {url: f.body for url, f in first.items() if not f.not_modified}
        validators = {url: f.validators for url, f in first.items() if not f.not_modified}
        if not self.independent:
            for url in unchanged:  # read together: need every body
                again = get(url, None)
                requests += 1
                bodies[url], validators[url] = again.body, again.validators
            unchanged = ()
        return FetchedSource(bodies, validators, unchanged, requests)


def _fetch_pages(get: GetFn, first_url: str, cached: Mapping[str, Validators]) -> FetchedSource:
    """VersionHistory: a conditional GET of page 1; if it changed, every page after it.

    Only page 1 is asked conditionally: the listing is newest first, so an
    unchanged first page means an unchanged listing, and later pages are
    fetched whole whenever the first changed.
    """
    first = get(first_url, cached.get(first_url))
    if first.not_modified:
        return FetchedSource(unchanged=(first_url,), requests=1)
    pages: dict[str, bytes] = {first_url: first.body}
    sep = "&" if "?" in first_url else "?"

    def fetch_page(token: str | None) -> bytes:
        if token is None:
            return first.body
        url = f"{first_url}{sep}pageToken={quote(token, safe='')}"
        pages[url] = get(url, None).body
        return pages[url]

    collect_versionhistory_pages(fetch_page, origin=first_url)  # follows and checks the tokens
    return FetchedSource(pages, {first_url: first.validators}, (), len(pages))


# --------------------------------------------------------------------------- parsers (pure)


def _parse_bcd(bodies: Mapping[str, bytes]) -> tuple[ProductReleases, ...]:
    ((url, body),) = bodies.items()
    return parse_bcd_browsers(body, origin=url)


def _parse_chrome(bodies: Mapping[str, bytes]) -> tuple[ProductReleases, ...]:
    notes: list[str] = []
    pages = [(url, decode_json(body, url)) for url, body in bodies.items()]
    return (chrome_product_from_pages(pages, notes),)


def _by_name(bodies: Mapping[str, bytes], name: str) -> tuple[str, bytes]:
    for url, body in bodies.items():
        if url.rstrip("/").rsplit("/", 1)[-1] == name:
            return url, body
    raise ValueError(f"missing document {name}")


def _parse_mozilla(bodies: Mapping[str, bytes]) -> tuple[ProductReleases, ...]:
    docs = {}
    for name in MOZILLA_FILES:
        url, body = _by_name(bodies, name)
        docs[name] = decode_json(body, url)
    return (
        parse_mozilla_product_details(
            docs[MOZILLA_MAJOR], docs[MOZILLA_STABILITY], docs[MOZILLA_VERSIONS]
        ),
    )


def _product_of(url: str) -> str:
    return url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".json")


def _parse_eol_release_data(bodies: Mapping[str, bytes]) -> tuple[ProductReleases, ...]:
    return tuple(
        parse_eol_release_data(body, product=_product_of(url), origin=url)
        for url, body in bodies.items()
    )


def _parse_eol_api(bodies: Mapping[str, bytes]) -> tuple[ProductReleases, ...]:
    return tuple(
        eol_product_releases(parse_eol_api_product(body, product=_product_of(url), origin=url))
        for url, body in bodies.items()
    )


def _each(names: Sequence[str], template: str) -> Callable[[str], tuple[str, ...]]:
    return lambda base: tuple(template.format(base=base, name=n) for n in names)


_EOL_RELEASE_DATA_PRODUCTS: Final = ("ios", "ipados", "macos")
_EOL_API_PRODUCTS: Final = ("android", "firefox", "ios", "ipados", "macos", "windows")

SOURCES: Final[Mapping[str, FeedSource]] = {
    s.name: s
    for s in (
        FeedSource(
            "bcd",
            "MDN browser-compat-data (npm @mdn/browser-compat-data data.json)",
            "https://unpkg.com/@mdn/browser-compat-data",
            ("chrome", "edge", "firefox", "safari"),
            _each(("data.json",), "{base}/{name}"),
            _parse_bcd,
        ),
        FeedSource(
            "chrome",
            "Chrome VersionHistory API, Windows stable, every page",
            "https://versionhistory.googleapis.com/v1/chrome/platforms/win/channels/stable/"
            "versions/all/releases",
            ("chrome",),
            lambda base: (f"{base}?pageSize=1000",),
            _parse_chrome,
            paginated=True,
        ),
        FeedSource(
            "mozilla",
            "Mozilla product-details (firefox_*.json)",
            "https://product-details.mozilla.org/1.0",
            ("firefox",),
            _each(MOZILLA_FILES, "{base}/{name}"),
            _parse_mozilla,
        ),
        FeedSource(
            "eol-release-data",
            "endoflife.date release-data releases/<product>.json (every Apple OS build)",
            "https://raw.githubusercontent.com/endoflife-date/release-data/main/releases",
            _EOL_RELEASE_DATA_PRODUCTS,
            _each(_EOL_RELEASE_DATA_PRODUCTS, "{base}/{name}.json"),
            _parse_eol_release_data,
            independent=True,
        ),
        FeedSource(
            "eol",
            "endoflife.date API v1 products/<product> (release cycles, ends of support)",
            "https://endoflife.date/api/v1/products",
            _EOL_API_PRODUCTS,
            _each(_EOL_API_PRODUCTS, "{base}/{name}/"),
            _parse_eol_api,
            independent=True,
        ),
    )
}

#: The order a refresh applies them: browsers first (what HNB-P1 reads most),
#: every-build Apple data before the coarser endoflife.date cycles.
SOURCE_ORDER: Final = ("bcd", "chrome", "mozilla", "eol-release-data", "eol")
