"""The dashboard without a browser or a pipeline run: a hand-made publication, the static
export (offline, the marts' numbers, rates recomputed from sums), sections that degrade
when a mart or column is missing, the flags' errors and the users' export route."""

from __future__ import annotations

import html
import re
import sys
import types
from datetime import date
from html.parser import HTMLParser
from pathlib import Path

import duckdb
import pytest
from tornado.testing import AsyncHTTPTestCase
from tornado.web import Application

from orchestration.dashboard import __main__ as entry
from orchestration.dashboard import queries, server
from orchestration.dashboard.queries import Selection, Serving, snapshot
from orchestration.dashboard.static import export_html

COUNTS = ("targeted", "sent", "dropped", "delivered", "undelivered", "delivery_pending",
          "opens", "clicks", "conversions", "unsubscribes", "responses")  # fmt: skip

# Two cohort dates of cmp_a whose rates differ: averaging the daily rates would give
# 75.0 % delivery, summing the counts first gives 95.0 %.
DAILY = [
    ("acc_1", "cmp_a", date(2026, 10, 1), dict(targeted=110, sent=100, dropped=10, delivered=50,
     undelivered=30, delivery_pending=20, opens=25, clicks=5, conversions=1, unsubscribes=0,
     responses=4), "10.5"),
    ("acc_1", "cmp_a", date(2026, 10, 2), dict(targeted=905, sent=900, dropped=5, delivered=900,
     undelivered=0, delivery_pending=0, opens=450, clicks=90, conversions=9, unsubscribes=2,
     responses=40), "100.25"),
    ("acc_2", "cmp_b", date(2026, 10, 2), dict(targeted=20, sent=20, dropped=0, delivered=10,
     undelivered=10, delivery_pending=0, opens=5, clicks=1, conversions=0, unsubscribes=0,
     responses=0), "0"),
]  # fmt: skip


# cmp_a on two cohort dates: at the 1 h horizon 50 of 100 and 30 of 300 judged messages
# had no report: 80 / 400 = 20.0 % over both days (the days' average would be 30.0 %)
LATENCY_MARTS = """
    create table marts.delivery_survival (account_id varchar, campaign_id varchar,
        cohort_date date, horizon_hours integer, horizon_label varchar, sent bigint,
        at_risk bigint, without_report bigint);
    insert into marts.delivery_survival values
        ('acc_1', 'cmp_a', '2026-10-01', 1, '1 h', 100, 100, 50),
        ('acc_1', 'cmp_a', '2026-10-01', 720, '30 d', 100, 0, 0),
        ('acc_1', 'cmp_a', '2026-10-02', 1, '1 h', 900, 300, 30),
        ('acc_1', 'cmp_a', '2026-10-02', 720, '30 d', 900, 0, 0);
    create table marts.message_latency_daily (account_id varchar, campaign_id varchar,
        cohort_date date, sent bigint, delivered bigint, delivered_before_send bigint,
        seconds_to_delivered_p50 double, seconds_to_delivered_p90 double,
        seconds_to_delivered_p99 double, opens bigint, read_before_send bigint,
        seconds_to_read_p50 double, seconds_to_read_p90 double, seconds_to_read_p99 double,
        clicked_messages bigint, first_click_before_send bigint,
        seconds_to_first_click_p50 double, seconds_to_first_click_p90 double,
        seconds_to_first_click_p99 double);
    insert into marts.message_latency_daily values
        ('acc_1', 'cmp_a', '2026-10-01', 100, 50, 2, 4.2, 35, 720, 25, 0, 600, 7200, 90000,
         5, 0, 3600, 7200, 10800),
        ('acc_1', 'cmp_a', '2026-10-02', 900, 900, 0, 3, 20, 60, 450, 0, 300, 3600, 86400,
         0, 0, null, null, null);
"""


# cmp_a's conversions under two rules: the headline (last click, the campaign's window)
# 10 over both cohort dates, any click 12
ATTRIBUTION_MART = """
    create table marts.attribution_sensitivity (account_id varchar, campaign_id varchar,
        cohort_date date, attribution_model varchar, attribution_window varchar,
        is_headline boolean, conversions bigint, revenue decimal(18, 4));
    insert into marts.attribution_sensitivity values
        ('acc_1', 'cmp_a', '2026-10-01', 'last_click', 'campaign', true, 1, 10.5),
        ('acc_1', 'cmp_a', '2026-10-02', 'last_click', 'campaign', true, 9, 100.25),
        ('acc_1', 'cmp_a', '2026-10-01', 'any_click', '7d', false, 3, 20),
        ('acc_1', 'cmp_a', '2026-10-02', 'any_click', '7d', false, 9, 100.25);
"""

