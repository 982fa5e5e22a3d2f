"""anshin.v1.PostureService: request → wire → use case → reply."""

from __future__ import annotations

from anshin.v1 import posture_pb2, posture_pb2_grpc
from server.clock import Clock
from server.usecases.check_login import CheckLogin
from server.wire import posture as wire


class PostureService(posture_pb2_grpc.PostureServiceServicer):
    def __init__(self, check_login: CheckLogin, clock: Clock) -> None:
        self._check_login = check_login
        self._clock = clock

    async def CheckLogin(
        self, request: posture_pb2.CheckLoginRequest, context: object
    ) -> posture_pb2.CheckLoginResponse:
        now = self._clock()
        return await self._check_login(wire.login_facts(request, now), now)

    async def GetPosture(
        self, request: posture_pb2.GetPostureRequest, context: object
    ) -> posture_pb2.GetPostureResponse:
        customer, as_of, lookback = wire.posture_query(request, self._clock())
        records = await self._check_login.latest_postures(customer, as_of, lookback)
        return wire.device_postures(records)
