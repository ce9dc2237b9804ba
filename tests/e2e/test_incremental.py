"""Incremental daily runs: any sequence of daily runs equals a full rebuild.

The guarantee under test: after any sequence of ``wa-warehouse run`` calls, the
marts are, row for row, the marts a full rebuild makes in one run on the same
files and as-of time. A generated dataset is delivered the way upstream
delivers it, into one extracts folder that grows day by day, with one run per
day as of the next UTC midnight. Every comparison is against a fresh warehouse
built in one run from a copy of the same files (those builds run in the
background, beside the feed: a run is mostly fixed cost, well under two cores).

The dataset (35 days, 2026-10-04 .. 2026-11-07, 9 accounts in 9 time zones) is
chosen so that the daily runs cross what can change already-built rows: the EU
(10-25) and US (11-01) daylight-saving changes, ISO week and month
boundaries, messages crossing the 720-hour Delivery Report Missing deadline, a
new template version (10-25), campaign snapshots (10-24, naming a campaign
that has sent since 10-22; 11-03; 11-07, renaming campaigns), besides late
statuses, clicks, replies and conversions.

A run takes ~20 s on 2 cores, nearly all fixed cost, so the first
``INCREMENTAL_FEED_BULK_DAYS`` days (default 24, through 10-27) are delivered
in one run and the remaining 11 days ``INCREMENTAL_FEED_STEP_DAYS`` at a time
(default 3: runs on 10-30, 11-02, 11-05 and 11-07, which cross the month and
the US daylight-saving change, two campaign snapshots and the 720-hour
deadline of messages every run; the guarantee holds for any sequence of runs);
``INCREMENTAL_FEED_BULK_DAYS=1 INCREMENTAL_FEED_STEP_DAYS=1`` feeds every day
in its own run.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import io
import json
import os
import re
import shutil
import signal
import subprocess
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import dagster as dg
import duckdb
import pytest

from orchestration.config import format_as_of
from orchestration.generator import GeneratorConfig, generate
from orchestration.layout import extract_day_of
from orchestration.publish import PUBLICATION_JSON, read_publication
from tests.conftest import BIN, PROJECT_ROOT, cli_env, deliver_until, midnight_after
from tests.conftest import files_of as delivered_files

pytestmark = pytest.mark.slow

FIRST_DAY = date(2026, 10, 4)
LAST_DAY = date(2026, 11, 7)
DATASET = dict(
    seed=5,
    accounts=9,
    campaigns=12,
    days=(LAST_DAY - FIRST_DAY).days + 1,
    recipients_per_send=15,
    end_date=LAST_DAY,
    format="csv",
)
BULK_DAYS = int(os.environ.get("INCREMENTAL_FEED_BULK_DAYS", "24"))
STEP_DAYS = int(os.environ.get("INCREMENTAL_FEED_STEP_DAYS", "3"))
RUN_TIMEOUT = 900  # seconds; one run takes ~40 s on a quiet 2-core machine
PERIOD_MARTS = ("campaign_performance_daily", "campaign_performance_weekly",
                "campaign_performance_monthly")  # fmt: skip
DRM = "Delivery Report Missing"


def iso_ms(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


# --------------------------------------------------------------------------- runs


class Build:
    """A warehouse with its own extracts folder, Dagster home and serving copy."""

    def __init__(self, root: Path, extracts: Path) -> None:
        root.mkdir(parents=True, exist_ok=True)
        self.root = root
        self.extracts = extracts
        self.env = cli_env(root)
        # after the generated days, the scenarios deliver hand-made files of one or
        # two sources only (a re-export, a re-delivery): the other feeds lag behind
        # as_of by design, which extract_freshness would rightly call an error
        self.env["WA_FRESHNESS_MAX_DAYS"] = "30"
        self.path = root / "warehouse.duckdb"

    @property
    def serving(self) -> Path:
        return Path(self.env["WA_SERVING_PATH"])

    @property
    def parquet_dir(self) -> Path:
        return Path(self.env["WA_SERVING_PARQUET_DIR"])

    def command(self, as_of: datetime) -> list[str]:
        # --verbose: dbt's model lines on stdout, which the kill test waits for
        return [str(BIN / "wa-warehouse"), "run", "--extracts", str(self.extracts),
                "--warehouse", str(self.path), "--as-of", format_as_of(as_of),
                "--verbose"]  # fmt: skip

    @contextlib.contextmanager
    def settings(self, **values: str) -> Iterator[None]:
        """Environment variables for the runs inside the block only."""
        previous = dict(self.env)
        self.env.update(values)
        try:
            yield
        finally:
            self.env.clear()
            self.env.update(previous)

    def run(self, as_of: datetime) -> float:
        """One run in the foreground; fails the test unless it succeeds. Returns seconds."""
        started = time.monotonic()
        try:
            result = subprocess.run(
                self.command(as_of), cwd=PROJECT_ROOT, env=self.env,
                capture_output=True, text=True, timeout=RUN_TIMEOUT,
            )  # fmt: skip
        except subprocess.TimeoutExpired:
            pytest.fail(f"wa-warehouse run as of {format_as_of(as_of)} hung ({RUN_TIMEOUT} s)")
        assert result.returncode == 0, (
            f"wa-warehouse run as of {format_as_of(as_of)} on {self.extracts} failed:\n"
            f"{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
        )
        return time.monotonic() - started

    def start(self, as_of: datetime, name: str) -> Background:
        return Background(self, as_of, name)


class Background:
    """``wa-warehouse run`` as a child process in its own process group."""

    def __init__(self, build: Build, as_of: datetime, name: str) -> None:
        self.build = build
        self.as_of = as_of
        self.stdout = build.root / f"{name}.stdout"
        self.stderr = build.root / f"{name}.stderr"
        with self.stdout.open("w") as out, self.stderr.open("w") as err:
            self.proc = subprocess.Popen(
                build.command(as_of), cwd=PROJECT_ROOT,
                env={**build.env, "PYTHONUNBUFFERED": "1"},  # progress lines as they happen
                stdout=out, stderr=err, start_new_session=True,
            )  # fmt: skip
        self.started = time.monotonic()
        self.seconds: float | None = None

    def output(self) -> str:
        return f"{self.stdout.read_text()[-3000:]}\n{self.stderr.read_text()[-3000:]}"

    def wait(self) -> Build:
        """Wait for a successful end; fails the test otherwise."""
        try:
            code = self.proc.wait(timeout=max(1.0, RUN_TIMEOUT - (time.monotonic() - self.started)))
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"background run on {self.build.extracts} hung:\n{self.output()}")
        if self.seconds is None:
            self.seconds = time.monotonic() - self.started
        assert code == 0, f"background run on {self.build.extracts} failed:\n{self.output()}"
        return self.build

    def kill(self) -> None:
        """SIGKILL the run and every process it started (dbt), if still running."""
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait()


# --------------------------------------------------------------------------- marts


def _mart_names(con: duckdb.DuckDBPyConnection, db: str) -> list[str]:
    return [
        name
        for (name,) in con.execute(
            "select table_name from duckdb_tables() where database_name = $db and "
            "schema_name = 'marts' union select view_name from duckdb_views() "
            "where database_name = $db and schema_name = 'marts' and not internal order by 1",
            {"db": db},
        ).fetchall()
    ]


def assert_same_marts(actual: Path, expected: Path, what: str) -> dict[str, int]:
    """Every table and view of schema marts: same names, columns, types and rows (as
    multisets). Returns the row count of every mart."""
    con = duckdb.connect()
    try:
        con.execute(f"attach '{actual}' as a (read_only)")
        con.execute(f"attach '{expected}' as e (read_only)")
        names = _mart_names(con, "e")
        assert names, f"{what}: the full rebuild has no mart"
        assert _mart_names(con, "a") == names, f"{what}: not the same marts"
        problems, rows = [], {}
        for name in names:
            columns = (
                "select column_name, data_type from duckdb_columns() where database_name = ? "
                "and schema_name = 'marts' and table_name = ? order by column_index"
            )
            cols = [con.execute(columns, [db, name]).fetchall() for db in ("a", "e")]
            if cols[0] != cols[1]:
                problems.append(f"marts.{name}: columns {cols[0]} != full rebuild {cols[1]}")
                continue
            rows[name] = con.execute(f'select count(*) from e.marts."{name}"').fetchone()[0]
            for side, first, second in (("only incremental", "a", "e"), ("only full", "e", "a")):
                diff = (
                    f'select * from {first}.marts."{name}" '
                    f'except all select * from {second}.marts."{name}"'
                )
                count = con.execute(f"select count(*) from ({diff})").fetchone()[0]
                if count:
                    sample = con.execute(f"{diff} limit 3").fetchall()
                    problems.append(f"marts.{name}: {count} rows {side}, e.g. {sample}")
    finally:
        con.close()
    assert not problems, f"{what}: marts differ from a full rebuild:\n" + "\n".join(problems)
    return rows


def fingerprints(path: Path) -> dict[str, tuple]:
    """Row count and order-independent hash of every table and view of schema marts."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        return {
            name: con.execute(
                f'select count(*), sum(hash(t)) from (select * from marts."{name}") as t'
            ).fetchone()
            for name in _mart_names(con, con.execute("select current_database()").fetchone()[0])
        }
    finally:
        con.close()


