"""Fetching one release feed document over HTTPS, politely and within bounds.

The I/O edge of ``anshin releases refresh`` (server/release_refresh.py): a
GET with

* **timeouts** on connect and on each read, so a feed that stops answering
  cannot hang a refresh (or the server's background task);
* **bounded retries** with exponential backoff and jitter on what is worth
  retrying: connection errors, timeouts, broken transfers, 5xx and 429; a
  ``Retry-After`` is honoured up to a cap (a feed asking for an hour does
  not park the refresh for an hour); other 4xx are final;
* **conditional requests**: the ``ETag`` / ``Last-Modified`` of the last
  good fetch go out as ``If-None-Match`` / ``If-Modified-Since``, and a 304
  is reported as such (the caller skips parsing and writing);
* **a size cap** on the decoded body, checked while streaming (a huge or
  endless response, or a decompression bomb, is cut off, not buffered);
* **HTTPS only**, except for loopback addresses (tests and a local replay):
  a redirect to plain HTTP elsewhere is refused too.

The clock and the sleep are injected so tests can check the waits without
waiting them.
"""

from __future__ import annotations

import email.utils
import logging
import random
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import httpx

__all__ = [
    "FeedFetcher",
    "FeedHttpError",
    "FetchPolicy",
    "Fetched",
    "Validators",
    "retry_after_seconds",
]

# httpx logs every request at INFO; a refresh logs one line per source with
# what it fetched and what came of it (server/refresh_task.py), which is the
# line an operator needs. Failures still reach the log through those lines.
logging.getLogger("httpx").setLevel(logging.WARNING)

#: Hosts that may be fetched over plain HTTP (a local replay server, a test).
LOOPBACK_HOSTS: Final = frozenset({"127.0.0.1", "::1", "[::1]", "localhost"})
USER_AGENT: Final = "anshin-release-refresh/1 (+https://github.com/; release-history data)"


@dataclass(frozen=True, slots=True)
class FetchPolicy:
    """How hard to try. Defaults suit public feeds fetched a few times a day."""

    connect_timeout: float = 10.0
    read_timeout: float = 30.0  # between bytes, not for the whole body
    # The whole body, however it trickles: a server sending a byte a second
    # never trips the read timeout, and would hold the refresh (and the next
    # one, behind its lock) for as long as it liked.
    body_deadline: float = 300.0
    attempts: int = 4  # first try + 3 retries
    backoff: float = 1.0  # seconds before the first retry; doubles, with jitter
    max_backoff: float = 30.0
    retry_after_cap: float = 60.0  # longest Retry-After honoured
    max_bytes: int = 64 * 1024 * 1024  # bcd's data.json is ~15 MB decoded

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("attempts must be at least 1")
        if self.max_bytes < 1:
            raise ValueError("max_bytes must be positive")


@dataclass(frozen=True, slots=True)
class Validators:
    """What the server said identifies the body it sent (for the next conditional GET)."""

    etag: str | None = None
    last_modified: str | None = None

    def headers(self) -> dict[str, str]:
        out = {}
        if self.etag:
            out["If-None-Match"] = self.etag
        if self.last_modified:
            out["If-Modified-Since"] = self.last_modified
        return out

    def to_dict(self) -> dict[str, str]:
        return {k: v for k, v in (("etag", self.etag), ("last_modified", self.last_modified)) if v}

    @classmethod
    def from_dict(cls, d: Mapping[str, object]) -> Validators:
        etag, modified = d.get("etag"), d.get("last_modified")
        return cls(
            etag if isinstance(etag, str) else None,
            modified if isinstance(modified, str) else None,
        )


@dataclass(frozen=True, slots=True)
class Fetched:
    """One answered GET: 200 with a body, or 304 (``not_modified``, empty body)."""

    url: str
    status: int
    body: bytes
    validators: Validators
    attempts: int

    @property
    def not_modified(self) -> bool:
        return self.status == 304


class FeedHttpError(Exception):
    """A document could not be fetched (after the retries the policy allows)."""

    def __init__(self, url: str, message: str, *, attempts: int = 1) -> None:
        super().__init__(
            f"{url}: {message}" + (f" (after {attempts} attempts)" if attempts > 1 else "")
        )
        self.url = url
        self.attempts = attempts


class _Retryable(Exception):
    def __init__(self, message: str, wait: float | None = None) -> None:
        super().__init__(message)
        self.wait = wait


