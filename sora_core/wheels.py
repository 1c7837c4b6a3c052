"""Reading a built plugin (wheel or sdist) without installing or importing it, and judging it publishable.

:func:`inspect_wheel` opens a wheel as a zip archive and reports what a registry and
``sora check`` need: name, version, licence, entry points, the particles its manifests
describe, every weight file with its size and sha256, and a list of ``problems`` (each
naming the archive member and the fix). It refuses pickle-format files anywhere in the
archive, unsafe member names, members that do not match ``RECORD``, weight directories
whose ``manifest.json`` hashes do not match, and invalid plugin manifests. Nothing here
imports torch or executes code from the archive.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import tarfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from email.message import Message
from email.parser import HeaderParser
from pathlib import Path, PurePosixPath
from typing import Any

from packaging.utils import InvalidSdistFilename, InvalidWheelFilename, parse_sdist_filename, parse_wheel_filename
from packaging.version import InvalidVersion, Version

from sora_core.discovery import PARTICLES_GROUP, parse_entry_points
from sora_core.errors import ManifestError, PackageError, WeightsError
from sora_core.manifest import MANIFEST_NAME, parse_manifest, particle_info
from sora_core.metadata import ParticleInfo
from sora_core.safe_json import load_json_bytes
from sora_core.safetensors_io import (
    CONFIG_NAME,
    INDEX_NAME,
    UNSAFE_SUFFIXES,
    looks_like_pickle,
    parse_weights_manifest,
    read_header_from,
)
from sora_core.safetensors_io import MANIFEST_NAME as WEIGHTS_MANIFEST_NAME
from sora_core.tar_safety import scan_gzip
from sora_core.text import canonical_dist_name
from sora_core.zip_safety import DEFAULT_MAX_UNPACKED, SafeZip, ZipLimits, ZipMember

__all__ = [
    "DEFAULT_MAX_UNPACKED",
    "PackageError",
    "SdistInfo",
    "WeightFile",
    "WheelInfo",
    "inspect_sdist",
    "inspect_wheel",
    "parse_package_filename",
    "sha256_of",
]

#: The largest metadata, RECORD, manifest or config member read into memory.
MAX_TEXT_MEMBER = 64 * 2**20
_PICKLE_HINT = (
    "ship weights as safetensors written by save_pretrained; convert a torch.save/pickle file once, in an "
    "environment you trust, and remove it from the package"
)
#: sha256 hex digest of every archive member, by member name.
Digests = dict[str, str]
WEIGHTS_DIR_FILES = frozenset({CONFIG_NAME, INDEX_NAME})
_MANIFEST_HINT = "regenerate it with `sora manifest DIST --write` and rebuild the wheel"


@dataclass(frozen=True)
class WeightFile:
    """One ``.safetensors`` member of a wheel."""

    path: str
    size: int
    sha256: str

    def to_dict(self) -> dict[str, Any]:
        return {"path": self.path, "size": self.size, "sha256": self.sha256}


@dataclass
class WheelInfo:
    """What a wheel declares and holds, and every reason it is not publishable."""

    path: Path
    filename: str
    name: str
    version: str
    sha256: str
    summary: str | None = None
    license: str | None = None
    requires_python: str | None = None
    requires_dist: list[str] = field(default_factory=list)
    entry_points: dict[str, dict[str, str]] = field(default_factory=dict)
    particles: list[ParticleInfo] = field(default_factory=list)
    kinds: list[dict[str, Any]] = field(default_factory=list)
    spaces: list[dict[str, Any]] = field(default_factory=list)
    templates: list[str] = field(default_factory=list)
    weight_files: list[WeightFile] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict[str, Any]:
        return {
            "filename": self.filename,
            "name": self.name,
            "version": self.version,
            "sha256": self.sha256,
            "summary": self.summary,
            "license": self.license,
            "requires_python": self.requires_python,
            "requires_dist": self.requires_dist,
            "entry_points": self.entry_points,
            "particles": [p.to_dict() for p in self.particles],
            "kinds": self.kinds,
            "spaces": self.spaces,
            "templates": self.templates,
            "weight_files": [w.to_dict() for w in self.weight_files],
            "problems": self.problems,
        }


@dataclass
class SdistInfo:
    """A source distribution's name and version, and every reason it is not publishable."""

    path: Path
    filename: str
    name: str
    version: str
    sha256: str
    problems: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.problems


