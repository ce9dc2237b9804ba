"""The dashboard's Bokeh document: the same models serve the live page and the static export.

:class:`DashboardView` builds the sections from a :class:`~.queries.Snapshot` and
:meth:`DashboardView.update` refreshes them in place. The trend chart's grain
(day / week / month) and its metrics switch in the browser (``CustomJS``), so
they work in the static export too; the pickers and the message trace's input
exist only on the live page (:mod:`.server` wires them).
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, time

from bokeh.layouts import column, row
from bokeh.models import (
    ColumnDataSource,
    CustomJS,
    DataRange1d,
    Div,
    FactorRange,
    HoverTool,
    InlineStyleSheet,
    Legend,
    LinearAxis,
    MultiChoice,
    NumeralTickFormatter,
    RadioButtonGroup,
    Range1d,
    TextInput,
    UIElement,
)
from bokeh.palettes import Category20_20
from bokeh.plotting import figure
from bokeh.transform import dodge

from orchestration.dashboard import sections
from orchestration.dashboard.queries import GRAINS, Snapshot, Trace, Trend
from orchestration.dashboard.sections import CHART_TEMPLATES
from orchestration.report import API_RATES, API_SHORT, COUNTS, RATES

SECTIONS = (
    "overview", "trend", "reasons", "latency", "links", "responses", "external", "attribution",
    "costs", "api", "holdout", "benchmarks", "trace",
)  # fmt: skip
GRAIN_LABELS = {"day": "Daily", "week": "Weekly", "month": "Monthly"}
#: Trend metrics: every count, revenue, every rate; (name, label, axis).
TREND_METRICS = [
    *((name, name.replace("_", " "), "count") for name in COUNTS),
    ("revenue", "revenue", "revenue"),
    *((name, label, "rate") for name, (label, _, _) in RATES.items()),
]
DEFAULT_TREND = ["sent", "delivered", "opens", "clicks", "delivery_rate", "open_rate"]
MAX_WIDTH = 1280
#: The trace input's hint (the browser test finds the input by it).
TRACE_PLACEHOLDER = "a dispatch id or a user id, then Enter"
API_RATE_COLORS = {"delivery_rate": "#2680c2", "read_rate": "#0b6e4f", "click_rate": "#e6a23c"}


def trend_data(trend: Trend, show_revenue: bool) -> dict[str, list]:
    """One column per trend metric; a rate with denominator 0 is NaN (a gap in its line)."""
    data: dict[str, list] = {"period": [datetime.combine(p, time.min) for p in trend.periods]}
    for name in COUNTS:
        data[name] = list(trend.counts[name])
    data["revenue"] = [float(v) if show_revenue else math.nan for v in trend.revenue]
    for name in RATES:
        data[name] = [math.nan if v is None else v for v in trend.rate(name)]
    return data


def api_chart_data(snap: Snapshot) -> tuple[list[tuple[str, str]], dict[str, list]]:
    """The chart's factors, (template, API) of the :data:`CHART_TEMPLATES` templates with
    the most sent, and one column per rate (recomputed from the summed counts; NaN: n/a)."""
    data: dict[str, list] = {"x": [], "template": [], "api": [], "sent": []}
    data.update({name: [] for name in API_RATES})
    comparison = snap.api.comparison
    if comparison is None:
        return [], data
    multi = not snap.scope.single_account
    for template_row in comparison.rows[:CHART_TEMPLATES]:
        account, name = template_row.account_id, template_row.template_name
        template = f"{account} {name}" if multi else str(name)
        for api, counts in template_row.apis.items():
            data["x"].append((template, API_SHORT.get(api, api)))
            data["template"].append(template)
            data["api"].append(API_SHORT.get(api, api))
            data["sent"].append(counts.sent)
            for rate in API_RATES:
                value = counts.rate(rate)
                data[rate].append(math.nan if value is None else value)
    return list(data["x"]), data


def styled_div(style: InlineStyleSheet, name: str, text: str = "") -> Div:
    """A Div with the dashboard's style sheet (Bokeh renders each in its own shadow root)."""
    return Div(text=text, name=name, stylesheets=[style], sizing_mode="stretch_width")


