"""Checking the blob store against the catalog (``sora-registry verify``), e.g. after restoring a backup."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

from sora_registry.service import RegistryService


@dataclass
class Report:
    checked: int = 0
    problems: list[str] = field(default_factory=list)


def verify(service: RegistryService) -> Report:
    """Every catalogued file is stored with its recorded size and sha256; every stored file is catalogued."""
    report = Report()
    catalogued = set()
    for project in service.catalog.projects():
        for record in service.catalog.files(project):
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
