"""The short summary ``wa-warehouse run`` prints after a run: what was loaded, and
what BI tools see (the totals of the publication, which a blocked run leaves as
it was)."""

from __future__ import annotations

from pathlib import Path

import duckdb

from orchestration.config import Settings, format_as_of
from orchestration.loading.schema import table_exists
from orchestration.pipeline import PipelineResult
from orchestration.publish import read_publication


def print_summary(
    warehouse: Path, result: PipelineResult, *, settings: Settings | None = None
) -> None:
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        as_of = format_as_of(result.as_of) if result.as_of else "not resolved"
        print(f"\nas of {as_of}, finished in {result.seconds:.1f}s")
        loads = con.execute(
            """
            select source, count(*) as files, sum(rows_loaded), sum(rows_quarantined)
            from (
                select *, row_number() over (partition by file order by loaded_at desc) as rn
                from raw._loads
            )
            where rn = 1
            group by source
            order by source
            """
        ).fetchall()
        print(f"\n{'source':<14}{'files':>7}{'rows loaded':>14}{'quarantined':>13}")
        for source, files, loaded, quarantined in loads:
            print(f"{source:<14}{files:>7}{loaded:>14,}{quarantined:>13,}")
        unknown = con.execute(
            "select count(*) from raw._quarantine where line_number is null "
            "and reason like 'file name%'"
        ).fetchone()[0]
        if unknown:
            print(f"{unknown} file(s) outside the extract layout were reported, not loaded")
    finally:
        con.close()
    # the serving paths: the run exported them to the environment (absolute)
    _print_publication(settings or Settings.from_env(), replaced=result.published)


SUMMARY_METRICS = (
    "targeted", "sent", "dropped", "delivered", "undelivered", "delivery_pending",
    "opens", "clicks", "conversions", "responses", "unsubscribes",
)  # fmt: skip


def _print_campaign_totals(con: duckdb.DuckDBPyConnection) -> None:
    sums = ", ".join(f"sum({metric})" for metric in SUMMARY_METRICS)
    row = con.execute(f"select count(*), {sums} from marts.campaign_performance").fetchone()
    print("\nmarts.campaign_performance totals (published)")
    for name, value in zip(("campaigns", *SUMMARY_METRICS), row, strict=True):
        print(f"  {name:<18}{value or 0:>12,}")


def _print_publication(settings: Settings, *, replaced: bool) -> None:
    """What BI tools read: the totals and place of the serving copy, and whether this
    run replaced it."""
    publication = read_publication(settings.serving_path)
    if publication is None:
        print(f"\nno publication for BI tools at {settings.serving_path}")
        return
    con = duckdb.connect(str(settings.serving_path), read_only=True)
    try:
        if table_exists(con, "marts", "campaign_performance"):
            _print_campaign_totals(con)
    finally:
        con.close()
    published_at = format_as_of(publication["published_at"])
    as_of = format_as_of(publication["as_of"]) if publication["as_of"] else "?"
    state = "published" if replaced else "unchanged: the publication of"
    print(
        f"\n{state} {len(publication['tables'])} marts for BI tools at {published_at} "
        f"(as of {as_of})"
    )
    print(f"  DuckDB (open read-only)  {settings.serving_path.resolve()}")
    print(f"  Parquet (any driver)     {settings.serving_parquet_dir.resolve()}/<mart>.parquet")