def query(path: Path, sql: str, params: list | dict | None = None) -> list[tuple]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def first_row(path: Path, sql: str, params: dict, missing: str) -> dict:
    """The first row of ``sql`` by column name; fails with ``missing`` when there is none."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(sql, params)
        row = cursor.fetchone()
        names = [d[0] for d in cursor.description]
    finally:
        con.close()
    assert row, missing
    return dict(zip(names, row, strict=True))


def ledger(path: Path) -> dict[str, str]:
    """file -> load_id of raw._loads; one row per file is asserted."""
    rows = query(path, "select file, load_id from raw._loads")
    files = Counter(file for file, _ in rows)
    assert all(n == 1 for n in files.values()), f"files loaded twice: {files.most_common(3)}"
    return dict(rows)


def table_rows(path: Path, table: str, keys: tuple[str, ...]) -> dict[tuple, dict]:
    con = duckdb.connect(str(path), read_only=True)
    try:
        cursor = con.execute(f"select * from marts.{table}")
        names = [d[0] for d in cursor.description]
        rows = [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    finally:
        con.close()
    out = {tuple(r[k] for k in keys): r for r in rows}
    assert len(out) == len(rows), f"marts.{table} is not unique on {keys}"
    return out


# --------------------------------------------------------------------------- the feed


@dataclass
class Feed:
    """The incremental warehouse fed day by day, and what the tests share about it."""

    root: Path
    source: Path  # every generated file
    build: Build  # the incremental warehouse; its extracts folder grows
    as_of: datetime | None = None  # of the latest run
    last_day: date | None = None  # the newest cut day delivered
    timings: list[tuple[str, float]] = field(default_factory=list)
    ledger_problems: list[str] = field(default_factory=list)
    checkpoint: tuple[date, Path, Background] | None = None
    final_full: Background | None = None
    background: list[Background] = field(default_factory=list)

    def run(self, label: str, as_of: datetime) -> None:
        seconds = self.build.run(as_of)
        self.timings.append((label, seconds))
        self.as_of = as_of
        print(f"  incremental run {label:<28} as of {format_as_of(as_of)}  {seconds:6.1f}s")

    def full_build(self, name: str, as_of: datetime, **settings: str) -> Background:
        """A fresh warehouse built in one run, in the background, from a copy of the
        files delivered so far (``settings``: environment variables of that run)."""
        root = self.root / name
        shutil.copytree(self.build.extracts, root / "extracts")
        build = Build(root, root / "extracts")
        build.env.update(settings)
        background = build.start(as_of, "run")
        self.background.append(background)
        return background

    def deliver(self, rel: str, text: str) -> None:
        path = self.build.extracts / rel
        assert not path.exists(), rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
        day = extract_day_of(path.parent.name, path.name)
        assert day is not None, rel
        self.last_day = max(self.last_day, date.fromisoformat(day))


@pytest.fixture(scope="module")
def feed(tmp_path_factory) -> Iterator[Feed]:
    root = tmp_path_factory.mktemp("incremental")
    result = generate(GeneratorConfig(out=root / "generated", **DATASET))
    (root / "feed").mkdir()
    feed = Feed(root=root, source=result.out, build=Build(root / "inc", root / "feed"))
    schedule = [min(FIRST_DAY + timedelta(days=max(BULK_DAYS, 1) - 1), LAST_DAY)]
    while schedule[-1] < LAST_DAY:
        schedule.append(min(schedule[-1] + timedelta(days=max(STEP_DAYS, 1)), LAST_DAY))
    checkpoint_day = schedule[len(schedule) // 2]
    started = time.monotonic()
    loads: dict[str, str] = {}
    try:
        for day in schedule:
            added = deliver_until(feed.source, feed.build.extracts, day)
            assert added, f"nothing cut on {day}"
            feed.last_day = day
            as_of = midnight_after(day)
            if day == checkpoint_day:
                checkpoint_full = feed.full_build("full-checkpoint", as_of)
            if day == LAST_DAY:
                feed.final_full = feed.full_build("full-final", as_of)
            feed.run(f"{FIRST_DAY}..{day}" if day == schedule[0] else f"{day}", as_of)
            now = ledger(feed.build.path)
            if set(now) != set(loads) | added:
                feed.ledger_problems.append(
                    f"{day}: ledger has {sorted(set(now) ^ (set(loads) | added))[:5]} "
                    "beyond / short of the delivered files"
                )
            reloaded = sorted(f for f, load_id in loads.items() if now.get(f) != load_id)
            if reloaded:
                feed.ledger_problems.append(f"{day}: files loaded again: {reloaded[:5]}")
            loads = now
            if day == checkpoint_day:
                snapshot = root / "inc-checkpoint"
                snapshot.mkdir()
                for file in feed.build.root.glob("warehouse.duckdb*"):  # with a WAL if any
                    shutil.copyfile(file, snapshot / file.name)
                feed.checkpoint = (day, snapshot / "warehouse.duckdb", checkpoint_full)
        total = time.monotonic() - started
        print(f"  feed: {len(schedule)} runs in {total:.0f}s")
        yield feed
    finally:
        for background in feed.background:
            background.kill()


# --------------------------------------------------------------------------- tests


def test_daily_runs_equal_a_full_rebuild(feed: Feed) -> None:
    """Feeding the files day by day, one run per day, gives every mart a full
    rebuild gives on the same files and as-of time, at a day in the middle of the
    feed and at its end; no daily run loads an earlier file again."""
    day, snapshot, full = feed.checkpoint
    assert_same_marts(snapshot, full.wait().path, f"after the daily run of {day}")
    rows = assert_same_marts(feed.build.path, feed.final_full.wait().path, "after the feed")
    for name in ("campaign_performance", *PERIOD_MARTS, "undelivered_reasons", "data_quality"):
        assert rows.get(name), f"marts.{name} is empty: the comparison proves little"
    empty = [name for name, n in rows.items() if n == 0]
    assert not empty, f"empty marts: {empty}"
    assert not feed.ledger_problems, "\n".join(feed.ledger_problems)
    assert set(ledger(feed.build.path)) == delivered_files(feed.source)
    daily = [seconds for _, seconds in feed.timings[1:]]
    print(
        f"  first run {feed.timings[0][1]:.1f}s; {len(daily)} daily runs, mean "
        f"{sum(daily) / max(len(daily), 1):.1f}s, max {max(daily, default=0):.1f}s; "
        f"full rebuild {feed.final_full.seconds:.1f}s (in the background)"
    )


def test_rerunning_the_same_day_changes_nothing(feed: Feed) -> None:
    """The same files and as-of time, three more times: the marts stay identical and
    nothing is loaded again."""
    first = fingerprints(feed.build.path)
    loads = ledger(feed.build.path)
    assert first and all(count for count, _ in first.values())
    for attempt in range(1, 4):
        feed.run(f"rerun {attempt} of {feed.last_day}", feed.as_of)
        assert fingerprints(feed.build.path) == first, f"rerun {attempt} changed the marts"
        assert ledger(feed.build.path) == loads, f"rerun {attempt} loaded files again"


def _late_status_candidate(path: Path, as_of: datetime) -> dict:
    """A campaign message sent two weeks or more before ``as_of`` that never got any
    status (so it is delivery pending, or undelivered as Delivery Report Missing), to a
    user with no unsubscribe (a delivery could attribute one to it)."""
    return first_row(
        path,
        """
        select d.dispatch_id, d.account_id, d.campaign_id, d.user_id, d.wamid, d.phone_number,
               d.attempted_at,
               cast(timezone(a.timezone, timezone('UTC', d.attempted_at)) as date) as cohort_date
        from raw.dispatches d
        join raw.accounts a using (account_id)
        where d.result = 'SENT' and d.attempted_at <= $as_of - interval 14 days
          and d.wamid not in (select wamid from raw.webhook_statuses where wamid is not null)
          and not exists (select 1 from raw.unsubscribes u
                          where u.account_id = d.account_id and u.user_id = d.user_id)
          and d.dispatch_id in (select dispatch_id from raw.dispatches
                                group by dispatch_id having count(*) = 1)
        order by d.attempted_at, d.dispatch_id
        limit 1
        """,
        {"as_of": as_of.replace(tzinfo=None)},
        "the dataset has no old message without any status: change the seed",
    )


def _late_conversion_candidate(path: Path, as_of: datetime) -> dict:
    """A click two weeks or more before ``as_of`` on a message of a campaign with a goal
    event, such that no other click of that account and user falls in the minute after
    it: an event one minute after it is attributed to it (last click)."""
    return first_row(
        path,
        """
        with clicks as (
            select distinct k.click_id, k.clicked_at, d.account_id, d.user_id, d.campaign_id,
                   cast(timezone(a.timezone, timezone('UTC', d.attempted_at)) as date)
                       as cohort_date
            from raw.clicks k
            join raw.dispatches d on d.wamid = k.wamid and d.result = 'SENT'
            join raw.accounts a using (account_id)
        ),
        campaigns as (
            select campaign_id, goal_event, conversion_window_hours
            from raw.campaigns
            qualify row_number() over (partition by campaign_id order by _file_day desc) = 1
        )
        select c.click_id, c.clicked_at, c.account_id, c.user_id, c.campaign_id, c.cohort_date,
               p.goal_event, ac.currency
        from clicks c
        join campaigns p using (campaign_id)
        join raw.accounts ac using (account_id)
        where p.goal_event is not null and p.conversion_window_hours >= 1
          and c.clicked_at <= $as_of - interval 14 days
          and not exists (
              select 1 from clicks o
              where o.account_id = c.account_id and o.user_id = c.user_id
                and o.click_id <> c.click_id
                and o.clicked_at between c.clicked_at and c.clicked_at + interval 1 minute)
          and c.click_id in (select click_id from clicks group by click_id having count(*) = 1)
        order by c.clicked_at, c.click_id
        limit 1
        """,
        {"as_of": as_of.replace(tzinfo=None)},
        "the dataset has no old click of a campaign with a goal: change the seed",
    )


def _webhook_line(feed: Feed, account_id: str, statuses: list[dict], received: datetime) -> str:
    """One webhook delivery as our receiver writes it (see the generator's writers):
    the account's WABA entry with one change holding ``statuses``."""
    entry_id = query(
        feed.build.path,
        "select min(s.entry_id) from raw.webhook_statuses s "
        "join raw.dispatches d on d.wamid = s.wamid where d.account_id = ?",
        [account_id],
    )[0][0]
    assert entry_id, f"no webhook of {account_id} to take its WABA id from"
    metadata = None
    for file in sorted((feed.build.extracts / "webhooks").glob("*.jsonl")):
        for line in file.read_text().splitlines():
            if f'"id":"{entry_id}"' in line:
                try:
                    entry = next(
                        e for e in json.loads(line)["body"]["entry"] if e["id"] == entry_id
                    )
                    metadata = entry["changes"][0]["value"]["metadata"]
                except (ValueError, KeyError, StopIteration):
                    continue
                break
        if metadata:
            break
    assert metadata, f"no webhook line of WABA {entry_id}"
    digest = hashlib.md5(json.dumps(statuses, default=str).encode()).hexdigest()
    value = {"messaging_product": "whatsapp", "metadata": metadata, "statuses": statuses}
    body = {
        "object": "whatsapp_business_account",
        "entry": [{"id": entry_id, "changes": [{"value": value, "field": "messages"}]}],
    }
    envelope = {"delivery_id": digest, "received_at": iso_ms(received), "body": body}
    return json.dumps(envelope, separators=(",", ":"))


def _status(message: dict, status: str, at: datetime) -> dict:
    return {
        "id": message["wamid"],
        "status": status,
        "timestamp": str(int(at.timestamp())),
        "recipient_id": re.sub(r"\D", "", message["phone_number"]),
    }


def _period_keys(account_id: str, campaign_id: str, cohort: date) -> dict[str, tuple]:
    return {
        "campaign_performance": (account_id, campaign_id),
        "campaign_performance_daily": (account_id, campaign_id, cohort),
        "campaign_performance_weekly": (
            account_id, campaign_id, cohort - timedelta(days=cohort.weekday())),
        "campaign_performance_monthly": (account_id, campaign_id, cohort.replace(day=1)),
    }  # fmt: skip


def test_late_status_and_conversion_update_day_week_and_month(feed: Feed) -> None:
    """Weeks after the send, a file brings a `delivered` for a message that never had a
    status, and a goal event one minute after an old click. The daily run equals a full
    rebuild; against a full rebuild without that file at the same as-of time, exactly
    the message's and the click's cohort day, ISO week, month and campaign rows change,
    by +1 delivered (-1 pending or -1 Delivery Report Missing) and +1 conversion, and
    the clicked link's row by +1 conversion and the event's revenue."""
    late_day = feed.last_day + timedelta(days=1)
    as_of = midnight_after(late_day)
    message = _late_status_candidate(feed.build.path, as_of)
    click = _late_conversion_candidate(feed.build.path, as_of)
    missing = as_of.replace(tzinfo=None) - message["attempted_at"] >= timedelta(hours=720)
    revenue = Decimal("123.45")
    event_at = click["clicked_at"].replace(tzinfo=UTC) + timedelta(minutes=1)

    base = feed.full_build("full-late-without", as_of)
    received = datetime.combine(late_day, datetime.min.time(), UTC) + timedelta(hours=9)
    delivered = _status(message, "delivered", received - timedelta(minutes=5))
    line = _webhook_line(feed, message["account_id"], [delivered], received)
    feed.deliver(f"webhooks/webhooks-{late_day}.jsonl", line + "\n")
    feed.deliver(
        f"conversions/conversions-{late_day}.csv",
        "event_id,account_id,user_id,event_name,occurred_at,revenue,currency\n"
        f"evt_late_{late_day:%Y%m%d},{click['account_id']},{click['user_id']},"
        f"{click['goal_event']},{iso_ms(event_at)},{revenue},{click['currency']}\n",
    )
    full = feed.full_build("full-late", as_of)
    feed.run(f"late file {late_day}", as_of)
    assert_same_marts(feed.build.path, full.wait().path, f"after the late file of {late_day}")
    without = base.wait().path

    expected: dict[str, dict[tuple, Counter]] = {}
    for table, key in _period_keys(
        message["account_id"], message["campaign_id"], message["cohort_date"]
    ).items():
        delta = expected.setdefault(table, {}).setdefault(key, Counter())
        delta["delivered"] += 1
        delta["undelivered" if missing else "delivery_pending"] -= 1
    for table, key in _period_keys(
        click["account_id"], click["campaign_id"], click["cohort_date"]
    ).items():
        delta = expected.setdefault(table, {}).setdefault(key, Counter())
        delta["conversions"] += 1
        delta["revenue"] += revenue

    for table, deltas in expected.items():
        keys = ("account_id", "campaign_id") + (() if table == "campaign_performance" else
                                                ("period_start",))  # fmt: skip
        before, after = table_rows(without, table, keys), table_rows(feed.build.path, table, keys)
        assert set(after) == set(before), f"marts.{table}: rows appeared or disappeared"
        for key, row in after.items():
            old = before[key]
            if key not in deltas:
                assert row == old, f"marts.{table} {key} changed: {old} -> {row}"
                continue
            change = {
                column: value - old[column]
                for column, value in row.items()
                if not column.endswith("_rate")
                and isinstance(value, int | Decimal)
                and value != old[column]
            }
            want = {column: n for column, n in deltas[key].items() if n}
            assert change == want, f"marts.{table} {key}: changed by {change}, expected {want}"
            for column, value in row.items():
                if not column.endswith("_rate") and not isinstance(value, int | Decimal):
                    assert value == old[column], f"marts.{table} {key}.{column} changed"

    reasons = {
        key: row["messages"]
        for key, row in table_rows(
            without, "undelivered_reasons", ("account_id", "campaign_id", "cohort_date", "reason")
        ).items()
    }
    now = {
        key: row["messages"]
        for key, row in table_rows(
            feed.build.path,
            "undelivered_reasons",
            ("account_id", "campaign_id", "cohort_date", "reason"),
        ).items()
    }
    if missing:
        key = (message["account_id"], message["campaign_id"], message["cohort_date"], DRM)
        assert reasons.get(key, 0) - now.get(key, 0) == 1, "Delivery Report Missing did not drop"
        reasons[key] -= 1
        if reasons[key] == 0:
            del reasons[key]
    assert now == reasons, "other undelivered reasons changed"
    # the conversion is attributed to the click (last click): exactly the clicked
    # link's row gains it, every other link row stays as it was
    link_key = ("account_id", "campaign_id", "cohort_date", "url", "button_id", "card_index")
    links_before = table_rows(without, "link_click_activity", link_key)
    links_after = table_rows(feed.build.path, "link_click_activity", link_key)
    assert set(links_after) == set(links_before), "link rows appeared or disappeared"
    changed = {key for key, row in links_after.items() if row != links_before[key]}
    assert len(changed) == 1, f"link rows changed: {changed}"
    (link,) = changed
    assert link[:3] == (click["account_id"], click["campaign_id"], click["cohort_date"])
    assert {
        column: value - links_before[link][column]
        for column, value in links_after[link].items()
        if value != links_before[link][column]
    } == {"conversions": 1, "revenue": revenue}
    for table in ("dropped_reasons", "reason_dictionary"):
        old, new = fingerprints(without)[table], fingerprints(feed.build.path)[table]
        assert new == old, f"marts.{table} changed"
    # the late `delivered` carries no pricing (the contract makes it optional): one more
    # delivered message of unknown cost, and no other data-quality figure moves
    checks_before = table_rows(without, "data_quality", ("check_name", "source"))
    checks_after = table_rows(feed.build.path, "data_quality", ("check_name", "source"))
    unpriced = ("unpriced_messages", None)
    assert checks_after[unpriced]["rows"] - checks_before[unpriced]["rows"] == 1
    del checks_before[unpriced], checks_after[unpriced]
    assert checks_after == checks_before, "other data_quality checks changed"


def test_a_send_exported_again_at_another_time_equals_a_full_rebuild(feed: Feed) -> None:
    """A new dispatches file repeats every dispatch of one cohort day with its attempt
    two days later (the contract makes dispatch_id unique per row: a re-export). The
    cohort it left has no message any more, so no key of the new data names its row;
    the run drops that row (the models downstream of the staging tables recompute
    every cohort) and equals a full rebuild."""
    day = feed.last_day + timedelta(days=1)
    as_of = midnight_after(day)
    (account, campaign, cohort, targeted), *_ = query(
        feed.build.path,
        """
        select account_id, campaign_id, period_start, targeted
        from marts.campaign_performance_daily
        where period_start <= cast($as_of as date) - interval 7 days
        order by targeted, account_id, campaign_id, period_start
        """,
        {"as_of": as_of},
    )
    moved = {
        dispatch_id
        for (dispatch_id,) in query(
            feed.build.path,
            "select dispatch_id from intermediate.int_messages "
            "where account_id = ? and campaign_id = ? and cohort_date = ?",
            [account, campaign, cohort],
        )
    }
    assert len(moved) == targeted
    header, lines = None, []
    for path in sorted((feed.build.extracts / "dispatches").glob("*.csv")):
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames
            for row in reader:
                if row["dispatch_id"] in moved:
                    attempted = datetime.fromisoformat(row["attempted_at"].replace("Z", "+00:00"))
                    lines.append({**row, "attempted_at": iso_ms(attempted + timedelta(days=2))})
    assert header and len(lines) == len(moved)
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=header, lineterminator="\n")
    writer.writeheader()
    writer.writerows(lines)
    feed.deliver(f"dispatches/dispatches-{day}.csv", text.getvalue())

    full = feed.full_build("full-reexport", as_of)
    feed.run(f"re-exported send {day}", as_of)
    assert_same_marts(feed.build.path, full.wait().path, f"after the re-export of {day}")
    left = table_rows(feed.build.path, "campaign_performance_daily",
                      ("account_id", "campaign_id", "period_start"))  # fmt: skip
    assert (account, campaign, cohort) not in left, "the emptied cohort day kept its row"