def sha256_of(path: str | Path) -> str:
    """The hex sha256 of a file, read in 1 MiB chunks."""
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        while chunk := file.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def parse_package_filename(filename: str) -> tuple[str, str, str]:
    """``(normalised project name, version, "wheel" | "sdist")`` from a distribution file name.

    Raises :class:`PackageError` for anything that is not a plain wheel or ``.tar.gz`` sdist file name
    (path separators, ``..`` and control characters included).
    """
    hint = "name the file as `python -m build` does: NAME-VERSION-py3-none-any.whl or NAME-VERSION.tar.gz"
    if not filename or filename != PurePosixPath(filename).name or "\\" in filename or filename.startswith("."):
        raise PackageError(f"file name {filename!r} is not a plain file name", hint)
    if any(ord(char) < 32 or ord(char) == 127 for char in filename):
        raise PackageError(f"file name {filename!r} contains control characters", hint)
    try:
        if filename.endswith(".whl"):
            name, version, _build, _tags = parse_wheel_filename(filename)
            return str(name), str(version), "wheel"
        if filename.endswith(".tar.gz"):
            name, version = parse_sdist_filename(filename)
            return str(name), str(version), "sdist"
    except (InvalidWheelFilename, InvalidSdistFilename, InvalidVersion) as exc:
        raise PackageError(f"file name {filename!r} is not a valid distribution file name: {exc}", hint) from None
    raise PackageError(f"file {filename!r} is neither a wheel (.whl) nor an sdist (.tar.gz)", hint)


# --- wheels ------------------------------------------------------------------------------------------------------


def inspect_wheel(
    path: str | Path, *, max_unpacked: int = DEFAULT_MAX_UNPACKED, limits: ZipLimits | None = None
) -> WheelInfo:
    """Read the wheel at ``path`` and list every problem that keeps it from being published.

    Raises :class:`PackageError` when the file is not a readable wheel at all: a bad file name, not a
    strictly well-formed zip archive (see :mod:`sora_core.zip_safety`), over the size or compression
    ratio limits (``limits``; ``max_unpacked`` alone when ``limits`` is not given), a member that fails
    its CRC, or no ``.dist-info`` metadata.
    """
    path = Path(path)
    name, version, _ = parse_package_filename(path.name)
    if not path.name.endswith(".whl"):
        raise PackageError(f"{path} is not a wheel (.whl)", "build one with `python -m build --wheel`")
    limits = limits or ZipLimits(max_unpacked=max_unpacked)
    try:
        file = path.open("rb")
    except OSError as exc:
        raise PackageError(f"{path} is not a readable wheel: {exc.strerror}", "check the path") from None
    with file:
        archive = SafeZip(file, os.fstat(file.fileno()).st_size, str(path), limits)
        members = [m for m in archive.members if not m.is_dir()]
        info = WheelInfo(path=path, filename=path.name, name=name, version=version, sha256=sha256_of(path))
        digests, prefixes = _scan(archive, members)  # every member inflated once, CRC and caps checked
        _check_member_names(info, members)
        dist_info = _dist_info_dir(path, archive, name, version)
        _read_metadata(info, _metadata(archive, f"{dist_info}/METADATA", path), path)
        _check_record(info, members, dist_info, archive, digests)
        _check_pickles(info, members, prefixes)
        info.entry_points = _entry_points(archive, dist_info)
        _read_manifests(info, archive)
        _check_weights(info, archive, members, digests)
    return info


