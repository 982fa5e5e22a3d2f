"""Replay a period under a candidate rules directory (server/usecases/replay.py).

Who may name a path: nobody from a browser. The form offers the rules in
force and the directories the operator listed (``--console-replay-rules``)
by number; the server maps the number to the path, and the page shows each
by its name and rules digest (server/console/candidates.py). A replay reads
the decisions' recorded inputs, so it admits the roles QueryVerdicts admits,
and is recorded as an ``analyst_access`` entry (rpc ``Replay``) before it
runs; the form's own view is recorded too (rpc ``ReplayForm``), as every
page view is. It runs in a child process (its CPU would otherwise stall the
gRPC event loop), on its own read-only reader of the log, one at a time. A
candidate whose rules no longer load (edited since the start) is a message
on the form."""

from __future__ import annotations

import asyncio
import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from rules.load import RulesError
from server.clock import to_us
from server.usecases.find_verdicts import record_access
from server.usecases.replay import replay
from timing.instants import InstantError, parse_instant

from ..candidates import current_digest, label, load_candidate, without_paths
from ..web import ConsoleDeps, begin, check_post, deps_of, render

SHOWN = 200  # changed cases listed on the page (the counts cover all)


def run_replay(
    db_url: str, rules_dir: str, since_us: int | None, until_us: int | None, policy: str | None
) -> dict[str, Any]:
    """In the child process: the replay's JSON document (server/cli/replay.py's
    shape, the directory by its name); :class:`RulesError` when its rules do not load."""
    rules = load_candidate(rules_dir)
    tally = replay(db_url, rules, since_us=since_us, until_us=until_us, policy=policy, workers=1)
    doc = tally.to_json()
    doc["rules"] = {"dir": Path(rules_dir).name, "digest": rules.digest}
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


async def digest_now(deps: ConsoleDeps, directory: Path) -> str:
    """The digest of a choice's rules now: the rules in force's, or read from its files."""
    if directory == Path(deps.rules.current.directory):
        return deps.rules.current.digest
    return await asyncio.to_thread(current_digest, directory)


async def labels(deps: ConsoleDeps, dirs: list[Path]) -> list[str]:
    """Each choice by its name and digest (the first: the rules in force)."""
    return [label(d, await digest_now(deps, d)) for d in dirs]


def period_errors(bounds: dict[str, int | None]) -> dict[str, str]:
    """A reversed period is refused, as search refuses it (``until`` before ``since``)."""
    since, until = bounds.get("since"), bounds.get("until")
    if since is not None and until is not None and since > until:
        return {"until": "before since"}
    return {}


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
        errors.update(period_errors(bounds))
        policy = values["policy"].upper() or None
        if policy is not None and policy not in deps.rules.current.policies.policies:
            errors["policy"] = "not a policy of the rules in force"
        runner: ReplayRunner = request.app.state.replay
        if not errors and runner.busy:
            errors["busy"] = "busy"
        if errors:
            status = 429 if "busy" in errors else 422
        else:
            digest = await digest_now(deps, rules_dir)
            await record_access(
                deps.store,
                deps.clock,
                "Replay",
                orjson.dumps(
                    {
                        # For the auditor: the directory as the operator named it,
                        # and the digest of its rules at this replay.
                        "rules": str(rules_dir),
                        "digest": digest,
                        "since": values["since"],
                        "until": values["until"],
                        "policy": policy or "",
                    }
                ),
                "",
            )
            try:
                result = await runner.run(
                    deps.db_url, str(rules_dir), bounds["since"], bounds["until"], policy
                )
            except RulesError as exc:
                errors["rules"] = without_paths(str(exc), rules_dir)
                status = 422
    else:  # the form's own view is a page view too: recorded like every other
        await record_access(deps.store, deps.clock, "ReplayForm", b"{}", "")
    return render(
        request,
        "replay.html",
        status=status,
        viewer=viewer,
        dirs=await labels(deps, dirs),
        values=values,
        errors=errors,
        result=result,
        shown=SHOWN,
        policies=sorted(deps.rules.current.policies.policies),
    )
