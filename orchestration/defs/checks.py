"""Operational asset checks, and the policy that decides what a failure does.

Policy (README, "Checks"):

- A check that fails with severity **ERROR** blocks publication: every check
  here is ``blocking``, so the assets downstream of the checked one (the dbt
  build, the serving publication) are skipped, the last good publication
  stays, and ``wa-warehouse run`` exits 1 with a summary of what failed.
  dbt tests of severity ``error`` do the same (a failing test fails the dbt
  step).
- A check that fails with severity **WARN** (dbt tests of severity ``warn``
  too) publishes and prints a warning line.

The checks:

- ``extract_freshness`` (ERROR, on each event source's raw table): the newest
  extract day delivered in a usable file (one that loaded rows, or an empty
  one; not one quarantined whole) is older than ``as_of`` minus
  ``max_age_days``: one feed lags behind the run's as-of time.
- ``source_freshness`` (on the same tables): dbt's source freshness, as
  declared in ``models/staging/_raw__sources.yml`` (``loaded_at_field``,
  ``warn_after``, ``error_after``): how long ago the newest row was loaded,
  against the wall clock, exactly what ``dbt source freshness`` reports.
- ``quarantine_share`` (on each event source's raw table): quarantined rows
  exceed ``warn_quarantine_share`` (WARN) or ``max_quarantine_share`` (ERROR,
  once the feed has delivered ``quarantine_min_rows`` rows) of the rows
  delivered.
- ``missing_status_share`` (ERROR, on int_messages): among messages sent at
  least 48 hours before as_of, the share of the latest such cohort day
  without any status jumps above its trailing 7-day median by ``jump`` or
  more. A broken webhook receiver looks exactly like that.

Thresholds come from ``CheckThresholds`` (environment variables with
defaults) and, for source freshness, from the dbt project. Checks read the
warehouse read-only, after the step that wrote it; the extract checks wait
for every loader (the default as-of time is derived from all of them).
"""

import json
import os
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import dagster as dg
import duckdb

from orchestration.defs.dbt_project import manifest_path
from orchestration.defs.loading import RAW_TABLES, raw_asset_key
from orchestration.loading.ledger import LOADS, QUARANTINE, newest_delivered_day
from orchestration.resources import AsOfResource, WarehouseResource

EVENT_SOURCES = ("dispatches", "webhooks", "clicks", "conversions", "unsubscribes")
#: the raw tables whose dbt source declares freshness (a unit test keeps this list
#: and models/staging/_raw__sources.yml in step)
SOURCE_FRESHNESS_TABLES = (
    "dispatches",
    "webhook_deliveries",
    "clicks",
    "conversions",
    "unsubscribes",
)
STATUS_DELAY_HOURS = 48
#: every raw table the loaders write: the extract checks run after all of them
ALL_RAW_KEYS = [raw_asset_key(table) for tables in RAW_TABLES.values() for table in tables]


@dataclass(frozen=True)
class CheckThresholds:
    max_age_days: int = 2
    warn_quarantine_share: float = 0.01
    max_quarantine_share: float = 0.05
    # below this many delivered rows a share says little (3 bad lines of 12): it warns,
    # never blocks
    quarantine_min_rows: int = 1000
    status_jump: float = 0.10

    @classmethod
    def from_env(cls) -> "CheckThresholds":
        return cls(
            max_age_days=int(os.environ.get("WA_FRESHNESS_MAX_DAYS", cls.max_age_days)),
            warn_quarantine_share=float(
                os.environ.get("WA_WARN_QUARANTINE_SHARE", cls.warn_quarantine_share)
            ),
            max_quarantine_share=float(
                os.environ.get("WA_MAX_QUARANTINE_SHARE", cls.max_quarantine_share)
            ),
            quarantine_min_rows=int(
                os.environ.get("WA_QUARANTINE_MIN_ROWS", cls.quarantine_min_rows)
            ),
            status_jump=float(os.environ.get("WA_MISSING_STATUS_JUMP", cls.status_jump)),
        )


def extract_freshness(
    con: duckdb.DuckDBPyConnection, source: str, as_of: datetime, limits: CheckThresholds
) -> dg.AssetCheckResult:
    """``extract_freshness`` of one event source (ERROR)."""
    newest = newest_delivered_day(con, source)
    deadline = freshness_deadline(as_of, limits.max_age_days)
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(RAW_TABLES[source][0]),
        check_name="extract_freshness",
        passed=newest is not None and newest >= deadline,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"newest {source} extract day {newest or 'none'}; expected one on or after "
            f"{deadline} (as_of {as_of:%Y-%m-%d %H:%M}Z, max age {limits.max_age_days} days)"
        ),
        metadata={"newest_extract_day": str(newest), "deadline": str(deadline)},
    )