def _scan(archive: SafeZip, members: list[ZipMember]) -> tuple[Digests, dict[str, bytes]]:
    """The sha256 and first 8 bytes of every member, each inflated once (counted against the size limit)."""
    digests: Digests = {}
    prefixes: dict[str, bytes] = {}
    for member in members:
        digest, prefix = hashlib.sha256(), b""
        for chunk in archive.stream(member, count=True):
            digest.update(chunk)
            if len(prefix) < 8:
                prefix += chunk[: 8 - len(prefix)]
        digests[member.name], prefixes[member.name] = digest.hexdigest(), prefix
    return digests, prefixes


def _read_text(archive: SafeZip, member: ZipMember) -> str:
    """A small member as UTF-8 text; raise ``PackageError`` naming it otherwise."""
    data = archive.read(member, MAX_TEXT_MEMBER)
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise PackageError(
            f"{archive.label}: {member.name} is not UTF-8 text (byte {exc.start})", "rebuild the wheel"
        ) from None


def _check_member_names(info: WheelInfo, members: Iterable[ZipMember]) -> None:
    for member in members:
        name = member.name
        parts = PurePosixPath(name).parts
        if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or (parts and ":" in parts[0]):
            info.problems.append(f"{info.filename}: member {name!r} has an unsafe path (absolute, '..' or '\\')")


def _dist_info_dir(path: Path, archive: SafeZip, name: str, version: str) -> str:
    candidates = {n.split("/")[0] for n in archive.by_name if n.split("/")[0].endswith(".dist-info")}
    for candidate in sorted(candidates):
        stem = candidate.removesuffix(".dist-info")
        dist, _, ver = stem.rpartition("-")
        if canonical_dist_name(dist) == name and _same_version(ver, version):
            return candidate
    raise PackageError(
        f"{path} has no {name}-{version}.dist-info directory (found: {', '.join(sorted(candidates)) or 'none'})",
        "rebuild the wheel with `python -m build`; do not rename wheel files",
    )


def _same_version(left: str, right: str) -> bool:
    try:
        return Version(left) == Version(right)
    except InvalidVersion:
        return left == right


def _metadata(archive: SafeZip, member: str, path: Path) -> Message:
    if member not in archive.by_name:
        raise PackageError(f"{path} has no {member}", "rebuild the wheel with `python -m build`")
    return HeaderParser().parsestr(_read_text(archive, archive.by_name[member]))


def _header(metadata: Message, key: str) -> str:
    return str(metadata.get(key, "") or "").strip()


def _read_metadata(info: WheelInfo, metadata: Message, path: Path) -> None:
    declared_name = canonical_dist_name(_header(metadata, "Name"))
    if declared_name != info.name:
        info.problems.append(
            f"{info.filename}: METADATA names {_header(metadata, 'Name')!r}, the file name {info.name!r}"
        )
    declared_version = _header(metadata, "Version")
    if not _same_version(declared_version, info.version):
        info.problems.append(
            f"{info.filename}: METADATA has version {declared_version!r}, the file name {info.version}"
        )
    info.summary = _header(metadata, "Summary") or None
    info.requires_python = _header(metadata, "Requires-Python") or None
    info.requires_dist = [str(value) for value in metadata.get_all("Requires-Dist") or []]
    classifiers = [
        str(c).split("::")[-1].strip() for c in metadata.get_all("Classifier") or [] if str(c).startswith("License")
    ]
    license_text = _header(metadata, "License-Expression") or _header(metadata, "License") or ", ".join(classifiers)
    info.license = license_text.strip() or None
    if info.license is None:
        info.problems.append(
            f"{info.filename}: no licence declared (METADATA has no License-Expression, License or licence classifier)"
            ' - set `license = "Apache-2.0"` (or your SPDX expression) in pyproject.toml\'s [project]'
        )


