"""Imported first by the ``anshin`` command line, before anything imports grpc.

gRPC's C core writes its own log lines to stderr (``E1207 … add_port.cc:83]
Failed to add port …``, ``ssl_transport_security.cc`` on a bad CA), around the
one line and ``hint:`` a failing command prints (server/cli/failures.py) and
between the JSON lines ``serve`` logs. The core reads ``GRPC_VERBOSITY`` and
``GRPC_TRACE`` from the environment once, when it starts, so they are set here,
at import, and only when the user has not set them: ``GRPC_VERBOSITY=ERROR``
(or ``DEBUG``) brings the core's lines back (docs/operations.md).
"""

from __future__ import annotations

import os

os.environ.setdefault("GRPC_VERBOSITY", "NONE")
os.environ.setdefault("GRPC_TRACE", "")
