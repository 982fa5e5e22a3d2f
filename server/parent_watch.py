"""Child processes that do not outlive the process that started them.

A parent killed with SIGKILL (the OOM killer, ``kill -9``, a crashed
supervisor) runs no clean-up: its bulk-ingestion workers would wait forever
on a queue nobody writes, and the serving workers of ``serve --workers N``
would go on answering on the shared port next to whatever replaces them.
Each such child watches its parent and stops when it is gone. The parent's
pid is compared rather than relying on EOF of a pipe (a spawned pool worker
holds both ends of its queue) or on Linux's PR_SET_PDEATHSIG (tied to the
parent *thread* that started the child).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

DEFAULT_INTERVAL = 0.5


def watch_parent(
    on_parent_gone: Callable[[], None],
    parent_pid: int | None = None,
    interval: float = DEFAULT_INTERVAL,
) -> threading.Thread:
    """Call ``on_parent_gone`` (once, on a daemon thread) when ``parent_pid``
    is no longer this process's parent: it died and the child was re-parented."""
    parent = os.getppid() if parent_pid is None else parent_pid
    stop = threading.Event()

    def watch() -> None:
        while not stop.wait(interval):
            if os.getppid() != parent:
                on_parent_gone()
                return

    thread = threading.Thread(target=watch, name="parent-watch", daemon=True)
    thread.start()
    return thread