# cmp_a (acc_1, TRY) on two days: 190 of 200 delivered messages costed, 100 TRY in all;
# cmp_b (acc_2, EUR): 8 of 10 costed, 2 priced in USD without an exchange rate
COSTS_MART = """
    create table marts.campaign_costs (account_id varchar, campaign_id varchar,
        cohort_date date, currency varchar, delivered bigint, opens bigint, clicks bigint,
        conversions bigint, revenue decimal(18, 4), costed_messages bigint,
        messages_without_pricing bigint, messages_without_rate bigint,
        messages_without_fx bigint, cost_usd decimal(18, 6), cost decimal(18, 6));
    insert into marts.campaign_costs values
        ('acc_1', 'cmp_a', '2026-10-01', 'TRY', 100, 50, 10, 2, 40, 90, 4, 6, 0, 1.0, 40),
        ('acc_1', 'cmp_a', '2026-10-02', 'TRY', 100, 30, 10, 2, 60, 100, 0, 0, 0, 1.5, 60),
        ('acc_2', 'cmp_b', '2026-10-01', 'EUR', 10, 5, 1, 1, 5, 8, 0, 0, 2, 0.5, 0.4);
"""


# acc_1's autumn_sale (cmp_a's template) through both APIs, the MM API on two cohort dates
# whose delivery rates are 50 % and 100 % (summed: 350 / 400 = 87.5 %, not 75.0 %); its
# spring_sale and acc_2's card_offer (cmp_b's) through the Cloud API only
API_MART = """
    create table marts.api_comparison (account_id varchar, template_name varchar, api varchar,
        cohort_date date, sent bigint, delivered bigint, opens bigint, delivered_clicked bigint);
    insert into marts.api_comparison values
        ('acc_1', 'autumn_sale', 'marketing_messages_api', '2026-10-01', 100, 50, 10, 5),
        ('acc_1', 'autumn_sale', 'marketing_messages_api', '2026-10-02', 300, 300, 150, 30),
        ('acc_1', 'autumn_sale', 'cloud_api', '2026-10-02', 200, 180, 90, 9),
        ('acc_1', 'spring_sale', 'cloud_api', '2026-10-01', 50, 40, 20, 4),
        ('acc_2', 'card_offer', 'cloud_api', '2026-10-02', 20, 10, 5, 1);
"""


# Three messages: d1 (user u1) delivered, with a reply whose text the mart should never
# hold (the trace shows its detail only); d2 (u1) dropped, with its reason and solution;
# d3 (u2) read
LINEAGE_MART = """
    create table marts.message_lineage (dispatch_id varchar, event_seq bigint,
        account_id varchar, campaign_id varchar, user_id varchar, wamid varchar,
        cohort_date date, event_at timestamp, event_kind varchar, message_state varchar,
        status varchar, reason varchar, possible_solution varchar, response_text varchar,
        detail varchar);
    insert into marts.message_lineage values
        ('d1', 1, 'acc_1', 'cmp_a', 'u1', 'w1', '2026-10-01', '2026-10-01 09:00:00',
         'dispatched', 'delivered', null, null, null, null, 'sent to WhatsApp as w1'),
        ('d1', 2, 'acc_1', 'cmp_a', 'u1', 'w1', '2026-10-01', '2026-10-01 09:00:05',
         'status', 'delivered', 'delivered', null, null, null, 'status delivered'),
        ('d1', 3, 'acc_1', 'cmp_a', 'u1', 'w1', '2026-10-01', '2026-10-01 10:00:00',
         'reply', 'delivered', null, null, null, 'call me on +49 151 2345 6789',
         'replied with free text (text)'),
        ('d1', 4, 'acc_1', 'cmp_a', 'u1', 'w1', '2026-10-01', '2026-10-10 00:00:00',
         'state', 'delivered', null, null, null, null,
         'delivered, not read: delivered at 2026-10-01 09:00:05 UTC'),
        ('d2', 1, 'acc_1', 'cmp_a', 'u1', null, '2026-10-02', '2026-10-02 08:00:00',
         'dropped', 'dropped', null, 'Frequency Capped', 'Space campaigns out', null,
         'dropped before WhatsApp: Frequency Capped (drop code FREQUENCY_CAPPED)'),
        ('d2', 2, 'acc_1', 'cmp_a', 'u1', null, '2026-10-02', '2026-10-10 00:00:00',
         'state', 'dropped', null, 'Frequency Capped', 'Space campaigns out', null,
         'dropped: Frequency Capped (drop code FREQUENCY_CAPPED; never handed over to WhatsApp)'),
        ('d3', 1, 'acc_2', 'cmp_b', 'u2', 'w3', '2026-10-02', '2026-10-02 09:00:00',
         'dispatched', 'delivered', null, null, null, null, 'sent to WhatsApp as w3'),
        ('d3', 2, 'acc_2', 'cmp_b', 'u2', 'w3', '2026-10-02', '2026-10-02 09:30:00',
         'status', 'delivered', 'read', null, null, null, 'status read'),
        ('d3', 3, 'acc_2', 'cmp_b', 'u2', 'w3', '2026-10-02', '2026-10-10 00:00:00',
         'state', 'delivered', null, null, null, null,
         'delivered and read: delivered at 2026-10-02 09:30:00, read at 2026-10-02 09:30:00 UTC');
"""


