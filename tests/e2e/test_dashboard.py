"""The dashboard in headless Chromium, on the second dataset's publication (tests/e2e/conftest.py).

``python -m orchestration.dashboard`` serves the published marts; Debian's chromium,
driven by chromedriver through Selenium, opens it, checks that the page loads
nothing from outside 127.0.0.1, reads every metric card, changes the date range in
the picker's calendar (then the account, then the campaign) and checks every card,
and the reasons', links', responses', latency, attribution and API comparison totals,
against a direct query of the marts for that scope and range: counts summed, rates
recomputed. It looks a dispatch id, a user id and an unknown id up in the message
trace and checks the rows against marts.message_lineage. The static export is
opened from disk the same way. ``WA_UPDATE_SCREENSHOTS=1`` saves one screenshot per
section to docs/img/dashboard-<section>.png (the README shows them).

Skipped, saying why, where /usr/bin/chromium or /usr/bin/chromedriver is missing
(``apt-get install chromium chromium-driver``; .ci/run installs them).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from orchestration.dashboard.layout import SECTIONS, TRACE_PLACEHOLDER
from orchestration.dashboard.queries import TRACE_LIMIT
from tests.conftest import PROJECT_ROOT, PipelineRun

pytestmark = pytest.mark.slow

CHROMIUM = Path("/usr/bin/chromium")
CHROMEDRIVER = Path("/usr/bin/chromedriver")
CHROMIUM_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                  "--no-first-run", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync",
                  "--window-size=1400,1100")  # fmt: skip
SCREENSHOTS = PROJECT_ROOT / "docs" / "img"
STARTUP_LIMIT_S = 5.0
UPDATE_LIMIT_S = 1.0
COUNTS = ("targeted", "sent", "dropped", "delivered", "undelivered", "delivery_pending",
          "opens", "clicks", "conversions", "unsubscribes", "responses")  # fmt: skip
RATES = {  # the contract's rates: numerator / denominator
    "delivery_rate": ("delivered", "sent"),
    "open_rate": ("opens", "delivered"),
    "click_through_rate": ("clicks", "delivered"),
    "conversion_rate": ("conversions", "delivered"),
    "unsubscribe_rate": ("unsubscribes", "delivered"),
    "response_rate": ("responses", "delivered"),
}

# Every element of the page, through Bokeh's shadow roots.
FIND_ALL = """
const found = [];
const walk = (root) => {
    root.querySelectorAll(arguments[0]).forEach((e) => found.push(e));
    root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
};
walk(document);
return found;
"""


def _missing_browser() -> str | None:
    missing = [str(p) for p in (CHROMIUM, CHROMEDRIVER) if not p.exists()]
    if missing:
        return (f"{' and '.join(missing)} missing: apt-get install chromium chromium-driver "
                "(.ci/run installs them)")  # fmt: skip
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "selenium is not installed (make setup installs the dev group)"
    return None


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    reason = _missing_browser()
    if reason:
        pytest.skip(reason)
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    profile = tempfile.TemporaryDirectory(prefix="wa-chromium-")
    for flag in (*CHROMIUM_FLAGS, f"--user-data-dir={profile.name}"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(str(CHROMEDRIVER)), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        profile.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Dashboard:
    url: str
    process: subprocess.Popen[str]
    startup_s: float


@pytest.fixture(scope="module")
def dashboard(pipeline_run: PipelineRun) -> Iterator[Dashboard]:
    """The dashboard served on the publication; its start-up timed to the first HTTP 200.
    Requested before ``browser``, so Chromium's own start-up (seconds of CPU on 2 cores)
    does not count in the dashboard's."""
    port = _free_port()
    url = f"http://127.0.0.1:{port}/"
    command = [sys.executable, "-m", "orchestration.dashboard", "--serving",
               str(pipeline_run.serving), "--port", str(port)]  # fmt: skip
    started = time.perf_counter()
    process = subprocess.Popen(
        command, cwd=PROJECT_ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        while True:
            assert process.poll() is None, f"the dashboard exited:\n{process.stdout.read()}"
            try:
                with urllib.request.urlopen(url, timeout=5) as response:
                    if response.status == 200:
                        break
            except OSError:
                pass
            assert time.perf_counter() - started < 60, "no HTTP 200 within 60 s"
            time.sleep(0.05)
        yield Dashboard(url, process, time.perf_counter() - started)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()


# --------------------------------------------------------------------------- the page


def find_all(driver: Any, selector: str) -> list[Any]:
    return driver.execute_script(FIND_ALL, selector)


def find(driver: Any, selector: str, timeout: float = 15) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        found = find_all(driver, selector)
        if found:
            return found[0]
        assert time.monotonic() < deadline, f"nothing matches {selector!r}"
        time.sleep(0.05)


# What the page shows, read in one script so that a re-render cannot go stale under it.
READ_PAGE = """
const all = (sel) => {
    const found = [];
    const walk = (root) => {
        root.querySelectorAll(sel).forEach((e) => found.push(e));
        root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
    };
    walk(document);
    return found;
};
const scope = all('.scope[data-scope]')[0];
const grid = all('.cards[data-from]')[0];
const shown = {};
for (const card of all('.card[data-metric]')) {
    shown[card.dataset.metric] = card.querySelector('.value').textContent;
}
for (const rate of all('[data-rate]')) { shown[rate.dataset.rate] = rate.textContent; }
const totals = {};
for (const total of all('[data-total]')) { totals[total.dataset.total] = total.textContent; }
return {
    scope: scope ? scope.dataset.scope : null,
    range: grid ? [grid.dataset.from, grid.dataset.to] : null,
    cards: shown,
    totals: totals,
};
"""


def read_page(driver: Any) -> dict[str, Any]:
    return driver.execute_script(READ_PAGE)


def wait_for(driver: Any, scope: str, start: date, end: date, timeout: float = 15) -> float:
    """Wait until the cards show ``scope`` over ``start``..``end``; the seconds it took."""
    began = time.perf_counter()
    while True:
        page = read_page(driver)
        if page["scope"] == scope and page["range"] == [start.isoformat(), end.isoformat()]:
            return time.perf_counter() - began
        assert time.perf_counter() - began < timeout, f"the page never showed {scope} {start}"
        time.sleep(0.02)


def pick_day(driver: Any, day: date) -> None:
    """Click ``day`` in the open calendar of the date-range picker, changing month first."""
    picker = find(driver, "input.flatpickr-input")
    for _ in range(36):
        year, month = driver.execute_script(
            "const p = arguments[0]._flatpickr; return [p.currentYear, p.currentMonth + 1]", picker
        )
        if (year, month) == (day.year, day.month):
            break
        arrow = ".flatpickr-next-month" if (year, month) < (day.year, day.month) else (
            ".flatpickr-prev-month")  # fmt: skip
        find(driver, arrow).click()
    label = f"{day:%B} {day.day}, {day.year}"
    cells = [
        cell
        for cell in find_all(driver, f'.flatpickr-day[aria-label="{label}"]')
        if not {"prevMonthDay", "nextMonthDay"} & set(cell.get_attribute("class").split())
    ]
    assert cells, f"no {label} in the calendar"
    cells[0].click()


def pick_range(driver: Any, start: date, end: date) -> None:
    find(driver, "input.form-control.input").click()  # the picker's visible input
    pick_day(driver, start)
    pick_day(driver, end)


def choose(driver: Any, name: str, value: str) -> None:
    """Pick ``value`` in the account or campaign picker (options read "id" or "id: name")."""
    from selenium.webdriver.support.ui import Select

    for element in find_all(driver, "select"):
        labels = [o.text for o in element.find_elements("css selector", "option")]
        for index, label in enumerate(labels):
            if label == value or label.startswith(f"{value}: "):
                Select(element).select_by_index(index)
                return
    raise AssertionError(f"no {name} picker offers {value}")


def screenshots(driver: Any, sections: tuple[str, ...]) -> None:
    if os.environ.get("WA_UPDATE_SCREENSHOTS") != "1":
        return
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    for section in sections:
        element = find(driver, f".wa-section-{section}")
        driver.execute_script("arguments[0].scrollIntoView()", element)
        time.sleep(0.3)
        element.screenshot(str(SCREENSHOTS / f"dashboard-{section}.png"))


# --------------------------------------------------------------------------- the marts


@dataclass(frozen=True)
class Scope:
    account: str | None = None
    campaign: str | None = None

    @property
    def label(self) -> str:  # the page's data-scope
        if self.campaign:
            return f"campaign {self.campaign}"
        return f"account {self.account}" if self.account else "all campaigns"


def _where(scope: Scope, start: date, end: date, column: str) -> tuple[str, list[Any]]:
    conditions, params = [f"{column} between ? and ?"], [start, end]
    if scope.account:
        conditions.append("account_id = ?")
        params.append(scope.account)
    if scope.campaign:
        conditions.append("campaign_id = ?")
        params.append(scope.campaign)
    return " and ".join(conditions), params


def expected_cards(con: duckdb.DuckDBPyConnection, scope: Scope, start: date, end: date) -> dict:
    """The cards straight from the daily mart: sums, rates recomputed from them."""
    where, params = _where(scope, start, end, "period_start")
    sums = ", ".join(f"coalesce(sum({c}), 0)" for c in (*COUNTS, "revenue"))
    row = con.execute(
        f"select {sums} from marts.campaign_performance_daily where {where}", params
    ).fetchone()
    counts = dict(zip(COUNTS, (int(v) for v in row[:-1]), strict=True))
    shown = {name: f"{value:,}" for name, value in counts.items()}
    for rate, (numerator, denominator) in RATES.items():
        whole = counts[denominator]
        shown[rate] = f"{counts[numerator] / whole * 100:.1f} %" if whole else "n/a"
    revenue = Decimal(row[-1])
    shown["revenue"] = f"{revenue:,.2f}" if scope.account else "n/a"
    return shown


def expected_totals(con: duckdb.DuckDBPyConnection, scope: Scope, start: date, end: date) -> dict:
    where, params = _where(scope, start, end, "cohort_date")
    queries = {
        "dropped": f"select sum(messages) from marts.dropped_reasons where {where}",
        "undelivered": f"select sum(messages) from marts.undelivered_reasons where {where}",
        "clicks": f"select sum(clicks) from marts.link_click_activity where {where}",
        "responses": f"select sum(responses) from marts.response_summary where {where}",
        "external": "select sum(responses) from marts.response_summary "
        f"where {where} and is_external_platform",
        # the latency section's survival curve: summed per horizon, as the page shows it
        **{
            f"{count}_{hours}h": f"select sum({column}) from marts.delivery_survival "
            f"where {where} and horizon_hours = {hours}"
            for hours in (1, 24, 720)
            for count, column in (("judged", "at_risk"), ("without_report", "without_report"))
        },
        # the attribution section: the headline rule and a multi-touch one, summed
        **{
            f"attribution_{model}_{window}": "select sum(conversions) from "
            f"marts.attribution_sensitivity where {where} and attribution_model = '{model}' "
            f"and attribution_window = '{window}'"
            for model, window in (("last_click", "campaign"), ("any_click", "7d"))
        },
    }
    totals = {k: f"{int(con.execute(q, params).fetchone()[0] or 0):,}" for k, q in queries.items()}
    return {
        **totals,
        **expected_api(con, scope, start, end),
        **expected_costs(con, scope, start, end),
        **expected_holdout(con, scope, start, end),
    }


def expected_holdout(con: duckdb.DuckDBPyConnection, scope: Scope, start: date, end: date) -> dict:
    """The holdout section's treated and holdout recipients per campaign, summed from
    holdout_uplift over the range."""
    where, params = _where(scope, start, end, "cohort_date")
    rows = con.execute(
        "select campaign_id, sum(treated_recipients), sum(holdout_recipients) "
        f"from marts.holdout_uplift where {where} group by campaign_id",
        params,
    ).fetchall()
    return {
        f"holdout_{group}_{campaign}": f"{int(count):,}"
        for campaign, treated, holdout in rows
        for group, count in (("treated", treated), ("holdout", holdout))
    }


def expected_costs(con: duckdb.DuckDBPyConnection, scope: Scope, start: date, end: date) -> dict:
    """The cost section's cost per account currency, summed from campaign_costs (a currency
    with no delivered message in the range has no row)."""
    where, params = _where(scope, start, end, "cohort_date")
    rows = con.execute(
        f"select currency, sum(cost) from marts.campaign_costs where {where} "
        "group by currency having sum(delivered) > 0",
        params,
    ).fetchall()
    return {f"cost_{currency}": f"{Decimal(cost):,.2f}" for currency, cost in rows}


def expected_api(con: duckdb.DuckDBPyConnection, scope: Scope, start: date, end: date) -> dict:
    """The API comparison's totals per API from api_comparison: counts summed over the range,
    rates recomputed from the sums. The mart is per template: a campaign is its account's
    rows of the campaign's template."""
    conditions, params = ["cohort_date between ? and ?"], [start, end]
    if scope.account:
        conditions.append("account_id = ?")
        params.append(scope.account)
    if scope.campaign:
        conditions.append(
            "template_name = (select template_name from marts.campaign_performance "
            "where campaign_id = ?)"
        )
        params.append(scope.campaign)
    rows = con.execute(
        "select api, sum(sent), sum(delivered), sum(opens), sum(delivered_clicked) "
        f"from marts.api_comparison where {' and '.join(conditions)} group by api",
        params,
    ).fetchall()

    def pct(part: int, whole: int) -> str:
        return f"{part / whole * 100:.1f} %" if whole else "n/a"

    shown = {}
    for api, sent, delivered, opens, clicked in rows:
        shown[f"api_sent_{api}"] = f"{int(sent):,}"
        shown[f"api_delivery_rate_{api}"] = pct(delivered, sent)
        shown[f"api_read_rate_{api}"] = pct(opens, delivered)
        shown[f"api_click_rate_{api}"] = pct(clicked, delivered)
    return shown


def check_page(driver: Any, serving: Path, scope: Scope, start: date, end: date) -> None:
    con = duckdb.connect(str(serving), read_only=True)
    try:
        want_cards = expected_cards(con, scope, start, end)
        want_totals = expected_totals(con, scope, start, end)
    finally:
        con.close()
    page = read_page(driver)
    assert page["cards"] == want_cards, f"{scope} {start}..{end}"
    shown = page["totals"]
    for name, value in want_totals.items():
        if name in shown or value != "0":
            assert shown.get(name) == value, f"{name} total of {scope} {start}..{end}"


def published_range(serving: Path) -> tuple[date, date, str, str]:
    """The cohort dates published, the busiest account and its busiest campaign."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        first, last = con.execute(
            "select min(period_start), max(period_start) from marts.campaign_performance_daily"
        ).fetchone()
        account, campaign = con.execute(
            "select account_id, campaign_id from marts.campaign_performance_daily "
            "group by all order by sum(sent) desc, campaign_id limit 1"
        ).fetchone()
    finally:
        con.close()
    return first, last, account, campaign


# The message trace's result: each message's id and its rows' cells, or the error.
READ_TRACE = """
const all = (sel) => {
    const found = [];
    const walk = (root) => {
        root.querySelectorAll(sel).forEach((e) => found.push(e));
        root.querySelectorAll('*').forEach((e) => { if (e.shadowRoot) walk(e.shadowRoot); });
    };
    walk(document);
    return found;
};
const messages = all('[data-trace-dispatch]').map((h) => {
    const rows = [];
    let next = h.nextElementSibling;
    while (next && !next.querySelector('table')) { next = next.nextElementSibling; }
    if (next) {
        for (const tr of next.querySelectorAll('tbody tr')) {
            rows.push([...tr.querySelectorAll('td')].map((td) => td.textContent));
        }
    }
    return [h.dataset.traceDispatch, rows];
});
const user = all('[data-trace-user]')[0];
const error = all('[data-trace-error]')[0];
return {
    messages: messages,
    user: user ? user.textContent : null,
    error: error ? error.textContent : null,
};
"""


def look_up(
    driver: Any, value: str, done: Callable[[dict], bool], timeout: float = 15
) -> tuple[dict, float]:
    """Type ``value`` into the message trace's input and press Enter; wait until the trace
    read from the page satisfies ``done``; that trace and the seconds it took."""
    from selenium.webdriver.common.keys import Keys

    box = find(driver, f'input[placeholder="{TRACE_PLACEHOLDER}"]')
    driver.execute_script("arguments[0].scrollIntoView()", box)
    box.clear()
    began = time.perf_counter()
    box.send_keys(value + Keys.ENTER)
    while True:
        shown = driver.execute_script(READ_TRACE)
        if done(shown):
            return shown, time.perf_counter() - began
        assert time.perf_counter() - began < timeout, f"the trace of {value} never showed"
        time.sleep(0.02)


def check_trace(driver: Any, serving: Path, campaign: str) -> None:
    """A dispatch of ``campaign`` (with a reason where one has, the longest path first), its
    user and an unknown id, looked up in the trace section, against marts.message_lineage."""
    con = duckdb.connect(str(serving), read_only=True)
    try:
        dispatch, user = con.execute(
            "select dispatch_id, user_id from marts.message_lineage "
            "where campaign_id = ? and event_kind = 'state' and user_id is not null "
            "order by reason is null, event_seq desc, dispatch_id limit 1",
            [campaign],
        ).fetchone()
        path = [
            [str(seq), at.strftime("%Y-%m-%d %H:%M:%S"), kind, state, detail]
            for seq, at, kind, state, detail in con.execute(
                "select event_seq, event_at, event_kind, message_state, detail "
                "from marts.message_lineage where dispatch_id = ? order by event_seq",
                [dispatch],
            ).fetchall()
        ]
        newest = [
            row[0]
            for row in con.execute(
                "select dispatch_id from marts.message_lineage where user_id = ? "
                "and event_seq = 1 order by event_at desc, dispatch_id desc",
                [user],
            ).fetchall()
        ]
        first, last = con.execute(
            "select min(cohort_date), max(cohort_date) from marts.message_lineage"
        ).fetchone()
    finally:
        con.close()

    shown, seconds = look_up(driver, "no-such-message", lambda t: bool(t["error"]))
    print(f"trace of an unknown id: {seconds:.2f} s")
    assert "unknown dispatch or user 'no-such-message'" in shown["error"], shown
    assert f"covers the messages of cohort dates {first} to {last}" in shown["error"]

    shown, seconds = look_up(driver, user, lambda t: bool(t["user"]))
    print(f"trace of user {user} ({len(newest)} messages): {seconds:.2f} s")
    assert shown["user"].startswith(f"user {user}: {len(newest):,} message"), shown["user"]
    assert [message for message, _ in shown["messages"]] == newest[:TRACE_LIMIT]
    assert not shown["error"]

    shown, seconds = look_up(
        driver, dispatch, lambda t: not t["user"] and [m for m, _ in t["messages"]] == [dispatch]
    )
    print(f"trace of dispatch {dispatch} ({len(path)} events): {seconds:.2f} s")
    assert shown["messages"] == [[dispatch, path]]
    assert shown["user"] is None and shown["error"] is None


def status_elapsed(driver: Any) -> float:
    return float(find(driver, "[data-elapsed]").get_attribute("data-elapsed"))


# --------------------------------------------------------------------------- tests


def test_dashboard_numbers_equal_the_marts(
    dashboard: Dashboard, browser: Any, pipeline_run: PipelineRun
) -> None:
    serving = pipeline_run.serving
    first, last, account, campaign = published_range(serving)
    print(f"\nstart-up to the first HTTP 200: {dashboard.startup_s:.2f} s")
    assert dashboard.startup_s < STARTUP_LIMIT_S

    browser.get(dashboard.url)
    wait_for(browser, "all campaigns", first, last)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert resources and all(r.startswith(dashboard.url) for r in resources), resources
    check_page(browser, serving, Scope(), first, last)
    screenshots(browser, ("api",))  # every template: both APIs and their difference

    # a range in the picker's calendar: every account
    start_a, end_a = first + timedelta(days=3), first + timedelta(days=12)
    pick_range(browser, start_a, end_a)
    seconds = wait_for(browser, "all campaigns", start_a, end_a)
    elapsed = status_elapsed(browser)
    print(f"date change ({start_a}..{end_a}): page {seconds:.2f} s, server {elapsed:.3f} s")
    assert elapsed < UPDATE_LIMIT_S
    check_page(browser, serving, Scope(), start_a, end_a)

    # one account, another range crossing a month end
    choose(browser, "account", account)
    wait_for(browser, f"account {account}", start_a, end_a)
    check_page(browser, serving, Scope(account), start_a, end_a)
    screenshots(browser, ("overview", "trend"))
    start_b, end_b = last - timedelta(days=20), last - timedelta(days=2)
    pick_range(browser, start_b, end_b)
    seconds = wait_for(browser, f"account {account}", start_b, end_b)
    print(f"date change ({start_b}..{end_b}): page {seconds:.2f} s, "
          f"server {status_elapsed(browser):.3f} s")  # fmt: skip
    assert status_elapsed(browser) < UPDATE_LIMIT_S
    check_page(browser, serving, Scope(account), start_b, end_b)

    # one campaign of it, same range: the reasons offer their users' export
    choose(browser, "campaign", campaign)
    wait_for(browser, f"campaign {campaign}", start_b, end_b)
    check_page(browser, serving, Scope(account, campaign), start_b, end_b)
    check_export(browser, dashboard.url)
    # the message trace: an unknown id, a user, then a dispatch (the screenshot shows it)
    check_trace(browser, serving, campaign)

    # a preset: the last 7 published cohort dates
    buttons = [b for b in find_all(browser, "button") if b.text == "Last 7 days"]
    assert buttons, "no Last 7 days button"
    buttons[0].click()
    wait_for(browser, f"campaign {campaign}", last - timedelta(days=6), last)
    check_page(browser, serving, Scope(account, campaign), last - timedelta(days=6), last)
    choose(browser, "campaign", campaign)  # back to the range the screenshots show
    pick_range(browser, start_b, end_b)
    wait_for(browser, f"campaign {campaign}", start_b, end_b)
    screenshots(browser, tuple(s for s in SECTIONS if s not in ("overview", "trend", "api")))


def check_export(driver: Any, url: str) -> None:
    """Export users: a link that downloads the reason's users once orchestration.export is
    there, else a note saying so."""
    links = find_all(driver, "a[data-export]")
    if not links:
        note = find(driver, "[data-export-note]").text
        assert "not available" in note, note
        return
    href = links[0].get_attribute("href")
    assert href.startswith(url + "export/reason-recipients?"), href
    with urllib.request.urlopen(href, timeout=30) as response:
        assert response.status == 200
        assert response.headers["Content-Disposition"].startswith("attachment;")


def test_static_export_opens_offline_with_the_marts_numbers(
    browser: Any, pipeline_run: PipelineRun, tmp_path: Path
) -> None:
    serving = pipeline_run.serving
    first, last, account, _ = published_range(serving)
    start, end = first + timedelta(days=5), last - timedelta(days=5)
    out = tmp_path / "dashboard.html"
    command = [sys.executable, "-m", "orchestration.dashboard", "--serving", str(serving),
               "--export", str(out), "--account", account, "--from", start.isoformat(),
               "--to", end.isoformat()]  # fmt: skip
    result = subprocess.run(command, cwd=PROJECT_ROOT, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    browser.get(out.as_uri())
    wait_for(browser, f"account {account}", start, end)
    resources = browser.execute_script(
        "return performance.getEntriesByType('resource').map((e) => e.name)"
    )
    assert [r for r in resources if not r.startswith("file:") and not r.startswith("data:")] == []
    check_page(browser, serving, Scope(account), start, end)


# --------------------------------------------------------------------------- at scale

SCALE_COPIES = 2  # every campaign twice (new account and campaign ids)
SCALE_FACTOR = 200  # every count x200, every recipient row x200 (new user ids)
KEYS = {"account_id", "campaign_id", "user_id"}
NOT_SCALED = {"card_index", "window_end", "cohort_accounts"}


def scale_publication(source: Path, target: Path) -> int:
    """A copy of ``source`` shaped like a publication of ~5M dispatches: the marts keep
    one row per campaign and cohort date, so their size grows with campaigns and days,
    their counts with dispatches; reason_recipients grows with the users. Returns the
    targeted total."""
    target.write_bytes(source.read_bytes())
    con = duckdb.connect(str(target))
    try:
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' "
            "and table_name not in ('_publication', 'reason_dictionary', 'data_quality')"
        ).fetchall()
        for (table,) in tables:
            columns = con.execute(
                "select column_name, data_type from information_schema.columns "
                "where table_schema = 'marts' and table_name = ? order by ordinal_position",
                [table],
            ).fetchall()
            select = []
            for name, kind in columns:
                if name in KEYS:
                    suffix = " || '_' || user.j" if name == "user_id" else ""
                    select.append(f"{name} || '_x' || copy.i{suffix} as {name}")
                elif kind.startswith(("BIGINT", "DECIMAL")) and name not in NOT_SCALED:
                    factor = 1 if table == "reason_recipients" else SCALE_FACTOR
                    select.append(f"cast({name} * {factor} as {kind}) as {name}")
                else:
                    select.append(name)
            users = SCALE_FACTOR if table == "reason_recipients" else 1
            con.execute(
                f"create table scaled as select {', '.join(select)} from marts.{table}, "
                f"range({SCALE_COPIES}) as copy(i), range({users}) as user(j)"
            )
            con.execute(f"drop table marts.{table}")
            con.execute(f"create table marts.{table} as from scaled")
            con.execute("drop table scaled")
        (targeted,) = con.execute(
            "select sum(targeted) from marts.campaign_performance_daily"
        ).fetchone()
    finally:
        con.close()
    return int(targeted)


def test_date_changes_at_5m_dispatches(pipeline_run: PipelineRun, tmp_path: Path) -> None:
    """What the server does on a change of the pickers (read a snapshot through a new
    read-only connection, re-render every section) on a publication of ~5M dispatches."""
    from orchestration.dashboard.layout import DashboardView
    from orchestration.dashboard.queries import Selection, Serving, snapshot

    serving = tmp_path / "serving-5m.duckdb"
    targeted = scale_publication(pipeline_run.serving, serving)
    assert targeted >= 4_500_000
    first, last, account, campaign = published_range(serving)
    source = Serving(serving)
    with source.connect() as con:
        view = DashboardView(snapshot(con, Selection()), title="t", source="s", live=True)
    ranges = [(first + timedelta(days=3), first + timedelta(days=12)),
              (last - timedelta(days=20), last - timedelta(days=2)), (first, last)]  # fmt: skip
    for scope in (Selection(), Selection(account), Selection(account, campaign)):
        times = []
        for start, end in ranges:
            began = time.perf_counter()
            with source.connect() as con:
                view.update(snapshot(con, Selection(scope.account, scope.campaign, start, end)))
            times.append(time.perf_counter() - began)
        print(f"\n{targeted:,} dispatches, {scope.campaign or scope.account or 'all'}: "
              f"{', '.join(f'{t:.3f}' for t in times)} s")  # fmt: skip
        assert max(times) < UPDATE_LIMIT_S
