"""The dashboard's sections as HTML fragments, from a :class:`~.queries.Snapshot`.

Pure functions (no Bokeh): the live dashboard and the static export put the same
fragments into the same places. Numbers are formatted like the terminal report's
(``1,234``, ``12.3 %``, ``n/a`` for a rate whose denominator is 0), and every
element a test reads carries a ``data-*`` attribute naming it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from typing import Any
from urllib.parse import urlencode

from orchestration.dashboard.queries import (
    KINDS,
    MAX_ROWS,
    TRACE_LIMIT,
    Benchmarks,
    Reasons,
    Snapshot,
    Table,
    Trace,
)
from orchestration.report import (
    API_LABELS,
    API_RATES,
    API_SHORT,
    ATTRIBUTION_MODELS,
    ATTRIBUTION_WINDOWS,
    COUNTS,
    LATENCY_EVENTS,
    RATE_OF_COUNT,
    RATES,
    TRACE_HINT,
    ApiRow,
    LatencySummary,
    SurvivalRow,
    _change,
    _count,
    _duration,
    _money,
    _money_interval,
    _pct,
    _per_recipient,
    _pp,
    _pp_interval,
    _signed_money,
    _signed_pp,
    _unit_cost,
)
from orchestration.trace import Event

EXPORT_PATH = "export/reason-recipients"  # the live server's CSV download, relative to the page
#: The API comparison chart draws the templates with the most sent (its table lists more).
CHART_TEMPLATES = 6

CSS = """
.bk-clearfix { display: block; width: 100%; }
:host { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: #1f2933; }
h1 { font-size: 22px; margin: 4px 0; }
h2 { font-size: 17px; margin: 14px 0 6px; }
.muted, .note { color: #616e7c; font-size: 12px; }
.note { margin: 4px 0; }
.scope { font-size: 14px; margin: 2px 0 6px; }
.cards { display: grid; grid-template-columns: repeat(auto-fill, minmax(150px, 1fr)); gap: 8px; }
.card { border: 1px solid #d9e2ec; border-radius: 6px; padding: 8px 10px; background: #fff; }
.card .label { font-size: 12px; color: #52606d; text-transform: uppercase; letter-spacing: .03em; }
.card .value { font-size: 22px; font-weight: 600; margin: 2px 0; }
.card .rate { font-size: 13px; color: #0b6e4f; }
.card .formula { font-size: 11px; color: #9aa5b1; }
table { border-collapse: collapse; width: 100%; font-size: 13px; }
th, td { border-bottom: 1px solid #e4e7eb; padding: 4px 6px; text-align: left;
  vertical-align: top; }
th { background: #f5f7fa; font-weight: 600; position: sticky; top: 0; }
td.num, th.num { text-align: right; white-space: nowrap; font-variant-numeric: tabular-nums; }
td.url { max-width: 420px; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
.scroll { max-height: 440px; overflow: auto; border: 1px solid #e4e7eb; border-radius: 4px; }
.total { font-weight: 600; }
a.button { display: inline-block; padding: 2px 8px; border: 1px solid #2680c2; border-radius: 4px;
  color: #2680c2; text-decoration: none; font-size: 12px; white-space: nowrap; }
a.button:hover { background: #2680c2; color: #fff; }
.unavailable { padding: 8px 10px; border: 1px dashed #cbd2d9; border-radius: 6px; color: #616e7c;
  background: #f5f7fa; font-size: 13px; }
"""


def esc(value: Any) -> str:
    return html.escape("" if value is None else str(value))


@dataclass(frozen=True)
class Col:
    header: str
    numeric: bool = False
    css: str = ""


def table(
    columns: Sequence[Col], rows: Sequence[Sequence[str]], name: str, row_count: int = 0
) -> str:
    """An HTML table of the first :data:`MAX_ROWS` rows (of ``row_count`` in all, when the
    query stopped there); cells are already escaped HTML."""
    head = "".join(
        f'<th class="{"num" if c.numeric else ""}">{esc(c.header)}</th>' for c in columns
    )
    body = []
    for row in rows[:MAX_ROWS]:
        cells = "".join(
            f'<td class="{" ".join(filter(None, ["num" if c.numeric else "", c.css]))}">{cell}</td>'
            for c, cell in zip(columns, row, strict=True)
        )
        body.append(f"<tr>{cells}</tr>")
    more = ""
    shown = min(len(rows), MAX_ROWS)
    if max(row_count, len(rows)) > shown:
        more = f'<p class="note">… and {max(row_count, len(rows)) - shown:,} more rows</p>'
    return (
        f'<div class="scroll"><table data-table="{name}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>{more}"
    )


def unavailable(note: str) -> str:
    return f'<div class="unavailable" data-unavailable="true">{esc(note)}</div>'


def _rate(part: int | float, whole: int | float) -> str:
    return _pct(part / whole if whole else None)


def _label(name: str) -> str:
    return name.replace("_", " ")


def _extra(name: str, value: Any) -> str:
    if value is None:
        return "n/a"
    if "revenue" in name:
        return _money(Decimal(value))
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}"
    return _count(int(value))


def _option_label(button_id: str | None, card_index: int | None) -> str:
    label = button_id or "(body link)"
    return label if card_index is None else f"{label} / card {card_index}"


# --------------------------------------------------------------------------- header


def range_text(snap: Snapshot) -> str:
    start = snap.selection.date_from or snap.first
    end = snap.selection.date_to or snap.last
    if start is None and end is None:
        return "no cohort dates with dispatches"
    if start == end:
        return f"{start} (one day)"
    return f"{start or '…'} to {end or '…'}"


def scope_line(snap: Snapshot) -> str:
    start = snap.selection.date_from or snap.first
    end = snap.selection.date_to or snap.last
    what = {
        "all": "all accounts, all campaigns",
        "account": f"account {snap.scope.id}, all campaigns",
    }.get(snap.scope.kind)
    if what is None:
        name = next((r.name for r in snap.campaigns), None)
        what = f"account {snap.scope.account_id}, campaign {snap.scope.id}"
        what += f" ({name})" if name else ""
    as_of = f" | as of {esc(snap.as_of)}" if snap.as_of else ""
    return (
        f'<div class="scope" data-scope="{esc(snap.scope.describe())}" '
        f'data-from="{esc(start or "")}" data-to="{esc(end or "")}">'
        f"<b>{esc(what)}</b> | cohort dates {esc(range_text(snap))}{as_of}</div>"
        '<div class="note">cohort date = dispatch date in the account\'s time zone; every '
        "outcome of a message counts on it. Counts are summed over the range and every rate "
        "is recomputed from the summed counts, never averaged.</div>"
    )


def header(title: str, source: str) -> str:
    return f'<h1>{esc(title)}</h1><div class="muted">published marts: {esc(source)}</div>'


# --------------------------------------------------------------------------- cards


def metric_cards(snap: Snapshot) -> str:
    """One card per contract metric: the summed count and, where one applies, its rate."""
    start = snap.selection.date_from or snap.first
    end = snap.selection.date_to or snap.last
    out = [f'<div class="cards" data-from="{esc(start or "")}" data-to="{esc(end or "")}">']
    for name in COUNTS:
        out.append(_card(name, _count(snap.totals.counts[name]), snap))
        if name == "conversions":
            value = _money(snap.totals.revenue) if snap.show_revenue else "n/a"
            out.append(
                f'<div class="card" data-metric="revenue"><div class="label">revenue</div>'
                f'<div class="value">{value}</div>'
                f'<div class="formula">{esc(snap.revenue_note)}</div></div>'
            )
    out.append("</div>")
    if snap.first is None:
        out.append('<p class="note">no dispatches in this scope and range: every count is 0</p>')
    return "".join(out)


def _card(name: str, value: str, snap: Snapshot) -> str:
    rate_html = ""
    rate_name = RATE_OF_COUNT.get(name)
    if rate_name:
        label, numerator, denominator = RATES[rate_name]
        rate = _pct(snap.totals.rate(rate_name))
        rate_html = (
            f'<div class="rate"><span data-rate="{rate_name}">{rate}</span> {esc(label)}</div>'
            f'<div class="formula">{numerator} / {denominator}</div>'
        )
    return (
        f'<div class="card" data-metric="{name}"><div class="label">{esc(_label(name))}</div>'
        f'<div class="value">{value}</div>{rate_html}</div>'
    )


def campaigns_table(snap: Snapshot) -> str:
    if snap.scope.kind == "campaign":
        return ""
    multi = not snap.scope.single_account
    columns = [
        Col("campaign"),
        *([Col("account")] if multi else []),
        Col("name"),
        Col("sent", True),
        Col("delivery rate", True),
        Col("open rate", True),
        Col("CTR", True),
        Col("conversions", True),
        Col("revenue", True),
    ]
    rows = []
    for row in snap.campaigns:
        m = row.metrics
        revenue = _money(m.revenue) + (f" {row.currency}" if row.currency else "")
        rows.append(
            [
                esc(row.campaign_id),
                *([esc(row.account_id)] if multi else []),
                esc(row.name or "(no name)"),
                _count(m.counts["sent"]),
                _pct(m.rate("delivery_rate")),
                _pct(m.rate("open_rate")),
                _pct(m.rate("click_through_rate")),
                _count(m.counts["conversions"]),
                revenue,
            ]
        )
    note = '<p class="note">revenue in each account\'s currency (not summed across accounts)</p>'
    return f"<h2>Campaigns: {len(rows):,}</h2>{table(columns, rows, 'campaigns')}{note}"


# --------------------------------------------------------------------------- reasons


def reasons(snap: Snapshot, *, live: bool) -> str:
    """Dropped and undelivered reasons: messages, share of the kind, possible solution, and
    (live, one campaign) a link that downloads the users the reason hit."""
    parts = []
    for kind in KINDS:
        parts.append(_reasons(snap, snap.reasons[kind], live=live))
    return "".join(parts)


def _export_link(snap: Snapshot, kind: str, reason: str) -> str:
    query = {"campaign": snap.scope.id, "kind": kind, "reason": reason}
    if snap.selection.date_from:
        query["from"] = snap.selection.date_from.isoformat()
    if snap.selection.date_to:
        query["to"] = snap.selection.date_to.isoformat()
    href = f"{EXPORT_PATH}?{urlencode(query)}"
    return f'<a class="button" data-export="{esc(reason)}" href="{esc(href)}">Export users</a>'


def _reasons(snap: Snapshot, section: Reasons, *, live: bool) -> str:
    kind = section.kind
    title = f"{kind.capitalize()} reasons"
    if not section.available:
        return f"<h2>{title}</h2>{unavailable(section.note)}"
    total = section.total
    out = [f'<h2>{title}: <span data-total="{kind}">{_count(total)}</span> {kind} messages</h2>']
    if not section.rows:
        return "".join([*out, f'<p class="note">no {kind} messages in this range</p>'])
    expected = snap.totals.counts[kind]
    if total != expected:
        out.append(f'<p class="note">the campaign metrics count {_count(expected)} {kind}</p>')
    export_ok, export_note = snap.export
    can_export = live and export_ok and snap.scope.kind == "campaign"
    columns = [Col("reason"), Col("messages", True), Col("share", True), Col("possible solution")]
    if live:
        columns.append(Col("users"))
    rows = []
    for row in section.rows:
        cells = [
            esc(row.reason),
            _count(row.messages),
            _rate(row.messages, total),
            esc(row.possible_solution or "(not in reason_dictionary)"),
        ]
        if live:
            cells.append(_export_link(snap, kind, row.reason) if can_export else "")
        rows.append(cells)
    out.append(table(columns, rows, f"{kind}_reasons"))
    if live and not can_export:
        why = export_note or "pick a campaign to export the users a reason hit"
        out.append(f'<p class="note" data-export-note="{kind}">Export users: {esc(why)}</p>')
    return "".join(out)


# --------------------------------------------------------------------------- engagement


def _campaign_delivered(snap: Snapshot, campaign_id: str) -> int:
    return snap.delivered_by_campaign.get(campaign_id, 0)


def _extras(data: Table, fixed: Sequence[str]) -> list[str]:
    return [name for name in data.columns if name not in fixed]


def links(snap: Snapshot) -> str:
    data = snap.links
    if not data.available:
        return f"<h2>Link click activity</h2>{unavailable(data.note)}"
    fixed = ("campaign_id", "url", "button_id", "card_index", "clicks")
    extras = _extras(data, fixed)
    multi = snap.scope.kind != "campaign"
    total = data.total
    columns = [
        *([Col("campaign")] if multi else []),
        Col("url", css="url"),
        Col("button / card"),
        Col("clicks", True),
        Col("CTR", True),
        *(Col(_label(e), True) for e in extras),
    ]
    rows = []
    for values in data.rows:
        row = dict(zip(data.columns, values, strict=True))
        delivered = _campaign_delivered(snap, row["campaign_id"])
        url = row["url"] or "(no url)"
        rows.append(
            [
                *([esc(row["campaign_id"])] if multi else []),
                f'<span title="{esc(url)}">{esc(url)}</span>',
                esc(_option_label(row["button_id"], row["card_index"])),
                _count(row["clicks"]),
                _rate(row["clicks"], delivered),
                *(_extra(e, row[e]) for e in extras),
            ]
        )
    head = (
        f'<h2>Link click activity: <span data-total="clicks">{_count(total)}</span> clicks on '
        f"{data.row_count:,} links</h2>"
    )
    body = (
        table(columns, rows, "links", data.row_count)
        if rows
        else '<p class="note">no link clicks</p>'
    )
    note = (
        '<p class="note">CTR = clicks / delivered of the link\'s campaign in the range. '
        "Unique clickers do not add up across cohort dates and are not shown.</p>"
    )
    return head + body + note + _cards(snap)


def _cards(snap: Snapshot) -> str:
    data = snap.cards
    if not data.available:
        return ""
    extras = _extras(data, ("campaign_id", "card_index", "links", "clicks"))
    columns = [
        Col("campaign"),
        Col("carousel card", True),
        Col("links", True),
        Col("clicks", True),
        Col("CTR", True),
        *(Col(_label(e), True) for e in extras),
    ]
    rows = []
    for values in data.rows:
        row = dict(zip(data.columns, values, strict=True))
        delivered = _campaign_delivered(snap, row["campaign_id"])
        rows.append(
            [
                esc(row["campaign_id"]),
                _count(row["card_index"]),
                _count(row["links"]),
                _count(row["clicks"]),
                _rate(row["clicks"], delivered),
                *(_extra(e, row[e]) for e in extras),
            ]
        )
    if not rows:
        return '<h3>Per carousel card</h3><p class="note">no clicks on carousel cards</p>'
    return f"<h3>Per carousel card</h3>{table(columns, rows, 'carousel_cards', data.row_count)}"


def responses(snap: Snapshot) -> str:
    data = snap.responses
    if not data.available:
        return f"<h2>Response summary</h2>{unavailable(data.note)}"
    return _options(
        snap,
        data,
        "Response summary",
        "responses",
        "responses",
        "response rate",
        "rate = responses / delivered of the option's campaign in the range (an external "
        "option's responses are its button clicks); responder conv. = conversions attributed "
        "to the campaign by users who chose the option",
    )


def external(snap: Snapshot) -> str:
    data = snap.external
    if not data.available:
        return f"<h2>External platform options</h2>{unavailable(data.note)}"
    return _options(
        snap,
        data,
        "External platform options",
        "external",
        "button clicks",
        "click rate",
        "an external-platform option's responses are its button clicks (never link clicks); "
        "button click rate = button clicks / delivered of its campaign in the range",
    )


def _options(
    snap: Snapshot, data: Table, title: str, name: str, count: str, rate: str, note: str
) -> str:
    fixed = (
        "campaign_id",
        "card_index",
        "button_id",
        "button_text",
        "is_external_platform",
        "responses",
        "responder_conversions",
    )
    extras = _extras(data, fixed)
    flag = name == "responses"  # the summary flags external options; their own section not
    multi = snap.scope.kind != "campaign"
    total = data.total
    columns = [
        *([Col("campaign")] if multi else []),
        Col("option"),
        Col("button / card"),
        *([Col("external")] if flag else []),
        Col(count, True),
        Col(rate, True),
        Col("responder conv.", True),
        *(Col(_label(e), True) for e in extras),
    ]
    rows = []
    for values in data.rows:
        row = dict(zip(data.columns, values, strict=True))
        delivered = _campaign_delivered(snap, row["campaign_id"])
        free_text = row["button_id"] is None
        option = "(free text)" if free_text else row["button_text"] or "(unknown payload)"
        rows.append(
            [
                *([esc(row["campaign_id"])] if multi else []),
                esc(option),
                "-" if free_text else esc(_option_label(row["button_id"], row["card_index"])),
                *(["yes" if row["is_external_platform"] else "no"] if flag else []),
                _count(row["responses"]),
                _rate(row["responses"], delivered),
                _count(row["responder_conversions"]),
                *(_extra(e, row[e]) for e in extras),
            ]
        )
    head = f'<h2>{title}: <span data-total="{name}">{_count(total)}</span> {count}</h2>'
    body = (
        table(columns, rows, name, data.row_count)
        if rows
        else f'<p class="note">no {count} in this range</p>'
    )
    return f'{head}{body}<p class="note">{esc(note)}</p>'


# --------------------------------------------------------------------------- latency


def latency(snap: Snapshot) -> str:
    """The pending survival curve (summed counts, exact over the range) and the latency
    percentiles of the busiest campaign-days, as published (never combined)."""
    data = snap.latency
    out = ["<h2>Latency and delivery reports</h2>"]
    if data.note:
        out.append(unavailable(data.note))
    if data.survival is not None:
        out.append(_survival(data.survival))
    if data.summary is not None:
        out.append(_latency_percentiles(data.summary, multi=snap.scope.kind != "campaign"))
    return "".join(out)


def _survival(rows: Sequence[SurvivalRow]) -> str:
    title = "<h3>Still without a delivery report after</h3>"
    if not any(row.at_risk for row in rows):
        return title + '<p class="note">no sent message in this range is old enough to judge</p>'
    columns = [Col("after"), Col("judged", True), Col("without report", True), Col("share", True)]
    # data-total: the summed counts per horizon, which the browser test reads
    body = [
        [esc(row.horizon_label),
         f'<span data-total="judged_{row.horizon_hours}h">{_count(row.at_risk)}</span>',
         f'<span data-total="without_report_{row.horizon_hours}h">'
         f"{_count(row.without_report)}</span>",
         _pct(row.share)]
        for row in rows
    ]  # fmt: skip
    note = (
        '<p class="note">share = without report / judged, both summed over the range\'s cohort '
        "dates; judged: sent messages at least that old at the as-of time (younger ones are left "
        "out, not counted as pending); a report is a delivered, read, played or failed status. A "
        "share that stays high after the first hours points to lost status webhooks.</p>"
    )
    return title + table(columns, body, "delivery_survival") + note


def _latency_percentiles(summary: LatencySummary, *, multi: bool) -> str:
    title = "<h3>Time from send, p50 / p90 / p99, per campaign and cohort date</h3>"
    if not summary.rows:
        return title + '<p class="note">no sent messages in this range</p>'
    columns = [Col("campaign")] if multi else []
    columns += [Col("cohort date"), Col("sent", True)]
    columns += [Col(f"to {label}", True) for label in LATENCY_EVENTS.values()]
    body = []
    for row in summary.rows:
        cells = [esc(row.campaign_id)] if multi else []
        cells += [row.cohort_date.isoformat(), _count(row.sent)]
        cells += [
            " / ".join(_duration(v) for v in row.percentiles[event]) for event in LATENCY_EVENTS
        ]
        body.append(cells)
    skewed = ", ".join(
        f"{_count(n)} {label}"
        for event, label in LATENCY_EVENTS.items()
        if (n := summary.before_send[event])
    )
    note = (
        f'<p class="note">the {len(summary.rows):,} of {summary.campaign_days:,} campaign-days '
        "in the range with the most sent messages; percentiles are those of one campaign and "
        "cohort date, as published: they do not add up or average over dates or campaigns, so "
        "none is combined (the curve above is the exact view over the range)."
        + (f" Stamped before their send (clock skew, counted as 0 s): {skewed}." if skewed else "")
        + "</p>"
    )
    return title + table(columns, body, "message_latency_daily", summary.campaign_days) + note


# --------------------------------------------------------------------------- attribution


def attribution(snap: Snapshot) -> str:
    """Conversions and revenue under each attribution model and window, beside the headline
    rule (last click in the campaign's own window), summed over the range."""
    data = snap.attribution
    out = ["<h2>Attribution sensitivity</h2>"]
    if not data.available:
        return "".join([*out, unavailable(data.note)])
    headline = next((row for row in data.rows if row.is_headline), None)
    if headline is None:
        return "".join([*out, '<p class="note">no attribution rows in this range</p>'])
    columns = [Col("model"), Col("window"), Col("conversions", True), Col("vs headline", True),
               Col("revenue", True)]  # fmt: skip
    body = [
        [esc(ATTRIBUTION_MODELS.get(row.model, row.model)),
         esc(ATTRIBUTION_WINDOWS.get(row.window, row.window)),
         f'<span data-total="attribution_{row.model}_{row.window}">'
         f"{_count(row.conversions)}</span>",
         "<b>headline</b>" if row.is_headline
         else _change(row.conversions, headline.conversions),
         _money(row.revenue) if snap.show_revenue else "n/a"]
        for row in data.rows
    ]  # fmt: skip
    note = (
        '<p class="note">headline = last click in the campaign\'s own window, the rule of the '
        "cards and every other section; each row sums one model and window over the range's "
        "cohort dates (those of the credited messages). Last click, first click and delivered "
        "view credit each conversion once; any click credits every campaign clicked in the "
        "window, so its sum over campaigns can exceed the conversions.</p>"
    )
    return "".join(out) + table(columns, body, "attribution_sensitivity") + note


# --------------------------------------------------------------------------- costs


def costs(snap: Snapshot) -> str:
    """What the delivered messages cost per account currency, the cost per delivered
    message, read, click and conversion, and ROAS, recomputed from the range's sums."""
    data = snap.costs
    out = ["<h2>Cost and ROAS</h2>"]
    if not data.available:
        return "".join([*out, unavailable(data.note)])
    rows = [row for row in data.rows if row.delivered]
    if not rows:
        return "".join([*out, '<p class="note">no delivered messages in this range</p>'])
    columns = [Col("currency"), Col("cost", True), Col("cost (USD)", True),
               Col("known cost", True), Col("per delivered", True), Col("per read", True),
               Col("per click", True), Col("per conversion", True), Col("revenue", True),
               Col("ROAS", True)]  # fmt: skip
    body = [
        [esc(row.currency or "?"),
         f'<span data-total="cost_{esc(row.currency)}">{_money(row.cost)}</span>',
         _money(row.cost_usd), _pct(row.coverage),
         *(_unit_cost(row.cost_per(count))
           for count in ("delivered", "read", "click", "conversion")),
         _money(row.revenue), "n/a" if row.roas is None else f"{row.roas:,.2f}"]
        for row in rows
    ]  # fmt: skip
    unknown = [
        (sum(row.without_pricing for row in rows), "without pricing in their webhooks"),
        (sum(row.without_rate for row in rows), "without a rate for their market"),
        (sum(row.without_fx for row in rows), "without an exchange rate"),
    ]
    parts = [f"{_count(count)} {why}" for count, why in unknown if count]
    missing = (
        f" Delivered messages of unknown cost, left out of it: {esc(', '.join(parts))} "
        "(data_quality.unpriced_messages names the markets and currencies)."
        if parts
        else ""
    )
    note = (
        '<p class="note">cost = delivered billable messages &times; the rate of their market '
        "and pricing category on their cohort date, in the account currency (currencies are "
        "never added together; the USD column is comparable). Known cost = share of delivered "
        "messages whose cost is known: below 100 % the costs per event are lower bounds and "
        f"ROAS (revenue / cost) an upper bound. Ratios come from the range's sums.{missing}</p>"
    )
    return "".join(out) + table(columns, body, "campaign_costs") + note


# --------------------------------------------------------------------------- api comparison


def api_comparison(snap: Snapshot) -> str:
    """Per template (and account) and API: sent and the delivery, read and click rates
    recomputed from the counts summed over the range, and MM API minus Cloud API in
    percentage points; the chart beside it (:mod:`.layout`) draws the same rates."""
    data = snap.api
    out = ["<h2>Marketing Messages API vs Cloud API</h2>"]
    if not data.available or data.comparison is None:
        return "".join([*out, unavailable(data.note)])
    comparison = data.comparison
    if snap.scope.kind == "campaign":
        if comparison.template is None:
            note = f"campaign {snap.scope.id} has no known template: no api_comparison row"
            return "".join([*out, f'<p class="note">{esc(note)}</p>'])
        out.append(
            f'<p class="note">per template, not per campaign: template '
            f"<b>{esc(comparison.template)}</b> of account {esc(snap.scope.account_id)}, every "
            "campaign of the account that uses it</p>"
        )
    if not comparison.rows:
        return "".join([*out, '<p class="note">no sent messages with a known template in this '
                              "range</p>"])  # fmt: skip
    total = comparison.total
    if len(total.apis) == 1:
        (only,) = total.apis
        out.append(
            f'<p class="note" data-api-only="{esc(only)}">only {esc(API_LABELS.get(only, only))} '
            "messages in this selection: there is nothing to compare them with</p>"
        )
    multi = not snap.scope.single_account
    columns = [Col("account")] if multi else []
    columns += [Col("template"), Col("api"), Col("sent", True), Col("delivery rate", True),
                Col("read rate", True), Col("click rate", True)]  # fmt: skip
    body: list[list[str]] = []
    # data-total: the totals over every template, which the browser test reads (the only
    # template's rows when there is one)
    if comparison.templates > 1:
        labels = ["", "<b>all templates</b>"] if multi else ["<b>all templates</b>"]
        body += _api_rows(total, labels, totals=True)
    for row in comparison.rows:
        labels = [esc(row.account_id), esc(row.template_name)]
        body += _api_rows(row, labels if multi else labels[1:], totals=comparison.templates == 1)
    shown = len(comparison.rows)
    more = (
        f" The {shown} of {comparison.templates:,} templates with the most sent are listed."
        if comparison.templates > shown
        else ""
    )
    if shown > CHART_TEMPLATES:
        more += f" The chart draws the {CHART_TEMPLATES} with the most sent."
    note = (
        '<p class="note">delivery rate = delivered / sent, read rate = opens / delivered, click '
        "rate = delivered messages with a click / delivered, each recomputed from the counts "
        "summed over the range's cohort dates (never averaged); MM - Cloud: the Marketing "
        "Messages API's rate minus the Cloud API's, in percentage points; <i>only</i>: the "
        f"template was sent through that API alone.{more}</p>"
    )
    return "".join(out) + table(columns, body, "api_comparison") + note


def _api_rows(row: ApiRow, labels: list[str], *, totals: bool) -> list[list[str]]:
    rows = []
    alone = " only" if len(row.apis) == 1 else ""
    for api, counts in row.apis.items():
        cells = [_count(counts.sent), *(_pct(counts.rate(name)) for name in API_RATES)]
        if totals:
            keys = ["sent", *API_RATES]
            cells = [f'<span data-total="api_{key}_{esc(api)}">{cell}</span>'
                     for key, cell in zip(keys, cells, strict=True)]  # fmt: skip
        rows.append([*labels, esc(API_SHORT.get(api, api) + alone), *cells])
        labels = [""] * len(labels)
    if row.both:
        rows.append([*labels, "<b>MM - Cloud</b>", "",
                     *(_signed_pp(row.difference(name)) for name in API_RATES)])  # fmt: skip
    return rows


# --------------------------------------------------------------------------- message trace


def trace_intro(snap: Snapshot, *, live: bool) -> str:
    """The trace section's title, what it covers and how to use it."""
    out = ["<h2>Message trace</h2>"]
    data = snap.lineage
    if not data.available:
        return "".join([*out, unavailable(data.note)])
    how = (
        "Type a dispatch id (one message) or a user id (their newest "
        f"{TRACE_LIMIT} messages) and press Enter: every event of the message, from its "
        "dispatch to its state at the as-of time and why."
        if live
        else "Looking a message up needs the live dashboard (make dashboard)."
    )
    out.append(
        f'<p class="note" data-lineage-covered="true">{esc(how)} {esc(data.note)}. In a terminal: '
        f"{esc(TRACE_HINT)}.</p>"
    )
    return "".join(out)


def trace_result(result: Trace | None) -> str:
    """One lookup: each message's header, its lineage rows (event time, kind, state,
    detail) and the reason and possible solution of its state; or why nothing was found."""
    if result is None or not result.query:
        return ""
    if result.error:
        return f'<div class="unavailable" data-trace-error="true">{esc(result.error)}</div>'
    out = []
    if result.kind == "user":
        shown = len(result.paths)
        more = f", the newest {shown} shown" if result.total > shown else ""
        out.append(
            f'<p class="scope" data-trace-user="{esc(result.query)}">user '
            f"<b>{esc(result.query)}</b>: {result.total:,} message"
            f"{'s' if result.total != 1 else ''}{more}</p>"
        )
    for dispatch, events in result.paths.items():
        if events:
            out.append(_trace_path(dispatch, events))
    return "".join(out)


def _trace_path(dispatch: str, events: Sequence[Event]) -> str:
    first = events[0]
    head = (
        f'<h3 data-trace-dispatch="{esc(dispatch)}">message {esc(dispatch)}</h3>'
        f'<p class="note">account {esc(first.account_id)}, campaign {esc(first.campaign_id)}, '
        f"user {esc(first.user_id or '-')}, cohort date {first.cohort_date}"
        + (f", wamid {esc(first.wamid)}" if first.wamid else "")
        + "</p>"
    )
    columns = [Col("#", True), Col("event time (UTC)"), Col("kind"), Col("state"), Col("detail")]
    body = [
        [str(event.event_seq), event.event_at.strftime("%Y-%m-%d %H:%M:%S"),
         f'<span data-trace-kind="{esc(event.event_kind)}">{esc(event.event_kind)}</span>',
         esc(event.message_state), esc(event.detail)]
        for event in events
    ]  # fmt: skip
    state = next((event for event in reversed(events) if event.event_kind == "state"), None)
    why = ""
    if state is not None and state.reason:
        why = f'<p class="note">reason: <b>{esc(state.reason)}</b>'
        if state.possible_solution:
            why += f"; possible solution: {esc(state.possible_solution)}"
        why += "</p>"
    return head + table(columns, body, "trace") + why


# --------------------------------------------------------------------------- holdout uplift


def holdout(snap: Snapshot) -> str:
    """Per campaign with a control group in the range: both groups' conversion rates and
    revenue per recipient, the uplift (treated - holdout) and its 95 % interval, all from
    holdout_uplift's counts summed over the range."""
    data = snap.holdout
    out = ["<h2>Holdout uplift</h2>"]
    if not data.available:
        return "".join([*out, unavailable(data.note)])
    if not data.rows:
        return "".join([*out, '<p class="note">no campaign with a holdout in this range</p>'])
    columns = [Col("campaign"), Col("treated", True), Col("conv. rate", True),
               Col("holdout", True), Col("conv. rate", True), Col("uplift", True),
               Col("95 % CI", True), Col("revenue / recipient", True),
               Col("holdout", True), Col("uplift", True), Col("95 % CI", True),
               Col("currency")]  # fmt: skip
    body = []
    for row in data.rows:
        conversion, revenue = row.conversion_uplift, row.revenue_uplift
        significant = conversion is not None and conversion.excludes_zero
        uplift = _signed_pp(conversion.estimate if conversion else None)
        body.append([
            esc(row.campaign_id),
            f'<span data-total="holdout_treated_{esc(row.campaign_id)}">'
            f"{_count(row.treated_recipients)}</span>",
            _pct(row.treated_rate),
            f'<span data-total="holdout_holdout_{esc(row.campaign_id)}">'
            f"{_count(row.holdout_recipients)}</span>",
            _pct(row.holdout_rate),
            f"<b>{uplift}</b>" if significant else uplift,
            _pp_interval(conversion),
            _per_recipient(row.treated_revenue_per_recipient),
            _per_recipient(row.holdout_revenue_per_recipient),
            _signed_money(revenue.estimate if revenue else None),
            _money_interval(revenue),
            esc(row.currency or ""),
        ])  # fmt: skip
    note = (
        '<p class="note">treated = every targeted dispatch (sent or dropped: intention to '
        "treat), holdout = recipients withheld as the campaign's control group; a recipient "
        "converted with a goal event of the campaign within its conversion window after the "
        "dispatch, clicked or not (not last click: the holdout got no message to click). "
        "Uplift = treated - holdout over the counts summed over the range; 95 % CI: "
        "Newcombe's hybrid score interval (two Wilson intervals) for the conversion rates, "
        "normal approximation for revenue per recipient (account currency). Bold: the "
        "interval excludes 0.</p>"
    )
    return "".join(out) + table(columns, body, "holdout_uplift") + note


# --------------------------------------------------------------------------- benchmarks


def benchmarks(snap: Snapshot) -> str:
    data = snap.benchmarks
    out = ["<h2>Benchmarks</h2>"]
    out.append(_campaign_benchmarks(data) if data.available else unavailable(data.note))
    out.append(_template_benchmarks(data))
    return "".join(out)


BASELINE_LABELS = {
    "history": "own account's other campaigns, trailing 30 days",
    "reference": "reference rates (seed)",
    "benchmark": "cross-account template benchmark (p75)",
}


def _campaign_benchmarks(data: Benchmarks) -> str:
    total = data.total
    assert total is not None
    columns = [
        Col("compared with"),
        Col("delivered compared", True),
        Col("read rate", True),
        Col("baseline read rate", True),
        Col("difference", True),
        Col("click rate", True),
        Col("baseline click rate", True),
        Col("difference", True),
    ]
    rows = [
        [
            f"<b>this selection</b> ({data.campaigns:,} campaigns)",
            _count(total.delivered),
            _pct(total.read_rate),
            "",
            "",
            _pct(total.click_rate),
            "",
            "",
        ]
    ]
    for name, base in total.baselines.items():
        rows.append(
            [
                esc(BASELINE_LABELS.get(name, name)),
                _count(base.delivered),
                _pct(base.read_rate),
                _pct(base.baseline_read_rate),
                _pp(base.read_rate, base.baseline_read_rate),
                _pct(base.click_rate),
                _pct(base.baseline_click_rate),
                _pp(base.click_rate, base.baseline_click_rate),
            ]
        )
    sources = ", ".join(sorted(total.reference_sources)) or "none"
    window = total.benchmark_window_end or "n/a"
    note = (
        '<p class="note">read rate = opens / delivered; click rate = delivered messages with '
        "a click / delivered. Each baseline compares the selection's messages that have one "
        "(compared delivered) with what they would have had at the baseline's rates; sums "
        f"over the range, rates recomputed. Reference rates: {esc(sources)}; cross-account "
        f"benchmark of the 30 days to {esc(window)}.</p>"
    )
    return table(columns, rows, "campaign_benchmarks") + note


def _template_benchmarks(data: Benchmarks) -> str:
    templates = data.templates
    title = "<h3>Templates against the cross-account benchmark</h3>"
    if not templates.available:
        return title + unavailable(templates.note)
    if not templates.rows:
        return title + '<p class="note">no template benchmarks for this selection</p>'
    window: date = templates.column("window_end")[0]
    columns = [
        Col("account"),
        Col("template"),
        Col("country"),
        Col("delivered", True),
        Col("read rate", True),
        Col("benchmark", True),
        Col("click rate", True),
        Col("benchmark", True),
        Col("accounts in cohort", True),
    ]
    rows = []
    for values in templates.rows:
        row = dict(zip(templates.columns, values, strict=True))
        rows.append(
            [
                esc(row["account_id"]),
                esc(row["template_name"]),
                esc(row["recipient_country"] or "?"),
                _count(row["delivered"]),
                _pct(row["read_rate"]),
                _pct(row["benchmark_read_rate"]),
                _pct(row["click_rate"]),
                _pct(row["benchmark_click_rate"]),
                _count(row["cohort_accounts"]),
            ]
        )
    note = (
        f'<p class="note">the 30 days to {window} (the publication\'s as-of date; the date '
        "range does not apply); a benchmark is the 75th percentile of its cohort (country, "
        "industry, category), n/a when fewer than 5 accounts contribute.</p>"
    )
    return title + table(columns, rows, "template_benchmarks", templates.row_count) + note
