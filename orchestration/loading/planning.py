"""Which files a load reads, and in which batches: engine-neutral (DuckDB and Spark).

A file already in the ledger with the size and modification time its latest
load recorded is skipped unread (rsync's quick check) unless ``always_hash``;
every other file is hashed (on all cores) and skipped if its sha256 equals the
latest load's. The rest are grouped into batches of consecutive files of at
most :data:`BATCH_BYTES` of text (gzip counted at :data:`GZIP_RATIO` x its size).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from orchestration.loading import ledger
from orchestration.loading.discovery import ExtractFile
from orchestration.loading.ledger import Digest, PreviousLoad

#: Most text one batch stages at once (gzip counted at :data:`GZIP_RATIO` x its
#: size). Staging holds a batch's parsed values in memory (webhooks: no text of
#: the lines that parsed): loading the webhooks of 1M dispatches (940 MB, one
#: batch) peaks at ~1.2 GB RSS, of 5M (4.7 GB, five batches) at ~1.6 GB.
BATCH_BYTES = 1 << 30
GZIP_RATIO = 6

#: A file to load: the file, its digest and the latest earlier load of its path.
Pending = tuple[ExtractFile, Digest, PreviousLoad | None]


@dataclass
class Plan:
    """The files to load (in name order) and how many were skipped as unchanged."""

    pending: list[Pending]
    skipped: int


def plan_files(
    files: list[ExtractFile], previous: dict[str, PreviousLoad], *, always_hash: bool
) -> Plan:
    """Skip unchanged files (quick check, then sha256); the rest are pending."""
    skipped = 0
    if not always_hash:
        changed = [
            f
            for f in files
            if not ((earlier := previous.get(f.rel)) and earlier.unchanged_by_stat(f.path))
        ]
        skipped += len(files) - len(changed)
        files = changed
    pending: list[Pending] = []
    for file, digest in zip(files, digests(files), strict=True):
        earlier = previous.get(file.rel)
        if earlier is not None and earlier.sha256 == digest.sha256:
            skipped += 1
        else:
            pending.append((file, digest, earlier))
    return Plan(pending, skipped)


def digests(files: list[ExtractFile]) -> list[Digest]:
    """sha256 and size of every file, hashed on all cores (hashlib releases the GIL).

    Calls ``ledger.file_digest`` through the module, so tests can watch it."""
    digest: Callable[[ExtractFile], Digest] = lambda f: ledger.file_digest(f.path)  # noqa: E731
    if len(files) < 2:
        return [digest(f) for f in files]
    with ThreadPoolExecutor(max_workers=min(len(files), os.cpu_count() or 1)) as pool:
        return list(pool.map(digest, files))


def batches(pending: list[Pending], limit: int | None = None) -> list[list[Pending]]:
    """Consecutive files grouped up to ``limit`` (default :data:`BATCH_BYTES`) of text,
    at least one file each."""
    limit = BATCH_BYTES if limit is None else limit
    out: list[list[Pending]] = []
    size = 0
    for item in pending:
        file, digest, _ = item
        weight = digest.size * (GZIP_RATIO if file.format.endswith(".gz") else 1)
        if out and size + weight <= limit:
            out[-1].append(item)
            size += weight
        else:
            out.append([item])
            size = weight
    return out
