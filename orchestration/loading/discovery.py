"""Finding extract files under the extracts root and telling known from unknown.

A known file sits directly in a source's folder and its name matches that
source's pattern in :mod:`orchestration.layout`. Anything else (a wrong name
in a known folder, a file in a sub-folder or an unknown folder, a file at the
root) is *unknown*: reported, never loaded. Hidden files and folders (name
starting with ``.``) are ignored everywhere.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from orchestration.layout import SOURCES, Source

_SOURCE_BY_FOLDER: dict[str, str] = {s.folder: s.name for s in SOURCES.values()}


@dataclass(frozen=True)
class ExtractFile:
    """One file of a known source."""

    path: Path
    rel: str  # relative to the extracts root, '/'-separated
    source: str
    day: date | None  # the YYYY-MM-DD of the file name, if the pattern has one
    format: str  # e.g. "csv", "csv.gz", "parquet", "jsonl", "jsonl.gz"


@dataclass(frozen=True)
class UnknownFile:
    """A file under the root that matches no layout pattern."""

    rel: str
    source: str | None  # the source whose folder holds it, if any


def _is_hidden(name: str) -> bool:
    return name.startswith(".")


def _walk(root: Path) -> Iterator[Path]:
    """Every non-hidden regular file under ``root``, hidden folders pruned."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not _is_hidden(d))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not _is_hidden(name) and path.is_file():
                yield path


def _rel(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix()


def match_file(root: Path, path: Path) -> ExtractFile | UnknownFile:
    """Classify one file under ``root``."""
    rel = _rel(root, path)
    parts = rel.split("/")
    source_name = _SOURCE_BY_FOLDER.get(parts[0]) if len(parts) > 1 else None
    if source_name is not None and len(parts) == 2:
        match = SOURCES[source_name].match(parts[1])
        if match is not None:
            groups = match.groupdict()
            try:
                day = date.fromisoformat(groups["day"]) if groups.get("day") else None
            except ValueError:  # e.g. 2026-13-45: shaped like a day but not one
                return UnknownFile(rel, source_name)
            return ExtractFile(path, rel, source_name, day, groups["format"])
    return UnknownFile(rel, source_name)


def source_files(root: Path, source: Source) -> list[ExtractFile]:
    """The known files of one source, sorted by name (i.e. by cut day)."""
    folder = root / source.folder
    if not folder.is_dir():
        return []
    files = []
    for path in sorted(folder.iterdir()):
        if _is_hidden(path.name) or not path.is_file():
            continue
        found = match_file(root, path)
        if isinstance(found, ExtractFile) and found.source == source.name:
            files.append(found)
    return files


def unknown_files(root: Path) -> list[UnknownFile]:
    """Every file under ``root`` that matches no layout pattern, sorted by path."""
    if not root.is_dir():
        return []
    found = (match_file(root, path) for path in _walk(root))
    return sorted((f for f in found if isinstance(f, UnknownFile)), key=lambda f: f.rel)
