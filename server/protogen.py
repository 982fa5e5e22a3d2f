"""Generate the Python protobuf / gRPC modules from ``proto/``.

The generated files are committed next to their ``.proto`` sources so that a
plain ``pip install`` needs no compiler; ``python -m server.protogen --check``
(run by ``make lint``) fails when they are stale.

"Stale" means the code would differ, not the tools' version stamps: every
grpcio-tools release writes its own version into ``GRPC_GENERATED_VERSION`` and
the protobuf version it bundles into the runtime check, so comparing bytes
would fail on every patch release of the tools even though nothing generated
changed. The check compares with those stamps masked; a change to a ``.proto``
still changes the descriptors and the code, and is caught. The stamps that
*are* committed set the minimum runtime versions, which
``tests/test_dependencies.py`` holds against pyproject's declared minimums.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent.parent / "proto"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")

# The version stamps the generators write; see the module docstring. Each
# pattern matches a bare version and nothing else on its line, so that code
# slipped in beside a stamp (``GRPC_GENERATED_VERSION = '1.2.3'; import os``)
# is still a difference. A stamp newer than the declared minimums is caught by
# tests/test_dependencies.py.
_VERSION = r"[0-9]+(?:\.[0-9]+){1,3}(?:[a-z]+[0-9]*)?"
_STAMPS = (
    re.compile(rf"^(# Protobuf Python Version: ){_VERSION}$", re.M),
    re.compile(rf"^(GRPC_GENERATED_VERSION = )'{_VERSION}'$", re.M),
    re.compile(
        r"(ValidateProtobufRuntimeVersion\(\n    _runtime_version\.Domain\.PUBLIC,\n)"
        r"    [0-9]+,\n    [0-9]+,\n    [0-9]+,\n    '[a-z0-9-]*',\n"
    ),
)


def without_stamps(text: str) -> str:
    """The generated text with the generators' version stamps masked."""
    for pattern in _STAMPS:
        text = pattern.sub(r"\1<version>", text)
    return text


def _generate(proto_root: Path, out_dir: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    package_dir = proto_root / "anshin" / "v1"
    sources = sorted(str(p.relative_to(proto_root)) for p in package_dir.glob("*.proto"))
    args = [
        "protoc",
        f"-I{proto_root}",
        f"-I{well_known}",
        f"--python_out={out_dir}",
        f"--plugin=protoc-gen-mypy={Path(sys.executable).parent / 'protoc-gen-mypy'}",
        f"--mypy_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *sources,
    ]
    if protoc.main(args) != 0:
        raise SystemExit("protoc failed")


def generated_files(root: Path) -> list[Path]:
    pkg = root / "anshin" / "v1"
    return sorted(p for p in pkg.iterdir() if p.name.endswith(GENERATED_SUFFIXES))


def check(proto_root: Path = PROTO_ROOT) -> list[str]:
    """Return the generated files under ``proto_root`` that differ from a fresh
    generation of its ``.proto`` files, version stamps aside."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _generate(proto_root, out)
        fresh = {p.name: p for p in generated_files(out)}
        current = {p.name: p for p in generated_files(proto_root)}
        stale = sorted(set(fresh) ^ set(current))
        stale += [
            n
            for n in sorted(set(fresh) & set(current))
            if without_stamps(fresh[n].read_text(encoding="utf-8"))
            != without_stamps(current[n].read_text(encoding="utf-8"))
        ]
        return stale


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--check", action="store_true", help="fail if generated files are stale")
    ns = parser.parse_args()
    if ns.check:
        stale = check()
        if stale:
            print("stale generated protobuf files (run `make proto`):", *stale, sep="\n  ")
            sys.exit(1)
        print("generated protobuf files are up to date")
        return
    for p in generated_files(PROTO_ROOT):
        p.unlink()
    _generate(PROTO_ROOT, PROTO_ROOT)
    print("generated", *[p.name for p in generated_files(PROTO_ROOT)])


if __name__ == "__main__":
    main()
