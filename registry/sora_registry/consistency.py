"""Checking the blob store against the catalog (``sora-registry verify``), e.g. after restoring a backup."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sora_registry.names import version_identity
from sora_registry.service import RegistryService
from sora_registry.storage.base import FileRecord


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def verify(service: RegistryService) -> Report:
    """Every catalogued file is stored with its recorded size and sha256; every stored file is catalogued."""
    report = Report()
    catalogued = set()
    for project in service.catalog.projects():
        files = service.catalog.files(project)
        report.problems += _same_version_problems(files)
        for record in files:
            catalogued.add(record.key)
            report.checked += 1
            try:
                with service.blobs.open(record.key) as handle:
                    digest, size = hashlib.sha256(), 0
                    while chunk := handle.read(1 << 20):
                        digest.update(chunk)
                        size += len(chunk)
            except FileNotFoundError:
                report.problems.append(f"missing: {record.key} is in the catalog but not in storage")
                continue
            if size != record.size or digest.hexdigest() != record.sha256:
                report.problems.append(
                    f"corrupt: {record.key} has {size} bytes and sha256 {digest.hexdigest()}, "
                    f"the catalog records {record.size} bytes and {record.sha256}"
                )
    for key in service.blobs.iter_keys():
        if key not in catalogued:
            report.problems.append(f"orphan: {key} is stored but not in the catalog (an interrupted upload; delete it)")
    return report


def _same_version_problems(files: list[FileRecord]) -> list[str]:
    """Releases spelled two ways (``1.0`` and ``1.0.0``), which catalogs before schema 2 accepted.

    pip treats them as one version and may install either file; the server refuses such uploads
    since, but cannot choose which published file to keep.
    """
    by_release: dict[str, list[FileRecord]] = {}
    for record in files:
        by_release.setdefault(version_identity(record.version), []).append(record)
    problems = []
    for records in by_release.values():
        versions = sorted({r.version for r in records})
        if len(versions) > 1:
            names = ", ".join(r.filename for r in records)
            problems.append(
                f"same version: {records[0].project} {' and '.join(versions)} are one version under PEP 440 "
                f"({names}); pip may install any of them: keep the first published, delete the others' rows and files"
            )
    return problems