def retry_after_seconds(value: str | None, now: datetime) -> float | None:
    """``Retry-After`` in seconds from ``now`` (delta-seconds or an HTTP date); None if unusable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - now).total_seconds())


def _check_scheme(url: httpx.URL) -> None:
    if url.scheme == "https":
        return
    if url.scheme == "http" and url.host in LOOPBACK_HOSTS:
        return
    raise FeedHttpError(str(url), "refused: release feeds are fetched over HTTPS only")


class FeedFetcher:
    """GETs with the :class:`FetchPolicy`; one client (connection pool) per fetcher."""

    def __init__(
        self,
        policy: FetchPolicy = FetchPolicy(),
        *,
        transport: httpx.BaseTransport | None = None,
        sleep: Callable[[float], None] = time.sleep,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        jitter: Callable[[], float] = random.random,
    ) -> None:
        self.policy = policy
        self._sleep = sleep
        self._now = now
        self._jitter = jitter
        self._client = httpx.Client(
            timeout=httpx.Timeout(
                policy.read_timeout, connect=policy.connect_timeout, pool=policy.connect_timeout
            ),
            follow_redirects=True,
            max_redirects=5,
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
            transport=transport,
            # Every hop of a redirect goes through the scheme check.
            event_hooks={"request": [lambda request: _check_scheme(request.url)]},
            trust_env=True,  # HTTPS_PROXY / SSL_CERT_FILE, as the operator's environment says
        )

    def close(self) -> None:
        self._client.close()

    def __enter__(self) -> FeedFetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def get(self, url: str, validators: Validators | None = None) -> Fetched:
        """GET ``url``, conditionally when ``validators`` are given (:class:`FeedHttpError`)."""
        _check_scheme(httpx.URL(url))
        headers = validators.headers() if validators is not None else {}
        policy = self.policy
        for attempt in range(1, policy.attempts + 1):
            try:
                return self._once(url, headers, attempt)
            except _Retryable as exc:
                if attempt == policy.attempts:
                    raise FeedHttpError(url, str(exc), attempts=attempt) from None
                self._sleep(self._wait(attempt, exc.wait))
        raise AssertionError("unreachable")  # pragma: no cover

    def _wait(self, attempt: int, retry_after: float | None) -> float:
        policy = self.policy
        if retry_after is not None:
            return min(retry_after, policy.retry_after_cap)
        base = min(policy.backoff * 2 ** (attempt - 1), policy.max_backoff)
        return float(base * (0.5 + 0.5 * self._jitter()))  # "equal jitter": at least half

    def _once(self, url: str, headers: Mapping[str, str], attempt: int) -> Fetched:
        try:
            with self._client.stream("GET", url, headers=headers) as response:
                status = response.status_code
                if status == 304:
                    return Fetched(url, 304, b"", _validators(response), attempt)
                if status == 429 or status >= 500:
                    wait = retry_after_seconds(response.headers.get("Retry-After"), self._now())
                    raise _Retryable(f"HTTP {status}", wait)
                if status != 200:
                    raise FeedHttpError(url, f"HTTP {status}", attempts=attempt)
                body = self._read_capped(url, response)
                return Fetched(str(response.url), 200, body, _validators(response), attempt)
        except httpx.TimeoutException as exc:
            raise _Retryable(f"timed out ({type(exc).__name__})") from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            # Connection refused or reset, a transfer cut short, a corrupt
            # gzip stream: the network's fault, worth another try.
            raise _Retryable(f"{type(exc).__name__}: {exc}") from None
        except httpx.TooManyRedirects:
            raise FeedHttpError(url, "too many redirects", attempts=attempt) from None

    def _read_capped(self, url: str, response: httpx.Response) -> bytes:
        cap = self.policy.max_bytes
        declared = response.headers.get("Content-Length")
        if (
            declared is not None
            and declared.isdigit()
            and int(declared) > cap
            and ("Content-Encoding" not in response.headers)
        ):
            raise FeedHttpError(
                url, f"response of {declared} bytes is larger than the {cap}-byte cap"
            )
        chunks: list[bytes] = []
        size = 0
        deadline = time.monotonic() + max(self.policy.body_deadline, self.policy.read_timeout)
        for chunk in response.iter_bytes():  # decoded: the cap bounds what is held in memory
            if time.monotonic() > deadline:
                raise FeedHttpError(
                    url,
                    f"response still arriving after {self.policy.body_deadline:g} s: cut off",
                )
            size += len(chunk)
            if size > cap:
                raise FeedHttpError(url, f"response larger than the {cap}-byte cap: cut off")
            chunks.append(chunk)
        return b"".join(chunks)


def _validators(response: httpx.Response) -> Validators:
    return Validators(response.headers.get("ETag"), response.headers.get("Last-Modified"))
