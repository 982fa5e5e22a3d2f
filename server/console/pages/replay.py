"""Replay a period under a candidate rules directory (server/usecases/replay.py).

Who may name a path: nobody from a browser. The form offers the rules in
force and the directories the operator listed (``--console-replay-rules``)
by number; the server maps the number to the path. A replay reads the
decisions' recorded inputs, so it admits the roles QueryVerdicts admits,
and is recorded as an ``analyst_access`` entry (rpc ``Replay``) before it
runs. It runs in a child process (its CPU would otherwise stall the gRPC
event loop), on its own read-only reader of the log, one at a time."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from rules.load import load_rules
from server.clock import to_us
from server.usecases.find_verdicts import record_access
from server.usecases.replay import replay
from timing.instants import InstantError, parse_instant

from ..web import ConsoleDeps, begin, check_post, deps_of, render

SHOWN = 200  # changed cases listed on the page (the counts cover all)


def run_replay(
    db_url: str, rules_dir: str, since_us: int | None, until_us: int | None, policy: str | None
) -> dict[str, Any]:
    """In the child process: the replay's JSON document (server/cli/replay.py's shape)."""
    rules = load_rules(rules_dir)
    tally = replay(db_url, rules, since_us=since_us, until_us=until_us, policy=policy, workers=1)
    doc = tally.to_json()
    doc["rules"] = {"dir": rules_dir, "digest": rules.digest}
    return doc


class ReplayRunner:
    """One replay at a time, in one child process kept for the next."""

    def __init__(self) -> None:
        self._lock = asyncio.Lock()
        self._pool: ProcessPoolExecutor | None = None

    @property
    def busy(self) -> bool:
        return self._lock.locked()

    async def run(self, *args: Any) -> dict[str, Any]:
        async with self._lock:
            if self._pool is None:
                # Not forked from the serving process (threads, open store).
                methods = multiprocessing.get_all_start_methods()
                ctx = multiprocessing.get_context(
                    "forkserver" if "forkserver" in methods else "spawn"
                )
                self._pool = ProcessPoolExecutor(max_workers=1, mp_context=ctx)
            loop = asyncio.get_running_loop()
            result: dict[str, Any] = await loop.run_in_executor(self._pool, run_replay, *args)
            return result

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def choices(deps: ConsoleDeps) -> list[Path]:
    """The rules directories a replay may use: in force first, then the operator's."""
    current = deps.rules.current.directory
    return [Path(current), *[d for d in deps.replay_dirs if Path(d) != Path(current)]]


async def replay_page(request: Request) -> Response:
    viewer = await begin(request, "replay")
    deps = deps_of(request)
    dirs = choices(deps)
    result = None
    errors: dict[str, str] = {}
    values: dict[str, str] = {"rules": "0", "since": "", "until": "", "policy": ""}
    status = 200
    if request.method == "POST":
        form = await check_post(request, viewer)
        values = {k: str(form.get(k, "")).strip() for k in values}
        try:
            index = int(values["rules"])
            rules_dir = dirs[index]
            if index < 0:
                raise IndexError
        except (ValueError, IndexError):
            errors["rules"] = "choose one of the listed directories"
            rules_dir = dirs[0]
        bounds: dict[str, int | None] = {}
        for name in ("since", "until"):
            bounds[name] = None
            if values[name]:
                try:
                    bounds[name] = to_us(parse_instant(values[name]))
                except InstantError as exc:
                    errors[name] = str(exc)
        policy = values["policy"].upper() or None
        if policy is not None and policy not in deps.rules.current.policies.policies:
            errors["policy"] = "not a policy of the rules in force"
        runner: ReplayRunner = request.app.state.replay
        if not errors and runner.busy:
            errors["busy"] = "busy"
        if errors:
            status = 429 if "busy" in errors else 422
        else:
            await record_access(
                deps.store,
                deps.clock,
                "Replay",
                orjson.dumps(
                    {
                        "rules": str(rules_dir),
                        "since": values["since"],
                        "until": values["until"],
                        "policy": policy or "",
                    }
                ),
                "",
            )
            result = await runner.run(
                deps.db_url, str(rules_dir), bounds["since"], bounds["until"], policy
            )
    return render(
        request,
        "replay.html",
        status=status,
        viewer=viewer,
        dirs=[str(d) for d in dirs],
        values=values,
        errors=errors,
        result=result,
        shown=SHOWN,
        policies=sorted(deps.rules.current.policies.policies),
    )
