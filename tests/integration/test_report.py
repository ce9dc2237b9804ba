"""`wa-warehouse report`: campaign analytics from the published marts, checked against the marts."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest

from orchestration.config import ConfigError
from orchestration.report import (
    COUNTS,
    WIDTH,
    DateRange,
    Scope,
    build_report,
    open_serving,
    parse_date_range,
    publication_as_of,
    resolve_scope,
)
from tests.conftest import PipelineRun, cli_env, run_cli

PUBLISHED_AS_OF = "2030-01-02T03:04:05Z"  # a value no real run has: proves where the header reads


@pytest.fixture
def serving(pipeline_run: PipelineRun, tmp_path: Path) -> Path:
    """A copy of the run's marts as the serving file, with a marts._publication row."""
    path = tmp_path / "serving.duckdb"
    shutil.copyfile(pipeline_run.warehouse, path)
    con = duckdb.connect(str(path))
    try:
        con.execute("drop table if exists marts._publication")
        con.execute("create table marts._publication (as_of timestamptz, published_at timestamptz)")
        con.execute(
            "insert into marts._publication values "
            "('2020-01-01T00:00:00Z', '2020-01-01T01:00:00Z'), (?, now())",
            [PUBLISHED_AS_OF],
        )
    finally:
        con.close()
    return path


@pytest.fixture
def con(serving: Path) -> Iterator[duckdb.DuckDBPyConnection]:
    connection = open_serving(serving)
    yield connection
    connection.close()


def _daily_sums(con, where: str, params: list) -> dict[str, object]:
    columns = [*COUNTS, "revenue"]
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in columns)
    row = con.execute(
        f"select {sums} from marts.campaign_performance_daily where {where}", params
    ).fetchone()
    return dict(zip(columns, row, strict=True))


def _metric(text: str, label: str) -> str:
    """The value printed on a metric line (the first one: the metrics or totals block)."""
    match = re.search(rf"^  {re.escape(label)} +(\S+)", text, re.MULTILINE)
    assert match, f"no {label!r} line in the report:\n{text}"
    return match.group(1)


def _section(text: str, title_start: str) -> str:
    """The lines of one section, from its title to the next blank line."""
    start = text.index(f"\n{title_start}") + 1
    end = text.find("\n\n", start)
    return text[start : end if end != -1 else None]


def _assert_totals(text: str, expected: dict[str, object]) -> None:
    for name in COUNTS:
        assert _metric(text, name.replace("_", " ")) == f"{int(expected[name]):,}", name
    assert _metric(text, "revenue") == f"{Decimal(expected['revenue']):,.2f}"


def _assert_fits(text: str) -> None:
    too_wide = [line for line in text.splitlines() if len(line) > WIDTH]
    assert not too_wide, too_wide


def _busiest_campaign(con) -> tuple[str, str]:
    return con.execute(
        "select account_id, campaign_id from marts.campaign_performance "
        "order by sent desc, campaign_id limit 1"
    ).fetchone()


def test_campaign_report_sums_the_range_and_recomputes_rates(con, serving: Path) -> None:
    account, campaign = _busiest_campaign(con)
    first, last = con.execute(
        "select min(period_start), max(period_start) from marts.campaign_performance_daily "
        "where campaign_id = ?",
        [campaign],
    ).fetchone()
    start, end = first + timedelta(days=3), last - timedelta(days=3)
    scope = resolve_scope(con, campaign=campaign)
    assert scope == Scope("campaign", campaign, account)

    text = build_report(con, scope, DateRange(start, end), source=serving)

    expected = _daily_sums(
        con, "campaign_id = ? and period_start between ? and ?", [campaign, start, end]
    )
    assert expected["sent"] > 0
    _assert_totals(text, expected)
    header = text.split("\n===")[0]  # the header line(s), before the rule
    assert f"campaign {campaign}" in header
    assert f"{start} to {end}" in header
    assert f"as of {PUBLISHED_AS_OF}" in header  # the newest marts._publication row
    name, template = con.execute(
        "select campaign_name, template_name from marts.campaign_performance where campaign_id = ?",
        [campaign],
    ).fetchone()
    assert name in text and template in text
    # Rates come from the summed counts, as fractions shown in percent with one decimal.
    open_rate = f"{expected['opens'] / expected['delivered'] * 100:.1f} %"
    assert re.search(rf"^  opens +{expected['opens']:,} +{re.escape(open_rate)}  open rate", text,
                     re.MULTILINE)  # fmt: skip
    delivery_rate = f"{expected['delivered'] / expected['sent'] * 100:.1f} %"
    assert f"{delivery_rate}  delivery rate = delivered / sent" in text
    assert "unique clickers not shown" in text  # several days: uniques do not add up
    _assert_fits(text)


