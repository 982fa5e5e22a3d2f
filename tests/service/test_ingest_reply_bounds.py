"""IngestEvents replies stay small whatever the stream held (issue 18, item 5).

The first FULL_REJECTIONS rejections are listed in full, the rest counted per
reason; the reply of a stream of 60,000 rejections reaches a default client
(4 MiB receive limit), and the stream's valid events are stored and counted.
"""

from __future__ import annotations

import uuid

import grpc

from anshin.v1 import events_pb2, events_pb2_grpc
from server.pii import contains_pan
from server.usecases.rejections import (
    FULL_REJECTIONS,
    MAX_MESSAGE_CHARS,
    MAX_REASONS,
    RejectionTally,
    reason_field,
)
from tests.conftest import RunningServer, db_rows
from tests.service.test_events_service import header, registration


def event_id() -> str:
    while contains_pan(eid := str(uuid.uuid4())):
        pass
    return eid


# --------------------------------------------------------------------------- the tally


def test_the_first_rejections_are_listed_and_the_rest_counted_per_reason() -> None:
    tally = RejectionTally()
    for i in range(FULL_REJECTIONS):
        tally.add((i, f"id-{i}", "INVALID_ARGUMENT", "header.event_time: in the future"))
    assert (len(tally.listed()), tally.counted()) == (FULL_REJECTIONS, [])  # exactly N: all listed
    tally.add((500, "x", "INVALID_ARGUMENT", "header.event_time: in the future"))
    tally.add((400, "y", "INVALID_ARGUMENT", "header.event_time: in the future; other: bad"))
    tally.add((300, "z", "ALREADY_EXISTS", "client_event_id z was already used"))
    assert len(tally.listed()) == FULL_REJECTIONS
    assert tally.total == FULL_REJECTIONS + 3
    assert tally.counted() == [
        ("INVALID_ARGUMENT", "header.event_time", 2, 400),
        ("ALREADY_EXISTS", "client_event_id", 1, 300),
    ]


def test_reasons_drop_indices_and_keys_and_are_capped() -> None:
    assert reason_field("INVALID_ARGUMENT", "exclusions[HNB-X1]: unknown") == "exclusions[]"
    assert reason_field("INVALID_ARGUMENT", "no field named") == "*"
    tally = RejectionTally(full_limit=0)
    for i in range(MAX_REASONS + 5):
        tally.add((i, "", "INVALID_ARGUMENT", f"field_{i}: bad"))
    counted = tally.counted()
    assert len(counted) == MAX_REASONS + 1  # the cap, plus one "*" for the code
    assert ("INVALID_ARGUMENT", "*", 5, MAX_REASONS) in counted


def test_a_listed_rejection_is_cut_to_a_bounded_length() -> None:
    tally = RejectionTally()
    tally.add((0, "e" * 1000, "INVALID_ARGUMENT", "a: " + "b" * 10 * MAX_MESSAGE_CHARS))
    ((_, shown_id, _, message),) = tally.listed()
    assert len(message) == MAX_MESSAGE_CHARS and len(shown_id) < 1000


# --------------------------------------------------------------------------- through a server


async def test_sixty_thousand_rejections_reach_a_default_client(server: RunningServer) -> None:
    valid = [
        events_pb2.EventEnvelope(registration=registration(header=header(eid=event_id())))
        for _ in range(50)
    ]
    bad_time = registration(header=header(eid=event_id()))
    bad_time.header.ClearField("event_time")
    messages = []
    for m in range(60):
        envs = [events_pb2.EventEnvelope() for _ in range(1000)]  # no event: rejected
        envs[0] = valid[m] if m < len(valid) else envs[0]
        if m == 7:
            envs[1] = events_pb2.EventEnvelope(registration=bad_time)
        messages.append(events_pb2.IngestEventsRequest(events=envs))
    # A default client: the 4 MiB receive limit, no options.
    async with grpc.aio.insecure_channel(server.address) as channel:
        resp = await events_pb2_grpc.EventServiceStub(channel).IngestEvents(iter(messages))
    rejected = 60 * 1000 - len(valid)
    assert (resp.accepted, resp.replayed, resp.rejected_total) == (len(valid), 0, rejected)
    assert len(resp.rejected) == FULL_REJECTIONS
    assert [r.index for r in resp.rejected] == sorted(r.index for r in resp.rejected)
    counted = {(c.code, c.field): c.count for c in resp.rejected_beyond}
    assert sum(counted.values()) == rejected - FULL_REJECTIONS
    # The one other reason is counted apart from the 59,000 empty envelopes.
    assert counted[("INVALID_ARGUMENT", "event")] == rejected - FULL_REJECTIONS - 1
    assert [f for (_, f), n in counted.items() if n == 1 and "event_time" in f]
    assert resp.ByteSize() < 64 * 1024
    stored = db_rows(server.db_url, "SELECT count(*) FROM events")[0][0]
    assert stored == len(valid)
