"""The baseline: a grpc.aio PostureService whose CheckLogin does nothing.

Same proto, same transport, same interpreter; only the handler is empty, so
the ratio against it isolates what Anshin's work costs.
"""

from __future__ import annotations

import asyncio
import sys

import grpc

from anshin.v1 import posture_pb2, posture_pb2_grpc


class Empty(posture_pb2_grpc.PostureServiceServicer):
    async def CheckLogin(self, request, context):
        return posture_pb2.CheckLoginResponse()


async def main(listen: str) -> None:
    server = grpc.aio.server()
    posture_pb2_grpc.add_PostureServiceServicer_to_server(Empty(), server)
    server.add_insecure_port(listen)
    await server.start()
    print("ready", flush=True)
    await server.wait_for_termination()


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1]))
