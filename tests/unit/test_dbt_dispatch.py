"""Every engine-specific macro has a DuckDB and a Spark implementation.

The models are engine-neutral: what differs between DuckDB and Spark lives in
``adapter.dispatch`` macros (docs/spark.md). A dispatched macro with only a
``default__`` would be one engine's SQL passed off as both's, so there is none:
each has ``duckdb__`` and ``spark__``.
"""

from __future__ import annotations

import re
from pathlib import Path

MACROS = Path(__file__).resolve().parents[2] / "macros"

DISPATCH = re.compile(r"adapter\.dispatch\('(\w+)'\)")
DEFINITION = re.compile(r"{%-?\s*macro\s+(\w+)\s*\(")


def _macro_texts() -> str:
    return "\n".join(path.read_text() for path in sorted(MACROS.rglob("*.sql")))


def test_every_dispatched_macro_has_a_duckdb_and_a_spark_implementation():
    text = _macro_texts()
    dispatched = set(DISPATCH.findall(text))
    defined = set(DEFINITION.findall(text))
    assert len(dispatched) >= 15
    missing = sorted(
        f"{engine}__{name}"
        for name in dispatched
        for engine in ("duckdb", "spark")
        if f"{engine}__{name}" not in defined
    )
    assert missing == []


def test_no_dispatched_macro_falls_back_to_a_default():
    defaults = sorted(name for name in DEFINITION.findall(_macro_texts()) if "default__" in name)
    assert defaults == []


def test_the_models_call_no_duckdb_only_function_directly():
    """The DuckDB-only constructs the port moved into macros stay there."""
    duckdb_only = re.compile(
        r"\b(arg_min|arg_max|quantile_cont|json_transform|regexp_full_match|strftime|epoch"
        r"|to_hours|string_agg|unnest)\s*\(|\bunion all by name\b|\bqualify\b|\* exclude\b"
        r"|'infinity'"
    )
    models = Path(__file__).resolve().parents[2] / "models"
    offenders = [
        f"{path.relative_to(models)}: {match.group(0)}"
        for path in sorted(models.rglob("*.sql"))
        for match in duckdb_only.finditer(path.read_text())
    ]
    assert offenders == []
