"""What the recorded events say about a customer now: coverage periods,
security-standard judgements, dark-web alerts (EventService's Get* calls).

Each is derived as a claim derives it (server/usecases/claim_facts.py), so a
caller sees what a claim would see.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

import orjson

from checks import event_model as em
from checks.coverage import Coverage, MonitoringState, monitoring_state, policy_coverage
from server.clock import to_us
from server.errors import InvalidArgument
from server.ruleset_holder import RulesHolder
from server.store.ports import EventLog
from server.wire.events import Event, event_from_payload


class EventQueries:
    def __init__(self, store: EventLog, rules: RulesHolder) -> None:
        self._store = store
        self._rules = rules

    async def _events(self, customer: str, kinds: Sequence[str], as_of: datetime) -> list[Event]:
        rows = await self._store.events_of(customer, kinds, to_us(as_of))
        return [event_from_payload(kind, orjson.loads(payload)) for kind, payload in rows]

    async def coverage(self, customer: str, policy_id: str, as_of: datetime) -> Coverage:
        """The policy's coverage periods, built from the events its ``[cover]``
        names, with the start delay applied (JPE-P1), and the events that might
        have given cover but cannot be judged; none for a policy no clause of
        which reads one."""
        policies = self._rules.current.policies.policies
        policy = policies.get(policy_id)
        if policy is None:
            raise InvalidArgument.of("policy_id", f"one of {', '.join(sorted(policies))}")
        if policy.cover is None:
            return Coverage(())
        kinds = tuple(kind for kind, _ in policy.cover.reads)
        events = await self._events(customer, kinds, as_of)
        acts = [e for e in events if isinstance(e, em.Activation)]
        enrols = [e for e in events if isinstance(e, em.Enrolment) and e.policy_id == policy.id]
        return policy_coverage(policy.cover, acts, enrols, as_of)

    async def security_standard(
        self, customer: str, service: str, token: str, before: datetime
    ) -> tuple[list[bytes], list[bytes]]:
        """The stored acks (as sent) of the registrations of the service's
        instrument (any instrument without ``token``) and of the logins to it,
        before ``before``: exactly that service and instrument, as a claim
        reads them (tests/claims/test_event_query_agreement.py)."""
        return await self._store.security_replies(customer, service, token, to_us(before))

    async def alerts(self, customer: str, card_token: str, before: datetime) -> MonitoringState:
        events = [
            e
            for e in await self._events(customer, ("monitoring",), before)
            if isinstance(e, em.MonitoringEvent)
        ]
        return monitoring_state(events, card_token, before - timedelta(microseconds=1))
