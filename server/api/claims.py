"""anshin.v1.ClaimService: request → wire → use case (decide_claim) → reply."""

from __future__ import annotations

from anshin.v1 import claims_pb2, claims_pb2_grpc
from server.clock import Clock
from server.ruleset_holder import RulesHolder
from server.usecases.claim_form import form_for
from server.usecases.decide_claim import DecideClaim
from server.wire import claims as wire


class ClaimService(claims_pb2_grpc.ClaimServiceServicer):
    def __init__(self, decide: DecideClaim, rules: RulesHolder, clock: Clock) -> None:
        self._decide = decide
        self._rules = rules
        self._clock = clock

    async def EvaluateClaim(
        self, request: claims_pb2.EvaluateClaimRequest, context: object
    ) -> claims_pb2.EvaluateClaimResponse:
        now = self._clock()
        rules = self._rules.current  # read once: validated and decided under the same rules
        claim = wire.claim_request(request, now, rules.policies.policies)
        return await self._decide(claim, rules, now)

    async def GetClaimForm(
        self, request: claims_pb2.GetClaimFormRequest, context: object
    ) -> claims_pb2.GetClaimFormResponse:
        form = form_for(self._rules.current, request.policy_id, request.incident)
        return wire.claim_form_response(form.policy, form.incident, form.fields, form.digest)