def test_account_report_lists_its_campaigns_and_totals(con) -> None:
    account, count = con.execute(
        "select account_id, count(*) from marts.campaign_performance "
        "group by 1 order by 2 desc, 1 limit 1"
    ).fetchone()
    text = build_report(con, resolve_scope(con, account=account), DateRange())

    _assert_totals(text, _daily_sums(con, "account_id = ?", [account]))
    assert f"Campaigns: {count}" in text
    campaigns = con.execute(
        "select campaign_id from marts.campaign_performance where account_id = ?", [account]
    ).fetchall()
    for (campaign,) in campaigns:
        assert re.search(rf"^  {campaign}  ", text, re.MULTILINE), campaign
    first, last = con.execute(
        "select min(period_start), max(period_start) from marts.campaign_performance_daily "
        "where account_id = ?",
        [account],
    ).fetchone()
    assert f"cohort dates {first} to {last}" in text.splitlines()[0]
    _assert_fits(text)


def test_all_campaigns_over_one_day_shows_unique_clickers(con) -> None:
    (day,) = con.execute(
        "select cohort_date from marts.link_click_activity group by 1 "
        "order by sum(clicks) desc, 1 limit 1"
    ).fetchone()
    text = build_report(con, resolve_scope(con), DateRange(day, day), top=3)

    expected = _daily_sums(con, "period_start = ?", [day])
    for name in COUNTS:
        assert _metric(text, name.replace("_", " ")) == f"{int(expected[name]):,}", name
    assert _metric(text, "revenue") == "n/a"  # not summed across accounts' currencies
    links = _section(text, "Link activity")
    assert "unique clickers" in links.splitlines()[2]  # the table header
    total_clicks = con.execute(
        "select sum(clicks) from marts.link_click_activity where cohort_date = ?", [day]
    ).fetchone()[0]
    assert f"Link activity: {total_clicks:,} clicks" in links
    most = con.execute(
        "select max(clicks) from marts.link_click_activity where cohort_date = ?", [day]
    ).fetchone()[0]
    assert re.search(rf" {most:,} +[\d,]+$", links.splitlines()[3])  # clicks, unique clickers
    assert len([line for line in links.splitlines() if line.startswith("  cmp")]) <= 3
    _assert_fits(text)


def test_reasons_shares_add_up_and_show_solutions(con) -> None:
    _, campaign = _busiest_campaign(con)
    text = build_report(con, resolve_scope(con, campaign=campaign), DateRange())
    flat = " ".join(text.split())
    for kind in ("dropped", "undelivered"):
        rows = con.execute(
            f"select reason, sum(messages) from marts.{kind}_reasons where campaign_id = ? "
            "group by 1",
            [campaign],
        ).fetchall()
        total = sum(messages for _, messages in rows)
        section = _section(text, f"{kind.capitalize()} reasons")
        assert f"{total:,} {kind} messages" in section
        shares = {
            match.group(1): (int(match.group(2).replace(",", "")), float(match.group(3)))
            for match in re.finditer(r"^  (\S.*?) +([\d,]+) +(\d+\.\d) %$", section, re.MULTILINE)
        }
        assert {reason: messages for reason, (messages, _) in shares.items()} == dict(rows)
        assert abs(sum(share for _, share in shares.values()) - 100) <= 0.05 * len(shares)
        solutions = con.execute(
            "select reason, possible_solution from marts.reason_dictionary where kind = ?",
            [kind],
        ).fetchall()
        for reason, solution in solutions:
            if reason in shares:
                assert " ".join(solution.split()) in flat, reason