class DashboardView:
    """Every section's models, filled from one snapshot."""

    def __init__(self, snap: Snapshot, *, title: str, source: str, live: bool) -> None:
        self.live = live
        # one style sheet per document: a Bokeh model belongs to one document only
        self.style = InlineStyleSheet(css=sections.CSS)
        self.header = self._div("header", sections.header(title, source))
        self.scope = self._div("scope")
        self.cards = self._div("cards")
        self.campaigns = self._div("campaigns")
        self.reasons = self._div("reasons")
        self.latency = self._div("latency")
        self.links = self._div("links")
        self.responses = self._div("responses")
        self.external = self._div("external")
        self.attribution = self._div("attribution")
        self.costs = self._div("costs")
        self.api = self._div("api")
        self.api_source = ColumnDataSource(name="api_comparison")
        self.api_figure = self._api_figure()
        self.holdout = self._div("holdout")
        self.benchmarks = self._div("benchmarks")
        self.trace_intro = self._div("trace_intro")
        self.trace_result = self._div("trace_result")
        # the lookup reads the publication on the server: only the live page has the input
        self.trace_input = (
            TextInput(
                name="trace_input",
                title="Dispatch id or user id",
                placeholder=TRACE_PLACEHOLDER,
                width=420,
            )
            if live
            else None
        )
        self.trend_sources = {g: ColumnDataSource(name=f"trend_{g}") for g in GRAINS}
        self.trend_source = ColumnDataSource(name="trend")
        self.grain = RadioButtonGroup(
            labels=[GRAIN_LABELS[g] for g in GRAINS], active=0, name="grain"
        )
        self.metrics = MultiChoice(
            options=[(name, label) for name, label, _ in TREND_METRICS],
            value=list(DEFAULT_TREND),
            name="trend_metrics",
            title="Metrics",
            sizing_mode="stretch_width",
        )
        self.trend_note = self._div("trend_note")
        self.figure = self._figure()
        self.update(snap)

    def _div(self, name: str, text: str = "") -> Div:
        return styled_div(self.style, name, text)

    # ------------------------------------------------------------------ trend chart

    def _figure(self) -> figure:
        fig = figure(
            height=440,
            x_axis_type="datetime",
            sizing_mode="stretch_width",
            toolbar_location="above",
            tools="pan,box_zoom,wheel_zoom,reset,save",
            name="trend_figure",
            y_range=DataRange1d(only_visible=True),
        )
        fig.yaxis.axis_label = "messages"
        fig.yaxis.formatter = NumeralTickFormatter(format="0,0")
        fig.extra_y_ranges = {
            "rate": DataRange1d(only_visible=True, start=0),
            "revenue": DataRange1d(only_visible=True, start=0),
        }
        rate_axis = LinearAxis(y_range_name="rate", axis_label="rate")
        rate_axis.formatter = NumeralTickFormatter(format="0.0%")
        revenue_axis = LinearAxis(y_range_name="revenue", axis_label="revenue (account currency)")
        revenue_axis.formatter = NumeralTickFormatter(format="0,0")
        fig.add_layout(rate_axis, "right")
        fig.add_layout(revenue_axis, "right")
        items = []
        renderers = []
        for index, (name, label, axis) in enumerate(TREND_METRICS):
            color = Category20_20[index % len(Category20_20)]
            kwargs = {} if axis == "count" else {"y_range_name": axis}
            dash = "dashed" if axis == "rate" else "solid"
            line = fig.line(
                "period",
                name,
                source=self.trend_source,
                color=color,
                line_width=2,
                line_dash=dash,
                name=name,
                visible=name in DEFAULT_TREND,
                **kwargs,
            )
            fig.scatter(
                "period",
                name,
                source=self.trend_source,
                color=color,
                size=5,
                name=name,
                visible=name in DEFAULT_TREND,
                **kwargs,
            )
            renderers.append(line)
            items.append((label, [line]))
        axes = [axis for _, _, axis in TREND_METRICS]
        fig.y_range.renderers = [r for r, a in zip(renderers, axes, strict=True) if a == "count"]
        for axis in ("rate", "revenue"):
            fig.extra_y_ranges[axis].renderers = [
                r for r, a in zip(renderers, axes, strict=True) if a == axis
            ]
        legend = Legend(
            items=items, click_policy="hide", orientation="horizontal", ncols=6, spacing=12
        )
        fig.add_layout(legend, "below")
        hover = HoverTool(
            tooltips=[("metric", "$name"), ("period", "@period{%F}"), ("value", "$snap_y")],
            formatters={"@period": "datetime"},
            renderers=renderers,
        )
        fig.add_tools(hover)
        glyphs = [r for r in fig.renderers if getattr(r, "name", None)]
        self.metrics.js_on_change(
            "value",
            CustomJS(
                args={"glyphs": glyphs},
                code="for (const g of glyphs) { g.visible = cb_obj.value.includes(g.name) }",
            ),
        )
        self.grain.js_on_change(
            "active",
            CustomJS(
                args={
                    "sources": [self.trend_sources[g] for g in GRAINS],
                    "target": self.trend_source,
                },
                code="target.data = {...sources[cb_obj.active].data}",
            ),
        )
        return fig

    def _api_figure(self) -> figure:
        """Grouped bars: per template and API, its delivery, read and click rates."""
        fig = figure(
            x_range=FactorRange(factors=[]),
            y_range=Range1d(0, 1),
            height=340,
            sizing_mode="stretch_width",
            toolbar_location=None,
            tools="",
            name="api_figure",
        )
        width = 0.8 / len(API_RATES)
        items = []
        for index, (name, (label, _, _)) in enumerate(API_RATES.items()):
            offset = (index - (len(API_RATES) - 1) / 2) * width
            bars = fig.vbar(
                x=dodge("x", offset, range=fig.x_range),
                top=name,
                width=width * 0.9,
                source=self.api_source,
                color=API_RATE_COLORS[name],
                name=name,
            )
            items.append((label, [bars]))
        fig.add_layout(Legend(items=items, orientation="horizontal"), "above")
        fig.yaxis.axis_label = "rate"
        fig.yaxis.formatter = NumeralTickFormatter(format="0%")
        fig.xgrid.grid_line_color = None
        fig.xaxis.group_text_font_size = "12px"
        rates = [(label, f"@{name}{{0.0%}}") for name, (label, _, _) in API_RATES.items()]
        tooltips = [("template", "@template"), ("api", "@api"), ("sent", "@sent{0,0}"), *rates]
        fig.add_tools(HoverTool(tooltips=tooltips))
        return fig

    # ------------------------------------------------------------------ filling

    def update(self, snap: Snapshot) -> None:
        live = self.live
        self.scope.text = sections.scope_line(snap)
        self.cards.text = sections.metric_cards(snap)
        self.campaigns.text = sections.campaigns_table(snap)
        for grain in GRAINS:
            self.trend_sources[grain].data = trend_data(snap.trends[grain], snap.show_revenue)
        self.trend_source.data = dict(self.trend_sources[GRAINS[self.grain.active]].data)
        revenue = "" if snap.show_revenue else " Revenue is drawn for one account only."
        self.trend_note.text = (
            '<p class="note">cohort dates in the range, per day, ISO week (Monday) or calendar '
            "month: the first and last period may be partial. Rates are recomputed per period "
            f"from its summed counts (a gap: denominator 0).{revenue}</p>"
        )
        self.reasons.text = sections.reasons(snap, live=live)
        self.latency.text = sections.latency(snap)
        self.links.text = sections.links(snap)
        self.responses.text = sections.responses(snap)
        self.external.text = sections.external(snap)
        self.attribution.text = sections.attribution(snap)
        self.costs.text = sections.costs(snap)
        self.api.text = sections.api_comparison(snap)
        factors, data = api_chart_data(snap)
        self.api_figure.x_range.factors = factors
        self.api_source.data = data
        self.api_figure.visible = bool(factors)
        self.holdout.text = sections.holdout(snap)
        self.benchmarks.text = sections.benchmarks(snap)
        self.trace_intro.text = sections.trace_intro(snap, live=live)
        if self.trace_input is not None:
            self.trace_input.visible = snap.lineage.available

    def show_trace(self, result: Trace | None) -> None:
        """A lookup's lineage (or its error) in the trace section."""
        self.trace_result.text = sections.trace_result(result)

    # ------------------------------------------------------------------ layout

    def section(self, name: str, *children: UIElement) -> UIElement:
        return column(
            *children,
            css_classes=["wa-section", f"wa-section-{name}"],
            sizing_mode="stretch_width",
            max_width=MAX_WIDTH,
        )

    def layout(self, controls: UIElement | None = None) -> UIElement:
        trend_title = self._div("trend_title", "<h2>Trend</h2>")
        overview = [self.header]
        if controls is not None:
            overview.append(controls)
        overview += [self.scope, self.cards, self.campaigns]
        return column(
            self.section("overview", *overview),
            self.section(
                "trend",
                trend_title,
                row(self.grain, self.metrics, sizing_mode="stretch_width"),
                self.figure,
                self.trend_note,
            ),
            self.section("reasons", self.reasons),
            self.section("latency", self.latency),
            self.section("links", self.links),
            self.section("responses", self.responses),
            self.section("external", self.external),
            self.section("attribution", self.attribution),
            self.section("costs", self.costs),
            self.section("api", self.api, self.api_figure),
            self.section("holdout", self.holdout),
            self.section("benchmarks", self.benchmarks),
            self.section(
                "trace",
                self.trace_intro,
                *([self.trace_input] if self.trace_input is not None else []),
                self.trace_result,
            ),
            sizing_mode="stretch_width",
            max_width=MAX_WIDTH,
            styles={"margin": "0 auto", "padding": "12px"},
            name="dashboard",
        )


def day(value: object) -> date | None:
    """A picker's date (a date, an ISO string or epoch milliseconds) as a date."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    if isinstance(value, int | float):
        return datetime.fromtimestamp(value / 1000, tz=UTC).date()
    return date.fromisoformat(str(value)[:10])