@dataclass(frozen=True)
class SourceFreshness:
    """A dbt source table's freshness declaration (``_raw__sources.yml``)."""

    table: str
    loaded_at_field: str
    warn_after: timedelta | None
    error_after: timedelta | None

    def verdict(self, newest: datetime | None, now: datetime) -> dg.AssetCheckSeverity | None:
        """None when fresh, else the severity dbt would report."""
        age = None if newest is None else now - newest
        for limit, severity in (
            (self.error_after, dg.AssetCheckSeverity.ERROR),
            (self.warn_after, dg.AssetCheckSeverity.WARN),
        ):
            if limit is not None and (age is None or age > limit):
                return severity
        return None


_PERIODS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


def _after(rule: dict[str, Any] | None) -> timedelta | None:
    if not rule or rule.get("count") is None or rule.get("period") is None:
        return None
    return rule["count"] * _PERIODS[rule["period"]]


def dbt_source_freshness(manifest: dict[str, Any] | None = None) -> dict[str, SourceFreshness]:
    """Every raw source table with a dbt freshness declaration, by table name."""
    if manifest is None:
        manifest = json.loads(manifest_path().read_text())
    declared = {}
    for source in manifest["sources"].values():
        freshness = source.get("freshness") or {}
        rule = SourceFreshness(
            table=source["name"],
            loaded_at_field=source.get("loaded_at_field") or "",
            warn_after=_after(freshness.get("warn_after")),
            error_after=_after(freshness.get("error_after")),
        )
        if (
            source["source_name"] == "raw"
            and rule.loaded_at_field
            and (rule.warn_after or rule.error_after)
        ):
            declared[rule.table] = rule
    return declared


def source_freshness(
    con: duckdb.DuckDBPyConnection, table: str, rule: SourceFreshness | None, now: datetime
) -> dg.AssetCheckResult:
    """``source_freshness`` of one raw table: dbt's rule, against ``now`` (naive UTC)."""
    key = raw_asset_key(table)
    if rule is None:
        return dg.AssetCheckResult(
            asset_key=key,
            check_name="source_freshness",
            passed=True,
            description=f"raw.{table} declares no freshness in dbt",
        )
    newest = con.execute(f'select max({rule.loaded_at_field}) from raw."{table}"').fetchone()[0]
    severity = rule.verdict(newest, now)
    age = "never" if newest is None else f"{(now - newest).total_seconds() / 3600:,.1f} h ago"
    return dg.AssetCheckResult(
        asset_key=key,
        check_name="source_freshness",
        passed=severity is None,
        severity=severity or dg.AssetCheckSeverity.WARN,
        description=(
            f"newest raw.{table} row loaded {age} ({rule.loaded_at_field}); "
            f"warn after {rule.warn_after or '-'}, error after {rule.error_after or '-'}"
        ),
        metadata={
            "newest_loaded_at": str(newest),
            "warn_after_hours": _hours(rule.warn_after),
            "error_after_hours": _hours(rule.error_after),
        },
    )


def _hours(limit: timedelta | None) -> float | None:
    return None if limit is None else limit.total_seconds() / 3600


def quarantine_verdict(
    share: float, delivered: int, limits: CheckThresholds
) -> tuple[bool, dg.AssetCheckSeverity]:
    """Passes up to the warning share; WARN above it; ERROR above the maximum share once
    the feed has delivered ``quarantine_min_rows`` rows (fewer: WARN)."""
    if share > limits.max_quarantine_share and delivered >= limits.quarantine_min_rows:
        return False, dg.AssetCheckSeverity.ERROR
    return share <= limits.warn_quarantine_share, dg.AssetCheckSeverity.WARN


def quarantine_share(
    con: duckdb.DuckDBPyConnection, source: str, limits: CheckThresholds
) -> dg.AssetCheckResult:
    """``quarantine_share`` of one event source (WARN, or ERROR above the maximum)."""
    loaded, quarantined = con.execute(
        f"""
        select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)
        from (select *, row_number() over (partition by file order by loaded_at desc) as rn
              from {LOADS} where source = ?)
        where rn = 1
        """,
        [source],
    ).fetchone()
    delivered = loaded + quarantined
    share = quarantined / delivered if delivered else 0.0
    passed, severity = quarantine_verdict(share, delivered, limits)
    return dg.AssetCheckResult(
        asset_key=raw_asset_key(RAW_TABLES[source][0]),
        check_name="quarantine_share",
        passed=passed,
        severity=severity,
        description=(
            f"{quarantined:,} of {delivered:,} {source} rows quarantined ({share:.2%}); "
            f"warning above {limits.warn_quarantine_share:.2%}, error above "
            f"{limits.max_quarantine_share:.2%} of at least {limits.quarantine_min_rows:,} rows; "
            f"see {QUARANTINE}"
        ),
        metadata={"quarantined": quarantined, "delivered": delivered, "share": share},
    )