# Meta's webhook for the day: reads of messages delivered but never opened.
def _reads(feed: Feed, day: date) -> tuple[str, list[str]]:
    rows = query(
        feed.build.path,
        """
        select d.account_id, d.wamid, d.phone_number from raw.dispatches d
        where d.result = 'SENT'
          and d.wamid in (select wamid from raw.webhook_statuses where status = 'delivered')
          and d.wamid not in (select wamid from raw.webhook_statuses where status = 'read')
        order by d.account_id, d.dispatch_id
        """,
    )
    assert rows, "no delivered message without a read"
    account = rows[0][0]
    messages = [{"wamid": w, "phone_number": p} for a, w, p in rows if a == account][:3]
    received = datetime.combine(day, datetime.min.time(), UTC) + timedelta(hours=10)
    statuses = [_status(m, "read", received - timedelta(minutes=1)) for m in messages]
    return _webhook_line(feed, account, statuses, received), [m["wamid"] for m in messages]


OPENS = "select sum(opens) from marts.campaign_performance"
# dbt's line for a model it rebuilt (table, view or incremental) in a layer the marts read
DBT_WROTE_A_MODEL = re.compile(r"OK created sql \w+ model (intermediate|marts)\.")
NO_DBT_LINE_AFTER = 60  # seconds after the loaders: kill anyway if dbt printed no model line
STUCK_AFTER = 120  # seconds: a run still waiting then on a killed run's pool slot is stuck


