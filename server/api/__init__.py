"""The gRPC edge: servicers and the request guard, nothing else (docs/architecture.md).

Each servicer converts its request (``server.wire``), calls a use case
(``server.usecases``) and returns the reply; errors become gRPC statuses in
one place, ``status.py``, called by the guard (``interceptors.py``). Only the
composition root (``server/main.py``) imports this package.
"""
