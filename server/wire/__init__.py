"""Wire conversion: protobuf messages ⇄ domain values, pure (docs/architecture.md).

Requests become domain facts (``posture.login_facts``, ``claims.claim_request``,
``events.registration`` …) with every bad field collected into one
``InvalidArgument``; domain results become replies and the bytes the log
keeps. No I/O, no clock (the caller passes ``now``), no gRPC.
"""