def _check_record(
    info: WheelInfo, members: list[ZipMember], dist_info: str, archive: SafeZip, digests: Digests
) -> None:
    """Every member is listed in ``RECORD`` with a matching sha256, as pip itself will check on install."""
    record_name = f"{dist_info}/RECORD"
    if record_name not in archive.by_name:
        info.problems.append(f"{info.filename}: {record_name} is missing - rebuild the wheel with `python -m build`")
        return
    try:
        rows = list(csv.reader(io.StringIO(_read_text(archive, archive.by_name[record_name]))))
    except PackageError as exc:
        info.problems.append(f"{info.filename}: {record_name}: {exc.message} - rebuild the wheel")
        return
    except csv.Error as exc:
        info.problems.append(f"{info.filename}: {record_name} is not valid CSV ({exc}) - rebuild the wheel")
        return
    recorded = {row[0]: row[1] for row in rows if len(row) >= 2}
    unsigned = {record_name, f"{dist_info}/RECORD.jws", f"{dist_info}/RECORD.p7s"}
    for member in members:
        if member.name in unsigned:
            continue
        entry = recorded.get(member.name)
        if entry is None:
            info.problems.append(f"{info.filename}: {member.name} is not listed in RECORD - rebuild the wheel")
            continue
        algorithm, _, expected = entry.partition("=")
        if algorithm != "sha256":
            info.problems.append(f"{info.filename}: RECORD lists {member.name} without a sha256 - rebuild it")
            continue
        actual = base64.urlsafe_b64encode(bytes.fromhex(digests[member.name])).rstrip(b"=").decode()
        if actual != expected:
            info.problems.append(
                f"{info.filename}: {member.name} does not match its sha256 in RECORD (the archive was edited)"
                " - rebuild the wheel"
            )


def _check_pickles(info: WheelInfo, members: list[ZipMember], prefixes: dict[str, bytes]) -> None:
    for member in members:
        suffix = PurePosixPath(member.name).suffix.lower()
        path_config = suffix == ".pth" and "/" not in member.name  # a site-packages .pth, not a torch file
        if suffix in UNSAFE_SUFFIXES and not path_config:
            info.problems.append(f"{info.filename}: {member.name} is a pickle-format file ({suffix}) - {_PICKLE_HINT}")
        elif looks_like_pickle(prefixes[member.name]):
            info.problems.append(
                f"{info.filename}: {member.name} holds pickle or torch.save (zip) data - {_PICKLE_HINT}"
            )


def _entry_points(archive: SafeZip, dist_info: str) -> dict[str, dict[str, str]]:
    member = archive.by_name.get(f"{dist_info}/entry_points.txt")
    if member is None:
        return {}
    return parse_entry_points(archive.read(member, MAX_TEXT_MEMBER).decode("utf-8", errors="replace"))