# cmp_a's holdout uplift over both cohort dates: 56/70 treated vs 48/80 holdout converters
# (Newcombe 1998's worked example); cmp_b withheld nobody
HOLDOUT_MART = """
    create table marts.holdout_uplift (account_id varchar, campaign_id varchar,
        cohort_date date, treated_recipients bigint, treated_converters bigint,
        treated_revenue decimal(18, 4), treated_revenue_sum_squares decimal(38, 8),
        holdout_recipients bigint, holdout_converters bigint, holdout_revenue decimal(18, 4),
        holdout_revenue_sum_squares decimal(38, 8), currency varchar);
    insert into marts.holdout_uplift values
        ('acc_1', 'cmp_a', '2026-10-01', 30, 20, 60, 600, 30, 18, 30, 300, 'TRY'),
        ('acc_1', 'cmp_a', '2026-10-02', 40, 36, 80, 800, 50, 30, 50, 500, 'TRY'),
        ('acc_2', 'cmp_b', '2026-10-02', 10, 1, 0, 0, 0, 0, 0, 0, 'USD');
"""


def make_serving(path: Path, *, without: tuple[str, ...] = (), extra_sql: str = "") -> Path:
    con = duckdb.connect(str(path))
    con.execute("create schema marts")
    counts = ", ".join(f"{name} bigint" for name in COUNTS)
    con.execute(f"""
        create table marts.campaign_performance (account_id varchar, campaign_id varchar,
            campaign_name varchar, campaign_type varchar, template_name varchar,
            template_category varchar);
        insert into marts.campaign_performance values
            ('acc_1', 'cmp_a', 'Autumn sale', 'blast', 'autumn_sale', 'MARKETING'),
            ('acc_2', 'cmp_b', 'Card offer', 'blast', 'card_offer', 'MARKETING');
        create table marts.campaign_performance_daily (account_id varchar, campaign_id varchar,
            period_start date, {counts}, revenue decimal(18, 4));
        create table marts._publication (publication_id varchar, published_at timestamptz,
            as_of timestamptz);
        insert into marts._publication values ('p1', now(), '2026-10-10 00:00:00+00');
    """)
    for account, campaign, day, values, revenue in DAILY:
        con.execute(
            "insert into marts.campaign_performance_daily values (?, ?, ?, "
            + ", ".join("?" for _ in COUNTS)
            + ", ?)",
            [account, campaign, day, *(values[name] for name in COUNTS), revenue],
        )
    tables = {
        "dropped_reasons": """
            create table marts.dropped_reasons (account_id varchar, campaign_id varchar,
                cohort_date date, reason varchar, messages bigint);
            insert into marts.dropped_reasons values
                ('acc_1', 'cmp_a', '2026-10-01', 'Frequency Capped', 10),
                ('acc_1', 'cmp_a', '2026-10-02', 'Rate Limits', 5);""",
        "undelivered_reasons": """
            create table marts.undelivered_reasons (account_id varchar, campaign_id varchar,
                cohort_date date, reason varchar, messages bigint);
            insert into marts.undelivered_reasons values
                ('acc_1', 'cmp_a', '2026-10-01', 'Meta Errors', 30),
                ('acc_2', 'cmp_b', '2026-10-02', 'Meta Errors', 10);""",
        "reason_dictionary": """
            create table marts.reason_dictionary (kind varchar, reason varchar,
                description varchar, possible_solution varchar);
            insert into marts.reason_dictionary values
                ('dropped', 'Frequency Capped', 'capped', 'Space campaigns out'),
                ('undelivered', 'Meta Errors', 'meta', 'Retry later');""",
        "reason_recipients": """
            create table marts.reason_recipients (account_id varchar, campaign_id varchar,
                cohort_date date, kind varchar, reason varchar, user_id varchar,
                messages bigint);
            insert into marts.reason_recipients values
                ('acc_1', 'cmp_a', '2026-10-01', 'dropped', 'Frequency Capped', 'u1', 1);""",
        "link_click_activity": """
            create table marts.link_click_activity (account_id varchar, campaign_id varchar,
                cohort_date date, url varchar, button_id varchar, card_index bigint,
                clicks bigint, unique_clickers bigint);
            insert into marts.link_click_activity values
                ('acc_1', 'cmp_a', '2026-10-01', 'https://shop.example/a', 'c0_buy', 0, 3, 2),
                ('acc_1', 'cmp_a', '2026-10-02', 'https://shop.example/a', 'c0_buy', 0, 60, 50),
                ('acc_1', 'cmp_a', '2026-10-02', 'https://shop.example/b', 'c1_buy', 1, 32, 30);""",
        "response_summary": """
            create table marts.response_summary (account_id varchar, campaign_id varchar,
                cohort_date date, card_index integer, button_id varchar, button_text varchar,
                is_external_platform boolean, responses bigint, unique_responders bigint,
                responder_conversions bigint);
            insert into marts.response_summary values
                ('acc_1', 'cmp_a', '2026-10-01', null, 'qr_yes', 'Interested', false, 4, 4, 1),
                ('acc_1', 'cmp_a', '2026-10-02', null, 'qr_yes', 'Interested', false, 30, 30, 2),
                ('acc_1', 'cmp_a', '2026-10-02', null, 'qr_agent', 'Talk to us', true, 10, 9, 0)
            """,
        "template_benchmarks": """
            create table marts.template_benchmarks (account_id varchar, template_name varchar,
                template_language varchar, recipient_country varchar, window_end date,
                template_category varchar, industry varchar, delivered bigint,
                read_rate double, click_rate double, benchmark_read_rate double,
                benchmark_click_rate double, cohort_accounts bigint);
            insert into marts.template_benchmarks values
                ('acc_1', 'autumn_sale', 'en', 'DE', '2026-10-10', 'MARKETING', 'retail',
                 950, 0.5, 0.1, 0.6, 0.12, 6);""",
    }  # fmt: skip
    for name, sql in tables.items():
        if name not in without:
            con.execute(sql)
    if extra_sql:
        con.execute(extra_sql)
    con.close()
    return path


