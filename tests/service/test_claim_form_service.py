"""ClaimService/GetClaimForm over gRPC, and `anshin claim form POLICY KIND`.

The form of every policy × incident kind comes back from the running server
exactly as the rules derive it; a bad policy or incident kind is
INVALID_ARGUMENT naming the field; the CLI prints the same questions.
"""

from __future__ import annotations

import grpc
import pytest

from anshin.v1 import claims_pb2, claims_pb2_grpc
from rules.engine import load_policies
from rules.engine.form import claim_form, incident_kinds
from server.cli import main
from tests.conftest import RunningServer

POLICIES = load_policies().policies


async def test_every_policy_and_incident_kind_has_its_form(server: RunningServer) -> None:
    stub = claims_pb2_grpc.ClaimServiceStub(server.channel)
    for pid, policy in POLICIES.items():
        for kind in incident_kinds(policy):
            resp = await stub.GetClaimForm(
                claims_pb2.GetClaimFormRequest(policy_id=pid.lower(), incident=kind)
            )
            want = claim_form(policy, kind)
            assert resp.policy_id == pid and resp.incident == kind
            assert [f.path for f in resp.fields] == [f.path for f in want]
            assert [tuple(f.clause_ids) for f in resp.fields] == [f.clause_ids for f in want]
            assert all(f.question_ja and f.if_absent and f.type for f in resp.fields)
            assert resp.rules.policies == [policy.label]


@pytest.mark.parametrize(
    ("policy_id", "incident", "field"),
    [("", "card_fraud", "policy_id"), ("KDN", "qr_payment", "incident"), ("ISA", "", "incident")],
)
async def test_bad_form_requests_are_invalid_argument_naming_the_field(
    server: RunningServer, policy_id: str, incident: str, field: str
) -> None:
    stub = claims_pb2_grpc.ClaimServiceStub(server.channel)
    with pytest.raises(grpc.aio.AioRpcError) as exc:
        await stub.GetClaimForm(
            claims_pb2.GetClaimFormRequest(policy_id=policy_id, incident=incident)
        )
    assert exc.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert field in (exc.value.details() or "")


def test_cli_claim_form_prints_the_questions(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["claim", "form", "JPE", "skimming_phishing", "--local", "--json-output"])
    out = capsys.readouterr().out
    assert code == 0
    assert "skimming_phishing.guessable_pin" in out and "JPE-N2" in out
    code = main(["claim", "form", "DCM", "qr_payment:DCM-E1", "--local"])
    out = capsys.readouterr().out
    assert code == 0
    assert "qr_payment.event_kind" in out and "DCM-X4" in out


def test_cli_claim_form_refuses_a_bad_kind(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["claim", "form", "HNB", "legal_cost", "--local"]) == 2
    printed = capsys.readouterr()
    assert "incident" in printed.out + printed.err and "ib_transfer" in printed.err