def test_response_activity_per_option(con) -> None:
    (campaign,) = con.execute(
        "select campaign_id from marts.response_summary where button_id is null "
        "group by 1 order by sum(responses) desc, 1 limit 1"
    ).fetchone()
    text = build_report(con, resolve_scope(con, campaign=campaign), DateRange(), top=50)
    section = _section(text, "Response activity")
    rows = con.execute(
        "select button_text, button_id, is_external_platform, sum(responses), "
        "sum(responder_conversions) from marts.response_summary where campaign_id = ? "
        "group by all",
        [campaign],
    ).fetchall()
    assert f"Response activity: {sum(r[3] for r in rows):,} responses" in section
    for text_, button, external, responses, conversions in rows:
        option = "(free text)" if button is None else text_ or "(unknown payload)"
        flag = "yes" if external else "no"
        assert re.search(
            rf"^  {re.escape(option)} .* {flag} +{responses:,} +\d+\.\d % +{conversions:,}$",
            section,
            re.MULTILINE,
        ), (option, button)


def test_trend_rows_add_up_to_the_totals(con) -> None:
    account, _ = _busiest_campaign(con)
    first, last = con.execute(
        "select min(period_start), max(period_start) from marts.campaign_performance_daily "
        "where account_id = ?",
        [account],
    ).fetchone()
    text = build_report(con, resolve_scope(con, account=account), DateRange())

    section = _section(text, "Trend")  # the sparklines, up to the blank line before the table
    grain = "daily" if (last - first).days < 31 else "weekly (ISO weeks)"
    assert section.startswith(f"Trend: {grain}, {first} to {last}")
    assert len([line for line in section.splitlines() if line.startswith("  sent ")]) == 1
    table = _section(text, "  date" if grain == "daily" else "  week of")
    rows = [line.split() for line in table.splitlines()[1:] if re.match(r"  \d{4}-", line)]
    expected = _daily_sums(con, "account_id = ?", [account])
    assert sum(int(row[1].replace(",", "")) for row in rows) == expected["sent"]
    assert sum(int(row[2].replace(",", "")) for row in rows) == expected["delivered"]
    _assert_fits(text)


def test_benchmarks_recompute_each_baseline_from_campaign_benchmarks(con) -> None:
    # the campaign with the most messages the shipped reference row (IN x MARKETING) covers
    campaign, reference_delivered = con.execute(
        "select campaign_id, sum(reference_compared_delivered) as covered "
        "from marts.campaign_benchmarks group by campaign_id order by covered desc, campaign_id "
        "limit 1"
    ).fetchone()
    assert reference_delivered > 0  # the sample sends marketing templates to India
    text = build_report(con, resolve_scope(con, campaign=campaign), DateRange())
    section = _section(text, "Benchmarks")
    flat = " ".join(section.split())
    labels = {"history": "account history, 30 days", "reference": "reference seed",
              "benchmark": "cross-account p75"}  # fmt: skip
    for baseline, label in labels.items():
        delivered, opens, expected = con.execute(
            f"select sum({baseline}_compared_delivered), sum({baseline}_compared_opens), "
            f"sum({baseline}_expected_opens) from marts.campaign_benchmarks where campaign_id = ?",
            [campaign],
        ).fetchone()
        if delivered:
            read, base = opens / delivered, expected / delivered
            cells = f"{delivered:,} {read * 100:.1f} % {base * 100:.1f} % "
            cells += f"{(read - base) * 100:+.1f} pp"
        else:
            cells = "0 n/a n/a n/a"
        assert f"{label} {cells}" in flat, (label, section)
    delivered = con.execute(
        "select sum(delivered) from marts.campaign_performance_daily where campaign_id = ?",
        [campaign],
    ).fetchone()[0]
    assert f"campaign, all delivered {delivered:,} " in flat  # the same messages as the metrics
    # the seed's publication and date, without a placeholder flag
    source = "RichAutomate, WhatsApp Marketing Benchmarks India 2026 (2026-07-03)"
    assert f"reference seed: {source}" in flat
    assert "placeholder" not in flat
    _assert_fits(text)