@pytest.fixture
def serving(tmp_path: Path) -> Path:
    return make_serving(tmp_path / "serving.duckdb")


class Tags(HTMLParser):
    """Every script src and link href of a page (not strings inside inline scripts)."""

    def __init__(self) -> None:
        super().__init__()
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for key, value in attrs:
            if key in ("src", "href") and tag in ("script", "link", "img", "iframe") and value:
                self.sources.append(value)


def external_sources(page: str) -> list[str]:
    parser = Tags()
    parser.feed(page)
    return [s for s in parser.sources if re.match(r"(https?:)?//", s)]


def shown(page: str) -> str:
    """The sections' HTML as the page carries it: inside the document's JSON, escaped."""
    return html.unescape(page).replace('\\"', '"')


def card(page: str, metric: str) -> str:
    match = re.search(rf'data-metric="{metric}">.*?class="value">([^<]*)<', shown(page))
    assert match, f"no card {metric}"
    return match.group(1)


def rate(page: str, name: str) -> str:
    match = re.search(rf'data-rate="{name}">([^<]*)<', shown(page))
    assert match, f"no rate {name}"
    return match.group(1)


def test_export_is_self_contained_and_offline(serving: Path, tmp_path: Path) -> None:
    out = export_html(Serving(serving), Selection(), tmp_path / "out.html")
    page = out.read_text()
    assert external_sources(page) == []
    assert "<script src=" not in page.replace('<script src="data:', "")
    assert "Bokeh" in page and len(page) > 500_000  # the library is inlined


