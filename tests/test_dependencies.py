"""What a fresh machine installs: the lock, the declared minimums, the generated code.

The generated gRPC / protobuf modules refuse to import on a runtime older than
the tools that wrote them (``GRPC_GENERATED_VERSION``, the protobuf runtime
check), so pyproject's minimums must be at least those versions, or an install
that honours pyproject breaks at import. The lock must satisfy pyproject, and
the venv must hold exactly the lock.
"""

from __future__ import annotations

import re
import shutil
import tomllib
from importlib import metadata
from pathlib import Path

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.utils import canonicalize_name
from packaging.version import Version

from server import protogen

ROOT = Path(__file__).resolve().parent.parent
GENERATED = ROOT / "proto" / "anshin" / "v1"


def declared() -> dict[str, Requirement]:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    reqs = [Requirement(r) for r in project["dependencies"]]
    reqs += [Requirement(r) for extra in project["optional-dependencies"].values() for r in extra]
    return {canonicalize_name(r.name): r for r in reqs}


def minimum(spec: SpecifierSet) -> Version | None:
    """The lowest version a specifier admits through a ``>=``/``==``/``~=`` bound."""
    bounds = [Version(s.version) for s in spec if s.operator in (">=", "==", "~=")]
    return max(bounds) if bounds else None


def admits_older_than(spec: SpecifierSet, needed: Version) -> bool:
    low = minimum(spec)
    return low is None or low < needed


def generated_grpc_versions() -> set[Version]:
    found = set()
    for path in GENERATED.glob("*_pb2_grpc.py"):
        m = re.search(r"^GRPC_GENERATED_VERSION = '([^']+)'", path.read_text(), re.M)
        assert m, f"{path.name}: no GRPC_GENERATED_VERSION"
        found.add(Version(m.group(1)))
    return found


def generated_protobuf_versions() -> set[Version]:
    found = set()
    for path in GENERATED.glob("*_pb2.py"):
        m = re.search(
            r"ValidateProtobufRuntimeVersion\(\s*_runtime_version\.Domain\.PUBLIC,"
            r"\s*(\d+),\s*(\d+),\s*(\d+),",
            path.read_text(),
        )
        assert m, f"{path.name}: no protobuf runtime check"
        found.add(Version(".".join(m.groups())))
    return found


def locked() -> dict[str, tuple[Version, Marker | None]]:
    """name → (version, environment marker) from requirements.lock."""
    pins: dict[str, tuple[Version, Marker | None]] = {}
    for line in (ROOT / "requirements.lock").read_text().splitlines():
        if not line or line[0] in " #\t-":
            continue
        req = Requirement(line.rstrip(" \\"))
        (spec,) = list(req.specifier)
        assert spec.operator == "==", f"lock line not pinned: {line}"
        pins[canonicalize_name(req.name)] = (Version(spec.version), req.marker)
    return pins


# -- the declared minimums are true ----------------------------------------------


def test_declared_grpcio_minimum_is_what_the_generated_code_needs() -> None:
    needed = max(generated_grpc_versions())
    spec = declared()["grpcio"].specifier
    assert not admits_older_than(spec, needed), (
        f"generated code needs grpcio>={needed}; pyproject declares grpcio{spec}"
    )


def test_declared_protobuf_minimum_is_what_the_generated_code_needs() -> None:
    needed = max(generated_protobuf_versions())
    spec = declared()["protobuf"].specifier
    assert not admits_older_than(spec, needed), (
        f"generated code needs protobuf>={needed}; pyproject declares protobuf{spec}"
    )


@pytest.mark.parametrize(
    ("spec", "needed", "too_low"),
    [
        (">=1.66", "1.85.1", True),  # the false minimum this test exists for
        (">=1.85.0", "1.85.1", True),
        (">=1.85.1", "1.85.1", False),
        (">=1.86", "1.85.1", False),
        ("", "1.85.1", True),  # no lower bound at all
    ],
)
def test_minimum_comparison_on_both_sides(spec: str, needed: str, too_low: bool) -> None:
    assert admits_older_than(SpecifierSet(spec), Version(needed)) is too_low


