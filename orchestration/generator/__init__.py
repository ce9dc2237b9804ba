"""Sample-data generator: realistic raw extracts plus the ground truth they imply.

``generate`` simulates a WhatsApp campaign operation (accounts, templates,
sends, webhooks, clicks, conversions, unsubscribes, with the messy parts real
feeds have), writes it under ``config.out`` exactly as
``docs/contract/extracts.md`` / :mod:`orchestration.layout` describe, and
writes beside it (never inside) a JSON ground truth: the marts' figures the
simulation decided, computed in memory by the rules of
``docs/contract/marts.md``.

Modules: :mod:`.catalog` (reference data and reason->code tables),
:mod:`.simulate` (vectorised simulation), :mod:`.truth` (metric rules),
:mod:`.writers` (DuckDB-built files).
"""

from __future__ import annotations

import json
import time
from dataclasses import replace

from orchestration.generator import simulate, truth, writers
from orchestration.generator.config import GenerationResult, GeneratorConfig
from orchestration.layout import SOURCES
from orchestration.progress_lines import ProgressLines

__all__ = ["GenerationResult", "GeneratorConfig", "generate"]


def generate(config: GeneratorConfig, *, progress: bool = True) -> GenerationResult:
    """Write the extracts of ``config`` and their ground truth; same config, same bytes.

    Raises ``FileExistsError`` when ``config.out`` already holds extract
    files: output is never mixed with an earlier run's. With ``progress``, a
    line per phase (simulation, ground truth, each source written) on stderr,
    stamped with the time since the start.
    """
    started = time.perf_counter()
    lines = ProgressLines(indent="  ", enabled=progress)
    config = replace(config, end_date=config.last_day)  # pin "yesterday" once
    out = config.out
    existing = [
        p for s in SOURCES.values() if (out / s.folder).is_dir() for p in (out / s.folder).iterdir()
    ]
    if existing:
        raise FileExistsError(
            f"{out} already holds {len(existing)} extract files; use an empty folder"
        )
    out.mkdir(parents=True, exist_ok=True)
    truth_path = config.resolved_truth_path
    if truth_path.resolve().is_relative_to(out.resolve()):
        raise ValueError("the ground truth must not be written inside the extracts root")

    lines.line(
        f"generating {config.days} days ({config.first_day} to {config.last_day}), "
        f"{config.accounts} accounts, {config.campaigns} campaigns, "
        f"{config.recipients_per_send:,} recipients per send, {config.format}, into {out}"
    )
    world = simulate.simulate(config, lines)
    with lines.step("ground truth"):
        figures = truth.compute_truth(world)
    stats = writers.write_extracts(world, out, config.format, lines)
    document = {
        "as_of": figures.pop("as_of"),
        "params": config.params(),
        **figures,
        "rows_written": stats.rows_written,
        "duplicates_written": stats.duplicates_written,
        "malformed_written": stats.malformed_written,
    }
    truth_path.parent.mkdir(parents=True, exist_ok=True)
    truth_path.write_text(
        json.dumps(document, indent=1, ensure_ascii=False) + "\n", encoding="utf-8"
    )
    return GenerationResult(
        out=out,
        truth_path=truth_path,
        as_of=config.as_of,
        rows_written=stats.rows_written,
        malformed_written=stats.malformed_written,
        bytes_written=stats.bytes_written,
        seconds=round(time.perf_counter() - started, 3),
    )