def test_export_shows_summed_counts_and_recomputed_rates(serving: Path, tmp_path: Path) -> None:
    page = export_html(Serving(serving), Selection("acc_1"), tmp_path / "a.html").read_text()
    assert card(page, "sent") == "1,000"
    assert card(page, "delivered") == "950"
    assert rate(page, "delivery_rate") == "95.0 %"  # (50 + 900) / (100 + 900), not 75.0 %
    assert rate(page, "open_rate") == "50.0 %"  # 475 / 950
    assert card(page, "revenue") == "110.75"  # one account: its currency
    assert "Frequency Capped" in page and "Space campaigns out" in page


def test_export_of_a_date_range_and_campaign(serving: Path, tmp_path: Path) -> None:
    selection = Selection(campaign="cmp_a", date_from=date(2026, 10, 1), date_to=date(2026, 10, 1))
    page = export_html(Serving(serving), selection, tmp_path / "d.html").read_text()
    assert card(page, "sent") == "100"
    assert rate(page, "delivery_rate") == "50.0 %"
    assert "2026-10-01 (one day)" in page


def test_revenue_is_not_summed_across_accounts(serving: Path, tmp_path: Path) -> None:
    page = export_html(Serving(serving), Selection(), tmp_path / "all.html").read_text()
    assert card(page, "sent") == "1,020"
    assert card(page, "revenue") == "n/a"


def test_sections_of_a_publication_without_their_marts(tmp_path: Path) -> None:
    path = make_serving(tmp_path / "old.duckdb", without=("response_summary", "link_click_activity",
                        "template_benchmarks", "reason_recipients"))  # fmt: skip
    page = export_html(Serving(path), Selection(), tmp_path / "old.html").read_text()
    for mart in ("response_summary", "link_click_activity", "campaign_benchmarks"):
        assert f"marts.{mart}: not available in this publication" in page
    assert "marts.message_latency_daily: not available in this publication" in page
    assert "marts.attribution_sensitivity: not available in this publication" in page
    assert "marts.api_comparison: not available in this publication" in page
    assert "marts.message_lineage: not available in this publication" in page
    assert card(page, "sent") == "1,020"


def test_later_columns_and_marts_are_picked_up(tmp_path: Path) -> None:
    baseline = ", ".join(
        f"{b}_{s} {'double' if s.startswith('expected') else 'bigint'}"
        for b in ("history", "reference", "benchmark")
        for s in queries.BASELINE_SUFFIXES
    )
    extra = f"""
        alter table marts.link_click_activity add column conversions bigint default 2;
        alter table marts.response_summary add column revenue decimal(18, 4) default 1.5;
        alter table marts.response_summary add column delivered bigint default 5;
        create table marts.campaign_benchmarks (account_id varchar, campaign_id varchar,
            cohort_date date, delivered bigint, opens bigint, delivered_clicked bigint,
            reference_sources varchar, benchmark_window_end date, {baseline});
        insert into marts.campaign_benchmarks select 'acc_1', 'cmp_a', '2026-10-02', 900, 450,
            90, 'illustrative (2026-12-04)', '2026-10-10',
            {", ".join("100" if "delivered" in s else "40" for b in range(3)
                       for s in queries.BASELINE_SUFFIXES)};
        {LATENCY_MARTS}
        {ATTRIBUTION_MART}
        {COSTS_MART}
        {API_MART}
        {LINEAGE_MART}
        {HOLDOUT_MART}
    """  # fmt: skip
    path = make_serving(tmp_path / "new.duckdb", extra_sql=extra)
    con = duckdb.connect(str(path), read_only=True)
    snap = snapshot(con, Selection("acc_1"))
    con.close()
    assert "conversions" in snap.links.columns and "revenue" in snap.responses.columns
    assert "delivered" not in snap.responses.columns  # a per-row denominator, not activity
    assert snap.benchmarks.available and snap.benchmarks.total is not None
    history = snap.benchmarks.total.baselines["history"]
    assert history.read_rate == 0.4 and history.baseline_read_rate == 0.4
    page = export_html(Serving(path), Selection("acc_1"), tmp_path / "new.html").read_text()
    assert "own account&#x27;s other campaigns, trailing 30 days" in shown(page)
    assert "illustrative (2026-12-04)" in page
    assert "not available in this publication" not in page


