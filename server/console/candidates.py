"""The candidate rules directories the replay page offers (``--console-replay-rules``).

``anshin serve`` checks them at start (server/cli/serve.py): a directory
that is missing or whose rules do not load is refused then, naming the
flag, rather than found later by an analyst as a failed replay; one that
stops loading afterwards is a message on the form. A browser names one by
its number in the list; an analyst sees it by its directory's name and
rules digest, never by the server's filesystem path (``label``)."""

from __future__ import annotations

from pathlib import Path

from rules.load import RulesError, RuleSet, digest_of, load_rules


def load_candidate(directory: Path | str) -> RuleSet:
    """``load_rules``, where an unreadable file is a :class:`RulesError` too
    (the directory may have changed since the start-up check)."""
    try:
        return load_rules(directory)
    except OSError as exc:
        raise RulesError(f"{directory}: {exc.strerror or exc}") from None


def current_digest(directory: Path) -> str:
    """The digest of the directory's rules as they are now ("-": unreadable)."""
    try:
        return digest_of(directory) if directory.is_dir() else "-"
    except OSError:
        return "-"


def label(directory: Path, digest: str) -> str:
    """How the page names a rules directory: its name and its rules digest."""
    return f"{directory.name} · {digest}"


def without_paths(message: str, directory: Path) -> str:
    """A rules error as an analyst sees it: the directory by its name only."""
    return message.replace(str(directory), directory.name)