def _other_raw_keys(key: dg.AssetKey) -> list[dg.AssetKey]:
    return [other for other in ALL_RAW_KEYS if other != key]


RAW_CHECK_SPECS = [
    *(
        dg.AssetCheckSpec(
            "extract_freshness",
            asset=raw_asset_key(RAW_TABLES[source][0]),
            description=(
                f"The newest usable `{source}` extract is at most N days older than as_of (ERROR)."
            ),
            blocking=True,
            additional_deps=_other_raw_keys(raw_asset_key(RAW_TABLES[source][0])),
        )
        for source in EVENT_SOURCES
    ),
    *(
        dg.AssetCheckSpec(
            "source_freshness",
            asset=raw_asset_key(table),
            description=(
                f"dbt's source freshness of raw.{table} (models/staging/_raw__sources.yml): "
                "how long ago its newest row was loaded; WARN past warn_after, ERROR past "
                "error_after."
            ),
            blocking=True,
        )
        for table in SOURCE_FRESHNESS_TABLES
    ),
    *(
        dg.AssetCheckSpec(
            "quarantine_share",
            asset=raw_asset_key(RAW_TABLES[source][0]),
            description=(
                f"Quarantined `{source}` rows stay under the warning share (WARN) and the "
                "maximum share (ERROR)."
            ),
            blocking=True,
        )
        for source in EVENT_SOURCES
    ),
]


@dg.multi_asset_check(
    specs=RAW_CHECK_SPECS,
    name="raw_extract_checks",
    description=(
        "The checks of the loaded extracts, after every loader: each feed's extract "
        "freshness against as_of, dbt's source freshness, and the quarantined share."
    ),
)
def raw_extract_checks(
    warehouse: WarehouseResource, as_of: AsOfResource
) -> Iterator[dg.AssetCheckResult]:
    limits = CheckThresholds.from_env()
    declared = dbt_source_freshness()
    now = datetime.now(UTC).replace(tzinfo=None)
    resolved = as_of.resolved  # after every load: the default is derived from all of them
    with warehouse.connect(read_only=True) as con:
        for source in EVENT_SOURCES:
            yield extract_freshness(con, source, resolved, limits)
        for table in SOURCE_FRESHNESS_TABLES:
            yield source_freshness(con, table, declared.get(table), now)
        for source in EVENT_SOURCES:
            yield quarantine_share(con, source, limits)


def status_share_verdict(latest: float, previous: list[float], jump: float) -> tuple[bool, float]:
    """Passes unless the latest share exceeds the previous days' median by ``jump``."""
    ordered = sorted(previous)
    middle = len(ordered) // 2
    baseline = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return latest <= baseline + jump, baseline


def freshness_deadline(as_of: datetime, max_age_days: int) -> date:
    """The oldest newest-extract day that still counts as fresh."""
    return (as_of - timedelta(days=max_age_days)).date()


MISSING_STATUS_SQL = f"""
with days as (
    select
        cast(attempted_at as date) as send_day,
        count(*) as sent,
        count(*) filter (where not has_any_status) as without_status
    from intermediate.int_messages
    where is_sent and attempted_at <= cast(? as timestamp) - interval {STATUS_DELAY_HOURS} hours
    group by 1
)
select send_day, sent, without_status, without_status / sent as share
from days
order by send_day desc
limit 8
"""


@dg.asset_check(
    asset=dg.AssetKey(["intermediate", "int_messages"]),
    name="missing_status_share",
    description=(
        "The share of messages without any status 48 h after the send does not jump "
        "(a broken webhook receiver looks exactly like that). ERROR: blocks publication."
    ),
    blocking=True,
)
def missing_status_share(warehouse: WarehouseResource, as_of: AsOfResource) -> dg.AssetCheckResult:
    limits = CheckThresholds.from_env()
    naive_as_of = as_of.resolved.astimezone(UTC).replace(tzinfo=None)
    with warehouse.connect(read_only=True) as con:
        days = con.execute(MISSING_STATUS_SQL, [naive_as_of]).fetchall()
    if len(days) < 2:
        return dg.AssetCheckResult(passed=True, description="not enough send days to compare")
    latest_day, latest = days[0][0], days[0][3]
    previous = [row[3] for row in days[1:]]
    passed, baseline = status_share_verdict(latest, previous, limits.status_jump)
    return dg.AssetCheckResult(
        passed=passed,
        severity=dg.AssetCheckSeverity.ERROR,
        description=(
            f"{latest:.1%} of messages sent on {latest_day} have no status after 48 h; "
            f"the previous {len(previous)} days' median is {baseline:.1%} "
            f"(allowed jump {limits.status_jump:.0%}). "
            + ("" if passed else "Check the webhook receiver.")
        ),
        metadata={"latest_day": str(latest_day), "latest_share": latest, "baseline": baseline},
    )


asset_checks = [raw_extract_checks, missing_status_share]
