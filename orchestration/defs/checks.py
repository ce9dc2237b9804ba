"""Operational asset checks: they fail loudly when the feeds look broken.

- ``extract_freshness`` (on each event source's raw table): the newest
  extract day is older than ``max_age_days`` before the run's as-of time.
- ``quarantine_share`` (on each raw source): quarantined rows exceed
  ``max_share`` of the rows delivered.
- ``missing_status_share`` (on int_messages): among messages sent at least 48
  hours before as_of, the share of the latest such cohort day without any
  status jumps above its trailing 7-day median by ``jump`` or more. A broken
  webhook receiver looks exactly like that.

Thresholds come from ``CheckThresholds`` (environment variables with
defaults). Checks read the warehouse read-only, after the step that wrote it.
"""

import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import dagster as dg

from orchestration.defs.loading import RAW_TABLES, raw_asset_key
from orchestration.resources import AsOfResource, WarehouseResource

EVENT_SOURCES = ("dispatches", "webhooks", "clicks", "conversions", "unsubscribes")
STATUS_DELAY_HOURS = 48


@dataclass(frozen=True)
class CheckThresholds:
    max_age_days: int = 2
    max_quarantine_share: float = 0.01
    status_jump: float = 0.10

    @classmethod
    def from_env(cls) -> "CheckThresholds":
        return cls(
            max_age_days=int(os.environ.get("WA_FRESHNESS_MAX_DAYS", cls.max_age_days)),
            max_quarantine_share=float(
                os.environ.get("WA_MAX_QUARANTINE_SHARE", cls.max_quarantine_share)
            ),
            status_jump=float(os.environ.get("WA_MISSING_STATUS_JUMP", cls.status_jump)),
        )


def _freshness_check(source: str) -> dg.AssetChecksDefinition:
    table = RAW_TABLES[source][0]

    @dg.asset_check(
        asset=raw_asset_key(table),
        name="extract_freshness",
        description=f"The newest `{source}` extract is at most N days older than as_of.",
    )
    def check(warehouse: WarehouseResource, as_of: AsOfResource) -> dg.AssetCheckResult:
        limits = CheckThresholds.from_env()
        with warehouse.connect(read_only=True) as con:
            newest = con.execute(
                "select max(cast(regexp_extract(file, '(\\d{4}-\\d{2}-\\d{2})', 1) as date)) "
                "from raw._loads where source = ?",
                [source],
            ).fetchone()[0]
        deadline = freshness_deadline(as_of.resolved, limits.max_age_days)
        return dg.AssetCheckResult(
            passed=newest is not None and newest >= deadline,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"newest {source} extract day {newest or 'none'}; expected one on or after "
                f"{deadline} (as_of {as_of.resolved:%Y-%m-%d %H:%M}Z, "
                f"max age {limits.max_age_days} days)"
            ),
            metadata={"newest_extract_day": str(newest), "deadline": str(deadline)},
        )

    return check


def _quarantine_check(source: str) -> dg.AssetChecksDefinition:
    table = RAW_TABLES[source][0]

    @dg.asset_check(
        asset=raw_asset_key(table),
        name="quarantine_share",
        description=f"Quarantined `{source}` rows stay under the allowed share.",
    )
    def check(warehouse: WarehouseResource) -> dg.AssetCheckResult:
        limits = CheckThresholds.from_env()
        with warehouse.connect(read_only=True) as con:
            loaded, quarantined = con.execute(
                """
                select coalesce(sum(rows_loaded), 0), coalesce(sum(rows_quarantined), 0)
                from (select *, row_number() over (partition by file order by loaded_at desc) as rn
                      from raw._loads where source = ?)
                where rn = 1
                """,
                [source],
            ).fetchone()
        delivered = loaded + quarantined
        share = quarantined / delivered if delivered else 0.0
        return dg.AssetCheckResult(
            passed=share <= limits.max_quarantine_share,
            severity=dg.AssetCheckSeverity.ERROR,
            description=(
                f"{quarantined:,} of {delivered:,} {source} rows quarantined ({share:.2%}); "
                f"allowed {limits.max_quarantine_share:.2%}; see raw._quarantine"
            ),
            metadata={"quarantined": quarantined, "delivered": delivered, "share": share},
        )

    return check


def status_share_verdict(latest: float, previous: list[float], jump: float) -> tuple[bool, float]:
    """Passes unless the latest share exceeds the previous days' median by ``jump``."""
    ordered = sorted(previous)
    middle = len(ordered) // 2
    baseline = ordered[middle] if len(ordered) % 2 else (ordered[middle - 1] + ordered[middle]) / 2
    return latest <= baseline + jump, baseline


def freshness_deadline(as_of: datetime, max_age_days: int):
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
        "(a broken webhook receiver looks exactly like that)."
    ),
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


asset_checks = [
    *(_freshness_check(source) for source in EVENT_SOURCES),
    *(_quarantine_check(source) for source in EVENT_SOURCES),
    missing_status_share,
]