def test_trend_grains_cut_the_range(serving: Path) -> None:
    con = duckdb.connect(str(serving), read_only=True)
    snap = snapshot(con, Selection(date_from=date(2026, 10, 2)))
    con.close()
    assert snap.trends["day"].periods == [date(2026, 10, 2)]
    assert snap.trends["week"].periods == [date(2026, 9, 28)]  # the ISO week's Monday
    assert snap.trends["month"].counts["sent"] == [920]
    assert snap.trends["day"].rate("delivery_rate") == [910 / 920]
    con = duckdb.connect(str(serving), read_only=True)
    snap = snapshot(con, Selection(date_from=date(2026, 9, 30), date_to=date(2026, 10, 2)))
    con.close()
    assert snap.trends["day"].counts["sent"] == [0, 100, 920]  # a day without sends is 0
    assert snap.trends["day"].rate("open_rate")[0] is None  # and its rates are gaps
    assert snap.trends["month"].periods == [date(2026, 9, 1), date(2026, 10, 1)]


def test_flag_errors_exit_2(serving: Path, tmp_path: Path, capsys) -> None:
    out = str(tmp_path / "x.html")
    cases = {
        ("--account", "acc_9"): "unknown account 'acc_9'",
        ("--account", "acc_2", "--campaign", "cmp_a"): "belongs to account acc_1",
        ("--from", "2026-10-05", "--to", "2026-10-01"): "is after --to",
        ("--port", "0"): "is not a port number",
    }
    for flags, message in cases.items():
        code = entry.run(["--serving", str(serving), "--export", out, *flags])
        assert code == 2 and message in capsys.readouterr().err, flags
    code = entry.run(["--serving", str(tmp_path / "none.duckdb"), "--export", out])
    assert code == 2 and "no published marts" in capsys.readouterr().err
    assert entry.run(["--serving", str(serving), "--export", out, "--campaign", "cmp_b"]) == 0
    assert "self-contained" in capsys.readouterr().out


# --------------------------------------------------------------------------- export route


def fake_export(con, campaign, reason, kind, date_from, date_to, out) -> int:
    rows = con.execute(
        "select user_id from marts.reason_recipients where campaign_id = ? and kind = ? "
        "and reason = ?",
        [campaign, kind, reason],
    ).fetchall()
    Path(out).write_text("user_id\n" + "".join(f"{r[0]}\n" for r in rows))
    fake_export.calls.append((campaign, reason, kind, date_from, date_to))
    return len(rows)


fake_export.calls = []


class ExportRouteTest(AsyncHTTPTestCase):
    serving_path: Path

    def get_app(self) -> Application:
        route = (server.EXPORT_ROUTE, server.ExportHandler, {"serving": Serving(self.serving_path)})
        return Application([route])

    @classmethod
    def setUpClass(cls) -> None:
        import tempfile

        cls.tmp = tempfile.TemporaryDirectory()
        cls.serving_path = make_serving(Path(cls.tmp.name) / "serving.duckdb")

    @classmethod
    def tearDownClass(cls) -> None:
        cls.tmp.cleanup()

    def test_downloads_what_export_reason_recipients_writes(self) -> None:
        module = types.ModuleType("tests_fake_export")
        module.export_reason_recipients = fake_export
        sys.modules["tests_fake_export"] = module
        original = server.EXPORT_MODULE
        server.EXPORT_MODULE = "tests_fake_export"
        try:
            url = (
                "/export/reason-recipients?campaign=cmp_a&kind=dropped"
                "&reason=Frequency+Capped&from=2026-10-01&to=2026-10-02"
            )
            response = self.fetch(url)
        finally:
            server.EXPORT_MODULE = original
            del sys.modules["tests_fake_export"]
        assert response.code == 200
        assert response.body == b"user_id\nu1\n"
        assert response.headers["X-Exported-Rows"] == "1"
        assert (
            "recipients_cmp_a_dropped_frequency-capped_2026-10-01-2026-10-02.csv"
            in (response.headers["Content-Disposition"])
        )
        assert fake_export.calls[-1] == (
            "cmp_a", "Frequency Capped", "dropped", date(2026, 10, 1), date(2026, 10, 2),
        )  # fmt: skip

    def test_refuses_what_it_cannot_do(self) -> None:
        assert self.fetch("/export/reason-recipients?campaign=cmp_a&kind=x&reason=r").code == 400
        original = server.EXPORT_MODULE
        server.EXPORT_MODULE = "tests_no_such_export_module"
        try:
            query = "campaign=cmp_a&kind=dropped&reason=r"
            assert self.fetch(f"/export/reason-recipients?{query}").code == 501
        finally:
            server.EXPORT_MODULE = original