def pool_claims(dagster_home: Path) -> set[tuple[str, str, str]]:
    """(pool, run id, step) of every Dagster pool slot claimed in DAGSTER_HOME."""
    instance = dg.DagsterInstance.from_config(str(dagster_home))
    try:
        storage = instance.event_log_storage
        return {
            (pool, claim.run_id, claim.step_key)
            for pool in storage.get_concurrency_keys()
            for claim in storage.get_concurrency_info(pool).claimed_slots
        }
    finally:
        instance.dispose()


def _kill_while_dbt_writes(killed: Background) -> str:
    """SIGKILL the run (and its dbt) once dbt reports a rebuilt model; says when."""
    deadline = time.monotonic() + RUN_TIMEOUT
    loaded_at = trigger = None
    while trigger is None:
        assert killed.proc.poll() is None, (
            f"the run ended ({killed.proc.returncode}) before it could be killed:\n"
            f"{killed.output()}"
        )
        assert time.monotonic() < deadline, f"the run never reached dbt:\n{killed.output()}"
        if DBT_WROTE_A_MODEL.search(killed.stdout.read_text()):
            trigger = "dbt had rebuilt a model"
        elif loaded_at is None and "load_webhooks" in killed.stderr.read_text():
            loaded_at = time.monotonic()
        elif loaded_at is not None and time.monotonic() - loaded_at > NO_DBT_LINE_AFTER:
            trigger = f"{NO_DBT_LINE_AFTER} s after the loaders, no dbt model line seen"
        time.sleep(0.05)
    killed.kill()
    assert killed.proc.returncode == -signal.SIGKILL
    return trigger


