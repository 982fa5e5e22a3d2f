"""One parser of instants (issue 21): text becomes an instant only through
``timing.parse_instant``, so every flag, rules file and feed accepts and
refuses the same forms.

Read from the source with ``ast``, like tests/test_architecture.py: a call of
``fromisoformat`` / ``strptime`` or an import of a date-parsing library
outside ``timing/`` fails here unless it is listed below with its reason.
"""

from __future__ import annotations

import ast
from collections import Counter

from tests.test_architecture import PACKAGES, ROOT

PARSING_CALLS = frozenset({"fromisoformat", "strptime"})
PARSING_LIBRARIES = frozenset(
    {"dateutil", "ciso8601", "iso8601", "isodate", "pendulum", "arrow", "dateparser"}
)

# (file, call as written) -> how many; each with why it is not an instant read
# from outside.
ALLOWED: dict[tuple[str, str], int] = {
    # Decoding the event payloads this service stored itself (``payload_of``
    # writes ``datetime.isoformat()`` of aware values): an exact round trip on
    # the claim path, not input from a person or a feed.
    ("server/wire/events.py", "datetime.fromisoformat"): 2,
    # A civil date (a policy's ``effective_from`` metadata), not an instant.
    ("rules/engine/load.py", "date.fromisoformat"): 1,
}


def _call_text(node: ast.Attribute) -> str:
    return f"{ast.unparse(node.value)}.{node.attr}"


def parsers_in(source: str) -> list[str]:
    """Every instant-parsing call or library import in ``source``."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Attribute) and node.attr in PARSING_CALLS:
            found.append(_call_text(node))
        elif isinstance(node, ast.Import):
            found += [a.name for a in node.names if a.name.split(".")[0] in PARSING_LIBRARIES]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            if node.module.split(".")[0] in PARSING_LIBRARIES:
                found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names if a.name in PARSING_CALLS]
    return found


def parsers_in_tree() -> Counter[tuple[str, str]]:
    found: Counter[tuple[str, str]] = Counter()
    for package in PACKAGES:
        if package == "timing":
            continue  # the one parser lives there
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            for call in parsers_in(path.read_text(encoding="utf-8")):
                found[(name, call)] += 1
    return found


def test_instants_are_parsed_only_by_timing() -> None:
    found = parsers_in_tree()
    extra = {key: n for key, n in found.items() if n > ALLOWED.get(key, 0)}
    assert not extra, (
        "parse instants with timing.parse_instant (timing/instants.py), not: "
        + ", ".join(f"{f}: {call} x{n}" for (f, call), n in sorted(extra.items()))
    )


def test_the_allow_list_has_no_stale_rows() -> None:
    found = parsers_in_tree()
    stale = {key: n for key, n in ALLOWED.items() if found.get(key, 0) < n}
    assert not stale, f"allowed parsers no longer there (shrink ALLOWED): {stale}"


def test_the_checker_sees_planted_parsers() -> None:
    planted = (
        "import datetime as dt\n"
        "from datetime import datetime\n"
        "from dateutil import parser\n"
        "import ciso8601\n"
        "from time import strptime\n"
        "a = datetime.fromisoformat(s)\n"
        "b = dt.datetime.strptime(s, '%Y')\n"
    )
    assert sorted(parsers_in(planted)) == [
        "ciso8601",
        "datetime.fromisoformat",
        "dateutil",
        "dt.datetime.strptime",
        "time.strptime",
    ]
    assert parsers_in("from timing import parse_instant\nx = parse_instant(s)\n") == []
