"""server/parent_watch.py with real processes: a child notices its parent's death."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

# The parent starts a child that watches it and writes a mark when it is gone.
PARENT = """
import subprocess, sys, time
child = subprocess.Popen([sys.executable, "-c", sys.argv[1], sys.argv[2]])
print(child.pid, flush=True)
time.sleep(60)
"""
CHILD = """
import os, sys, time
from server.parent_watch import watch_parent
mark = sys.argv[1]
def gone():
    open(mark, "w").write(str(os.getppid()))
    os._exit(0)
watch_parent(gone, interval=0.05)
time.sleep(60)
"""


def test_a_child_learns_of_its_parents_death_and_only_then(tmp_path: Path) -> None:
    mark = tmp_path / "gone"
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, CHILD, str(mark)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    child = 0
    try:
        assert parent.stdout is not None
        child = int(parent.stdout.readline())
        time.sleep(0.5)  # ten watch intervals with the parent alive
        assert not mark.exists()
        parent.send_signal(signal.SIGKILL)
        parent.wait(timeout=10)
        deadline = time.monotonic() + 10
        while not mark.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert mark.exists(), "the child did not notice"
        assert int(mark.read_text()) != parent.pid
    finally:
        if parent.poll() is None:
            parent.kill()
        if child:
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGKILL)
