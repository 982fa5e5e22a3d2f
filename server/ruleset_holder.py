"""Holds the rules in force; swapped atomically on reload (last good wins)."""

from __future__ import annotations

import orjson

from rules.load import RuleSet


class RulesHolder:
    def __init__(self, rules: RuleSet) -> None:
        self._rules = rules

    @property
    def current(self) -> RuleSet:
        return self._rules

    def replace(self, rules: RuleSet) -> None:
        self._rules = rules


def rules_version_json(
    rules: RuleSet, matrix_revision: str | None, products: tuple[str, ...]
) -> bytes:
    as_of = rules.release_as_of()
    return orjson.dumps(
        {
            "digest": rules.digest,
            "matrix_revision": matrix_revision,
            "release_data": {p: as_of[p].isoformat() for p in products if p in as_of},
        }
    )