# -- the lock satisfies pyproject, and the venv is the lock ----------------------


def test_every_declared_dependency_is_locked_within_its_range() -> None:
    pins = locked()
    for name, req in declared().items():
        assert name in pins, f"{name} is declared but not locked (run `make lock`)"
        version, _ = pins[name]
        assert req.specifier.contains(version, prereleases=True), (
            f"lock pins {name}=={version}, outside pyproject's {req.specifier} (run `make lock`)"
        )


def test_the_environment_holds_exactly_the_locked_versions() -> None:
    for name, (version, marker) in locked().items():
        if marker is not None and not marker.evaluate():
            continue
        try:
            installed = Version(metadata.version(name))
        except metadata.PackageNotFoundError:
            pytest.fail(f"{name}=={version} is locked but not installed (run `make test`)")
        assert installed == version, f"{name}: installed {installed}, locked {version}"


# What a venv holds besides the lock: the project itself and the venv's own pip.
NOT_LOCKED = {"anshin", "pip"}


def test_the_environment_holds_nothing_but_the_lock() -> None:
    """A package pip-installed by hand would make the suite pass on one machine only."""
    pins = locked()
    extra = sorted(
        name
        for dist in metadata.distributions()
        if (name := canonicalize_name(dist.metadata["Name"])) not in pins
        and name not in NOT_LOCKED
    )
    assert not extra, f"installed but not locked: {extra} (rebuild the venv: make clean test)"


# -- the staleness check: stamps aside, code compared ----------------------------


def test_a_moved_version_stamp_is_not_staleness() -> None:
    text = (GENERATED / "posture_pb2_grpc.py").read_text()
    bumped = re.sub(r"GRPC_GENERATED_VERSION = '[^']+'", "GRPC_GENERATED_VERSION = '9.99.9'", text)
    assert bumped != text
    assert protogen.without_stamps(bumped) == protogen.without_stamps(text)
    pb2 = (GENERATED / "common_pb2.py").read_text()
    bumped_pb2 = re.sub(
        r"(Domain\.PUBLIC,\s*)\d+,\s*\d+,\s*\d+,", r"\g<1>8,\n    1,\n    2,", pb2
    )
    bumped_pb2 = re.sub(r"(# Protobuf Python Version: ).*", r"\g<1>8.1.2", bumped_pb2)
    assert bumped_pb2 != pb2
    assert protogen.without_stamps(bumped_pb2) == protogen.without_stamps(pb2)


def test_code_beside_a_stamp_is_still_staleness() -> None:
    text = (GENERATED / "posture_pb2_grpc.py").read_text()
    injected = re.sub(
        r"GRPC_GENERATED_VERSION = ('[^']+')",
        r"GRPC_GENERATED_VERSION = \1; import os",
        text,
    )
    assert injected != text
    assert protogen.without_stamps(injected) != protogen.without_stamps(text)


def test_a_changed_service_name_is_still_staleness() -> None:
    text = (GENERATED / "posture_pb2_grpc.py").read_text()
    changed = text.replace("PostureService", "PostureServise", 1)
    assert protogen.without_stamps(changed) != protogen.without_stamps(text)


def test_committed_generated_code_is_current(tmp_path: Path) -> None:
    assert protogen.check() == []


def test_a_real_proto_change_is_caught(tmp_path: Path) -> None:
    root = tmp_path / "proto"
    shutil.copytree(ROOT / "proto", root)
    common = root / "anshin" / "v1" / "common.proto"
    common.write_text(
        common.read_text() + "\nmessage AddedByTest {\n  string note = 1;\n}\n", encoding="utf-8"
    )
    assert protogen.check(root) == ["common_pb2.py", "common_pb2.pyi", "source_info.py"]