def _read_manifests(info: WheelInfo, archive: SafeZip) -> None:
    particles = info.entry_points.get(PARTICLES_GROUP, {})
    if not particles:
        info.problems.append(
            f'{info.filename}: no [project.entry-points."{PARTICLES_GROUP}"] in pyproject.toml, so it has no'
            " particles - name each particle class there"
        )
        return
    manifests = {}
    for package in sorted({value.split(":")[0].split(".")[0] for value in particles.values()}):
        member = f"{package}/{MANIFEST_NAME}"
        if member not in archive.by_name:
            info.problems.append(
                f"{info.filename}: {member} is missing - {_MANIFEST_HINT}; list it in [tool.setuptools.package-data]"
            )
            continue
        try:
            data = load_json_bytes(archive.read(archive.by_name[member], MAX_TEXT_MEMBER), member)
            manifests[package] = parse_manifest(data, Path(member))
        except (ManifestError, PackageError) as exc:
            info.problems.append(f"{info.filename}: {exc.message} - {_MANIFEST_HINT}")
    for manifest in manifests.values():
        info.kinds += [kind.to_dict() for kind in manifest.kinds]
        info.spaces += [space.to_dict() for space in manifest.spaces]
        info.templates += manifest.templates
    for particle, value in particles.items():
        manifest = manifests.get(value.split(":")[0].split(".")[0])
        if manifest is None:
            continue
        try:
            described = particle_info(manifest, particle, info.name, info.version, value)
        except ManifestError as exc:
            info.problems.append(f"{info.filename}: {exc.message} - {_MANIFEST_HINT}")
            continue
        if described.default_weights and not any(
            n.startswith(described.default_weights + "/") for n in archive.by_name
        ):
            info.problems.append(
                f"{info.filename}: particle {described.full_name} names default weights {described.default_weights}"
                " that the wheel does not contain - add `weights/**/*` to [tool.setuptools.package-data]"
            )
        info.particles.append(described)
    for manifest in manifests.values():  # particles no entry point names (hook particles) must be valid too
        for particle in sorted(set(manifest.particles) - set(particles)):
            try:
                particle_info(manifest, particle, info.name, info.version, "")
            except ManifestError as exc:
                info.problems.append(f"{info.filename}: {exc.message} - {_MANIFEST_HINT}")


def _check_weights(info: WheelInfo, archive: SafeZip, members: list[ZipMember], digests: Digests) -> None:
    """Record every safetensors member and check each weights directory against its ``manifest.json``."""
    directories: dict[str, list[ZipMember]] = {}
    for member in members:
        directories.setdefault(str(PurePosixPath(member.name).parent), []).append(member)
    for directory, files in sorted(directories.items()):
        weights = [m for m in files if m.name.endswith(".safetensors")]
        manifest = next((m for m in files if PurePosixPath(m.name).name == WEIGHTS_MANIFEST_NAME), None)
        if not weights and manifest is None:
            continue
        info.weight_files += [WeightFile(m.name, m.size, digests[m.name]) for m in weights]
        if manifest is None:
            info.problems.append(
                f"{info.filename}: {directory}/ holds safetensors but no {WEIGHTS_MANIFEST_NAME} with their sha256"
                " - write the directory with save_pretrained"
            )
            continue
        info.problems += [
            f"{info.filename}: {problem} - re-save it with save_pretrained"
            for problem in _weights_directory_problems(archive, directory, files, manifest, digests)
        ]


def _weights_directory_problems(
    archive: SafeZip, directory: str, files: list[ZipMember], manifest: ZipMember, digests: Digests
) -> list[str]:
    """What a load would refuse: unlisted or missing files, size or sha256 mismatches, corrupt headers."""
    try:
        listed = parse_weights_manifest(load_json_bytes(archive.read(manifest, MAX_TEXT_MEMBER), manifest.name))
    except (ManifestError, PackageError) as exc:
        return [f"{manifest.name} is not a valid weights manifest: {exc.message}"]
    except ValueError:
        return [f"{manifest.name} is not a valid weights manifest"]
    by_name = {PurePosixPath(m.name).name: m for m in files}
    problems = [
        f"{directory}/{name} is not listed in {manifest.name}, so its hash cannot be checked"
        for name, member in sorted(by_name.items())
        if name not in listed and (name.endswith(".safetensors") or name in WEIGHTS_DIR_FILES)
    ]
    for name, entry in listed.items():
        member = by_name.get(name)
        if member is None:
            problems.append(f"{directory}/{name} is listed in {manifest.name} but not in the wheel")
        elif digests[member.name] != entry["sha256"] or member.size != entry["size"]:
            problems.append(
                f"{member.name}: sha256 {digests[member.name][:16]}... does not match "
                f"{str(entry['sha256'])[:16]}... recorded in {manifest.name}"
            )
        elif name.endswith(".safetensors"):
            problems += _header_problems(archive, member)
        elif name == CONFIG_NAME:
            try:
                load_json_bytes(archive.read(member, MAX_TEXT_MEMBER), member.name, error=WeightsError)
            except (WeightsError, PackageError) as exc:
                problems.append(exc.message)
    return problems


