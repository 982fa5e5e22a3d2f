"""Generate the Python protobuf / gRPC modules from ``proto/``.

The generated files are committed next to their ``.proto`` sources so that a
plain ``pip install`` needs no compiler; ``python -m server.protogen --check``
(run by the test suite) fails when they are stale.
"""

from __future__ import annotations

import argparse
import filecmp
import sys
import tempfile
from pathlib import Path

PROTO_ROOT = Path(__file__).resolve().parent.parent / "proto"
PACKAGE_DIR = PROTO_ROOT / "anshin" / "v1"
GENERATED_SUFFIXES = ("_pb2.py", "_pb2.pyi", "_pb2_grpc.py")


def _generate(out_dir: Path) -> None:
    import grpc_tools
    from grpc_tools import protoc  # dev dependency: only needed to regenerate

    well_known = Path(grpc_tools.__file__).parent / "_proto"
    sources = sorted(str(p.relative_to(PROTO_ROOT)) for p in PACKAGE_DIR.glob("*.proto"))
    args = [
        "protoc",
        f"-I{PROTO_ROOT}",
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


def check() -> list[str]:
    """Return the generated files that differ from a fresh generation."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        _generate(out)
        fresh = {p.name: p for p in generated_files(out)}
        current = {p.name: p for p in generated_files(PROTO_ROOT)}
        stale = sorted(set(fresh) ^ set(current))
        stale += [
            n
            for n in sorted(set(fresh) & set(current))
            if not filecmp.cmp(fresh[n], current[n], shallow=False)
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
    _generate(PROTO_ROOT)
    print("generated", *[p.name for p in generated_files(PROTO_ROOT)])


if __name__ == "__main__":
    main()
