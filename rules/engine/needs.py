"""What a claim's decision needs from the recorded events, as typed questions,
and the one definition of which recorded events answer each.

The engine states its needs (``rules.engine.claim_needs``: the cover events
of the policy's ``[cover]``, and what the clauses that apply to the claim
read); the store answers them through one port (``EventLog.claim_events``)
without knowing any policy. Which registration of a payment service is
judged, and which login, is decided here once: the engine's own evaluation
(``kinds/events.py``) selects with ``per_service`` / ``last_of`` from what it
was given, and the store's answer must contain what the same functions select
from every recorded event (``answer``; tests/claims/test_needs.py holds the
store to it for generated histories, on both backends).

Pure: no store, no clock. Instants are aware datetimes.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol, TypeAlias, TypeVar

from checks import event_model as em


class _Ordered(Protocol):
    def __lt__(self, other: Any, /) -> bool: ...


K = TypeVar("K", bound=_Ordered)
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class CoverEvents:
    """The ``kind`` events coverage periods are built from (``[cover]`` reads),
    up to the claim instant; ``subject`` None: every one of the kind,
    otherwise those about it (an enrolment's policy)."""

    kind: str
    subject: str | None
    up_to: datetime


@dataclass(frozen=True, slots=True)
class InstrumentRegistrations:
    """The registrations of ``instrument`` judged as of ``at``: for each payment
    service (only ``service``, when given) the first and the last at or
    before ``at`` (``per_service``). The last is the one judged (DCM-S1/S2,
    DCM-X4, KDN-X1); the first orders the services as the engine lists them."""

    instrument: str
    at: datetime
    service: str = ""


@dataclass(frozen=True, slots=True)
class LastLogins:
    """The last payment login at or before ``at`` (``last_of``) to ``service``,
    or, without one, to each service ``instrument`` was registered to at or
    before ``at`` (DCM-S3, KDN-X1)."""

    at: datetime
    service: str = ""
    instrument: str = ""


@dataclass(frozen=True, slots=True)
class CardMonitoring:
    """The dark-web monitoring events of ``card`` up to the claim instant (KDN-C0..C2)."""

    card: str
    up_to: datetime


# The recorded events a decision can read.
Event: TypeAlias = (
    em.Registration | em.PaymentLogin | em.Activation | em.MonitoringEvent | em.Enrolment
)
Need: TypeAlias = CoverEvents | InstrumentRegistrations | LastLogins | CardMonitoring


# --------------------------------------------------------------------------- the selection


def per_service(items: Iterable[tuple[str, K, T]]) -> dict[str, tuple[T, T]]:
    """service → (first, last) of its ``(service, key, item)`` by key, in the
    order of each service's first item. Keys are unique (instant, event id)."""
    spans: dict[str, tuple[K, T, K, T]] = {}
    for svc, key, item in items:
        cur = spans.get(svc)
        if cur is None:
            spans[svc] = (key, item, key, item)
            continue
        fk, fi, lk, li = cur
        if key < fk:
            fk, fi = key, item
        if lk < key:
            lk, li = key, item
        spans[svc] = (fk, fi, lk, li)
    ordered = sorted(spans.items(), key=lambda kv: kv[1][0])
    return {svc: (span[1], span[3]) for svc, span in ordered}


def last_of(items: Iterable[tuple[K, T]]) -> T | None:
    """The item of the greatest key (instant, then event id): the login judged."""
    best: tuple[K, T] | None = None
    for key, item in items:
        if best is None or best[0] < key:
            best = (key, item)
    return None if best is None else best[1]


def judged_registrations(
    items: Iterable[tuple[str, str, K, str, T]], instrument: str, at: K, service: str = ""
) -> dict[str, tuple[T, T]]:
    """``per_service`` of the ``(instrument, service, instant, event id, item)``
    of ``instrument`` at or before ``at`` (of ``service`` only, when given),
    keyed by (instant, event id). The engine passes judged records, the store
    rows of its own: instants of any one ordered type."""
    return per_service(
        (svc, (instant, event_id), item)
        for token, svc, instant, event_id, item in items
        if token == instrument and not at < instant and (not service or svc == service)
    )


# ------------------------------------------------------------------- the answer, from all events


def answer(need: Need, events: Sequence[Event]) -> list[Event]:
    """The events of one customer that answer ``need``, selected from all of
    them: what the store must return for it (in event order, each once)."""
    chosen: list[Event] = []
    if isinstance(need, CoverEvents):
        for e in events:
            if e.event_time > need.up_to:
                continue
            if (need.kind == "activation" and isinstance(e, em.Activation)) or (
                need.kind == "enrolment"
                and isinstance(e, em.Enrolment)
                and need.subject in (None, e.policy_id)
            ):
                chosen.append(e)
    elif isinstance(need, InstrumentRegistrations):
        spans = _registrations(events, need.instrument, need.at, need.service)
        chosen = [r for f, last in spans.values() for r in ((f,) if f is last else (f, last))]
    elif isinstance(need, LastLogins):
        if need.service:
            services: Iterable[str] = (need.service,)
        else:
            services = _registrations(events, need.instrument, need.at, "")
        for svc in services:
            login = last_of(
                ((e.event_time, e.client_event_id), e)
                for e in events
                if isinstance(e, em.PaymentLogin)
                and e.payment_service_id == svc
                and e.event_time <= need.at
            )
            if login is not None:
                chosen.append(login)
    else:
        chosen = [
            e
            for e in events
            if isinstance(e, em.MonitoringEvent)
            and e.card_token == need.card
            and e.event_time <= need.up_to
        ]
    return sorted(chosen, key=lambda e: (e.event_time, e.client_event_id))


def _registrations(
    events: Sequence[Event], instrument: str, at: datetime, service: str
) -> dict[str, tuple[em.Registration, em.Registration]]:
    return judged_registrations(
        (
            (e.instrument.token, e.payment_service_id, e.event_time, e.client_event_id, e)
            for e in events
            if isinstance(e, em.Registration)
        ),
        instrument,
        at,
        service,
    )