def test_a_killed_run_leaves_the_publication_and_the_next_run_catches_up(feed: Feed) -> None:
    """A daily run killed (SIGKILL, with its dbt) while dbt rebuilds the models leaves
    the previous publication in place and readable; the next run (same Dagster home,
    as the CLI uses) finishes and its marts equal a full rebuild on the same files and
    as-of time."""
    day = feed.last_day + timedelta(days=1)
    as_of = midnight_after(day)
    published = read_publication(feed.build.serving)
    assert published is not None, "the feed published nothing"
    kept = fingerprints(feed.build.serving)
    kept_parquet = (feed.build.parquet_dir / PUBLICATION_JSON).read_text()
    opens_before = query(feed.build.serving, OPENS)[0][0]
    assert kept["campaign_performance"][0] > 0

    line, wamids = _reads(feed, day)
    feed.deliver(f"webhooks/webhooks-{day}.jsonl", line + "\n")
    killed = feed.build.start(as_of, f"killed-{day}")
    feed.background.append(killed)
    trigger = _kill_while_dbt_writes(killed)
    print(f"  killed the run of {day} ({trigger})")

    after = read_publication(feed.build.serving)
    assert after is not None and after["publication_id"] == published["publication_id"]
    assert fingerprints(feed.build.serving) == kept, "the killed run changed the publication"
    assert (feed.build.parquet_dir / PUBLICATION_JSON).read_text() == kept_parquet

    # nothing runs on this Dagster home now: every pool slot still claimed is the killed run's
    stale = pool_claims(Path(feed.build.env["DAGSTER_HOME"]))
    full = feed.full_build("full-after-kill", as_of)
    rerun = feed.build.start(as_of, f"after-kill-{day}")
    feed.background.append(rerun)
    while rerun.proc.poll() is None:
        waited = time.monotonic() - rerun.started
        if waited > STUCK_AFTER and stale:
            held = stale & pool_claims(Path(feed.build.env["DAGSTER_HOME"]))
            if held:
                rerun.kill()
                pytest.fail(
                    f"the run after the killed one is stuck after {waited:.0f} s: it waits "
                    f"for Dagster pool slots the killed run still claims {sorted(held)}; "
                    "nothing frees a killed run's claims, so every later run waits forever"
                )
        time.sleep(1)
    rerun.wait()
    feed.timings.append((f"after the killed run {day}", rerun.seconds))
    feed.as_of = as_of
    print(f"  incremental run after the kill as of {format_as_of(as_of)}  {rerun.seconds:6.1f}s")
    assert_same_marts(feed.build.path, full.wait().path, f"after the killed run of {day}")
    # the new file is loaded and its reads count (as_of moved too: more reads may count)
    assert f"webhooks/webhooks-{day}.jsonl" in ledger(feed.build.path)
    opens_now = query(feed.build.path, OPENS)[0][0]
    assert opens_now >= opens_before + len(wamids), "the reads of the new file are not counted"
    republished = read_publication(feed.build.serving)
    assert republished["publication_id"] != published["publication_id"]
    assert republished["as_of"] == as_of
    served = fingerprints(feed.build.serving)
    assert served.pop("_publication")[0] == 1
    assert served == fingerprints(feed.build.path), "the publication is not the warehouse's marts"