def test_publication_as_of_is_optional() -> None:
    con = duckdb.connect()
    con.execute("create schema marts")
    assert publication_as_of(con) is None
    con.execute("create table marts._publication (as_of timestamp)")
    con.execute("insert into marts._publication values ('2026-11-01 00:00:00')")
    assert publication_as_of(con) == "2026-11-01T00:00:00Z"


def test_date_range_checks() -> None:
    assert parse_date_range("2026-10-01", None) == DateRange(date(2026, 10, 1), None)
    assert parse_date_range(None, " 2026-10-31") == DateRange(None, date(2026, 10, 31))
    with pytest.raises(ConfigError, match="is after --to"):
        parse_date_range("2026-10-10", "2026-10-01")
    with pytest.raises(ConfigError, match="is not a date"):
        parse_date_range("10/01/2026", None)


def test_cli_report_and_unknown_campaign(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    env = cli_env(tmp_path)
    rows = pipeline_run.query("select campaign_id from marts.campaign_performance order by sent")
    campaigns = [row[0] for row in rows]
    # The run's own publication when it wrote one beside the warehouse, else the marts themselves.
    published = pipeline_run.warehouse.with_name("serving.duckdb")
    serving = str(published if published.is_file() else pipeline_run.warehouse)
    ok = run_cli("report", "--serving", serving, "--campaign", campaigns[-1], env=env)
    assert ok.returncode == 0, ok.stderr
    assert f"Campaign {campaigns[-1]}" in ok.stdout and "Metrics" in ok.stdout
    assert "\nTrend: " in ok.stdout and "\nBenchmarks: " in ok.stdout
    _assert_fits(ok.stdout)

    unknown = run_cli("report", "--serving", serving, "--campaign", "nope", env=env)
    assert unknown.returncode == 2
    assert unknown.stderr.startswith("error: unknown campaign 'nope'; known campaigns include: ")
    assert any(valid in unknown.stderr for valid in campaigns)  # lists valid ids
    assert "Traceback" not in unknown.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--from", "2026-10-10", "--to", "2026-10-01"], "--from 2026-10-10 is after --to"),
        (["--from", "2026-02-30"], "is not a date"),
        ([], "no published marts at "),
        (["--campaign", "c", "--account", "a"], "not allowed with argument"),
    ],
)
def test_cli_report_errors_are_readable(args: list[str], message: str, tmp_path: Path) -> None:
    missing = tmp_path / "nowhere" / "serving.duckdb"
    result = run_cli("report", "--serving", str(missing), *args, env=cli_env(tmp_path))
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr
    if not args:
        assert f"no published marts at {missing}: run `wa-warehouse run` first" in result.stderr


def test_range_without_dispatches_has_zero_counts_and_null_rates(con) -> None:
    _, campaign = _busiest_campaign(con)
    (last,) = con.execute(
        "select max(period_start) from marts.campaign_performance_daily where campaign_id = ?",
        [campaign],
    ).fetchone()
    after = last + timedelta(days=1)
    text = build_report(con, resolve_scope(con, campaign=campaign), DateRange(after, None))
    assert f"cohort dates from {after}" in text.splitlines()[0]
    assert "no dispatches in this scope and range" in text
    assert _metric(text, "sent") == "0"
    assert re.search(r"^  delivered +0 +n/a  delivery rate", text, re.MULTILINE)