def _header_problems(archive: SafeZip, member: ZipMember) -> list[str]:
    try:
        with archive.open(member) as file:
            read_header_from(file, member.size, Path(member.name))
    except (WeightsError, PackageError) as exc:
        return [exc.message]
    except (RecursionError, TypeError, ValueError) as exc:  # defence in depth: header fields of the wrong type
        return [f"{member.name} has an unreadable safetensors header ({type(exc).__name__})"]
    return []


# --- sdists ------------------------------------------------------------------------------------------------------


def inspect_sdist(
    path: str | Path, *, max_unpacked: int = DEFAULT_MAX_UNPACKED, limits: ZipLimits | None = None
) -> SdistInfo:
    """Read a ``.tar.gz`` sdist and list its problems (unsafe members, pickle files, missing ``PKG-INFO``).

    Raises :class:`PackageError` for a file that is not one plain gzip stream holding one tar archive
    (prepended or trailing data, corrupt data) or that inflates past ``limits`` (see :mod:`sora_core.tar_safety`).
    """
    path = Path(path)
    name, version, kind = parse_package_filename(path.name)
    if kind != "sdist":
        raise PackageError(f"{path} is not an sdist (.tar.gz)", "build one with `python -m build --sdist`")
    limits = limits or ZipLimits(max_unpacked=max_unpacked)
    try:
        tar_end = scan_gzip(path, limits)
    except OSError as exc:
        raise PackageError(f"{path} is not a readable .tar.gz sdist: {exc.strerror}", "check the path") from None
    info = SdistInfo(path=path, filename=path.name, name=name, version=version, sha256=sha256_of(path))
    rebuild = "rebuild it with `python -m build --sdist`"
    try:
        with tarfile.open(path, mode="r:gz") as archive:
            members = archive.getmembers()
            if sum(m.size for m in members) > limits.max_unpacked:
                raise PackageError(f"{path} unpacks to more than {limits.max_unpacked} bytes", "ship a smaller sdist")
            if tar_end > archive.offset:
                raise PackageError(f"{path} has data after the end of its tar archive", rebuild)
            for member in members:
                _check_sdist_member(info, archive, member)
    except (OSError, tarfile.TarError, EOFError, ValueError) as exc:
        raise PackageError(f"{path} is not a readable .tar.gz sdist: {exc}", rebuild) from None
    tops = {PurePosixPath(m.name).parts[0] for m in members if PurePosixPath(m.name).parts}
    if not any(m.name == f"{top}/PKG-INFO" for top in tops for m in members):
        info.problems.append(f"{info.filename}: no PKG-INFO at the top level - {rebuild}")
    return info


def _check_sdist_member(info: SdistInfo, archive: tarfile.TarFile, member: tarfile.TarInfo) -> None:
    parts = PurePosixPath(member.name).parts
    if member.name.startswith("/") or ".." in parts or "\\" in member.name:
        info.problems.append(f"{info.filename}: member {member.name!r} has an unsafe path")
        return
    if member.issym() or member.islnk():
        info.problems.append(f"{info.filename}: member {member.name!r} is a link; an sdist holds plain files only")
        return
    if not member.isfile():
        return
    suffix = PurePosixPath(member.name).suffix.lower()
    if suffix in UNSAFE_SUFFIXES:
        info.problems.append(f"{info.filename}: {member.name} is a pickle-format file ({suffix}) - {_PICKLE_HINT}")
        return
    handle = archive.extractfile(member)
    if handle is not None and looks_like_pickle(handle.read(8)):
        info.problems.append(f"{info.filename}: {member.name} holds pickle or torch.save (zip) data - {_PICKLE_HINT}")