# Last: it leaves two ledger rows for the re-delivered files.
def test_a_file_redelivered_with_other_bytes_equals_a_full_rebuild(feed: Feed) -> None:
    """A dispatches file and a webhooks file delivered again under their names with
    rows removed: their earlier rows are replaced, which no new key names, so the
    run rebuilds the incremental models downstream of those sources from scratch
    and its marts equal a fresh build of the same files."""
    day = feed.last_day
    as_of = midnight_after(day)
    replaced = []
    for folder, pattern in (("dispatches", "dispatches-*.csv"), ("webhooks", "webhooks-*.jsonl")):
        generated = [  # the newest generated file of the feed (others hold one line or two)
            p
            for p in (feed.build.extracts / folder).glob(pattern)
            if (feed.source / folder / p.name).exists()
        ]
        path = sorted(generated)[-1]
        rel = f"{folder}/{path.name}"
        lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
        keep = lines[:1] + lines[1::2] if folder == "dispatches" else lines[::2]
        assert len(keep) < len(lines), f"{rel} has too few rows to remove any"
        path.write_text("".join(keep), encoding="utf-8")
        replaced.append(rel)
    targeted = query(feed.build.path, "select sum(targeted) from marts.campaign_performance")[0][0]
    # the re-delivered webhooks file lacks half its statuses by design, which
    # missing_status_share rightly reports as a broken receiver (an ERROR that blocks
    # the publication, tested in tests/unit/test_checks.py): this scenario is about the
    # rebuild, so its two builds raise that threshold, and only they do
    lenient = {"WA_MISSING_STATUS_JUMP": "1"}
    full = feed.full_build("full-redelivered", as_of, **lenient)
    with feed.build.settings(**lenient):
        feed.run(f"re-delivered files of {day}", as_of)
    assert_same_marts(feed.build.path, full.wait().path, f"after the re-delivery of {day}")
    assert (
        query(feed.build.path, "select sum(targeted) from marts.campaign_performance")[0][0]
        < targeted
    )
    rebuilt = {
        load_id
        for (load_id,) in query(
            feed.build.path,
            "select load_id from raw._loads where file in (select unnest(?::varchar[])) "
            "and replaced_load_id is not null",
            [replaced],
        )
    }
    assert len(rebuilt) == 2
    assert rebuilt <= {
        r for (r,) in query(feed.build.path, "select load_id from raw._rebuilt_loads")
    }
